"""Do two lakes hold the same pipeline outputs? The bench's check before it reports any time.

Every table the pipeline writes is compared between two lakes (lakejobs' and DuckDB's, or the
Spark pipeline floor's and DuckDB's), per partition where the table has partitions: row counts,
the exact sum of every money column (decimals, never rounded), sums of the keys, counts of
the columns a lost join or a lost parse would leave null, and a fingerprint of every value of
every column (``fingerprint``); the two lakes must also have the same columns. A dimension row lost in a conversion
shows in the dimension's counts; a mart line whose customer went missing shows in
``customer_known``; a summary that drops or double counts orders shows in its sums.
"""

from pathlib import Path
from typing import Dict, List, NamedTuple, Tuple

import duckdb

LINE_MONEY = ("subtotal", "taxamt", "freight", "totaldue", "unitprice", "unitpricediscount", "linetotal")
ORDER_MONEY = ("subtotal", "taxamt", "freight", "totaldue")


class Check(NamedTuple):
    """What is compared of one table: its files under a lake, its partitions, its measures (SQL)."""

    files: str
    partitions: Tuple[str, ...]
    measures: Tuple[str, ...]


def _sums(columns) -> Tuple[str, ...]:
    return tuple(f"sum({column})" for column in columns)


CHECKS: Dict[str, Check] = {
    "processedData/customers": Check(
        "processedData/customers/*.parquet", (), ("count(*)", "sum(customerid)", "count(fullname)")
    ),
    "processedData/employees": Check(
        "processedData/employees/*.parquet",
        (),
        ("count(*)", "sum(employeeid)", "sum(managerid)", "count(territory)", 'count("group")'),
    ),
    "processedData/orders": Check(
        "processedData/orders/*/*.parquet",
        ("order_year",),
        ("count(*)", "sum(salesorderdetailid)", "sum(orderqty)", "count(shipdate)", *_sums(LINE_MONEY)),
    ),
    "mart/sales": Check(
        "mart/sales/*/*/*.parquet",
        ("order_year", "order_month"),
        (
            "count(*)",
            "sum(salesorderdetailid)",
            "count_if(customer_known)",
            "count_if(employee_known)",
            "count(customer_name)",
            "count(territory_group)",
            *_sums(LINE_MONEY),
        ),
    ),
    "mart/sales_by_employee_month": Check(
        "mart/sales_by_employee_month/*.parquet",
        ("order_year", "order_month"),
        (
            "count(*)",
            "sum(employeeid)",
            "count_if(employee_known)",
            "count(employee_name)",
            *_sums(("order_count", "line_count", "units", "line_total", *ORDER_MONEY)),
        ),
    ),
    "mart/customer_summary": Check(
        "mart/customer_summary/*.parquet",
        (),
        (
            "count(*)",
            "sum(customerid)",
            "count_if(customer_known)",
            "count(customer_name)",
            "min(first_order_date)",
            "max(last_order_date)",
            *_sums(("order_count", "line_count", "line_total", "total_due")),
        ),
    ),
}


def row_count(folder: Path, files: str) -> int:
    """Rows of the Parquet files ``files`` (a glob) under ``folder``; 0 when there are none."""
    if not list(folder.glob(files)):
        return 0
    return duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder / files}')").fetchall()[0][0]


def _source(lake: Path, check: Check) -> str:
    return f"read_parquet('{lake / check.files}', hive_partitioning=true, union_by_name=true)"


def data_columns(lake: Path, check: Check) -> List[str]:
    """The table's columns under ``lake`` other than its partitions, sorted (none: no files)."""
    if not list(lake.glob(check.files)):
        return []
    described = duckdb.sql(f"DESCRIBE SELECT * FROM {_source(lake, check)}").fetchall()
    return sorted(row[0] for row in described if row[0] not in check.partitions)


def fingerprint(columns: List[str]) -> str:
    """An order-independent fingerprint of every value of ``columns``: the sum of each row's hash.

    Each row is hashed as text (NULL apart from any text), so an engine's integer width or
    Parquet encoding does not matter, and any changed value (a key, a date, a name) changes it,
    where the other measures look at a few columns only.
    """
    values = ", ".join(f'coalesce(CAST("{column}" AS VARCHAR), chr(30))' for column in columns)
    return f"sum(hash(concat_ws(chr(31), {values})))"


def table_totals(lake: Path, check: Check) -> List[tuple]:
    """The measures of one table under ``lake``, one row per partition with rows, in partition order.

    Every check's first measure is ``count(*)``: a table whose files hold no row gives no row
    (its one aggregate row, ``(0, None, ...)``, would let two empty tables agree). The last is
    the ``fingerprint`` of every column.
    """
    if not list(lake.glob(check.files)):
        return []
    keys = [f"{column}::INT" for column in check.partitions]
    select = ", ".join([*keys, *check.measures, fingerprint(data_columns(lake, check))])
    group = " GROUP BY ALL ORDER BY ALL" if keys else ""
    rows = duckdb.sql(f"SELECT {select} FROM {_source(lake, check)}{group}").fetchall()
    return [tuple(row) for row in rows if row[len(keys)]]


def disagreements(ours: Path, theirs: Path, checks: Dict[str, Check] = CHECKS) -> List[str]:
    """One line per table whose measures differ between the lakes ``ours`` and ``theirs`` (none: they agree).

    A table missing from one lake, or holding no rows, differs from one that has rows.
    """
    found = []
    for table, check in checks.items():
        columns = data_columns(ours, check), data_columns(theirs, check)
        if all(columns) and columns[0] != columns[1]:  # a missing table is told below
            found.append(f"{table}: columns {columns[0]} against {columns[1]}")
            continue
        mine, other = table_totals(ours, check), table_totals(theirs, check)
        if not mine or mine != other:
            found.append(f"{table}: {_first_difference(mine, other, len(check.partitions))}")
    return found


def _first_difference(mine: List[tuple], other: List[tuple], partition_columns: int) -> str:
    if not mine:
        return "no rows in the first lake"
    by_partition = {row[:partition_columns]: row[partition_columns:] for row in other}
    for row in mine:
        key, measures = row[:partition_columns], row[partition_columns:]
        if by_partition.get(key) != measures:
            return f"partition {key or 'all'}: {measures} against {by_partition.get(key, 'nothing')}"
    extra = sorted(set(by_partition) - {row[:partition_columns] for row in mine})
    return f"partitions {extra} only in the second lake"
