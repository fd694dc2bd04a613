"""Spark's floor for the whole pipeline: the same four steps in plain Spark, one JVM.

What ``make bench`` compares the full pipeline with, beside DuckDB: Spark's typed CSV reads
of customers, employees and orders written as Parquet (orders partitioned by order_year, the
tables' Parquet layout, partitioned writes arranged as ``lakejobs.io.writer`` arranges
them), then the sales mart built from that Parquet with the project's own
mart transforms (``lakejobs.transforms.sales``): mart/sales partitioned by order_year and
order_month, and both summaries. No typing checks, quarantine, rules, key check, staging,
locks or run reports: what is left is what Spark itself costs for this work on this machine,
so ``pipeline_floor_s / duckdb_s`` bounds from below the pipeline's ratio to DuckDB.

Same session settings as the jobs (``lakejobs.session``, local profile). Prints one JSON
line: start-up seconds, seconds per step and in all, and when the steps started and ended
(``ready_at``, ``done_at``: epoch seconds, for ``bench/run.py``'s CPU trace).
"""

import argparse
import json
import time

started = time.monotonic()
from lakejobs.datasets import builtin_dataset  # noqa: E402
from lakejobs.io.writer import arranged_for_partitions, plain_encoding_options  # noqa: E402


def convert(spark, raw: str, out: str, name: str) -> None:
    """Typed CSV read of dataset ``name`` under ``raw``, written as Parquet under ``out``."""
    dataset = builtin_dataset(name)
    df = spark.read.csv(f"{raw}/{name}", schema=dataset.schema, dateFormat=dataset.csv.date_format)
    for column, expression in dataset.derived_columns.items():
        df = df.selectExpr("*", f"{expression} AS {column}")
    writer = (
        arranged_for_partitions(df, dataset.partition_by)
        .write.mode("overwrite")
        .options(**plain_encoding_options(dataset.plain_columns))
    )
    if dataset.partition_by:
        writer = writer.partitionBy(*dataset.partition_by)
    writer.parquet(f"{out}/processedData/{name}")


def sales_mart(spark, out: str) -> None:
    """The sales mart from the processed Parquet: mart/sales and both summaries."""
    from lakejobs.jobs.sales_mart import SALES_PARTITIONS, SALES_PLAIN_COLUMNS
    from lakejobs.transforms.sales import (
        customer_summary,
        join_dimensions,
        sales_by_employee_month,
        sales_orders,
        with_order_period,
    )

    orders, customers, employees = (
        spark.read.parquet(f"{out}/processedData/{name}") for name in ("orders", "customers", "employees")
    )
    sales_df = (
        orders.drop(*SALES_PARTITIONS).transform(with_order_period()).transform(join_dimensions(customers, employees))
    )
    arranged_for_partitions(sales_df, SALES_PARTITIONS).write.mode("overwrite").options(
        **plain_encoding_options(SALES_PLAIN_COLUMNS)
    ).partitionBy(*SALES_PARTITIONS).parquet(f"{out}/mart/sales")
    orders_df = sales_df.transform(sales_orders(customers, employees))
    for name, summary in (("sales_by_employee_month", sales_by_employee_month), ("customer_summary", customer_summary)):
        summary(orders_df).write.mode("overwrite").parquet(f"{out}/mart/{name}")


def main() -> None:
    """Run the four steps once; print their seconds as JSON."""
    from lakejobs.session import build_session

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", help="the raw zone: customers/, employees/, orders/")
    parser.add_argument("out", help="folder receiving processedData/ and mart/")
    args = parser.parse_args()
    spark = build_session("spark-pipeline-floor", "local")
    ready, ready_at = time.monotonic(), time.time()
    steps = {}
    for step, work in (
        ("convert_customers", lambda: convert(spark, args.raw, args.out, "customers")),
        ("convert_employees", lambda: convert(spark, args.raw, args.out, "employees")),
        ("convert_orders", lambda: convert(spark, args.raw, args.out, "orders")),
        ("sales_mart", lambda: sales_mart(spark, args.out)),
    ):
        step_started = time.monotonic()
        work()
        steps[step] = round(time.monotonic() - step_started, 3)
    done, done_at = time.monotonic(), time.time()
    timing = {"startup_s": round(ready - started, 3), "pipeline_floor_s": round(done - ready, 3), "steps_s": steps}
    print(json.dumps({**timing, "ready_at": ready_at, "done_at": done_at}))


if __name__ == "__main__":
    main()
