"""Taxi trips: duration, average speed and the checks that find impossible trips."""

from typing import Callable, List

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakejobs.schemas_field import TAXI_AMOUNTS
from lakejobs.transforms.field_checks import Check, check, values_text

Transform = Callable[[DataFrame], DataFrame]
PICKUP, DROPOFF = "lpep_pickup_datetime", "lpep_dropoff_datetime"
#: Columns the job adds to every trip.
DERIVED = ("pickup_date", "trip_duration_s", "trip_duration_min", "avg_speed_mph")


def with_trip_metrics() -> Transform:
    """Add ``pickup_date``, ``trip_duration_s``, ``trip_duration_min`` and ``avg_speed_mph``.

    The duration is drop-off minus pick-up in whole seconds; the speed is
    ``trip_distance / (trip_duration_s / 3600)``, null when the duration is not positive.
    """

    def _(df: DataFrame) -> DataFrame:
        seconds = F.unix_timestamp(DROPOFF) - F.unix_timestamp(PICKUP)
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
    checks = [
        check(F.col(DROPOFF) < F.col(PICKUP), "dropoff_before_pickup", values_text(PICKUP, DROPOFF)),
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
