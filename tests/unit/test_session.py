"""The local driver JVM's options: warnings to stderr, and the class archive when there is one."""

import json
import subprocess
import sys

import pytest

from lakejobs import session
from tests.conftest import ROOT, SAMPLE_RAW, job_env


def test_without_an_archive_the_jvm_starts_plain_and_warns_on_stderr(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEJOBS_JARS_DIR", str(tmp_path))
    options = session.driver_java_options().split()
    assert (options[0], options[2]) == ("-XX:+UseParallelGC", "-Duser.timezone=UTC")
    # An archive the JVM cannot use (another JDK build) would only be slower: its warning is off.
    assert options[3:] == ["-Xlog:disable", "-Xlog:all=warning:stderr", "-Xlog:cds*=off:stderr"]


def test_with_an_archive_the_jvm_starts_from_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEJOBS_JARS_DIR", str(tmp_path))
    (tmp_path / "spark-classes.jsa").write_bytes(b"archive")
    options = session.driver_java_options().split()
    assert options[3:] == [
        "-Xlog:disable",
        "-Xlog:all=warning:stderr",
        "-Xlog:cds*=off:stderr",
        f"-XX:SharedArchiveFile={tmp_path / 'spark-classes.jsa'}",
    ]
    assert session.session_conf("local")["spark.driver.extraJavaOptions"] == " ".join(options)


def test_building_an_archive_writes_it_at_exit_and_keeps_errors_only(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEJOBS_JARS_DIR", str(tmp_path))
    (tmp_path / "spark-classes.jsa").write_bytes(b"an older archive")
    options = session.driver_java_options(dump_to=tmp_path / "new.jsa").split()
    assert options[3:] == [
        "-Xlog:disable",
        "-Xlog:all=error:stderr",
        f"-XX:ArchiveClassesAtExit={tmp_path / 'new.jsa'}",
    ]


@pytest.mark.subprocess
def test_a_job_runs_and_reports_on_stdout_with_an_unusable_archive(tmp_path):
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / "spark-classes.jsa").write_bytes(b"not a class archive" * 1000)
    argv = [sys.executable, "jobs/csv_to_parquet.py", "--dataset", "customers"]
    argv += ["--input_path", str(SAMPLE_RAW / "customers"), "--output_path", str(tmp_path / "customers")]
    env = {**job_env(), "LAKEJOBS_JARS_DIR": str(jars)}
    completed = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert (result["status"], result["rows_read"], result["rows_written"]) == ("SUCCEEDED", 40, 40)


@pytest.mark.subprocess
def test_a_local_jvm_keeps_utc_on_a_machine_in_another_time_zone():
    """JDBC reads ``timestamp without time zone`` in the JVM's zone: a New York laptop shifted them."""
    script = (
        "from lakejobs import session; spark = session.build_session('tz', 'local'); "
        "print(spark.sparkContext._jvm.java.util.TimeZone.getDefault().getID()); spark.stop()"
    )
    env = {**job_env(), "TZ": "America/New_York"}
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[-1] == "UTC"


def test_a_session_made_elsewhere_gets_the_runtime_settings(spark):
    """Glue's and spark-submit's sessions are built outside lakejobs: ``apply_runtime_conf`` sets them."""
    elsewhere = {name: spark.conf.get(name) for name in session.RUNTIME_CONF}
    for name in session.RUNTIME_CONF:  # every setting unset first, as a session made elsewhere has it
        spark.conf.unset(name)
    try:
        assert {name: spark.conf.get(name, None) for name in session.RUNTIME_CONF} != session.RUNTIME_CONF
        session.apply_runtime_conf(spark)
        assert {name: spark.conf.get(name) for name in session.RUNTIME_CONF} == session.RUNTIME_CONF
    finally:
        for name, value in elsewhere.items():
            spark.conf.set(name, value)


class _Conf:
    """A stand-in for SparkConf and Hadoop's Configuration: a dict with their calls."""

    def __init__(self, values):
        self.values = dict(values)

    def contains(self, key):
        return key in self.values

    def get(self, key):
        return self.values.get(key)

    def set(self, key, value):
        self.values[key] = value


def test_spark_submits_session_keeps_the_s3_settings_it_was_given():
    """Under spark-submit (a local master), --conf spark.hadoop.fs.s3a.* and EMRFS's fs.s3.impl stay."""
    given = _Conf({"spark.hadoop.fs.s3a.server-side-encryption-algorithm": "SSE-KMS"})
    hadoop = _Conf(
        {
            "fs.s3.impl": "com.amazon.ws.emr.hadoop.fs.EmrFileSystem",
            "fs.s3a.server-side-encryption-algorithm": "SSE-KMS",
        }
    )
    context = type("Context", (), {"getConf": lambda self: given})()
    context._jsc = type("Jsc", (), {"hadoopConfiguration": lambda self: hadoop})()
    spark = type("Spark", (), {"sparkContext": context})()
    session.configure_s3a(spark, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"}, keep_given=True)
    assert hadoop.values["fs.s3a.server-side-encryption-algorithm"] == "SSE-KMS"
    assert hadoop.values["fs.s3.impl"] == "com.amazon.ws.emr.hadoop.fs.EmrFileSystem"
    assert hadoop.values["fs.s3a.endpoint"] == "http://127.0.0.1:9000"  # what was not given is set
    session.configure_s3a(spark, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"})  # the local profile's call: every key
    assert hadoop.values["fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
