"""csv_to_parquet: raw CSV -> typed, partitioned Parquet, with a quarantine for bad rows.

Every data line read ends up either in the output or in the quarantine with a reason, and
the counts say so. When more than ``--max_bad_fraction`` of the lines are bad the job fails,
publishes nothing, and keeps the rejected run's quarantine under
``<quarantine_path>/_rejected/run_id=<id>/`` for inspection.

Examples
--------
::

    python jobs/csv_to_parquet.py --dataset orders \\
        --input_path data/sample/rawData/orders --output_path lake/processedData/orders

    lakejobs run csv_to_parquet --schema "id BIGINT NOT NULL, name STRING, born DATE" \\
        --header true --date_format d.M.yyyy --input_path people.csv --output_path out/people
"""

import dataclasses
import logging
import os
from typing import TYPE_CHECKING, Dict, Optional, Sequence, Tuple

from pyspark import StorageLevel

from lakejobs import args as job_args
from lakejobs import fs, runtime
from lakejobs.datasets import Dataset, builtin_dataset, custom_dataset
from lakejobs.errors import QualityGateError, UsageError
from lakejobs.io.csv_reader import read_raw_csv
from lakejobs.io.reports import save_run_report
from lakejobs.io.writer import COMPRESSIONS, write_table
from lakejobs.result import JobResult, new_run_id
from lakejobs.schemas import parse_ddl
from lakejobs.transforms.validation import (
    REASON,
    filter_quarantined,
    filter_valid,
    with_derived_columns,
    with_typed_columns,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

JOB = "csv_to_parquet"
DESCRIPTION = "raw CSV -> typed, partitioned Parquet; bad rows quarantined with reasons"
LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CsvToParquetArgs:
    """The job's configuration, built once from its arguments."""

    input_path: str
    output_path: str
    dataset: Dataset
    quarantine_path: str
    partition_by: Tuple[str, ...]
    compression: str
    output_format: str
    max_bad_fraction: float
    report_path: Optional[str]


def build_parser():
    """The job's argument parser (Glue-style ``--name value`` options)."""
    parser = job_args.new_parser(JOB, DESCRIPTION)
    parser.add_argument("--input_path", required=True, help="raw CSV file or folder")
    parser.add_argument("--output_path", required=True, help="where the typed table is written")
    parser.add_argument("--dataset", help="a built-in dataset: customers, employees, orders")
    parser.add_argument("--schema", help="Spark DDL of the columns, e.g. 'id BIGINT NOT NULL, name STRING'")
    parser.add_argument("--schema_file", help="a file holding such a DDL string")
    parser.add_argument("--dataset_name", help="name of a --schema dataset (default: output folder name)")
    parser.add_argument("--primary_key", type=job_args.parse_columns, default=(), help="key columns: c1,c2")
    parser.add_argument("--partition_by", type=job_args.parse_columns, help="partition columns: c1,c2")
    parser.add_argument("--compression", choices=COMPRESSIONS, default="snappy")
    parser.add_argument("--format", dest="output_format", choices=("parquet", "delta"), default="parquet")
    parser.add_argument("--quarantine_path", help="bad rows go here (default: <output_path>_quarantine)")
    parser.add_argument("--max_bad_fraction", type=job_args.parse_fraction, default=0.05)
    parser.add_argument("--report_path", help="folder for run reports (<job>/<run_id>.json)")
    parser.add_argument("--header", type=job_args.parse_bool, help="first line of each file is a header")
    parser.add_argument("--delimiter", help="field separator (default ,)")
    parser.add_argument("--quote", help='quote character (default ")')
    parser.add_argument("--escape", help="escape character inside quotes (default: the quote, as RFC 4180)")
    parser.add_argument("--encoding", help="file encoding (default UTF-8)")
    parser.add_argument("--date_format", help="format of DATE columns, e.g. M/d/yyyy")
    parser.add_argument("--timestamp_format", help="format of TIMESTAMP columns")
    parser.add_argument("--multiline", type=job_args.parse_bool, help="quoted fields may hold line breaks")
    return parser


def _csv_overrides(namespace) -> Dict[str, object]:
    names = ("header", "delimiter", "quote", "escape", "encoding", "date_format", "timestamp_format", "multiline")
    return {name: getattr(namespace, name) for name in names if getattr(namespace, name) is not None}


def _resolve_dataset(namespace) -> Dataset:
    chosen = [name for name in ("dataset", "schema", "schema_file") if getattr(namespace, name)]
    if len(chosen) != 1:
        raise UsageError(f"{JOB}: give exactly one of --dataset, --schema, --schema_file (got {len(chosen)})")
    if namespace.dataset:
        dataset = builtin_dataset(namespace.dataset)
    else:
        ddl = namespace.schema
        if namespace.schema_file:
            if not os.path.isfile(namespace.schema_file):
                raise UsageError(f"schema file does not exist: {namespace.schema_file}")
            with open(namespace.schema_file, encoding="utf-8") as handle:
                ddl = handle.read()
        name = namespace.dataset_name or os.path.basename(namespace.output_path.rstrip("/")) or "dataset"
        dataset = custom_dataset(name, parse_ddl(ddl), namespace.primary_key)
    overrides = _csv_overrides(namespace)
    if overrides:
        dataset = dataclasses.replace(dataset, csv=dataclasses.replace(dataset.csv, **overrides))
    for option in ("delimiter", "quote", "escape"):
        if len(getattr(dataset.csv, option)) != 1:
            raise UsageError(f"--{option} must be one character, got {getattr(dataset.csv, option)!r}")
    return dataset


def parse_args(argv: Sequence[str]) -> CsvToParquetArgs:
    """Build the typed configuration from ``argv``; raises ``UsageError`` on any problem."""
    namespace = job_args.parse_job_args(build_parser(), argv)
    if namespace.output_format == "delta":
        raise UsageError("--format delta is not available yet: use --format parquet")
    dataset = _resolve_dataset(namespace)
    partition_by = tuple(namespace.partition_by) if namespace.partition_by is not None else dataset.partition_by
    known = {field.name for field in dataset.schema.fields} | set(dataset.derived_columns)
    unknown = [column for column in partition_by if column not in known]
    if unknown:
        raise UsageError(f"--partition_by names columns that {dataset.name} does not have: {', '.join(unknown)}")
    output_path = fs.qualify(namespace.output_path)
    input_path = fs.qualify(namespace.input_path)
    if input_path.rstrip("/") == output_path.rstrip("/"):
        raise UsageError("--output_path must differ from --input_path")
    return CsvToParquetArgs(
        input_path=input_path,
        output_path=output_path,
        dataset=dataset,
        quarantine_path=fs.qualify(namespace.quarantine_path or output_path.rstrip("/") + "_quarantine"),
        partition_by=partition_by,
        compression=namespace.compression,
        output_format=namespace.output_format,
        max_bad_fraction=namespace.max_bad_fraction,
        report_path=fs.qualify(namespace.report_path) if namespace.report_path else None,
    )


def preflight(args: CsvToParquetArgs) -> None:
    """Fail fast, before Spark starts, when a local input path is missing."""
    if fs.is_local(args.input_path) and not os.path.exists(fs.local_path(args.input_path)):
        raise UsageError(f"input path does not exist: {args.input_path}")


def count_by_reason(validated_df: "DataFrame") -> Dict[Optional[str], int]:
    """Rows per quarantine reason (``None`` for good rows): one small aggregate to the driver."""
    return {row[REASON]: int(row["count"]) for row in validated_df.groupBy(REASON).count().collect()}


def _gate_message(args: CsvToParquetArgs, bad: int, total: int, reasons: Dict[str, int]) -> str:
    top = ", ".join(f"{reason}={count}" for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
    return (
        f"{args.dataset.name}: {bad} of {total} rows ({bad / total:.2%}) are bad, above "
        f"--max_bad_fraction {args.max_bad_fraction}; nothing was published (reasons: {top}; "
        f"rows kept in {args.quarantine_path}/_rejected)"
    )


def run(spark: "SparkSession", args: CsvToParquetArgs) -> JobResult:
    """Convert ``args.input_path`` to a typed table; see the module docstring."""
    result = JobResult(job=JOB, run_id=new_run_id(), inputs={args.dataset.name: args.input_path})
    if not fs.exists(spark, args.input_path):
        raise UsageError(f"input path does not exist: {args.input_path}")
    with result.stage("read_and_validate"):
        validated_df = (
            read_raw_csv(spark, args.input_path, args.dataset)
            .transform(with_typed_columns(args.dataset))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        counts = count_by_reason(validated_df)
    result.rows_read = sum(counts.values())
    result.quarantine_reasons = {reason: count for reason, count in counts.items() if reason is not None}
    result.rows_quarantined = sum(result.quarantine_reasons.values())
    quarantine_df = validated_df.transform(filter_quarantined(args.dataset.name, result.run_id))
    try:
        if result.rows_read and result.rows_quarantined / result.rows_read > args.max_bad_fraction:
            rejected_path = f"{args.quarantine_path}/_rejected/run_id={result.run_id}"
            write_table(quarantine_df, rejected_path, "rejected", fmt="json", compression="none")
            message = _gate_message(args, result.rows_quarantined, result.rows_read, result.quarantine_reasons)
            raise QualityGateError(message, result=result.finish("FAILED", message))
        with result.stage("write"):
            valid_df = validated_df.transform(filter_valid(args.dataset)).transform(
                with_derived_columns(args.dataset.derived_columns)
            )
            output = write_table(
                valid_df, args.output_path, args.dataset.name, args.output_format, args.partition_by, args.compression
            )
            quarantine = write_table(quarantine_df, args.quarantine_path, "quarantine", fmt="json", compression="none")
    finally:
        validated_df.unpersist()
    result.outputs = [output, quarantine]
    result.rows_written = output.rows
    result.finish("SUCCEEDED")
    save_run_report(spark, args.report_path, result)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for every runtime; returns the exit code."""
    return runtime.run_main(JOB, argv, parse_args, run, preflight)
