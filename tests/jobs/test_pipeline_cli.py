"""``lakejobs pipeline`` without an action is still the local pipeline (``make run``).

The full local run is covered by the pipeline tests; here the CLI's dispatch is checked
cheaply: the local run reports its own missing-input error, in one line.
"""

import shutil

from lakejobs import cli
from tests.conftest import SAMPLE_RAW


def test_lakejobs_pipeline_without_an_action_runs_the_local_pipeline(spark, tmp_path, capsys):
    raw = tmp_path / "no-raw"
    assert cli.main(["pipeline", "--raw", str(raw), "--lake", str(tmp_path / "lake")]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"lakejobs: error: input path does not exist: {raw}/customers\n"
    assert captured.out == ""


def test_a_raw_zone_without_orders_is_refused_before_any_step_writes(spark, tmp_path, capsys):
    """Until session 46 customers and employees were converted, then the orders step failed."""
    raw, lake = tmp_path / "raw", tmp_path / "lake"
    for dataset in ("customers", "employees"):
        shutil.copytree(SAMPLE_RAW / dataset, raw / dataset)
    assert cli.main(["pipeline", "--raw", str(raw), "--lake", str(lake)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"lakejobs: error: input path does not exist: {raw}/orders\n"
    assert not lake.exists()
