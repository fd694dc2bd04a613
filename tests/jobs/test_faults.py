"""Faults a batch job meets: a task failing on its first attempt, Ctrl-C, unwritable and missing locations."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from chispa import assert_df_equality

from lakejobs.jobs import csv_to_parquet
from tests.conftest import ROOT, SAMPLE_RAW, expected_orders_of_rows, job_env, read_raw_rows


@pytest.mark.subprocess
def test_a_task_failing_on_its_first_attempt_is_retried_to_every_order_exactly(spark, tmp_path):
    argv = ["--dataset", "orders", "--input_path", str(SAMPLE_RAW / "orders")]
    env = {**job_env(), "LAKEJOBS_MASTER": "local[2,3]", "LAKEJOBS_FAIL_TASK": "first_attempt"}
    completed = subprocess.run(
        [sys.executable, "jobs/csv_to_parquet.py", *argv, "--output_path", str(tmp_path / "retried")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "fault injection: the first attempt of partition 0 fails" in completed.stderr.splitlines()
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    rows = read_raw_rows(SAMPLE_RAW / "orders")
    assert (result["status"], result["rows_read"], result["rows_written"], result["rows_quarantined"]) == (
        "SUCCEEDED",
        len(rows),
        len(rows),
        0,
    )
    expected = expected_orders_of_rows(spark, rows)  # typed in Python, not by the job
    retried = spark.read.parquet(str(tmp_path / "retried")).select(*expected.columns)
    assert_df_equality(retried, expected, ignore_row_order=True, ignore_nullable=True)


def wait_for_file(path, process, limit_s=300):
    """Wait until ``path`` exists; fail if ``process`` ends first or the limit passes."""
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"{path} did not appear within {limit_s} s"
        time.sleep(0.1)


@pytest.mark.subprocess
def test_ctrl_c_during_a_spark_job_cancels_it_and_fails_the_run_in_one_line_with_exit_130(spark, tmp_path):
    output, paused = tmp_path / "orders", tmp_path / "paused"
    argv = ["--dataset", "orders", "--input_path", str(SAMPLE_RAW / "orders"), "--output_path", str(output)]
    process = subprocess.Popen(
        [sys.executable, "jobs/csv_to_parquet.py", *argv],
        cwd=ROOT,
        env={**job_env(), "LAKEJOBS_PAUSE_TASK": str(paused)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, which a terminal's Ctrl-C signals whole
    )
    try:
        wait_for_file(paused, process)  # a task of the read's Spark job is running
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        paused.unlink(missing_ok=True)
        process.kill()
    message = "orders: the run was interrupted (Ctrl-C) in stage read_validate_and_stage"
    assert (process.returncode, err.splitlines()) == (
        130,
        ["interrupted: cancelling Spark's jobs (Ctrl-C again stops at once)", f"csv_to_parquet: error: {message}"],
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert (result["status"], result["error"], result["rows_written"]) == ("FAILED", message, 0)
    [report] = (tmp_path / "orders_lakejobs" / "runs" / "csv_to_parquet").glob("*.json")
    assert json.loads(report.read_text())["error"] == message
    assert not output.exists()
    assert csv_to_parquet.main(argv) == 0  # a rerun converts every line
    assert spark.read.parquet(str(output)).count() == len(read_raw_rows(SAMPLE_RAW / "orders"))


@pytest.mark.parametrize("option", ["--output_path", "--quarantine_path", "--report_path"])
def test_an_unwritable_location_is_one_line_and_exit_2_before_anything_runs(tmp_path, capsys, option):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    target = tmp_path / "blocker" / "orders"
    paths = {"--output_path": str(tmp_path / "out" / "orders"), option: str(target)}
    argv = ["--dataset", "orders", "--input_path", str(SAMPLE_RAW / "orders")]
    argv += [token for name, value in paths.items() for token in (name, value)]
    assert csv_to_parquet.main(argv) == 2
    assert capsys.readouterr().err == (
        f"csv_to_parquet: error: {option} {target} cannot be written: {tmp_path / 'blocker'} is a file, not a folder\n"
    )
    assert not (tmp_path / "out").exists()
