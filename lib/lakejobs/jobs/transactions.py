"""transactions: JSON transaction events from the raw zone -> a deduplicated table by event date.

Each input line is one JSON object with ``transaction_id`` (the deduplication id),
``account_id``, ``amount``, ``currency``, ``event_time`` (all required), ``merchant`` and
``category``. Events are typed and checked, repeated ids inside the batch are quarantined
(the first line of an id is kept), and the rest is enriched (``amount_minor``,
``is_refund``, ``event_hour``, ``event_date``) and inserted only when the table does not
hold the id yet: a Delta MERGE with insert-only clause (``--format delta``) or an anti-join
and append (Parquet). Rerunning a batch adds nothing; an overlapping batch adds only the new
ids. ``rows_written`` counts the batch's good events (all present in the table after the
run); ``details`` says how many were inserted and how many were already loaded.

The quarantine keeps one folder per source file (``lakejobs.io.quarantine``), so a replay of a
file replaces its bad rows, re-uploaded or not, and other files' stay.

Examples
--------
::

    lakejobs run transactions --input_path data/sample/rawData/transactions \\
        --output_path lake/processedData/transactions
"""

import dataclasses
from typing import TYPE_CHECKING, List, Optional, Sequence

from pyspark.sql import types as T

from lakejobs import args as job_args
from lakejobs import fs, runtime
from lakejobs.datasets import Dataset
from lakejobs.fs import FileInfo
from lakejobs.io.delta import require_delta
from lakejobs.io.insert_new import insert_new_rows
from lakejobs.io.json_reader import read_json_text
from lakejobs.io.quarantine import write_quarantine
from lakejobs.jobs import fieldjob
from lakejobs.result import JobResult, new_run_id
from lakejobs.schemas_field import TRANSACTIONS
from lakejobs.transforms.field_checks import filter_good, with_failed_checks
from lakejobs.transforms.transactions import (
    BASE_COLUMNS,
    ENRICHED_COLUMNS,
    ID,
    parse_transactions,
    transaction_checks,
    with_enrichment,
)
from lakejobs.transforms.validation import filter_quarantined, with_row_id

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

JOB = "transactions"
DESCRIPTION = "JSON transaction events -> validated, deduplicated (by transaction_id) table by event_date"
PARTITION_BY = ("event_date",)
DATASET = Dataset(
    name=JOB,
    schema=T.StructType([field for field in TRANSACTIONS.fields if field.name in BASE_COLUMNS]),
    primary_key=(ID,),
)


@dataclasses.dataclass(frozen=True)
class TransactionsArgs(fieldjob.FieldArgs):
    """The job's configuration, built once from its arguments."""

    output_format: str = "parquet"


def build_parser():
    """The job's argument parser (Glue-style ``--name value`` options)."""
    parser = job_args.new_parser(JOB, DESCRIPTION)
    fieldjob.add_common_arguments(parser, "JSON-lines file or folder of one batch")
    parser.add_argument("--format", dest="output_format", choices=("parquet", "delta"), default="parquet")
    return parser


def parse_args(argv: Sequence[str]) -> TransactionsArgs:
    """Build the typed configuration from ``argv``; raises ``UsageError`` on any problem."""
    namespace = job_args.parse_job_args(build_parser(), argv)
    return TransactionsArgs(**fieldjob.common_values(namespace), output_format=namespace.output_format)


def checked_transactions(lines_df: "DataFrame") -> "DataFrame":
    """Parsed, checked events with a reason on every bad one, repeats of an id not yet flagged."""
    return (
        lines_df.transform(parse_transactions())
        .transform(with_failed_checks(transaction_checks()))
        .transform(with_row_id())
    )


def run(spark: "SparkSession", args: TransactionsArgs) -> JobResult:
    """Load one batch of events; see the module docstring."""
    result = JobResult(job=JOB, run_id=new_run_id(), inputs={JOB: args.input_path})
    if args.output_format == "delta":
        require_delta(spark)

    def body(files: List[FileInfo]) -> None:
        batch_id = fs.fingerprint(files)[:16]
        checked_df = checked_transactions(read_json_text(spark, args.input_path, whole_files=False))
        source_files = fieldjob.source_files_of(checked_df, files)
        with fieldjob.repeats_flagged_once(checked_df, DATASET, result) as validated_df:
            load_batch(args, result, validated_df, batch_id, source_files)

    return fieldjob.run_locked(spark, args, result, body, PARTITION_BY, args.output_format)


def load_batch(
    args: TransactionsArgs, result: JobResult, validated_df: "DataFrame", batch_id: str, source_files: Sequence[str]
) -> None:
    """Count, gate, insert the new events and write the batch's quarantine (one folder per source file)."""
    with result.stage("validate"):
        fieldjob.account(result, fieldjob.count_by_reason(validated_df))
    quarantine_df = validated_df.transform(filter_quarantined(JOB, result.run_id))
    fieldjob.gate(args, result, quarantine_df, JOB)
    good_df = validated_df.transform(filter_good(BASE_COLUMNS)).transform(with_enrichment()).select(*ENRICHED_COLUMNS)
    with result.stage("write"):
        output = insert_new_rows(
            good_df, args.output_path, JOB, args.output_format, (ID,), PARTITION_BY, args.compression
        )
        quarantine = write_quarantine(quarantine_df, args.quarantine_path, source_files, result.rows_quarantined)
    result.outputs = [output, quarantine]
    result.rows_written = result.rows_read - result.rows_quarantined
    result.details = {
        "batch": batch_id,
        "rows_inserted": output.rows,
        "rows_already_loaded": result.rows_written - output.rows,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for every runtime; returns the exit code."""
    return runtime.run_main(JOB, argv, parse_args, run, fieldjob.preflight)
