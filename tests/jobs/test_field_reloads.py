"""Field jobs loading one file after another: no load deletes the rows of another, reruns add nothing."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakejobs import fs
from lakejobs.errors import LakejobsError
from lakejobs.generate_field import TAXI_COLUMNS
from lakejobs.jobs import fieldjob, fx_rates, stock_prices
from tests.jobs import test_stock_prices as stocks
from tests.jobs import test_taxi_trips as taxi

FX_SCHEMA = "base string, quote string, date date, close decimal(30,12)"


def fx_document(folder, name, rates):
    """A document of ``{(base, quote): {day: close}}`` with open = low = high = close."""
    document = {}
    for (base, quote), days in rates.items():
        quotes = document.setdefault(base, {}).setdefault(quote, {})
        for day, close in days.items():
            quotes[day] = {"open": close, "high": close, "low": close, "close": close}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(document))
    return folder / name


def run_fx(spark, source, out):
    result = fx_rates.run(spark, fx_rates.parse_args(["--input_path", str(source), "--output_path", str(out)]))
    assert result.status == "SUCCEEDED"
    assert result.rows_read == result.rows_written + result.rows_quarantined
    return result


def fx_table(spark, out):
    return spark.read.parquet(str(out)).select("base", "quote", "date", "close")


def fx_rows(spark, rows):
    typed = [(base, quote, dt.date.fromisoformat(day), Decimal(close)) for base, quote, day, close in rows]
    return spark.createDataFrame(typed, FX_SCHEMA)


def test_fx_loads_keep_earlier_dates_of_a_pair_and_a_newer_rate_replaces_its_key(spark, tmp_path):
    out = tmp_path / "fx"
    first = fx_document(tmp_path / "raw1", "day1.json", {("USD", "GBP"): {"2010-01-01": "0.62"}})
    second = fx_document(
        tmp_path / "raw2", "day2.json", {("USD", "GBP"): {"2010-01-02": "0.63"}, ("USD", "EUR"): {"2010-01-02": "0.7"}}
    )
    run_fx(spark, first, out)
    result = run_fx(spark, second, out)
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (2, 2, 0)
    both = [
        ("USD", "GBP", "2010-01-01", "0.62"),
        ("USD", "GBP", "2010-01-02", "0.63"),
        ("USD", "EUR", "2010-01-02", "0.7"),
    ]
    assert_df_equality(fx_table(spark, out), fx_rows(spark, both), ignore_row_order=True, ignore_nullable=True)

    run_fx(spark, second, out)  # a rerun adds nothing
    assert_df_equality(fx_table(spark, out), fx_rows(spark, both), ignore_row_order=True, ignore_nullable=True)

    corrected = fx_document(tmp_path / "raw3", "fix.json", {("USD", "GBP"): {"2010-01-01": "0.61"}})
    run_fx(spark, corrected, out)  # the newer load wins for its key, the other rows stay
    expected = [("USD", "GBP", "2010-01-01", "0.61"), *both[1:]]
    assert_df_equality(fx_table(spark, out), fx_rows(spark, expected), ignore_row_order=True, ignore_nullable=True)
    assert sorted(p.name for p in out.iterdir() if p.name != "_SUCCESS") == ["base=USD"]  # no staging left


def trip(pickup, dropoff, distance="1.00"):
    return f"2,{pickup},{dropoff},N,1,1,2,1,{distance},6,0,0.5,0,0,,0.3,6.8,1,1"


JAN = [
    trip("2019-01-30 08:00:00", "2019-01-30 08:10:00"),
    trip("2019-01-31 08:00:00", "2019-01-31 08:10:00"),
    trip("2019-01-31 09:00:00", "2019-01-31 09:10:00"),
    trip("2019-01-31 10:00:00", "2019-01-31 10:10:00"),
]
FEB = [trip("2019-01-31 23:55:00", "2019-02-01 00:05:00"), trip("2019-02-01 08:00:00", "2019-02-01 08:10:00")]


def taxi_file(folder, name, trips):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join([",".join(TAXI_COLUMNS), *trips]) + "\n")
    return folder / name


def run_taxi(spark, source, out):
    result = taxi.run_job(spark, ["--input_path", str(source), "--output_path", str(out)])
    assert result.rows_read == result.rows_written + result.rows_quarantined
    return result


def taxi_table(spark, out):
    return spark.read.parquet(str(out)).select("lpep_pickup_datetime", "pickup_date", "source_file")


def taxi_rows(spark, trips_by_file):
    rows = [
        (dt.datetime.strptime(line.split(",")[1], "%Y-%m-%d %H:%M:%S"), source.absolute().as_uri())
        for source, lines in trips_by_file
        for line in lines
    ]
    frame = spark.createDataFrame(rows, "lpep_pickup_datetime timestamp, source_file string")
    return frame.select("lpep_pickup_datetime", F.to_date("lpep_pickup_datetime").alias("pickup_date"), "source_file")


def test_taxi_files_share_a_pickup_date_without_losing_trips_and_a_reread_file_replaces_only_its_own(spark, tmp_path):
    out = tmp_path / "trips"
    jan = taxi_file(tmp_path / "jan", "green_tripdata_2019-01.csv", JAN)
    feb = taxi_file(tmp_path / "feb", "green_tripdata_2019-02.csv", FEB)
    run_taxi(spark, jan, out)
    result = run_taxi(spark, feb, out)
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (2, 2, 0)
    per_day = spark.read.parquet(str(out)).groupBy("pickup_date").count()
    assert sorted((str(row[0]), row[1]) for row in per_day.collect()) == [
        ("2019-01-30", 1),
        ("2019-01-31", 4),  # three January trips and February's first
        ("2019-02-01", 1),
    ]
    expected = taxi_rows(spark, [(jan, JAN), (feb, FEB)])
    assert_df_equality(taxi_table(spark, out), expected, ignore_row_order=True, ignore_nullable=True)

    run_taxi(spark, feb, out)  # a rerun adds nothing
    assert_df_equality(taxi_table(spark, out), expected, ignore_row_order=True, ignore_nullable=True)

    # January again, corrected: its 2019-01-30 trip is gone and one trip moved to 2019-01-29.
    moved = trip("2019-01-29 10:00:00", "2019-01-29 10:10:00")
    taxi_file(tmp_path / "jan", "green_tripdata_2019-01.csv", [*JAN[1:3], moved])
    run_taxi(spark, jan, out)
    expected = taxi_rows(spark, [(jan, [*JAN[1:3], moved]), (feb, FEB)])
    assert_df_equality(taxi_table(spark, out), expected, ignore_row_order=True, ignore_nullable=True)
    partitions = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert partitions == ["pickup_date=2019-01-29", "pickup_date=2019-01-31", "pickup_date=2019-02-01"]


def test_a_reread_taxi_file_now_all_bad_or_empty_leaves_none_of_its_earlier_trips(spark, tmp_path):
    out = tmp_path / "trips"
    jan = taxi_file(tmp_path / "jan", "green_tripdata_2019-01.csv", JAN)
    feb = taxi_file(tmp_path / "feb", "green_tripdata_2019-02.csv", FEB)
    run_taxi(spark, jan, out)
    run_taxi(spark, feb, out)

    # February again, every trip now bad: its two trips leave the table, January's stay.
    taxi_file(tmp_path / "feb", "green_tripdata_2019-02.csv", [trip("2019-02-01 08:00:00", "2019-02-01 08:10:00", "x")])
    result = taxi.run_job(spark, ["--input_path", str(feb), "--output_path", str(out), "--max_bad_fraction", "1"])
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (1, 0, 1)
    assert_df_equality(
        taxi_table(spark, out), taxi_rows(spark, [(jan, JAN)]), ignore_row_order=True, ignore_nullable=True
    )
    partitions = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert partitions == ["pickup_date=2019-01-30", "pickup_date=2019-01-31"]

    # January again, emptied to its header: no trip is left.
    taxi_file(tmp_path / "jan", "green_tripdata_2019-01.csv", [])
    result = run_taxi(spark, jan, out)
    assert (result.rows_read, result.rows_written) == (0, 0)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == []


@pytest.mark.parametrize("emptied", [b"", b"\n\n"], ids=["no_bytes", "blank_lines"])
def test_a_taxi_file_emptied_of_its_header_too_leaves_none_of_its_trips(spark, tmp_path, emptied):
    """Without a header line the file gives no row, so Spark never reads it; its trips must go all the same."""
    out, raw = tmp_path / "trips", tmp_path / "raw"
    jan = taxi_file(raw, "green_tripdata_2019-01.csv", JAN)
    run_taxi(spark, raw, out)
    feb = taxi_file(raw, "green_tripdata_2019-02.csv", FEB)
    jan.write_bytes(emptied)
    result = run_taxi(spark, raw, out)
    assert (result.rows_read, result.rows_written) == (len(FEB), len(FEB))
    expected = taxi_rows(spark, [(feb, FEB)])
    assert_df_equality(taxi_table(spark, out), expected, ignore_row_order=True, ignore_nullable=True)


def test_a_taxi_file_emptied_of_every_byte_and_given_alone_leaves_none_of_its_trips(spark, tmp_path):
    """It failed with "no file below ... has a header line", exit 2, and its trips stayed."""
    out, raw = tmp_path / "trips", tmp_path / "raw"
    jan = taxi_file(raw, "green_tripdata_2019-01.csv", JAN)
    feb = taxi_file(raw, "green_tripdata_2019-02.csv", FEB)
    run_taxi(spark, raw, out)
    jan.write_bytes(b"")
    result = run_taxi(spark, jan, out)  # the file alone
    assert (result.status, result.rows_read, result.rows_written, result.rows_quarantined) == ("SUCCEEDED", 0, 0, 0)
    expected = taxi_rows(spark, [(feb, FEB)])
    assert_df_equality(taxi_table(spark, out), expected, ignore_row_order=True, ignore_nullable=True)


def stock_file(folder, ticker, days, closes):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [stocks.YAHOO_HEADER] + [stocks.yahoo_line(day, close) for day, close in zip(days, closes)]
    (folder / f"{ticker}.csv").write_text("\n".join(lines) + "\n")
    return folder


def run_stocks(spark, source, out):
    result = stock_prices.run(spark, stock_prices.parse_args(["--input_path", str(source), "--output_path", str(out)]))
    assert result.rows_read == result.rows_written + result.rows_quarantined
    return result


def test_stock_loads_extend_a_tickers_series_and_its_windows_span_every_load(spark, tmp_path):
    out = tmp_path / "stocks"
    days = stocks.trading_days(10)
    closes, msft = stocks.AAPL_CLOSES, stocks.MSFT_CLOSES
    stock_file(tmp_path / "raw1", "AAPL", days[:8], closes[:8])
    stock_file(tmp_path / "raw1", "MSFT", days[:3], msft)
    run_stocks(spark, tmp_path / "raw1", out)
    later = stock_file(tmp_path / "raw2", "AAPL", days[8:], closes[8:])
    result = run_stocks(spark, later, out)
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (2, 2, 0)
    run_stocks(spark, later, out)  # a rerun adds nothing and computes the same windows

    # The expected rows of loading everything at once (test_stock_prices' own computation).
    expected_all = [row for row in stocks.expected_rows(days) if row[0] != "IBM.US"]
    expected = spark.createDataFrame(
        expected_all,
        "ticker string, date date, open decimal(18,6), high decimal(18,6), low decimal(18,6), "
        "close decimal(18,6), adj_close decimal(18,6), volume bigint, daily_return double, "
        "close_ma_7d decimal(22,10)",
    ).withColumn("volume", F.lit(1000).cast("bigint"))
    actual = spark.read.parquet(str(out)).select(*expected.columns)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_load_that_fails_after_staging_leaves_the_table_as_it_was_and_the_next_load_succeeds(
    spark, tmp_path, monkeypatch
):
    out = tmp_path / "fx"
    first = fx_document(tmp_path / "raw1", "day1.json", {("USD", "GBP"): {"2010-01-01": "0.62"}})
    second = fx_document(tmp_path / "raw2", "day2.json", {("USD", "GBP"): {"2010-01-01": "0.5", "2010-01-02": "0.63"}})
    run_fx(spark, first, out)
    write_table = fieldjob.write_table

    def staged_then_failed(df, path, *args, **kwargs):
        info = write_table(df, path, *args, **kwargs)
        if "/_staging/" in path:
            raise OSError("lost the cluster")
        return info

    monkeypatch.setattr(fieldjob, "write_table", staged_then_failed)
    with pytest.raises(LakejobsError, match="lost the cluster"):
        fx_rates.run(spark, fx_rates.parse_args(["--input_path", str(second), "--output_path", str(out)]))
    one = [("USD", "GBP", "2010-01-01", "0.62")]
    assert_df_equality(fx_table(spark, out), fx_rows(spark, one), ignore_row_order=True, ignore_nullable=True)

    monkeypatch.undo()
    run_fx(spark, second, out)
    both = [("USD", "GBP", "2010-01-01", "0.5"), ("USD", "GBP", "2010-01-02", "0.63")]
    assert_df_equality(fx_table(spark, out), fx_rows(spark, both), ignore_row_order=True, ignore_nullable=True)
    assert not (out / "_staging").exists()


def test_a_commit_stopped_part_way_is_finished_by_the_next_load_so_no_pair_loses_its_rows(spark, tmp_path, monkeypatch):
    """The second load's commit replaced USD/EUR's folder, then stopped: its rows were only staged."""
    out = tmp_path / "fx"
    pairs = {("USD", "EUR"): {"2010-01-01": "0.7"}, ("USD", "GBP"): {"2010-01-01": "0.62"}}
    run_fx(spark, fx_document(tmp_path / "raw1", "day1.json", pairs), out)
    second = {("USD", "EUR"): {"2010-01-02": "0.71"}, ("USD", "GBP"): {"2010-01-02": "0.63"}}
    second = fx_document(tmp_path / "raw2", "day2.json", second)
    real_rename = fs.rename

    def copy_fails(spark_, source, target):
        if "/_staging/" in source and "quote=GBP" in source:  # the folders move in order: EUR, then GBP
            raise OSError("S3 throttled the copy")
        real_rename(spark_, source, target)

    monkeypatch.setattr(fs, "rename", copy_fails)
    with pytest.raises(LakejobsError, match="stopped part-way"):
        fx_rates.run(spark, fx_rates.parse_args(["--input_path", str(second), "--output_path", str(out)]))
    monkeypatch.undo()
    run_fx(spark, fx_document(tmp_path / "raw3", "day3.json", {("USD", "JPY"): {"2010-01-03": "92"}}), out)
    every_row = [
        ("USD", "EUR", "2010-01-01", "0.7"),
        ("USD", "EUR", "2010-01-02", "0.71"),
        ("USD", "GBP", "2010-01-01", "0.62"),
        ("USD", "GBP", "2010-01-02", "0.63"),
        ("USD", "JPY", "2010-01-03", "92"),
    ]
    assert_df_equality(fx_table(spark, out), fx_rows(spark, every_row), ignore_row_order=True, ignore_nullable=True)
    assert not (out / "_staging").exists()


def test_a_ticker_spark_escapes_in_its_folder_name_keeps_its_earlier_days(spark, tmp_path):
    out = tmp_path / "stocks"
    days = stocks.trading_days(2)
    header = "ticker,date,open,high,low,close,adj_close,volume"
    for index, day in enumerate(days):
        folder = tmp_path / f"raw{index}"
        folder.mkdir()
        (folder / "watchlist.csv").write_text(f"{header}\nBRK:B,{stocks.yahoo_line(day, '400')}\n")
        run_stocks(spark, folder, out)
    assert [p.name for p in out.iterdir() if p.is_dir()] == ["ticker=BRK%3AB"]
    table = spark.read.parquet(str(out)).select("ticker", "date", "daily_return")
    assert sorted(tuple(row) for row in table.collect()) == [("BRK:B", days[0], None), ("BRK:B", days[1], 0.0)]


def test_trips_of_a_table_written_before_lineage_are_kept(spark, tmp_path):
    out = tmp_path / "trips"
    jan = taxi_file(tmp_path / "jan", "green_tripdata_2019-01.csv", JAN)
    run_taxi(spark, jan, out)
    earlier = spark.read.parquet(str(out)).drop("source_file")  # as an earlier version wrote it
    earlier.write.partitionBy("pickup_date").parquet(str(tmp_path / "earlier"))
    feb = taxi_file(tmp_path / "feb", "green_tripdata_2019-02.csv", FEB)
    run_taxi(spark, feb, tmp_path / "earlier")
    table = spark.read.option("mergeSchema", "true").parquet(str(tmp_path / "earlier"))
    table = table.select("lpep_pickup_datetime", "source_file")
    expected = taxi_rows(spark, [(jan, JAN), (feb, FEB)]).select("lpep_pickup_datetime", "source_file")
    expected = expected.withColumn(
        "source_file", F.when(F.col("source_file").contains("2019-02"), F.col("source_file"))
    )
    assert_df_equality(table, expected, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("emptied", [b"", b"\n\n"], ids=["no_bytes", "blank_lines"])
def test_a_stock_file_emptied_since_leaves_no_bad_records_in_the_quarantine(spark, tmp_path, emptied):
    """An emptied file gives no row, so Spark never reads it; its quarantine folder must go all the same."""
    raw, out = tmp_path / "raw", tmp_path / "stocks"
    stock_file(raw, "AAPL", ["2024-01-02", "2024-01-03"], ["185.64", "184.25"])
    with (raw / "AAPL.csv").open("a") as lines:
        lines.write("2024-01-04,x,1,1,1,1,1\n")
    argv = ["--input_path", str(raw), "--output_path", str(out), "--max_bad_fraction", "1"]
    first = stock_prices.run(spark, stock_prices.parse_args(argv))
    assert (first.rows_read, first.rows_written, first.rows_quarantined) == (3, 2, 1)
    assert spark.read.json(str(tmp_path / "stocks_quarantine")).count() == 1

    stock_file(raw, "MSFT", ["2024-01-02"], ["370.87"])
    (raw / "AAPL.csv").write_bytes(emptied)
    second = stock_prices.run(spark, stock_prices.parse_args(argv))
    assert (second.rows_read, second.rows_written, second.rows_quarantined) == (1, 1, 0)
    assert not list((tmp_path / "stocks_quarantine").rglob("*.json"))
    # A keyed row a file no longer holds stays (README: rebuild the table to drop it).
    table = spark.read.parquet(str(out)).select("ticker", "date", "close")
    expected = spark.createDataFrame(
        [
            ("AAPL", dt.date(2024, 1, 2), Decimal("185.64")),
            ("AAPL", dt.date(2024, 1, 3), Decimal("184.25")),
            ("MSFT", dt.date(2024, 1, 2), Decimal("370.87")),
        ],
        "ticker string, date date, close decimal(18,6)",
    )
    assert_df_equality(table, expected, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("emptied", [b"", b"\n\n"], ids=["no_bytes", "blank_lines"])
def test_an_fx_file_emptied_since_leaves_no_bad_records_in_the_quarantine(spark, tmp_path, emptied):
    raw, out = tmp_path / "raw", tmp_path / "fx"
    fx_document(raw, "a.json", {("USD", "EUR"): {"2024-01-02": "0.9", "2024-01-03": "-1"}})
    argv = ["--input_path", str(raw), "--output_path", str(out), "--max_bad_fraction", "1"]
    first = fx_rates.run(spark, fx_rates.parse_args(argv))
    assert (first.rows_read, first.rows_written, first.rows_quarantined) == (2, 1, 1)
    assert spark.read.json(str(tmp_path / "fx_quarantine")).count() == 1

    fx_document(raw, "b.json", {("USD", "GBP"): {"2024-01-02": "0.8"}})
    (raw / "a.json").write_bytes(emptied)
    second = fx_rates.run(spark, fx_rates.parse_args(argv))
    assert (second.rows_read, second.rows_written, second.rows_quarantined) == (1, 1, 0)
    assert not list((tmp_path / "fx_quarantine").rglob("*.json"))
    kept = [("USD", "EUR", "2024-01-02", "0.9"), ("USD", "GBP", "2024-01-02", "0.8")]
    assert_df_equality(fx_table(spark, out), fx_rows(spark, kept), ignore_row_order=True, ignore_nullable=True)
