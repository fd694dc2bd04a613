"""``lakejobs deploy --target stepfunctions --dry-run`` and ``lakejobs pipeline start`` argument handling."""

import json

import botocore.session
import pytest
from botocore.validate import validate_parameters

from lakejobs import cli
from lakejobs.deploy.description import DeployConfig, sales_pipeline
from lakejobs.orchestrate.machines import MACHINES
from lakejobs.orchestrate.run import RunInput, describe_event, find_machine_arn, follow
from tests.unit.test_deploy_requests import make_dist

SESSION = botocore.session.get_session()
ROLE = "arn:aws:iam::123456789012:role/lakejobs-glue-job"


def dry_run(capsys, *extra, dist=None):
    argv = ["deploy", "--target", "stepfunctions", "--bucket", "bkt", "--dry-run", *extra]
    code = cli.main(argv + (["--dist", str(dist)] if dist else []))
    captured = capsys.readouterr()
    return code, captured


def test_dry_run_uploads_dist_and_creates_or_updates_the_catalog_job_and_three_state_machines(capsys, tmp_path):
    code, captured = dry_run(
        capsys, "--role-arn", ROLE, "--region", "eu-west-1", dist=make_dist(tmp_path / "dist", catalog_step=True)
    )
    assert code == 0, captured.err
    requests = [json.loads(line) for line in captured.out.splitlines()]
    uploads = [r["params"]["Key"] for r in requests if r["operation"] == "PutObject"]
    # What the three machines' runs load: the library, the scripts (the catalog step's too), and
    # the environment EMR Serverless runs in (Glue and EMR take the zip by default).
    assert uploads == [
        "artifacts/jobs/catalog_sync.py",
        "artifacts/jobs/csv_to_parquet.py",
        "artifacts/jobs/sales_mart.py",
        "artifacts/lakejobs-0.1.0-py3-none-any.whl",
        "artifacts/lakejobs-env-py3.11-x86_64.tar.gz",
        "artifacts/lakejobs-env-py3.9-x86_64.tar.gz",
        "artifacts/lakejobs-lib.zip",
    ]
    requests = requests[len(uploads) :]
    assert [(r["service"], r["operation"]) for r in requests] == [("glue", "GetJob"), ("glue", "CreateJob")] + [
        ("glue", "UpdateJob")
    ] + [("stepfunctions", op) for op in ("DescribeStateMachine", "CreateStateMachine", "UpdateStateMachine")] * 3
    for request in requests:
        model = SESSION.get_service_model(request["service"])
        validate_parameters(request["params"], model.operation_model(request["operation"]).input_shape)
    creates = [r["params"] for r in requests if r["operation"] == "CreateStateMachine"]
    assert [c["name"] for c in creates] == [
        "lakejobs-pipeline-glue",
        "lakejobs-pipeline-emr",
        "lakejobs-pipeline-emr-serverless",
    ]
    assert {c["roleArn"] for c in creates} == {"arn:aws:iam::123456789012:role/lakejobs-stepfunctions"}
    config = DeployConfig(bucket="b", region="eu-west-1", role_arn=ROLE)
    assert [json.loads(c["definition"]) for c in creates] == [
        machine(sales_pipeline(), config) for machine in MACHINES.values()
    ]
    assert requests[3]["params"] == {
        "stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:lakejobs-pipeline-glue"
    }


def test_a_dist_without_the_catalog_step_script_is_refused(capsys, tmp_path):
    dist = make_dist(tmp_path / "dist")
    code, captured = dry_run(capsys, "--role-arn", ROLE, dist=dist)
    assert (code, captured.out) == (2, "")
    assert (
        captured.err
        == f"lakejobs: error: {tmp_path / 'dist' / 'jobs' / 'catalog_sync.py'} is missing: run make package first\n"
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "lakejobs: error: --target stepfunctions needs --role-arn\n"),
        (
            ["--role-arn", "lakejobs"],
            "lakejobs: error: --role-arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got 'lakejobs'\n",
        ),
    ],
)
def test_dry_run_without_a_role_arn_fails_in_one_line(capsys, extra, message):
    code, captured = dry_run(capsys, *extra)
    assert (code, captured.err, captured.out) == (2, message, "")


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["pipeline", "start", "--runtime", "glue"],
            "pipeline start needs --runtime (glue, emr or emr-serverless) and --bucket",
        ),
        (
            ["pipeline", "start", "--runtime", "glue", "--bucket", "s3://b"],
            "--bucket must be a bucket name (no s3:// and no /), got 's3://b'",
        ),
        (
            ["pipeline", "start", "--runtime", "emr-serverless", "--bucket", "bkt"],
            "--runtime emr-serverless needs --application-id and --execution-role-arn",
        ),
        # What deploy refuses is refused here too: the machines put these values in their requests.
        (
            ["pipeline", "start", "--runtime", "glue", "--bucket", "Lake_Bk"],
            "--bucket 'Lake_Bk' is not an S3 bucket name (3 to 63 lower-case letters, digits, dots, hyphens; no '..', "
            "not an IP address, no reserved prefix such as xn-- or suffix such as -s3alias)",
        ),
        (
            ["pipeline", "start", "--runtime", "glue", "--bucket", "lake", "--prefix", "a//b"],
            "--prefix 'a//b' holds an empty folder name (//): the jobs (Hadoop) write under the prefix without it, "
            "and the catalog step refuses it, after every job has run; choose a prefix without //",
        ),
        (
            ["pipeline", "start", "--runtime", "glue", "--bucket", "lake", "--prefix", "my lake"],
            "--prefix 'my lake' holds whitespace: EMR Serverless' sparkSubmitParameters and spark-submit lines "
            "split at it; choose a prefix without spaces",
        ),
        (
            ["pipeline", "start", "--runtime", "emr-serverless", "--bucket", "lake", "--application-id", "a b"]
            + ["--execution-role-arn", ROLE],
            "--application-id must be an EMR Serverless application id (lower-case letters and digits, e.g. "
            "00fexample0app01), got 'a b'",
        ),
        (
            ["pipeline", "start", "--runtime", "emr-serverless", "--bucket", "lake", "--application-id", "00fapp01"]
            + ["--execution-role-arn", "notarole"],
            "--execution-role-arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got 'notarole'",
        ),
        (  # the Glue machine reads neither: they were dropped without a word
            ["pipeline", "start", "--runtime", "glue", "--bucket", "lake", "--application-id", "00fapp01"]
            + ["--execution-role-arn", ROLE],
            "--application-id, --execution-role-arn: not an option of --runtime glue, which would ignore it",
        ),
        (
            ["pipeline", "start", "--runtime", "glue", "--bucket", "lake", "--notify-topic-arn", "lakejobs-alerts"],
            "--notify-topic-arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got 'lakejobs-alerts'",
        ),
    ],
)
def test_pipeline_start_usage_errors_are_one_line(capsys, argv, message):
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"lakejobs: error: {message}\n"


@pytest.mark.parametrize(
    "given, incremental",
    [([], False), (["--incremental"], True), (["--incremental", "true"], True), (["--incremental", "false"], False)],
)
def test_pipeline_and_deploy_take_incremental_alone_or_with_true_or_false_as_the_jobs_do(given, incremental):
    """``lakejobs pipeline --incremental true`` said ``argument action: invalid choice: 'true'``."""
    parser = cli.build_parser()
    assert parser.parse_args(["pipeline", *given]).incremental is incremental
    assert parser.parse_args(["deploy", "--target", "glue", *given]).incremental is incremental


def test_pipeline_without_an_action_is_the_local_run_and_start_is_step_functions():
    parser = cli.build_parser()
    local = parser.parse_args(["pipeline", "--raw", "r", "--lake", "l"])
    explicit = parser.parse_args(["pipeline", "run", "--lake", "l"])
    start = parser.parse_args(["pipeline", "start", "--runtime", "emr", "--bucket", "bkt", "--wait"])
    assert (local.action, local.raw, local.lake, explicit.action, start.action) == ("run", "r", "l", "run", "start")
    assert (start.runtime, start.bucket, start.wait, start.prefix) == ("emr", "bkt", True, "")


def test_run_input_normalises_the_prefix_and_carries_serverless_ids():
    topic, role = "arn:aws:sns:us-east-1:123456789012:lakejobs-alerts", ROLE
    document = RunInput("bkt", "/lake/", "2026-11-23", topic, "00fapp01", role).document("emr-serverless")
    assert document == {
        "bucket": "bkt",
        "prefix": "lake/",
        "run_date": "2026-11-23",
        "notify_topic_arn": topic,
        "application_id": "00fapp01",
        "execution_role_arn": role,
    }
    assert RunInput("bkt").document("glue")["prefix"] == ""


def test_progress_lines_name_the_state_and_the_error():
    entered = {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Sales mart"}}
    failed = {
        "type": "TaskFailed",
        "taskFailedEventDetails": {"error": "Glue.EntityNotFoundException", "cause": "no job"},
    }
    assert describe_event(entered) == "started              Sales mart"
    assert describe_event(failed) == "task failed          Glue.EntityNotFoundException: no job"
    assert describe_event({"type": "TaskScheduled", "taskScheduledEventDetails": {}}) is None
    # An abort gives neither error nor cause (the line ended in a dangling ':'), or only one.
    assert describe_event({"type": "ExecutionAborted", "executionAbortedEventDetails": {}}) == "execution aborted"
    aborted = {"type": "ExecutionAborted", "executionAbortedEventDetails": {"error": "", "cause": "by ops"}}
    assert describe_event(aborted) == "execution aborted    by ops"


class StaleStatus:
    """A Step Functions client whose DescribeExecution still says RUNNING after the history ended."""

    def __init__(self, ending):
        self.events = [
            {"type": "ExecutionStarted"},
            {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Sales mart"}},
        ]
        self.events.append({"type": ending, "executionSucceededEventDetails": {}})
        self.described = 0

    def describe_execution(self, executionArn):
        self.described += 1
        if self.described > 3:
            raise AssertionError("still following an execution whose history ended")
        return {"status": "RUNNING"}

    def get_paginator(self, name):
        events = self.events
        return type("Pages", (), {"paginate": lambda self, executionArn: [{"events": events}]})()


@pytest.mark.parametrize("ending, status", [("ExecutionSucceeded", "SUCCEEDED"), ("ExecutionFailed", "FAILED")])
def test_following_stops_at_the_history_event_that_ends_the_execution(ending, status):
    lines = list(follow(StaleStatus(ending), "arn:aws:states:us-east-1:1:execution:m:e", poll_s=0))
    assert lines[0] == "started              Sales mart"
    assert lines[-1] == f"status: {status}"


class _NoSts:
    def get_caller_identity(self):
        from botocore.exceptions import EndpointConnectionError

        raise EndpointConnectionError(endpoint_url="http://localhost:8083")


class _Listing:
    def get_paginator(self, _operation):
        machine = {"name": "lakejobs-pipeline-glue", "stateMachineArn": "arn:aws:states:local:1:stateMachine:x"}
        return type("Pages", (), {"paginate": lambda self: [{"stateMachines": [machine]}]})()


def test_without_sts_the_machine_is_found_by_listing():
    """Step Functions Local answers no STS call: the ARN is then found as before session 41."""
    clients = {"sts": _NoSts(), "stepfunctions": _Listing()}
    arn = find_machine_arn(clients.__getitem__, "us-east-1", "lakejobs-pipeline-glue")
    assert arn == "arn:aws:states:local:1:stateMachine:x"


def test_a_name_prefix_names_the_jobs_the_machines_and_their_references_to_the_jobs(capsys, tmp_path):
    """``deploy --name-prefix`` deploys beside another lake's jobs; ``pipeline start --name-prefix`` finds it."""
    dist = make_dist(tmp_path / "dist", catalog_step=True)
    code, captured = dry_run(capsys, "--role-arn", ROLE, "--name-prefix", "lakejobs-dev-", dist=dist)
    assert code == 0, captured.err
    requests = [json.loads(line) for line in captured.out.splitlines()]
    creates = [r["params"] for r in requests if r["operation"] in ("CreateJob", "CreateStateMachine")]
    assert [c.get("Name") or c["name"] for c in creates] == [
        "lakejobs-dev-catalog-sync",
        "lakejobs-dev-pipeline-glue",
        "lakejobs-dev-pipeline-emr",
        "lakejobs-dev-pipeline-emr-serverless",
    ]
    glue_machine = json.loads(creates[1]["definition"])
    started = sorted(json.dumps(glue_machine).split('"JobName": "')[1:])
    assert [name.split('"')[0] for name in started] == [
        "lakejobs-dev-catalog-sync",
        "lakejobs-dev-convert-customers",
        "lakejobs-dev-convert-employees",
        "lakejobs-dev-convert-orders",
        "lakejobs-dev-sales-mart",
    ]
    code, captured = dry_run(capsys, "--role-arn", ROLE, "--name-prefix", "dev lake", dist=dist)
    assert (code, captured.out) == (2, "")
    assert captured.err == (
        "lakejobs: error: --name-prefix must be 1 to 40 letters, digits, hyphens or underscores (e.g. lakejobs-dev-), "
        "got 'dev lake'\n"
    )
