"""fx_rates: nested FX JSON documents -> rows (base, quote, date, open, high, low, close).

Input documents look like a currency API's answer, one JSON object per file (pretty-printed
over many lines or not), or one per line with ``--json_lines true``::

    {"USD": {"GBP": {"2010-01-01": {"open": 0.62, "high": 0.63, "low": 0.61, "close": 0.62}}}}

They are parsed with a ``MapType`` schema and flattened with three ``explode`` calls, so the
currency and date keys never travel to the driver. Output is partitioned by base and quote.
Unparsable documents, bad codes, dates and prices, ``high < low``, open or close outside
[low, high], and repeats of a (base, quote, date) go to the quarantine with a reason.
A load keeps the rates of earlier loads; a rate it holds again replaces the earlier one (the
newer load wins for a base, quote and date), so a rerun adds nothing.

Examples
--------
::

    lakejobs run fx_rates --input_path data/sample/rawData/fx --output_path lake/processedData/fx_rates
"""

import dataclasses
from typing import TYPE_CHECKING, Optional, Sequence

from lakejobs import args as job_args
from lakejobs import runtime
from lakejobs.datasets import Dataset
from lakejobs.io.json_reader import read_json_text
from lakejobs.jobs import fieldjob
from lakejobs.result import JobResult, new_run_id
from lakejobs.schemas_field import FX_RATES
from lakejobs.transforms.field_checks import filter_good, with_failed_checks
from lakejobs.transforms.fx import flatten_fx_documents, rate_checks
from lakejobs.transforms.validation import with_row_id

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

JOB = "fx_rates"
DESCRIPTION = "nested FX JSON (base -> quote -> date -> OHLC) -> Parquet rows by base/quote; bad rates quarantined"
PARTITION_BY = ("base", "quote")
TABLE = fieldjob.TableLayout(JOB, PARTITION_BY)
DATASET = Dataset(name=JOB, schema=FX_RATES, primary_key=("base", "quote", "date"))


@dataclasses.dataclass(frozen=True)
class FxRatesArgs(fieldjob.FieldArgs):
    """The job's configuration, built once from its arguments."""

    json_lines: bool = False
    date_format: str = "yyyy-MM-dd"


def build_parser():
    """The job's argument parser (Glue-style ``--name value`` options)."""
    parser = job_args.new_parser(JOB, DESCRIPTION)
    fieldjob.add_common_arguments(parser, "JSON file or folder: one document per file (or per line)")
    parser.add_argument(
        "--json_lines", type=job_args.parse_bool, default=False, help="one document per line (default: per file)"
    )
    parser.add_argument(
        "--date_format",
        type=job_args.parse_local_datetime_pattern,
        default="yyyy-MM-dd",
        help="format of the date keys",
    )
    return parser


def parse_args(argv: Sequence[str]) -> FxRatesArgs:
    """Build the typed configuration from ``argv``; raises ``UsageError`` on any problem."""
    namespace = job_args.parse_job_args(build_parser(), argv)
    return FxRatesArgs(
        **fieldjob.common_values(namespace), json_lines=namespace.json_lines, date_format=namespace.date_format
    )


def run(spark: "SparkSession", args: FxRatesArgs) -> JobResult:
    """Flatten the rates; see the module docstring."""
    result = JobResult(job=JOB, run_id=new_run_id(), inputs={JOB: args.input_path})

    def body(files) -> None:
        checked_df = (
            read_json_text(spark, args.input_path, whole_files=not args.json_lines)
            .transform(flatten_fx_documents(args.date_format))
            .transform(with_failed_checks(rate_checks(args.date_format)))
            .transform(with_row_id())
        )
        good_rows = filter_good([field.name for field in FX_RATES.fields])
        merge = fieldjob.Merge(keys=DATASET.primary_key)
        fieldjob.publish_split(args, result, checked_df, good_rows, TABLE, merge, DATASET, listed=files)

    return fieldjob.run_locked(spark, args, result, body, PARTITION_BY)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for every runtime; returns the exit code."""
    return runtime.run_main(JOB, argv, parse_args, run, fieldjob.preflight)
