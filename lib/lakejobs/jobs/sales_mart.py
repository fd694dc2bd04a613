"""sales_mart: processed orders + customers + employees -> the sales mart.

Writes ``<mart_path>/sales`` (one row per order line, partitioned by order_year and
order_month), ``<mart_path>/sales_by_employee_month`` and ``<mart_path>/customer_summary``.
Order lines whose customer or employee is unknown are kept and flagged
(``--unknown_keys flag``, the default) or moved to the quarantine with a reason
(``--unknown_keys quarantine``); either way every line read is accounted for. A line whose
key (salesorderid, salesorderdetailid) an earlier line already holds (a line delivered twice)
is quarantined as ``duplicate_key:salesorderid,salesorderdetailid`` under either policy; one
copy stays. Every run replaces the quarantine: a run that quarantines nothing (``--unknown_keys
flag``, no repeated key) removes it.

Example:
-------
::

    python jobs/sales_mart.py --processed_path lake/processedData --mart_path lake/mart
"""

import dataclasses
import logging
import os
import uuid
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from pyspark import StorageLevel
from pyspark.sql import Observation, Window
from pyspark.sql import functions as F

from lakejobs import args as job_args
from lakejobs import fs, runtime
from lakejobs.datasets import builtin_dataset
from lakejobs.errors import UsageError
from lakejobs.io.delta import merge_delta, overwrite_delta, read_table, require_delta, table_schema
from lakejobs.io.reports import (
    raise_failed_run,
    refuse_missing_report_bucket,
    save_interrupted_report,
    save_run_report_quietly,
)
from lakejobs.io.table_folder import refuse_foreign_folders
from lakejobs.io.writer import COMPRESSIONS, write_table
from lakejobs.key_check import repeats_a_key
from lakejobs.result import JobResult, OutputInfo, new_run_id
from lakejobs.state import RunLock
from lakejobs.transforms.sales import (
    Transform,
    customer_summary,
    join_dimensions,
    sales_by_employee_month,
    sales_orders,
    with_later_copies_flagged,
    with_order_period,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

JOB = "sales_mart"
DESCRIPTION = "orders + customers + employees -> mart/sales (partitioned) and two summaries"
LOG = logging.getLogger(__name__)
INPUTS = ("orders", "customers", "employees")
SALES_PARTITIONS = ("order_year", "order_month")
SALES_KEY = ("salesorderid", "salesorderdetailid")
#: The columns of a quarantine record (``quarantine_records``), all text.
QUARANTINE_SCHEMA = "dataset string, source_file string, raw_line string, reason string, detail string, run_id string"
MART_TABLES = ("sales", "sales_by_employee_month", "customer_summary")
#: Columns of mart/sales written without a dictionary: the orders' nearly-distinct columns (see
#: ``plain_encoding_options``). Not customer_name: the sample business reuses few names (7,587
#: among 1M customers at 10M lines), so its dictionary saves bytes: measured at 10M lines,
#: without its dictionary too the table took 382 MB instead of 365 MB, for about 1 s less.
SALES_PLAIN_COLUMNS = builtin_dataset("orders").plain_columns
#: Keep the joined lines for the three outputs (sales and two summaries) instead of reading
#: and joining the processed tables once per output. Measured with ``bench/experiments.py`` at
#: 2M lines: re-reading is faster (sales_mart 28.5 s vs 43.3 s cached): each summary reads only
#: the few Parquet columns it needs and the broadcast join is cheap, while building the cache
#: of every column costs more than it saves.
CACHE_JOINED_LINES = False
#: Keep the one-row-per-order frame both summaries aggregate (see ``write_summaries``).
#: Measured at 10M lines, the two summaries: 43.7 s kept, 30.0 s computed twice (from the
#: narrow order columns); before one row per order, 52.5 s.
PERSIST_SALES_ORDERS = False


@dataclasses.dataclass(frozen=True)
class SalesMartArgs:
    """The job's configuration, built once from its arguments."""

    processed_path: str
    mart_path: str
    quarantine_path: str
    unknown_keys: str
    compression: str
    report_path: Optional[str]
    output_format: str = "parquet"

    def input_path(self, dataset: str) -> str:
        """Where the processed ``dataset`` table is."""
        return f"{self.processed_path.rstrip('/')}/{dataset}"


def build_parser():
    """The job's argument parser (Glue-style ``--name value`` options)."""
    parser = job_args.new_parser(JOB, DESCRIPTION)
    parser.add_argument("--processed_path", required=True, help="folder holding orders/, customers/, employees/")
    parser.add_argument("--mart_path", required=True, help="folder receiving the mart tables")
    parser.add_argument(
        "--quarantine_path",
        help="lines quarantined (unknown keys under --unknown_keys quarantine, repeated keys); "
        "replaced by every run (default: <mart_path>/_quarantine/sales)",
    )
    parser.add_argument("--unknown_keys", choices=("flag", "quarantine"), default="flag")
    parser.add_argument("--compression", choices=COMPRESSIONS, default="snappy")
    parser.add_argument(
        "--format",
        dest="output_format",
        choices=("parquet", "delta"),
        default="parquet",
        help="format of the processed tables read and of the mart written",
    )
    parser.add_argument("--report_path", help="folder for run reports (default: <mart_path>_lakejobs/runs)")
    return parser


def parse_args(argv: Sequence[str]) -> SalesMartArgs:
    """Build the typed configuration from ``argv``; raises ``UsageError`` on any problem."""
    namespace = job_args.parse_job_args(build_parser(), argv)
    mart_path = fs.qualify(namespace.mart_path)
    args = SalesMartArgs(
        processed_path=fs.qualify(namespace.processed_path),
        mart_path=mart_path,
        quarantine_path=fs.qualify(namespace.quarantine_path or f"{mart_path.rstrip('/')}/_quarantine/sales"),
        unknown_keys=namespace.unknown_keys,
        compression=namespace.compression,
        report_path=fs.qualify(namespace.report_path or f"{mart_path.rstrip('/')}_lakejobs/runs"),
        output_format=namespace.output_format,
    )
    # The tables read, and those the mart replaces (its three tables and the quarantine).
    tables = {f"processed table {name}": args.input_path(name) for name in INPUTS}
    tables.update({f"mart table {name}": f"{mart_path.rstrip('/')}/{name}" for name in MART_TABLES})
    tables["--quarantine_path"] = args.quarantine_path
    fs.require_apart(tables, {"--report_path": args.report_path}, "the tables read, the mart tables and the quarantine")
    return args


def preflight(args: SalesMartArgs) -> None:
    """Fail fast, before Spark starts, when a local input table is missing or a local output is unwritable."""
    for dataset in INPUTS:
        path = args.input_path(dataset)
        if fs.is_local(path) and not os.path.exists(fs.local_path(path)):
            raise UsageError(f"input table does not exist: {path} (run csv_to_parquet --dataset {dataset} first)")
    folders = {"--mart_path": args.mart_path, "--quarantine_path": args.quarantine_path}
    fs.require_writable({**folders, "--report_path": args.report_path})


UNKNOWN_KEY_REASONS = ("unknown_customer", "unknown_employee", "unknown_customer_and_employee")
DUPLICATE_KEY_REASON = "duplicate_key:" + ",".join(SALES_KEY)
#: Column set on every copy of a repeated order-line key but the smallest (only when a key repeats).
LATER_COPY = "_later_copy"


def count_names(duplicates: bool = False) -> Tuple[str, ...]:
    """The key counts' names: lines, per unknown-key reason, and repeats when a key repeats."""
    return ("lines", *UNKNOWN_KEY_REASONS, *((DUPLICATE_KEY_REASON,) if duplicates else ()))


def key_count_columns(duplicates: bool = False) -> List["F.Column"]:
    """Aggregates giving the lines, lines per unknown-key reason and later copies of a key.

    With ``duplicates`` (``sales_df`` has ``LATER_COPY``) the later copies are counted apart
    and not per unknown-key reason: each line counts under one reason.
    """
    reason = unknown_key_reason()
    kept = ~F.col(LATER_COPY) if duplicates else F.lit(True)
    columns = [
        F.count(F.lit(1)).alias("lines"),
        *[F.sum(((reason == F.lit(name)) & kept).cast("long")).alias(name) for name in UNKNOWN_KEY_REASONS],
    ]
    if duplicates:
        columns.append(F.sum(F.col(LATER_COPY).cast("long")).alias(DUPLICATE_KEY_REASON))
    return columns


def as_counts(row, duplicates: bool = False) -> Dict[str, int]:
    """The key counts from an aggregate row or an observation's dict."""
    return {name: int(row[name] or 0) for name in count_names(duplicates)}


def key_counts(sales_df: "DataFrame", duplicates: bool = False) -> Dict[str, int]:
    """Lines, and lines per unknown-key reason: one small aggregate (an extra pass)."""
    return as_counts(sales_df.agg(*key_count_columns(duplicates)).first(), duplicates)


def observing_key_counts(sales_df: "DataFrame", duplicates: bool = False) -> "Tuple[DataFrame, Observation]":
    """``sales_df`` counting its lines per unknown-key reason while an action runs (no extra pass)."""
    observation = Observation(f"sales_key_counts_{uuid.uuid4().hex[:12]}")  # unique: see quality_gate.observe_metrics
    return sales_df.observe(observation, *key_count_columns(duplicates)), observation


def unknown_key_reason() -> "F.Column":
    """The quarantine reason of a line with an unknown key (null when both keys are known)."""
    return (
        F.when(~F.col("customer_known") & ~F.col("employee_known"), F.lit("unknown_customer_and_employee"))
        .when(~F.col("customer_known"), F.lit("unknown_customer"))
        .when(~F.col("employee_known"), F.lit("unknown_employee"))
    )


def quarantine_reason(policy: str, duplicates: bool = False) -> "F.Column":
    """Why a line goes to the quarantine: null for a published line.

    The later copies of a repeated key always go (``duplicate_key:...``); lines with an
    unknown key go under ``--unknown_keys quarantine``.
    """
    unknown = unknown_key_reason() if policy == "quarantine" else F.lit(None).cast("string")
    if not duplicates:
        return unknown
    return F.when(F.col(LATER_COPY), F.lit(DUPLICATE_KEY_REASON)).otherwise(unknown)


def quarantine_records(sales_df: "DataFrame", run_id: str, reason: Optional["F.Column"] = None) -> "DataFrame":
    """Lines with a ``reason`` (default: an unknown key), as quarantine records (the line as JSON).

    The JSON keeps null fields (``"customerid":null``): the line as it was read.
    """
    reason = unknown_key_reason() if reason is None else reason
    helpers = ("customer_known", "employee_known", LATER_COPY)
    original = [column for column in sales_df.columns if column not in helpers]
    unknown_detail = F.concat(
        F.lit("customerid="),
        F.coalesce(F.col("customerid").cast("string"), F.lit("null")),
        F.lit(", employeeid="),
        F.coalesce(F.col("employeeid").cast("string"), F.lit("null")),
    )
    key_text = F.concat_ws(", ", *[F.col(column).cast("string") for column in SALES_KEY])
    duplicate_detail = F.concat(F.lit("key ("), key_text, F.lit(") appears more than once in the processed orders"))
    return sales_df.filter(reason.isNotNull()).select(
        F.lit("sales").alias("dataset"),
        F.lit(None).cast("string").alias("source_file"),
        F.to_json(F.struct(*original), {"ignoreNullFields": "false"}).alias("raw_line"),
        reason.alias("reason"),
        F.when(reason == F.lit(DUPLICATE_KEY_REASON), duplicate_detail).otherwise(unknown_detail).alias("detail"),
        F.lit(run_id).alias("run_id"),
    )


def run(spark: "SparkSession", args: SalesMartArgs) -> JobResult:
    """Build the sales mart; see the module docstring.

    A failed run saves its FAILED report too, and fails in one line naming the stage and the
    root cause (``io.reports.raise_failed_run``).
    """
    result = JobResult(job=JOB, run_id=new_run_id(), inputs={name: args.input_path(name) for name in INPUTS})
    try:
        return _build(spark, args, result)
    except KeyboardInterrupt:  # a second Ctrl-C: the RUNNING report says FAILED, not RUNNING
        save_interrupted_report(spark, args.report_path, result, "mart")
        raise
    except Exception as error:  # noqa: BLE001 - one clear line and a FAILED report
        raise_failed_run(spark, args.report_path, result, "mart", error)


def _build(spark: "SparkSession", args: SalesMartArgs, result: JobResult) -> JobResult:
    refuse_missing_report_bucket(spark, args.report_path)
    for name in INPUTS:
        if not fs.exists(spark, args.input_path(name)):
            raise UsageError(f"input table does not exist: {args.input_path(name)}")
    outputs = {f"mart table {name}": f"{args.mart_path.rstrip('/')}/{name}" for name in MART_TABLES}
    refuse_foreign_folders(spark, outputs, args.output_format)
    refuse_foreign_folders(spark, {"--quarantine_path": args.quarantine_path}, "json")
    if args.output_format == "delta":
        require_delta(spark)
    orders_df, customers_df, employees_df = (
        read_table(spark, args.input_path(name), args.output_format, table_schema(spark, builtin_dataset(name)))
        for name in INPUTS
    )
    orders_df = orders_df.drop(*SALES_PARTITIONS)
    with result.stage("check_keys"):
        duplicates = repeats_a_key(orders_df.select(*SALES_KEY), builtin_dataset("orders"))
    if duplicates:
        LOG.warning(
            "processed orders repeat a key (%s): one copy of each (the smallest row) is kept, the others go to "
            "the quarantine",
            ", ".join(SALES_KEY),
        )
        orders_df = orders_df.transform(with_later_copies_flagged(SALES_KEY, LATER_COPY))
    sales_df = orders_df.transform(with_order_period()).transform(join_dimensions(customers_df, employees_df))
    if CACHE_JOINED_LINES or duplicates:  # a key repeats: the window's shuffle and sort once, not per output
        sales_df = sales_df.persist(StorageLevel.MEMORY_AND_DISK)
    with RunLock(spark, f"{args.mart_path.rstrip('/')}_lakejobs.lock", JOB, result.run_id, args.report_path):
        save_run_report_quietly(spark, args.report_path, result)  # RUNNING: what a killed run leaves
        try:
            to_orders = sales_orders(customers_df, employees_df)
            result.outputs, counts = publish_mart(spark, args, result, sales_df, to_orders, duplicates)
        finally:
            sales_df.unpersist()
    result.rows_read = counts["lines"]
    result.details = {**counts, "unknown_keys_policy": args.unknown_keys}
    result.check_rows_add_up(result.outputs[0].rows, f"{args.mart_path.rstrip('/')}/sales")
    result.rows_written = result.rows_read - result.rows_quarantined
    result.finish("SUCCEEDED")
    save_run_report_quietly(spark, args.report_path, result)
    return result


def publish_mart(
    spark,
    args: SalesMartArgs,
    result: JobResult,
    sales_df: "DataFrame",
    to_orders: Transform,
    duplicates: bool = False,
) -> Tuple[List[OutputInfo], Dict[str, int]]:
    """Write the quarantine (by policy, and the later copies of a repeated key), mart/sales and the two summaries.

    Both summaries are built from the published lines turned into one row per order by
    ``to_orders``. With ``duplicates``, ``sales_df`` has ``LATER_COPY``. A run that
    quarantines nothing (``flag`` and no repeated key) removes the quarantine of an earlier run
    once mart/sales is written, so that no line is in both.

    Lines per unknown-key reason are counted while the first table is written (the quarantine,
    or mart/sales as Parquet), not in a pass of their own; a Delta MERGE reads its source more
    than once, so for Delta they are counted first.

    Returns
    -------
    (list of OutputInfo, dict)
        What was written, and the key counts (``lines`` and one entry per reason). The list is
        ``result.outputs``, filled as each table is written: a run failing part-way reports
        the tables it had replaced.
    """
    outputs: List[OutputInfo] = []
    result.outputs = outputs
    published_df, counts, earlier = sales_df, None, None
    quarantines = args.unknown_keys == "quarantine" or duplicates
    if quarantines:
        published_df, counts, earlier, written = write_mart_quarantine(spark, args, result, sales_df, duplicates)
        outputs.append(written)
    if duplicates:
        published_df = published_df.drop(LATER_COPY)
    with result.stage("write_sales"):
        written, published_df, counts = write_sales(spark, args, sales_df, published_df, counts)
        outputs.insert(0, written)
        if not quarantines and fs.is_folder(spark, args.quarantine_path):
            fs.delete(spark, args.quarantine_path, recursive=True)  # an earlier run's: stale now
    if earlier is not None:
        with result.stage("write_quarantine"):
            this_run = read_quarantine(spark, args.quarantine_path).filter(F.col("run_id") == result.run_id)
            outputs[-1] = write_quarantine_table(this_run, args.quarantine_path)
    with result.stage("write_summaries"):
        write_summaries(args, published_df.transform(to_orders), outputs)
    return outputs, counts


def write_mart_quarantine(
    spark, args: SalesMartArgs, result: JobResult, sales_df: "DataFrame", duplicates: bool
) -> Tuple["DataFrame", Dict[str, int], Optional["DataFrame"], OutputInfo]:
    """Write the quarantined lines (with an earlier run's records of lines still not published).

    Counts the lines per reason while it writes and puts them in ``result`` (rows read and
    quarantined, reasons), so that a run failing later reports them too.

    Returns
    -------
    (DataFrame, dict, DataFrame or None, OutputInfo)
        The lines to publish, the key counts, the earlier run's records (None without any) and
        what was written.
    """
    reason = quarantine_reason(args.unknown_keys, duplicates)
    observed_df, observation = observing_key_counts(sales_df, duplicates)
    records = Observation(f"sales_quarantined_{uuid.uuid4().hex[:12]}")
    quarantine = quarantine_records(observed_df, result.run_id, reason).observe(records, F.count(F.lit(1)).alias("n"))
    earlier = earlier_quarantine(spark, args.quarantine_path)
    with result.stage("write_quarantine"):
        # An earlier run's records stay until mart/sales is written: a line it quarantined
        # that this run publishes must not be in neither place if that write fails.
        kept = quarantine if earlier is None else with_earlier_records(quarantine, earlier, result.run_id)
        written = write_quarantine_table(kept, args.quarantine_path)
    counts = as_counts(observation.get, duplicates)
    result.rows_read, result.rows_quarantined = counts["lines"], int(records.get["n"])
    reasons = (UNKNOWN_KEY_REASONS if args.unknown_keys == "quarantine" else ()) + (
        (DUPLICATE_KEY_REASON,) if duplicates else ()
    )
    result.quarantine_reasons = {name: counts[name] for name in reasons if counts[name]}
    return sales_df.filter(reason.isNull()), counts, earlier, written


def write_sales(
    spark, args: SalesMartArgs, sales_df: "DataFrame", published_df: "DataFrame", counts: Optional[Dict[str, int]]
) -> Tuple[OutputInfo, "DataFrame", Dict[str, int]]:
    """Write ``published_df`` as mart/sales: a Delta MERGE, or a Parquet table replaced whole.

    ``counts`` are the key counts the quarantine's write observed, or None: then they are
    counted here (Parquet: while writing; Delta: in a pass over ``sales_df`` first).

    Returns
    -------
    (OutputInfo, DataFrame, dict)
        What was written, the published lines as the summaries read them (for Delta, the
        table after the MERGE), and the key counts.
    """
    path = f"{args.mart_path.rstrip('/')}/sales"
    if args.output_format == "delta":
        counts = counts or key_counts(sales_df)
        written = merge_delta(
            published_df,
            path,
            "sales",
            SALES_KEY,
            SALES_PARTITIONS,
            args.compression,
            delete_missing=True,
            plain_columns=SALES_PLAIN_COLUMNS,
        )
        return written, read_table(spark, path, "delta"), counts
    observed_df, observation = observing_key_counts(published_df) if counts is None else (published_df, None)
    written = write_table(
        observed_df,
        path,
        "sales",
        "parquet",
        SALES_PARTITIONS,
        args.compression,
        plain_columns=SALES_PLAIN_COLUMNS,
        replace="table",
    )
    return written, published_df, counts or as_counts(observation.get)


def with_earlier_records(quarantine_df: "DataFrame", earlier_df: "DataFrame", run_id: str) -> "DataFrame":
    """The run's own quarantine records, and the earlier ones of lines the run does not quarantine.

    Those are the lines the run is about to publish; the others' earlier records would only
    repeat them (once per failed run, run after run). A line is told by its key, read from the
    record's JSON (its other fields may have changed since: a customer that became known).
    """
    line = Window.partitionBy(*[F.get_json_object("raw_line", f"$.{column}") for column in SALES_KEY])
    this_run = F.coalesce(F.col("run_id") == F.lit(run_id), F.lit(False))
    return (
        quarantine_df.unionByName(earlier_df)
        .withColumn("_quarantined_now", F.max(this_run.cast("int")).over(line))
        .filter(this_run | (F.col("_quarantined_now") == 0))
        .drop("_quarantined_now")
    )


def write_quarantine_table(quarantine_df: "DataFrame", path: str) -> OutputInfo:
    """Replace the quarantine at ``path`` with ``quarantine_df`` (JSON lines)."""
    return write_table(quarantine_df, path, "quarantine", fmt="json", compression="none")


def read_quarantine(spark: "SparkSession", path: str) -> "DataFrame":
    """The quarantine records at ``path``, typed as ``quarantine_records`` writes them."""
    return spark.read.schema(QUARANTINE_SCHEMA).json(fs.literal(path))


def earlier_quarantine(spark: "SparkSession", path: str) -> Optional["DataFrame"]:
    """The records an earlier run left at ``path``, or None when there is no quarantine there."""
    return read_quarantine(spark, path) if fs.is_folder(spark, path) else None


def write_summaries(args: SalesMartArgs, orders_df: "DataFrame", outputs: List[OutputInfo]) -> None:
    """Write sales_by_employee_month and customer_summary from one row per order; add each to ``outputs``."""
    mart = args.mart_path.rstrip("/")
    if PERSIST_SALES_ORDERS:
        orders_df = orders_df.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        for name, summary in (
            ("sales_by_employee_month", sales_by_employee_month),
            ("customer_summary", customer_summary),
        ):
            summary_df, path = summary(orders_df), f"{mart}/{name}"
            if args.output_format == "delta":
                outputs.append(overwrite_delta(summary_df, path, name, compression=args.compression))
            else:
                outputs.append(write_table(summary_df, path, name, compression=args.compression))
    finally:
        orders_df.unpersist()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for every runtime; returns the exit code."""
    return runtime.run_main(JOB, argv, parse_args, run, preflight)
