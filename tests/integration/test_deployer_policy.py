"""The deployer's IAM policies against the calls ``lakejobs deploy`` really sends to moto's server.

Every call boto3 sends during a deploy is recorded (botocore's ``provide-client-params``
event), turned into the IAM checks AWS makes for it (``iam_eval.authorizations``) and
evaluated against the target's policy (``lakejobs.deploy.deployer_iam``): each must be
allowed, and each Allow statement must be needed by at least one of them.
"""

import contextlib
import dataclasses
import io
import json

import boto3
import pytest

from lakejobs import cli
from lakejobs.deploy.deployer_iam import DEPLOYER_POLICIES, glue_deployer_policy
from lakejobs.deploy.description import DeployConfig, sales_pipeline
from lakejobs.deploy.emr import run_job_flow_request
from lakejobs.deploy.execute import aws_region
from tests.integration import iam_eval
from tests.integration.conftest import reset_moto
from tests.integration.moto_glue import add_update_job
from tests.unit.test_deploy_requests import make_dist

ACCOUNT = "123456789012"  # moto's account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lakejobs-job"
BUCKET = "lake-deployer-policy"
#: An EMR step's runtime role may be of another account than the cluster's (AddJobFlowSteps).
OTHER_ACCOUNTS_STEP_ROLE = "arn:aws:iam::999999999999:role/lakejobs-emr-step"
#: Over boto3's 8 MiB multipart threshold, so that one upload goes in parts.
LARGE_FILE_BYTES = 9 * 2**20
UPLOAD = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
#: The --role-arn account check (not on EMR, whose step roles may be of another account): a call no
#: policy grants or denies (``iam_eval`` makes no check of it).
ACCOUNT_CHECK = {"GetCallerIdentity"}
#: A deploy (``--target`` and the mode, for EMR) -> the calls it sends.
SENT = {
    "glue": UPLOAD | ACCOUNT_CHECK | {"GetJob", "CreateJob", "UpdateJob"},
    "emr": UPLOAD | {"DescribeCluster", "AddJobFlowSteps"},
    "emr --transient": UPLOAD | {"RunJobFlow"},
    "emr-serverless": UPLOAD | ACCOUNT_CHECK | {"GetApplication", "StartJobRun", "GetJobRun"},
    "stepfunctions": UPLOAD
    | ACCOUNT_CHECK
    | {"GetJob", "CreateJob", "UpdateJob", "DescribeStateMachine", "CreateStateMachine"}
    | {"UpdateStateMachine"},
}


@contextlib.contextmanager
def recorded_calls():
    """Yield a list receiving (service, operation, params) of every call sent meanwhile."""
    calls = []

    def record(params, model, **_kwargs):
        kept = {key: value for key, value in params.items() if key != "Body"}
        calls.append((model.service_model.service_name, model.name, kept))

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("provide-client-params", record)
    try:
        yield calls
    finally:
        boto3.DEFAULT_SESSION.events.unregister("provide-client-params", record)


def deploy(*argv) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["deploy", *argv]) == 0


def _emr_cluster() -> str:
    cluster = run_job_flow_request(sales_pipeline(), DeployConfig(bucket=BUCKET, role_arn=ROLE), with_steps=False)
    cluster["Instances"]["KeepJobFlowAliveWhenNoSteps"] = True
    return boto3.client("emr").run_job_flow(**cluster)["JobFlowId"]


@pytest.fixture(scope="module")
def deployments(s3, tmp_path_factory):
    """target -> (the config its policy is built for, the calls its deploys sent)."""
    add_update_job()  # moto 5.2.5 lacks Glue UpdateJob: see tests/integration/moto_glue.py
    reset_moto(s3["env"])
    s3["client"].create_bucket(Bucket=BUCKET)
    dist = make_dist(tmp_path_factory.mktemp("deployer") / "dist", catalog_step=True)
    (dist / "lakejobs-env-py3.11-x86_64.tar.gz").write_bytes(b"\0" * LARGE_FILE_BYTES)
    base = DeployConfig(bucket=BUCKET, role_arn=ROLE, region=aws_region())
    common = ["--bucket", BUCKET, "--dist", str(dist)]
    result = {}
    with recorded_calls() as calls:
        for _ in range(2):  # create, then update
            deploy("--target", "glue", "--role-arn", ROLE, *common)
    result["glue"] = (base, calls)
    cluster_id = _emr_cluster()
    with recorded_calls() as calls:
        deploy("--target", "emr", "--cluster-id", cluster_id, "--role-arn", OTHER_ACCOUNTS_STEP_ROLE, *common)
    cluster = dataclasses.replace(base, cluster_id=cluster_id, role_arn=OTHER_ACCOUNTS_STEP_ROLE, account_id=ACCOUNT)
    result["emr"] = (cluster, calls)
    with recorded_calls() as calls:
        deploy("--target", "emr", "--transient", *common)
    result["emr --transient"] = (dataclasses.replace(base, role_arn=None, transient=True, account_id=ACCOUNT), calls)
    serverless = boto3.client("emr-serverless")
    application = serverless.create_application(name="lakejobs", releaseLabel="emr-7.12.0", type="SPARK")
    with recorded_calls() as calls:
        deploy(
            "--target", "emr-serverless", "--application-id", application["applicationId"], "--role-arn", ROLE, *common
        )
    result["emr-serverless"] = (dataclasses.replace(base, application_id=application["applicationId"]), calls)
    with recorded_calls() as calls:
        for _ in range(2):
            deploy("--target", "stepfunctions", "--role-arn", ROLE, *common)
    result["stepfunctions"] = (base, calls)
    return result


def checks_of(config: DeployConfig, calls):
    return [
        check
        for service, operation, params in calls
        for check in iam_eval.authorizations(service, operation, params, ACCOUNT, config.region)
    ]


@pytest.mark.parametrize("target", sorted(SENT))
def test_the_policy_allows_every_call_of_the_deploy(deployments, target):
    config, calls = deployments[target]
    assert {operation for _service, operation, _params in calls} == SENT[target]
    policy = DEPLOYER_POLICIES[target.split()[0]](config)
    refused = [check for check in checks_of(config, calls) if not iam_eval.allowed(policy, check)]
    assert refused == []


@pytest.mark.parametrize("target", sorted(SENT))
def test_every_allow_statement_is_needed(deployments, target):
    config, calls = deployments[target]
    policy, checks = DEPLOYER_POLICIES[target.split()[0]](config), checks_of(config, calls)
    for index, statement in enumerate(policy["Statement"]):
        if statement["Effect"] != "Allow":
            continue
        without = {**policy, "Statement": policy["Statement"][:index] + policy["Statement"][index + 1 :]}
        assert not all(iam_eval.allowed(without, check) for check in checks), statement["Sid"]


GLUE = DeployConfig(bucket="bkt", prefix="prod", role_arn=ROLE, region="us-east-1")
ARTIFACT = "arn:aws:s3:::bkt/prod/artifacts/jobs/sales_mart.py"
JOB = f"arn:aws:glue:us-east-1:{ACCOUNT}:job/lakejobs-sales-mart"


@pytest.mark.parametrize(
    "check, expected",
    [
        (("s3:PutObject", ARTIFACT, {iam_eval.SSE: "AES256"}), True),
        (("s3:PutObject", ARTIFACT, {}), True),  # a part of a multipart upload carries no header
        (("s3:PutObject", ARTIFACT, {iam_eval.SSE: "none"}), False),
        (("s3:PutObject", "arn:aws:s3:::bkt/prod/rawData/orders/x.csv", {iam_eval.SSE: "AES256"}), False),
        (("s3:GetObject", ARTIFACT, {}), False),
        (("glue:CreateJob", JOB, {}), True),
        (("glue:DeleteJob", JOB, {}), False),
        (("glue:CreateJob", f"arn:aws:glue:us-east-1:{ACCOUNT}:job/someone-elses", {}), False),
        (("iam:PassRole", ROLE, {"iam:PassedToService": "glue.amazonaws.com"}), True),
        (("iam:PassRole", ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}), False),
        (("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", {"iam:PassedToService": "glue.amazonaws.com"}), False),
    ],
)
def test_the_glue_policy_refuses_what_the_deploy_does_not_do(check, expected):
    assert iam_eval.allowed(glue_deployer_policy(GLUE), check) is expected


def test_deploy_policy_prints_the_targets_policy_for_your_values(capsys):
    argv = ["deploy", "policy", "--target", "glue", "--bucket", "bkt", "--prefix", "prod", "--role-arn", ROLE]
    assert cli.main([*argv, "--region", "us-east-1"]) == 0
    assert json.loads(capsys.readouterr().out) == glue_deployer_policy(GLUE)
    assert cli.main(["deploy", "policy", "--target", "emr-serverless", "--bucket", "bkt", "--role-arn", ROLE]) == 2
    assert capsys.readouterr().err == "lakejobs: error: --target emr-serverless needs --application-id\n"


def _printed_policy(capsys, *argv):
    assert cli.main(["deploy", "policy", "--target", "emr", "--bucket", "bkt", "--region", "us-east-1", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_emr_policy_names_the_deploying_accounts_cluster_and_only_what_that_deploy_sends(s3, capsys):
    """The cluster was named in the step role's account (999999999999), and RunJobFlow was granted to a step deploy."""
    document = _printed_policy(capsys, "--cluster-id", "j-ABC", "--role-arn", OTHER_ACCOUNTS_STEP_ROLE)
    assert [statement["Sid"] for statement in document["Statement"]] == [
        "UploadArtifacts",
        "DenyWritesWithoutServerSideEncryption",
        "AddStepsToTheCluster",
        "PassStepRoleToEmr",
    ]
    assert document["Statement"][2]["Resource"] == [f"arn:aws:elasticmapreduce:us-east-1:{ACCOUNT}:cluster/j-ABC"]
    assert document["Statement"][3]["Resource"] == [OTHER_ACCOUNTS_STEP_ROLE]
    offline = _printed_policy(capsys, "--cluster-id", "j-ABC", "--account-id", "444455556666")
    assert offline["Statement"][2]["Resource"] == ["arn:aws:elasticmapreduce:us-east-1:444455556666:cluster/j-ABC"]
    transient = _printed_policy(capsys, "--transient")
    assert [statement["Sid"] for statement in transient["Statement"]][2:] == [
        "StartTransientClusters",
        "TagNewClusters",
        "PassServiceRoleToEmr",
        "PassInstanceRoleToEc2",
        "CreateEmrCleanupRole",
    ]
    assert transient["Statement"][4]["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/lakejobs-emr-service"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["deploy", "policy", "--target", "emr", "--bucket", "bkt", "--transient", "--account-id", "12345"],
            "--account-id must be an AWS account id (12 digits), got '12345'",
        ),
        (
            ["deploy", "--target", "emr", "--bucket", "bkt", "--transient", "--account-id", "123456789012"],
            "--account-id is an option of deploy policy: a deploy's account is its credentials'",
        ),
        (
            ["deploy", "policy", "--target", "glue", "--bucket", "bkt", "--role-arn", ROLE, "--account-id", "1" * 12],
            "--account-id: not an option of --target glue, which would ignore it",
        ),
    ],
)
def test_a_bad_or_ignored_account_id_is_one_line(capsys, argv, message):
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"lakejobs: error: {message}\n"


def test_without_the_credentials_account_the_emr_policy_asks_for_account_id(capsys, monkeypatch):
    from botocore.exceptions import NoCredentialsError

    class NoCredentials:
        def get_caller_identity(self):
            raise NoCredentialsError()

    monkeypatch.setattr("lakejobs.deploy.execute.client_factory", lambda *_args: lambda _service: NoCredentials())
    assert cli.main(["deploy", "policy", "--target", "emr", "--bucket", "bkt", "--cluster-id", "j-ABC"]) == 2
    assert capsys.readouterr().err == (
        "lakejobs: error: deploy policy --target emr names the cluster and the EMR roles in the deploying account, "
        "which these credentials do not tell (Unable to locate credentials): give --account-id\n"
    )
