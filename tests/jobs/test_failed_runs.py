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
