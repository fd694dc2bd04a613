"""The Glue state machine, deployed with ``lakejobs deploy --target stepfunctions``, executed on moto's engine."""

import json
import re
import time

import boto3
import pytest

from lakejobs import cli, s3local
from lakejobs.deploy import glue
from lakejobs.deploy.description import DeployConfig, sales_pipeline
from lakejobs.deploy.execute import client_factory, execute
from lakejobs.deploy.requests import Request
from tests.conftest import ROOT
from tests.integration import moto_glue, moto_sfn
from tests.unit.test_deploy_requests import make_dist

BUCKET = "sfn-lake"
#: The jobs are deployed with another bucket: the locations a run gets can only come from the execution input.
DEPLOY_BUCKET = "deploy-time-bucket"
ROLE = "arn:aws:iam::123456789012:role/lakejobs-glue-job"
JOBS = ["lakejobs-convert-customers", "lakejobs-convert-employees", "lakejobs-convert-orders"]
DEPLOY = ["deploy", "--target", "stepfunctions", "--bucket", DEPLOY_BUCKET, "--role-arn", ROLE]
ALL_JOBS = JOBS + ["lakejobs-sales-mart", "lakejobs-catalog-sync"]


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    """moto's server with execution on, the pipeline's Glue jobs and state machines deployed, an alert topic."""
    moto_sfn.patch_glue_sync()
    moto_glue.add_update_job()
    dist = make_dist(tmp_path_factory.mktemp("sfn") / "dist", catalog_step=True)
    with s3local.s3_server() as env:
        endpoint = env["AWS_ENDPOINT_URL"]
        moto_sfn.enable(endpoint)
        try:  # disabled even when the set-up fails: MOTO_PORT would name a stopped server
            boto3.client("s3").create_bucket(Bucket=DEPLOY_BUCKET)
            glue_client = boto3.client("glue")
            for job in glue_client.get_jobs()["Jobs"]:  # other modules' lakes: this deploy would refuse them
                glue_client.delete_job(JobName=job["Name"])
            config = DeployConfig(bucket=DEPLOY_BUCKET, prefix="other", role_arn=ROLE)
            execute(
                [upsert_job(job, config) for job in sales_pipeline().jobs],
                client_factory("us-east-1", endpoint),
                lambda _line: None,
            )
            assert cli.main(DEPLOY + ["--dist", str(dist), "--endpoint-url", endpoint]) == 0
            sns, sqs = boto3.client("sns"), boto3.client("sqs")
            topic = sns.create_topic(Name="lakejobs-alerts")["TopicArn"]
            queue = sqs.create_queue(QueueName="lakejobs-alerts")["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=attributes["QueueArn"])
            yield {
                "endpoint": endpoint,
                "topic": topic,
                "queue": queue,
                "glue": boto3.client("glue"),
                "sqs": sqs,
                "dist": dist,
            }
        finally:
            moto_sfn.disable(endpoint)


def upsert_job(job, config):
    """The Glue job's CreateJob, or UpdateJob when it exists (as ``deploy --target glue`` sends it)."""
    definition = glue.glue_job_definition(job, config)
    probe = Request("glue", "GetJob", {"JobName": definition["Name"]})
    update = Request("glue", "UpdateJob", glue.glue_update_request(definition))
    return Request("glue", "CreateJob", definition, probe=probe, otherwise=update)


def start(aws, capsys, topic=True):
    code = cli.main(
        ["pipeline", "start", "--runtime", "glue", "--bucket", BUCKET, "--prefix", "lake", "--run-date", "2026-11-23"]
        + (["--notify-topic-arn", aws["topic"]] if topic else [])
        + ["--endpoint-url", aws["endpoint"], "--wait", "--poll-seconds", "0.2"]
    )
    return code, capsys.readouterr().out.splitlines()


def runs(glue_client, name):
    return glue_client.get_job_runs(JobName=name)["JobRuns"]


def new_runs(glue_client, name, before):
    """Runs of ``name`` started since ``before`` (the server may hold other tests' runs)."""
    return [run for run in runs(glue_client, name) if run["Id"] not in before[name]]


def run_arguments(run, expected):
    """The run's values of the expected arguments (moto merges the job's DefaultArguments in)."""
    return {name: run["Arguments"].get(name) for name in expected}


def test_deployed_machine_is_the_committed_definition(aws):
    sfn = boto3.client("stepfunctions")
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    assert sorted(machines) == ["lakejobs-pipeline-emr", "lakejobs-pipeline-emr-serverless", "lakejobs-pipeline-glue"]
    deployed = json.loads(sfn.describe_state_machine(stateMachineArn=machines["lakejobs-pipeline-glue"])["definition"])
    committed = json.loads((ROOT / "stepfunctions" / "glue.asl.json").read_text(encoding="utf-8"))
    assert deployed == committed  # the deploy defaults (Delta tables, us-east-1) are the committed rendering


def test_the_deploy_uploaded_what_the_machines_runs_load(aws):
    listed = boto3.client("s3").list_objects_v2(Bucket=DEPLOY_BUCKET, Prefix="artifacts/")["Contents"]
    dist = aws["dist"]
    expected = sorted(f"artifacts/{path.relative_to(dist).as_posix()}" for path in dist.rglob("*") if path.is_file())
    assert sorted(item["Key"] for item in listed) == expected
    assert "artifacts/jobs/catalog_sync.py" in expected


def test_a_second_deploy_updates_the_machines_and_the_catalog_job_in_place(aws, capsys):
    arns = sorted(m["stateMachineArn"] for m in boto3.client("stepfunctions").list_state_machines()["stateMachines"])
    assert cli.main(DEPLOY + ["--dist", str(aws["dist"]), "--endpoint-url", aws["endpoint"]]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"deployed to stepfunctions under s3://{DEPLOY_BUCKET}/: "
        "DescribeStateMachine x3, GetJob x5, PutObject x7, UpdateJob x1, UpdateStateMachine x3"
    )
    assert (
        sorted(m["stateMachineArn"] for m in boto3.client("stepfunctions").list_state_machines()["stateMachines"])
        == arns
    )


def test_a_deploy_for_another_lake_does_not_repoint_the_catalog_job(aws, capsys):
    """The catalog step's Glue job has a fixed name, as the pipeline's jobs have."""
    argv = DEPLOY + ["--prefix", "elsewhere", "--dist", str(aws["dist"]), "--endpoint-url", aws["endpoint"]]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (
        f"lakejobs: error: Glue job lakejobs-catalog-sync exists for the lake s3://{DEPLOY_BUCKET}/, not "
        f"s3://{DEPLOY_BUCKET}/elsewhere/: this deploy would repoint it; deploy beside it with another --name-prefix "
        "than lakejobs- (lakejobs-dev-, say), or delete the old jobs first\n"
    )
    assert boto3.client("s3").list_objects_v2(Bucket=DEPLOY_BUCKET, Prefix="elsewhere/")["KeyCount"] == 0
    catalog = aws["glue"].get_job(JobName="lakejobs-catalog-sync")["Job"]
    assert catalog["DefaultArguments"]["--lake"] == f"s3://{DEPLOY_BUCKET}/"


def test_a_machine_whose_glue_jobs_were_never_deployed_is_refused_before_any_upload(aws, capsys):
    """It was created, and every execution failed at its first Task: Glue.EntityNotFoundException."""
    argv = DEPLOY + ["--prefix", "fresh", "--name-prefix", "lakejobs-fresh-", "--dist", str(aws["dist"])]
    assert cli.main(argv + ["--endpoint-url", aws["endpoint"]]) == 2
    assert capsys.readouterr().err == (
        "lakejobs: error: the Glue state machine starts the Glue jobs lakejobs-fresh-convert-customers, "
        "lakejobs-fresh-convert-employees, lakejobs-fresh-convert-orders, lakejobs-fresh-sales-mart, which do not "
        "exist: run lakejobs deploy --target glue first (same --name-prefix)\n"
    )
    assert boto3.client("s3").list_objects_v2(Bucket=DEPLOY_BUCKET, Prefix="fresh/")["KeyCount"] == 0
    machines = boto3.client("stepfunctions").list_state_machines()["stateMachines"]
    assert not [m["name"] for m in machines if m["name"].startswith("lakejobs-fresh-")]


def test_execution_succeeds_and_runs_the_jobs_in_order_with_their_arguments(aws, capsys):
    before = {name: {run["Id"] for run in runs(aws["glue"], name)} for name in ALL_JOBS}
    code, lines = start(aws, capsys)
    assert code == 0, lines
    assert lines[-2:] == ["execution succeeded", "status: SUCCEEDED"]
    entered = [line.split(None, 1)[1] for line in lines if line.startswith("started ") and " " in line[8:]]
    assert entered[0] == "Convert customers + Convert employees"
    assert sorted(entered[1:3]) == ["Convert customers", "Convert employees"]
    assert entered[3:] == ["Convert orders", "Sales mart", "Catalog sync", "Succeeded"]
    glue_client = aws["glue"]
    converts = [new_runs(glue_client, name, before) for name in JOBS]
    mart, catalog = (
        new_runs(glue_client, "lakejobs-sales-mart", before),
        new_runs(glue_client, "lakejobs-catalog-sync", before),
    )
    assert [len(found) for found in converts + [mart, catalog]] == [1, 1, 1, 1, 1]
    customers, employees, orders = (found[0]["StartedOn"] for found in converts)
    assert max(customers, employees) <= orders <= mart[0]["StartedOn"] <= catalog[0]["StartedOn"]
    root = f"s3://{BUCKET}/lake/"
    expected = {
        "--dataset": "orders",
        "--input_path": f"{root}rawData/orders",
        "--output_path": f"{root}processedData/orders",
        "--quarantine_path": f"{root}quarantine/orders",
        "--state_path": f"{root}_lakejobs/state/csv_to_parquet/orders.json",
        "--incremental": "false",
        "--format": "delta",
        "--report_path": f"{root}_lakejobs/runs",
    }
    assert run_arguments(converts[2][0], expected) == expected
    assert converts[2][0]["Arguments"]["--TempDir"] == f"s3://{DEPLOY_BUCKET}/other/tmp/glue/"
    expected = {
        "--processed_path": f"{root}processedData",
        "--mart_path": f"{root}mart",
        "--quarantine_path": f"{root}quarantine/sales",
        "--format": "delta",
        "--report_path": f"{root}_lakejobs/runs",
    }
    assert run_arguments(mart[0], expected) == expected
    expected = {
        "--lake": root,
        "--database": "processed_data",
        "--raw-database": "raw_data",
        "--format": "delta",
        "--region": "us-east-1",
    }
    assert run_arguments(catalog[0], expected) == expected


def test_a_missing_job_sends_the_execution_through_notify_to_failed(aws, capsys):
    aws["glue"].delete_job(JobName="lakejobs-sales-mart")
    catalog_runs = len(runs(aws["glue"], "lakejobs-catalog-sync"))
    code, lines = start(aws, capsys)
    assert code == 1, lines
    assert lines[-1] == "status: FAILED"
    entered = [line.split(None, 1)[1] for line in lines if line.startswith("started ") and " " in line[8:]]
    assert entered[-4:] == ["Sales mart", "Notify failure?", "Notify failure", "Pipeline failed"]
    assert any(line.startswith("task failed") and "Glue.EntityNotFoundException" in line for line in lines), lines
    assert len(runs(aws["glue"], "lakejobs-catalog-sync")) == catalog_runs  # the catalog step never ran
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    aws["sqs"].delete_message(QueueUrl=aws["queue"], ReceiptHandle=messages[0]["ReceiptHandle"])
    execution, notification = notified(json.loads(messages[0]["Body"]))
    assert re.fullmatch(r"glue-2026-11-23-[0-9a-f]{8}", execution)
    assert notification["error"]["Error"] == "Glue.EntityNotFoundException"
    assert {key: notification[key] for key in ("bucket", "prefix", "run_date")} == {
        "bucket": BUCKET,
        "prefix": "lake/",
        "run_date": "2026-11-23",
    }

    # Without a topic the failure goes straight to Pipeline failed: until session 49 it published to
    # TopicArn "", which SNS refuses, and every such execution recorded that error.
    code, lines = start(aws, capsys, topic=False)
    assert code == 1, lines
    after = lines[lines.index(f"{'started':<20} Sales mart", len(lines) - 10) :]
    assert after == [
        f"{'started':<20} Sales mart",
        f"{'task failed':<20} Glue.EntityNotFoundException: Job lakejobs-sales-mart not found.",
        f"{'done':<20} Sales mart",
        f"{'started':<20} Notify failure?",
        f"{'done':<20} Notify failure?",
        f"{'started':<20} Pipeline failed",
        f"{'execution failed':<20} lakejobs.PipelineFailed: a job failed; see the execution history",
        "status: FAILED",
    ]
    assert aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10).get("Messages", []) == []


MESSAGE = re.compile(r"lakejobs pipeline execution (\S+) failed; its error and input: (\{.*\})", re.S)


def notified(envelope):
    """The execution's name and the error and input of an SNS notification (as its SQS subscription gets it)."""
    assert envelope["Subject"] == "lakejobs pipeline failed"
    execution, document = MESSAGE.fullmatch(envelope["Message"]).groups()
    return execution, json.loads(document)


def test_an_execution_of_the_longest_name_is_notified_too(aws):
    """The subject held the execution's name: past SNS's 100 characters the publish failed, caught, telling no one."""
    sfn = boto3.client("stepfunctions")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "lakejobs-pipeline-glue")
    run_input = {"bucket": BUCKET, "prefix": "lake/", "run_date": "2026-11-24", "notify_topic_arn": aws["topic"]}
    name = "nightly-" + "x" * 72  # Step Functions' longest execution name: 80 characters
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=name, input=json.dumps(run_input))
    for _ in range(300):
        if sfn.describe_execution(executionArn=arn["executionArn"])["status"] != "RUNNING":
            break
        time.sleep(0.2)
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10, WaitTimeSeconds=2)
    assert len(messages.get("Messages", [])) == 1, messages
    execution, notification = notified(json.loads(messages["Messages"][0]["Body"]))
    assert (execution, notification["run_date"]) == (name, "2026-11-24")
    assert notification["error"]["Error"] == "Glue.EntityNotFoundException"


def test_starting_a_machine_never_deployed_is_one_line_and_a_missing_topic_is_warned_of(aws, capsys):
    argv = ["pipeline", "start", "--runtime", "glue", "--bucket", BUCKET, "--name-prefix", "other-"]
    assert cli.main(argv + ["--endpoint-url", aws["endpoint"]]) == 1
    captured = capsys.readouterr()
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:other-pipeline-glue"
    assert captured.err.splitlines() == [
        "lakejobs: warning: no --notify-topic-arn: a failed execution tells no one (it skips its Notify failure "
        "states); only the execution's status shows it",
        f"lakejobs: error: no state machine 'other-pipeline-glue' at {arn}: run lakejobs deploy --target "
        "stepfunctions first",
    ]
    assert captured.out == ""


def test_a_topic_or_runtime_role_the_machine_role_may_not_use_is_warned_of(aws, capsys):
    """Both started without a word; on AWS the notification was denied (no one told) and every job run failed."""
    argv = ["pipeline", "start", "--runtime", "emr-serverless", "--bucket", BUCKET, "--name-prefix", "other-"]
    argv += ["--application-id", "00fapp01", "--execution-role-arn", "arn:aws:iam::123456789012:role/analytics"]
    argv += ["--notify-topic-arn", "arn:aws:sns:us-east-1:123456789012:ops-alerts"]
    assert cli.main(argv + ["--endpoint-url", aws["endpoint"]]) == 1  # no such machine: the warnings come first
    policy = "stepfunctions/emr-serverless.iam.json"
    assert capsys.readouterr().err.splitlines()[:2] == [
        "lakejobs: warning: --notify-topic-arn arn:aws:sns:us-east-1:123456789012:ops-alerts: the machine's role may "
        f"publish only to topics named lakejobs-* ({policy}), so a failure would tell no one; name the topic so, or "
        "widen that policy",
        "lakejobs: warning: --execution-role-arn arn:aws:iam::123456789012:role/analytics: the machine's role may pass "
        f"only roles named lakejobs-* ({policy}), so every job run would be denied; name the role so, or widen that "
        "policy",
    ]


def test_a_runtime_role_of_another_account_is_refused_before_any_request(aws, capsys):
    """The machine could pass it to no job run: AWS passes a role only to services of its own account."""
    argv = ["pipeline", "start", "--runtime", "emr-serverless", "--bucket", BUCKET, "--name-prefix", "other-"]
    argv += ["--application-id", "00fapp01", "--execution-role-arn", "arn:aws:iam::111122223333:role/lakejobs-run"]
    argv += ["--notify-topic-arn", "arn:aws:sns:us-east-1:123456789012:lakejobs-alerts"]
    assert cli.main(argv + ["--endpoint-url", aws["endpoint"]]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "lakejobs: error: --execution-role-arn arn:aws:iam::111122223333:role/lakejobs-run is a role of account "
        "111122223333, but these credentials are of account 123456789012: AWS passes a role only to services of its "
        "own account; give a role of 123456789012, or use credentials of 111122223333"
    ]
