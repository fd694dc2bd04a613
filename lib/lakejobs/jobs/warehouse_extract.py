"""warehouse_extract: a database table or query -> Parquet, read in parallel ranges (the "unload").

With ``--partition_column`` (an integer, date or timestamp column) the job asks the database
for the column's MIN and MAX, and Spark's JDBC reader splits that range into
``--num_partitions`` queries run by as many tasks at once, each fetching ``--fetch_size`` rows
a round trip. Rows outside the range or with a null in the column are still read (Spark's
first and last ranges are open-ended and the first one takes the nulls). Without it the
table is read by one query. The output is replaced; ``--partition_by`` partitions it.

Credentials as ``warehouse_load``: ``LAKEJOBS_DB_USER`` / ``LAKEJOBS_DB_PASSWORD`` or
``--secret_id``. On Redshift, ``UNLOAD ('SELECT ...') TO 's3://...' FORMAT AS PARQUET`` does this
step inside the cluster and is the faster choice for large tables.

Examples
--------
::

    python jobs/warehouse_extract.py --jdbc_url jdbc:postgresql://db:5432/warehouse \\
        --table mart.sales --partition_column salesorderid --num_partitions 4 \\
        --output_path lake/extract/sales --partition_by order_year,order_month

    python jobs/warehouse_extract.py --secret_id prod/warehouse --output_path out/big_orders \\
        --query "SELECT * FROM sales WHERE totaldue > 10000" --partition_column orderdate
"""

import dataclasses
import logging
from typing import TYPE_CHECKING, Dict, Optional, Sequence, Tuple

from pyspark.sql import types as T

from lakejobs import args as job_args
from lakejobs import fs, runtime
from lakejobs.errors import QualityGateError, UsageError
from lakejobs.io.credentials import DbLogin, check_jdbc_url, resolve_login
from lakejobs.io.jdbc import connection, database_errors, read_jdbc
from lakejobs.io.partitions import NULL_VALUE
from lakejobs.io.reports import raise_failed_run, refuse_missing_report_bucket, save_run_report_quietly
from lakejobs.io.table_folder import refuse_foreign_folders
from lakejobs.io.upsert_sql import TableName, quote
from lakejobs.io.writer import COMPRESSIONS, write_table
from lakejobs.result import JobResult, new_run_id

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

JOB = "warehouse_extract"
DESCRIPTION = "a PostgreSQL/RDS table or query -> Parquet, with parallel range reads over JDBC"
LOG = logging.getLogger(__name__)
RANGE_TYPES = (T.IntegerType, T.LongType, T.ShortType, T.ByteType, T.DateType, T.TimestampType)
#: Spark types of the database's date, timestamp and timestamptz columns (and of ``time``).
DAY_TYPES = (T.DateType, T.TimestampType, T.TimestampNTZType)
#: PostgreSQL's infinite dates and timestamps, as text.
INFINITIES = ("infinity", "-infinity")
#: A date, timestamp or timestamptz as PostgreSQL writes it (DateStyle ISO, its default) on one of
#: the ten days JDBC's Julian calendar lacks; a BC day ends in `` BC``.
GAP_DAY = "^1582-10-(0[5-9]|1[0-4])([^B]*)$"


@dataclasses.dataclass(frozen=True)
class WarehouseExtractArgs:
    """The job's configuration, built once from its arguments (no secrets in it)."""

    output_path: str
    table: Optional[TableName]
    query: Optional[str]
    jdbc_url: Optional[str]
    secret_id: Optional[str]
    partition_column: Optional[str]
    num_partitions: int
    fetch_size: int
    partition_by: Tuple[str, ...]
    compression: str
    report_path: str

    @property
    def source(self) -> str:
        """What Spark's ``dbtable`` option gets: the table, or the query as a subquery.

        The query's closing parenthesis goes on a line of its own, so that a query ending in a
        ``--`` comment does not comment it out.
        """
        return self.table.sql if self.table else f"({self.query}\n) AS lakejobs_extract"

    @property
    def shown(self) -> str:
        """The source as an error names it: the table, or ``--query`` (its text may span lines)."""
        return self.table.sql if self.table else "--query"

    @property
    def named(self) -> str:
        """The source as a refusal names it: ``[schema.]table`` unquoted, or ``--query``."""
        return str(self.table) if self.table else "--query"

    @property
    def name(self) -> str:
        """The output's name in the job result."""
        return self.table.name if self.table else "query"


def build_parser():
    """The job's argument parser (Glue-style ``--name value`` options)."""
    parser = job_args.new_parser(JOB, DESCRIPTION)
    parser.add_argument("--table", help="[schema.]table to extract (default: none; give it or --query)")
    parser.add_argument("--query", help="a SELECT to extract instead of a table (default: none; give it or --table)")
    parser.add_argument("--output_path", required=True, help="Parquet folder receiving the rows")
    parser.add_argument("--jdbc_url", help="jdbc:postgresql://host:port/database (no password in it)")
    parser.add_argument("--secret_id", help="Secrets Manager secret with username, password, host, port, dbname")
    parser.add_argument(
        "--partition_column",
        help="integer, date or timestamp column to split the reads on (default: none, one read)",
    )
    parser.add_argument("--num_partitions", type=job_args.parse_positive, default=4, help="parallel range reads")
    parser.add_argument("--fetch_size", type=job_args.parse_positive, default=10000, help="rows per JDBC fetch")
    parser.add_argument(
        "--partition_by",
        type=job_args.parse_columns,
        default=(),
        help="output partition columns: c1,c2 (default: none, an unpartitioned table)",
    )
    parser.add_argument("--compression", choices=COMPRESSIONS, default="snappy")
    parser.add_argument(
        "--report_path", help="folder for run reports, <job>/<run_id>.json (default: <output_path>_lakejobs/runs)"
    )
    return parser


def parse_args(argv: Sequence[str]) -> WarehouseExtractArgs:
    """Build the typed configuration from ``argv``; raises ``UsageError`` on any problem."""
    namespace = job_args.parse_job_args(build_parser(), argv)
    if bool(namespace.table) == bool(namespace.query):
        raise UsageError("give exactly one of --table and --query")
    if namespace.jdbc_url:
        check_jdbc_url(namespace.jdbc_url)
    elif not namespace.secret_id:
        raise UsageError("give --jdbc_url (credentials from the environment) or --secret_id")
    output_path = fs.qualify(namespace.output_path)
    report_path = fs.qualify(namespace.report_path or output_path.rstrip("/") + "_lakejobs/runs")
    fs.require_apart({"--output_path": output_path}, outside={"--report_path": report_path})
    return WarehouseExtractArgs(
        output_path=output_path,
        table=TableName.parse(namespace.table) if namespace.table else None,
        query=namespace.query.strip().rstrip(";") if namespace.query else None,
        jdbc_url=namespace.jdbc_url,
        secret_id=namespace.secret_id,
        partition_column=namespace.partition_column,
        num_partitions=namespace.num_partitions,
        fetch_size=namespace.fetch_size,
        partition_by=tuple(namespace.partition_by),
        compression=namespace.compression,
        report_path=report_path,
    )


def range_options(spark: "SparkSession", login: DbLogin, args: WarehouseExtractArgs) -> Dict[str, object]:
    """Spark's partitioned-read options from the column's MIN and MAX (empty: one plain read).

    One aggregate row comes to the driver. An empty source, or no ``--partition_column``, gives
    a single read.
    """
    if not args.partition_column:
        return {}
    column = quote(args.partition_column)
    bounds = f"(SELECT min({column}) AS lo, max({column}) AS hi FROM {args.source}) AS b"
    bounds_df = read_jdbc(spark, login, bounds, named=f"the bounds of {args.partition_column} in {args.shown}")
    data_type = bounds_df.schema["lo"].dataType
    if not isinstance(data_type, RANGE_TYPES):
        shown = declared_type(spark, login, args) or data_type.simpleString()
        raise UsageError(
            f"--partition_column {args.partition_column} is {shown}: expected an integer, date or timestamp column"
        )
    # As text written by Spark in the session's time zone, the one Spark reads the bounds in (a
    # timestamp collected to Python would be in the driver's local time zone instead).
    low, high = bounds_df.selectExpr("CAST(lo AS STRING)", "CAST(hi AS STRING)").first()
    if low is None:
        return {}
    return {
        "partitionColumn": args.partition_column,
        "lowerBound": low,
        "upperBound": high,
        "numPartitions": args.num_partitions,
    }


def declared_type(spark: "SparkSession", login: DbLogin, args: WarehouseExtractArgs) -> Optional[str]:
    """The partition column's type as the source declares it (Spark's name: ``decimal(18,2)``), None if not found.

    The bounds' own type is an aggregate's: PostgreSQL's ``min`` of a ``numeric(18,2)`` is a
    ``numeric`` of no precision, which Spark reads as ``decimal(38,18)``; until session 47 the
    refusal named that type.
    """
    schema = read_jdbc(spark, login, args.source, named=args.shown).schema
    if args.partition_column not in schema.names:
        return None
    return schema[args.partition_column].dataType.simpleString()


def run(spark: "SparkSession", args: WarehouseExtractArgs) -> JobResult:
    """Extract the table or query to Parquet; see the module docstring."""
    result = JobResult(job=JOB, run_id=new_run_id(), inputs={args.name: str(args.table) if args.table else args.query})
    try:
        return _extract(spark, args, result)
    except Exception as error:  # noqa: BLE001 - one clear line and a FAILED report
        raise_failed_run(spark, args.report_path, result, args.name, error)


def _extract(spark: "SparkSession", args: WarehouseExtractArgs, result: JobResult) -> JobResult:
    refuse_missing_report_bucket(spark, args.report_path)
    refuse_foreign_folders(spark, {"--output_path": args.output_path})
    login = resolve_login(args.jdbc_url, args.secret_id)
    with result.stage("plan"):
        check_source(spark, login, args)
        ranges = range_options(spark, login, args)
    LOG.info("extracting %s to %s (%s)", args.name, args.output_path, ranges or "one read")
    source_df = read_jdbc(spark, login, args.source, {"fetchsize": args.fetch_size, **ranges}, named=args.shown)
    with result.stage("extract"):
        output = write_partitioned_extract(source_df, args)
    result.outputs = [output]
    result.rows_read = result.rows_written = output.rows
    result.details = {"ranges": {key: str(value) for key, value in ranges.items()}, "fetch_size": args.fetch_size}
    result.finish("SUCCEEDED")
    save_run_report_quietly(spark, args.report_path, result)
    return result


def check_source(spark: "SparkSession", login: DbLogin, args: WarehouseExtractArgs) -> None:
    """Refuse a source Spark would read or write wrong, before anything is read or written.

    Its columns come from Spark's JDBC schema (a query of no row); its values are counted in
    the database by one query over the source, so no row travels.
    """
    schema = read_jdbc(spark, login, args.source, named=args.shown).schema
    missing = [column for column in args.partition_by if column not in schema.names]
    if missing:
        raise UsageError(f"--partition_by names columns the source does not have: {', '.join(missing)}")
    days = [field.name for field in schema.fields if isinstance(field.dataType, DAY_TYPES)]
    texts = [name for name in args.partition_by if isinstance(schema[name].dataType, T.StringType)]
    if not days and not texts:
        return
    # sum(CASE ...), not count(*) FILTER (...), which Redshift and PostgreSQL before 9.4 lack; as
    # text, since Spark reads a ``time`` column as a timestamp too, and 'infinity' is no time.
    counts = [_rows_where(f"{quote(name)}::text = '{value}'") for name in days for value in INFINITIES]
    counts += [_rows_where(f"{quote(name)}::text ~ '{GAP_DAY}'") for name in days]
    counts += [_rows_where(f"{quote(name)}::text IN ('', '{NULL_VALUE}')") for name in texts]
    with connection(spark, login) as sql, database_errors(f"cannot read {args.shown}"):
        [row] = sql.query(f"SELECT {', '.join(counts)} FROM {args.source}")
    infinite, in_gap, null_named = row[: 2 * len(days)], row[2 * len(days) : 3 * len(days)], row[3 * len(days) :]
    refuse_infinities(args, dict(zip(days, zip(infinite[::2], infinite[1::2]))))
    refuse_gap_days(args, dict(zip(days, in_gap)))
    refuse_null_folder_names(args, dict(zip(texts, null_named)))


def _rows_where(condition: str) -> str:
    """SQL counting the rows where ``condition`` holds (0 when none does)."""
    return f"coalesce(sum(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)"


def refuse_gap_days(args: WarehouseExtractArgs, counts: Dict[str, int]) -> None:
    """Refuse days from 1582-10-05 to 1582-10-14 (``counts``: column -> rows).

    PostgreSQL's calendar is Gregorian all the way back; JDBC reads a day as ``java.sql.Date`` or
    ``Timestamp``, whose calendar is Julian before 1582-10-15 and lacks those ten days: the driver
    gave 1582-10-20 for 1582-10-10, without a word. Earlier days read exactly.
    """
    found = [f"{name} ({count})" for name, count in counts.items() if count]
    if found:
        raise QualityGateError(
            f"{args.named}: {', '.join(found)} hold days from 1582-10-05 to 1582-10-14, which JDBC's java.sql.Date "
            "and Timestamp lack (the calendar's switch to Gregorian): they would read as ten days later; extract a "
            "--query that replaces them; nothing was written"
        )


def refuse_null_folder_names(args: WarehouseExtractArgs, counts: Dict[str, int]) -> None:
    """Refuse text partition values that name the folder of a null (``counts``: column -> rows).

    Spark writes ``''`` and a null alike to ``<column>=__HIVE_DEFAULT_PARTITION__``, so both read
    back as null (and that text itself next to a null failed with FileAlreadyExistsException).
    The extract has no quarantine: the run stops.
    """
    found = [f"{name} in {count} rows" for name, count in counts.items() if count]
    if found:
        raise QualityGateError(
            f"{args.named}: --partition_by values '' or '{NULL_VALUE}', the folder name Spark writes for a "
            f"null, would read back as null: {', '.join(found)}; extract a --query that replaces them, e.g. "
            "NULLIF(column, ''); nothing was written"
        )


def refuse_infinities(args: WarehouseExtractArgs, counts: Dict[str, Tuple[int, int]]) -> None:
    """Refuse the source if a column holds ``'infinity'`` or ``'-infinity'`` (``counts``: column -> both counts).

    Spark has no infinite date or timestamp: the JDBC driver gives 9999-12-31 23:59:59.999 and
    0001-01-03 for a timestamp (real instants, silently), and a date fails on an overflow.
    """
    found = [
        f"{name} (" + " and ".join(f"{count} '{value}'" for value, count in zip(INFINITIES, pair) if count) + ")"
        for name, pair in counts.items()
        if any(pair)
    ]
    if found:
        raise QualityGateError(
            f"{args.named}: {', '.join(found)} hold PostgreSQL's infinite dates or timestamps, which Spark cannot "
            "represent (a timestamp would read as 9999-12-31 23:59:59.999 or 0001-01-03): extract a --query that "
            "replaces them, e.g. NULLIF(column, 'infinity'); nothing was written"
        )


def write_partitioned_extract(source_df: "DataFrame", args: WarehouseExtractArgs):
    """Write the rows read to ``args.output_path`` (database errors become one line).

    A partitioned extract of no row has no partition folder, so no file to declare its
    columns, and no reader could read it: it is written as one unpartitioned file of no rows.
    """
    from lakejobs.io.jdbc import database_errors

    with database_errors(f"cannot extract {args.name}"):
        output = write_table(
            source_df, args.output_path, args.name, "parquet", args.partition_by, args.compression, replace="table"
        )
    if args.partition_by and output.rows == 0:
        empty_df = source_df.sparkSession.createDataFrame([], source_df.schema)
        output = write_table(empty_df, args.output_path, args.name, "parquet", (), args.compression, replace="table")
    return output


def preflight(args: WarehouseExtractArgs) -> None:
    """Fail fast, before Spark starts, when a local output or report folder cannot be written."""
    fs.require_writable({"--output_path": args.output_path, "--report_path": args.report_path})


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for every runtime; returns the exit code."""
    return runtime.run_main(JOB, argv, parse_args, run, preflight)
