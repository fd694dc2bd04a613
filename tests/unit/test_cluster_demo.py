"""``make cluster-demo`` keeps its logs and removes what it unpacked and shipped; a failed submit says why."""

import sys

import pytest

from lakejobs import cluster
from lakejobs.clusterdemo import remove_all_but_logs
from lakejobs.errors import LakejobsError


def test_only_the_logs_of_a_demo_run_are_kept(tmp_path):
    files = [
        "spark/master.log",
        "spark/worker/app-1/0/stderr",
        "spark/worker/app-1/0/stdout",
        "spark/worker/app-1/0/lakejobs-lib.zip",
        "env-driver/environment/bin/python3.11",
        "zip-driver/lakejobs-lib.zip",
        "zip: convert-orders.log",
    ]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "env-driver" / "environment" / "bin" / "python").symlink_to("/usr/bin/python3")
    remove_all_but_logs(tmp_path)
    kept = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    assert kept == [
        "spark/master.log",
        "spark/worker/app-1/0/stderr",
        "spark/worker/app-1/0/stdout",
        "zip: convert-orders.log",
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["spark", "zip: convert-orders.log"]


def test_a_failed_submit_names_the_jobs_error_line_which_spark_submit_sent_to_stdout(tmp_path):
    """spark-submit's Python runner sends a job's stderr to stdout: the error was "see <log>" only."""
    job = "import sys; print('csv_to_parquet: error: orders: no such input'); sys.exit(2)"
    shipping = cluster.LibraryShipping(name="zip", options=(), cwd=tmp_path)
    with pytest.raises(LakejobsError) as raised:
        cluster.run_submit([sys.executable, "-c", job], shipping, tmp_path / "job.log")
    assert str(raised.value) == "spark-submit exited with 2: csv_to_parquet: error: orders: no such input"
