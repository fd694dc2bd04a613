"""stock_prices: daily OHLCV CSV -> Parquet partitioned by ticker, with return and moving average.

Files have a header row and are matched by column name. Two layouts are read, even mixed in
one folder (files are grouped by header):

- one file for many tickers, with a ``ticker`` column (also spelled ``symbol`` or ``Name``):
  ``ticker,date,open,high,low,close,adj_close,volume``;
- one file per ticker as Yahoo Finance or Stooq download them, the ticker taken from the
  file name: ``AAPL.csv`` holding ``Date,Open,High,Low,Close,Adj Close,Volume``
  (``adj_close`` and ``volume`` may be absent).

Adds ``daily_return`` (close over the previous close, minus 1) and ``close_ma_7d`` (mean close
of the last 7 trading rows) with window functions per ticker ordered by date. Bad rows
(unparsable values, non-positive prices, ``high < low``, open or close outside [low, high],
negative volume, a repeated ticker and date) go to the quarantine with a reason and are not
part of the series.

A load keeps the days of earlier loads: a ticker's series is its earlier rows merged with the
load's (a day loaded again takes the newer values), and both measures are computed again over
the whole merged series.

Examples
--------
::

    lakejobs run stock_prices --input_path data/sample/rawData/stocks --output_path lake/processedData/stocks
"""

import dataclasses
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

from lakejobs import args as job_args
from lakejobs import runtime
from lakejobs.datasets import CsvOptions, Dataset
from lakejobs.fs import FileInfo
from lakejobs.io.headered_csv import read_headered_csv
from lakejobs.jobs import fieldjob
from lakejobs.result import JobResult, new_run_id
from lakejobs.schemas_field import STOCK_ALIASES, STOCK_PRICES
from lakejobs.transforms.field_checks import Check, check, filter_good, with_failed_checks
from lakejobs.transforms.partition_values import folder_name_limit, partition_value_checks
from lakejobs.transforms.stocks import (
    price_checks,
    ticker_from_file_name,
    with_daily_metrics,
    with_normalized_ticker,
)
from lakejobs.transforms.validation import with_row_id, with_typed_columns

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

JOB = "stock_prices"
DESCRIPTION = "daily OHLCV CSV -> Parquet by ticker, with daily return and 7-day moving average"
PARTITION_BY = ("ticker",)
#: A ticker's dates, prices, volumes and metrics hardly repeat, so a dictionary only costs
#: time: 2M prices of 200 tickers wrote in 9.0 s without one against 10.9 s, in files of
#: the same size (bench/HISTORY.md, "Session 29").
PLAIN_COLUMNS = ("date", "open", "high", "low", "close", "adj_close", "volume", "daily_return", "close_ma_7d")
TABLE = fieldjob.TableLayout(JOB, PARTITION_BY, PLAIN_COLUMNS)
OPTIONAL = ("adj_close", "volume")


@dataclasses.dataclass(frozen=True)
class StockPricesArgs(fieldjob.FieldArgs):
    """The job's configuration, built once from its arguments."""

    date_format: str = "yyyy-MM-dd"

    @property
    def dataset(self) -> Dataset:
        """The prices as a dataset: schema, CSV options and key."""
        return Dataset(
            name=JOB,
            schema=STOCK_PRICES,
            csv=CsvOptions(header=True, date_format=self.date_format),
            primary_key=("ticker", "date"),
        )


def build_parser():
    """The job's argument parser (Glue-style ``--name value`` options)."""
    parser = job_args.new_parser(JOB, DESCRIPTION)
    fieldjob.add_common_arguments(parser, "headered OHLCV CSV file or folder")
    parser.add_argument(
        "--date_format",
        type=job_args.parse_local_datetime_pattern,
        default="yyyy-MM-dd",
        help="format of the date column",
    )
    return parser


def parse_args(argv: Sequence[str]) -> StockPricesArgs:
    """Build the typed configuration from ``argv``; raises ``UsageError`` on any problem."""
    namespace = job_args.parse_job_args(build_parser(), argv)
    return StockPricesArgs(**fieldjob.common_values(namespace), date_format=namespace.date_format)


def read_raw(
    spark: "SparkSession", args: StockPricesArgs, files: Sequence[FileInfo]
) -> Tuple["DataFrame", Dict[str, object]]:
    """The prices of ``files`` as text, and the headers found (``read_headered_csv``)."""
    return read_headered_csv(
        spark,
        args.input_path,
        args.dataset,
        optional=OPTIONAL,
        aliases=STOCK_ALIASES,
        fill_missing={"ticker": ticker_from_file_name()},
        files=files,
    )


def ticker_folder_checks(args: StockPricesArgs) -> List[Check]:
    """A ticker no partition folder can carry (``__HIVE_DEFAULT_PARTITION__``, a name too long): quarantined.

    Until session 45 the first read back as a null ticker (and its next load failed the write),
    the second failed the run with ``Mkdirs failed``.
    """
    limit = folder_name_limit(args.output_path)
    return [check(*found) for found in partition_value_checks(args.dataset, ["ticker"], limit)]


def checked_rows(args: StockPricesArgs) -> Callable[["DataFrame"], "DataFrame"]:
    """Typed prices, each bad one with its reason (repeats are flagged by ``fieldjob.publish_split``)."""

    def _(raw_df: "DataFrame") -> "DataFrame":
        return (
            raw_df.transform(with_typed_columns(args.dataset))
            .transform(with_normalized_ticker())
            .transform(with_failed_checks(price_checks() + ticker_folder_checks(args)))
            .transform(with_row_id())
        )

    return _


def run(spark: "SparkSession", args: StockPricesArgs) -> JobResult:
    """Convert the prices; see the module docstring."""
    result = JobResult(job=JOB, run_id=new_run_id(), inputs={JOB: args.input_path})

    def body(files: List[FileInfo]) -> None:
        raw_df, result.details = read_raw(spark, args, files)
        checked_df = raw_df.transform(checked_rows(args))
        good_rows = filter_good([field.name for field in STOCK_PRICES.fields])
        merge = fieldjob.Merge(keys=args.dataset.primary_key, finish=with_daily_metrics())
        fieldjob.publish_split(args, result, checked_df, good_rows, TABLE, merge, args.dataset, listed=files)

    return fieldjob.run_locked(spark, args, result, body, PARTITION_BY)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for every runtime; returns the exit code."""
    return runtime.run_main(JOB, argv, parse_args, run, fieldjob.preflight)
