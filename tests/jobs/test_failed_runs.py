"""A field job or the mart failing inside Spark: one line naming the stage and cause, and a FAILED report."""

import json

from lakejobs.generate_field import TAXI_COLUMNS
from lakejobs.jobs import fieldjob, taxi_trips
from tests.jobs.test_taxi_trips import BAD, GOOD


def test_a_field_job_failing_while_writing_names_the_stage_and_cause_and_reports_failed(
    spark, tmp_path, capsys, monkeypatch
):
    # Local paths are checked before Spark starts (a file there is refused): skip that, as for S3.
    monkeypatch.setattr(fieldjob, "preflight", lambda args: None)
    raw = tmp_path / "raw"
    raw.mkdir()
    zero_duration = next(line for line, reason in BAD.items() if reason == "zero_duration")
    (raw / "trips.csv").write_text("\n".join([",".join(TAXI_COLUMNS), *GOOD, zero_duration]) + "\n")
    (tmp_path / "trips").write_text("a file where the table should go")
    reports = tmp_path / "reports"
    argv = ["--input_path", str(raw), "--output_path", str(tmp_path / "trips"), "--report_path", str(reports)]
    argv += ["--max_bad_fraction", "0.5"]
    code = taxi_trips.main(argv)
    captured = capsys.readouterr()
    message = (
        "the run failed in stage write: ParentNotDirectoryException: Parent path is not a directory: "
        f"file:{tmp_path}/trips"
    )
    assert code == 1
    assert captured.err.splitlines()[-1] == f"taxi_trips: error: {message}"
    [report] = list((reports / "taxi_trips").glob("*.json"))
    saved = json.loads(report.read_text())
    assert (saved["status"], saved["error"], saved["rows_read"]) == ("FAILED", message, len(GOOD) + 1)
    # The quarantine is published before the table: the report lists it, as it was replaced.
    assert [(output["name"], output["rows"]) for output in saved["outputs"]] == [("quarantine", 1)]
    assert json.loads(captured.out.splitlines()[-1]) == saved  # the result line is the report


def test_a_second_ctrl_c_leaves_the_report_failed_as_interrupted_not_running(spark, tmp_path, monkeypatch):
    """A KeyboardInterrupt passes the jobs' error handling: the report written RUNNING at the lock stayed so."""
    import pytest

    from lakejobs.jobs import csv_to_parquet

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "p.csv").write_text("a1,1.50\n")

    def second_ctrl_c(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(csv_to_parquet, "clear_staging", second_ctrl_c)  # just after the RUNNING report
    argv = ["--schema", "sku STRING, price DECIMAL(10,2)", "--input_path", str(tmp_path / "in")]
    with pytest.raises(KeyboardInterrupt):
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv + ["--output_path", str(tmp_path / "out")]))
    [report] = [json.loads(path.read_text()) for path in (tmp_path / "out_lakejobs" / "runs").rglob("*.json")]
    assert (report["status"], report["error"]) == ("FAILED", "out: the run was interrupted (Ctrl-C) in stage start")
    assert not (tmp_path / "out_lakejobs.lock").exists()
