"""``lakejobs pipeline`` without an action is still the local pipeline (``make run``).

The full local run is covered by the pipeline tests; here the CLI's dispatch is checked
cheaply: the local run reports its own missing-input error, in one line.
"""

import json
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


def test_a_failed_step_ends_the_output_with_the_pipelines_failed_result(spark, tmp_path, capsys):
    """Until session 46 the last line was the failed step's own result: the steps before it were not in it."""
    raw, lake = tmp_path / "raw", tmp_path / "lake"
    for dataset in ("customers", "employees"):
        shutil.copytree(SAMPLE_RAW / dataset, raw / dataset)
    (raw / "orders").mkdir()
    (raw / "orders" / "bad.csv").write_text("not,an,order\n" * 3)
    assert cli.main(["pipeline", "--raw", str(raw), "--lake", str(lake)]) == 1
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    steps = [
        (step["step"], step["status"], step["rows_read"], step["rows_quarantined"])
        for step in result["details"]["steps"]
    ]
    customers, employees = (
        len((SAMPLE_RAW / name / f"{name}.csv").read_text().splitlines()) for name in ("customers", "employees")
    )
    assert (result["job"], result["status"], result["rows_read"]) == ("pipeline", "FAILED", customers + employees + 3)
    assert steps == [
        ("csv_to_parquet customers", "SUCCEEDED", customers, 0),
        ("csv_to_parquet employees", "SUCCEEDED", employees, 0),
        ("csv_to_parquet orders", "FAILED", 3, 3),
    ]
    assert result["error"].startswith("orders: 3 of 3 rows (100.00%) are bad")
    assert saved_report(lake, result) == result


def saved_report(lake, result):
    return json.loads((lake / "_lakejobs" / "runs" / "pipeline" / f"{result['run_id']}.json").read_text())


def test_the_pipelines_own_result_is_saved_beside_its_steps_reports(spark, tmp_path, capsys):
    """Until session 47 only the steps left reports: the pipeline's totals were on stdout alone."""
    lake = tmp_path / "lake"
    assert cli.main(["pipeline", "--raw", str(SAMPLE_RAW), "--lake", str(lake)]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert saved_report(lake, result) == result
    assert result["inputs"] == {name: f"{SAMPLE_RAW}/{name}" for name in ("customers", "employees", "orders")}
    assert (result["job"], result["status"], result["rows_read"], result["rows_written"]) == (
        "pipeline",
        "SUCCEEDED",
        358,
        358,
    )
    assert sorted(path.parent.name for path in (lake / "_lakejobs" / "runs").rglob("*.json")) == [
        "csv_to_parquet",
        "csv_to_parquet",
        "csv_to_parquet",
        "pipeline",
        "sales_mart",
    ]
    assert cli.main(["report", "--lake", str(lake)]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [row.split()[2] for row in rows] == [
        "sales_mart",
        "csv_to_parquet",
        "csv_to_parquet",
        "csv_to_parquet",
        "pipeline",
    ]
    assert rows[-1].split()[4:7] == ["SUCCEEDED", "358", "358"]  # started first, so listed last (newest first)


def test_a_step_refused_after_spark_started_prints_no_result_and_saves_the_pipelines_report(
    spark, sample_lake, tmp_path, capsys
):
    """A refused run (exit 2) prints no result; until session 48 the pipeline printed a FAILED one."""
    lake = tmp_path / "lake"
    shutil.copytree(sample_lake / "processedData", lake / "processedData")
    assert cli.main(["pipeline", "--raw", str(SAMPLE_RAW), "--lake", str(lake), "--format", "delta"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[-1].startswith(
        "lakejobs: error: step csv_to_parquet customers (its paths come from --raw and --lake): "
        f"--output_path {lake / 'processedData' / 'customers'} holds parquet files"
    )
    [report] = [json.loads(path.read_text()) for path in (lake / "_lakejobs" / "runs" / "pipeline").glob("*.json")]
    assert (report["status"], report["error"]) == ("FAILED", captured.err.splitlines()[-1][len("lakejobs: error: ") :])


def test_an_incremental_pipeline_names_every_state_of_other_paths_before_any_step(spark, tmp_path, capsys):
    """Until session 49 each dataset's state was named by a failed run of its own, one after the other."""
    lake = tmp_path / "lake"
    states = lake / "_lakejobs" / "state" / "csv_to_parquet"
    states.mkdir(parents=True)
    for dataset in ("customers", "orders"):
        state = {"job": "csv_to_parquet", "input_path": f"s3://old/rawData/{dataset}", "output_path": ""}
        (states / f"{dataset}.json").write_text(json.dumps({**state, "processed": {}, "batches": [], "pending": None}))
    assert cli.main(["pipeline", "--raw", str(SAMPLE_RAW), "--lake", str(lake), "--incremental"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "lakejobs: error: the incremental states of csv_to_parquet customers, csv_to_parquet orders are for other "
        f"paths than this pipeline's (e.g. {states / 'customers.json'} is for --input_path s3://old/rawData/customers, "
        f"not {SAMPLE_RAW}/customers): run the pipeline with the --raw and --lake they were written for, or, to "
        "convert every input file again, run lakejobs state reset csv_to_parquet --state_path "
        f"{states / 'customers.json'}; lakejobs state reset csv_to_parquet --state_path {states / 'orders.json'}"
    )
    assert sorted(path.name for path in lake.iterdir()) == ["_lakejobs"]
