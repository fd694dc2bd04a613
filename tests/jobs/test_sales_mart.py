"""sales_mart on processed tables with unknown keys: flagged or quarantined, every line accounted for."""

import datetime as dt
import json
import shutil
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs.catalog import MART_SCHEMAS
from lakejobs.jobs import sales_mart
from lakejobs.schemas import CUSTOMERS, EMPLOYEES, ORDERS
from tests.parquet_layout import columns_without_dictionary

KNOWN_CUSTOMER, KNOWN_EMPLOYEE = 11, 21
#: (salesorderdetailid, customerid, employeeid): one known line and one line per unknown-key reason.
LINES = [(1, 11, 21), (2, 99, 21), (3, 11, 98), (4, 99, 98)]


def order_line(detail_id, customer, employee, month=3, line_id=None):
    day = dt.date(2013, month, detail_id)
    money = Decimal("10.0000")
    line_id = detail_id if line_id is None else line_id
    return (100 + detail_id, line_id, day, day, day, employee, customer, money, money, money, money, 7, 1, money)


def write_processed(spark, root, lines, fmt="parquet"):
    orders = spark.createDataFrame(
        [order_line(*line) + (Decimal("0.0000"), Decimal("10.0000")) for line in lines], ORDERS
    ).withColumn("order_year", F.year("orderdate"))
    orders.coalesce(1).write.partitionBy("order_year").format(fmt).save(str(root / "orders"))
    spark.createDataFrame([(KNOWN_CUSTOMER, "Ada", "Byron", "Ada Byron")], CUSTOMERS).write.format(fmt).save(
        str(root / "customers")
    )
    employee = (KNOWN_EMPLOYEE, None, "Bo", "Li", "Bo Li", "Sales", 2, "S", "M", "Northwest", "US", "North America")
    spark.createDataFrame([employee], EMPLOYEES).write.format(fmt).save(str(root / "employees"))
    return root


@pytest.fixture(scope="module")
def processed(spark, tmp_path_factory):
    return write_processed(spark, tmp_path_factory.mktemp("processed"), LINES)


def run_mart(spark, processed, mart, policy, fmt="parquet"):
    argv = ["--processed_path", str(processed), "--mart_path", str(mart), "--unknown_keys", policy, "--format", fmt]
    return sales_mart.run(spark, sales_mart.parse_args(argv))


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_a_rerun_rebuilds_the_whole_mart_so_every_line_is_in_one_place(spark, tmp_path, fmt):
    """A month whose lines all left mart/sales (here: quarantined) must not keep the old copy."""
    run_mart(
        spark,
        write_processed(spark, tmp_path / "p1", [(1, 11, 21, 3), (2, 11, 21, 4)], fmt),
        tmp_path / "mart",
        "flag",
        fmt,
    )
    processed = write_processed(spark, tmp_path / "p2", [(1, 11, 21, 3), (2, 99, 21, 4)], fmt)
    result = run_mart(spark, processed, tmp_path / "mart", "quarantine", fmt)
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (2, 1, 1)
    sales = spark.read.format(fmt).load(str(tmp_path / "mart" / "sales"))
    assert [(row.salesorderdetailid, row.order_month) for row in sales.collect()] == [(1, 3)]
    if fmt == "parquet":  # April's folder went once the rebuild had succeeded
        folders = sorted(
            str(p.relative_to(tmp_path / "mart" / "sales")) for p in (tmp_path / "mart" / "sales").glob("*/*")
        )
        assert folders == ["order_year=2013/order_month=3"]
    summary = spark.read.format(fmt).load(str(tmp_path / "mart" / "customer_summary"))
    assert [(row.customerid, row.order_count) for row in summary.collect()] == [(11, 1)]


def test_flag_policy_keeps_every_line_and_counts_each_unknown_key_reason(spark, processed, tmp_path):
    result = run_mart(spark, processed, tmp_path / "mart", "flag")
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (4, 4, 0)
    assert result.details == {
        "lines": 4,
        "unknown_customer": 1,
        "unknown_employee": 1,
        "unknown_customer_and_employee": 1,
        "unknown_keys_policy": "flag",
    }
    flags = spark.read.parquet(str(tmp_path / "mart" / "sales")).select(
        "salesorderdetailid", "customer_known", "employee_known", "customer_name"
    )
    expected = spark.createDataFrame(
        [(1, True, True, "Ada Byron"), (2, False, True, None), (3, True, False, "Ada Byron"), (4, False, False, None)],
        "salesorderdetailid int, customer_known boolean, employee_known boolean, customer_name string",
    )
    assert_df_equality(flags, expected, ignore_row_order=True, ignore_nullable=True)


def test_quarantine_policy_moves_unknown_key_lines_with_their_reason(spark, processed, tmp_path):
    result = run_mart(spark, processed, tmp_path / "mart", "quarantine")
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (4, 1, 3)
    assert result.quarantine_reasons == {
        "unknown_customer": 1,
        "unknown_employee": 1,
        "unknown_customer_and_employee": 1,
    }
    sales = spark.read.parquet(str(tmp_path / "mart" / "sales")).select("salesorderdetailid")
    assert [row.salesorderdetailid for row in sales.collect()] == [1]
    quarantine = spark.read.schema("raw_line string, reason string, detail string").json(
        str(tmp_path / "mart" / "_quarantine" / "sales")
    )
    got = {(json.loads(row.raw_line)["salesorderdetailid"], row.reason, row.detail) for row in quarantine.collect()}
    assert got == {
        (2, "unknown_customer", "customerid=99, employeeid=21"),
        (3, "unknown_employee", "customerid=11, employeeid=98"),
        (4, "unknown_customer_and_employee", "customerid=99, employeeid=98"),
    }


def test_summaries_count_unknown_customers_under_their_own_key(spark, processed, tmp_path):
    run_mart(spark, processed, tmp_path / "mart", "flag")
    summary = spark.read.parquet(str(tmp_path / "mart" / "customer_summary")).select(
        "customerid", "customer_known", "order_count", "line_count"
    )
    expected = spark.createDataFrame(
        [(11, True, 2, 2), (99, False, 2, 2)],
        T.StructType(
            [
                T.StructField("customerid", T.IntegerType()),
                T.StructField("customer_known", T.BooleanType()),
                T.StructField("order_count", T.LongType()),
                T.StructField("line_count", T.LongType()),
            ]
        ),
    )
    assert_df_equality(summary, expected, ignore_row_order=True, ignore_nullable=True)


def test_mart_sales_writes_its_plain_columns_without_a_dictionary(spark, tmp_path):
    # 40 lines in one month file, every value but the line id repeating: Parquet would give
    # each column a dictionary unless told not to.
    lines = [(1 + index % 4, KNOWN_CUSTOMER, KNOWN_EMPLOYEE, 3, 1000 + index) for index in range(40)]
    processed = write_processed(spark, tmp_path / "processed", lines)
    run_mart(spark, processed, tmp_path / "mart", "flag")
    without_dictionary = columns_without_dictionary(tmp_path / "mart" / "sales")
    # The orders' plain columns, spelled out (emptying the constant must fail here); booleans are
    # never dictionary-encoded.
    assert without_dictionary == {
        "salesorderid",
        "salesorderdetailid",
        "customerid",
        "subtotal",
        "taxamt",
        "freight",
        "totaldue",
        "unitprice",
        "linetotal",
        "customer_known",
        "employee_known",
    }


def test_an_empty_processed_orders_table_gives_an_empty_mart_not_a_schema_error(spark, tmp_path):
    """Orders converted from an empty input: a partitioned folder without a file to declare its schema."""
    processed = write_processed(spark, tmp_path / "p", LINES)
    for child in (processed / "orders").iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    result = run_mart(spark, processed, tmp_path / "mart", "flag")
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (0, 0, 0)
    assert [(output.name, output.rows, output.files) for output in result.outputs] == [
        ("sales", 0, 0),
        ("sales_by_employee_month", 0, 1),
        ("customer_summary", 0, 1),
    ]
    # Unpartitioned tables keep one empty file declaring their schema...
    for name in ("sales_by_employee_month", "customer_summary"):
        table = spark.read.parquet(str(tmp_path / "mart" / name))
        assert (name, table.count(), names_and_types(table.schema)) == (
            name,
            0,
            names_and_types(MART_SCHEMAS[name][0]),
        )
    # ...a partitioned one has no partition to hold a file: an empty folder, read with the catalog's schema.
    sales = tmp_path / "mart" / "sales"
    assert (sales.is_dir(), list(sales.rglob("*.parquet"))) == (True, [])
    assert spark.read.schema(MART_SCHEMAS["sales"][0]).parquet(str(sales)).count() == 0


def names_and_types(schema):
    return [(field.name, field.dataType) for field in schema.fields]
