"""taxi_trips: NYC green-taxi trip CSV -> typed Parquet partitioned by pickup date.

Adds ``trip_duration_s``, ``trip_duration_min`` and ``avg_speed_mph``. Columns are found by
their header names, so TLC files with or without ``congestion_surcharge`` (2019 on) read
alike. Impossible trips go to the quarantine with a reason: unparsable fields, drop-off
before pick-up, zero duration, negative distance or amounts, trips longer than
``--max_duration_hours`` or faster than ``--max_speed_mph``.

Trips have no key, so every row keeps the file it came from (``source_file``): a load replaces
the trips of the files it reads again and keeps every other trip, also in the pick-up dates it
shares with other files (TLC monthly files hold pick-ups of the days around their month).

Examples
--------
::

    lakejobs run taxi_trips --input_path data/sample/rawData/taxi \\
        --output_path lake/processedData/taxi_trips
"""

import argparse
import dataclasses
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

from lakejobs import args as job_args
from lakejobs import runtime
from lakejobs.datasets import CsvOptions, Dataset
from lakejobs.fs import FileInfo
from lakejobs.io.csv_reader import SOURCE_FILE
from lakejobs.io.headered_csv import read_headered_csv
from lakejobs.jobs import fieldjob
from lakejobs.result import JobResult, new_run_id
from lakejobs.schemas_field import TAXI_OPTIONAL, TAXI_TRIPS, TAXI_TRIPS_READ
from lakejobs.transforms.field_checks import filter_good, with_failed_checks
from lakejobs.transforms.taxi import DEFAULT_TIME_ZONE, DERIVED, trip_checks, with_trip_metrics
from lakejobs.transforms.validation import with_typed_columns

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

JOB = "taxi_trips"
DESCRIPTION = "NYC green-taxi CSV -> Parquet by pickup_date, with duration and speed; impossible trips quarantined"
PARTITION_BY = ("pickup_date",)
#: Nearly every trip has its own times, duration in minutes and speed. Written with a
#: dictionary, each of a day's files keeps growing one for them (a day's trips never fill its
#: 1 MB page), and a task writing many days at once thrashes the CPU's cache: 3M trips over 31
#: days wrote in 16.2 s with them, 9.1 s without (bench/HISTORY.md, "Session 29").
PLAIN_COLUMNS = ("lpep_pickup_datetime", "lpep_dropoff_datetime", "trip_duration_min", "avg_speed_mph")
TABLE = fieldjob.TableLayout(JOB, PARTITION_BY, PLAIN_COLUMNS)


@dataclasses.dataclass(frozen=True)
class TaxiTripsArgs(fieldjob.FieldArgs):
    """The job's configuration, built once from its arguments."""

    timestamp_format: str = "yyyy-MM-dd HH:mm:ss"
    max_speed_mph: float = 100.0
    max_duration_hours: float = 24.0
    timezone: str = DEFAULT_TIME_ZONE

    @property
    def dataset(self) -> Dataset:
        """The trips as read: schema (money as text, typed by ``with_trip_metrics``) and CSV options."""
        return Dataset(
            name=JOB, schema=TAXI_TRIPS_READ, csv=CsvOptions(header=True, timestamp_format=self.timestamp_format)
        )


def _time_zone(text: str) -> str:
    """An IANA time zone name (``America/New_York``) or ``UTC``."""
    if not job_args.is_time_zone_name(text):
        raise argparse.ArgumentTypeError(f"expected a time zone like America/New_York, got {text!r}")
    return text


def build_parser():
    """The job's argument parser (Glue-style ``--name value`` options)."""
    parser = job_args.new_parser(JOB, DESCRIPTION)
    fieldjob.add_common_arguments(parser, "green-taxi CSV file or folder (headered, .csv or .csv.gz)")
    parser.add_argument(
        "--timestamp_format",
        type=job_args.parse_local_datetime_pattern,
        default="yyyy-MM-dd HH:mm:ss",
        help="pick-up/drop-off format",
    )
    parser.add_argument(
        "--max_speed_mph", type=job_args.parse_positive_number, default=100.0, help="faster trips are quarantined"
    )
    parser.add_argument(
        "--max_duration_hours", type=job_args.parse_positive_number, default=24.0, help="longer trips are quarantined"
    )
    parser.add_argument(
        "--timezone",
        type=_time_zone,
        default=DEFAULT_TIME_ZONE,
        help=f"time zone of the pick-up/drop-off wall-clock times, for durations (default {DEFAULT_TIME_ZONE})",
    )
    return parser


def parse_args(argv: Sequence[str]) -> TaxiTripsArgs:
    """Build the typed configuration from ``argv``; raises ``UsageError`` on any problem."""
    namespace = job_args.parse_job_args(build_parser(), argv)
    return TaxiTripsArgs(
        **fieldjob.common_values(namespace),
        timestamp_format=namespace.timestamp_format,
        max_speed_mph=namespace.max_speed_mph,
        max_duration_hours=namespace.max_duration_hours,
        timezone=namespace.timezone,
    )


def read_raw(
    spark: "SparkSession", args: TaxiTripsArgs, files: Sequence[FileInfo]
) -> Tuple["DataFrame", Dict[str, object]]:
    """The trips of ``files`` as text, and the headers found (``read_headered_csv``)."""
    return read_headered_csv(spark, args.input_path, args.dataset, optional=TAXI_OPTIONAL, files=files)


def checked_rows(args: TaxiTripsArgs) -> Callable[["DataFrame"], "DataFrame"]:
    """Typed trips with their metrics, each impossible one with its reason."""

    def _(raw_df: "DataFrame") -> "DataFrame":
        return (
            raw_df.transform(with_typed_columns(args.dataset))
            .transform(with_trip_metrics(args.timezone))
            .transform(with_failed_checks(trip_checks(args.max_speed_mph, args.max_duration_hours)))
        )

    return _


def good_trips() -> Callable[["DataFrame"], "DataFrame"]:
    """The table's rows: the good trips, with the file each was read from as ``source_file``."""
    columns = [field.name for field in TAXI_TRIPS.fields] + list(DERIVED) + [SOURCE_FILE]

    def _(checked_df: "DataFrame") -> "DataFrame":
        return checked_df.transform(filter_good(columns)).withColumnRenamed(SOURCE_FILE, fieldjob.LINEAGE)

    return _


def run(spark: "SparkSession", args: TaxiTripsArgs) -> JobResult:
    """Convert the trips; see the module docstring."""
    result = JobResult(job=JOB, run_id=new_run_id(), inputs={JOB: args.input_path})

    def body(files: List[FileInfo]) -> None:
        raw_df, result.details = read_raw(spark, args, files)
        checked_df = raw_df.transform(checked_rows(args))
        merge = fieldjob.Merge(lineage=True)
        fieldjob.publish_split(args, result, checked_df, good_trips(), TABLE, merge, listed=files)

    return fieldjob.run_locked(spark, args, result, body, PARTITION_BY)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for every runtime; returns the exit code."""
    return runtime.run_main(JOB, argv, parse_args, run, fieldjob.preflight)
