"""The committed state machines: up to date, valid States Language, retried, caught and cleaned up."""

import json
import re
import subprocess

import pytest

from lakejobs.deploy.description import DeployConfig, sales_pipeline
from lakejobs.orchestrate import asl, graph, render
from lakejobs.orchestrate.machines import CREATE_CLUSTER, RUNTIMES, emr_machine
from tests.conftest import ROOT, VENV_BIN
from tests.integration import iam_eval

DEFINITIONS = {runtime: ROOT / "stepfunctions" / f"{runtime}.asl.json" for runtime in RUNTIMES}


def load(runtime):
    return json.loads(DEFINITIONS[runtime].read_text(encoding="utf-8"))


def test_committed_files_are_what_rendering_makes():
    assert sorted(render.rendered_files()) == sorted(
        [f"stepfunctions/{runtime}.{kind}.json" for runtime in RUNTIMES for kind in ("asl", "iam")]
        + ["stepfunctions/deployer.iam.json"]
    )
    assert render.differences(ROOT) == [], "run: python -m lakejobs.orchestrate.render (make stepfunctions)"


def statelint(*paths):
    return subprocess.run([str(VENV_BIN / "statelint"), *map(str, paths)], capture_output=True, text=True, timeout=60)


def test_statelint_accepts_every_definition_and_rejects_a_broken_one(tmp_path):
    completed = statelint(*DEFINITIONS.values())
    assert (completed.returncode, completed.stdout) == (0, "")
    broken = load("glue")
    del broken["States"]["Sales mart"]["Next"]
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    completed = statelint(path)
    assert completed.returncode == 1
    assert "State Machine.States.Sales mart does not have required field" in completed.stdout, completed.stdout


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_task_retries_with_backoff_and_catches_everything(runtime):
    tasks = list(graph.tasks(load(runtime)))
    # Five job steps and the pipeline's failure notification, plus the notifications of the two
    # Parallel branches (Glue, EMR Serverless) or the EMR cluster's create and two terminations.
    assert len(tasks) == {"glue": 8, "emr-serverless": 8, "emr": 9}[runtime]
    for name, task in tasks:
        assert task["Retry"] and task["Catch"], name
        retried = {error for retrier in task["Retry"] for error in retrier["ErrorEquals"]}
        # Only notifications and terminations retry their timeout: a job's or the cluster's
        # creation would start again beside the one that timed out (see the EMR test below).
        repeatable = name.startswith(("Notify ", "Terminate "))
        assert ("States.Timeout" in retried) is repeatable and "States.ALL" not in retried, name
        assert all(retrier["BackoffRate"] >= 2 and retrier["MaxAttempts"] >= 3 for retrier in task["Retry"]), name
        assert [catcher["ErrorEquals"] for catcher in task["Catch"]][-1] == ["States.ALL"], name
        assert task["TimeoutSeconds"] > 0, name


def test_job_tasks_retry_throttling_and_concurrent_run_limits():
    glue_tasks = [
        (name, task)
        for name, task in graph.tasks(load("glue"))
        if task["Resource"].startswith("arn:aws:states:::glue:")
    ]
    assert [name for name, _task in glue_tasks] == [
        "Convert customers",
        "Convert employees",
        "Convert orders",
        "Sales mart",
        "Catalog sync",
    ]
    for name, task in glue_tasks:
        errors = task["Retry"][0]["ErrorEquals"]
        assert {"Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException"} <= set(errors), name


def notify_before_fail(definition, path):
    """A path to a Fail state passes an SNS publish, or the Choice before one when no topic is given, or leaves a
    Parallel whose branch notified."""
    states = definition["States"]
    kinds = [states[name].get("Resource", states[name]["Type"]) for name in path]
    if kinds[-1] != "Fail" or "arn:aws:states:::sns:publish" in kinds:
        return True
    last_step = states[path[-2]] if len(path) > 1 else {}
    if path[-2].endswith("?"):  # no topic in the input: no one to tell (SNS refuses an empty TopicArn)
        return last_step == asl.topic_choice(path[-2][:-1], path[-1])
    notified = [c for c in last_step.get("Catch", []) if c["ErrorEquals"] == [asl.NOTIFIED_ERROR]]
    return last_step.get("Type") == "Parallel" and [c["Next"] for c in notified] == [path[-1]]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_path_ends_in_success_or_a_notified_failure(runtime):
    definition = load(runtime)
    for machine in [definition] + [b for s in definition["States"].values() for b in s.get("Branches", [])]:
        for path in graph.paths(machine):
            assert notify_before_fail(machine, path), path
    outcomes = {path[-1] for path in graph.paths(definition)}
    assert outcomes == {"Succeeded", "Pipeline failed"}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_failure_notifies_only_when_the_input_names_a_topic(runtime):
    """SNS refuses an empty TopicArn: until session 49 every failure without a topic recorded a notify error."""
    definition = load(runtime)
    machines = [definition] + [b for s in definition["States"].values() for b in s.get("Branches", [])]
    publishes = 0
    for machine in machines:
        states = machine["States"]
        for name, state in states.items():
            if state.get("Resource") != "arn:aws:states:::sns:publish":
                continue
            publishes += 1
            # Only its Choice goes to a notification; the Choice goes to it or to its Fail state.
            into = [other for other, s in states.items() if name in graph.successors(s)]
            assert into == [f"{name}?"], (name, into)
            assert states[f"{name}?"] == {
                "Type": "Choice",
                "Comment": "Notify only when the execution input names a topic (notify_topic_arn).",
                "Choices": [
                    {"Variable": "$.notify_topic_arn", "IsPresent": False, "Next": state["Next"]},
                    {"Variable": "$.notify_topic_arn", "StringEquals": "", "Next": state["Next"]},
                ],
                "Default": name,
            }
            assert states[state["Next"]]["Type"] == "Fail"
    assert publishes == {"glue": 3, "emr-serverless": 3, "emr": 1}[runtime]


@pytest.mark.parametrize("runtime", ["glue", "emr-serverless"])
def test_staged_machines_run_the_dimensions_in_parallel_then_orders_the_mart_and_the_catalog(runtime):
    definition = load(runtime)
    success = [path for path in graph.paths(definition) if path[-1] == "Succeeded"]
    assert success == [
        ["Convert customers + Convert employees", "Convert orders", "Sales mart", "Catalog sync", "Succeeded"]
    ]
    branches = definition["States"][success[0][0]]["Branches"]
    assert [branch["StartAt"] for branch in branches] == ["Convert customers", "Convert employees"]


def test_emr_cluster_is_terminated_on_every_path_once_created():
    definition = load("emr")
    states = definition["States"]
    terminations = {name for name, s in states.items() if s.get("Resource", "").endswith("terminateCluster.sync")}
    created = [path for path in graph.paths(definition) if path[1] != asl.ON_FAILURE]
    # A failure after each of the 5 steps and the final termination failing, each with a topic and without; success.
    assert len(created) == 13
    for path in created:
        assert terminations & set(path), path
    success = [path for path in created if path[-1] == "Succeeded"]
    assert success == [
        ["Create cluster", "Convert customers", "Convert employees", "Convert orders", "Sales mart", "Catalog sync"]
        + ["Terminate cluster", "Succeeded"]
    ]
    never_created = [path for path in graph.paths(definition) if path[1] == asl.ON_FAILURE]
    assert never_created == [
        ["Create cluster", "Notify failure?", "Pipeline failed"],
        ["Create cluster", "Notify failure?", "Notify failure", "Pipeline failed"],
    ]
    assert states["Create cluster"]["Parameters"]["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    # A timed-out createCluster.sync leaves its cluster running: a retry would start another.
    assert [error for rule in states["Create cluster"]["Retry"] for error in rule["ErrorEquals"]] == [
        "EMR.AmazonElasticMapReduceException",
        "EMR.ThrottlingException",
    ]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_no_bucket_prefix_or_account_is_baked_in(runtime):
    text = DEFINITIONS[runtime].read_text(encoding="utf-8")
    assert asl.BUCKET_TOKEN not in text
    assert re.findall(r"s3://[^'{]", text) == []
    assert re.findall(r"\b\d{12}\b", text) == []
    assert text.count("s3://{}/{}") == text.count("$.bucket, $.prefix") > 0


def test_run_time_locations_become_intrinsic_functions_with_escaped_literals():
    root = asl.ROOT_TOKEN
    assert asl.run_time("no location") is None
    assert asl.run_time(f"{root}mart") == "States.Format('s3://{}/{}mart', $.bucket, $.prefix)"
    assert asl.run_time(f"--x={root}a,{root}b {{it's}}") == (
        "States.Format('--x=s3://{}/{}a,s3://{}/{}b \\{it\\'s\\}', $.bucket, $.prefix, $.bucket, $.prefix)"
    )
    assert asl.parameters({"Args": ["spark-submit", f"{root}job.py"], "N": 1}) == {
        "Args.$": "States.Array('spark-submit', States.Format('s3://{}/{}job.py', $.bucket, $.prefix))",
        "N": 1,
    }


def test_policies_name_only_the_pipelines_resources():
    policy = json.loads((ROOT / "stepfunctions" / "glue.iam.json").read_text(encoding="utf-8"))
    run_jobs = policy["Statement"][0]
    assert run_jobs["Action"] == ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
    assert [arn.rsplit("/", 1)[1] for arn in run_jobs["Resource"]] == [
        "lakejobs-convert-customers",
        "lakejobs-convert-employees",
        "lakejobs-convert-orders",
        "lakejobs-sales-mart",
        "lakejobs-catalog-sync",
    ]
    for runtime in RUNTIMES:
        text = (ROOT / "stepfunctions" / f"{runtime}.iam.json").read_text(encoding="utf-8")
        statements = json.loads(text)["Statement"]
        anywhere = [statement["Action"] for statement in statements if "*" in statement["Resource"]]
        # RunJobFlow has no resource-level permission: only "*" matches it.
        assert anywhere == ([["elasticmapreduce:RunJobFlow"]] if runtime == "emr" else [])
        assert re.findall(r"\b\d{12}\b", text) == []


def emr_machine_policy(account: str, region: str) -> dict:
    text = (ROOT / "stepfunctions" / "emr.iam.json").read_text(encoding="utf-8")
    return json.loads(text.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region))


def test_the_emr_machine_role_may_create_the_cluster_its_definition_asks_for():
    """createCluster's request as IAM sees it: RunJobFlow, its tags, the roles passed to EMR and EC2."""
    create = json.loads(DEFINITIONS["emr"].read_text(encoding="utf-8"))["States"]["Create cluster"]
    request = {key: value for key, value in create["Parameters"].items() if not key.endswith(".$")}
    checks = iam_eval.authorizations("emr", "RunJobFlow", request, "123456789012", "us-east-1")
    assert [(action, resource) for action, resource, _context in checks] == [
        ("elasticmapreduce:RunJobFlow", "*"),
        ("elasticmapreduce:AddTags", "arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/j-NEW"),
        ("elasticmapreduce:PutAutoTerminationPolicy", "arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/j-NEW"),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/lakejobs-emr-service"),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/lakejobs-emr-ec2"),
        ("iam:CreateServiceLinkedRole", iam_eval.EMR_CLEANUP_ROLE.format("123456789012")),
    ]
    policy = emr_machine_policy("123456789012", "us-east-1")
    assert [check for check in checks if not iam_eval.allowed(policy, check)] == []
    to_emr = {"iam:PassedToService": "elasticmapreduce.amazonaws.com"}
    assert not iam_eval.allowed(policy, ("iam:PassRole", "arn:aws:iam::123456789012:role/lakejobs-emr-ec2", to_emr))
    cleanup = (
        "arn:aws:iam::123456789012:role/aws-service-role/elasticmapreduce.amazonaws.com/AWSServiceRoleForEMRCleanup"
    )
    service = {"iam:AWSServiceName": "elasticmapreduce.amazonaws.com"}
    assert iam_eval.allowed(policy, ("iam:CreateServiceLinkedRole", cleanup, service))
    assert not iam_eval.allowed(
        policy, ("iam:CreateServiceLinkedRole", cleanup.replace("EMRCleanup", "Other"), service)
    )


def test_the_emr_machine_creates_its_cluster_in_the_subnet_deployed_with():
    def instances(config):
        return emr_machine(sales_pipeline(), config)["States"][CREATE_CLUSTER]["Parameters"]["Instances"]

    assert "Ec2SubnetId" not in instances(DeployConfig(bucket="b"))
    assert instances(DeployConfig(bucket="b", subnet_id="subnet-0a1b2c3d"))["Ec2SubnetId"] == "subnet-0a1b2c3d"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_notification_has_a_fixed_short_subject_and_names_the_execution_in_its_message(runtime):
    """The subject held the execution's name (up to 80 characters): past SNS's 100 the publish failed, caught."""
    notifications = [task for name, task in graph.tasks(load(runtime)) if task["Resource"].endswith(":sns:publish")]
    assert len(notifications) == {"glue": 3, "emr-serverless": 3, "emr": 1}[runtime]
    for task in notifications:
        parameters = task["Parameters"]
        assert "Subject.$" not in parameters and len(parameters["Subject"]) < 100
        assert parameters["Subject"].startswith("lakejobs pipeline failed")
        assert parameters["Message.$"] == asl.NOTIFY_MESSAGE and "$$.Execution.Name" in asl.NOTIFY_MESSAGE
