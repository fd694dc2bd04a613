"""Mistakes a user can make before Spark starts are one line, never a traceback."""

import subprocess

import pytest

from lakejobs import cli
from lakejobs.errors import UsageError, root_cause
from lakejobs.jobs import csv_to_parquet, taxi_trips
from lakejobs.schemas import parse_ddl
from tests.conftest import ROOT, VENV_BIN, job_env


def test_an_unknown_log_level_is_one_line_and_exit_2(tmp_path):
    completed = subprocess.run(
        [str(VENV_BIN / "python"), str(ROOT / "jobs" / "csv_to_parquet.py"), "--dataset", "orders"],
        capture_output=True,
        text=True,
        env={**job_env(), "LAKEJOBS_LOG_LEVEL": "chatty"},
        check=False,
    )
    assert (completed.returncode, completed.stdout, completed.stderr) == (
        2,
        "",
        "csv_to_parquet: error: LAKEJOBS_LOG_LEVEL=chatty is not a log level: "
        "use one of DEBUG, INFO, WARNING, ERROR, CRITICAL\n",
    )


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        (
            "LAKEJOBS_MASTER",
            "bogus",
            "is not a Spark master URL: use local, local[N], local[*], local[N,F], local-cluster[N,C,M], "
            "spark://host:port[,host:port...], yarn, k8s://... or mesos://...",
        ),
        (
            "LAKEJOBS_MASTER",
            "local[0]",
            "is not a Spark master URL: use local, local[N], local[*], local[N,F], local-cluster[N,C,M], "
            "spark://host:port[,host:port...], yarn, k8s://... or mesos://...",
        ),
        (
            "LAKEJOBS_DRIVER_MEMORY",
            "lots",
            "is not a JVM memory size: use digits with an optional k, m, g or t suffix, such as 512m or 4g",
        ),
    ],
    ids=["master", "local[0]", "driver-memory"],
)
def test_a_malformed_session_setting_is_one_line_and_exit_2_before_the_jvm_starts(tmp_path, variable, value, accepted):
    """Until session 47 the JVM's stack trace, then "Java gateway process exited...", exit 1."""
    argv = ["--dataset", "customers", "--input_path", str(tmp_path / "in"), "--output_path", str(tmp_path / "o")]
    completed = subprocess.run(
        [str(VENV_BIN / "python"), str(ROOT / "jobs" / "csv_to_parquet.py"), *argv],
        capture_output=True,
        text=True,
        env={**job_env(), "LAKEJOBS_PROFILE": "local", variable: value},
        check=False,
    )
    assert (completed.returncode, completed.stdout, completed.stderr) == (
        2,
        "",
        f"csv_to_parquet: error: {variable}={value} {accepted}\n",
    )


@pytest.mark.parametrize(
    ("master", "memory"),
    [
        ("local", "4096k"),
        ("local[3]", "512m"),
        ("local[*]", "2G"),
        ("local[2,3]", "1t"),
        ("spark://a:7077,b:7077", "4g"),
        ("local-cluster[2,1,1024]", "1g"),
        ("spark://[::1]:7077", "1g"),
    ],
)
def test_spark_s_own_masters_and_jvm_sizes_are_accepted(monkeypatch, master, memory):
    from lakejobs import session

    monkeypatch.setenv("LAKEJOBS_MASTER", master)
    monkeypatch.setenv("LAKEJOBS_DRIVER_MEMORY", memory)
    session.check_environment("local")
    assert session.session_conf("local")["spark.driver.memory"] == memory
    assert session.session_conf("test")["spark.driver.memory"] == "2g"


def _script_without_site_packages(script, pythonpath=None):
    """Run a job script by an interpreter without its site-packages (``-S``): lakejobs and PySpark not importable."""
    env = {key: value for key, value in job_env().items() if key != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [str(VENV_BIN / "python"), "-S", str(script), "--help"], capture_output=True, text=True, env=env, check=False
    )


@pytest.mark.parametrize("script", sorted(path.name for path in (ROOT / "jobs").glob("*.py")))
def test_a_job_script_without_the_lakejobs_package_says_to_pass_the_library_zip(script):
    """spark-submit without --py-files: until session 47 a traceback ending "No module named 'lakejobs'", exit 1."""
    completed = _script_without_site_packages(ROOT / "jobs" / script)
    assert (completed.returncode, completed.stdout, completed.stderr) == (
        2,
        "",
        f"{script[:-3]}: error: the lakejobs package is not importable: pass --py-files dist/lakejobs-lib.zip "
        "to spark-submit (Glue: --extra-py-files; make package builds it)\n",
    )


def test_a_job_script_missing_another_module_keeps_its_traceback():
    """Only lakejobs itself missing is the library zip's line; PySpark missing is not the zip's fault."""
    completed = _script_without_site_packages(ROOT / "jobs" / "csv_to_parquet.py", pythonpath=str(ROOT / "lib"))
    assert completed.returncode == 1
    assert completed.stderr.startswith("Traceback (most recent call last):\n")
    assert completed.stderr.endswith("ModuleNotFoundError: No module named 'pyspark'\n")


def test_the_cli_turns_any_failure_into_one_line(tmp_path, capsys):
    (tmp_path / "blocker").write_text("a file, not a folder")
    assert cli.main(["generate", "--orders", "10", "--out", str(tmp_path / "blocker" / "x")]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"lakejobs: error: NotADirectoryError: [Errno 20] Not a directory: '{tmp_path}/blocker/x'\n"


@pytest.mark.parametrize("arguments", ["10 5", " ", ",", "10,"])
def test_a_malformed_decimal_names_its_column(arguments):
    with pytest.raises(UsageError) as raised:
        parse_ddl(f"price DECIMAL({arguments})")
    assert (
        str(raised.value)
        == f"column 'price DECIMAL({arguments})': DECIMAL({arguments}) is not DECIMAL(precision[, scale])"
    )


@pytest.mark.parametrize("option", ["--primary_key", "--dataset_name"])
def test_options_of_a_schema_are_refused_with_a_builtin_dataset(tmp_path, option):
    argv = ["--dataset", "orders", "--input_path", str(tmp_path / "in"), "--output_path", str(tmp_path / "o")]
    argv += [option, "x"]
    with pytest.raises(UsageError) as raised:
        csv_to_parquet.parse_args(argv)
    assert str(raised.value) == f"{option} go with --schema or --schema_file; --dataset has its own"


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "0", "fast"])
def test_taxi_limits_must_be_finite_and_positive(tmp_path, text):
    argv = ["--input_path", str(tmp_path / "in"), "--output_path", str(tmp_path / "o"), "--max_speed_mph", text]
    with pytest.raises(UsageError) as raised:
        taxi_trips.parse_args(argv)
    assert str(raised.value) == f"argument --max_speed_mph: expected a positive number, got {text!r} (see --help)"
    given = taxi_trips.parse_args([*argv[:4], "--max_speed_mph", "7.5e1", "--max_duration_hours", "1.5"])
    assert (given.max_speed_mph, given.max_duration_hours) == (75.0, 1.5)  # not the defaults, 100 and 24


class _JavaError:
    """What ``root_cause`` reads of a JVM exception: class name, message and cause."""

    def __init__(self, kind, message, cause=None):
        self.kind, self.message, self.cause = kind, message, cause

    def getClass(self):  # noqa: N802 - the Java method's name
        return type("JavaClass", (), {"getSimpleName": lambda _: self.kind, "getName": lambda _: f"x.{self.kind}"})()

    def getMessage(self):  # noqa: N802
        return self.message

    def getCause(self):  # noqa: N802
        return self.cause


class _Py4JError(Exception):
    def __init__(self, java_exception):
        super().__init__("An error occurred while calling o87.save")
        self.java_exception = java_exception


def test_a_failed_read_names_the_file_spark_was_reading():
    gzip = _JavaError("IOException", "not a gzip file")
    read = _JavaError("SparkException", "Encountered error while reading file s3a://b/raw/x%201.gz. Details:\n", gzip)
    job = _JavaError("SparkException", "Job aborted due to stage failure: Task 1 in stage 0.0 failed\n\tat ...", read)
    assert root_cause(_Py4JError(job)) == "IOException: not a gzip file (reading s3a://b/raw/x 1.gz)"


def test_a_failure_that_is_not_a_read_names_only_its_innermost_cause():
    refused = _JavaError("ConnectException", "Connection refused\nmore detail")
    job = _JavaError("SparkException", "Job aborted due to stage failure", refused)
    assert root_cause(_Py4JError(job)) == "ConnectException: Connection refused"


def test_a_missing_s3a_connector_says_which_jars_to_pass():
    """Until session 48: only ``ClassNotFoundException: Class org.apache.hadoop.fs.s3a.S3AFileSystem not found``."""
    missing = _JavaError("ClassNotFoundException", "Class org.apache.hadoop.fs.s3a.S3AFileSystem not found")
    job = _JavaError("RuntimeException", "java.lang.ClassNotFoundException: ...", missing)
    assert root_cause(_Py4JError(job)) == (
        "ClassNotFoundException: Class org.apache.hadoop.fs.s3a.S3AFileSystem not found; the s3a connector is not "
        "on Spark's classpath: start Spark with hadoop-aws 3.3.4 and the AWS SDK bundle ('make setup' fetches them "
        'into .jars/), e.g. spark-submit --jars "$(ls .jars/hadoop-aws-*.jar .jars/aws-java-sdk-bundle-*.jar '
        '| paste -sd,)"'
    )


def test_another_missing_class_gets_no_jar_hint():
    missing = _JavaError("ClassNotFoundException", "Class org.apache.hadoop.fs.s3a.S3AFileSystemX not found")
    assert root_cause(_Py4JError(missing)) == (
        "ClassNotFoundException: Class org.apache.hadoop.fs.s3a.S3AFileSystemX not found"
    )


def test_spark_s_list_of_conflicting_paths_is_on_the_line_without_its_control_character(spark, tmp_path):
    """Until session 48 the line ended ``Suspicious paths:`` and a backspace (0x08), naming no path."""
    table = tmp_path / "orders"
    spark.range(1).write.parquet(str(table / "order_year=2013"))
    spark.range(1).write.parquet(str(table / "customers"))
    with pytest.raises(Exception) as failed:
        spark.read.parquet(str(table)).count()
    head, listed = root_cause(failed.value).split(" Suspicious paths: ")
    assert head == "AssertionError: assertion failed: Conflicting directory structures detected."
    assert sorted(listed.split(", ")) == [f"file:{table}", f"file:{table / 'customers'}"]  # in Spark's order


def test_a_long_list_in_an_error_is_cut_to_three_items():
    listed = _JavaError("IllegalStateException", "bad folders:\n\ta\n\tb\n\tc\n\td\n\nMore text")
    assert root_cause(_Py4JError(listed)) == "IllegalStateException: bad folders: a, b, c and 1 more"


def test_a_delta_run_in_a_session_without_delta_says_which_settings_it_needs():
    from lakejobs.io import delta

    session_without_delta = type(
        "Session", (), {"conf": type("Conf", (), {"get": lambda _self, _key, _default: ""})()}
    )()
    with pytest.raises(UsageError) as raised:
        delta.require_delta(session_without_delta)
    assert str(raised.value) == (
        "--format delta needs Delta Lake in the Spark session: start it with Delta's jars "
        "('make setup' fetches them into .jars/) and "
        "--conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension "
        "--conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog"
    )


def test_a_python_worker_error_names_the_exception_its_traceback_ends_with():
    worker = _JavaError(
        "PythonException",
        'Traceback (most recent call last):\n  File "udf.py", line 3, in check\n    raise RuntimeError\n'
        "RuntimeError: fault injection: the first attempt of partition 0 fails\nsaid twice\n",
    )
    job = _JavaError("SparkException", "Job aborted due to stage failure", worker)
    assert root_cause(_Py4JError(job)) == (
        "PythonException: RuntimeError: fault injection: the first attempt of partition 0 fails"
    )


def _stopped(kind="IllegalStateException", message="LiveListenerBus is stopped."):
    """The error of a Spark job asked of a SparkContext the JVM stopped (an unreachable standalone master)."""
    return _Py4JError(_JavaError("Py4JJavaError", "An error occurred", _JavaError(kind, message)))


def test_a_run_failing_on_a_stopped_spark_context_says_so_and_names_an_unreachable_master():
    """Until session 47: ``customers: the run failed in stage read_validate_and_stage: IllegalStateException:
    LiveListenerBus is stopped.``, after Spark's "All masters are unresponsive! Giving up.\""""
    from lakejobs.errors import LakejobsError
    from lakejobs.io.reports import raise_failed_run
    from lakejobs.result import JobResult

    spark = type("Session", (), {"sparkContext": type("Context", (), {"master": "spark://127.0.0.1:7999"})()})()
    result = JobResult(job="csv_to_parquet", run_id="r1", stages_s={"read_validate_and_stage": 70.1})
    with pytest.raises(LakejobsError) as raised:
        raise_failed_run(spark, None, result, "customers", _stopped())
    assert str(raised.value) == (
        "customers: the run failed in stage read_validate_and_stage: the Spark context stopped "
        "(IllegalStateException: LiveListenerBus is stopped.); spark.master is spark://127.0.0.1:7999: "
        "the master may be unreachable (Spark gives up when all masters are unresponsive)"
    )
    assert result.error == str(raised.value)


def test_a_stopped_context_outside_a_run_is_said_so_with_its_master(monkeypatch, capsys):
    from contextlib import contextmanager

    from lakejobs import runtime

    @contextmanager
    def no_session(_name, _argv):
        yield None

    def run(_spark, _args):
        raise _stopped("IllegalStateException", "Cannot call methods on a stopped SparkContext.\nThis stopped ...")

    monkeypatch.setattr(runtime, "job_session", no_session)
    monkeypatch.setattr(runtime, "refuse_local_paths_on_a_cluster", lambda _spark, _args: None)
    monkeypatch.setattr(runtime, "active_master", lambda: "local[2]", raising=False)  # new in session 47
    assert runtime.run_main("csv_to_parquet", [], lambda argv: argv, run) == 1
    assert capsys.readouterr().err == (
        "csv_to_parquet: error: the Spark context stopped "
        "(IllegalStateException: Cannot call methods on a stopped SparkContext.); spark.master is local[2]\n"
    )


def test_other_causes_are_not_reworded_as_a_stopped_context():
    from lakejobs.errors import stopped_context_cause

    assert stopped_context_cause("ConnectException: Connection refused", "spark://h:7077") == (
        "ConnectException: Connection refused"
    )


def test_a_mistyped_profile_is_a_usage_error_in_one_line(monkeypatch, capsys):
    """It was a ValueError raised while the session was built: exit 1, as if the run had failed."""
    monkeypatch.setenv("LAKEJOBS_PROFILE", "prod")
    assert csv_to_parquet.main(["--dataset", "orders", "--input_path", "in", "--output_path", "out"]) == 2
    assert capsys.readouterr().err == (
        "csv_to_parquet: error: LAKEJOBS_PROFILE=prod is not a profile: use one of local, test, emr, emr-serverless\n"
    )


def test_an_aws_error_of_several_lines_is_printed_on_one(monkeypatch, capsys):
    from botocore.exceptions import ParamValidationError

    def refused(_args):
        raise ParamValidationError(report='Invalid bucket name "": Bucket name must match the regex')

    monkeypatch.setattr(cli, "cmd_jobs", refused)
    assert cli.main(["jobs"]) == 1
    assert capsys.readouterr().err == (
        'lakejobs: error: ParamValidationError: Parameter validation failed: Invalid bucket name "": '
        "Bucket name must match the regex\n"
    )


def test_a_jdbc_failure_that_is_not_the_databases_names_its_root_cause_not_the_py4j_call():
    """py4j's first line, ``An error occurred while calling o87.save``, was all the user saw."""
    from lakejobs.io.jdbc import sql_error_message

    missing = _JavaError("ClassNotFoundException", "org.postgresql.Driver")
    job = _JavaError("SparkException", "Job aborted", missing)
    assert sql_error_message(_Py4JError(job)) == "ClassNotFoundException: org.postgresql.Driver"
    assert sql_error_message(ValueError("no rows\nmore")) == "no rows"


def test_a_custom_sql_statement_failing_while_it_runs_names_its_root_cause(monkeypatch):
    from lakejobs import quality_gate
    from lakejobs.dqdl import parse_ruleset
    from lakejobs.errors import LakejobsError

    overflow = _JavaError("ArithmeticException", "long overflow")
    failing = type(
        "Session",
        (),
        {
            "sql": lambda _self, _text: (_ for _ in ()).throw(_Py4JError(overflow)),
            "catalog": type("Catalog", (), {"dropTempView": lambda _self, _name: None})(),
        },
    )()
    good = type("Frame", (), {"sparkSession": failing, "createOrReplaceTempView": lambda _self, _name: None})()
    (rule,) = parse_ruleset('Rules = [ CustomSql "select sum(x) from primary" > 0 ]')
    with pytest.raises(LakejobsError) as raised:
        quality_gate.custom_sql_value(good, rule)
    assert str(raised.value) == (
        "rule 'CustomSql \"select sum(x) from primary\" > 0': the statement failed: ArithmeticException: long overflow"
    )


@pytest.mark.parametrize(
    "kind, there, created",
    [
        ("FileAlreadyExistsException", True, False),
        ("RemoteException", True, False),
        ("AccessDeniedException", False, None),
    ],
    ids=["held", "being_created_on_hdfs", "denied"],
)
def test_a_lock_create_refused_for_another_reason_than_an_existing_file_is_raised(monkeypatch, kind, there, created):
    """Any failure of the exclusive create was taken for a lock someone holds: exit 3, 'another run'."""
    from lakejobs import fs

    class Refusing:
        def create(self, _path, _overwrite):
            raise _Py4JError(_JavaError("IOException", "create failed", _JavaError(kind, "s3a://b/orders.lock")))

        def exists(self, _path):
            return there

    monkeypatch.setattr(fs, "_hadoop_path", lambda _spark, path: (path, Refusing()))
    if created is None:
        with pytest.raises(_Py4JError):
            fs.create_exclusive(None, "s3a://b/orders.lock", "{}")
    else:
        assert fs.create_exclusive(None, "s3a://b/orders.lock", "{}") is created


def _session_with_default_fs(default_fs):
    conf = type("Conf", (), {"get": lambda _self, key: default_fs if key == "fs.defaultFS" else None})()
    jsc = type("Jsc", (), {"hadoopConfiguration": lambda _self: conf})()
    context = type("Context", (), {"_jsc": jsc})()
    return type("Session", (), {"sparkContext": context})()


def test_a_local_path_on_a_cluster_whose_filesystem_is_hdfs_is_refused():
    """Spark wrote it to HDFS while the commit listed the driver's disk: each full run doubled its rows."""
    from lakejobs.jobs import csv_to_parquet
    from lakejobs.runtime import refuse_local_paths_on_a_cluster

    args = csv_to_parquet.parse_args(["--dataset", "orders", "--input_path", "s3://b/raw", "--output_path", "/tmp/o"])
    with pytest.raises(UsageError) as refused:
        refuse_local_paths_on_a_cluster(_session_with_default_fs("hdfs://ip-10-0-0-1:8020"), args)
    assert str(refused.value) == (
        "--output_path /tmp/o is a local path, but this cluster's default filesystem is hdfs://ip-10-0-0-1:8020: "
        "give an s3:// (or hdfs://) location the cluster's nodes share"
    )
    refuse_local_paths_on_a_cluster(_session_with_default_fs("file:///"), args)  # locally: fine
    on_s3 = csv_to_parquet.parse_args(
        ["--dataset", "orders", "--input_path", "s3://b/raw", "--output_path", "s3://b/o"]
    )
    refuse_local_paths_on_a_cluster(_session_with_default_fs("hdfs://ip-10-0-0-1:8020"), on_s3)


def test_a_rules_file_that_cannot_be_read_is_a_usage_error_naming_it(tmp_path, monkeypatch):
    """``PermissionError: [Errno 13] ...`` reached the user, exit 1, without saying which file it was."""
    import builtins

    from lakejobs.io.text_files import read_text_file

    rules = tmp_path / "rules.dqdl"
    rules.write_text("Rules = [ ]")
    opened = builtins.open

    def refusing(file, *args, **kwargs):
        if str(file) == str(rules):
            raise PermissionError(13, "Permission denied", str(file))
        return opened(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing)
    with pytest.raises(UsageError) as refused:
        read_text_file(str(rules), "rules file")
    assert str(refused.value) == f"cannot read rules file {rules}: Permission denied"


def test_ctrl_c_in_the_cli_is_one_line_and_exit_130(monkeypatch, capsys):
    from lakejobs import cli

    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_jobs", interrupted)
    assert cli.main(["jobs"]) == 130
    assert capsys.readouterr().err == "lakejobs: interrupted\n"


def test_a_reader_that_leaves_the_pipe_early_gets_no_error_line():
    """``lakejobs deploy policy ... | head``: the write fails with EPIPE; a shell's exit status, nothing said."""
    argv = ["deploy", "policy", "--target", "glue", "--bucket", "bkt", "--role-arn", "arn:aws:iam::123456789012:role/j"]
    process = subprocess.Popen(
        [str(VENV_BIN / "python"), "-m", "lakejobs.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={name: value for name, value in job_env().items() if name != "PYTHONUNBUFFERED"},  # a user's shell
    )
    process.stdout.close()  # the reader is gone before the first write (buffered: the flush at the end)
    assert (process.wait(timeout=60), process.stderr.read()) == (141, b"")


def test_a_shortened_option_of_a_command_is_refused_as_the_jobs_refuse_theirs(capsys):
    """``lakejobs report --lim 2`` was ``--limit 2``: an option added later could change its meaning."""
    with pytest.raises(SystemExit) as refused:
        cli.main(["report", "--lim", "2"])
    assert refused.value.code == 2
    assert capsys.readouterr().err == "lakejobs report: error: unrecognized arguments: --lim 2 (see --help)\n"


@pytest.mark.parametrize(
    ("argv", "command", "option"),
    [
        (["generate", "--orders", "10", "--orders", "20", "--out", "g"], "generate", "--orders"),
        (["pipeline", "--raw", "A", "--raw=B"], "pipeline", "--raw"),
        (["report", "--limit", "5", "--limit", "1"], "report", "--limit"),
        (["deploy", "--target", "glue", "--target", "emr", "--bucket", "b"], "deploy", "--target"),
        (["vacuum", "t", "--retain-hours", "200", "--retain_hours", "300"], "vacuum", "--retain_hours"),
        (["catalog", "sync", "--lake", "s3://a", "--lake", "s3://b"], "catalog sync", "--lake"),
    ],
    ids=["generate", "pipeline", "report", "deploy", "both-spellings", "catalog-sync"],
)
def test_an_option_of_a_command_given_twice_is_refused_as_the_jobs_refuse_theirs(
    tmp_path, monkeypatch, capsys, argv, command, option
):
    """Until session 48 the last one won: ``generate --orders 10 --orders 20`` wrote 20 lines."""
    monkeypatch.chdir(tmp_path)  # nothing is written; if it were, not into the checkout
    with pytest.raises(SystemExit) as refused:
        cli.main(argv)
    assert refused.value.code == 2
    assert capsys.readouterr().err == (
        f"lakejobs {command}: error: {option} is given twice: give it once (argparse would keep only the last) "
        "(see --help)\n"
    )


def test_a_secret_read_without_a_region_says_which_variable_sets_it(monkeypatch):
    """Until session 48 "cannot read secret prod/warehouse: NoRegionError", with AWS_REGION (AWS's runtimes') unread."""
    from lakejobs.io import credentials

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(UsageError) as refused:
        credentials.login_from_secret("prod/warehouse")
    assert str(refused.value) == (
        "cannot read secret prod/warehouse: NoRegionError: set AWS_REGION (or AWS_DEFAULT_REGION) to the secret's "
        "region"
    )
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert credentials.secrets_client().meta.region_name == "eu-west-1"
