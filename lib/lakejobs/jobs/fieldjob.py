"""What the field jobs (taxi_trips, fx_rates, stock_prices, transactions) share.

Arguments (``--input_path``, ``--output_path``, ``--quarantine_path``, ``--compression``,
``--max_bad_fraction``, ``--report_path``), the preflight check, counting rows per reason,
the bad-rows gate and the split write: good rows to the table, the others to the quarantine
(JSON lines: ``dataset``, ``source_file``, ``raw_line``, ``reason``, ``detail``, ``run_id``).
"""

import dataclasses
import os
from typing import TYPE_CHECKING, Dict, Optional, Sequence

from pyspark import StorageLevel

from lakejobs import args as job_args
from lakejobs import fs, quality_gate
from lakejobs.errors import QualityGateError, UsageError
from lakejobs.io.quarantine import write_quarantine
from lakejobs.io.reports import raise_failed_run, save_run_report
from lakejobs.io.writer import COMPRESSIONS, write_table
from lakejobs.result import JobResult, OutputInfo
from lakejobs.state import RunLock
from lakejobs.transforms.validation import REASON, filter_quarantined

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession


@dataclasses.dataclass(frozen=True)
class FieldArgs:
    """Configuration every field job has; each job's own arguments extend it."""

    input_path: str
    output_path: str
    quarantine_path: str
    compression: str
    max_bad_fraction: float
    report_path: Optional[str]

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
    parser.add_argument("--report_path", help="folder for run reports (<job>/<run_id>.json)")


def common_values(namespace) -> Dict[str, object]:
    """The ``FieldArgs`` fields from parsed arguments, paths qualified."""
    input_path, output_path = fs.qualify(namespace.input_path), fs.qualify(namespace.output_path)
    values = {
        "input_path": input_path,
        "output_path": output_path,
        "quarantine_path": fs.qualify(namespace.quarantine_path or output_path.rstrip("/") + "_quarantine"),
        "compression": namespace.compression,
        "max_bad_fraction": namespace.max_bad_fraction,
        "report_path": fs.qualify(namespace.report_path) if namespace.report_path else None,
    }
    fs.require_apart(
        {f"--{name}": values[name] for name in ("input_path", "output_path", "quarantine_path")},
        outside={"--report_path": values["report_path"]},
    )
    return values


def preflight(args: FieldArgs) -> None:
    """Fail fast, before Spark starts, when a local input path is missing."""
    if fs.is_local(args.input_path) and not os.path.exists(fs.local_path(args.input_path)):
        raise UsageError(f"input path does not exist: {args.input_path}")


def require_input(spark: "SparkSession", args: FieldArgs) -> None:
    """Raise ``UsageError`` when the input path does not exist (any filesystem)."""
    if not fs.exists(spark, args.input_path):
        raise UsageError(f"input path does not exist: {args.input_path}")


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
    ranked = sorted(result.quarantine_reasons.items(), key=lambda item: (-item[1], item[0]))[:3]
    top = ", ".join(f"{reason}={count}" for reason, count in ranked)
    message = (
        f"{name}: {bad} of {total} records ({bad / total:.2%}) are bad, above --max_bad_fraction "
        f"{args.max_bad_fraction}; nothing was published (reasons: {top}; records kept in "
        f"{quality_gate.rejected_root(args.quarantine_path)})"
    )
    raise QualityGateError(message, result=result.finish("FAILED", message))


def publish_split(
    args: FieldArgs,
    result: JobResult,
    validated_df: "DataFrame",
    good_df: "DataFrame",
    name: str,
    partition_by: Sequence[str],
) -> None:
    """Count, gate, then write ``good_df`` (partitioned) and the quarantine of ``validated_df``.

    The quarantine keeps one folder per source file (``lakejobs.io.quarantine``): the files read
    again replace theirs, as the partitions they rewrite are replaced in the table.

    ``good_df`` must be derived from the rows of ``validated_df`` without a reason, so that
    ``rows_read == rows_written + rows_quarantined``.
    """
    source_files = validated_df.inputFiles()
    validated_df = validated_df.persist(StorageLevel.DISK_ONLY)
    try:
        with result.stage("validate"):
            account(result, count_by_reason(validated_df))
        quarantine_df = validated_df.transform(filter_quarantined(name, result.run_id))
        gate(args, result, quarantine_df, name)
        with result.stage("write"):
            # The quarantine first: if it cannot be written, the table stays as it was.
            quarantine = write_quarantine(
                quarantine_df, args.quarantine_path, source_files, result.rows_quarantined, whole=not partition_by
            )
            output = write_good_rows(good_df, args, name, partition_by, result.rows_read - result.rows_quarantined)
    finally:
        validated_df.unpersist()
    result.outputs = [output, quarantine]
    result.rows_written = output.rows


def write_good_rows(good_df: "DataFrame", args: FieldArgs, name: str, partition_by: Sequence[str], rows: int):
    """Write the table; with no good row, write nothing and leave the table as it was.

    An empty partitioned write would never return: AQE replaces the empty plan after its
    shuffle, and the row-count ``Observation`` of ``write_table`` then waits forever.
    """
    if rows == 0:
        return empty_output(args.output_path, name, partition_by)
    return write_table(good_df, args.output_path, name, "parquet", partition_by, args.compression)


def empty_output(path: str, name: str, partition_by: Sequence[str], fmt: str = "parquet") -> OutputInfo:
    """The description of a write that wrote nothing."""
    return OutputInfo(name, path, fmt, rows=0, files=0, bytes=0, partition_by=list(partition_by))


def run_locked(spark: "SparkSession", args: FieldArgs, result: JobResult, body) -> JobResult:
    """Check the input, run ``body()`` under the output's lock, then finish and save the report.

    A failed run saves its FAILED report too, and fails in one line naming the stage and the
    root cause (``io.reports.raise_failed_run``).
    """
    try:
        require_input(spark, args)
        with RunLock(spark, args.lock_path, result.job, result.run_id):
            body()
    except Exception as error:  # noqa: BLE001 - one clear line and a FAILED report
        raise_failed_run(spark, args.report_path, result, "", error)
    result.finish("SUCCEEDED")
    save_run_report(spark, args.report_path, result)
    return result
