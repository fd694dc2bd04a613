"""sales_mart safety: failed runs keep the old mart, one place per line, repeated keys, Delta read as Parquet."""

import json
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakejobs.errors import LakejobsError
from lakejobs.jobs import sales_mart
from lakejobs.schemas import CUSTOMERS, ORDERS
from tests.conftest import stderr_lines
from tests.jobs.test_sales_mart import order_line, run_mart, write_processed

DUPLICATE = "duplicate_key:salesorderid,salesorderdetailid"


def test_a_run_failing_while_writing_a_summary_leaves_the_previous_summary(spark, tmp_path, monkeypatch):
    mart = tmp_path / "mart"
    run_mart(spark, write_processed(spark, tmp_path / "p1", [(1, 11, 21, 3), (2, 11, 21, 4)]), mart, "flag")
    first = spark.read.parquet(str(mart / "customer_summary"))
    before = spark.createDataFrame(first.collect(), first.schema)  # kept in memory, not read again
    real = sales_mart.customer_summary
    failing = F.when(F.lit(True), F.raise_error(F.lit("simulated task failure"))).otherwise(F.col("customerid"))
    monkeypatch.setattr(sales_mart, "customer_summary", lambda df: real(df).withColumn("customerid", failing))
    processed = write_processed(spark, tmp_path / "p2", [(1, 11, 21, 3), (2, 11, 21, 4), (3, 11, 21, 5)])
    with pytest.raises(LakejobsError, match="the run failed in stage write_summaries: .*simulated task failure"):
        run_mart(spark, processed, mart, "flag")
    after = spark.read.parquet(str(mart / "customer_summary"))
    assert_df_equality(after, before, ignore_row_order=True, ignore_nullable=True)
    assert (before.count(), sorted(p.name for p in (mart / "customer_summary").glob("_*"))) == (1, ["_SUCCESS"])
    # Its FAILED report names the tables it had replaced (until session 43 it listed none).
    reports = [json.loads(path.read_text()) for path in (tmp_path / "mart_lakejobs" / "runs" / "sales_mart").iterdir()]
    [failed] = [report for report in reports if report["status"] == "FAILED"]
    assert [(output["name"], output["rows"]) for output in failed["outputs"]] == [
        ("sales", 3),
        ("sales_by_employee_month", spark.read.parquet(str(mart / "sales_by_employee_month")).count()),
    ]


@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED"])
def test_a_run_taking_over_a_dead_runs_lock_marks_its_running_report_failed(spark, tmp_path, status):
    """A killed run leaves its report RUNNING (written when it took the lock); until session 48 it left none."""
    import os
    import socket
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    holder = {"job": "sales_mart", "run_id": "r-killed", "pid": gone.pid, "host": socket.gethostname()}
    (tmp_path / "mart_lakejobs.lock").write_text(json.dumps({**holder, "since": "2026-12-07T10:00:00+00:00"}))
    left = tmp_path / "mart_lakejobs" / "runs" / "sales_mart" / "r-killed.json"
    left.parent.mkdir(parents=True)
    left.write_text(json.dumps({"job": "sales_mart", "run_id": "r-killed", "status": status, "error": None}) + "\n")
    result = run_mart(spark, write_processed(spark, tmp_path / "p", [(1, 11, 21, 3)]), tmp_path / "mart", "flag")
    assert result.status == "SUCCEEDED"
    expected = {"job": "sales_mart", "run_id": "r-killed", "status": status, "error": None}
    if status == "RUNNING":
        expected["status"] = "FAILED"
        expected["error"] = (
            f"the run ended without a result: its process (pid {gone.pid} on {socket.gethostname()}) was gone when "
            f"run {result.run_id} took over its lock (killed, or its machine stopped)"
        )
    assert json.loads(left.read_text()) == expected
    assert not os.path.exists(tmp_path / "mart_lakejobs.lock")


def test_a_flag_run_after_a_quarantine_run_removes_the_stale_quarantine(spark, tmp_path):
    processed = write_processed(spark, tmp_path / "p", [(1, 11, 21), (2, 99, 21)])
    first = run_mart(spark, processed, tmp_path / "mart", "quarantine")
    assert (first.rows_written, first.rows_quarantined) == (1, 1)
    assert (tmp_path / "mart" / "_quarantine" / "sales").is_dir()
    second = run_mart(spark, processed, tmp_path / "mart", "flag")
    assert (second.rows_read, second.rows_written, second.rows_quarantined) == (2, 2, 0)
    sales = spark.read.parquet(str(tmp_path / "mart" / "sales"))
    assert sorted(row.salesorderdetailid for row in sales.collect()) == [1, 2]
    assert not (tmp_path / "mart" / "_quarantine" / "sales").exists()


def test_a_line_an_earlier_run_quarantined_stays_there_until_the_mart_holds_it(spark, tmp_path, monkeypatch):
    """The quarantine was replaced first: a failed sales write left such a line in neither place."""
    mart, quarantine = tmp_path / "mart", tmp_path / "mart" / "_quarantine" / "sales"
    processed = write_processed(spark, tmp_path / "p", [(1, 11, 21), (2, 99, 21), (3, 77, 21), (4, 88, 98)])
    first = run_mart(spark, processed, mart, "quarantine")
    # Customers 99 and 88 arrive: line 2 is published now, line 4 quarantined for its employee alone
    # (its record's JSON now holds the customer's name: another text for the same line).
    new_customers = [(99, "Cy", "Doe", "Cy Doe"), (88, "Di", "Roe", "Di Roe")]
    spark.createDataFrame(new_customers, CUSTOMERS).write.mode("append").parquet(str(processed / "customers"))
    real = sales_mart.write_table

    def failing_sales(df, path, name, *args, **kwargs):
        if name == "sales":
            raise RuntimeError("simulated write failure")
        return real(df, path, name, *args, **kwargs)

    monkeypatch.setattr(sales_mart, "write_table", failing_sales)
    for _failed_run in range(2):  # each failed run: the earlier record of line 2, its own of 3 and 4
        with pytest.raises(LakejobsError, match="the run failed in stage write_sales: .*simulated write failure"):
            run_mart(spark, processed, mart, "quarantine")
        assert sorted(row.salesorderdetailid for row in spark.read.parquet(str(mart / "sales")).collect()) == [1]
        records = spark.read.schema("raw_line string, reason string, run_id string").json(str(quarantine)).collect()
        assert sorted((json.loads(r.raw_line)["salesorderdetailid"], r.run_id == first.run_id) for r in records) == [
            (2, True),
            (3, False),
            (4, False),
        ]
    [failed_run] = {r.run_id for r in records if r.run_id != first.run_id}
    report = json.loads((mart.parent / "mart_lakejobs" / "runs" / "sales_mart" / f"{failed_run}.json").read_text())
    assert (report["status"], report["rows_read"], report["rows_quarantined"]) == ("FAILED", 4, 2)
    monkeypatch.undo()
    second = run_mart(spark, processed, mart, "quarantine")
    assert (second.rows_read, second.rows_written, second.rows_quarantined) == (4, 2, 2)
    assert sorted(row.salesorderdetailid for row in spark.read.parquet(str(mart / "sales")).collect()) == [1, 2]
    records = spark.read.schema("raw_line string, reason string, run_id string").json(str(quarantine)).collect()
    assert sorted((json.loads(r.raw_line)["salesorderdetailid"], r.reason, r.run_id) for r in records) == [
        (3, "unknown_customer", second.run_id),
        (4, "unknown_employee", second.run_id),
    ]


def processed_with_a_line_delivered_twice(spark, root):
    """Processed orders where line 1 came again in a later file (an incremental re-delivery)."""
    write_processed(spark, root, [(1, 11, 21), (2, 11, 21), (3, 99, 21)])
    again = spark.createDataFrame([order_line(1, 11, 21) + (Decimal("0.0000"), Decimal("10.0000"))], ORDERS)
    again = again.withColumn("order_year", F.year("orderdate"))
    again.coalesce(1).write.mode("append").partitionBy("order_year").parquet(str(root / "orders"))
    assert spark.read.parquet(str(root / "orders")).count() == 4
    return root


@pytest.mark.parametrize("policy", ["flag", "quarantine"])
def test_a_repeated_order_line_key_is_quarantined_once_and_not_summed_twice(spark, tmp_path, policy):
    processed = processed_with_a_line_delivered_twice(spark, tmp_path / "p")
    result = run_mart(spark, processed, tmp_path / "mart", policy)
    unknown = 1 if policy == "quarantine" else 0
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (4, 3 - unknown, 1 + unknown)
    assert result.quarantine_reasons == {DUPLICATE: 1, **({"unknown_customer": 1} if unknown else {})}
    assert result.details == {
        "lines": 4,
        "unknown_customer": 1,
        "unknown_employee": 0,
        "unknown_customer_and_employee": 0,
        DUPLICATE: 1,
        "unknown_keys_policy": policy,
    }
    sales = spark.read.parquet(str(tmp_path / "mart" / "sales"))
    assert sorted(row.salesorderdetailid for row in sales.collect()) == [1, 2] + ([] if unknown else [3])
    summary = spark.read.parquet(str(tmp_path / "mart" / "customer_summary")).filter("customerid = 11")
    assert [(row.order_count, row.line_count, str(row.line_total)) for row in summary.collect()] == [(2, 2, "20.0000")]
    quarantine = spark.read.schema("raw_line string, reason string, detail string").json(
        str(tmp_path / "mart" / "_quarantine" / "sales")
    )
    got = sorted((json.loads(r.raw_line)["salesorderdetailid"], r.reason, r.detail) for r in quarantine.collect())
    assert got == [(1, DUPLICATE, "key (101, 1) appears more than once in the processed orders")] + (
        [(3, "unknown_customer", "customerid=99, employeeid=21")] if unknown else []
    )


@pytest.mark.parametrize(
    "written, read, message",
    [
        (
            "delta",
            "parquet",
            "is a Delta table (it has a _delta_log): read it with --format delta, not --format parquet",
        ),
        ("parquet", "delta", "is not a Delta table (it has no Delta commit): read it with --format parquet"),
    ],
)
def test_processed_tables_read_in_the_other_format_are_refused_in_one_line(
    spark, tmp_path, capsys, written, read, message
):
    processed = write_processed(spark, tmp_path / "p", [(1, 11, 21)], fmt=written)
    argv = ["--processed_path", str(processed), "--mart_path", str(tmp_path / "mart"), "--format", read]
    capsys.readouterr()
    code = sales_mart.main(argv)
    captured = capsys.readouterr()
    assert (code, stderr_lines(captured.err)) == (2, [f"sales_mart: error: {processed}/orders {message}"])
    assert not (tmp_path / "mart" / "sales").exists()


def test_a_quarantined_line_keeps_its_null_fields_and_a_summary_keys_a_missing_id(spark, tmp_path):
    processed = write_processed(spark, tmp_path / "p", [(1, None, 21), (2, 11, None)])
    run_mart(spark, processed, tmp_path / "q_mart", "quarantine")
    quarantine = spark.read.schema("raw_line string, reason string").json(
        str(tmp_path / "q_mart" / "_quarantine" / "sales")
    )
    raw = {r.reason: json.loads(r.raw_line) for r in quarantine.collect()}
    assert (raw["unknown_customer"]["customerid"], raw["unknown_employee"]["employeeid"]) == (None, None)
    assert (raw["unknown_customer"]["employeeid"], raw["unknown_employee"]["customerid"]) == (21, 11)
    assert (raw["unknown_customer"]["customer_name"], raw["unknown_employee"]["employee_name"]) == (None, None)

    run_mart(spark, processed, tmp_path / "mart", "flag")
    customers = spark.read.parquet(str(tmp_path / "mart" / "customer_summary"))
    employees = spark.read.parquet(str(tmp_path / "mart" / "sales_by_employee_month"))
    assert sorted((r.customerid, r.customer_known, r.line_count) for r in customers.collect()) == [
        (-1, False, 1),
        (11, True, 1),
    ]
    assert sorted((r.employeeid, r.employee_known, r.line_count) for r in employees.collect()) == [
        (-1, False, 1),
        (21, True, 1),
    ]


@pytest.mark.parametrize("option", ["--quarantine_path", "--mart_path", "--report_path"])
def test_a_mart_output_that_is_a_file_is_refused_before_spark_starts_and_kept(spark, tmp_path, capsys, option):
    processed = write_processed(spark, tmp_path / "p", [(1, 11, 21)])
    notes = tmp_path / "notes.txt"
    notes.write_text("kept")
    paths = {"--mart_path": str(tmp_path / "mart"), "--quarantine_path": str(tmp_path / "q"), option: str(notes)}
    argv = ["--processed_path", str(processed), *[token for item in paths.items() for token in item]]
    capsys.readouterr()
    code = sales_mart.main(argv)
    assert (code, stderr_lines(capsys.readouterr().err)) == (
        2,
        [f"sales_mart: error: {option} {notes} cannot be written: {notes} is a file, not a folder"],
    )
    assert notes.read_text() == "kept"


def test_a_raw_zone_given_as_the_processed_tables_is_refused_in_one_line(spark, tmp_path, capsys):
    """Until session 48 the run failed inside Spark, exit 1: ``... is not a Parquet file. Expected magic number``."""
    from tests.conftest import SAMPLE_RAW

    argv = ["--processed_path", str(SAMPLE_RAW), "--mart_path", str(tmp_path / "mart")]
    capsys.readouterr()
    assert sales_mart.main(argv) == 2
    [line] = stderr_lines(capsys.readouterr().err)
    assert line == (
        f"sales_mart: error: {SAMPLE_RAW}/orders holds csv files (orders-00000.csv), not a Parquet table: give the "
        "folder of the tables the jobs wrote (e.g. the lake's processedData/)"
    )
    assert not (tmp_path / "mart").exists()
