"""``lakejobs deploy`` against moto's server: S3 uploads, Glue jobs, EMR steps, EMR Serverless runs."""

import dataclasses
import json

import boto3
import pytest

from lakejobs import cli
from lakejobs.deploy import preflight
from lakejobs.deploy.description import DeployConfig, sales_pipeline
from lakejobs.deploy.emr import run_job_flow_request, spark_submit_args
from lakejobs.deploy.glue import glue_default_arguments
from lakejobs.errors import UsageError
from tests.integration.conftest import reset_moto
from tests.integration.moto_glue import add_update_job
from tests.unit.test_deploy_requests import make_dist

ROLE = "arn:aws:iam::123456789012:role/lakejobs-job"
JOB_NAMES = [
    "lakejobs-convert-customers",
    "lakejobs-convert-employees",
    "lakejobs-convert-orders",
    "lakejobs-sales-mart",
]


@pytest.fixture(autouse=True, scope="module")
def moto_update_job(s3):
    add_update_job()  # moto 5.2.5 lacks Glue UpdateJob: see tests/integration/moto_glue.py
    reset_moto(s3["env"])  # jobs of the same names made by other modules would turn creates into updates


@pytest.fixture(autouse=True)
def no_glue_jobs(s3):
    """Each test deploys the lakejobs-* jobs anew: jobs left by another test's lake would be refused."""
    glue = boto3.client("glue")
    for job in glue.get_jobs()["Jobs"]:
        glue.delete_job(JobName=job["Name"])


@pytest.fixture
def dist(tmp_path):
    return make_dist(tmp_path / "dist")


def deploy_lines(capsys, *argv):
    """What ``lakejobs deploy`` printed: each request sent (a JSON line), what it started, the summary."""
    code = cli.main(["deploy", *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out.splitlines()


def deploy(capsys, *argv):
    lines = deploy_lines(capsys, *argv)
    return [json.loads(line) for line in lines[:-1] if line.startswith("{")], lines[-1]


def test_glue_deploy_uploads_encrypted_artifacts_creates_jobs_then_updates_them_in_place(s3, bucket, dist, capsys):
    options = ["--target", "glue", "--bucket", bucket, "--prefix", "prod", "--role-arn", ROLE, "--dist", str(dist)]
    sent, summary = deploy(capsys, *options)
    assert [r["operation"] for r in sent] == ["PutObject"] * 6 + ["CreateJob"] * 4
    assert summary.startswith(f"deployed to glue under s3://{bucket}/prod/: CreateJob x4, GetJob x4, PutObject x6")
    keys = [item["Key"] for item in s3["client"].list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == [
        "prod/artifacts/jobs/csv_to_parquet.py",
        "prod/artifacts/jobs/sales_mart.py",
        "prod/artifacts/lakejobs-0.1.0-py3-none-any.whl",
        "prod/artifacts/lakejobs-env-py3.11-x86_64.tar.gz",
        "prod/artifacts/lakejobs-env-py3.9-x86_64.tar.gz",
        "prod/artifacts/lakejobs-lib.zip",
    ]
    zip_object = s3["client"].get_object(Bucket=bucket, Key="prod/artifacts/lakejobs-lib.zip")
    assert zip_object["Body"].read() == (dist / "lakejobs-lib.zip").read_bytes()
    assert zip_object["ServerSideEncryption"] == "AES256"

    glue = boto3.client("glue")
    jobs = {job["Name"]: job for job in glue.get_jobs()["Jobs"]}
    assert sorted(jobs) == JOB_NAMES
    config = DeployConfig(bucket=bucket, prefix="prod", role_arn=ROLE)
    orders = jobs["lakejobs-convert-orders"]
    assert orders["DefaultArguments"] == glue_default_arguments(sales_pipeline().job("convert_orders"), config)
    assert (orders["GlueVersion"], orders["WorkerType"], orders["NumberOfWorkers"]) == ("5.0", "G.1X", 4)
    assert orders["Command"]["ScriptLocation"] == f"s3://{bucket}/prod/artifacts/jobs/csv_to_parquet.py"

    sent, _summary = deploy(capsys, *options, "--glue-version", "5.1", "--format", "parquet")
    assert [r["operation"] for r in sent] == ["PutObject"] * 6 + ["UpdateJob"] * 4
    jobs = {job["Name"]: job for job in glue.get_jobs()["Jobs"]}
    assert sorted(jobs) == JOB_NAMES
    assert {job["GlueVersion"] for job in jobs.values()} == {"5.1"}
    assert jobs["lakejobs-sales-mart"]["DefaultArguments"]["--format"] == "parquet"


def test_emr_deploy_adds_the_steps_to_a_running_cluster(s3, bucket, dist, capsys):
    config = DeployConfig(bucket=bucket, role_arn=ROLE)
    emr = boto3.client("emr")
    cluster = run_job_flow_request(sales_pipeline(), config, with_steps=False)
    cluster["Instances"]["KeepJobFlowAliveWhenNoSteps"] = True  # a long-running cluster receives steps
    cluster_id = emr.run_job_flow(**cluster)["JobFlowId"]

    # A step's runtime role may be of another account (AddJobFlowSteps): not refused, unlike a Glue job's.
    step_role = "arn:aws:iam::111122223333:role/lakejobs-emr-step"
    options = ["--target", "emr", "--bucket", bucket, "--cluster-id", cluster_id, "--role-arn", step_role]
    sent, _summary = deploy(capsys, *options, "--dist", str(dist))

    assert sent[-1]["operation"] == "AddJobFlowSteps"
    assert sent[-1]["params"]["ExecutionRoleArn"] == step_role
    steps = list(reversed(emr.list_steps(ClusterId=cluster_id)["Steps"]))  # newest first
    assert [step["Name"] for step in steps] == JOB_NAMES
    assert {step["ActionOnFailure"] for step in steps} == {"CANCEL_AND_WAIT"}
    mart = steps[-1]["Config"]
    assert mart["Jar"] == "command-runner.jar"
    assert mart["Args"] == spark_submit_args(sales_pipeline().job("sales_mart"), config)

    sent, _summary = deploy(capsys, "--target", "emr", "--bucket", bucket, "--transient", "--dist", str(dist))
    transient = [c for c in emr.list_clusters()["Clusters"] if c["Id"] != cluster_id]
    assert [c["Name"] for c in transient] == ["lakejobs-pipeline"]
    steps = list(reversed(emr.list_steps(ClusterId=transient[0]["Id"])["Steps"]))
    assert [(step["Name"], step["ActionOnFailure"]) for step in steps] == [(n, "TERMINATE_CLUSTER") for n in JOB_NAMES]
    described = emr.describe_cluster(ClusterId=transient[0]["Id"])["Cluster"]
    assert (described["ReleaseLabel"], described["AutoTerminate"]) == ("emr-7.12.0", True)


def test_serverless_deploy_starts_one_run_per_job_stage_by_stage(s3, bucket, dist, capsys):
    client = boto3.client("emr-serverless")
    application = client.create_application(name="lakejobs", releaseLabel="emr-7.12.0", type="SPARK")["applicationId"]
    options = ["--target", "emr-serverless", "--bucket", bucket, "--application-id", application, "--role-arn", ROLE]

    sent, summary = deploy(capsys, *options, "--dist", str(dist))

    assert [r["params"]["name"] for r in sent if r["operation"] == "StartJobRun"] == JOB_NAMES
    assert summary.endswith("PutObject x6, StartJobRun x4")
    runs = client.list_job_runs(applicationId=application)["jobRuns"]
    assert sorted(run["name"] for run in runs) == JOB_NAMES
    run = client.get_job_run(applicationId=application, jobRunId=runs[0]["id"])["jobRun"]
    config = dataclasses.replace(DeployConfig(bucket=bucket, role_arn=ROLE), application_id=application)
    job = sales_pipeline().job(run["tags"]["lakejobs:job"])
    assert run["jobDriver"]["sparkSubmit"]["entryPoint"] == config.script_uri(job)
    assert run["jobDriver"]["sparkSubmit"]["entryPointArguments"] == job.argv(config.layout.root)
    assert run["executionRole"] == ROLE


def _deleted_application(client) -> str:
    application = client.create_application(name="gone", releaseLabel="emr-7.12.0", type="SPARK")["applicationId"]
    client.stop_application(applicationId=application)  # moto starts one as it is created
    client.delete_application(applicationId=application)
    return application


def _application(release="emr-7.12.0", kind="SPARK"):
    """An application as ``create-application`` makes it (moto answers type SPARK as Spark, HIVE as Hive)."""
    return lambda client: client.create_application(name="app", releaseLabel=release, type=kind)["applicationId"]


@pytest.mark.parametrize(
    "application, extra, message",
    [
        (
            lambda client: "00fnosuchapp01",
            [],
            "--application-id 00fnosuchapp01: no such EMR Serverless application in us-east-1; give an existing "
            "application's id (aws emr-serverless list-applications)",
        ),
        (
            _deleted_application,
            [],
            "--application-id {id} is TERMINATED: it runs no more jobs; give another application's id "
            "(aws emr-serverless list-applications)",
        ),
        (
            _application(kind="HIVE"),
            [],
            "--application-id {id} is a Hive application: the jobs need a SPARK one; give its id "
            "(aws emr-serverless list-applications)",
        ),
        (
            _application(release="emr-6.15.0"),
            [],
            "--application-id {id} runs emr-6.15.0, not emr-7.x: the packed environment's bin/python is EMR 7's "
            "interpreter and the runs load EMR 7's /usr/share/aws/delta/lib/delta-spark.jar; give an emr-7 "
            "application's id (aws emr-serverless list-applications)",
        ),
        (  # created without an architecture: GetApplication leaves it out, the application runs on X86_64
            _application(),
            ["--arch", "arm64"],
            "--application-id {id} runs on X86_64, but --arch arm64 packs the environment for ARM64: its compiled "
            "packages would not load there; deploy with --arch x86_64, or give an ARM64 application's id "
            "(aws emr-serverless list-applications)",
        ),
    ],
    ids=["missing", "terminated", "hive", "emr-6", "other-arch"],
)
def test_an_application_that_cannot_run_the_jobs_is_refused_before_any_upload(
    s3, bucket, dist, capsys, application, extra, message
):
    """Until session 48 a wrong --application-id uploaded every artifact, then failed at StartJobRun.

    Until session 49 so did a Hive, an EMR 6 or another architecture's application (the runs failed there).
    """
    application_id = application(boto3.client("emr-serverless"))
    (dist / "lakejobs-env-py3.9-arm64.tar.gz").write_bytes(b"env")  # as make package ARCH=arm64 packs it
    argv = ["deploy", "--target", "emr-serverless", "--bucket", bucket, "--application-id", application_id, *extra]
    assert cli.main([*argv, "--role-arn", ROLE, "--dist", str(dist)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["lakejobs: error: " + message.format(id=application_id)]
    assert captured.out == ""
    assert s3["client"].list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_an_application_s_architecture_matters_only_to_the_packed_environment():
    """An ARM64 application takes --arch arm64; a zip deploy (pure Python) takes either."""
    arm = {"type": "SPARK", "releaseLabel": "emr-7.12.0", "architecture": "ARM64"}
    config = DeployConfig(bucket="b", application_id="a1", role_arn=ROLE)
    preflight.refuse_application_of_another_kind(arm, dataclasses.replace(config, arch="arm64"))
    preflight.refuse_application_of_another_kind(arm, dataclasses.replace(config, library="zip"))
    with pytest.raises(UsageError) as refused:
        preflight.refuse_application_of_another_kind(arm, config)
    assert str(refused.value) == (
        "--application-id a1 runs on ARM64, but --arch x86_64 packs the environment for X86_64: its compiled "
        "packages would not load there; deploy with --arch arm64, or give an X86_64 application's id "
        "(aws emr-serverless list-applications)"
    )


def test_a_role_of_another_account_is_refused_before_anything_is_uploaded(s3, bucket, dist, capsys):
    """Every CreateJob would be refused after the uploads: AWS passes a role only to its own account's services."""
    other = "arn:aws:iam::111122223333:role/lakejobs-job"
    argv = ["deploy", "--target", "glue", "--bucket", bucket, "--prefix", "elsewhere", "--role-arn", other]
    assert cli.main(argv + ["--dist", str(dist)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"lakejobs: error: --role-arn {other} is a role of account 111122223333, but these credentials are of account "
        "123456789012: AWS passes a role only to services of its own account; give a role of 123456789012, or use "
        "credentials of 111122223333"
    ]
    assert captured.out == ""
    assert s3["client"].list_objects_v2(Bucket=bucket, Prefix="elsewhere/")["KeyCount"] == 0


def test_a_failing_deploy_is_one_line_and_exit_1(s3, dist, capsys):
    argv = ["deploy", "--target", "glue", "--bucket", "no-such-bucket", "--role-arn", ROLE, "--dist", str(dist)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("lakejobs: error: deploy to glue failed: ") and "NoSuchBucket" in err
    assert err.count("\n") == 1


def test_a_glue_deploy_to_another_lake_is_refused_before_any_upload_and_deploys_beside_with_a_name_prefix(
    s3, bucket, dist, capsys
):
    """The job names are fixed: the second deploy's UpdateJob pointed the first lake's jobs at its own lake."""
    options = ["--target", "glue", "--bucket", bucket, "--role-arn", ROLE, "--dist", str(dist)]
    deploy(capsys, *options, "--prefix", "first")
    glue = boto3.client("glue")
    before = {job["Name"]: job["DefaultArguments"] for job in glue.get_jobs()["Jobs"]}

    assert cli.main(["deploy", *options, "--prefix", "second"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"lakejobs: error: Glue job lakejobs-convert-customers exists for the lake s3://{bucket}/first/ (as do 3 "
        f"more), not s3://{bucket}/second/: this deploy would repoint them; deploy beside them with another "
        "--name-prefix than lakejobs- (lakejobs-dev-, say), or delete the old jobs first"
    ]
    assert captured.out == ""
    assert s3["client"].list_objects_v2(Bucket=bucket, Prefix="second/")["KeyCount"] == 0
    assert {job["Name"]: job["DefaultArguments"] for job in glue.get_jobs()["Jobs"]} == before

    sent, summary = deploy(capsys, *options, "--prefix", "second", "--name-prefix", "lakejobs-second-")
    assert [r["params"]["Name"] for r in sent if r["operation"] == "CreateJob"] == [
        name.replace("lakejobs-", "lakejobs-second-") for name in JOB_NAMES
    ]
    assert summary.endswith("CreateJob x4, GetJob x4, PutObject x6")
    jobs = {job["Name"]: job["DefaultArguments"]["--TempDir"] for job in glue.get_jobs()["Jobs"]}
    assert jobs == {
        **{name: f"s3://{bucket}/first/tmp/glue/" for name in JOB_NAMES},
        **{name.replace("lakejobs-", "lakejobs-second-"): f"s3://{bucket}/second/tmp/glue/" for name in JOB_NAMES},
    }


def test_a_job_of_the_name_made_by_someone_else_is_not_repointed(s3, bucket, dist, capsys):
    boto3.client("glue").create_job(Name="lakejobs-sales-mart", Role=ROLE, Command={"Name": "glueetl"})
    argv = ["deploy", "--target", "glue", "--bucket", bucket, "--role-arn", ROLE, "--dist", str(dist)]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (
        "lakejobs: error: Glue job lakejobs-sales-mart exists for the lake (none: not a lakejobs job), not "
        f"s3://{bucket}/: this deploy would repoint it; deploy beside it with another --name-prefix than lakejobs- "
        "(lakejobs-dev-, say), or delete the old jobs first\n"
    )


def _running_cluster(bucket, **settings):
    cluster = run_job_flow_request(sales_pipeline(), DeployConfig(bucket=bucket), with_steps=False)
    cluster["Instances"]["KeepJobFlowAliveWhenNoSteps"] = True
    return boto3.client("emr").run_job_flow(**{**cluster, **settings})["JobFlowId"]


#: The transient cluster's classifications but Delta's (EMRFS encryption only).
WITHOUT_DELTA = [{"Classification": "emrfs-site", "Properties": {"fs.s3.enableServerSideEncryption": "true"}}]


def _terminated_cluster(bucket):
    cluster_id = _running_cluster(bucket)
    boto3.client("emr").terminate_job_flows(JobFlowIds=[cluster_id])
    return cluster_id


@pytest.mark.parametrize(
    "cluster, message",
    [
        (
            lambda bucket: "bogus",
            "--cluster-id bogus: no such cluster in us-east-1 (Cluster id 'bogus' is not valid.); give a running "
            "cluster's id (aws emr list-clusters --active), or --transient",
        ),
        (
            _terminated_cluster,
            "--cluster-id {id} is TERMINATED: it takes no more steps; give a running cluster's id, or --transient",
        ),
        (
            lambda bucket: _running_cluster(bucket, StepConcurrencyLevel=4),
            "--cluster-id {id} runs 4 steps at once (StepConcurrencyLevel): EMR refuses the steps' ActionOnFailure "
            "CANCEL_AND_WAIT there, and each step needs the previous one's tables; set it to 1 (aws emr "
            "modify-cluster --step-concurrency-level 1), or use --transient",
        ),
        (
            lambda bucket: _running_cluster(bucket, ReleaseLabel="emr-6.15.0"),
            "--cluster-id {id} runs emr-6.15.0, not emr-7.x: the steps load EMR 7's "
            "/usr/share/aws/delta/lib/delta-spark.jar and the library is built for its Python 3.9; give an emr-7 "
            "cluster's id, or --transient",
        ),
        (
            lambda bucket: _running_cluster(bucket, Configurations=WITHOUT_DELTA),
            "--cluster-id {id} has no delta-defaults classification with delta.enabled true (nor Delta's jar in "
            "spark-defaults spark.jars): Delta's jars are not "
            "on its classpath, and the steps (--format delta) do not bring them; give a cluster made with it (as "
            "--transient makes its own), or --transient",
        ),
    ],
    ids=["missing", "terminated", "concurrent-steps", "emr-6", "without-delta"],
)
def test_a_cluster_that_cannot_take_the_steps_is_refused_before_any_upload(s3, bucket, dist, capsys, cluster, message):
    """Each uploaded all the artifacts, then failed at AddJobFlowSteps (or its steps ran out of order).

    Until session 49 an EMR 6 cluster, or one without Delta's jars, took the steps, which failed there.
    """
    cluster_id = cluster(bucket)
    argv = ["deploy", "--target", "emr", "--bucket", bucket, "--cluster-id", cluster_id, "--dist", str(dist)]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["lakejobs: error: " + message.format(id=cluster_id)]
    assert captured.out == ""
    assert s3["client"].list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_parquet_deploy_takes_a_cluster_without_delta_s_classification(s3, bucket, dist, capsys):
    """Only --format delta needs Delta's jars on the cluster's classpath."""
    cluster_id = _running_cluster(bucket, Configurations=WITHOUT_DELTA)
    options = ["--target", "emr", "--bucket", bucket, "--cluster-id", cluster_id, "--format", "parquet"]
    _sent, summary = deploy(capsys, *options, "--dist", str(dist))
    assert summary == f"deployed to emr under s3://{bucket}/: AddJobFlowSteps x1, DescribeCluster x1, PutObject x6"
    # Delta's jar given in spark-defaults is Delta on the classpath too.
    jars = {"spark.jars": "/usr/share/aws/delta/lib/delta-spark.jar,/usr/share/aws/delta/lib/delta-storage.jar"}
    cluster_id = _running_cluster(bucket, Configurations=[{"Classification": "spark-defaults", "Properties": jars}])
    options = ["--target", "emr", "--bucket", bucket, "--cluster-id", cluster_id, "--format", "delta"]
    _sent, summary = deploy(capsys, *options, "--dist", str(dist))
    assert summary == f"deployed to emr under s3://{bucket}/: AddJobFlowSteps x1, DescribeCluster x1, PutObject x6"


def test_a_deploy_names_the_cluster_steps_and_job_runs_it_starts(s3, bucket, dist, capsys):
    """They were never printed: the new cluster and its runs had to be looked for in the console."""
    emr = boto3.client("emr")
    cluster_id = _running_cluster(bucket)
    lines = deploy_lines(capsys, "--target", "emr", "--bucket", bucket, "--cluster-id", cluster_id, "--dist", str(dist))
    steps = [step["Id"] for step in reversed(emr.list_steps(ClusterId=cluster_id)["Steps"])]
    assert [line for line in lines if not line.startswith("{")][:-1] == [
        f"added steps {', '.join(steps)} to cluster {cluster_id}"
    ]

    before = {cluster["Id"] for cluster in emr.list_clusters()["Clusters"]}
    lines = deploy_lines(capsys, "--target", "emr", "--bucket", bucket, "--transient", "--dist", str(dist))
    (transient,) = [c["Id"] for c in emr.list_clusters()["Clusters"] if c["Id"] not in before]
    assert [line for line in lines if not line.startswith("{")][:-1] == [
        f"started cluster {transient}: it runs 4 steps, then terminates"
    ]

    client = boto3.client("emr-serverless")
    application = client.create_application(name="lakejobs", releaseLabel="emr-7.12.0", type="SPARK")["applicationId"]
    options = ["--target", "emr-serverless", "--bucket", bucket, "--application-id", application, "--role-arn", ROLE]
    lines = deploy_lines(capsys, *options, "--dist", str(dist))
    runs = {run["name"]: run["id"] for run in client.list_job_runs(applicationId=application)["jobRuns"]}
    started = [line for line in lines if line.startswith("started job run ")]
    assert started == [f"started job run {runs[name]} ({name}) on application {application}" for name in JOB_NAMES]
    # Each run is named as it starts, before the deploy waits for its stage.
    assert lines.index(started[0]) < [i for i, line in enumerate(lines) if '"StartJobRun"' in line][1]
