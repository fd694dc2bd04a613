"""Field jobs keep values exact: tickers, timestamps, decimals, BOMs and taxi times in New York."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakejobs.errors import UsageError
from lakejobs.generate_field import TAXI_COLUMNS
from lakejobs.io.text_files import read_text_file
from lakejobs.jobs import fx_rates, stock_prices, taxi_trips, transactions

BOM = b"\xef\xbb\xbf"


def run(spark, job, argv):
    return job.run(spark, job.parse_args([*argv, "--max_bad_fraction", "1"]))


def quarantine_rows(spark, path):
    return sorted((row.reason, row.detail) for row in spark.read.json(str(path)).collect())


def test_tickers_from_file_names_are_decoded_not_url_escaped(spark, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ["^GSPC.csv", "BRK B.csv", "BF%B.csv", "A+B.csv", "aapl.us.txt"]:
        (raw / name).write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10,12,9,11,11,100\n")
    result = run(spark, stock_prices, ["--input_path", str(raw), "--output_path", str(tmp_path / "out")])

    assert (result.rows_read, result.rows_written) == (5, 5)
    tickers = spark.read.parquet(str(tmp_path / "out")).select("ticker")
    expected = spark.createDataFrame([("^GSPC",), ("BRK B",), ("BF%B",), ("A+B",), ("AAPL.US",)], "ticker string")
    assert_df_equality(tickers, expected, ignore_row_order=True, ignore_nullable=True)


def event(tid, amount, time):
    return json.dumps(
        {"transaction_id": tid, "account_id": "a", "amount": amount, "currency": "EUR", "event_time": time}
    )


def test_transactions_need_a_whole_iso_date_time_and_keep_amounts_exact(spark, tmp_path):
    batch = tmp_path / "raw"
    batch.mkdir()
    lines = [
        event("year", "1.00", "2024"),
        event("month", "1.00", "2024-03"),
        event("short", "1.00", "2024-3-2"),
        event("no_seconds", "1.00", "2024-03-02T10:00Z"),
        event("year5", "1.00", "12024-03-02T10:00:00Z"),
        event("frac", "1.00", "2024-03-02T10:00:00.250+01:00"),
        event("space", "2.00", "2024-03-02 23:30:00"),
        '{"transaction_id":"big","account_id":"a","amount":1234567890123456.78,"currency":"EUR",'
        '"event_time":"2024-03-02T10:00:00Z"}',
        '{"transaction_id":"exp","account_id":"a","amount":12E2,"currency":"EUR","event_time":"2024-03-02T10:00:00Z"}',
        event("decimals", "1.00000000001", "2024-03-02T10:00:00Z"),
        '{"transaction_id":"small","account_id":"a","amount":1e-3,"currency":"EUR","event_time":"2024-03-02T10:00:00Z"}',
        '{"transaction_id":"zero","account_id":"a","amount":01,"currency":"EUR","event_time":"2024-03-02T10:00:00Z"}',
    ]
    (batch / "events.jsonl").write_bytes(BOM + ("\n".join(lines) + "\n").encode())
    out = tmp_path / "table"
    result = run(spark, transactions, ["--input_path", str(batch), "--output_path", str(out)])

    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (12, 4, 8)
    table = spark.read.parquet(str(out)).select("transaction_id", "amount", "event_time", "event_date")
    expected = spark.createDataFrame(
        [
            ("frac", Decimal("1.00"), "2024-03-02 09:00:00.25", dt.date(2024, 3, 2)),
            ("space", Decimal("2.00"), "2024-03-02 23:30:00", dt.date(2024, 3, 2)),
            ("big", Decimal("1234567890123456.78"), "2024-03-02 10:00:00", dt.date(2024, 3, 2)),
            ("exp", Decimal("1200.00"), "2024-03-02 10:00:00", dt.date(2024, 3, 2)),
        ],
        "transaction_id string, amount decimal(18,2), event_time string, event_date date",
    ).withColumn("event_time", F.to_timestamp("event_time"))
    assert_df_equality(table, expected, ignore_row_order=True, ignore_nullable=True)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["event_date=2024-03-02"]
    not_iso = " is not an ISO-8601 timestamp"
    assert quarantine_rows(spark, tmp_path / "table_quarantine") == sorted(
        [
            ("invalid_timestamp:event_time", "event_time_text=2024" + not_iso),
            ("invalid_timestamp:event_time", "event_time_text=2024-03" + not_iso),
            ("invalid_timestamp:event_time", "event_time_text=2024-3-2" + not_iso),
            ("invalid_timestamp:event_time", "event_time_text=2024-03-02T10:00Z" + not_iso),
            ("invalid_timestamp:event_time", "event_time_text=12024-03-02T10:00:00Z" + not_iso),
            ("too_many_decimals:amount", "amount_text=1.00000000001 has more than 2 decimals"),
            ("too_many_decimals:amount", "amount_text=1e-3 has more than 2 decimals"),
            ("malformed_record", "the line is not one JSON object"),
        ]
    )


def fx_document(**prices):
    return json.dumps({"USD": {"INR": {"2010-01-01": prices}}})


def test_fx_rates_are_exact_and_a_bom_does_not_spoil_the_document(spark, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    exact = '{"USD": {"INR": {"2010-01-01": {"open": 83.123456789012, "high": 12345678.123456789012, '
    exact += '"low": 0.5, "close": "83.123456789012"}}}}'
    (raw / "exact.json").write_bytes(BOM + exact.encode())
    long = '{"USD": {"JPY": {"2010-01-01": {"open": 1, "high": 2, "low": 0.0000123456789012345, "close": 1}}}}'
    (raw / "long.json").write_text(long)
    result = run(spark, fx_rates, ["--input_path", str(raw), "--output_path", str(tmp_path / "fx")])

    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (2, 1, {"too_many_decimals:low": 1})
    rates = spark.read.parquet(str(tmp_path / "fx")).select("base", "quote", "open", "high", "low", "close")
    expected = spark.createDataFrame(
        [
            (
                "USD",
                "INR",
                Decimal("83.123456789012"),
                Decimal("12345678.123456789012"),
                Decimal("0.5"),
                Decimal("83.123456789012"),
            )
        ],
        "base string, quote string, open decimal(30,12), high decimal(30,12), low decimal(30,12), close decimal(30,12)",
    )
    assert_df_equality(rates, expected, ignore_nullable=True)
    assert quarantine_rows(spark, tmp_path / "fx_quarantine") == [
        ("too_many_decimals:low", "low_text=0.0000123456789012345 has more than 12 decimals")
    ]


def test_a_bom_in_a_schema_or_rules_file_is_dropped(tmp_path):
    path = tmp_path / "rules.dqdl"
    path.write_bytes(BOM + b'Rules = [ IsComplete "id" ]\n')
    assert read_text_file(str(path), "rules file") == 'Rules = [ IsComplete "id" ]\n'


def trip(pickup, dropoff, distance="1.00", fare="5"):
    return f"2,{pickup},{dropoff},N,1,1,2,1,{distance},{fare},0,0.5,0,0,,0.3,5.8,2,1"


TRIPS = [
    trip("2019-11-03 01:50:00", "2019-11-03 01:05:00"),  # 15 minutes across the fall-back hour
    trip("2019-11-03 01:10:00", "2019-11-03 01:40:00"),  # 30 minutes inside the repeated hour
    trip("2019-03-10 01:55:00", "2019-03-10 03:05:00"),  # 10 minutes across the spring-forward hour
    trip("2019-01-05 10:00:00", "2019-01-05 10:10:00", distance="NaN"),
    trip("2019-01-05 10:00:00", "2019-01-05 10:10:00", distance="-Infinity"),
    trip("2019-01-05 11:00:00", "2019-01-05 11:10:00", fare="5.555"),
    trip("2019-01-05 12:00:00", "2019-01-05 12:10:00", fare="5.5O"),
    trip("2019-01-05 13:00:00", "2019-01-05 13:10:00", fare="5.550"),
]


def test_taxi_durations_are_measured_in_new_york_time_and_bad_distances_and_amounts_quarantined(spark, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "trips.csv").write_text("\n".join([",".join(TAXI_COLUMNS), *TRIPS]) + "\n")
    result = run(spark, taxi_trips, ["--input_path", str(raw), "--output_path", str(tmp_path / "trips")])

    assert (result.rows_read, result.rows_written) == (8, 4)
    trips = spark.read.parquet(str(tmp_path / "trips"))
    columns = ["lpep_pickup_datetime", "lpep_dropoff_datetime", "pickup_date", "fare_amount", "trip_duration_s"]
    actual = trips.select(*columns, "avg_speed_mph")
    expected = spark.createDataFrame(
        [
            ("2019-11-03 01:50:00", "2019-11-03 01:05:00", dt.date(2019, 11, 3), Decimal("5.00"), 900, 4.0),
            ("2019-11-03 01:10:00", "2019-11-03 01:40:00", dt.date(2019, 11, 3), Decimal("5.00"), 1800, 2.0),
            ("2019-03-10 01:55:00", "2019-03-10 03:05:00", dt.date(2019, 3, 10), Decimal("5.00"), 600, 6.0),
            ("2019-01-05 13:00:00", "2019-01-05 13:10:00", dt.date(2019, 1, 5), Decimal("5.55"), 600, 6.0),
        ],
        "p string, d string, pickup_date date, fare_amount decimal(10,2), trip_duration_s bigint, avg_speed_mph double",
    ).select(
        F.to_timestamp("p").alias("lpep_pickup_datetime"),
        F.to_timestamp("d").alias("lpep_dropoff_datetime"),
        "pickup_date",
        "fare_amount",
        "trip_duration_s",
        "avg_speed_mph",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    assert quarantine_rows(spark, tmp_path / "trips_quarantine") == [
        ("invalid_decimal:fare_amount", "fare_amount=5.5O"),
        ("invalid_double:trip_distance", "trip_distance=-Infinity is not a number"),
        ("invalid_double:trip_distance", "trip_distance=NaN is not a number"),
        ("too_many_decimals:fare_amount", "fare_amount=5.555 has more than 2 decimals"),
    ]


def test_taxi_times_in_utc_on_request_and_an_unknown_zone_is_a_usage_error(spark, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "trips.csv").write_text("\n".join([",".join(TAXI_COLUMNS), *TRIPS[:3]]) + "\n")
    argv = ["--input_path", str(raw), "--output_path", str(tmp_path / "trips"), "--timezone", "UTC"]
    result = run(spark, taxi_trips, argv)

    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (3, 2, {"dropoff_before_pickup": 1})
    durations = spark.read.parquet(str(tmp_path / "trips")).select("trip_duration_s")
    assert sorted(row.trip_duration_s for row in durations.collect()) == [1800, 4200]
    with pytest.raises(
        UsageError, match=r"^argument --timezone: expected a time zone like America/New_York, got 'Mars/Olympus'"
    ):
        taxi_trips.parse_args([*argv[:4], "--timezone", "Mars/Olympus"])
