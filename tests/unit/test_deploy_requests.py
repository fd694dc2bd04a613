"""``lakejobs deploy --dry-run``: every request it prints must validate against botocore's service models."""

import json

import boto3
import boto3.session
import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

from lakejobs import cli
from lakejobs.deploy.execute import execute
from lakejobs.deploy.render import rendered_files
from lakejobs.deploy.requests import TARGETS, Request
from lakejobs.errors import LakejobsError

SESSION = botocore.session.get_session()
ROLE = "arn:aws:iam::123456789012:role/lakejobs-job"
TARGET_OPTIONS = {
    "glue": ["--role-arn", ROLE],
    "emr": ["--cluster-id", "j-ABCDEFGHIJKL", "--role-arn", ROLE],
    "emr-serverless": ["--application-id", "00f0abcdefgh0001", "--role-arn", ROLE],
}


def make_dist(folder, env=True, catalog_step=False):
    """A tiny stand-in for what make package builds (the catalog step's script: what Step Functions runs)."""
    (folder / "jobs").mkdir(parents=True)
    (folder / "lakejobs-lib.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (folder / "lakejobs-0.1.0-py3-none-any.whl").write_bytes(b"wheel")
    for script in ("csv_to_parquet.py", "sales_mart.py") + (("catalog_sync.py",) if catalog_step else ()):
        (folder / "jobs" / script).write_text("print('job')\n")
    if env:  # make package packs one environment per runtime Python
        for python in ("3.9", "3.11"):
            (folder / f"lakejobs-env-py{python}-x86_64.tar.gz").write_bytes(b"env")
    return folder


def validate(service: str, operation: str, params: dict) -> None:
    """Raise ParamValidationError unless ``params`` fit the operation's input shape."""
    model = SESSION.get_service_model(service)
    validate_parameters(params, model.operation_model(operation).input_shape)


def dry_run(capsys, target, dist, *extra, options=None):
    argv = [
        "deploy",
        "--target",
        target,
        "--bucket",
        "lake-bucket",
        "--prefix",
        "prod",
        "--dry-run",
        "--dist",
        str(dist),
    ]
    code = cli.main(argv + (TARGET_OPTIONS[target] if options is None else options) + list(extra))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return [json.loads(line) for line in captured.out.splitlines()]


def no_network(*_args, **_kwargs):
    raise AssertionError("a dry run must not create an AWS client")


@pytest.mark.parametrize("target", sorted(TARGET_OPTIONS))
def test_every_dry_run_request_validates_against_botocore(capsys, tmp_path, monkeypatch, target):
    monkeypatch.setattr(boto3, "client", no_network)
    monkeypatch.setattr(boto3.session.Session, "client", no_network)
    requests = dry_run(capsys, target, make_dist(tmp_path / "dist"))
    for request in requests:
        assert set(request) == {"service", "operation", "params"}
        validate(request["service"], request["operation"], request["params"])
    uploads = [r["params"] for r in requests if r["operation"] == "PutObject"]
    assert sorted(upload["Key"] for upload in uploads) == [
        "prod/artifacts/jobs/csv_to_parquet.py",
        "prod/artifacts/jobs/sales_mart.py",
        "prod/artifacts/lakejobs-0.1.0-py3-none-any.whl",
        "prod/artifacts/lakejobs-env-py3.11-x86_64.tar.gz",
        "prod/artifacts/lakejobs-env-py3.9-x86_64.tar.gz",
        "prod/artifacts/lakejobs-lib.zip",
    ]
    assert {upload["ServerSideEncryption"] for upload in uploads} == {"AES256"}


def test_glue_dry_run_probes_each_job_then_creates_or_updates_it(capsys, tmp_path):
    requests = dry_run(capsys, "glue", make_dist(tmp_path / "dist"), "--glue-version", "5.1")
    glue = [(r["operation"], r["params"].get("JobName") or r["params"].get("Name")) for r in requests[6:]]
    names = [
        "lakejobs-convert-customers",
        "lakejobs-convert-employees",
        "lakejobs-convert-orders",
        "lakejobs-sales-mart",
    ]
    assert glue == [(operation, name) for name in names for operation in ("GetJob", "CreateJob", "UpdateJob")]
    assert {r["params"]["GlueVersion"] for r in requests if r["operation"] == "CreateJob"} == {"5.1"}


#: The pipeline's jobs in the order its stages run them.
PIPELINE_JOBS = [
    "lakejobs-convert-customers",
    "lakejobs-convert-employees",
    "lakejobs-convert-orders",
    "lakejobs-sales-mart",
]


def test_emr_and_serverless_dry_runs_follow_the_stages(capsys, tmp_path):
    dist = make_dist(tmp_path / "dist")
    steps = dry_run(capsys, "emr", dist)[-1]
    assert steps["operation"] == "AddJobFlowSteps" and steps["params"]["JobFlowId"] == "j-ABCDEFGHIJKL"
    assert steps["params"]["ExecutionRoleArn"] == ROLE
    assert [step["Name"] for step in steps["params"]["Steps"]] == PIPELINE_JOBS
    cluster = dry_run(capsys, "emr", dist, "--transient", options=[])[-1]
    assert cluster["operation"] == "RunJobFlow"
    assert [step["Name"] for step in cluster["params"]["Steps"]] == PIPELINE_JOBS
    assert "Ec2SubnetId" not in cluster["params"]["Instances"]  # the default VPC's subnet
    validate("emr", "RunJobFlow", cluster["params"])
    in_subnet = dry_run(capsys, "emr", dist, "--transient", "--subnet-id", "subnet-0a1b2c3d4e5f60718", options=[])[-1]
    assert in_subnet["params"]["Instances"]["Ec2SubnetId"] == "subnet-0a1b2c3d4e5f60718"
    validate("emr", "RunJobFlow", in_subnet["params"])
    runs = [r["params"]["name"] for r in dry_run(capsys, "emr-serverless", dist) if r["operation"] == "StartJobRun"]
    assert runs == PIPELINE_JOBS


def test_committed_definitions_validate_against_botocore():
    operations = {"glue/jobs/": ("glue", "CreateJob"), "emr/serverless/": ("emr-serverless", "StartJobRun")}
    operations.update({"emr/steps.json": ("emr", "AddJobFlowSteps"), "emr/run_job_flow.json": ("emr", "RunJobFlow")})
    checked = 0
    for path, text in rendered_files().items():
        for start, (service, operation) in operations.items():
            if path.startswith(start):
                validate(service, operation, json.loads(text))
                checked += 1
    assert checked == 10


def test_a_misspelt_field_fails_validation():
    with pytest.raises(ParamValidationError, match="NumberOfWorker"):
        validate("glue", "CreateJob", {"Name": "j", "Role": "r", "Command": {"Name": "glueetl"}, "NumberOfWorker": 2})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["deploy", "--bucket", "bkt"], f"lakejobs: error: deploy needs --target ({', '.join(TARGETS)})\n"),
        (["deploy", "--target", "glue"], "lakejobs: error: --target glue needs --bucket\n"),
        (["deploy", "--target", "lambda", "--bucket", "bkt"], "lakejobs: error: unknown --target 'lambda': "),
        (
            ["deploy", "--target", "glue", "--bucket", "bkt", "--dry-run"],
            "lakejobs: error: --target glue needs --role-arn\n",
        ),
        (
            ["deploy", "--target", "emr", "--bucket", "bkt", "--dry-run"],
            "lakejobs: error: --target emr needs --cluster-id (or --transient: ",
        ),
        (
            ["deploy", "--target", "emr-serverless", "--bucket", "bkt", "--role-arn", ROLE],
            "lakejobs: error: --target emr-serverless needs --application-id\n",
        ),
        (
            ["deploy", "--target", "glue", "--bucket", "s3://b", "--role-arn", ROLE],
            "lakejobs: error: --bucket must be a bucket name (no s3:// and no /), got 's3://b'\n",
        ),
        (
            ["deploy", "--target", "emr", "--bucket", "bkt", "--transient", "--subnet-id", "vpc-123"],
            "lakejobs: error: --subnet-id must be a subnet id (subnet-0123abcd...), got 'vpc-123'\n",
        ),
        (
            ["deploy", "--target", "emr-serverless", "--bucket", "bkt", "--role-arn", ROLE, "--application-id", "a b"],
            "lakejobs: error: --application-id must be an EMR Serverless application id (lower-case letters and ",
        ),
        # Options the target would ignore: a new cluster started instead of the one named, steps
        # run as the instance profile instead of the runtime role given, and so on.
        (
            ["deploy", "--target", "emr", "--bucket", "bkt", "--transient", "--cluster-id", "j-ABC", "--dry-run"],
            "lakejobs: error: --transient starts a new cluster, --cluster-id names a running one: give one or the "
            "other\n",
        ),
        (
            ["deploy", "--target", "emr", "--bucket", "bkt", "--transient", "--role-arn", ROLE, "--dry-run"],
            "lakejobs: error: --role-arn is the steps' runtime role, which only steps added to a running cluster "
            "take (--cluster-id); a --transient cluster's steps run as its instance profile (lakejobs-emr-ec2)\n",
        ),
        (
            ["deploy", "--target", "emr", "--bucket", "bkt", "--cluster-id", "j-ABC", "--subnet-id", "subnet-0a1b2c3d"],
            "lakejobs: error: --subnet-id places a --transient cluster; a running cluster (--cluster-id) has its own\n",
        ),
        (
            ["deploy", "--target", "glue", "--bucket", "bkt", "--role-arn", ROLE, "--cluster-id", "j-A", "--transient"],
            "lakejobs: error: --cluster-id, --transient: not an option of --target glue, which would ignore it\n",
        ),
        (
            ["deploy", "policy", "--target", "emr-serverless", "--bucket", "bkt", "--subnet-id", "subnet-0a1b2c3d"],
            "lakejobs: error: --subnet-id: not an option of --target emr-serverless, which would ignore it\n",
        ),
    ],
)
def test_missing_or_bad_options_exit_2_with_one_line(capsys, argv, message):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message) and captured.err.count("\n") == 1, captured.err
    assert captured.out == ""


def test_missing_dist_says_to_run_make_package(capsys, tmp_path):
    argv = [
        "deploy",
        "--target",
        "glue",
        "--bucket",
        "bkt",
        "--role-arn",
        ROLE,
        "--dry-run",
        "--dist",
        str(tmp_path / "d"),
    ]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"lakejobs: error: {tmp_path / 'd'}/ does not exist: run make package first\n"
    (tmp_path / "d").write_text("not a folder")
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (
        f"lakejobs: error: --dist {tmp_path / 'd'} is a file, not the folder make package writes\n"
    )
    (tmp_path / "d").unlink()
    make_dist(tmp_path / "d", env=False)
    serverless = ["--target", "emr-serverless", "--application-id", "a"]
    assert cli.main(argv[:1] + serverless + argv[3:]) == 2
    assert capsys.readouterr().err == (
        f"lakejobs: error: {tmp_path / 'd' / 'lakejobs-env-py3.9-x86_64.tar.gz'} is missing: "
        "run make package PYVER=3.9 ARCH=x86_64 first\n"
    )


class RunsEndingAs:
    """An EMR Serverless client stub whose runs end in the given states, in start order."""

    def __init__(self, *states):
        self.states, self.started, self.polled = list(states), [], []

    def start_job_run(self, **params):
        self.started.append(params["name"])
        return {"jobRunId": f"run-{len(self.started)}"}

    def get_job_run(self, applicationId, jobRunId):
        self.polled.append(jobRunId)
        return {"jobRun": {"state": self.states[int(jobRunId.split("-")[1]) - 1]}}


def serverless_runs(*stages):
    return [
        Request("emr-serverless", "StartJobRun", {"applicationId": "a", "name": name}, stage=stage)
        for stage, name in stages
    ]


def test_a_deploy_waits_for_every_stage_and_fails_on_the_last_stage_failing():
    stub = RunsEndingAs("SUCCESS", "SUCCESS", "FAILED")
    requests = serverless_runs((0, "customers"), (0, "orders"), (1, "sales_mart"))
    with pytest.raises(LakejobsError) as failed:
        execute(requests, lambda service: stub, emit=lambda line: None, poll_s=0)
    assert str(failed.value) == "EMR Serverless run run-3 (sales_mart) ended FAILED"
    assert (stub.started, stub.polled) == (["customers", "orders", "sales_mart"], ["run-1", "run-2", "run-3"])


def test_a_failed_stage_starts_nothing_of_the_next():
    stub = RunsEndingAs("FAILED", "SUCCESS")
    with pytest.raises(LakejobsError, match=r"^EMR Serverless run run-1 \(orders\) ended FAILED$"):
        execute(serverless_runs((0, "orders"), (1, "sales_mart")), lambda service: stub, emit=lambda line: None)
    assert stub.started == ["orders"]


def test_an_arch_alias_names_the_archive_make_package_writes(capsys, tmp_path):
    """``--arch aarch64`` asked for ``...-aarch64.tar.gz``; ``make package ARCH=aarch64`` writes ``...-arm64``."""
    dist = make_dist(tmp_path / "d", env=False)
    (dist / "lakejobs-env-py3.9-arm64.tar.gz").write_bytes(b"env")
    requests = dry_run(capsys, "emr-serverless", dist, "--arch", "aarch64")
    runs = [r["params"] for r in requests if "jobDriver" in r.get("params", {})]
    archive = "spark.archives=s3://lake-bucket/prod/artifacts/lakejobs-env-py3.9-arm64.tar.gz#environment"
    assert runs and all(archive in run["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"] for run in runs)


def test_a_glue_environment_for_another_python_is_refused(capsys, tmp_path):
    """Glue 5 runs 3.11: a 3.9 environment links /usr/bin/python3.9, which Glue does not have."""
    argv = ["deploy", "--target", "glue", "--bucket", "bkt", "--role-arn", ROLE, "--library", "venv"]
    assert cli.main([*argv, "--python-version", "3.9", "--dry-run", "--dist", str(make_dist(tmp_path / "d"))]) == 2
    assert capsys.readouterr().err == (
        "lakejobs: error: --target glue runs Python 3.11: a --python-version 3.9 environment would not start there\n"
    )


def test_a_glue_environment_for_another_architecture_is_refused(capsys, tmp_path):
    """Glue 5 runs on x86_64: an arm64 environment's compiled packages would not load there."""
    dist = make_dist(tmp_path / "d")
    (dist / "lakejobs-env-py3.11-arm64.tar.gz").write_bytes(b"env")
    argv = ["deploy", "--target", "glue", "--bucket", "bkt", "--role-arn", ROLE, "--library", "venv"]
    assert cli.main([*argv, "--arch", "arm64", "--dry-run", "--dist", str(dist)]) == 2
    assert capsys.readouterr().err == (
        "lakejobs: error: Glue runs on x86_64: an --arch arm64 environment's compiled packages would not load there\n"
    )
    zip_library = [option for option in argv if option not in ("--library", "venv")]  # it was ignored there
    assert cli.main([*zip_library, "--arch", "arm64", "--dry-run", "--dist", str(dist)]) == 2
    assert capsys.readouterr().err == (
        "lakejobs: error: Glue runs on x86_64: an --arch arm64 environment's compiled packages would not load there\n"
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--bucket", "Lake_Bk"],
            "--bucket 'Lake_Bk' is not an S3 bucket name (3 to 63 lower-case letters, digits, dots, hyphens; no '..', "
            "not an IP address, no reserved prefix such as xn-- or suffix such as -s3alias)",
        ),
        (
            ["--bucket", "lake", "--prefix", "my lake"],
            "--prefix 'my lake' holds whitespace: EMR Serverless' sparkSubmitParameters and spark-submit lines split "
            "at it; choose a prefix without spaces",
        ),
        (
            ["--bucket", "my..lake"],
            "--bucket 'my..lake' is not an S3 bucket name (3 to 63 lower-case letters, digits, dots, hyphens; no '..', "
            "not an IP address, no reserved prefix such as xn-- or suffix such as -s3alias)",
        ),
        (
            ["--bucket", "lake", "--prefix", "team*"],  # the IAM policies would grant every team... prefix
            "--prefix 'team*' holds *: the IAM policies the deploy writes would read them as wildcards or a variable, "
            "granting more than the prefix; choose a prefix without them",
        ),
        (
            ["--bucket", "lake", "--prefix", "a,b"],
            "--prefix 'a,b' holds ,: spark-submit's and Glue's lists of files (--py-files, --extra-py-files) split at "
            "',', and '#' names an archive's alias; choose a prefix without them",
        ),
        (  # spark-submit decoded it: the jobs loaded s3://lake/teamA/... (and a bare % failed the submit)
            ["--bucket", "lake", "--prefix", "team%41"],
            "--prefix 'team%41' holds %: spark-submit reads --py-files and --archives as URIs: it decodes %41 to A "
            "(loading another key) and takes a URI it cannot parse for a local file; choose a prefix without them",
        ),
        (
            ["--bucket", "lake", "--prefix", "a[1]^{b}"],
            "--prefix 'a[1]^{b}' holds [ ] ^ { }: spark-submit reads --py-files and --archives as URIs: it decodes "
            "%41 to A (loading another key) and takes a URI it cannot parse for a local file; choose a prefix without "
            "them",
        ),
        (
            ["--bucket", "lake", "--prefix", "a/../b"],
            "--prefix 'a/../b' holds a . or .. folder: Hadoop resolves it, so the jobs would load code and write "
            "tables at other keys than those uploaded and catalogued; choose a prefix without it",
        ),
        (
            ["--bucket", "lake", "--role-arn", "arn:aws:iam::123456789012:role/a*b"],  # AWS refused it at the call
            "--role-arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got "
            "'arn:aws:iam::123456789012:role/a*b'",
        ),
        (
            ["--bucket", "lake", "--region", "mars-1"],
            "--region 'mars-1' is not an AWS region name (e.g. us-east-1, eu-west-1)",
        ),
        (
            ["--bucket", "lake", "--role-arn", "lakejobs-emr-serverless-job"],
            "--role-arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got 'lakejobs-emr-serverless-job'",
        ),
    ],
)
def test_values_aws_would_refuse_are_refused_before_any_request(capsys, extra, message):
    argv = ["deploy", "--target", "emr-serverless", "--application-id", "00f1", "--dry-run"]
    argv += [] if "--role-arn" in extra else ["--role-arn", ROLE]
    assert cli.main([*argv, *extra]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"lakejobs: error: {message}\n")
