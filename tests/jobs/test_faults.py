"""Faults a batch job meets: a task failing on its first attempt, unwritable and missing locations."""

import json
import subprocess
import sys

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
