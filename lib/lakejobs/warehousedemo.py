"""``make warehouse-demo``: the sales pipeline, loaded into PostgreSQL and extracted back.

Starts a private PostgreSQL server (``lakejobs.pglocal``), runs the pipeline into ``--lake``,
loads the three mart tables with ``warehouse_load`` (twice, to show that a rerun changes
nothing), extracts ``sales`` back to Parquet with ``warehouse_extract``, prints the counts and
stops the server.
"""

import argparse
import os
import sys

from lakejobs import fs, pglocal, pipeline, session
from lakejobs.io.credentials import resolve_login
from lakejobs.io.jdbc import connection
from lakejobs.jobs import warehouse_extract, warehouse_load

MART_TABLES = ("sales", "sales_by_employee_month", "customer_summary")


def load_mart(spark, lake: str, url: str, output_format: str):
    """Load every mart table; return (table, result) pairs."""
    results = []
    for table in MART_TABLES:
        argv = ["--lake", lake, "--table", table, "--format", output_format, "--jdbc_url", url]
        results.append((table, warehouse_load.run(spark, warehouse_load.parse_args(argv))))
    return results


def print_loads(title: str, results) -> None:
    """One line per load: rows read, inserted, updated, unchanged."""
    print(f"\n{title}\n{'table':<26}{'read':>8}{'inserted':>10}{'updated':>9}{'unchanged':>11}")
    for table, result in results:
        details = result.details
        print(
            f"{table:<26}{result.rows_read:>8}{details['inserted']:>10}{details['updated']:>9}{details['unchanged']:>11}"
        )


def main(argv=None) -> int:
    """Run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m lakejobs.warehousedemo", description=__doc__)
    parser.add_argument("--raw", default="data/sample/rawData")
    parser.add_argument("--lake", default="lake")
    parser.add_argument("--format", default="parquet", choices=("parquet", "delta"))
    args = parser.parse_args(argv)
    lake = fs.qualify(args.lake)
    with pglocal.postgres_server() as server:
        print(f"PostgreSQL: {server.jdbc_url} (user {server.user}, data in {server.data_dir})")
        os.environ.update(server.env())
        spark = session.build_session("lakejobs-warehouse-demo", "local")
        results = pipeline.run_pipeline(spark, args.raw, lake, args.format)
        print(pipeline.summary_table(results, [label for label, _m, _a in pipeline.pipeline_steps(lake, lake)]))
        print_loads("load into PostgreSQL", load_mart(spark, lake, server.jdbc_url, args.format))
        print_loads("the same load again (idempotent)", load_mart(spark, lake, server.jdbc_url, args.format))
        output = f"{lake}/extract/sales"
        extract_argv = ["--table", "sales", "--jdbc_url", server.jdbc_url, "--partition_column", "salesorderid"]
        extract_argv += ["--output_path", output, "--partition_by", "order_year,order_month"]
        extracted = warehouse_extract.run(spark, warehouse_extract.parse_args(extract_argv))
        print(f"\nextract sales -> {output}: {extracted.rows_written} rows in {extracted.files_written} files")
        with connection(spark, resolve_login(server.jdbc_url, None)) as sql:
            for table in MART_TABLES:
                print(f"  {table:<26}{sql.query(f'SELECT count(*) FROM {table}')[0][0]:>6} rows in PostgreSQL")
        spark.stop()
    print("PostgreSQL stopped and removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
