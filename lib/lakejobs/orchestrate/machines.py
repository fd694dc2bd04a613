"""One Step Functions state machine per runtime, rendered from the pipeline description.

- Glue: each stage of the pipeline (the three conversions in a Parallel, then the sales
  mart), then the catalog step, each a ``glue:startJobRun.sync`` Task.
- EMR on EC2: ``createCluster.sync`` -> one ``addStep.sync`` per job -> ``terminateCluster``;
  every failure after the cluster exists goes through a termination before the notification.
- EMR Serverless: the Glue structure with ``emr-serverless:startJobRun.sync`` Tasks.

Every Task retries throttling and concurrent-run limits with exponential backoff (a job Task
never its timeout, which would start the job again beside the run that timed out), and
catches every error into a notification (SNS, with the error and the execution input)
followed by a Fail state; since session 49 a Choice in front of each notification goes
straight to the Fail state when the input names no topic (SNS refuses an empty TopicArn).
The catalog step runs ``jobs/catalog_sync.py`` (``lakejobs catalog sync``) as one more job of
the same runtime: it needs the lake's object listing, which a direct
``aws-sdk:glue:batchCreatePartition`` Task could not compute.
"""

import dataclasses
from typing import Callable, Dict, List, Tuple

from lakejobs.catalog import PROCESSED_DATABASE, RAW_DATABASE
from lakejobs.deploy import emr, glue, serverless
from lakejobs.deploy.description import DeployConfig, Job, LakePath, Pipeline, Sizes
from lakejobs.orchestrate import asl

#: A job Task retries what kept its run from starting, never its timeout: the timed-out run may
#: still be queued or running, and a retry would start the job again beside it.
GLUE_RETRY = [
    "Glue.ConcurrentRunsExceededException",
    "Glue.ThrottlingException",
    "Glue.InternalServiceException",
    "Glue.OperationTimeoutException",
]
EMR_RETRY = ["EMR.AmazonElasticMapReduceException", "EMR.ThrottlingException"]
#: Creating the cluster is not retried on a timeout either: Step Functions does not terminate a
#: cluster whose createCluster.sync timed out, so each retry would leave one running (until its
#: idle auto-termination), unknown to the states that terminate the cluster.
CREATE_CLUSTER_RETRY = EMR_RETRY
#: Terminating the cluster may be retried on its timeout: terminating twice does no harm.
TERMINATE_RETRY = EMR_RETRY + ["States.Timeout"]
SERVERLESS_RETRY = ["EMRServerless.ThrottlingException", "EMRServerless.InternalServerException"]
#: Minutes a Task may wait for its run beyond the job's own timeout (queueing, start-up).
TIMEOUT_MARGIN_MIN = 15
RUNTIMES = ("glue", "emr", "emr-serverless")


def catalog_job(output_format: str, region: str) -> Job:
    """The catalog step as a job: ``jobs/catalog_sync.py --lake <root> --format ... --region ...``."""
    arguments = (
        ("lake", LakePath("")),
        ("database", PROCESSED_DATABASE),
        ("raw-database", RAW_DATABASE),
        ("format", output_format),
        ("region", region),
    )
    sizes = Sizes(workers=2, max_executors=1, timeout_minutes=30)
    return Job("catalog_sync", "catalog_sync.py", arguments, sizes, "Glue Data Catalog tables and new partitions")


def render_config(config: DeployConfig) -> DeployConfig:
    """``config`` with the run-time bucket token in place of the bucket and prefix."""
    return dataclasses.replace(config, bucket=asl.BUCKET_TOKEN, prefix="")


def stages(pipeline: Pipeline, config: DeployConfig) -> List[Tuple[Job, ...]]:
    """The pipeline's stages of jobs, then the catalog step."""
    groups = [tuple(pipeline.job(key) for key in stage) for stage in pipeline.stages]
    return groups + [(catalog_job(config.output_format, config.region),)]


def label(job: Job) -> str:
    """A state's name: ``convert_orders`` -> ``Convert orders``."""
    return job.key.replace("_", " ").capitalize()


def timeout_s(job: Job) -> int:
    """A Task's timeout: the job's own plus ``TIMEOUT_MARGIN_MIN``."""
    return (job.sizes.timeout_minutes + TIMEOUT_MARGIN_MIN) * 60


TaskFor = Callable[[Job, str], Dict]


def glue_task(config: DeployConfig) -> TaskFor:
    """``job`` -> its ``glue:startJobRun.sync`` Task (Catch to ``on_error``)."""

    def _(job: Job, on_error: str) -> Dict:
        params = {"JobName": glue.glue_job_name(job, config), "Arguments": glue.glue_run_arguments(job, config)}
        return asl.task("arn:aws:states:::glue:startJobRun.sync", params, GLUE_RETRY, timeout_s(job), on_error)

    return _


def _pascal(value):
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _pascal(item) for key, item in value.items()}
    return value


def serverless_task(config: DeployConfig) -> TaskFor:
    """``job`` -> its ``emr-serverless:startJobRun.sync`` Task; application and role come from the input."""

    def _(job: Job, on_error: str) -> Dict:
        params = {
            "Name": config.job_name(job),
            "JobDriver": _pascal(serverless.serverless_job_driver(job, config)),
            "ConfigurationOverrides": {
                "MonitoringConfiguration": {"S3MonitoringConfiguration": {"LogUri": config.log_uri("emr-serverless")}}
            },
            "ExecutionTimeoutMinutes": job.sizes.timeout_minutes,
        }
        state = asl.task(
            "arn:aws:states:::emr-serverless:startJobRun.sync", params, SERVERLESS_RETRY, timeout_s(job), on_error
        )
        state["Parameters"] = {
            "ApplicationId.$": "$.application_id",
            "ExecutionRoleArn.$": "$.execution_role_arn",
            **state["Parameters"],
        }
        return state

    return _


def _branch(job: Job, task_for: TaskFor) -> Dict:
    """A Parallel branch running ``job``: on failure it notifies, then fails with ``NOTIFIED_ERROR``."""
    name, notify, failed = label(job), f"Notify {label(job).lower()} failure", f"{label(job)} failed"
    return {
        "StartAt": name,
        "States": {
            name: {**task_for(job, f"{notify}?"), "End": True},
            **asl.notify_states(notify, failed, f"job {job.key}", f"lakejobs pipeline failed: job {job.key}"),
            failed: asl.fail_state(asl.NOTIFIED_ERROR, f"{job.key} failed; the input's topic, if any, was notified"),
        },
    }


def _stage_state(group: Tuple[Job, ...], task_for: TaskFor) -> Tuple[str, Dict]:
    if len(group) == 1:
        return label(group[0]), task_for(group[0], asl.ON_FAILURE)
    parallel = {
        "Type": "Parallel",
        "Comment": "These jobs are independent: run them at the same time.",
        "Branches": [_branch(job, task_for) for job in group],
        "ResultPath": None,
        "Catch": [
            {"ErrorEquals": [asl.NOTIFIED_ERROR], "ResultPath": "$.error", "Next": asl.PIPELINE_FAILED},
            *asl.catch(asl.ON_FAILURE),
        ],
    }
    return " + ".join(label(job) for job in group), parallel


def _failure_states() -> Dict[str, Dict]:
    return {
        **asl.notify_states(asl.NOTIFY_FAILURE, asl.PIPELINE_FAILED),
        asl.PIPELINE_FAILED: asl.fail_state("lakejobs.PipelineFailed", "a job failed; see the execution history"),
    }


def _staged_machine(comment: str, pipeline: Pipeline, config: DeployConfig, task_for: TaskFor) -> Dict:
    ordered = [_stage_state(group, task_for) for group in stages(pipeline, config)]
    states = asl.chain(ordered, asl.SUCCEEDED)
    states.update({asl.SUCCEEDED: {"Type": "Succeed"}, **_failure_states()})
    return {"Comment": comment, "StartAt": ordered[0][0], "States": states}


def glue_machine(pipeline: Pipeline, config: DeployConfig) -> Dict:
    """The Glue state machine."""
    config = render_config(config)
    comment = (
        "lakejobs on AWS Glue: customers and employees in parallel, orders, sales mart, catalog;"
        " input: bucket, prefix, run_date"
    )
    return _staged_machine(comment, pipeline, config, glue_task(config))


def serverless_machine(pipeline: Pipeline, config: DeployConfig) -> Dict:
    """The EMR Serverless state machine."""
    config = render_config(config)
    comment = (
        "lakejobs on EMR Serverless: customers and employees in parallel, orders, sales mart, catalog;"
        " input adds application_id"
    )
    return _staged_machine(comment, pipeline, config, serverless_task(config))


CREATE_CLUSTER, TERMINATE, TERMINATE_AFTER_FAILURE = (
    "Create cluster",
    "Terminate cluster",
    "Terminate cluster after failure",
)
CLUSTER_ID = "$.cluster.ClusterId"


def cluster_parameters(pipeline: Pipeline, config: DeployConfig) -> Dict:
    """The ``createCluster`` request: the transient cluster without steps, kept alive for them."""
    request = emr.run_job_flow_request(pipeline, config, with_steps=False)
    request.pop("Steps", None)
    request["Instances"] = {**request["Instances"], "KeepJobFlowAliveWhenNoSteps": True}
    return request


def _terminate(next_state: str, on_error: str, error_path: str) -> Dict:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::elasticmapreduce:terminateCluster.sync",
        "Parameters": {"ClusterId.$": CLUSTER_ID},
        "ResultPath": None,
        "TimeoutSeconds": 1800,
        "Retry": asl.retry(TERMINATE_RETRY),
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": error_path, "Next": on_error}],
        "Next": next_state,
    }


def emr_machine(pipeline: Pipeline, config: DeployConfig) -> Dict:
    """The EMR on EC2 state machine: a transient cluster that is terminated on every path."""
    config = render_config(config)
    create = asl.task(
        "arn:aws:states:::elasticmapreduce:createCluster.sync",
        cluster_parameters(pipeline, config),
        CREATE_CLUSTER_RETRY,
        3600,
        asl.ON_FAILURE,
        ResultSelector={"ClusterId.$": "$.ClusterId"},
        ResultPath="$.cluster",
    )
    create["Parameters"]["Name.$"] = "States.Format('lakejobs-pipeline-{}', $.run_date)"
    create["Parameters"].pop("Name", None)
    steps = []
    for group in stages(pipeline, config):
        for job in group:
            params = {"ClusterId.$": CLUSTER_ID, "Step": emr.emr_step(job, config, emr.ON_FAILURE_KEEP_CLUSTER)}
            state = asl.task(
                "arn:aws:states:::elasticmapreduce:addStep.sync",
                params,
                EMR_RETRY,
                timeout_s(job),
                TERMINATE_AFTER_FAILURE,
            )
            steps.append((label(job), state))
    states = asl.chain([(CREATE_CLUSTER, create)] + steps, TERMINATE)
    states[TERMINATE] = _terminate(asl.SUCCEEDED, asl.ON_FAILURE, "$.error")
    states[TERMINATE_AFTER_FAILURE] = _terminate(asl.ON_FAILURE, asl.ON_FAILURE, "$.terminate_error")
    states.update({asl.SUCCEEDED: {"Type": "Succeed"}, **_failure_states()})
    comment = "lakejobs on a transient EMR cluster: create, one step per job, terminate (on failure too)"
    return {"Comment": comment, "StartAt": CREATE_CLUSTER, "States": states}


#: Runtime -> renderer of its state machine.
MACHINES = {"glue": glue_machine, "emr": emr_machine, "emr-serverless": serverless_machine}


def state_machine_name(config: DeployConfig, runtime: str) -> str:
    """The state machine's name: ``lakejobs-pipeline-glue``."""
    return f"{config.name_prefix}pipeline-{runtime}"
