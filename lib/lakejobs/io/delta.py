"""Delta Lake tables: create, MERGE on a key, idempotent appends, and what each commit did.

Every function reads the metrics of the commit it made from the table's history (one row of
metadata), so a job can report rows, files and bytes without another pass over the data.
"""

import contextlib
import hashlib
import logging
from typing import TYPE_CHECKING, Dict, Optional, Sequence

from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs import fs
from lakejobs.errors import UsageError
from lakejobs.io.footers import columns_without_dictionary
from lakejobs.io.table_folder import holds_delta_commit, refuse_files_not_parquet
from lakejobs.io.writer import arranged_for_partitions, plain_encoding_options
from lakejobs.result import OutputInfo
from lakejobs.session import DELTA_CONF
from lakejobs.transforms.validation import quote_name

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

LOG = logging.getLogger(__name__)

#: How many of a table's files ``optimize_table`` reads the footers of, to learn its plain columns.
FOOTERS_READ = 4


def has_delta(spark: "SparkSession") -> bool:
    """Tell whether the session has Delta Lake's extension (it can read and write Delta tables)."""
    return "DeltaSparkSessionExtension" in (spark.conf.get("spark.sql.extensions", "") or "")


#: The pip package of Delta's Python API (``delta``), the version of Delta's jars (``jars/pom.xml``,
#: ``requirements-dev.txt``; ``tests/unit/test_one_line_errors.py`` checks they agree).
DELTA_PIP_PACKAGE = "delta-spark==3.3.2"


def require_delta(spark: "SparkSession", writes: bool = True) -> None:
    """Raise ``UsageError`` when the session cannot read Delta tables, or, if the run ``writes`` them, Python cannot.

    Every write reads its commit's metrics through Delta's Python API (``delta.tables``), which a
    read does not use. Until session 47 a session with Delta's jars and settings but without the
    ``delta`` module read, validated and quarantined the whole batch, then failed in stage write
    (``ModuleNotFoundError: No module named 'delta'``).
    """
    if not has_delta(spark):
        settings = " ".join(f"--conf {key}={value}" for key, value in DELTA_CONF.items())
        raise UsageError(
            "--format delta needs Delta Lake in the Spark session: start it with Delta's jars "
            f"('make setup' fetches them into .jars/) and {settings}"
        )
    if writes and not delta_importable():
        raise UsageError(
            "--format delta needs Delta Lake's Python module (delta), which this Python cannot import: "
            f"pip install {DELTA_PIP_PACKAGE}"
        )


def delta_importable() -> bool:
    """Tell whether Python can import Delta's API (``delta.tables``)."""
    try:
        import delta.tables  # noqa: F401
    except ImportError:
        return False
    return True


def is_delta_table(spark: "SparkSession", path: str) -> bool:
    """Tell whether ``path`` holds a Delta table, with a commit (``table_folder.holds_delta_commit``)."""
    return holds_delta_commit(spark, path)


def table_version(spark: "SparkSession", path: str) -> int:
    """The latest version of the Delta table at ``path`` (-1 when there is none)."""
    from delta.tables import DeltaTable

    if not is_delta_table(spark, path):
        return -1
    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])


#: Commits of table maintenance (``lakejobs optimize|vacuum``, which take no run lock).
MAINTENANCE = ("OPTIMIZE", "VACUUM START", "VACUUM END")


def _commit_metrics_since(spark: "SparkSession", path: str, before: int, now: int) -> Dict[str, str]:
    """The metrics of the first commit after version ``before`` that is not table maintenance.

    Not simply the newest commit: an OPTIMIZE committed right after the job's would give its
    metrics (no rows written), and the job's count check would fail a published run.
    """
    from delta.tables import DeltaTable

    rows = (
        DeltaTable.forPath(spark, path)
        .history(now - before)
        .filter(~F.col("operation").isin(*MAINTENANCE))
        .orderBy("version")
        .select("operation", "operationMetrics")
        .first()
    )
    return {"operation": rows["operation"], **(rows["operationMetrics"] or {})} if rows else {"operation": ""}


def commit_output_info(spark, path: str, name: str, partition_by: Sequence[str], before: int) -> OutputInfo:
    """Describe the commit made since version ``before`` (nothing, if none was made)."""
    now = table_version(spark, path)
    if now == before:
        return OutputInfo(name, path, "delta", rows=0, files=0, bytes=0, partition_by=list(partition_by))
    metrics = _commit_metrics_since(spark, path, before, now)
    if metrics["operation"] == "MERGE":
        rows = int(metrics.get("numTargetRowsInserted", 0)) + int(metrics.get("numTargetRowsUpdated", 0))
        files, size = metrics.get("numTargetFilesAdded", 0), metrics.get("numTargetBytesAdded", 0)
    else:
        rows, files, size = (
            metrics.get("numOutputRows", 0),
            metrics.get("numFiles", 0),
            metrics.get("numOutputBytes", 0),
        )
    return OutputInfo(
        name, path, "delta", rows=int(rows), files=int(files), bytes=int(size), partition_by=list(partition_by)
    )


#: The commit message (``userMetadata``) of a table's first commit when a keyed MERGE creates it.
KEYED_BY = "lakejobs primary_key="


def _writer(df: "DataFrame", partition_by: Sequence[str], compression: str):
    """A Delta writer whose rows meet their partitions as in ``lakejobs.io.writer``'s Parquet writes.

    ``arranged_for_partitions``: no shuffle, at most one file per partition value per core.
    Measured at 10M order lines (``bench/HISTORY.md``, "Session 20").
    """
    writer = arranged_for_partitions(df, partition_by).write.format("delta").option("compression", compression)
    return writer.partitionBy(*partition_by) if partition_by else writer


@contextlib.contextmanager
def plain_columns_written(spark: "SparkSession", plain_columns: Sequence[str]):
    """Within the block, Delta writes ``plain_columns`` without a Parquet dictionary.

    Delta hands Parquet only the ``compression`` and ``maxRecordsPerFile`` of a write's
    options, so ``plain_encoding_options`` go into the session's settings (Spark copies them
    into the Hadoop configuration each write gives Parquet) and are restored afterwards.
    """
    options = plain_encoding_options(plain_columns)
    previous = {key: spark.conf.get(key, None) for key in options}
    for key, value in options.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def overwrite_delta(
    df: "DataFrame",
    path: str,
    name: str,
    partition_by: Sequence[str] = (),
    compression: str = "snappy",
    plain_columns: Sequence[str] = (),
) -> OutputInfo:
    """Replace the table's content (old files stay until ``vacuum``, so readers never break)."""
    spark = df.sparkSession
    before = table_version(spark, path)
    with plain_columns_written(spark, plain_columns):
        _writer(df, partition_by, compression).mode("overwrite").option("overwriteSchema", "true").save(path)
    return commit_output_info(spark, path, name, partition_by, before)


def merge_delta(
    df: "DataFrame",
    path: str,
    name: str,
    keys: Sequence[str],
    partition_by: Sequence[str] = (),
    compression: str = "snappy",
    delete_missing: bool = False,
    plain_columns: Sequence[str] = (),
) -> OutputInfo:
    """Upsert ``df`` into the table on ``keys``: matching rows are replaced, new rows inserted.

    The table is created (partitioned by ``partition_by``) when it does not exist; either way
    ``plain_columns`` are written without a dictionary.
    ``df`` must hold each key once; callers quarantine duplicate keys first. With
    ``delete_missing`` the table's rows whose key ``df`` lacks are deleted in the same commit:
    ``df`` is the whole table, rebuilt from its sources.
    """
    from delta.tables import DeltaTable

    if not keys:
        raise UsageError(f"MERGE into {name} needs key columns")
    spark = df.sparkSession
    before = table_version(spark, path)
    if before < 0:
        with plain_columns_written(spark, plain_columns):
            writer = _writer(df, partition_by, compression).option("userMetadata", KEYED_BY + ",".join(keys))
            writer.mode("errorifexists").save(path)
        return commit_output_info(spark, path, name, partition_by, before)
    columns = source_columns(df)
    merge = (
        DeltaTable.forPath(spark, path)
        .alias("target")
        .merge(df.alias("source"), merge_condition(keys, df.schema))
        .whenMatchedUpdate(set=columns)
        .whenNotMatchedInsert(values=columns)
    )
    if delete_missing:
        merge = merge.whenNotMatchedBySourceDelete()
    with plain_columns_written(spark, plain_columns):
        merge.execute()
    return commit_output_info(spark, path, name, partition_by, before)


def source_columns(df: "DataFrame") -> Dict[str, str]:
    """A MERGE's ``set`` / ``values`` for the run's own columns, by name.

    Not Delta's ``UpdateAll`` / ``InsertAll``, which name every column of the table: a
    generated or identity column (which no run writes) then failed the MERGE, unresolved in
    the source. Named, those are left to Delta to fill.
    """
    return {quote_name(column): f"source.{quote_name(column)}" for column in df.columns}


def merge_condition(keys: Sequence[str], schema: "StructType") -> str:
    """MERGE's condition matching ``target`` and ``source`` rows on ``keys``, joined on the first.

    Spark hashes a join on every equality between its two sides. On all of a composite key
    (order, line), the lines of one order land in different tasks, and MERGE rewrites files in
    which they are scattered: the order-level columns stop repeating on adjacent rows, and a
    rerun grew the orders table 43 % at 10M lines (``bench/HISTORY.md``, "Session 21"). So the
    later keys, when integral, are compared as a difference of zero (exact in ``decimal(20,0)``),
    which Spark keeps as a filter after the join on the first key; other types stay equalities.
    """
    first, *rest = keys
    parts = [f"target.{quote_name(first)} = source.{quote_name(first)}"]
    for key in rest:
        name = quote_name(key)
        if isinstance(schema[key].dataType, T.IntegralType):
            parts.append(f"CAST(target.{name} AS DECIMAL(20,0)) - CAST(source.{name} AS DECIMAL(20,0)) = 0")
        else:
            parts.append(f"target.{name} = source.{name}")
    return " AND ".join(parts)


def append_delta_once(
    df: "DataFrame",
    path: str,
    name: str,
    txn_app_id: str,
    txn_version: int,
    partition_by: Sequence[str] = (),
    compression: str = "snappy",
    plain_columns: Sequence[str] = (),
) -> OutputInfo:
    """Append ``df`` unless this (``txn_app_id``, ``txn_version``) was committed before.

    Delta records the pair in the same commit as the data, so replaying a batch after a crash
    commits nothing new.
    """
    spark = df.sparkSession
    before = table_version(spark, path)
    with plain_columns_written(spark, plain_columns):
        (
            _writer(df, partition_by, compression)
            .mode("append")
            .option("txnAppId", txn_app_id)
            .option("txnVersion", txn_version)
            .save(path)
        )
    return commit_output_info(spark, path, name, partition_by, before)


def committed_transaction(spark: "SparkSession", path: str, txn_app_id: str) -> bool:
    """Tell whether the Delta table at ``path`` committed a write with ``txn_app_id`` (``append_delta_once``).

    Read from the table's snapshot (its ``txn`` actions; Delta keeps them for
    ``delta.setTransactionRetentionDuration``, by default forever).
    """
    if not is_delta_table(spark, path):
        return False
    delta_log = spark.sparkContext._jvm.org.apache.spark.sql.delta.DeltaLog
    snapshot = delta_log.forTableWithSnapshot(spark._jsparkSession, path)._2()
    return bool(snapshot.transactions().contains(txn_app_id))


def batch_app_id(job: str, table: str, fingerprint: str, series: str = "") -> str:
    """A Delta ``txnAppId`` for one batch of input files written by ``job`` into ``table``.

    ``series`` names the incremental runs since the table was last replaced (``JobState.series``):
    a file appended before a ``state reset``, left out of the replacing batch and landed again
    as it was (same path, size and time) is a new batch, not a replay of the old one.
    """
    text = f"{job}\n{table}\n{fingerprint}" + (f"\n{series}" if series else "")
    return "lakejobs-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def read_table(spark: "SparkSession", path: str, fmt: str, schema: Optional["StructType"] = None) -> "DataFrame":
    """Read a table written by the jobs, as Parquet or Delta.

    With ``schema`` a Parquet table is read with it instead of the one its files declare: a
    partitioned table converted from an empty input has no file to declare one, and reads as
    empty instead of failing. (A Delta table's schema is in its log.) Without it, partition
    columns are typed only where no value changes (``io.partitions``: ``0700`` stays text).

    A Delta table (a folder with ``_delta_log``) is refused as Parquet with ``UsageError``:
    its folder also holds the files of removed rows and older versions, which a Parquet read
    would take for live rows. A folder without one is refused as Delta, in one line too.
    """
    if fmt == "delta":
        if not is_delta_table(spark, path):
            raise UsageError(f"{path} is not a Delta table (it has no Delta commit): read it with --format parquet")
        return spark.read.format("delta").load(path)
    if fs.exists(spark, f"{path.rstrip('/')}/_delta_log"):  # committed or not: its files are no Parquet table
        raise UsageError(
            f"{path} is a Delta table (it has a _delta_log): read it with --format delta, not --format {fmt}"
        )
    refuse_files_not_parquet(spark, path)
    if schema is not None:
        return spark.read.schema(schema).parquet(path)
    from lakejobs.io.partitions import read_parquet_table

    return read_parquet_table(spark, path)


def table_schema(spark: "SparkSession", dataset) -> "StructType":
    """The schema of ``dataset``'s table: its columns, then its derived (partition) columns."""
    from lakejobs.transforms.validation import with_derived_columns

    empty = spark.createDataFrame([], dataset.schema)
    return empty.transform(with_derived_columns(dataset.derived_columns)).schema


def require_delta_table(spark: "SparkSession", path: str) -> None:
    """Raise ``UsageError`` when ``path`` does not exist or is not a Delta table (one line each)."""
    if not fs.exists(spark, path):
        raise UsageError(f"table path does not exist: {path}")
    if not is_delta_table(spark, path):
        raise UsageError(f"not a Delta table: {path}")


def table_history(spark: "SparkSession", path: str, limit: Optional[int] = None) -> "DataFrame":
    """The table's commits, newest first: version, timestamp, operation, parameters, metrics."""
    from delta.tables import DeltaTable

    require_delta_table(spark, path)
    history = DeltaTable.forPath(spark, path).history(limit) if limit else DeltaTable.forPath(spark, path).history()
    return history.select("version", "timestamp", "operation", "operationParameters", "operationMetrics")


def optimize_table(spark: "SparkSession", path: str, zorder_by: Sequence[str] = ()) -> Dict[str, object]:
    """Compact small files (and Z-order by ``zorder_by``); return the commit's metrics.

    The files are rewritten with their columns' encodings: a column the table's files hold
    without a dictionary (a dataset's ``plain_columns``) is rewritten without one. Delta's
    defaults would give it a dictionary again: OPTIMIZE of the 1M-line orders (32.76 MB) left
    35.20 MB that way, 32.75 MB this way (``bench/HISTORY.md``, "Session 22").
    """
    from delta.tables import DeltaTable

    require_delta_table(spark, path)
    table = DeltaTable.forPath(spark, path)
    columns = {name.lower(): name for name in table.toDF().columns}
    unknown = [column for column in zorder_by if column.lower() not in columns]
    if unknown:
        raise UsageError(
            f"--zorder_by names {', '.join(unknown)}, not a column of {path} ({', '.join(columns.values())})"
        )
    partitions = set(table.detail().select("partitionColumns").first()[0] or ()) if zorder_by else set()
    if partitions & {columns[column.lower()] for column in zorder_by}:
        raise UsageError(f"--zorder_by cannot name a partition column of {path} ({', '.join(sorted(partitions))})")
    builder = table.optimize()
    with plain_columns_written(spark, _plain_columns_of(spark, path)):
        row = (builder.executeZOrderBy(*zorder_by) if zorder_by else builder.executeCompaction()).first()
    metrics = row["metrics"].asDict() if row and row["metrics"] else {}
    return {key: metrics.get(key) for key in ("numFilesAdded", "numFilesRemoved", "totalConsideredFiles")}


def _plain_columns_of(spark: "SparkSession", path: str) -> Sequence[str]:
    """The columns the table's files hold without a dictionary (from ``FOOTERS_READ`` files' footers)."""
    live_files = sorted(spark.read.format("delta").load(path).inputFiles())
    return columns_without_dictionary(spark, live_files[:FOOTERS_READ])


#: A Delta table's property for how long removed files stay (Delta's VACUUM keeps that much by default).
RETENTION_PROPERTY = "delta.deletedFileRetentionDuration"
#: What Delta keeps of a table that sets no ``RETENTION_PROPERTY``.
DEFAULT_RETENTION = "interval 1 week"


def vacuum_table(
    spark: "SparkSession", path: str, retain_hours: Optional[float] = None, allow_short_retention: bool = False
) -> str:
    """Delete files no longer referenced by versions newer than ``retain_hours``; say what was kept.

    Without ``retain_hours`` the table's own ``delta.deletedFileRetentionDuration`` (a week unless
    set, shorter too if set so) is kept, as Delta's ``VACUUM`` does (until session 44 the CLI asked for 168 hours, which
    Delta refused for a table keeping more, and the refusal pointed at turning the check off).
    Delta's retention check stays on unless ``allow_short_retention``: it refuses less than the
    table's retention, a refusal reported as one line. With ``allow_short_retention`` readers of
    older versions lose their files.
    """
    from delta.tables import DeltaTable

    require_delta_table(spark, path)
    table = DeltaTable.forPath(spark, path)
    retention = (table.detail().select("properties").first()[0] or {}).get(RETENTION_PROPERTY)
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    spark.conf.set(check, str(not allow_short_retention).lower())
    try:
        table.vacuum(retain_hours)
    except Exception as error:  # noqa: BLE001 - Delta's IllegalArgumentException through py4j
        if allow_short_retention or retain_hours is None or "retention" not in str(error).lower():
            raise  # with the check off, a retention error is not the check's refusal
        kept = retention or DEFAULT_RETENTION
        raise UsageError(
            f"--retain-hours {retain_hours:g} is below {path}'s {RETENTION_PROPERTY} ({kept}): give at least "
            "that, or leave --retain-hours out to keep what the table keeps (--allow-short-retention deletes files "
            "versions within it still read)"
        ) from None
    finally:
        spark.conf.set(check, "true")
    if retain_hours is None and retention:
        return f"{retention} of history: the table's {RETENTION_PROPERTY}"
    if retain_hours is None:
        return f"{DEFAULT_RETENTION} of history: Delta's default, the table sets no {RETENTION_PROPERTY}"
    return f"{retain_hours} hours of history"
