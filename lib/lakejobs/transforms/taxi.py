"""Taxi trips: duration, average speed and the checks that find impossible trips."""

from typing import Callable, List

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakejobs.schemas_field import FARE, TAXI_AMOUNTS
from lakejobs.transforms.field_checks import Check, check, decimal_checks, values_text, with_failed_checks

Transform = Callable[[DataFrame], DataFrame]
PICKUP, DROPOFF = "lpep_pickup_datetime", "lpep_dropoff_datetime"
#: The TLC records local New York wall-clock times.
DEFAULT_TIME_ZONE = "America/New_York"
#: Columns the job adds to every trip.
DERIVED = ("pickup_date", "trip_duration_s", "trip_duration_min", "avg_speed_mph")


def instant(wall_clock: Column, time_zone: str, later: bool = False) -> Column:
    """The UTC instant of a wall-clock timestamp in ``time_zone``.

    A time in the hour repeated when clocks go back (01:30 on a November Sunday in New York)
    is read at the earlier offset (daylight time), or at the later one (standard time) when
    ``later``; a time in the hour skipped when clocks go forward is read as if clocks had not
    moved yet (02:30 is 03:30 daylight time), as ``java.time`` does. Outside those hours both
    readings are the same instant. Relies on the session time zone being UTC
    (``lakejobs.session``), so that a timestamp's wall-clock is the one read from the file.
    """
    if not later:
        return F.to_utc_timestamp(wall_clock, time_zone)
    hour = F.expr("INTERVAL 1 HOUR")
    return F.to_utc_timestamp(wall_clock + hour, time_zone) - hour


def with_typed_amounts() -> Transform:
    """Type the money columns, read as text (``TAXI_TRIPS_READ``), as ``decimal(10,2)``, exactly.

    A trip without a reason yet whose amount is not a number gets ``invalid_decimal:<column>``;
    one with more than 2 decimals ``too_many_decimals:<column>`` (a cast would round ``5.555``
    to ``5.56``). Its raw line is its values as JSON, the amounts as written.
    """

    def _(df: DataFrame) -> DataFrame:
        checks = [rule for column in TAXI_AMOUNTS for rule in decimal_checks(column, column, FARE)]
        typed = {column: F.expr(f"try_cast({column} AS {FARE.simpleString()})") for column in TAXI_AMOUNTS}
        return df.transform(with_failed_checks(checks)).withColumns(typed)

    return _


def with_trip_metrics(time_zone: str = DEFAULT_TIME_ZONE) -> Transform:
    """Add ``pickup_date``, ``trip_duration_s``, ``trip_duration_min`` and ``avg_speed_mph``.

    Pick-up and drop-off are wall-clock times in ``time_zone``, kept as they are (as is
    ``pickup_date``, the pick-up's local date); the duration is measured between the instants
    they stand for (``instant``), in whole seconds rounded down, so a trip across a daylight-saving change
    lasts what it lasted. An ambiguous pick-up is read at the earlier offset; an ambiguous
    drop-off too, unless that puts it before the pick-up, then at the later offset (01:50 ->
    01:05 on the night clocks go back is a 15-minute trip). The speed is
    ``trip_distance / (trip_duration_s / 3600)``, null when the duration is not positive.
    The money columns are typed first (``with_typed_amounts``).
    """

    def _(df: DataFrame) -> DataFrame:
        df = df.transform(with_typed_amounts())
        pickup = instant(F.col(PICKUP), time_zone)
        dropoff_early, dropoff_late = (instant(F.col(DROPOFF), time_zone, later) for later in (False, True))
        dropoff = F.when(dropoff_early < pickup, dropoff_late).otherwise(dropoff_early)
        # Whole seconds of the exact difference (each end rounded first made 0.4 s back a zero-length trip).
        seconds = F.floor((F.unix_micros(dropoff) - F.unix_micros(pickup)) / F.lit(1_000_000))
        return df.withColumn("trip_duration_s", seconds).withColumns(
            {
                "pickup_date": F.to_date(PICKUP),
                "trip_duration_min": F.col("trip_duration_s") / F.lit(60.0),
                "avg_speed_mph": F.when(
                    F.col("trip_duration_s") > 0, F.col("trip_distance") / (F.col("trip_duration_s") / F.lit(3600.0))
                ),
            }
        )

    return _


def trip_checks(max_speed_mph: float, max_duration_hours: float) -> List[Check]:
    """The checks of a typed trip with metrics, in priority order."""
    non_finite = F.col("trip_distance").isin(float("inf"), float("-inf")) | F.isnan("trip_distance")
    checks = [
        check(
            non_finite,
            "invalid_double:trip_distance",
            F.concat(values_text("trip_distance"), F.lit(" is not a number")),
        ),
        check(F.col("trip_duration_s") < 0, "dropoff_before_pickup", values_text(PICKUP, DROPOFF)),
        check(F.col("trip_duration_s") == 0, "zero_duration", values_text(PICKUP, DROPOFF)),
        check(F.col("trip_distance") < 0, "negative_distance", values_text("trip_distance")),
    ]
    checks += [check(F.col(column) < 0, f"negative_amount:{column}", values_text(column)) for column in TAXI_AMOUNTS]
    checks += [
        check(
            F.col("trip_duration_s") > F.lit(max_duration_hours * 3600),
            "absurd_duration",
            F.concat(values_text("trip_duration_s"), F.lit(f" is above {max_duration_hours:g} hours")),
        ),
        check(
            F.col("avg_speed_mph") > F.lit(max_speed_mph),
            "absurd_speed",
            F.concat(
                values_text("trip_distance", "trip_duration_s", "avg_speed_mph"),
                F.lit(f" is above {max_speed_mph:g} mph"),
            ),
        ),
    ]
    return checks
