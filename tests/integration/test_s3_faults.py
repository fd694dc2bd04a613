"""S3 faults: the server stops mid-run, a quarantine bucket that does not exist."""

import json
import re
import subprocess
import sys
import time

import boto3
import pytest
from chispa import assert_df_equality

from lakejobs import s3local
from lakejobs.errors import UsageError
from lakejobs.jobs import csv_to_parquet
from lakejobs.schemas import ORDERS
from tests.conftest import ROOT, SAMPLE_RAW, job_env, read_raw_rows, stderr_lines, typed_order


def test_a_quarantine_that_cannot_be_written_fails_the_run_before_the_output_is_touched(spark, s3, tmp_path):
    argv = ["--dataset", "orders", "--input_path", str(SAMPLE_RAW / "orders"), "--output_path", str(tmp_path / "o")]
    with pytest.raises(UsageError) as raised:  # until session 36 S3's whole AmazonS3Exception text, exit 1
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv + ["--quarantine_path", "s3a://no-such-bucket/q"]))
    assert (
        str(raised.value)
        == "s3a://no-such-bucket/q: the bucket no-such-bucket does not exist (check its name, and the region)"
    )
    assert not (tmp_path / "o").exists()
    (report,) = (tmp_path / "o_lakejobs" / "runs" / "csv_to_parquet").glob("*.json")
    assert json.loads(report.read_text())["status"] == "FAILED"


def run_job(env, argv, pause_file=None):
    extra = {"LAKEJOBS_PAUSE_AT": "before_write", "LAKEJOBS_PAUSE_FILE": str(pause_file)} if pause_file else {}
    return subprocess.Popen(
        [sys.executable, "jobs/csv_to_parquet.py", *argv],
        cwd=ROOT,
        env={**env, **extra},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path, process, seconds=600):
    deadline = time.time() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.time() < deadline, "the job never reached the pause point"
        time.sleep(0.1)


@pytest.mark.subprocess
def test_s3_stopping_mid_run_fails_with_one_line_and_a_rerun_after_restart_succeeds(spark, s3, tmp_path, capsys):
    """The failing run is a process of its own (a rerun takes a dead run's lock over); the rerun
    runs in the suite's session, which reaches the bucket through s3a's per-bucket endpoint."""
    server = s3local.start_moto_server()  # a port the system picks as it binds: no race for it
    port = server.get_host_and_port()[1]
    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    env = {**job_env(), **aws}
    client = boto3.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    client.create_bucket(Bucket="stops")
    client.upload_file(str(SAMPLE_RAW / "orders" / "orders-00000.csv"), "stops", "raw/orders/orders-00000.csv")
    argv = ["--dataset", "orders", "--input_path", "s3a://stops/raw/orders", "--output_path", "s3a://stops/orders"]
    pause, process = tmp_path / "paused", None
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    try:
        process = run_job(env, argv, pause)
        wait_for(pause, process)
        server.stop()
        pause.unlink()
        out, err = process.communicate(timeout=600)
        lines = stderr_lines(err)
        failed = re.fullmatch(
            r"csv_to_parquet: error: orders: the run failed in stage write: (.+)", lines[-1] if lines else ""
        )
        assert process.returncode == 1 and failed, err[-3000:]
        cause = failed.group(1)
        assert "Connection refused" in cause or "Connect to 127.0.0.1" in cause, cause
        run_id = json.loads(out.strip().splitlines()[-1])["run_id"]
        # The staging write and the pause, then what could not be cleaned up or recorded, then one error line.
        assert lines == [
            f"INFO lakejobs.io.writer: wrote orders: 300 rows in 4 files to s3a://stops/orders/_staging/run_id={run_id}",
            f"WARNING lakejobs.faults: fault injection: pausing at before_write until {pause} is deleted",
            "WARNING lakejobs.jobs.csv_to_parquet: could not remove s3a://stops/orders/_staging (the next run will): "
            + cause,
            "WARNING lakejobs.state: could not release the lock s3a://stops/orders_lakejobs.lock after the run failed",
            f"WARNING lakejobs.io.reports: could not write the run report to s3a://stops/orders_lakejobs/runs: {cause}",
            f"csv_to_parquet: error: orders: the run failed in stage write: {cause}",
        ], err[-3000:]

        server = s3local.start_moto_server(port)
        # Nothing published; what the failed run staged is under _staging/ (which readers skip)
        # because the server was down when it tried to remove it. The rerun removes it.
        assert not [k for k in keys(client, "orders/") if k.endswith(".parquet") and "/_staging/" not in k]
        assert [k for k in keys(client, "orders/") if "/_staging/" in k]
        hadoop.set("fs.s3a.bucket.stops.endpoint", aws["AWS_ENDPOINT_URL"])
        capsys.readouterr()
        assert csv_to_parquet.main(argv) == 0, capsys.readouterr().err[-3000:]
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows_written"] == 300
        assert not [k for k in keys(client, "orders/") if "/_staging/" in k]
        for key in keys(client, "orders/"):
            target = tmp_path / "copy" / key
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file("stops", key, str(target))
    finally:
        if process is not None and process.poll() is None:
            process.kill()  # a job left paused or hung would hold a core for the rest of the suite
        server.stop()
        hadoop.unset("fs.s3a.bucket.stops.endpoint")
    expected = spark.createDataFrame([typed_order(row) for row in read_raw_rows(SAMPLE_RAW / "orders")], ORDERS)
    actual = spark.read.parquet(str(tmp_path / "copy" / "orders")).drop("order_year")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def keys(client, prefix):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket="stops", Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
