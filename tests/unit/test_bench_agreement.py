"""``bench/agreement.py``: the check ``make bench`` runs before reporting any time.

Two lakes are built by the DuckDB reference from one small generated raw zone (no Spark); one
is then changed the way a faulty pipeline would change it, and the check must name the table.
"""

import shutil
import sys
from pathlib import Path

import duckdb
import pytest

from lakejobs.generate import generate

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import agreement  # noqa: E402
import duckdb_reference  # noqa: E402


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """DuckDB's lake of 400 generated order lines."""
    root = tmp_path_factory.mktemp("agreement")
    generate(str(root / "raw"), 400, seed=3)
    duckdb_reference.run(str(root / "raw"), str(root / "lake"), threads=1)
    return root / "lake"


@pytest.fixture
def copy(reference, tmp_path):
    return Path(shutil.copytree(reference, tmp_path / "lake"))


def rewrite(files: str, where: str = "true", select: str = "*") -> None:
    """Replace each Parquet file matching ``files`` by its rows that satisfy ``where``, as ``select``."""
    for path in sorted(Path("/").glob(files.lstrip("/"))):
        changed = path.with_suffix(".new")
        duckdb.sql(f"COPY (SELECT {select} FROM read_parquet('{path}') WHERE {where}) TO '{changed}' (FORMAT parquet)")
        changed.replace(path)


def test_a_lake_agrees_with_its_copy_and_every_table_is_measured(reference, copy):
    assert agreement.disagreements(copy, reference) == []
    rows = {
        table: sum(row[len(check.partitions)] for row in agreement.table_totals(copy, check))
        for table, check in agreement.CHECKS.items()
    }
    assert (rows["processedData/orders"], rows["mart/sales"]) == (400, 400)  # every generated line
    assert all(rows.values()), rows


def test_a_lost_dimension_row_is_found_although_the_mart_is_the_same(reference, copy):
    customers = f"{copy}/processedData/customers/*.parquet"
    first = duckdb.sql(f"SELECT min(customerid) FROM read_parquet('{customers}')").fetchall()[0][0]
    rewrite(customers, f"customerid <> {first}")
    assert [line.split(":")[0] for line in agreement.disagreements(copy, reference)] == ["processedData/customers"]


def test_a_money_value_off_by_its_last_digit_is_found_in_its_partition(reference, copy):
    files = sorted(copy.glob("mart/sales/order_year=2013/order_month=7/*.parquet"))
    assert files
    rewrite(str(files[0]), select="* REPLACE (linetotal + 0.0001 AS linetotal)")
    found = agreement.disagreements(copy, reference)
    assert len(found) == 1 and found[0].startswith("mart/sales: partition (2013, 7): ")


def test_a_missing_or_an_extra_partition_is_found(reference, copy):
    shutil.rmtree(copy / "processedData" / "orders" / "order_year=2014")
    assert agreement.disagreements(copy, reference) == [
        "processedData/orders: partitions [(2014,)] only in the second lake"
    ]
    assert agreement.disagreements(reference, copy)[0].startswith("processedData/orders: partition (2014,): (")


def test_an_empty_or_missing_table_never_agrees(reference, copy, tmp_path):
    shutil.rmtree(copy / "mart" / "customer_summary")
    assert agreement.disagreements(copy, reference) == ["mart/customer_summary: no rows in the first lake"]
    empty = tmp_path / "empty"
    (empty / "mart").mkdir(parents=True)
    assert len(agreement.disagreements(empty, empty)) == len(agreement.CHECKS)
    # Files with no rows in both lakes: no partition has rows, so the tables do not agree either.
    other = Path(shutil.copytree(reference, tmp_path / "other"))  # the module's reference stays whole
    for lake in (copy, other):
        rewrite(f"{lake}/processedData/customers/*.parquet", where="false")
    assert agreement.disagreements(copy, other)[0] == "processedData/customers: no rows in the first lake"


def test_summary_rows_merged_by_a_lost_attribute_are_found(reference, copy):
    rewrite(f"{copy}/mart/sales_by_employee_month/*.parquet", select="* REPLACE (NULL::VARCHAR AS employee_name)")
    assert [line.split(":")[0] for line in agreement.disagreements(copy, reference)] == ["mart/sales_by_employee_month"]


def test_row_count_reads_the_files_of_a_glob(reference, tmp_path):
    orders = agreement.row_count(reference / "processedData" / "orders", "*/*.parquet")
    lines = sum(1 for path in (reference.parent / "raw" / "orders").glob("*.csv") for _ in path.open())
    assert orders == lines
    assert agreement.row_count(tmp_path, "*.parquet") == 0


@pytest.mark.parametrize(
    "files, change",
    [
        ("processedData/orders/*/*.parquet", "* REPLACE (NULL::INT AS productid)"),
        ("processedData/orders/*/*.parquet", "* REPLACE (orderdate AS duedate)"),
        ("mart/sales/*/*/*.parquet", "* REPLACE (reverse(customer_name) AS customer_name)"),
        ("processedData/employees/*.parquet", "* REPLACE ('?' AS firstname)"),
    ],
)
def test_a_changed_value_in_a_column_no_other_measure_reads_is_found(reference, copy, files, change):
    """Only counts, keys and money were compared: a lost product id or a wrong name agreed."""
    rewrite(f"{copy}/{files}", select=change)
    assert [line.split(":")[0] for line in agreement.disagreements(copy, reference)] == [files.split("/*")[0]]


def test_a_column_of_another_name_is_found(reference, copy):
    rewrite(f"{copy}/processedData/customers/*.parquet", select="* RENAME (fullname AS full_name)")
    assert agreement.disagreements(copy, reference)[0].startswith("processedData/customers: columns [")
