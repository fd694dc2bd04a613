"""warehouse_load: a lake table (Parquet or Delta) -> a relational warehouse, upserted on its key.

The way Glue jobs load RDS: Spark's JDBC writer fills a fresh staging table (``batchsize``
rows a batch, ``--num_partitions`` connections at once), then ONE transaction, run from the
driver's JVM over JDBC, creates the target if missing (with a primary key on ``--key``),
checks the staged keys, upserts into the target and drops the staging table. Readers see the
old rows or the new ones, never a half load; a rerun changes no value (with the default
upsert, rows whose values did not change are not rewritten either; ``--upsert merge`` updates
every matched row). Rows that left the source are kept: this is an upsert. Every
row read is written (``rows_written``: inserted, updated, or already there unchanged; the three
counts are in the report's details), or the load fails whole.

Credentials come from ``LAKEJOBS_DB_USER`` / ``LAKEJOBS_DB_PASSWORD`` or an RDS-style Secrets
Manager secret (``--secret_id``), never from arguments, and never reach a log line.

Redshift: the same shape with Redshift's tools. Stage the table as Parquet on S3 and ``COPY``
it into a temporary staging table (``COPY stage FROM 's3://...' IAM_ROLE '...' FORMAT AS
PARQUET``; Glue's Redshift connector does this for you), then in one transaction either
``MERGE INTO target USING stage ON key WHEN MATCHED THEN UPDATE ... WHEN NOT MATCHED THEN
INSERT ...`` (``--upsert merge`` runs this statement here, on PostgreSQL 15+) or
``DELETE FROM target USING stage WHERE key matches; INSERT INTO target SELECT * FROM stage``.

Examples
--------
::

    export LAKEJOBS_DB_USER=loader LAKEJOBS_DB_PASSWORD=...
    python jobs/warehouse_load.py --lake lake --table sales \\
        --jdbc_url jdbc:postgresql://db.example.com:5432/warehouse --target_table mart.sales

    python jobs/warehouse_load.py --input_path s3://bucket/processedData/orders --format delta \\
        --key salesorderid,salesorderdetailid --target_table orders --secret_id prod/warehouse
"""

import dataclasses
import logging
import os
from functools import reduce
from typing import TYPE_CHECKING, Dict, Optional, Sequence, Tuple

from lakejobs import args as job_args
from lakejobs import fs, runtime
from lakejobs.datasets import as_spelled, builtin_dataset
from lakejobs.errors import LakejobsError, QualityGateError, UsageError
from lakejobs.io import upsert_sql
from lakejobs.io.credentials import DbLogin, check_jdbc_url, resolve_login
from lakejobs.io.delta import read_table, require_delta
from lakejobs.io.jdbc import connection, database_errors, transaction, write_jdbc
from lakejobs.io.reports import raise_failed_run, refuse_missing_report_bucket, save_run_report_quietly
from lakejobs.io.upsert_sql import TableName
from lakejobs.jobs.sales_mart import SALES_KEY
from lakejobs.result import JobResult, OutputInfo, new_run_id

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

JOB = "warehouse_load"
DESCRIPTION = "a lake table (Parquet/Delta) -> PostgreSQL/RDS via a staging table and one upsert transaction"
LOG = logging.getLogger(__name__)

#: Tables of a lake that ``--table`` names: folder below the lake, and key.
LAKE_TABLES: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "sales": ("mart/sales", SALES_KEY),
    "sales_by_employee_month": ("mart/sales_by_employee_month", ("employeeid", "order_year", "order_month")),
    "customer_summary": ("mart/customer_summary", ("customerid",)),
    **{
        name: (f"processedData/{name}", builtin_dataset(name).primary_key)
        for name in ("customers", "employees", "orders")
    },
}


@dataclasses.dataclass(frozen=True)
class WarehouseLoadArgs:
    """The job's configuration, built once from its arguments (no secrets in it)."""

    input_path: str
    input_format: str
    target_table: TableName
    key: Tuple[str, ...]
    jdbc_url: Optional[str]
    secret_id: Optional[str]
    upsert: str
    batch_size: int
    num_partitions: int
    report_path: Optional[str]
    #: ``report_path`` is ``<lake>/_lakejobs/runs``, not given: a lake only read is no reason to refuse the load.
    report_path_is_default: bool = False


def build_parser():
    """The job's argument parser (Glue-style ``--name value`` options)."""
    parser = job_args.new_parser(JOB, DESCRIPTION)
    parser.add_argument(
        "--table",
        help=f"a table of --lake: {', '.join(LAKE_TABLES)} (sets path and key; default: none, give it or --input_path)",
    )
    parser.add_argument("--lake", help="the lake root holding mart/ and processedData/ (with --table)")
    parser.add_argument("--input_path", help="any table folder (instead of --lake/--table; needs --key)")
    parser.add_argument("--format", dest="input_format", choices=("parquet", "delta"), default="parquet")
    parser.add_argument("--target_table", help="[schema.]table in the database (default: the table's name)")
    parser.add_argument(
        "--key",
        type=job_args.parse_columns,
        help="primary key columns: c1,c2 (default: --table's key; --input_path needs it)",
    )
    parser.add_argument("--jdbc_url", help="jdbc:postgresql://host:port/database (no password in it)")
    parser.add_argument("--secret_id", help="Secrets Manager secret with username, password, host, port, dbname")
    parser.add_argument("--upsert", choices=upsert_sql.UPSERTS, default="on_conflict")
    parser.add_argument("--batch_size", type=job_args.parse_positive, default=10000, help="rows per JDBC batch")
    parser.add_argument(
        "--num_partitions", type=job_args.parse_positive, default=2, help="concurrent JDBC connections writing"
    )
    parser.add_argument(
        "--report_path",
        help="folder for run reports, <job>/<run_id>.json (default with --lake: <lake>/_lakejobs/runs, the pipeline's)",
    )
    return parser


def _source(namespace) -> Tuple[str, str, Tuple[str, ...]]:
    """(input path, default target name, key) from --lake/--table or --input_path/--key."""
    if bool(namespace.table) == bool(namespace.input_path):
        raise UsageError("give either --lake with --table, or --input_path with --key")
    if namespace.table:
        if namespace.table not in LAKE_TABLES:
            raise UsageError(f"unknown --table {namespace.table!r}: known tables are {', '.join(LAKE_TABLES)}")
        if not namespace.lake:
            raise UsageError("--table needs --lake (the lake root)")
        folder, key = LAKE_TABLES[namespace.table]
        return f"{fs.qualify(namespace.lake).rstrip('/')}/{folder}", namespace.table, tuple(namespace.key or key)
    if namespace.lake:
        raise UsageError("--lake goes with --table; --input_path names the table's folder itself: give one of them")
    if not namespace.key:
        raise UsageError("--input_path needs --key (the primary key columns)")
    path = fs.qualify(namespace.input_path)
    return path, os.path.basename(path.rstrip("/")), tuple(namespace.key)


def parse_args(argv: Sequence[str]) -> WarehouseLoadArgs:
    """Build the typed configuration from ``argv``; raises ``UsageError`` on any problem."""
    namespace = job_args.parse_job_args(build_parser(), argv, also_paths=("lake",))
    input_path, default_name, key = _source(namespace)
    if namespace.jdbc_url:
        check_jdbc_url(namespace.jdbc_url)
    elif not namespace.secret_id:
        raise UsageError("give --jdbc_url (credentials from the environment) or --secret_id")
    return WarehouseLoadArgs(
        input_path=input_path,
        input_format=namespace.input_format,
        target_table=TableName.parse(namespace.target_table or default_name),
        key=key,
        jdbc_url=namespace.jdbc_url,
        secret_id=namespace.secret_id,
        upsert=namespace.upsert,
        batch_size=namespace.batch_size,
        num_partitions=namespace.num_partitions,
        report_path=_report_path(namespace),
        report_path_is_default=not namespace.report_path,
    )


def _report_path(namespace) -> Optional[str]:
    """``--report_path``; else with ``--lake`` the pipeline's runs folder (``lakejobs report --lake`` lists them).

    A load of ``--input_path`` alone has no folder of its own to report beside: the table it
    reads belongs to the job that wrote it.
    """
    if namespace.report_path:
        return fs.qualify(namespace.report_path)
    return f"{fs.qualify(namespace.lake).rstrip('/')}/_lakejobs/runs" if namespace.lake else None


def preflight(args: WarehouseLoadArgs) -> None:
    """Fail fast, before Spark starts, when a local input table is missing."""
    if fs.is_local(args.input_path) and not os.path.exists(fs.local_path(args.input_path)):
        raise UsageError(f"input table does not exist: {args.input_path}")
    if args.report_path and not args.report_path_is_default:  # the lake's own: saved if it can be, else a warning
        fs.require_writable({"--report_path": args.report_path})


def read_source(spark: "SparkSession", args: WarehouseLoadArgs) -> Tuple["DataFrame", Tuple[str, ...]]:
    """The input table, checked (it exists, holds the key columns, every type maps), and the key as it spells it.

    ``--key`` matches the table's columns in any case, as ``csv_to_parquet --primary_key`` does
    (``datasets.as_spelled``); until session 47 ``--key SKU`` was refused for a column ``sku``.
    """
    if not fs.exists(spark, args.input_path):
        raise UsageError(f"input table does not exist: {args.input_path}")
    if args.input_format == "delta":
        require_delta(spark, writes=False)
    source_df = read_table(spark, args.input_path, args.input_format)
    key = as_spelled(args.key, source_df.columns, "--key")
    missing = [column for column in key if column not in source_df.columns]
    if missing:
        raise UsageError(f"--key names columns that {args.input_path} does not have: {', '.join(missing)}")
    refuse_unsafe_column_names(args.input_path, source_df.columns)
    upsert_sql.column_definitions(source_df.schema, key)  # raises UsageError for an unmappable type
    return source_df, key


#: PostgreSQL keeps the first 63 bytes of a name (``NAMEDATALEN - 1``): two longer names could become one.
MAX_NAME_BYTES = 63


def refuse_unsafe_column_names(input_path: str, columns) -> None:
    """Refuse column names the warehouse cannot take as they are.

    Our SQL quotes names by doubling ``"``, but Spark's JDBC writer puts each name between
    ``"`` as it is: a ``"`` in a name would end the name inside Spark's INSERT and run the rest
    as SQL. NUL cannot be in a PostgreSQL name, and a longer name is cut to 63 bytes.
    """
    for name in columns:
        if '"' in name or "\x00" in name or len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise UsageError(
                f"{input_path}: column {name!r} cannot be a warehouse column as it is (a double quote, a NUL "
                f"or more than {MAX_NAME_BYTES} bytes): rename it in the table"
            )


def run(spark: "SparkSession", args: WarehouseLoadArgs) -> JobResult:
    """Load the input table into the warehouse; see the module docstring."""
    result = JobResult(job=JOB, run_id=new_run_id(), inputs={str(args.target_table): args.input_path})
    try:
        load(spark, args, result)
    except Exception as error:  # noqa: BLE001 - one clear line and a FAILED report
        raise_failed_run(spark, args.report_path, result, str(args.target_table), error)
    result.finish("SUCCEEDED")
    save_run_report_quietly(spark, args.report_path, result)
    return result


def load(spark: "SparkSession", args: WarehouseLoadArgs, result: JobResult) -> None:
    """Stage, upsert and describe the load in ``result``."""
    if not args.report_path_is_default:  # a report asked for, in a bucket that does not exist: refused
        refuse_missing_report_bucket(spark, args.report_path)
    source_df, key = read_source(spark, args)
    args = dataclasses.replace(args, key=key)
    login = resolve_login(args.jdbc_url, args.secret_id)
    with result.stage("count"):
        counts = count_rows(source_df)
    result.rows_read = counts.rows
    refuse_unloadable_values(args.input_path, args.target_table, counts)
    staging = args.target_table.staging(result.run_id.rsplit("-", 1)[-1])
    LOG.info(
        "loading %d rows of %s into %s (staging %s)", result.rows_read, args.input_path, args.target_table, staging
    )
    with result.stage("stage"):
        with connection(spark, login) as sql, database_errors(f"cannot create the staging table {staging}"):
            sql.execute(upsert_sql.create_staging_sql(staging, source_df.schema))
    try:
        with result.stage("stage"):
            write_jdbc(source_df, login, staging.sql, args.batch_size, args.num_partitions)
        with result.stage("upsert"):
            counts = upsert(spark, login, args, staging, source_df, result.rows_read)
    except BaseException:
        # A successful upsert drops the staging table in its own transaction.
        drop_staging_after_failure(spark, login, staging)
        raise
    # Every staged row is now in the target: inserted, updated, or already there unchanged.
    result.rows_written = counts["inserted"] + counts["updated"] + counts["unchanged"]
    result.details = {"target_table": str(args.target_table), "key": list(args.key), "upsert": args.upsert, **counts}
    result.outputs = [
        OutputInfo(str(args.target_table), f"{login.url}#{args.target_table}", "jdbc", result.rows_written, 0, 0)
    ]


@dataclasses.dataclass(frozen=True)
class SourceCounts:
    """What one pass over the source counts: its rows, and the rows no JDBC load would keep as they are."""

    rows: int
    #: Rows holding a date or timestamp from 1582-10-05 to 1582-10-14.
    in_gap: int
    #: Per text column holding U+0000 somewhere: how many of its values do.
    nul_values: Dict[str, int]


def count_rows(source_df: "DataFrame") -> SourceCounts:
    """The rows of ``source_df``, and those a JDBC load would change or fail on, in one pass.

    Spark hands JDBC a ``java.sql.Date`` (or ``Timestamp``), whose calendar is Julian before
    1582-10-15 and has no 1582-10-05 to 1582-10-14: such a day was loaded as 1582-10-15 without
    a word. Other old days keep their text (Spark rebases them), so only these are counted.
    PostgreSQL and Redshift text cannot hold U+0000: the load failed part-way with ``invalid byte
    sequence for encoding "UTF8": 0x00``, naming no column.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from lakejobs.transforms.validation import quote_name

    # From text: a Python date would reach Spark through java.sql.Date too, as 1582-10-15.
    first, last = F.lit("1582-10-05").cast("date"), F.lit("1582-10-14").cast("date")
    fields = source_df.schema.fields
    in_gap = [
        F.coalesce(F.to_date(F.col(quote_name(field.name))).between(first, last), F.lit(False))
        for field in fields
        if isinstance(field.dataType, (T.DateType, T.TimestampType, T.TimestampNTZType))
    ]
    flag = reduce(lambda left, right: left | right, in_gap, F.lit(False)).cast("long")
    texts = [field.name for field in fields if isinstance(field.dataType, T.StringType)]
    nul_counts = [
        F.count(F.when(F.instr(F.col(quote_name(name)), "\x00") > 0, 1)).alias(f"nul_{index}")
        for index, name in enumerate(texts)
    ]
    row = source_df.agg(
        F.count(F.lit(1)).alias("rows"), F.coalesce(F.sum(flag), F.lit(0)).alias("in_gap"), *nul_counts
    ).first()
    nul_values = {name: row[f"nul_{index}"] for index, name in enumerate(texts) if row[f"nul_{index}"]}
    return SourceCounts(row["rows"], row["in_gap"], nul_values)


def refuse_unloadable_values(input_path: str, target: object, counts: SourceCounts) -> None:
    """Raise ``QualityGateError`` when the source holds values the load would change or fail on."""
    if counts.in_gap:
        raise QualityGateError(
            f"{input_path}: {counts.in_gap} rows hold a date or timestamp from 1582-10-05 to 1582-10-14, days "
            "that JDBC's java.sql.Date and Timestamp lack (the calendar's switch to Gregorian): PostgreSQL would "
            f"get 1582-10-15 or later instead; nothing was loaded into {target}"
        )
    if counts.nul_values:
        columns = ", ".join(f"{name!r} ({count})" for name, count in counts.nul_values.items())
        raise QualityGateError(
            f"{input_path}: text values hold the character U+0000 (NUL), which PostgreSQL and Redshift text "
            f"cannot store, in column(s) {columns}; nothing was loaded into {target}"
        )


def drop_staging_after_failure(spark, login: DbLogin, staging: TableName) -> None:
    """Drop the staging table of a failed load; if that fails too, log it and keep the load's error.

    The load's error is the one the run reports: a failed drop (the database gone, say) is a
    warning naming the table left behind.
    """
    action = f"cannot drop the staging table {staging}"
    try:
        with connection(spark, login) as sql, database_errors(action):
            sql.execute(upsert_sql.drop_sql(staging))
    except Exception as error:  # noqa: BLE001 - the load's own error is raised by the caller
        message = str(error) if str(error).startswith(action) else f"{action}: {error}"
        LOG.warning("%s; it is left in the database after the load failed", message)


def upsert(spark, login: DbLogin, args: WarehouseLoadArgs, staging: TableName, source_df, rows_read: int) -> dict:
    """The load's one transaction: create the target, check the staged keys, upsert, drop the stage."""
    target, key, columns = args.target_table, args.key, source_df.columns
    with transaction(spark, login, f"cannot load {target}") as sql:
        sql.execute(upsert_sql.create_target_sql(target, source_df.schema, key))
        refuse_other_column_types(sql, target, staging, columns)
        if not sql.query(upsert_sql.key_indexes_sql(target, key))[0][0]:
            raise UsageError(
                f"{target} exists without a primary key or unique index on ({', '.join(key)}): an upsert could "
                "update several of its rows for one key; give it one, or load into a new table; nothing was loaded"
            )
        staged, null_keys, duplicate_keys = sql.query(upsert_sql.key_check_sql(staging, key))[0]
        if staged != rows_read:
            raise LakejobsError(f"staged {staged} rows but read {rows_read}; nothing was loaded into {target}")
        if null_keys or duplicate_keys:
            raise QualityGateError(
                f"{args.input_path}: {null_keys} rows have a null key and {duplicate_keys} rows repeat a key "
                f"({', '.join(key)}); nothing was loaded into {target}"
            )
        if args.upsert == "merge":
            inserted = sql.query(upsert_sql.new_keys_sql(target, staging, key))[0][0]
            updated = sql.execute(upsert_sql.merge_sql(target, staging, columns, key)) - inserted
        else:
            inserted, updated = sql.query(upsert_sql.on_conflict_sql(target, staging, columns, key))[0]
        sql.execute(upsert_sql.drop_sql(staging))
    return {"staged": staged, "inserted": inserted, "updated": updated, "unchanged": staged - inserted - updated}


def refuse_other_column_types(sql, target: TableName, staging: TableName, columns: Sequence[str]) -> None:
    """Refuse a target created before whose columns' types are not the lake's (the staged ones).

    ``CREATE TABLE IF NOT EXISTS`` keeps such a target, and inserting would convert each value
    to its type: ``numeric(17,4)`` rounds 1.234567 to 1.2346, ``timestamp`` drops the zone,
    ``real`` digits, all without an error. A load creates its target with the lake's types.
    """
    target_types = dict(sql.query(upsert_sql.column_types_sql(target)))
    staged_types = dict(sql.query(upsert_sql.column_types_sql(staging)))
    differ = [
        f"{column} {target_types.get(column, 'missing')} (the lake's: {staged_types[column]})"
        for column in columns
        if target_types.get(column) != staged_types[column]
    ]
    if differ:
        raise UsageError(
            f"{target} exists with other columns than the lake's: {', '.join(differ)}; loading would convert "
            "their values: give it the lake's types, or load into a new table; nothing was loaded"
        )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for every runtime; returns the exit code."""
    return runtime.run_main(JOB, argv, parse_args, run, preflight)
