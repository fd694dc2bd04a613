"""The IAM policy each state machine's role needs, and nothing more.

Region and account are CloudFormation pseudo parameters (``${AWS::Region}``,
``${AWS::AccountId}``): use the document with ``Fn::Sub``, or substitute them by hand.
"""

from typing import Dict, List

from lakejobs.deploy.description import DeployConfig, Pipeline
from lakejobs.deploy.iam import emr_cleanup_role_statement
from lakejobs.orchestrate.machines import stages

REGION, ACCOUNT = "${AWS::Region}", "${AWS::AccountId}"
#: The notification topics a machine may publish to (the input's ``notify_topic_arn``).
TOPIC_PATTERN = "lakejobs-*"


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def _statement(sid: str, actions: List[str], resources: List[str], **extra) -> Dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def _notify() -> Dict:
    return _statement("NotifyFailures", ["sns:Publish"], [_arn("sns", TOPIC_PATTERN)])


def _events(rules: List[str]) -> Dict:
    """The EventBridge rules Step Functions manages for a ``.sync`` integration."""
    actions = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    return _statement("SyncIntegrationRules", actions, [_arn("events", f"rule/{rule}") for rule in rules])


def _document(statements: List[Dict]) -> Dict:
    return {"Version": "2012-10-17", "Statement": statements}


def glue_policy(pipeline: Pipeline, config: DeployConfig) -> Dict:
    """Start, watch and stop exactly the pipeline's Glue jobs; publish failures."""
    jobs = [config.job_name(job) for group in stages(pipeline, config) for job in group]
    actions = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
    return _document(
        [_statement("RunPipelineJobs", actions, [_arn("glue", f"job/{name}") for name in jobs]), _notify()]
    )


def emr_policy(pipeline: Pipeline, config: DeployConfig) -> Dict:
    """Create, use and terminate the pipeline's clusters; pass the EMR roles; publish failures.

    ``RunJobFlow`` has no resource-level permission (only ``*`` matches it). Creating a cluster
    passes the service role to EMR and the instance profile's role to EC2, and creates EMR's
    cleanup service-linked role in an account that lacks it.
    """
    cluster_actions = [
        "elasticmapreduce:DescribeCluster",
        "elasticmapreduce:TerminateJobFlows",
        "elasticmapreduce:AddJobFlowSteps",
        "elasticmapreduce:DescribeStep",
        "elasticmapreduce:CancelSteps",
        "elasticmapreduce:AddTags",
        "elasticmapreduce:PutAutoTerminationPolicy",  # the cluster's idle timeout, set when created
    ]
    role = f"arn:aws:iam::{ACCOUNT}:role/"
    rules = [
        "StepFunctionsGetEventForEMRRunJobFlowRule",
        "StepFunctionsGetEventForEMRAddJobFlowStepsRule",
        "StepFunctionsGetEventForEMRTerminateJobFlowsRule",
    ]
    return _document(
        [
            _statement("CreatePipelineClusters", ["elasticmapreduce:RunJobFlow"], ["*"]),
            _statement("RunPipelineClusters", cluster_actions, [_arn("elasticmapreduce", "cluster/*")]),
            _statement(
                "PassServiceRoleToEmr",
                ["iam:PassRole"],
                [role + config.emr_service_role],
                Condition={"StringEquals": {"iam:PassedToService": "elasticmapreduce.amazonaws.com"}},
            ),
            _statement(
                "PassInstanceRoleToEc2",
                ["iam:PassRole"],
                [role + config.emr_instance_profile],
                Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            ),
            emr_cleanup_role_statement(ACCOUNT),
            _events(rules),
            _notify(),
        ]
    )


def serverless_policy(pipeline: Pipeline, config: DeployConfig) -> Dict:
    """Start, watch and cancel job runs; pass the job runtime role; publish failures."""
    actions = ["emr-serverless:StartJobRun", "emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"]
    resources = [_arn("emr-serverless", "/applications/*"), _arn("emr-serverless", "/applications/*/jobruns/*")]
    passed = {"StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}}
    return _document(
        [
            _statement("RunPipelineJobs", actions, resources),
            _statement(
                "PassJobRuntimeRole",
                ["iam:PassRole"],
                [f"arn:aws:iam::{ACCOUNT}:role/{config.name_prefix}*"],
                Condition=passed,
            ),
            _events(["StepFunctionsGetEventsForEMRServerlessJobRule"]),
            _notify(),
        ]
    )


#: Runtime -> its state machine role's policy.
POLICIES = {"glue": glue_policy, "emr": emr_policy, "emr-serverless": serverless_policy}
