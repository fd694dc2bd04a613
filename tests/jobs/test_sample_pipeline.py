"""The whole sales pipeline on the bundled sample, checked against an independent reading of the raw files."""

from collections import defaultdict
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs.pipeline import run_pipeline
from lakejobs.schemas import ORDERS
from tests.conftest import SAMPLE_RAW, expected_orders_of_rows, read_raw_rows, typed_order

ORDER_LINES = read_raw_rows(SAMPLE_RAW / "orders")


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    lake = tmp_path_factory.mktemp("lake")
    results = run_pipeline(spark, str(SAMPLE_RAW), str(lake))
    return lake, results


def files_below(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_every_step_reads_writes_and_quarantines_the_exact_counts(lake):
    _lake, results = lake
    assert [(r.job, r.status, r.rows_read, r.rows_written, r.rows_quarantined) for r in results] == [
        ("csv_to_parquet", "SUCCEEDED", 40, 40, 0),
        ("csv_to_parquet", "SUCCEEDED", 18, 18, 0),
        ("csv_to_parquet", "SUCCEEDED", 300, 300, 0),
        ("sales_mart", "SUCCEEDED", 300, 300, 0),
    ]
    assert results[3].details == {
        "lines": 300,
        "unknown_customer": 0,
        "unknown_employee": 0,
        "unknown_customer_and_employee": 0,
        "unknown_keys_policy": "flag",
    }


def test_processed_orders_equal_an_independent_parse_of_the_raw_lines(spark, lake):
    path, _results = lake
    expected = expected_orders_of_rows(spark, ORDER_LINES)
    actual = spark.read.parquet(str(path / "processedData" / "orders"))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_processed_orders_are_partitioned_by_year_with_one_file_each(lake):
    path, results = lake
    data_files = [f for f in files_below(path / "processedData" / "orders") if f.endswith(".parquet")]
    assert [f.split("/")[0] for f in data_files] == [f"order_year={year}" for year in (2011, 2012, 2013, 2014)]
    assert all(f.endswith(".snappy.parquet") for f in data_files)
    assert results[2].outputs[0].files == 4


def test_the_course_rows_arrive_typed_with_decimal_money(spark, lake):
    path, _results = lake
    orders = spark.read.parquet(str(path / "processedData" / "orders"))
    assert {f.name: f.dataType for f in orders.schema.fields if f.name in ("subtotal", "linetotal", "orderdate")} == {
        "orderdate": T.DateType(),
        "subtotal": T.DecimalType(17, 4),
        "linetotal": T.DecimalType(17, 4),
    }
    course = orders.filter(F.col("salesorderdetailid").isin(110667, 1732, 2005)).select(
        "salesorderid", "orderdate", "totaldue", "linetotal"
    )
    expected = spark.createDataFrame(
        [typed_order(row) for row in ORDER_LINES if row[1] in ("110667", "1732", "2005")], ORDERS
    ).select("salesorderid", "orderdate", "totaldue", "linetotal")
    assert_df_equality(course, expected, ignore_row_order=True, ignore_nullable=True)


def test_mart_line_money_per_month_agrees_with_the_raw_input(spark, lake):
    path, _results = lake
    expected = defaultdict(lambda: Decimal("0"))
    for row in ORDER_LINES:
        typed = typed_order(row)
        expected[(typed[2].year, typed[2].month)] += typed[15]
    expected_df = spark.createDataFrame(
        [(year, month, total) for (year, month), total in expected.items()],
        "order_year int, order_month int, line_total decimal(27,4)",
    )
    sales = spark.read.parquet(str(path / "mart" / "sales"))
    actual = sales.groupBy("order_year", "order_month").agg(
        F.sum("linetotal").cast("decimal(27,4)").alias("line_total")
    )
    assert_df_equality(actual, expected_df, ignore_row_order=True, ignore_nullable=True)
    assert sales.filter(~F.col("customer_known") | ~F.col("employee_known")).count() == 0


def test_mart_sales_equals_an_independent_join_of_the_raw_files(spark, lake):
    path, _results = lake
    customers = {int(row[0]): row[3] or None for row in read_raw_rows(SAMPLE_RAW / "customers")}
    employees = {
        int(row[0]): {
            "employee_name": row[4] or None,
            "territory": row[9] or None,
            "country": row[10] or None,
            "territory_group": row[11] or None,
        }
        for row in read_raw_rows(SAMPLE_RAW / "employees")
    }
    rows = []
    for row in ORDER_LINES:
        typed = typed_order(row)
        line = dict(zip(ORDERS.fieldNames(), typed))
        line.update(order_year=typed[2].year, order_month=typed[2].month, customer_known=True, employee_known=True)
        line.update(customer_name=customers[line["customerid"]], **employees[line["employeeid"]])
        rows.append(line)
    sales = spark.read.parquet(str(path / "mart" / "sales"))
    expected = spark.createDataFrame([tuple(line[name] for name in sales.columns) for line in rows], sales.schema)
    assert_df_equality(sales, expected, ignore_row_order=True, ignore_nullable=True)


def test_customer_summary_counts_order_money_once_per_order(spark, lake):
    path, _results = lake
    names = {row[0]: row[3] for row in read_raw_rows(SAMPLE_RAW / "customers")}
    orders, lines = {}, defaultdict(list)
    for row in ORDER_LINES:
        typed = typed_order(row)
        orders[typed[0]] = (typed[6], typed[10], typed[2])  # customer, totaldue, orderdate
        lines[typed[6]].append(typed[15])
    per_customer = defaultdict(list)
    for customer, totaldue, orderdate in orders.values():
        per_customer[customer].append((totaldue, orderdate))
    expected = spark.createDataFrame(
        [
            (
                customer,
                names[str(customer)],
                True,
                len(items),
                len(lines[customer]),
                sum(lines[customer]),
                sum(t for t, _d in items),
                min(d for _t, d in items),
                max(d for _t, d in items),
            )
            for customer, items in per_customer.items()
        ],
        "customerid int, customer_name string, customer_known boolean, order_count long, line_count long, "
        "line_total decimal(27,4), total_due decimal(27,4), first_order_date date, last_order_date date",
    )
    actual = spark.read.parquet(str(path / "mart" / "customer_summary"))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_mart_sales_has_one_file_per_month_partition(lake):
    path, results = lake
    months = {(r[2].year, r[2].month) for r in map(typed_order, ORDER_LINES)}
    data_files = [f for f in files_below(path / "mart" / "sales") if f.endswith(".parquet")]
    assert sorted(f.rsplit("/", 1)[0] for f in data_files) == sorted(
        f"order_year={y}/order_month={m}" for y, m in months
    )
    assert results[3].outputs[0].files == len(months)


def test_run_reports_are_written_for_every_job(lake):
    path, results = lake
    reports = files_below(path / "_lakejobs" / "runs")
    assert reports == sorted(f"{r.job}/{r.run_id}.json" for r in results)


def test_a_rerun_gives_identical_tables_and_replaces_files(spark, lake):
    path, _results = lake
    tables = [
        "processedData/orders",
        "processedData/customers",
        "processedData/employees",
        "mart/sales",
        "mart/sales_by_employee_month",
        "mart/customer_summary",
    ]
    before = {t: spark.read.parquet(str(path / t)).localCheckpoint() for t in tables}
    files_before = {t: data_files(path / t) for t in tables}
    rerun = run_pipeline(spark, str(SAMPLE_RAW), str(path))
    assert [r.rows_written for r in rerun] == [40, 18, 300, 300]
    for table in tables:
        assert_df_equality(spark.read.parquet(str(path / table)), before[table], ignore_row_order=True)
        files_after = data_files(path / table)
        # As many files, all new: each write names its files with its own UUID.
        assert (table, len(files_after)) == (table, len(files_before[table]))
        assert (table, files_after & files_before[table]) == (table, set())


def data_files(folder):
    return {f for f in files_below(folder) if f.endswith(".parquet")}
