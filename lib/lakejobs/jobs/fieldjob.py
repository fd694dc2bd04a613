"""What the field jobs (taxi_trips, fx_rates, stock_prices, transactions) share.

Arguments (``--input_path``, ``--output_path``, ``--quarantine_path``, ``--compression``,
``--max_bad_fraction``, ``--report_path``), the preflight check, counting rows per reason,
the bad-rows gate and the split write: good rows to the table, the others to the quarantine
(JSON lines: ``dataset``, ``source_file``, ``raw_line``, ``reason``, ``detail``, ``run_id``).

A load never deletes the rows of another load (``Merge``): the partitions a run touches are
rewritten with their earlier rows merged with the run's, through a staging folder, so a failed
run leaves the table as it was.
"""

import contextlib
import dataclasses
import logging
import os
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from pyspark import StorageLevel
from pyspark.sql import functions as F

from lakejobs import args as job_args
from lakejobs import fs, quality_gate
from lakejobs.datasets import Dataset
from lakejobs.errors import LakejobsError, QualityGateError, UsageError
from lakejobs.io.compressed import broken_archive
from lakejobs.io.csv_reader import too_many_fields
from lakejobs.io.input_folder import input_data_files
from lakejobs.io.partitions import folder_values, partition_folders, partition_texts
from lakejobs.io.quarantine import write_quarantine
from lakejobs.io.reports import (
    raise_failed_run,
    refuse_missing_report_bucket,
    save_interrupted_report,
    save_run_report_quietly,
)
from lakejobs.io.signatures import refuse_compressed_content
from lakejobs.io.staging import clear_staging, commit_parquet, staging_path
from lakejobs.io.table_folder import refuse_foreign_folders, refuse_other_layout
from lakejobs.io.table_schema import refuse_other_schema
from lakejobs.io.writer import COMPRESSIONS, write_table
from lakejobs.result import JobResult, OutputInfo
from lakejobs.state import RunLock
from lakejobs.transforms.validation import (
    REASON,
    few_repeats,
    filter_quarantined,
    repeated_keys,
    with_duplicate_keys_flagged,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

LOG = logging.getLogger(__name__)
#: The lineage column of tables without a key: the file each row was read from.
LINEAGE = "source_file"


@dataclasses.dataclass(frozen=True)
class Merge:
    """How a run's good rows join the rows earlier loads left in the partitions it rewrites.

    Attributes
    ----------
    keys : tuple of str
        The table's key: an earlier row whose key is in the run is replaced (a newer load wins),
        the others are kept.
    lineage : bool
        The rows carry ``LINEAGE``: the earlier rows of the files the run reads again are
        replaced (wherever they are), the others are kept.
    finish : callable, optional
        A transform applied to the merged rows of each rewritten partition (the stock windows
        over a ticker's whole series), or to the run's rows on a first load.
    """

    keys: Tuple[str, ...] = ()
    lineage: bool = False
    finish: Optional[Callable[["DataFrame"], "DataFrame"]] = None

    def finished(self, df: "DataFrame") -> "DataFrame":
        """``df`` through ``finish`` (unchanged without one)."""
        return self.finish(df) if self.finish else df


@dataclasses.dataclass(frozen=True)
class TableLayout:
    """How a field job's table is written.

    Attributes
    ----------
    name : str
        The output's name in the job result.
    partition_by : tuple of str
        Its partition columns.
    plain_columns : tuple of str
        Columns whose values are nearly all distinct, written without a Parquet dictionary
        (``lakejobs.io.writer.plain_encoding_options``).
    """

    name: str
    partition_by: Tuple[str, ...]
    plain_columns: Tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class FieldArgs:
    """Configuration every field job has; each job's own arguments extend it."""

    input_path: str
    output_path: str
    quarantine_path: str
    compression: str
    max_bad_fraction: float
    report_path: str

    @property
    def lock_path(self) -> str:
        """The lock file guarding the output against a concurrent run."""
        return f"{self.output_path.rstrip('/')}_lakejobs.lock"


def add_common_arguments(parser, input_help: str, max_bad_fraction: float = 0.05) -> None:
    """Add the shared options to a job's parser."""
    parser.add_argument("--input_path", required=True, help=input_help)
    parser.add_argument("--output_path", required=True, help="where the table is written")
    parser.add_argument("--quarantine_path", help="bad records go here (default: <output_path>_quarantine)")
    parser.add_argument("--compression", choices=COMPRESSIONS, default="snappy")
    parser.add_argument(
        "--max_bad_fraction",
        type=job_args.parse_fraction,
        default=max_bad_fraction,
        help=f"fail without publishing above this share of bad records (default {max_bad_fraction})",
    )
    parser.add_argument(
        "--report_path", help="folder for run reports, <job>/<run_id>.json (default: <output_path>_lakejobs/runs)"
    )


def common_values(namespace) -> Dict[str, object]:
    """The ``FieldArgs`` fields from parsed arguments, paths qualified."""
    input_path, output_path = fs.qualify(namespace.input_path), fs.qualify(namespace.output_path)
    values = {
        "input_path": input_path,
        "output_path": output_path,
        "quarantine_path": fs.qualify(namespace.quarantine_path or output_path.rstrip("/") + "_quarantine"),
        "compression": namespace.compression,
        "max_bad_fraction": namespace.max_bad_fraction,
        "report_path": fs.qualify(namespace.report_path or output_path.rstrip("/") + "_lakejobs/runs"),
    }
    fs.require_apart(
        {f"--{name}": values[name] for name in ("input_path", "output_path", "quarantine_path")},
        outside={"--report_path": values["report_path"]},
    )
    return values


def preflight(args: FieldArgs) -> None:
    """Fail fast, before Spark starts, when a local input is missing or a local output folder is unwritable."""
    if fs.is_local(args.input_path) and not os.path.exists(fs.local_path(args.input_path)):
        raise UsageError(f"input path does not exist: {args.input_path}")
    folders = {"--output_path": args.output_path, "--quarantine_path": args.quarantine_path}
    fs.require_writable({**folders, "--report_path": args.report_path})


def require_input(spark: "SparkSession", args: FieldArgs) -> List[fs.FileInfo]:
    """The input's data files; raise ``UsageError`` when it is missing or holds a file Spark would misread.

    A file Spark would skip (a name starting with ``_``), or a compressed one not named so
    (``signatures.refuse_compressed_content``).

    Any filesystem; the second check is the job's one recursive listing of its input
    (``input_folder.input_data_files``), whose files the job reads or fingerprints.
    """
    if not fs.exists(spark, args.input_path):
        raise UsageError(f"input path does not exist: {args.input_path}")
    files = input_data_files(spark, args.input_path)
    if not files:  # a wrong or not yet filled folder: every field job says so, not SUCCEEDED with 0 rows
        raise UsageError(f"no data files below {args.input_path}")
    refuse_compressed_content(spark, files)
    return files


@contextlib.contextmanager
def repeats_flagged_once(
    checked_df: "DataFrame", dataset: Optional[Dataset], result: Optional[JobResult] = None
) -> Iterator["DataFrame"]:
    """``checked_df`` persisted (``DISK_ONLY``), with every repeat of ``dataset``'s key flagged.

    The repeated keys (``validation.repeated_keys``, a small frame kept in memory) are found in
    the persisted rows: flagged from the input instead, the input is read and typed twice (once
    for the keys), about half of a transactions run (bench/HISTORY.md, "Session 29"). Without a
    dataset or a key, the rows are only persisted. Both frames are unpersisted on leaving.
    Counting the repeated keys (``validation.few_repeats``) reads the input: with a ``result``,
    that time counts in its ``validate`` stage.
    """
    checked_df = checked_df.persist(StorageLevel.DISK_ONLY)
    repeated_df = None
    try:
        if dataset is None or not dataset.primary_key:
            yield checked_df
        else:
            repeated_df = checked_df.transform(repeated_keys(dataset)).persist()
            with result.stage("validate") if result is not None else contextlib.nullcontext():
                broadcast = few_repeats(repeated_df)
            yield checked_df.transform(with_duplicate_keys_flagged(dataset, repeated_df, broadcast))
    finally:
        checked_df.unpersist()
        if repeated_df is not None:
            repeated_df.unpersist()


def count_by_reason(validated_df: "DataFrame") -> Dict[Optional[str], int]:
    """Rows per reason (``None`` for good rows): one small aggregate to the driver."""
    return {row[REASON]: int(row["count"]) for row in validated_df.groupBy(REASON).count().collect()}


def account(result: JobResult, counts: Dict[Optional[str], int]) -> None:
    """Set rows read and quarantined (by reason) from ``count_by_reason``."""
    result.rows_read = sum(counts.values())
    result.quarantine_reasons = {reason: count for reason, count in counts.items() if reason is not None}
    result.rows_quarantined = sum(result.quarantine_reasons.values())


def gate(args: FieldArgs, result: JobResult, quarantine_df: "DataFrame", name: str) -> None:
    """Fail, keeping the bad records (``quality_gate.rejected_path``), when too many records are bad."""
    bad, total = result.rows_quarantined, result.rows_read
    if not total or bad / total <= args.max_bad_fraction:
        return
    rejected_path = quality_gate.rejected_path(args.quarantine_path, result.run_id)
    write_table(quarantine_df, rejected_path, "rejected", "json", compression="none")
    top = quality_gate.top_reasons(dict(sorted(result.quarantine_reasons.items())))
    message = (
        f"{name}: {bad} of {total} records ({bad / total:.2%}) are bad, above --max_bad_fraction "
        f"{args.max_bad_fraction}; nothing was published (reasons: {top}; records kept in "
        f"{quality_gate.rejected_root(args.quarantine_path)})"
    )
    raise QualityGateError(message, result=result.finish("FAILED", message))


def source_files_of(checked_df: "DataFrame", listed: Sequence[fs.FileInfo]) -> List[str]:
    """The files ``checked_df`` reads and the ``listed`` ones, spelled as Spark spells input files.

    Only listed files Spark does not read (emptied ones) are spelled by Spark again: a listing
    of those few paths.
    """
    spelled = set(checked_df.inputFiles())
    read = {fs.spark_file_key(path) for path in spelled}
    unread = [fs.literal(info.path) for info in listed if fs.listed_file_key(info.path) not in read]
    if unread:
        spelled |= set(checked_df.sparkSession.read.text(unread).inputFiles())
    return sorted(spelled)


def publish_split(
    args: FieldArgs,
    result: JobResult,
    checked_df: "DataFrame",
    good_rows: Callable[["DataFrame"], "DataFrame"],
    table: TableLayout,
    merge: Merge,
    dataset: Optional[Dataset] = None,
    listed: Sequence[fs.FileInfo] = (),
) -> None:
    """Flag repeated keys, count, gate, then write the good rows (partitioned) and the quarantine.

    ``checked_df`` holds every input row, each bad one with its reason; with a ``dataset`` that
    has a key, also ``_row_id`` (``validation.with_row_id``), and every repeat of a key is
    flagged here, from the persisted rows (``repeats_flagged_once``), so the input is typed once.
    ``good_rows`` turns the flagged rows into the table's: it must keep exactly those without a
    reason (``field_checks.filter_good``), so that ``rows_read == rows_written +
    rows_quarantined``; ``rows_written`` counts them, the table output's ``rows`` also the
    earlier rows rewritten with them.

    A table already at the output whose columns have other types than the run writes (after
    ``merge.finish``) is refused before anything is counted or written (``refuse_other_schema``).

    The quarantine keeps one folder per source file (``lakejobs.io.quarantine``): the files read
    again replace theirs, as their rows are replaced in the table (``merge``). The source files
    are those Spark read and the ``listed`` input files: a file emptied since (no header line,
    no record) gives no row, but its earlier rows and quarantine must go all the same.
    """
    source_files = source_files_of(checked_df, listed)
    with repeats_flagged_once(checked_df, dataset, result) as validated_df:
        written_schema = merge.finished(validated_df.transform(good_rows)).schema
        spark = checked_df.sparkSession
        refuse_other_schema(spark, args.output_path, written_schema, "parquet", table.partition_by, types_only=True)
        with result.stage("validate"):
            account(result, count_by_reason(validated_df))
        quarantine_df = validated_df.transform(filter_quarantined(table.name, result.run_id))
        gate(args, result, quarantine_df, table.name)
        with result.stage("write"):
            # The quarantine first: if it cannot be written, the table stays as it was.
            quarantine = write_quarantine(
                quarantine_df, args.quarantine_path, source_files, result.rows_quarantined, whole=not table.partition_by
            )
            result.outputs = [quarantine]  # published: a FAILED report of a write failing below lists it
            good_count = result.rows_read - result.rows_quarantined
            good_df = validated_df.transform(good_rows)
            output = write_good_rows(good_df, args, table, good_count, merge, source_files, result.run_id)
    result.outputs = [output, quarantine]
    result.rows_written = good_count


def write_good_rows(
    good_df: "DataFrame",
    args: FieldArgs,
    table: TableLayout,
    rows: int,
    merge: Merge,
    source_files: Sequence[str],
    run_id: str,
) -> OutputInfo:
    """Write the run's rows into the partitions they belong to, keeping the rows of other loads.

    The table's existing partitions that the run touches (those of its rows, and with lineage
    those holding rows of the files it reads again) are read, the rows that ``merge`` keeps
    are merged with the run's, and the result is written to a staging folder
    (``lakejobs.io.staging``), then moved in place of those partitions: Spark cannot overwrite
    the partitions it reads in the same query, and a failed write leaves the table as it was.
    A partition left with no row is removed. A first load is written directly.

    With no good row nothing is written, and the table stays as it was unless ``merge`` has
    lineage: the rows of the files read again are still removed (a file now all bad, or empty,
    leaves no row of its earlier load). Nothing empty is ever written: an empty partitioned
    write would never return (AQE replaces the empty plan after its shuffle, and the row-count
    ``Observation`` of ``write_table`` then waits forever).
    """
    if rows == 0 and not merge.lineage:
        return empty_output(args.output_path, table.name, table.partition_by)
    finish = merge.finished
    rewritten = rewritten_partitions(good_df, args.output_path, table.partition_by, merge, source_files)
    if not rewritten:
        if rows == 0:
            return empty_output(args.output_path, table.name, table.partition_by)
        return _write(finish(good_df), args.output_path, table, args.compression)
    spark = good_df.sparkSession
    earlier_df = spark.read.schema(good_df.schema).option("basePath", args.output_path).parquet(*rewritten.values())
    merged_df = finish(kept_rows(earlier_df, good_df, merge, source_files).unionByName(good_df))
    if rows == 0 and merged_df.isEmpty():  # the files read again held every row of those partitions
        for url in rewritten.values():
            fs.delete(spark, url, recursive=True)
        return empty_output(args.output_path, table.name, table.partition_by)
    output = replace_partitions(merged_df, rewritten, args, table, run_id)
    LOG.info("%s: %d new rows merged with %d rows of earlier loads", table.name, rows, output.rows - rows)
    return output


def rewritten_partitions(
    good_df: "DataFrame", path: str, partition_by: Sequence[str], merge: Merge, source_files: Sequence[str]
) -> Dict[str, str]:
    """The table's partition folders a run rewrites -> their URLs.

    Those of the run's rows and, with lineage, those holding rows of ``source_files`` (one
    scan of the table's lineage column). Partition values come to the driver as one small
    aggregate per frame.
    """
    spark = good_df.sparkSession
    folders = partition_folders(spark, path, len(partition_by))
    if not folders:
        return {}
    touched = partition_texts(good_df, partition_by)
    if merge.lineage:
        earlier_df = spark.read.schema(good_df.schema).parquet(path)
        read_again = F.col(LINEAGE).isin(*fs.every_spelling(source_files))
        touched |= partition_texts(earlier_df.filter(read_again), partition_by)
    return {folder: url for folder, url in folders.items() if folder_values(folder) in touched}


def replace_partitions(
    merged_df: "DataFrame",
    rewritten: Dict[str, str],
    args: FieldArgs,
    table: TableLayout,
    run_id: str,
) -> OutputInfo:
    """Write ``merged_df`` to a staging folder, then move it in place of the ``rewritten`` partitions.

    A rewritten partition that ``merged_df`` has no row for is removed.
    """
    spark = merged_df.sparkSession
    staging = staging_path(args.output_path, run_id)
    staged = _write(merged_df, staging, table, args.compression)
    written = set(partition_folders(spark, staging, len(table.partition_by)))
    emptied = sorted(set(rewritten) - written)  # every row of these partitions was replaced
    commit_parquet(spark, staging, args.output_path, partitioned=True, append=False, remove=emptied)
    return dataclasses.replace(staged, path=args.output_path)


def _write(df: "DataFrame", path: str, table: TableLayout, compression: str) -> OutputInfo:
    """Write ``df`` to ``path`` in ``table``'s layout (``write_table``)."""
    return write_table(
        df, path, table.name, "parquet", table.partition_by, compression, plain_columns=table.plain_columns
    )


def kept_rows(earlier_df: "DataFrame", good_df: "DataFrame", merge: Merge, source_files: Sequence[str]) -> "DataFrame":
    """The earlier rows that stay: keys the run does not hold, files the run does not read again.

    A file is the same under any S3 scheme (``fs.every_spelling``). Rows without lineage
    (written before the table had it) come from no file the run reads and stay.
    """
    kept_df = earlier_df
    if merge.keys:
        kept_df = kept_df.join(good_df.select(*merge.keys), list(merge.keys), "left_anti")
    if merge.lineage:
        kept_df = kept_df.filter(F.coalesce(~F.col(LINEAGE).isin(*fs.every_spelling(source_files)), F.lit(True)))
    return kept_df.select(*earlier_df.columns)


def empty_output(path: str, name: str, partition_by: Sequence[str], fmt: str = "parquet") -> OutputInfo:
    """The description of a write that wrote nothing."""
    return OutputInfo(name, path, fmt, rows=0, files=0, bytes=0, partition_by=list(partition_by))


def named_broken_archive(spark: "SparkSession", error: Exception, files: List[fs.FileInfo]) -> Exception:
    """``error``, or one naming the input file that cannot be decompressed when that caused it (``broken_archive``).

    A line too wide for the CSV parser (``csv_reader.too_many_fields``) is explained in one line too.
    """
    if isinstance(error, LakejobsError):
        return error
    broken = too_many_fields(error) or broken_archive(spark, error, files)
    if broken is None:
        return error
    named = LakejobsError(broken)
    named.__cause__ = error
    return named


def run_locked(
    spark: "SparkSession",
    args: FieldArgs,
    result: JobResult,
    body,
    partition_by: Sequence[str],
    output_format: str = "parquet",
) -> JobResult:
    """Check the input, run ``body(files)`` under the output's lock, then finish and save the report.

    ``files`` are the input's data files (``require_input``), listed once for the run.

    ``partition_by``, ``output_format``: how the output is written (``lakejobs.io.table_folder``
    checks its folder, and an existing Parquet table's partition layout: another job's table
    there, ``ticker=`` folders beside ``base=``, made a table Spark refuses to read).

    A failed run saves its FAILED report too, and fails in one line naming the stage and the
    root cause (``io.reports.raise_failed_run``).
    """
    files: List[fs.FileInfo] = []
    try:
        refuse_missing_report_bucket(spark, args.report_path)
        files = require_input(spark, args)
        refuse_foreign_folders(spark, {"--output_path": args.output_path}, output_format)
        refuse_foreign_folders(spark, {"--quarantine_path": args.quarantine_path}, "json")
        if output_format == "parquet":
            refuse_other_layout(spark, args.output_path, partition_by)
        with RunLock(spark, args.lock_path, result.job, result.run_id, args.report_path):
            save_run_report_quietly(spark, args.report_path, result)  # RUNNING: what a killed run leaves
            clear_staging(spark, args.output_path)  # left by an interrupted run; a commit is finished first
            body(files)
    except KeyboardInterrupt:  # a second Ctrl-C: the RUNNING report says FAILED, not RUNNING
        save_interrupted_report(spark, args.report_path, result, "")
        raise
    except Exception as error:  # noqa: BLE001 - one clear line and a FAILED report
        raise_failed_run(spark, args.report_path, result, "", named_broken_archive(spark, error, files))
    result.finish("SUCCEEDED")
    save_run_report_quietly(spark, args.report_path, result)
    return result
