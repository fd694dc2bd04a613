"""The same work as the lakejobs pipeline, in DuckDB: the single-node reference for ``make bench``.

Reads the raw zone with explicit types, writes typed Parquet (orders partitioned by
order_year), then the sales mart: order lines joined with customers and employees, partitioned
by order_year/order_month, plus the two summaries (order money counted once per order), built
as the Spark mart builds them (``_mart``). Until session 32 the summaries skipped the
dimension join per order and the attribute columns: DuckDB did less work than lakejobs.
"""

import os
import time
from typing import Dict

import duckdb

MONEY = "DECIMAL(17,4)"
#: The key the summaries give orders without an id (``lakejobs.transforms.sales.NO_ID``).
NO_ID = -1
#: The mart summaries' money sums, typed as Spark types them (a sum of decimal(17,4) is decimal(27,4)).
MONEY_SUM = "DECIMAL(27,4)"
ORDERS = {
    "salesorderid": "INTEGER",
    "salesorderdetailid": "INTEGER",
    "orderdate": "DATE",
    "duedate": "DATE",
    "shipdate": "DATE",
    "employeeid": "INTEGER",
    "customerid": "INTEGER",
    "subtotal": MONEY,
    "taxamt": MONEY,
    "freight": MONEY,
    "totaldue": MONEY,
    "productid": "INTEGER",
    "orderqty": "INTEGER",
    "unitprice": MONEY,
    "unitpricediscount": MONEY,
    "linetotal": MONEY,
}
CUSTOMERS = {"customerid": "INTEGER", "firstname": "VARCHAR", "lastname": "VARCHAR", "fullname": "VARCHAR"}
EMPLOYEES = {
    "employeeid": "INTEGER",
    "managerid": "INTEGER",
    "firstname": "VARCHAR",
    "lastname": "VARCHAR",
    "fullname": "VARCHAR",
    "jobtitle": "VARCHAR",
    "organizationlevel": "INTEGER",
    "maritalstatus": "VARCHAR",
    "gender": "VARCHAR",
    "territory": "VARCHAR",
    "country": "VARCHAR",
    "group": "VARCHAR",
}


def _read_csv(folder: str, columns: Dict[str, str]) -> str:
    spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
    return (
        f"read_csv('{folder}/*.csv', header=false, columns={spec}, dateformat='%m/%d/%Y', "
        f"auto_detect=false, quote='\"', escape='\"')"
    )


def run(raw: str, out: str, threads: int = 2) -> Dict[str, float]:
    """Run the reference pipeline; return seconds per stage."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    stages = {}
    start = time.monotonic()
    for name, columns in (("customers", CUSTOMERS), ("employees", EMPLOYEES)):
        os.makedirs(f"{out}/processedData/{name}", exist_ok=True)
        con.execute(
            f"COPY (SELECT * FROM {_read_csv(f'{raw}/{name}', columns)}) "
            f"TO '{out}/processedData/{name}/part-0.parquet' (FORMAT parquet, COMPRESSION snappy)"
        )
        stages[f"convert_{name}"] = time.monotonic() - start
        start = time.monotonic()
    con.execute(
        f"COPY (SELECT *, year(orderdate) AS order_year FROM {_read_csv(f'{raw}/orders', ORDERS)}) "
        f"TO '{out}/processedData/orders' (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (order_year))"
    )
    stages["convert_orders"] = time.monotonic() - start
    start = time.monotonic()
    _mart(con, out)
    stages["sales_mart"] = time.monotonic() - start
    return stages


def _mart(con, out: str) -> None:
    """mart/sales, then the summaries from one row per order, as ``lakejobs.transforms.sales`` builds them.

    The same work as the Spark mart: dimensions reduced to one row per key (the smallest row,
    nulls first, as Spark orders a struct),
    every line kept (unknown keys flagged), an order's attributes and money taken once (the
    smallest of its lines'), its period from its date, its dimensions joined once per order,
    and the summaries grouped by the dimension attributes too, with missing ids as ``NO_ID``.
    """
    processed = f"{out}/processedData"
    con.execute(f"""
        CREATE TEMP TABLE customer_dim AS
        SELECT DISTINCT ON (customerid) customerid, fullname AS customer_name, true AS customer_known
        FROM read_parquet('{processed}/customers/*.parquet') ORDER BY customerid, fullname NULLS FIRST
    """)
    con.execute(f"""
        CREATE TEMP TABLE employee_dim AS
        SELECT DISTINCT ON (employeeid) employeeid, fullname AS employee_name, territory, country,
               "group" AS territory_group, true AS employee_known
        FROM read_parquet('{processed}/employees/*.parquet')
        ORDER BY employeeid, fullname NULLS FIRST, territory NULLS FIRST, country NULLS FIRST, "group" NULLS FIRST
    """)
    con.execute(f"""
        CREATE TEMP TABLE sales AS
        SELECT o.* EXCLUDE (order_year), year(o.orderdate) AS order_year, month(o.orderdate) AS order_month,
               c.customer_name, coalesce(c.customer_known, false) AS customer_known,
               e.employee_name, e.territory, e.country, e.territory_group,
               coalesce(e.employee_known, false) AS employee_known
        FROM read_parquet('{processed}/orders/*/*.parquet', hive_partitioning=true) o
        LEFT JOIN customer_dim c USING (customerid)
        LEFT JOIN employee_dim e USING (employeeid)
    """)
    os.makedirs(f"{out}/mart", exist_ok=True)
    con.execute(
        f"COPY sales TO '{out}/mart/sales' (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (order_year, order_month))"
    )
    con.execute("""
        CREATE TEMP TABLE order_level AS
        SELECT o.*, year(o.orderdate)::INTEGER AS order_year, month(o.orderdate)::INTEGER AS order_month,
               c.customer_name, coalesce(c.customer_known, false) AS customer_known,
               e.employee_name, e.territory, e.country, e.territory_group,
               coalesce(e.employee_known, false) AS employee_known
        FROM (
            SELECT salesorderid, min(orderdate) AS orderdate, min(employeeid) AS employeeid,
                   min(customerid) AS customerid, min(subtotal) AS subtotal, min(taxamt) AS taxamt,
                   min(freight) AS freight, min(totaldue) AS totaldue,
                   count(*) AS line_count, sum(orderqty)::BIGINT AS units, sum(linetotal) AS line_total
            FROM sales GROUP BY salesorderid
        ) o
        LEFT JOIN customer_dim c USING (customerid)
        LEFT JOIN employee_dim e USING (employeeid)
    """)
    for name, query in (
        (
            "sales_by_employee_month",
            f"""SELECT coalesce(employeeid, {NO_ID}) AS employeeid, order_year, order_month, employee_name, territory,
                       country, territory_group, employee_known, count(*) AS order_count,
                       sum(line_count)::BIGINT AS line_count, sum(units)::BIGINT AS units,
                       sum(line_total)::{MONEY_SUM} AS line_total, sum(subtotal)::{MONEY_SUM} AS subtotal,
                       sum(taxamt)::{MONEY_SUM} AS taxamt, sum(freight)::{MONEY_SUM} AS freight,
                       sum(totaldue)::{MONEY_SUM} AS totaldue
                FROM order_level GROUP BY ALL""",
        ),
        (
            "customer_summary",
            f"""SELECT coalesce(customerid, {NO_ID}) AS customerid, customer_name, customer_known,
                       count(*) AS order_count, sum(line_count)::BIGINT AS line_count,
                       sum(line_total)::{MONEY_SUM} AS line_total, sum(totaldue)::{MONEY_SUM} AS total_due,
                       min(orderdate) AS first_order_date,
                       max(orderdate) AS last_order_date
                FROM order_level GROUP BY ALL""",
        ),
    ):
        os.makedirs(f"{out}/mart/{name}", exist_ok=True)
        con.execute(f"COPY ({query}) TO '{out}/mart/{name}/part-0.parquet' (FORMAT parquet, COMPRESSION snappy)")
