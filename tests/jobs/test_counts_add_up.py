"""A row lost between the checks and the write stops the run: ``rows_written`` is what the write counted.

Each test loses one row where no check sees it (after the rows were counted, before the write
counts its own), as a writer or a changed plan could, and expects the one-line refusal.
"""

import json

import pytest
from pyspark.sql import functions as F

from lakejobs import fs
from lakejobs.errors import LakejobsError
from lakejobs.jobs import csv_to_parquet, sales_mart
from tests.jobs.test_csv_to_parquet import dirty_orders, orders_argv, run_job  # noqa: F401 - a fixture
from tests.jobs.test_sales_mart import run_mart, write_processed

LOST_LINE = 110667  # salesorderdetailid of the first of the 20 good lines of dirty_orders


def losing_one_line(frame):
    return frame.filter(F.col("salesorderdetailid") != LOST_LINE)


def test_a_row_lost_before_the_staged_write_publishes_nothing(spark, dirty_orders, tmp_path, monkeypatch):  # noqa: F811
    observed_good_rows = csv_to_parquet.observed_good_rows

    def losing_after_the_observation(args, checked_df):
        good_df, observation, missing = observed_good_rows(args, checked_df)
        return losing_one_line(good_df), observation, missing

    monkeypatch.setattr(csv_to_parquet, "observed_good_rows", losing_after_the_observation)
    with pytest.raises(LakejobsError) as raised:
        run_job(spark, orders_argv(dirty_orders, tmp_path / "out", 0.5))
    output = tmp_path / "out" / "orders"
    assert str(raised.value) == (
        f"28 rows read and 8 quarantined, but 19 written to {output}'s staging folder instead of 20: "
        "the counts do not add up, so this run is not complete"
    )
    assert not fs.exists(spark, str(output))
    assert not fs.exists(spark, str(tmp_path / "out" / "quarantine"))


def test_a_row_lost_before_the_persisted_write_fails_the_run(spark, dirty_orders, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(csv_to_parquet, "takes_single_pass", lambda args: False)
    valid = csv_to_parquet.filter_valid
    monkeypatch.setattr(csv_to_parquet, "filter_valid", lambda dataset: lambda df: losing_one_line(valid(dataset)(df)))
    argv = orders_argv(dirty_orders, tmp_path / "out", 0.5) + ["--report_path", str(tmp_path / "runs")]
    with pytest.raises(LakejobsError) as raised:
        run_job(spark, argv)
    assert str(raised.value) == (
        f"28 rows read and 8 quarantined, but 19 written to {tmp_path / 'out' / 'orders'} instead of 20: "
        "the counts do not add up, so this run is not complete"
    )
    # Its FAILED report names what it had replaced: the table (19 rows) and the quarantine.
    [report] = [json.loads(path.read_text()) for path in (tmp_path / "runs" / "csv_to_parquet").iterdir()]
    outputs = [(output["name"], output["rows"]) for output in report["outputs"]]
    assert (report["status"], outputs) == ("FAILED", [("orders", 19), ("quarantine", 8)])


def test_a_line_lost_before_mart_sales_is_written_fails_the_run(spark, tmp_path, monkeypatch):
    processed = write_processed(spark, tmp_path / "processed", [(1, 11, 21), (2, 11, 21), (3, 11, 21)])
    write_table = sales_mart.write_table

    def losing_line_2(df, path, name, *args, **kwargs):
        kept = df.filter(F.col("salesorderdetailid") != 2) if name == "sales" else df
        return write_table(kept, path, name, *args, **kwargs)

    monkeypatch.setattr(sales_mart, "write_table", losing_line_2)
    with pytest.raises(LakejobsError) as raised:
        run_mart(spark, processed, tmp_path / "mart", "flag")
    assert str(raised.value) == (
        f"3 rows read and 0 quarantined, but 2 written to {tmp_path / 'mart'}/sales instead of 3: "
        "the counts do not add up, so this run is not complete"
    )
