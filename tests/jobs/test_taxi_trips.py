"""taxi_trips on hand-written trips and on the sample, with exact rows, metrics and reasons."""

import csv
import datetime as dt
import json
import math
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakejobs.errors import QualityGateError, UsageError
from lakejobs.generate_field import TAXI_COLUMNS
from lakejobs.jobs import taxi_trips
from lakejobs.schemas_field import TAXI_TRIPS
from tests.conftest import SAMPLE_RAW
from tests.parquet_layout import columns_without_dictionary

GOOD = [
    "2,2019-01-01 00:18:40,2019-01-01 00:40:00,N,1,264,264,5,4.00,15.5,0.5,0.5,3,0,,0.3,19.8,1,1",
    "1,2019-01-02 10:00:00,2019-01-02 10:30:00,N,1,97,49,1,10.50,32,0,0.5,0,5.76,,0.3,38.56,2,1",
    "2,2019-01-02 23:59:00,2019-01-03 00:09:00,Y,5,7,7,2,1.25,8,0.5,0.5,0,0,1.00,0.3,10.3,1,2",
]
BAD = {
    "2,2019-01-01 10:00:00,2019-01-01 09:50:00,N,1,1,2,1,1.0,5,0,0.5,0,0,,0.3,5.8,2,1": "dropoff_before_pickup",
    "2,2019-01-01 11:00:00,2019-01-01 11:00:00,N,1,1,2,1,0.0,2.5,0,0.5,0,0,,0.3,3.3,2,1": "zero_duration",
    "2,2019-01-01 12:00:00,2019-01-01 12:05:00,N,1,1,2,1,0.8,-3.5,0,-0.5,0,0,,-0.3,-4.3,3,1": (
        "negative_amount:fare_amount"
    ),
    "1,2019-01-01 13:00:00,2019-01-01 13:10:00,N,1,1,2,1,50.00,60,0,0.5,0,0,,0.3,60.8,1,1": "absurd_speed",
    "1,2019-01-01 14:00:00,2019-01-02 20:00:00,N,1,1,2,1,3.00,12,0,0.5,0,0,,0.3,12.8,1,1": "absurd_duration",
    "1,2019-13-01 00:00:00,2019-01-01 00:10:00,N,1,1,2,1,1.00,6,0,0.5,0,0,,0.3,6.8,1,1": (
        "invalid_timestamp:lpep_pickup_datetime"
    ),
    "1,2019-01-01 15:00:00,2019-01-01 15:10:00,N,1": "malformed_record",
}
DETAILS = {
    "dropoff_before_pickup": "lpep_pickup_datetime=2019-01-01 10:00:00, lpep_dropoff_datetime=2019-01-01 09:50:00",
    "negative_amount:fare_amount": "fare_amount=-3.50",
    "absurd_speed": "trip_distance=50.0, trip_duration_s=600, avg_speed_mph=300.0 is above 100 mph",
    "absurd_duration": "trip_duration_s=108000 is above 24 hours",
    "zero_duration": "lpep_pickup_datetime=2019-01-01 11:00:00, lpep_dropoff_datetime=2019-01-01 11:00:00",
    "invalid_timestamp:lpep_pickup_datetime": (
        "lpep_pickup_datetime='2019-13-01 00:00:00' is not a timestamp in format yyyy-MM-dd HH:mm:ss"
    ),
    "malformed_record": "expected 19 fields separated by ','",  # the file's header has 19 (was: 20, the table's)
}
TIME_COLUMNS = ("lpep_pickup_datetime", "lpep_dropoff_datetime")
DERIVED_SCHEMA = "pickup_date date, trip_duration_s bigint, trip_duration_min double, avg_speed_mph double"


def run_job(spark, argv):
    return taxi_trips.run(spark, taxi_trips.parse_args(argv))


def expected_trip(line):
    """A trip typed and measured in plain Python, independently of the job."""
    values = next(csv.reader([line]))
    out = []
    for field, text in zip(TAXI_TRIPS.fields, values):
        kind = field.dataType.simpleString()
        if text == "":
            out.append(None)
        elif kind == "int":
            out.append(int(text))
        elif kind == "double":
            out.append(float(text))
        elif kind.startswith("decimal"):
            out.append(Decimal(text).quantize(Decimal("0.01")))
        else:
            out.append(text)  # strings, and timestamps typed by Spark below
    pickup, dropoff = (dt.datetime.strptime(values[i], "%Y-%m-%d %H:%M:%S") for i in (1, 2))
    seconds = int((dropoff - pickup).total_seconds())
    distance = float(values[8])
    out += [None] * (len(TAXI_TRIPS.fields) - len(out))  # a 19-column file has no congestion_surcharge
    return (*out, pickup.date(), seconds, seconds / 60.0, distance / (seconds / 3600.0))


def trip_fields_of_line(line):
    """The input columns of a CSV trip line: text, numbers as exact decimals, None where empty."""
    values = next(csv.reader([line])) + [""]  # a 19-field line has no congestion_surcharge
    numeric = {f.name for f in TAXI_TRIPS.fields if f.dataType.simpleString() != "string"} - set(TIME_COLUMNS)
    return {
        name: None if text == "" else Decimal(text) if name in numeric else text
        for name, text in zip(TAXI_COLUMNS, values)
    }


def trip_fields_of_json(document):
    """The input columns of a quarantined trip kept as its typed row in JSON (times in UTC)."""
    row = json.loads(document, parse_float=Decimal)
    for name in TIME_COLUMNS:
        row[name] = dt.datetime.strptime(row[name], "%Y-%m-%dT%H:%M:%S.000Z").strftime("%Y-%m-%d %H:%M:%S")
    return {name: row[name] for name in TAXI_COLUMNS}


def plausible_trip(line):
    """The job's trip checks, in plain Python: fields, times, a finite distance, amounts, speed, duration."""
    values = next(csv.reader([line]))
    try:
        pickup, dropoff = (dt.datetime.strptime(values[i], "%Y-%m-%d %H:%M:%S") for i in (1, 2))
        distance = float(values[8])
    except (ValueError, IndexError):
        return False
    seconds = (dropoff - pickup).total_seconds()
    amounts = [float(text) for text in values[9:17] if text]
    return (
        len(values) in (19, 20)
        and math.isfinite(distance)
        and distance >= 0
        and 0 < seconds <= 24 * 3600
        and min(amounts) >= 0
        and distance / (seconds / 3600) <= 100
    )


def expected_trips(spark, lines):
    """The trips of ``lines`` as the table holds them (``expected_trip``), timestamps typed by Spark."""
    typed_schema = ", ".join(
        f"{f.name} {'string' if f.name.endswith('datetime') else f.dataType.simpleString()}" for f in TAXI_TRIPS
    )
    expected = spark.createDataFrame([expected_trip(line) for line in lines], f"{typed_schema}, {DERIVED_SCHEMA}")
    return expected.withColumns({c: F.to_timestamp(c) for c in ("lpep_pickup_datetime", "lpep_dropoff_datetime")})


def test_trips_are_typed_measured_and_impossible_ones_quarantined_with_reasons(spark, tmp_path):
    source = tmp_path / "raw" / "green_tripdata_2019-01.csv"
    source.parent.mkdir()
    source.write_text("\n".join([",".join(TAXI_COLUMNS), *GOOD, *BAD]) + "\n")
    out = tmp_path / "out"
    result = run_job(
        spark,
        ["--input_path", str(source.parent), "--output_path", str(out / "trips"), "--max_bad_fraction", "0.9"],
    )

    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (10, 3, 7)
    assert result.quarantine_reasons == {reason: 1 for reason in BAD.values()}
    expected = expected_trips(spark, GOOD)
    actual = spark.read.parquet(str(out / "trips")).select(*expected.columns)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)

    quarantine = spark.read.json(str(out / "trips_quarantine")).collect()
    assert sorted(row.reason for row in quarantine) == sorted(BAD.values())
    assert {row.reason: row.detail for row in quarantine} == DETAILS
    # A line Spark could not type is kept as text (a 19-field line as the 20 fields read); a trip
    # typed but impossible as its typed row in JSON, whose input fields must be the line's.
    kept = {row.reason: row.raw_line for row in quarantine}
    by_reason = {reason: line for line, reason in BAD.items()}
    text_reasons = ("malformed_record", "invalid_timestamp:lpep_pickup_datetime")
    assert kept["malformed_record"] == by_reason["malformed_record"]
    assert kept[text_reasons[1]] == by_reason[text_reasons[1]] + ","
    typed = {reason: trip_fields_of_json(line) for reason, line in kept.items() if reason not in text_reasons}
    assert typed == {reason: trip_fields_of_line(by_reason[reason]) for reason in typed}
    partitions = sorted(p.name for p in (out / "trips").iterdir() if p.is_dir())
    assert partitions == ["pickup_date=2019-01-01", "pickup_date=2019-01-02"]
    assert all(len(list((out / "trips" / p).glob("*.parquet"))) == 1 for p in partitions)


def test_times_and_speeds_are_written_without_a_dictionary_also_when_a_reload_rewrites_the_day(spark, tmp_path):
    # One trip repeated: every column would keep a dictionary (one value), so only the job's
    # plain columns (spelled out: emptying the constant must fail here) and the columns without
    # any value have none.
    source = tmp_path / "raw" / "green_tripdata_2019-01.csv"
    source.parent.mkdir()
    source.write_text("\n".join([",".join(TAXI_COLUMNS), *[GOOD[0]] * 40]) + "\n")
    plain = {"lpep_pickup_datetime", "lpep_dropoff_datetime", "trip_duration_min", "avg_speed_mph"}
    out = tmp_path / "trips"
    for load in ("first load", "reload: the day rewritten through staging"):
        result = run_job(spark, ["--input_path", str(source.parent), "--output_path", str(out)])
        assert (load, result.rows_written) == (load, 40)
        assert (load, columns_without_dictionary(out)) == (load, plain | {"ehail_fee", "congestion_surcharge"})


def test_the_sample_mixes_both_tlc_layouts_and_accounts_for_every_line(spark, tmp_path):
    result = run_job(spark, ["--input_path", str(SAMPLE_RAW / "taxi"), "--output_path", str(tmp_path / "trips")])
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (310, 300, 10)
    assert result.quarantine_reasons == {
        "dropoff_before_pickup": 2,
        "zero_duration": 2,
        "negative_amount:fare_amount": 2,
        "absurd_speed": 1,
        "invalid_timestamp:lpep_pickup_datetime": 1,
        "invalid_double:trip_distance": 1,
        "malformed_record": 1,
    }
    assert result.details == {"headers": 2, "ignored_columns": []}
    trips = spark.read.parquet(str(tmp_path / "trips"))
    surcharges = trips.groupBy(F.col("congestion_surcharge").isNull().alias("absent")).count()
    assert sorted(tuple(row) for row in surcharges.collect()) == [(False, 120), (True, 180)]
    # Every line Python finds good is in the table with the values Python reads from it.
    lines = [line for path in sorted((SAMPLE_RAW / "taxi").glob("*.csv")) for line in path.read_text().splitlines()[1:]]
    good = [line for line in lines if plausible_trip(line)]
    assert (len(lines), len(good)) == (310, 300)
    expected = expected_trips(spark, good)
    assert_df_equality(trips.select(*expected.columns), expected, ignore_row_order=True, ignore_nullable=True)


def test_a_malformed_lines_detail_counts_the_fields_of_its_own_files_header(spark, tmp_path):
    """Until session 47 every malformed line was said to expect the table's 20 fields."""
    raw = tmp_path / "raw"
    raw.mkdir()
    short = "1,2019-01-01 15:00:00,2019-01-01 15:10:00,N,1"
    (raw / "green_2019.csv").write_text("\n".join([",".join(TAXI_COLUMNS), GOOD[0], short]) + "\n")
    (raw / "green_2020.csv").write_text(
        "\n".join([",".join(TAXI_COLUMNS + ["congestion_surcharge"]), GOOD[0] + ",2.75", short]) + "\n"
    )
    run_job(spark, ["--input_path", str(raw), "--output_path", str(tmp_path / "trips"), "--max_bad_fraction", "0.9"])
    quarantine = spark.read.json(str(tmp_path / "trips_quarantine"))
    details = sorted((row.source_file.rsplit("/", 1)[-1], row.detail) for row in quarantine.collect())
    assert details == [
        ("green_2019.csv", "expected 19 fields separated by ','"),
        ("green_2020.csv", "expected 20 fields separated by ','"),
    ]


def test_file_names_with_glob_characters_are_read_as_named(spark, tmp_path):
    """Each listed file is read by its name, not as a glob (``trips[1].csv`` would read ``trips1.csv``)."""
    header = ",".join(TAXI_COLUMNS)
    for name, line in zip(["trips1.csv", "trips[1].csv", "trips{2}*?.csv"], GOOD):
        (tmp_path / "raw").mkdir(exist_ok=True)
        (tmp_path / "raw" / name).write_text(f"{header}\n{line}\n")
    result = run_job(spark, ["--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "trips")])
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (3, 3, 0)
    expected = expected_trips(spark, GOOD)
    trips = spark.read.parquet(str(tmp_path / "trips")).select(*expected.columns)
    assert_df_equality(trips, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_file_without_a_required_column_is_a_usage_error(spark, tmp_path):
    source = tmp_path / "trips.csv"
    source.write_text("VendorID,lpep_pickup_datetime,trip_distance\n1,2019-01-01 00:00:00,1.0\n")
    with pytest.raises(UsageError, match=r"trips.csv: the header has no column for lpep_dropoff_datetime, "):
        run_job(spark, ["--input_path", str(source), "--output_path", str(tmp_path / "out")])


def test_two_header_columns_matching_one_column_are_a_usage_error(spark, tmp_path):
    """``Fare Amount`` before ``fare_amount``: using either would silently drop the other's values."""
    sample = (SAMPLE_RAW / "taxi" / "green_tripdata_2019-01a.csv").read_text().splitlines()
    lines = [f"Fare Amount,{sample[0]}"] + [f"99.99,{line}" for line in sample[1:3]]
    source = tmp_path / "trips.csv"
    source.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError) as raised:
        run_job(spark, ["--input_path", str(source), "--output_path", str(tmp_path / "out")])
    assert str(raised.value).endswith(
        "trips.csv: the header has two columns for fare_amount: 'Fare Amount' and 'fare_amount'; keep one of them"
    )
    assert not (tmp_path / "out").exists()


def table_and_quarantine_files(out):
    return sorted(
        str(p.relative_to(out)) for folder in ("trips", "trips_quarantine") for p in (out / folder).rglob("*")
    )


def test_too_many_bad_trips_fail_the_gate_keep_them_aside_and_leave_the_table_as_it_was(spark, tmp_path):
    source = tmp_path / "raw" / "green_tripdata_2019-01.csv"
    source.parent.mkdir()
    source.write_text("\n".join([",".join(TAXI_COLUMNS), *GOOD]) + "\n")
    out, argv = tmp_path / "out", ["--input_path", str(source.parent), "--output_path", str(tmp_path / "out" / "trips")]
    run_job(spark, argv)
    before = table_and_quarantine_files(out)
    source.write_text("\n".join([",".join(TAXI_COLUMNS), *GOOD, *BAD]) + "\n")  # 7 of 10 bad

    with pytest.raises(QualityGateError) as failed:
        run_job(spark, [*argv, "--max_bad_fraction", "0.5"])
    assert str(failed.value) == (
        "taxi_trips: 7 of 10 records (70.00%) are bad, above --max_bad_fraction 0.5; nothing was published "
        "(reasons: absurd_duration=1, absurd_speed=1, dropoff_before_pickup=1 and 4 more reasons (4 rows); "
        "records kept in "
        f"{out / 'trips_quarantine'}_rejected)"
    )
    assert (failed.value.result.status, failed.value.result.rows_read) == ("FAILED", 10)
    rejected = spark.read.json(str(out / "trips_quarantine_rejected"))
    assert sorted(row.reason for row in rejected.collect()) == sorted(BAD.values())
    assert table_and_quarantine_files(out) == before
    # At exactly the limit a run passes: 7 bad of 10 is 0.7.
    assert run_job(spark, [*argv, "--max_bad_fraction", "0.7"]).rows_quarantined == 7


def test_a_negative_distance_and_lower_speed_and_duration_limits_quarantine_their_trips(spark, tmp_path):
    negative = "2,2019-01-01 09:00:00,2019-01-01 09:10:00,N,1,1,2,1,-1.5,6,0,0.5,0,0,,0.3,6.8,1,1"
    source = tmp_path / "raw" / "green_tripdata_2019-01.csv"
    source.parent.mkdir()
    source.write_text("\n".join([",".join(TAXI_COLUMNS), *GOOD, negative]) + "\n")
    argv = ["--input_path", str(source.parent), "--output_path", str(tmp_path / "trips"), "--max_bad_fraction", "1"]
    # GOOD's trips: 4.00 mi in 21m20s (11.25 mph), 10.50 mi in 30 min (21 mph), 1.25 mi in 10 min (7.5 mph).
    result = run_job(spark, [*argv, "--max_speed_mph", "10", "--max_duration_hours", "0.4"])
    assert result.quarantine_reasons == {"negative_distance": 1, "absurd_speed": 1, "absurd_duration": 1}
    quarantine = spark.read.json(str(tmp_path / "trips_quarantine")).select("reason", "detail")
    assert sorted(tuple(row) for row in quarantine.collect()) == [
        ("absurd_duration", "trip_duration_s=1800 is above 0.4 hours"),
        ("absurd_speed", "trip_distance=4.0, trip_duration_s=1280, avg_speed_mph=11.25 is above 10 mph"),
        ("negative_distance", "trip_distance=-1.5"),
    ]
    expected = expected_trips(spark, [GOOD[2]])
    actual = spark.read.parquet(str(tmp_path / "trips")).select(*expected.columns)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_duration_with_fractions_of_a_second_is_measured_between_the_exact_times(spark, tmp_path):
    """Each end was rounded down to its second first: a drop-off 0.4 s before its pick-up was a
    zero-length trip, and 9.2 s counted as 10."""
    rest = "N,1,1,2,1,0.01,3,0,0.5,0,0,,0.3,3.8,2,1"
    lines = [
        f"2,2019-01-01 10:00:00.900,2019-01-01 10:00:00.500,{rest}",  # 0.4 s back
        f"2,2019-01-01 11:00:00.900,2019-01-01 11:00:10.100,{rest}",  # 9.2 s
    ]
    source = tmp_path / "raw" / "green_tripdata_2019-01.csv"
    source.parent.mkdir()
    source.write_text("\n".join([",".join(TAXI_COLUMNS), *lines]) + "\n")
    argv = ["--input_path", str(source.parent), "--output_path", str(tmp_path / "trips"), "--max_bad_fraction", "1"]
    result = run_job(spark, [*argv, "--timestamp_format", "yyyy-MM-dd HH:mm:ss.SSS"])
    assert (result.rows_written, result.quarantine_reasons) == (1, {"dropoff_before_pickup": 1})
    [trip] = spark.read.parquet(str(tmp_path / "trips")).select("trip_duration_s").collect()
    assert trip.trip_duration_s == 9


def test_a_table_of_other_column_types_is_refused_before_anything_is_written(spark, tmp_path):
    """Until session 46 the run failed in its write with Spark's SchemaColumnConvertNotSupportedException, exit 1,
    after it had replaced the files' quarantine."""
    source = tmp_path / "raw" / "green_tripdata_2019-01.csv"
    source.parent.mkdir()
    source.write_text("\n".join([",".join(TAXI_COLUMNS), *GOOD, *list(BAD)[:1]]) + "\n")
    out = tmp_path / "out"
    argv = ["--input_path", str(source.parent), "--max_bad_fraction", "0.5", "--output_path"]
    run_job(spark, [*argv, str(out / "trips")])
    table = spark.read.parquet(str(out / "trips"))
    table.withColumn("fare_amount", F.col("fare_amount").cast("string")).write.partitionBy("pickup_date").parquet(
        str(out / "other")
    )
    before = tables_and_quarantines(out)
    with pytest.raises(UsageError) as refused:
        run_job(spark, [*argv, str(out / "other")])
    assert str(refused.value) == (
        f"--output_path {out / 'other'} holds a table with other columns than this run's: fare_amount is string there, "
        "decimal(10,2) here; writing into it would cast, drop or mix them: write to a new output, or "
        "delete the table and convert every input again"
    )
    assert tables_and_quarantines(out) == before  # the refused run's report aside


def tables_and_quarantines(out):
    return sorted(path for path in out.rglob("*") if "_lakejobs" not in path.relative_to(out).parts[0])
