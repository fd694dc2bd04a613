"""The warehouse round trip on a real PostgreSQL server: mart -> PostgreSQL -> Parquet, exactly.

The server is private to the session (``postgres`` fixture: initdb in a temp folder, a free
loopback port, password authentication); Secrets Manager is moto's server (``s3`` fixture).
"""

import json
import re
import time
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakejobs.errors import QualityGateError, UsageError
from lakejobs.io import upsert_sql
from lakejobs.io.credentials import DbLogin
from lakejobs.io.jdbc import DatabaseError, connection, read_jdbc
from lakejobs.io.upsert_sql import TableName
from lakejobs.jobs import sales_mart, warehouse_extract, warehouse_load
from lakejobs.pipeline import run_pipeline
from lakejobs.s3local import free_port
from tests.conftest import SAMPLE_RAW, stderr_lines
from tests.jobs.test_sales_mart import write_processed

STAGING_TABLES = r"SELECT count(*) FROM pg_tables WHERE tablename LIKE '%\_\_stage\_%'"


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    """The sample pipeline's lake: processedData/ and mart/."""
    lake = tmp_path_factory.mktemp("warehouse_lake")
    run_pipeline(spark, str(SAMPLE_RAW), str(lake))
    return lake


@pytest.fixture(scope="module")
def db(postgres):
    """The server's login, also exported as LAKEJOBS_DB_USER / LAKEJOBS_DB_PASSWORD."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in postgres.env().items():
            patch.setenv(name, value)
        yield DbLogin(postgres.jdbc_url, postgres.user, postgres.password)


def assert_same_rows(actual_df, expected_df):
    """Same columns, types and rows (any order); JDBC's column metadata (``scale``) aside."""
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)


def load(spark, *argv):
    return warehouse_load.run(spark, warehouse_load.parse_args(list(argv)))


def extract(spark, *argv):
    return warehouse_extract.run(spark, warehouse_extract.parse_args(list(argv)))


def query(spark, db, statement):
    with connection(spark, db) as sql:
        return sql.query(statement)


def execute(spark, db, statement):
    with connection(spark, db) as sql:
        sql.execute(statement)


def upsert_counts(result):
    return {key: result.details[key] for key in ("staged", "inserted", "updated", "unchanged")}


@pytest.fixture(scope="module")
def sales_loaded(spark, lake, db):
    """mart/sales loaded once into the table ``sales``."""
    return load(spark, "--lake", str(lake), "--table", "sales", "--jdbc_url", db.url)


def test_the_mart_lands_in_postgres_row_for_row_with_exact_decimals(spark, lake, db, sales_loaded):
    mart_df = spark.read.parquet(str(lake / "mart" / "sales"))
    assert (sales_loaded.rows_read, sales_loaded.rows_written) == (300, 300)
    assert upsert_counts(sales_loaded) == {"staged": 300, "inserted": 300, "updated": 0, "unchanged": 0}
    assert_same_rows(read_jdbc(spark, db, '"sales"'), mart_df)
    assert query(
        spark, db, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'sales'::regclass"
    ) == [("PRIMARY KEY (salesorderid, salesorderdetailid)",)]
    assert query(spark, db, STAGING_TABLES) == [(0,)]
    # Kept beside the pipeline's own reports, where `lakejobs report --lake` reads them.
    report = json.loads((lake / "_lakejobs" / "runs" / "warehouse_load" / f"{sales_loaded.run_id}.json").read_text())
    assert (report["status"], report["rows_read"], report["rows_written"]) == ("SUCCEEDED", 300, 300)


def test_a_rerun_adds_no_duplicates_and_rewrites_nothing(spark, lake, db, sales_loaded):
    # A row rewritten by the rerun would get a new version: the transaction that wrote it (xmin).
    versions = "SELECT count(*), count(DISTINCT xmin::text), min(xmin::text) FROM sales"
    before = query(spark, db, versions)
    rerun = load(spark, "--lake", str(lake), "--table", "sales", "--jdbc_url", db.url)
    assert upsert_counts(rerun) == {"staged": 300, "inserted": 0, "updated": 0, "unchanged": 300}
    assert (rerun.rows_read, rerun.rows_written, rerun.rows_quarantined) == (300, 300, 0)
    assert rerun.outputs[0].rows == 300
    assert query(spark, db, versions) == before
    assert before[0][:2] == (300, 1)
    mart_df = spark.read.parquet(str(lake / "mart" / "sales"))
    assert_same_rows(read_jdbc(spark, db, '"sales"'), mart_df)


@pytest.mark.parametrize("upsert", ["on_conflict", "merge"])
def test_a_changed_source_row_is_updated_and_a_new_one_inserted(spark, lake, db, tmp_path, upsert):
    customers_df = spark.read.parquet(str(lake / "processedData" / "customers"))
    first_id, last_id = customers_df.agg(F.min("customerid"), F.max("customerid")).first()
    target = f"crm.customers_{upsert}"
    execute(spark, db, "CREATE SCHEMA IF NOT EXISTS crm")
    argv = ["--key", "customerid", "--target_table", target, "--jdbc_url", db.url, "--upsert", upsert]
    first = load(spark, "--input_path", str(lake / "processedData" / "customers"), *argv)
    changed_df = customers_df.withColumn(
        "fullname", F.when(F.col("customerid") == first_id, F.lit("Renamed Customer")).otherwise(F.col("fullname"))
    ).unionByName(spark.createDataFrame([(last_id + 1, "New", "Customer", "New Customer")], customers_df.schema))
    changed_df.write.parquet(str(tmp_path / "customers"))
    second = load(spark, "--input_path", str(tmp_path / "customers"), *argv)
    assert upsert_counts(first) == {"staged": 40, "inserted": 40, "updated": 0, "unchanged": 0}
    updated = {"on_conflict": 1, "merge": 40}[upsert]  # MERGE updates every matched row
    assert upsert_counts(second) == {"staged": 41, "inserted": 1, "updated": updated, "unchanged": 40 - updated}
    stored_df = read_jdbc(spark, db, f'"crm"."customers_{upsert}"')
    assert_same_rows(stored_df, changed_df)


@pytest.mark.parametrize("target", ["s", "mart.s", "staged"])
def test_a_merge_into_a_target_named_like_an_alias_upserts(spark, db, tmp_path, target):
    """The staging table was aliased ``s`` in the MERGE: a target named ``s`` failed."""
    execute(spark, db, "CREATE SCHEMA IF NOT EXISTS mart")
    argv = ["--key", "id", "--target_table", target, "--jdbc_url", db.url, "--upsert", "merge"]
    for name, rows in [("first", [(1, "a"), (2, "b")]), ("second", [(1, "A"), (3, "c")])]:
        spark.createDataFrame(rows, "id INT, v STRING").write.parquet(str(tmp_path / name))
    load(spark, "--input_path", str(tmp_path / "first"), *argv)
    second = load(spark, "--input_path", str(tmp_path / "second"), *argv)
    assert upsert_counts(second) == {"staged": 2, "inserted": 1, "updated": 1, "unchanged": 0}
    assert query(spark, db, f"SELECT id, v FROM {target} ORDER BY id") == [(1, "A"), (2, "b"), (3, "c")]


def test_a_delta_table_loads_its_current_version_and_is_refused_as_parquet(spark, lake, db, tmp_path):
    employees_df = spark.read.parquet(str(lake / "processedData" / "employees"))
    employees_df.write.format("delta").save(str(tmp_path / "employees"))
    # Version 1 drops an employee: its old files stay in the folder, no longer part of the table.
    first_id = employees_df.agg(F.min("employeeid")).first()[0]
    current_df = employees_df.filter(F.col("employeeid") != first_id)
    current_df.write.format("delta").mode("overwrite").save(str(tmp_path / "employees"))
    argv = ["--input_path", str(tmp_path / "employees"), "--key", "employeeid", "--jdbc_url", db.url]
    result = load(spark, *argv, "--format", "delta", "--target_table", "employees_delta")
    assert upsert_counts(result) == {"staged": 17, "inserted": 17, "updated": 0, "unchanged": 0}
    assert_same_rows(read_jdbc(spark, db, '"employees_delta"'), current_df)
    with pytest.raises(UsageError) as refused:
        load(spark, *argv, "--target_table", "employees_as_parquet")
    assert str(refused.value) == (
        f"{tmp_path / 'employees'} is a Delta table (it has a _delta_log): "
        "read it with --format delta, not --format parquet"
    )
    assert query(spark, db, "SELECT to_regclass('employees_as_parquet') IS NULL") == [(True,)]


@pytest.mark.parametrize("name", ['x") VALUES (1); DROP TABLE victim; --', "n" * 64])
def test_a_column_name_spark_would_write_unquoted_is_refused_before_any_sql(spark, db, tmp_path, name):
    with connection(spark, db) as sql:
        sql.execute("CREATE TABLE IF NOT EXISTS victim (id int)")
    spark.createDataFrame([(1, "a")], "id int, v string").withColumnRenamed("v", name).write.parquet(
        str(tmp_path / "t")
    )
    with pytest.raises(UsageError) as refused:
        load(spark, "--input_path", str(tmp_path / "t"), "--key", "id", "--jdbc_url", db.url, "--target_table", "t")
    assert str(refused.value) == (
        f"{tmp_path / 't'}: column {name!r} cannot be a warehouse column as it is (a double quote, a NUL "
        "or more than 63 bytes): rename it in the table"
    )
    assert query(spark, db, "SELECT to_regclass('victim') IS NOT NULL, to_regclass('t') IS NULL") == [(True, True)]


@pytest.mark.parametrize("upsert", ["on_conflict", "merge"])
def test_a_target_made_before_without_a_key_is_refused_not_upserted_into(spark, db, tmp_path, upsert):
    table = f"no_key_{upsert}"
    with connection(spark, db) as sql:
        sql.execute(f"CREATE TABLE {table} (id integer, v text)")
        sql.execute(f"INSERT INTO {table} VALUES (1, 'a'), (1, 'b')")
    spark.createDataFrame([(1, "c")], "id int, v string").write.parquet(str(tmp_path / "t"))
    argv = ["--input_path", str(tmp_path / "t"), "--key", "id", "--jdbc_url", db.url, "--target_table", table]
    with pytest.raises(UsageError) as refused:
        load(spark, *argv, "--upsert", upsert)
    assert str(refused.value) == (
        f"{table} exists without a primary key or unique index on (id): an upsert could update several of its "
        "rows for one key; give it one, or load into a new table; nothing was loaded"
    )
    assert query(spark, db, f"SELECT id, v FROM {table} ORDER BY v") == [(1, "a"), (1, "b")]


def test_a_target_made_before_with_a_key_that_includes_other_columns_is_upserted_into(spark, db, tmp_path):
    with connection(spark, db) as sql:
        sql.execute("CREATE TABLE included_key (id integer, v text, PRIMARY KEY (id) INCLUDE (v))")
        sql.execute("INSERT INTO included_key VALUES (1, 'a')")
    spark.createDataFrame([(1, "b"), (2, "c")], "id int, v string").write.parquet(str(tmp_path / "t"))
    argv = ["--input_path", str(tmp_path / "t"), "--key", "id", "--jdbc_url", db.url, "--target_table", "included_key"]
    assert upsert_counts(load(spark, *argv)) == {"staged": 2, "inserted": 1, "updated": 1, "unchanged": 0}
    assert query(spark, db, "SELECT id, v FROM included_key ORDER BY id") == [(1, "b"), (2, "c")]


def test_the_mart_summaries_load_with_orders_missing_a_customer_or_employee(spark, db, tmp_path):
    processed = write_processed(spark, tmp_path / "p", [(1, 11, 21), (2, None, 21), (3, 11, None)])
    mart = sales_mart.run(
        spark, sales_mart.parse_args(["--processed_path", str(processed), "--mart_path", str(tmp_path / "mart")])
    )
    assert (mart.rows_read, mart.rows_written) == (3, 3)
    for table, target in (
        ("customer_summary", "summary_by_customer"),
        ("sales_by_employee_month", "summary_by_employee"),
    ):
        argv = ["--lake", str(tmp_path), "--table", table, "--target_table", target, "--jdbc_url", db.url]
        result = load(spark, *argv)
        mart_df = spark.read.parquet(str(tmp_path / "mart" / table))
        assert (result.rows_read, result.rows_written, result.rows_quarantined) == (2, 2, 0)
        assert_same_rows(read_jdbc(spark, db, f'"{target}"'), mart_df)
    ids = query(spark, db, "SELECT customerid, line_count FROM summary_by_customer ORDER BY customerid")
    assert ids == [(-1, 1), (11, 2)]


def test_a_missing_schema_fails_the_staging_step_in_one_database_line(spark, lake, db):
    with pytest.raises(DatabaseError) as failed:
        load(spark, "--lake", str(lake), "--table", "sales", "--jdbc_url", db.url, "--target_table", "nosuch.sales")
    message = re.sub(r"__stage_[0-9a-f]{8}", "__stage_<id>", str(failed.value))
    assert message == (
        'cannot create the staging table nosuch.sales__stage_<id>: ERROR: schema "nosuch" does not exist '
        "(SQLSTATE 3F000)"
    )


def test_a_failed_extract_leaves_the_previous_extract(spark, lake, db, sales_loaded, tmp_path):
    output = ["--jdbc_url", db.url, "--output_path", str(tmp_path / "x")]
    first = extract(spark, "--table", "sales", *output)
    first_df = spark.read.parquet(str(tmp_path / "x"))
    before = spark.createDataFrame(first_df.collect(), first_df.schema)  # kept in memory, not read again
    failing = (
        "SELECT salesorderid, 100 / (salesorderdetailid - (SELECT max(salesorderdetailid) FROM sales)) AS y FROM sales"
    )
    with pytest.raises(DatabaseError, match="division by zero"):
        extract(spark, "--query", failing, *output)
    assert first.rows_written == 300
    assert_same_rows(spark.read.parquet(str(tmp_path / "x")), before)
    assert sorted(path.name for path in (tmp_path / "x").glob("_*")) == ["_SUCCESS"]


def test_a_query_ending_in_a_comment_is_extracted(spark, lake, db, sales_loaded, tmp_path):
    result = extract(
        spark, "--query", "SELECT salesorderid FROM sales -- every line", "--jdbc_url", db.url,
        "--output_path", str(tmp_path / "c"),
    )  # fmt: skip
    assert (result.rows_read, result.rows_written) == (300, 300)
    expected = spark.read.parquet(str(lake / "mart" / "sales")).select("salesorderid")
    assert_same_rows(spark.read.parquet(str(tmp_path / "c")), expected)


def test_repeated_keys_stop_the_load_before_anything_is_published(spark, lake, db, tmp_path):
    customers_df = spark.read.parquet(str(lake / "processedData" / "customers"))
    customers_df.unionByName(customers_df.limit(1)).write.parquet(str(tmp_path / "dup"))
    argv = ["--input_path", str(tmp_path / "dup"), "--key", "customerid", "--jdbc_url", db.url]
    with pytest.raises(QualityGateError, match="0 rows have a null key and 1 rows repeat a key .customerid."):
        load(spark, *argv, "--target_table", "customers_dup")
    assert query(spark, db, "SELECT to_regclass('customers_dup') IS NULL") == [(True,)]
    assert query(spark, db, STAGING_TABLES) == [(0,)]


def refused_load(spark, db, folder, target):
    """The refusal of a load of ``folder`` (key ``id``) into ``target``: its message."""
    argv = ["--input_path", str(folder), "--key", "id", "--jdbc_url", db.url, "--target_table", target]
    with pytest.raises(QualityGateError) as refused:
        load(spark, *argv)
    return str(refused.value)


def test_days_jdbc_cannot_carry_stop_the_load_and_older_days_load_exactly(spark, db, tmp_path):
    """1582-10-05..14 do not exist in java.sql.Date's calendar: 1582-10-10 was loaded as 1582-10-15."""
    rows = [(1, "0001-01-01", "1000-03-01 00:00:00"), (2, "1582-10-04", "1582-10-15 12:00:00")]
    frame = spark.createDataFrame(rows, "id INT, d STRING, ts STRING")
    frame = frame.select("id", F.to_date("d").alias("d"), F.to_timestamp("ts").alias("ts"))
    frame.write.parquet(str(tmp_path / "old"))
    load(spark, "--input_path", str(tmp_path / "old"), "--key", "id", "--jdbc_url", db.url, "--target_table", "old")
    assert query(spark, db, "SELECT id, d::text, (ts AT TIME ZONE 'UTC')::text FROM old ORDER BY id") == [
        (1, "0001-01-01", "1000-03-01 00:00:00"),
        (2, "1582-10-04", "1582-10-15 12:00:00"),
    ]
    for gap_row in [(3, "1582-10-10", None), (3, None, "1582-10-14 23:59:59")]:
        gap = spark.createDataFrame([gap_row], "id INT, d STRING, ts STRING")
        gap = gap.select("id", F.to_date("d").alias("d"), F.to_timestamp("ts").alias("ts"))
        gap.write.mode("overwrite").parquet(str(tmp_path / "gap"))
        assert refused_load(spark, db, tmp_path / "gap", "old") == (
            f"{tmp_path / 'gap'}: 1 rows hold a date or timestamp from 1582-10-05 to 1582-10-14, days that JDBC's "
            "java.sql.Date and Timestamp lack (the calendar's switch to Gregorian): PostgreSQL would get 1582-10-15 "
            "or later instead; nothing was loaded into old"
        )
    assert query(spark, db, "SELECT count(*) FROM old") == [(2,)]


def test_text_holding_nul_stops_the_load_before_staging_naming_its_columns(spark, db, tmp_path):
    """PostgreSQL text cannot hold U+0000: the load failed part-way with ``0x00``, naming no column."""
    rows = [(1, "a\x00b", "x\x00", "ok"), (2, "\x00", "y", "ok"), (3, "c", "z", "ok")]
    frame = spark.createDataFrame(rows, "id INT, name STRING, `note d` STRING, clean STRING")
    frame.write.parquet(str(tmp_path / "nul"))
    assert refused_load(spark, db, tmp_path / "nul", "nul") == (
        f"{tmp_path / 'nul'}: text values hold the character U+0000 (NUL), which PostgreSQL and Redshift text "
        "cannot store, in column(s) 'name' (2), 'note d' (1); nothing was loaded into nul"
    )
    assert query(spark, db, "SELECT to_regclass('nul') IS NULL") == [(True,)]
    assert query(spark, db, STAGING_TABLES) == [(0,)]


def test_a_target_made_before_with_other_column_types_is_refused_not_converted_into(spark, lake, db, tmp_path):
    """``numeric(10,2)`` would round the lake's 4 decimals without an error."""
    employees_df = spark.read.parquet(str(lake / "processedData" / "employees")).select("employeeid", "fullname")
    employees_df = employees_df.withColumn("bonus", F.lit(Decimal("1.2345")).cast("decimal(17,4)"))
    employees_df.write.parquet(str(tmp_path / "employees"))
    execute(spark, db, "CREATE TABLE staff (employeeid integer PRIMARY KEY, fullname text, bonus numeric(10,2))")
    argv = ["--input_path", str(tmp_path / "employees"), "--key", "employeeid", "--jdbc_url", db.url]
    with pytest.raises(UsageError) as raised:
        load(spark, *argv, "--target_table", "staff")
    assert str(raised.value) == (
        "staff exists with other columns than the lake's: bonus numeric(10,2) (the lake's: numeric(17,4)); "
        "loading would convert their values: give it the lake's types, or load into a new table; nothing was loaded"
    )
    assert query(spark, db, "SELECT count(*) FROM staff") == [(0,)]
    assert query(spark, db, STAGING_TABLES) == [(0,)]


def test_a_key_matches_the_tables_columns_in_any_case_and_takes_their_spelling(spark, db, tmp_path):
    """Until session 47 ``--key SKU`` was refused: ``--key names columns that ... does not have: SKU``."""
    spark.createDataFrame([(1, "a", 2), (2, "b", 3)], "sku int, name string, qty int").write.parquet(
        str(tmp_path / "t")
    )
    argv = ["--input_path", str(tmp_path / "t"), "--jdbc_url", db.url, "--target_table", "stock"]
    result = load(spark, *argv, "--key", "SKU")
    assert (result.rows_written, result.details["key"]) == (2, ["sku"])
    primary_key = (
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = 'stock'::regclass AND i.indisprimary"
    )
    assert query(spark, db, primary_key) == [("sku",)]
    assert query(spark, db, "SELECT sku, name, qty FROM stock ORDER BY sku") == [(1, "a", 2), (2, "b", 3)]
    with pytest.raises(UsageError) as raised:
        load(spark, *argv, "--key", "sku,Sku")
    assert str(raised.value) == "--key names the column sku twice (column names match in any case)"


REFUSE_DROPS = """
CREATE FUNCTION refuse_drops() RETURNS event_trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'drops are refused'; END $$;
CREATE EVENT TRIGGER refuse_drops ON ddl_command_start WHEN TAG IN ('DROP TABLE') EXECUTE FUNCTION refuse_drops();
"""


def test_a_failing_cleanup_does_not_hide_why_the_load_failed(spark, lake, db, tmp_path, caplog):
    """The staging table cannot be dropped either: the run still reports the repeated keys."""
    customers_df = spark.read.parquet(str(lake / "processedData" / "customers"))
    customers_df.unionByName(customers_df.limit(1)).write.parquet(str(tmp_path / "dup"))
    argv = ["--input_path", str(tmp_path / "dup"), "--key", "customerid", "--jdbc_url", db.url]
    execute(spark, db, REFUSE_DROPS)
    try:
        with pytest.raises(QualityGateError, match="1 rows repeat a key .customerid.; nothing was loaded"):
            load(spark, *argv, "--target_table", "customers_undroppable")
        assert query(spark, db, STAGING_TABLES) == [(1,)]
    finally:
        execute(spark, db, "DROP EVENT TRIGGER refuse_drops; DROP FUNCTION refuse_drops()")
    [left] = query(spark, db, r"SELECT tablename FROM pg_tables WHERE tablename LIKE '%\_\_stage\_%'")
    execute(spark, db, f"DROP TABLE {left[0]}")
    warnings = [
        r.getMessage() for r in caplog.records if r.name == "lakejobs.jobs.warehouse_load" and r.levelname == "WARNING"
    ]
    assert warnings == [
        f"cannot drop the staging table {left[0]}: ERROR: drops are refused (SQLSTATE P0001); it is left in the "
        "database after the load failed"
    ]


def test_a_cleanup_without_a_database_names_the_staging_table_left(spark, db, caplog):
    """The warning named only the connection's error, not the table left behind."""
    closed = free_port()
    login = DbLogin(f"jdbc:postgresql://127.0.0.1:{closed}/x", db.user, db.password)
    warehouse_load.drop_staging_after_failure(spark, login, TableName("big__stage_6909211c", "mart"))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"cannot drop the staging table mart.big__stage_6909211c: cannot connect to the database: Connection to "
        f"127.0.0.1:{closed} refused. Check that the hostname and port are correct and that the postmaster is "
        "accepting TCP/IP connections. (SQLSTATE 08001); it is left in the database after the load failed"
    ]


def test_extract_reads_in_ranges_and_round_trips_every_value(spark, lake, db, sales_loaded, tmp_path):
    mart_df = spark.read.parquet(str(lake / "mart" / "sales"))
    low, high = mart_df.agg(F.min("salesorderid"), F.max("salesorderid")).first()
    argv = ["--table", "sales", "--jdbc_url", db.url, "--partition_column", "salesorderid", "--num_partitions", "4"]
    args = warehouse_extract.parse_args([*argv, "--output_path", str(tmp_path / "sales")])
    ranges = warehouse_extract.range_options(spark, db, args)
    assert ranges == {
        "partitionColumn": "salesorderid",
        "lowerBound": str(low),
        "upperBound": str(high),
        "numPartitions": 4,
    }
    assert read_jdbc(spark, db, args.source, ranges).rdd.getNumPartitions() == 4
    result = extract(spark, *argv, "--output_path", str(tmp_path / "sales"), "--partition_by", "order_year,order_month")
    assert (result.rows_read, result.rows_written) == (300, 300)
    assert_same_rows(spark.read.parquet(str(tmp_path / "sales")), mart_df)
    assert partition_folders(tmp_path / "sales") == partition_folders(lake / "mart" / "sales")


def test_timestamp_bounds_are_written_in_the_session_time_zone_not_the_drivers(spark, db, monkeypatch):
    """Spark reads the bounds in the session's zone (UTC); a timestamp collected to Python is local."""
    execute(spark, db, "CREATE TABLE events (id integer PRIMARY KEY, at timestamptz)")
    execute(spark, db, "INSERT INTO events VALUES (1, '2024-03-01 10:00:00+00'), (2, '2024-03-02 12:30:00+00')")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        argv = ["--table", "events", "--jdbc_url", db.url, "--partition_column", "at", "--output_path", "x"]
        ranges = warehouse_extract.range_options(spark, db, warehouse_extract.parse_args(argv))
    finally:
        monkeypatch.undo()  # the machine's TZ back (monkeypatch alone would not call tzset again)
        time.tzset()
    assert (ranges["lowerBound"], ranges["upperBound"]) == ("2024-03-01 10:00:00", "2024-03-02 12:30:00")


def test_a_partition_column_of_another_type_is_refused_naming_its_declared_type(spark, db, tmp_path):
    """Until session 47 a numeric(18,2) was said to be decimal(38,18), the type of its min() in PostgreSQL."""
    execute(spark, db, "CREATE TABLE payments (id int, amount numeric(18,2)); INSERT INTO payments VALUES (1, 9.5)")
    output = ["--jdbc_url", db.url, "--output_path", str(tmp_path / "payments")]
    with pytest.raises(UsageError) as raised:
        extract(spark, "--table", "payments", "--partition_column", "amount", *output)
    assert str(raised.value) == (
        "--partition_column amount is decimal(18,2): expected an integer, date or timestamp column"
    )
    assert not (tmp_path / "payments").exists()


def test_an_extract_replaces_the_whole_output_so_a_partition_gone_from_the_source_goes(
    spark, lake, db, sales_loaded, tmp_path
):
    output = ["--jdbc_url", db.url, "--output_path", str(tmp_path / "x"), "--partition_by", "order_year"]
    extract(spark, "--table", "sales", *output)
    assert sorted(path.name for path in (tmp_path / "x").glob("order_year=*")) == [
        "order_year=2011", "order_year=2012", "order_year=2013", "order_year=2014"
    ]  # fmt: skip
    query_text = "SELECT salesorderid, salesorderdetailid, order_year FROM sales WHERE order_year = 2013"
    result = extract(spark, "--query", query_text, *output)
    assert [path.name for path in (tmp_path / "x").glob("order_year=*")] == ["order_year=2013"]
    mart_2013 = spark.read.parquet(str(lake / "mart" / "sales")).filter("order_year = 2013")
    expected = mart_2013.select("salesorderid", "salesorderdetailid", "order_year")
    assert result.rows_written == expected.count() > 0
    assert_same_rows(spark.read.parquet(str(tmp_path / "x")), expected)


INFINITE = """
CREATE TABLE scd (id int PRIMARY KEY, valid_from timestamptz, valid_to timestamptz, day date, at time);
INSERT INTO scd VALUES (1, '2020-01-01+00', '2021-01-01+00', '2020-01-01', '12:00'),
    (2, '2021-01-01+00', 'infinity', '2021-01-01', NULL), (3, '-infinity', '2020-01-01+00', 'infinity', NULL),
    (4, '-infinity', 'infinity', '-infinity', NULL);
"""


def test_infinite_dates_and_timestamps_stop_the_extract_before_anything_is_written(spark, db, tmp_path):
    """The driver read 'infinity' as 9999-12-31 23:59:59.999 without a word; a date failed on an overflow."""
    execute(spark, db, INFINITE)
    output = ["--jdbc_url", db.url, "--output_path", str(tmp_path / "x")]
    with pytest.raises(QualityGateError) as refused:
        extract(spark, "--table", "scd", "--partition_column", "valid_to", *output)
    assert str(refused.value) == (
        "scd: valid_from (2 '-infinity'), valid_to (2 'infinity'), day (1 'infinity' and 1 '-infinity') hold "
        "PostgreSQL's infinite dates or timestamps, which Spark cannot represent (a timestamp would read as "
        "9999-12-31 23:59:59.999 or 0001-01-03): extract a --query that replaces them, e.g. "
        "NULLIF(column, 'infinity'); nothing was written"
    )
    with pytest.raises(QualityGateError, match=r"^--query: day \(1 'infinity'\) hold "):
        extract(spark, "--query", "SELECT id, day FROM scd WHERE id < 4", *output)
    assert not (tmp_path / "x").exists()
    extract(spark, "--query", "SELECT id, day, at FROM scd WHERE id < 3", *output)
    rows = spark.read.parquet(str(tmp_path / "x")).orderBy("id").selectExpr("id", "CAST(day AS STRING)").collect()
    assert [tuple(row) for row in rows] == [(1, "2020-01-01"), (2, "2021-01-01")]


GAP = """
CREATE TABLE gap (id int, day date, at timestamptz, ts timestamp);
INSERT INTO gap VALUES (1, '1582-10-10', '1582-10-14 12:00+00', '1582-10-05 01:00'),
    (2, '1582-10-04', '1582-10-15 00:00+00', '1582-10-15 00:00'), (3, '1582-10-10 BC', NULL, '1582-10-04 23:59');
"""


def test_days_jdbc_cannot_carry_stop_the_extract_and_others_read_exactly(spark, db, tmp_path):
    """The driver read 1582-10-10 as 1582-10-20, and 1582-10-14 12:00 as 1582-10-24 12:00, without a word."""
    execute(spark, db, GAP)
    output = ["--jdbc_url", db.url, "--output_path", str(tmp_path / "x")]
    with pytest.raises(QualityGateError) as refused:
        extract(spark, "--table", "gap", *output)
    assert str(refused.value) == (
        "gap: day (1), at (1), ts (1) hold days from 1582-10-05 to 1582-10-14, which JDBC's java.sql.Date and "
        "Timestamp lack (the calendar's switch to Gregorian): they would read as ten days later; extract a --query "
        "that replaces them; nothing was written"
    )
    assert not (tmp_path / "x").exists()
    extract(spark, "--query", "SELECT * FROM gap WHERE id > 1", *output)
    rows = spark.read.parquet(str(tmp_path / "x")).orderBy("id")
    rows = rows.selectExpr("id", "CAST(day AS STRING)", "CAST(at AS STRING)", "CAST(ts AS STRING)").collect()
    assert [tuple(row) for row in rows] == [
        (2, "1582-10-04", "1582-10-15 00:00:00", "1582-10-15 00:00:00"),
        (3, "-1581-10-10", None, "1582-10-04 23:59:00"),  # 1582 BC is year -1581
    ]


def test_text_partition_values_that_name_the_null_folder_stop_the_extract(spark, db, tmp_path):
    """'' was written to the null's folder and read back as null; its name next to a null failed the write."""
    rows = "(1, 'a', 1), (2, '', 1), (3, '__HIVE_DEFAULT_PARTITION__', NULL), (4, NULL, NULL), (5, '', 2)"
    execute(spark, db, f"CREATE TABLE codes (id int, code text, n int); INSERT INTO codes VALUES {rows}")
    output = ["--jdbc_url", db.url, "--output_path", str(tmp_path / "x")]
    with pytest.raises(QualityGateError) as refused:
        extract(spark, "--table", "codes", "--partition_by", "n,code", *output)
    assert str(refused.value) == (
        "codes: --partition_by values '' or '__HIVE_DEFAULT_PARTITION__', the folder name Spark writes for a null, "
        "would read back as null: code in 3 rows; extract a --query that replaces them, e.g. NULLIF(column, ''); "
        "nothing was written"
    )
    with pytest.raises(QualityGateError, match="^--query: .* null: code in 1 rows; "):
        extract(spark, "--query", "SELECT * FROM codes WHERE id IN (1, 2, 4)", "--partition_by", "code", *output)
    assert not (tmp_path / "x").exists()
    extract(spark, "--query", "SELECT id, code FROM codes WHERE id IN (1, 4)", "--partition_by", "code", *output)
    rows = spark.read.parquet(str(tmp_path / "x")).orderBy("id").collect()
    assert [tuple(row) for row in rows] == [(1, "a"), (4, None)]


def test_a_partitioned_extract_of_no_row_reads_back_and_loads_as_an_empty_table(spark, db, tmp_path):
    """The folder held no file, so no schema: reading it (and loading it) failed with UNABLE_TO_INFER_SCHEMA."""
    execute(spark, db, "CREATE TABLE nothing (id int, code text, amount numeric(10,2))")
    output = str(tmp_path / "x")
    result = extract(
        spark, "--table", "nothing", "--partition_by", "code", "--jdbc_url", db.url, "--output_path", output
    )
    assert (result.status, result.rows_written) == ("SUCCEEDED", 0)
    assert spark.read.parquet(output).schema.simpleString() == "struct<id:int,code:string,amount:decimal(10,2)>"
    loaded = load(spark, "--input_path", output, "--key", "id", "--jdbc_url", db.url, "--target_table", "nothing_back")
    assert (loaded.rows_read, loaded.rows_written) == (0, 0)
    types = query(spark, db, upsert_sql.column_types_sql(TableName("nothing_back")))
    assert sorted(types) == [("amount", "numeric(10,2)"), ("code", "text"), ("id", "integer")]


def partition_folders(table: Path):
    return sorted(str(path.relative_to(table)) for path in table.glob("order_year=*/order_month=*"))


def test_extract_of_a_query_splits_on_a_date_column(spark, lake, db, sales_loaded, tmp_path):
    query_text = "SELECT salesorderid, salesorderdetailid, orderdate, linetotal FROM sales WHERE order_year = 2013"
    result = extract(
        spark, "--query", query_text, "--partition_column", "orderdate", "--jdbc_url", db.url,
        "--output_path", str(tmp_path / "q"),
    )  # fmt: skip
    expected_df = (
        spark.read.parquet(str(lake / "mart" / "sales"))
        .filter("order_year = 2013")
        .select("salesorderid", "salesorderdetailid", "orderdate", "linetotal")
    )
    assert result.details["ranges"]["partitionColumn"] == "orderdate"
    assert result.details["ranges"]["lowerBound"].startswith("2013-")
    assert result.rows_written == expected_df.count() > 0
    assert_same_rows(spark.read.parquet(str(tmp_path / "q")), expected_df)


def test_a_secrets_manager_login_loads_and_never_prints_the_password(
    spark, s3, postgres, lake, tmp_path, capfd, monkeypatch
):
    for name in postgres.env():
        monkeypatch.delenv(name, raising=False)
    secret = {"username": postgres.user, "password": postgres.password, "engine": "postgres"}
    secret.update({"host": postgres.host, "port": postgres.port, "dbname": postgres.database})
    boto3.client("secretsmanager").create_secret(Name="lakejobs/warehouse", SecretString=json.dumps(secret))
    code = warehouse_load.main(
        ["--lake", str(lake), "--table", "employees", "--secret_id", "lakejobs/warehouse"]
        + ["--report_path", str(tmp_path / "runs")]
    )
    out, err = capfd.readouterr()
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert (result["status"], result["rows_read"], result["details"]["inserted"]) == ("SUCCEEDED", 18, 18)
    report = next((tmp_path / "runs" / "warehouse_load").glob("*.json")).read_text()
    assert postgres.password not in out + err + report
    login = DbLogin(postgres.jdbc_url, postgres.user, postgres.password)
    employees_df = spark.read.parquet(str(lake / "processedData" / "employees"))
    assert_same_rows(read_jdbc(spark, login, '"employees"'), employees_df)


LOADING_CUSTOMERS = (
    "INFO lakejobs.jobs.warehouse_load: loading 40 rows of {lake}/processedData/customers into customers "
)
LOADING_CUSTOMERS += "(staging customers__stage_<id>)"


@pytest.mark.parametrize(
    "job, argv, code, lines",
    [
        (
            warehouse_load,
            ["--input_path", "/no/such/table", "--key", "id", "--jdbc_url", "{url}"],
            2,
            ["warehouse_load: error: input table does not exist: /no/such/table"],
        ),
        (
            warehouse_load,
            ["--lake", "{lake}", "--table", "customers", "--jdbc_url", "postgresql://127.0.0.1/warehouse"],
            2,
            [
                "warehouse_load: error: --jdbc_url must look like jdbc:postgresql://host:port/database "
                "(PostgreSQL and RDS PostgreSQL; see the README for Redshift)"
            ],
        ),
        (
            warehouse_load,
            ["--lake", "{lake}", "--table", "customers", "--jdbc_url", "{url}?user=lakejobs&password={password}"],
            2,
            ["warehouse_load: error: --jdbc_url must not hold a password: set LAKEJOBS_DB_PASSWORD or use --secret_id"],
        ),
        (
            warehouse_load,
            ["--lake", "{lake}", "--table", "customers", "--jdbc_url", "jdbc:postgresql://127.0.0.1:{closed}/x"],
            1,
            [
                LOADING_CUSTOMERS,
                "warehouse_load: error: cannot connect to the database: Connection to 127.0.0.1:{closed} refused. "
                "Check that the hostname and port are correct and that the postmaster is accepting TCP/IP "
                "connections. (SQLSTATE 08001)",
            ],
        ),
        (
            warehouse_extract,
            ["--table", "no_such_table", "--jdbc_url", "{url}", "--output_path", "{lake}/x"],
            1,
            [
                'warehouse_extract: error: cannot read "no_such_table": ERROR: relation "no_such_table" does not '
                "exist (SQLSTATE 42P01)",
            ],
        ),
        (
            warehouse_load,
            ["--lake", "{lake}", "--table", "customers", "--jdbc_url", "{url}?sslmode=require&sslpassword={password}"],
            2,
            ["warehouse_load: error: --jdbc_url must not hold a password: set LAKEJOBS_DB_PASSWORD or use --secret_id"],
        ),
        (
            warehouse_extract,
            [
                "--query",
                "SELECT nosuch\nFROM (SELECT 1 AS one) AS t",
                "--jdbc_url",
                "{url}",
                "--output_path",
                "{lake}/x",
            ],
            1,
            [
                'warehouse_extract: error: cannot read --query: ERROR: column "nosuch" does not exist (SQLSTATE 42703)',
            ],
        ),
        (
            warehouse_load,
            ["--lake", "{lake}", "--table", "customers", "--jdbc_url", "jdbc:postgresql://nosuchhost.invalid:5432/x"],
            1,
            [
                LOADING_CUSTOMERS,
                "warehouse_load: error: cannot connect to the database: The connection attempt failed: "
                "UnknownHostException: nosuchhost.invalid (SQLSTATE 08001)",
            ],
        ),
    ],
    ids=[
        "missing-table",
        "bad-url",
        "password-in-url",
        "no-server",
        "missing-db-table",
        "sslpassword",
        "bad-query",
        "unknown-host",
    ],  # fmt: skip
)
def test_a_bad_input_or_url_ends_in_one_clear_line(spark, lake, db, capfd, job, argv, code, lines):
    values = {"url": db.url, "lake": str(lake), "password": db.password, "closed": free_port()}
    assert job.main([token.format(**values) for token in argv]) == code
    out, err = capfd.readouterr()
    # The job's log lines, if it got that far, then one error line: nothing else (no Java, no traceback).
    assert job_stderr(err) == [line.format(**values) for line in lines]
    assert db.password not in out + err


def test_a_wrong_password_is_refused_in_one_line_that_does_not_echo_it(spark, lake, db, capfd, monkeypatch):
    monkeypatch.setenv("LAKEJOBS_DB_PASSWORD", "not-the-password-42")
    code = warehouse_load.main(["--lake", str(lake), "--table", "customers", "--jdbc_url", db.url])
    out, err = capfd.readouterr()
    assert code == 1
    assert job_stderr(err) == [
        LOADING_CUSTOMERS.format(lake=lake),
        "warehouse_load: error: cannot connect to the database: "
        'FATAL: password authentication failed for user "lakejobs" (SQLSTATE 28P01)',
    ]
    assert "not-the-password-42" not in out + err


def job_stderr(err):
    """stderr's lines, log lines without their time, a load's random staging table name as ``<id>``."""
    return [re.sub(r"__stage_[0-9a-f]{8}\)$", "__stage_<id>)", line) for line in stderr_lines(err)]


def test_a_port_taken_before_the_server_binds_it_gives_way_to_another(monkeypatch):
    """The port is picked free, then bound by the server later: a process taking it in between
    failed the session's warehouse fixture, and with it every warehouse test."""
    import socket

    from lakejobs import pglocal

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1], free_port()])
        monkeypatch.setattr(pglocal, "free_port", lambda: next(ports))
        with pglocal.postgres_server() as server:
            assert server.port != taken.getsockname()[1]
            socket.create_connection(("127.0.0.1", server.port), timeout=10).close()  # it listens there
