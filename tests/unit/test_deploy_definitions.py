"""The pipeline description and what it renders: arguments, committed files, IAM policies."""

import dataclasses
import json

import pytest

from lakejobs.deploy import emr, glue, iam, serverless
from lakejobs.deploy.description import DeployConfig, LakePath, sales_pipeline
from lakejobs.deploy.render import EXAMPLE, differences, rendered_files, write_rendered
from lakejobs.errors import UsageError
from lakejobs.orchestrate.machines import catalog_job
from lakejobs.pipeline import pipeline_steps
from tests.conftest import ROOT
from tests.integration import iam_eval

CONFIG = DeployConfig(
    bucket="b", prefix="p", role_arn="arn:aws:iam::123456789012:role/r", cluster_id="j-1", application_id="a1"
)


def test_job_arguments_are_those_of_the_local_pipeline():
    pipeline = sales_pipeline(output_format="delta", incremental=True)
    root = "s3://b/p/"
    local = [argv for _label, _module, argv in pipeline_steps(f"{root}rawData", root, "delta", incremental=True)]
    assert [job.argv(root) for job in pipeline.jobs] == local
    assert [job.script for job in pipeline.jobs] == ["csv_to_parquet.py"] * 3 + ["sales_mart.py"]


def test_stages_convert_the_dimensions_in_parallel_then_orders_then_build_the_mart():
    pipeline = sales_pipeline()
    assert pipeline.stages == (("convert_customers", "convert_employees"), ("convert_orders",), ("sales_mart",))
    assert [job.key for job in pipeline.ordered_jobs()] == [key for stage in pipeline.stages for key in stage]
    with pytest.raises(UsageError, match="unknown job 'nope'"):
        pipeline.job("nope")


def test_lake_paths_resolve_under_any_root_including_a_template():
    job = sales_pipeline().job("sales_mart")
    assert job.resolved_arguments("s3://{bucket}/")["mart_path"] == "s3://{bucket}/mart"
    assert LakePath("rawData/x").resolve("s3://b/") == "s3://b/rawData/x"
    assert DeployConfig(bucket="b").layout.root == "s3://b/"
    assert DeployConfig(bucket="b", prefix="/a/b/").layout.root == "s3://b/a/b/"


def test_glue_definition_has_the_library_delta_logging_and_no_bookmarks():
    job = sales_pipeline().job("convert_orders")
    definition = glue.glue_job_definition(job, CONFIG)
    arguments = definition["DefaultArguments"]
    assert definition["GlueVersion"] == "5.0" and definition["Command"]["Name"] == "glueetl"
    assert definition["Command"]["ScriptLocation"] == "s3://b/p/artifacts/jobs/csv_to_parquet.py"
    assert (definition["WorkerType"], definition["NumberOfWorkers"]) == ("G.1X", 4)
    assert arguments["--extra-py-files"] == "s3://b/p/artifacts/lakejobs-lib.zip"
    assert arguments["--datalake-formats"] == "delta"
    assert arguments["--conf"] == (
        "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension"
        " --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog"
    )
    assert arguments["--job-bookmark-option"] == "job-bookmark-disable"
    assert arguments["--enable-metrics"] == "true"
    assert "--enable-continuous-cloudwatch-log" not in arguments  # Glue 4.0 and earlier; Glue 5 logs anyway
    assert arguments["--input_path"] == "s3://b/p/rawData/orders"
    assert "--python-virtual-env" not in arguments
    assert glue.glue_run_arguments(job, CONFIG)["--output_path"] == "s3://b/p/processedData/orders"


def test_glue_5_1_and_the_packed_environment_are_selectable():
    config = dataclasses.replace(CONFIG, glue_version="5.1", library="venv")
    definition = glue.glue_job_definition(sales_pipeline().job("sales_mart"), config)
    assert definition["GlueVersion"] == "5.1"
    assert definition["DefaultArguments"]["--python-virtual-env"] == (
        "s3://b/p/artifacts/lakejobs-env-py3.11-x86_64.tar.gz"
    )
    with pytest.raises(UsageError, match="--glue-version must be one of 5.0, 5.1"):
        dataclasses.replace(CONFIG, glue_version="4.0").validate()


def test_each_runtime_gets_the_environment_of_its_python_unless_one_is_chosen():
    config = dataclasses.replace(CONFIG, library="venv")
    step = " ".join(emr.spark_submit_args(sales_pipeline().job("sales_mart"), config))
    assert "--archives s3://b/p/artifacts/lakejobs-env-py3.9-x86_64.tar.gz#environment" in step
    chosen = dataclasses.replace(config, python_version="3.11")
    assert dataclasses.replace(chosen, bucket="bkt").validate().python_version == "3.11"
    serverless_conf = serverless.serverless_conf(sales_pipeline().job("sales_mart"), chosen)
    assert serverless_conf["spark.archives"] == "s3://b/p/artifacts/lakejobs-env-py3.11-x86_64.tar.gz#environment"
    glue_arguments = glue.glue_default_arguments(sales_pipeline().job("sales_mart"), config)
    assert glue_arguments["--python-virtual-env"] == "s3://b/p/artifacts/lakejobs-env-py3.11-x86_64.tar.gz"
    with pytest.raises(UsageError, match=r"^--python-version must be one of 3.9, 3.11, got '3.10'$"):
        dataclasses.replace(CONFIG, python_version="3.10").validate()


def test_emr_step_runs_spark_submit_in_cluster_mode_and_stops_the_flow_on_failure():
    job = sales_pipeline().job("convert_customers")
    step = emr.emr_step(job, CONFIG)
    args = step["HadoopJarStep"]["Args"]
    assert step["HadoopJarStep"]["Jar"] == "command-runner.jar"
    assert step["ActionOnFailure"] == "CANCEL_AND_WAIT"
    # Delta's Python API (delta.tables) from the cluster's delta-spark.jar.
    assert args[:7] == [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--name",
        "lakejobs-convert-customers",
        "--py-files",
        "s3://b/p/artifacts/lakejobs-lib.zip,/usr/share/aws/delta/lib/delta-spark.jar",
    ]
    script_at = args.index("s3://b/p/artifacts/jobs/csv_to_parquet.py")
    assert args[script_at + 1 :] == job.argv("s3://b/p/")
    # One YARN attempt: a failed driver was started again, a failed run ran twice.
    conf = [args[index + 1] for index, token in enumerate(args[:script_at]) if token == "--conf"]
    assert "spark.yarn.maxAppAttempts=1" in conf
    transient = emr.run_job_flow_request(sales_pipeline(), CONFIG)
    assert {step["ActionOnFailure"] for step in transient["Steps"]} == {"TERMINATE_CLUSTER"}
    assert transient["Instances"]["KeepJobFlowAliveWhenNoSteps"] is False
    assert transient["ReleaseLabel"].startswith("emr-7.")
    classifications = {item["Classification"]: item["Properties"] for item in transient["Configurations"]}
    assert classifications["delta-defaults"] == {"delta.enabled": "true"}
    assert classifications["spark-defaults"]["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"


def _container_mb(memory: str) -> int:
    """YARN's container for a Spark JVM of ``memory`` (``4g``): plus max(384 MB, 10%), rounded up."""
    heap = int(memory[:-1]) * {"g": 1024, "m": 1}[memory[-1]]
    size = heap + max(384, int(heap * 0.10))
    return -(-size // emr.YARN_MIN_ALLOCATION_MB) * emr.YARN_MIN_ALLOCATION_MB


def _executors_that_fit(conf, instance_type: str) -> int:
    """How many executors YARN places on the core nodes once the driver (cluster mode: the AM) has its own."""
    nodes = [[emr.YARN_NODE_MEMORY_MB[instance_type], emr.YARN_NODE_VCORES[instance_type]]] * emr.CORE_NODES
    nodes = [list(node) for node in nodes]
    containers = [(conf["spark.driver.memory"], conf["spark.driver.cores"])]
    containers += [(conf["spark.executor.memory"], conf["spark.executor.cores"])] * int(
        conf["spark.dynamicAllocation.maxExecutors"]
    )
    placed = 0
    for memory, cores in containers:
        need = [_container_mb(memory), int(cores)]
        node = next((node for node in nodes if node[0] >= need[0] and node[1] >= need[1]), None)
        if node is None:
            break  # the driver always fits; an executor that does not is never started
        node[0], node[1], placed = node[0] - need[0], node[1] - need[1], placed + 1
    return placed - 1


def test_every_job_s_maximum_executors_fit_the_transient_cluster_beside_its_driver():
    """Until session 49 the orders and mart jobs asked for 3 executors of 10g: one fit beside the driver."""
    assert _container_mb("4g") == 4512 and _container_mb("10g") == 11264
    jobs = sales_pipeline().ordered_jobs() + (catalog_job("delta", "us-east-1"),)
    fits = {job.key: _executors_that_fit(emr.sizing_conf(job), CONFIG.emr_instance_type) for job in jobs}
    assert fits == {job.key: job.sizes.max_executors for job in jobs}
    assert fits == {
        "convert_customers": 1,
        "convert_employees": 1,
        "convert_orders": 3,
        "sales_mart": 3,
        "catalog_sync": 1,
    }


def test_serverless_run_uses_the_packed_environment_and_logs_to_s3():
    job = sales_pipeline().job("sales_mart")
    config = dataclasses.replace(CONFIG, application_id="app", role_arn="arn:aws:iam::123456789012:role/s")
    request = serverless.serverless_start_job_run(job, config)
    submit = request["jobDriver"]["sparkSubmit"]
    parameters = submit["sparkSubmitParameters"].split(" ")
    assert submit["entryPoint"] == "s3://b/p/artifacts/jobs/sales_mart.py"
    assert submit["entryPointArguments"] == job.argv("s3://b/p/")
    # EMR 7 runs Amazon Linux 2023, whose python3 is 3.9: the packed environment must match it.
    assert "spark.archives=s3://b/p/artifacts/lakejobs-env-py3.9-x86_64.tar.gz#environment" in parameters
    assert "spark.emr-serverless.driverEnv.PYSPARK_PYTHON=./environment/bin/python" in parameters
    assert "spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python" in parameters
    assert (
        "spark.submit.pyFiles=s3://b/p/artifacts/lakejobs-lib.zip,/usr/share/aws/delta/lib/delta-spark.jar"
        in parameters
    )
    logs = request["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]
    assert logs == {"logUri": "s3://b/p/logs/emr-serverless/"}


def test_committed_definitions_match_the_description():
    changed = differences(ROOT)
    assert changed == [], f"glue/ and emr/ are out of date: {changed}; refresh them with: make render"


def test_render_writes_every_file_and_removes_stale_ones(tmp_path):
    (tmp_path / "glue" / "jobs").mkdir(parents=True)
    (tmp_path / "glue" / "jobs" / "old-job.json").write_text("{}")
    changed = write_rendered(tmp_path)
    assert "glue/jobs/old-job.json" in changed
    assert not (tmp_path / "glue" / "jobs" / "old-job.json").exists()
    assert differences(tmp_path) == []
    files = rendered_files()
    assert json.loads((tmp_path / "emr" / "steps.json").read_text()) == json.loads(files["emr/steps.json"])
    (tmp_path / "emr" / "steps.json").write_text("{}\n")
    assert differences(tmp_path) == ["emr/steps.json"]


def _statements():
    for name, build in iam.POLICIES.items():
        for statement in build(EXAMPLE)["Statement"]:
            yield name, statement


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_no_policy_grants_everything_or_all_of_s3_on_every_resource():
    for name, statement in _statements():
        actions, resources = _as_list(statement["Action"]), _as_list(statement.get("Resource", []))
        if statement["Effect"] != "Allow":
            continue
        assert not {"*", "s3:*"} & set(actions), (name, statement)
        if "*" in resources:
            assert all(not action.startswith("s3:") for action in actions), (name, statement)
        for resource in resources:
            if resource.startswith("arn:aws:s3:::"):
                assert resource.startswith("arn:aws:s3:::amzn-s3-demo-bucket"), (name, resource)
                # The prefix's own key and EMRFS's marker of it are the only keys outside lakejobs/.
                outside = ("", "/lakejobs", "/lakejobs_$folder$")
                assert resource in [f"arn:aws:s3:::amzn-s3-demo-bucket{key}" for key in outside] or (
                    "/lakejobs/" in resource
                ), (name, resource)


def test_s3_writes_are_scoped_to_the_output_folders_and_encrypted():
    policy = iam.glue_job_role_policy(EXAMPLE)
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    assert by_sid["ReadCodeAndRawData"]["Action"] == ["s3:GetObject"]
    assert by_sid["ReadCodeAndRawData"]["Resource"] == [
        "arn:aws:s3:::amzn-s3-demo-bucket/lakejobs/artifacts/*",
        "arn:aws:s3:::amzn-s3-demo-bucket/lakejobs/rawData/*",
    ]
    written = by_sid["ReadWriteLakeOutputs"]["Resource"]
    assert "arn:aws:s3:::amzn-s3-demo-bucket/lakejobs/rawData/*" not in written
    assert "arn:aws:s3:::amzn-s3-demo-bucket/lakejobs/mart/*" in written
    deny = by_sid["DenyWritesWithoutServerSideEncryption"]
    assert deny["Effect"] == "Deny" and deny["Action"] == ["s3:PutObject"]
    mart_file = "arn:aws:s3:::amzn-s3-demo-bucket/lakejobs/mart/sales/part-0.parquet"
    for encryption, allowed in (("AES256", True), ("aws:kms", True), (None, True), ("bogus", False)):
        context = {iam_eval.SSE: encryption} if encryption else {}  # a multipart upload's part has none
        assert iam_eval.allowed(policy, ("s3:PutObject", mart_file, context)) is allowed, encryption
    assert glue.glue_default_arguments(sales_pipeline().jobs[0], EXAMPLE)["--encryption-type"] == "sse-s3"
    assert emr.common_conf()["spark.hadoop.fs.s3.enableServerSideEncryption"] == "true"


def test_emrfs_may_write_folder_markers_and_probe_folder_keys_and_nothing_beside():
    """EMRFS writes ``<dir>_$folder$`` beside each folder it makes and HEADs ``<dir>``: until session 49 refused."""
    by_sid = {statement["Sid"]: statement for statement in iam.glue_job_role_policy(EXAMPLE)["Statement"]}
    lake = "arn:aws:s3:::amzn-s3-demo-bucket/lakejobs"
    written = ["processedData", "quarantine", "mart", "_lakejobs", "tmp", "logs"]
    assert by_sid["WriteFolderMarkers"] == {
        "Sid": "WriteFolderMarkers",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
        "Resource": [f"{lake}/{folder}_$folder$" for folder in written] + [f"{lake}_$folder$"],
    }
    assert by_sid["ReadFolderKeys"] == {
        "Sid": "ReadFolderKeys",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [f"{lake}/{folder}" for folder in ["artifacts", "rawData"] + written] + [lake],
    }
    policy = iam.glue_job_role_policy(EXAMPLE)
    first_run = [
        ("s3:PutObject", f"{lake}_$folder$"),
        ("s3:PutObject", f"{lake}/processedData_$folder$"),
        ("s3:PutObject", f"{lake}/processedData/orders_$folder$"),  # under processedData/*
        ("s3:GetObject", f"{lake}/processedData"),
        ("s3:GetObject", f"{lake}/rawData"),
        ("s3:GetObject", lake),
    ]
    assert [check for check in first_run if not iam_eval.allowed(policy, (*check, {}))] == []
    beside = [
        ("s3:PutObject", f"{lake}/rawData_$folder$"),  # a folder the jobs only read
        ("s3:PutObject", f"{lake}/processedData"),
        ("s3:GetObject", f"{lake}/processedDataX"),
        ("s3:GetObject", f"{lake}X_$folder$"),
    ]
    assert [check for check in beside if iam_eval.allowed(policy, (*check, {}))] == []
    # A nested prefix: EMRFS marks each missing ancestor. Without one, only the folders' keys.
    nested = {
        s["Sid"]: s for s in iam.glue_job_role_policy(dataclasses.replace(EXAMPLE, prefix="team/lake"))["Statement"]
    }
    assert nested["WriteFolderMarkers"]["Resource"][-2:] == [
        "arn:aws:s3:::amzn-s3-demo-bucket/team_$folder$",
        "arn:aws:s3:::amzn-s3-demo-bucket/team/lake_$folder$",
    ]
    assert nested["ReadFolderKeys"]["Resource"][-2:] == [
        "arn:aws:s3:::amzn-s3-demo-bucket/team",
        "arn:aws:s3:::amzn-s3-demo-bucket/team/lake",
    ]
    bare = {s["Sid"]: s for s in iam.glue_job_role_policy(dataclasses.replace(EXAMPLE, prefix=""))["Statement"]}
    assert bare["WriteFolderMarkers"]["Resource"][-1] == "arn:aws:s3:::amzn-s3-demo-bucket/logs_$folder$"
    assert bare["ReadFolderKeys"]["Resource"][-1] == "arn:aws:s3:::amzn-s3-demo-bucket/logs"


def test_a_missing_key_is_a_404_to_every_job_role_yet_listings_stay_under_the_lake():
    """S3 answers 404 only to a caller allowed ListBucket: under StringLike s3:prefix (until session 49) it was 403."""
    prefixes = ["lakejobs/"] + [
        f"lakejobs/{folder}{tail}"
        for folder in ("artifacts", "rawData", "processedData", "quarantine", "mart", "_lakejobs", "tmp", "logs")
        for tail in ("", "/*")
    ]
    bucket = "arn:aws:s3:::amzn-s3-demo-bucket"
    roles = [path for path in iam.POLICIES if path.endswith("-policy.json") and "service-role" not in path]
    for path in roles:
        policy = iam.POLICIES[path](EXAMPLE)
        (listing,) = [statement for statement in policy["Statement"] if statement.get("Sid") == "ListLakePrefixes"]
        assert listing == {
            "Sid": "ListLakePrefixes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket],
            "Condition": {"StringLikeIfExists": {"s3:prefix": prefixes}},
        }, path
        assert iam_eval.allowed(policy, iam_eval.missing_key("amzn-s3-demo-bucket")), path
        for prefix, allowed in (
            ("lakejobs/_lakejobs/state/csv_to_parquet/orders.json", True),
            ("lakejobs/processedData", True),
            ("other/", False),
            ("lakejobs-other/", False),
        ):
            assert iam_eval.allowed(policy, ("s3:ListBucket", bucket, {"s3:prefix": prefix})) is allowed, (path, prefix)
        # The price, said in the README: a listing that gives no prefix carries none either, so it
        # is allowed too (the key names of the whole bucket; no object can be read outside the lake).
        assert iam_eval.allowed(policy, ("s3:ListBucket", bucket, {})), path


def test_the_cluster_may_assume_the_step_runtime_role_that_trusts_it():
    """Both sides of a runtime role: its trust names the instance profile's role, whose policy allows it."""
    committed = {
        name: json.loads((ROOT / name).read_text())
        for name in (
            "emr/iam/emr-ec2-instance-profile-policy.json",
            "emr/iam/emr-step-runtime-role-trust.json",
        )
    }
    step_role = "arn:aws:iam::111122223333:role/lakejobs-emr-step"
    profile = committed["emr/iam/emr-ec2-instance-profile-policy.json"]
    for action in ("sts:AssumeRole", "sts:TagSession"):
        assert iam_eval.allowed(profile, (action, step_role, {}))
        assert not iam_eval.allowed(profile, (action, "arn:aws:iam::111122223333:role/admin", {}))
    (trust,) = committed["emr/iam/emr-step-runtime-role-trust.json"]["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::111122223333:role/lakejobs-emr-ec2"}
    assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]


def test_render_into_a_folder_that_is_not_a_checkout_is_refused_writing_nothing(tmp_path, capsys):
    from lakejobs import cli

    typo = tmp_path / "typo"
    assert cli.main(["deploy", "render", "--root", str(typo)]) == 2
    assert capsys.readouterr().err == (
        f"lakejobs: error: --root {typo} is not a lakejobs checkout (no setup.py): "
        "give the folder holding glue/ and emr/\n"
    )
    assert not typo.exists()


def test_render_refuses_the_deploy_options_it_would_ignore(capsys):
    """Until session 48 ``render --check --format parquet ...`` said "0 file(s) differ" of the Delta definitions."""
    from lakejobs import cli

    argv = ["deploy", "render", "--check", "--format", "parquet", "--target", "emr", "--bucket", "b", "--cluster-id"]
    assert cli.main([*argv, "j-1"]) == 2
    assert capsys.readouterr() == (
        "",
        "lakejobs: error: --target, --bucket, --cluster-id, --format: not an option of deploy render, which renders "
        "the committed example values (glue/README.md names them) and would ignore it\n",
    )


def test_render_s_own_options_are_refused_on_a_deploy_which_would_ignore_them(capsys):
    from lakejobs import cli

    argv = ["deploy", "--target", "glue", "--bucket", "bkt", "--role-arn", "arn:aws:iam::123456789012:role/j"]
    assert cli.main([*argv, "--check", "--dry-run"]) == 2
    assert capsys.readouterr() == (
        "",
        "lakejobs: error: --check: an option of deploy render only, which this deploy would ignore\n",
    )
