"""stock_prices: Yahoo, Stooq and ticker-column files -> exact series with return and moving average."""

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakejobs.jobs import stock_prices
from lakejobs.transforms import validation
from tests.conftest import SAMPLE_RAW
from tests.parquet_layout import columns_without_dictionary
from tests.spark_reads import records_read

YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
AAPL_CLOSES = ["185.64", "184.25", "181.91", "181.18", "185.56", "185.14", "186.19", "185.59", "185.92", "183.63"]
MSFT_CLOSES = ["370.87", "370.60", "367.94"]
EXPECTED_REASONS = {
    "invalid_decimal:open": 1,
    "high_below_low": 1,
    "duplicate_key:ticker,date": 1,
    "non_positive_price:low": 1,
    "null_key:ticker": 1,
    "too_many_decimals:close": 1,
    "negative_volume": 1,
}


def trading_days(count):
    days, day = [], dt.date(2024, 1, 2)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def yahoo_line(day, close, volume=1000):
    c = Decimal(close)
    return f"{day},{c - 1},{c + 2},{c - 3},{close},{c - Decimal('0.5')},{volume}"


def write_inputs(raw):
    raw.mkdir()
    days = trading_days(11)
    aapl = [YAHOO_HEADER] + [yahoo_line(day, close) for day, close in zip(days, AAPL_CLOSES)]
    aapl.append(f"{days[10]},null,null,null,null,null,null")  # Yahoo's missing day
    # Blank lines before the header: Spark skips them, and so must the header lookup (it once
    # skipped the whole file).
    (raw / "AAPL.csv").write_text("\n \n" + "\n".join(aapl) + "\n")
    msft = ["ticker,date,open,high,low,close,adj_close,volume"] + [
        f"msft ,{line}" for line in (yahoo_line(day, close, 7) for day, close in zip(days, MSFT_CLOSES))
    ]
    msft.append(f"MSFT,{days[3]},370,360,365,366,366,7")  # high below low
    msft.append(f"MSFT,{days[0]},1,2,0.5,1.5,1.5,7")  # the same ticker and day again
    msft.append(f"   ,{days[4]},1,2,0.5,1.5,1.5,7")  # a blank ticker: no series, not a null partition
    msft.append(f"MSFT,{days[5]},1,2,0.5,1.5,1.5,-7")  # a negative volume
    (raw / "watchlist.csv").write_text("\n".join(msft) + "\n")
    stooq = ["Date,Open,High,Low,Close,Volume", f"{days[0]},190,192,189,191,500", f"{days[1]},191,193,-1,0,500"]
    stooq.append(f"{days[2]},192,193,190,191.0000005,500")  # 7 decimals: rounding it would lose one
    (raw / "ibm.us.txt").write_text("\n".join(stooq) + "\n")
    return days


def expected_rows(days):
    """Each series with daily return and 7-row moving average computed in plain Python."""
    series = defaultdict(list)
    for day, close in zip(days, AAPL_CLOSES):
        series["AAPL"].append((day, Decimal(close), Decimal(close) - Decimal("0.5"), 1000))
    for day, close in zip(days, MSFT_CLOSES):
        series["MSFT"].append((day, Decimal(close), Decimal(close) - Decimal("0.5"), 7))
    rows = [("IBM.US", days[0], *(Decimal(v) for v in ("190", "192", "189", "191")), None, 500, None, None)]
    for ticker, points in series.items():
        for index, (day, close, adj_close, volume) in enumerate(points):
            daily_return = float(close) / float(points[index - 1][1]) - 1.0 if index else None
            window = [point[1] for point in points[max(0, index - 6) : index + 1]]
            mean = None
            if len(window) == 7:
                mean = (sum(window) / 7).quantize(Decimal("1e-16"), ROUND_HALF_UP)
                mean = mean.quantize(Decimal("1e-10"), ROUND_HALF_UP)
            prices = (close - 1, close + 2, close - 3, close)
            rows.append((ticker, day, *prices, adj_close, volume, daily_return, mean))
    return rows


def test_both_layouts_become_one_series_per_ticker_with_return_and_moving_average(spark, tmp_path):
    days = write_inputs(tmp_path / "raw")
    out = tmp_path / "stocks"
    argv = ["--input_path", str(tmp_path / "raw"), "--output_path", str(out), "--max_bad_fraction", "0.5"]
    result = stock_prices.run(spark, stock_prices.parse_args(argv))

    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (21, 14, 7)
    assert result.quarantine_reasons == EXPECTED_REASONS
    assert result.details == {"headers": 3, "ignored_columns": []}
    expected = spark.createDataFrame(
        expected_rows(days),
        "ticker string, date date, open decimal(18,6), high decimal(18,6), low decimal(18,6), "
        "close decimal(18,6), adj_close decimal(18,6), volume bigint, daily_return double, "
        "close_ma_7d decimal(22,10)",
    )
    actual = spark.read.parquet(str(out)).select(*expected.columns)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["ticker=AAPL", "ticker=IBM.US", "ticker=MSFT"]

    quarantine = spark.read.json(str(tmp_path / "stocks_quarantine"))
    assert sorted((row.source_file.rsplit("/", 1)[1], row.reason) for row in quarantine.collect()) == [
        ("AAPL.csv", "invalid_decimal:open"),
        ("ibm.us.txt", "non_positive_price:low"),
        ("ibm.us.txt", "too_many_decimals:close"),
        ("watchlist.csv", "duplicate_key:ticker,date"),
        ("watchlist.csv", "high_below_low"),
        ("watchlist.csv", "negative_volume"),
        ("watchlist.csv", "null_key:ticker"),
    ]


def test_a_series_is_written_without_a_dictionary(spark, tmp_path):
    # Thirty days at one price: every value repeats, so the columns keep a dictionary unless the
    # job writes them plain (spelled out: emptying the constant must fail here).
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = [YAHOO_HEADER] + [yahoo_line(day, "100.00") for day in trading_days(30)]
    (raw / "FLAT.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "stocks"
    result = stock_prices.run(spark, stock_prices.parse_args(["--input_path", str(raw), "--output_path", str(out)]))
    assert result.rows_written == 30
    plain = {"date", "open", "high", "low", "close", "adj_close", "volume", "daily_return", "close_ma_7d"}
    assert columns_without_dictionary(out) == plain


@pytest.mark.parametrize("broadcast_limit", [validation.BROADCAST_REPEATS_LIMIT, 0])
def test_the_prices_are_read_and_typed_once_also_when_a_key_repeats(spark, tmp_path, monkeypatch, broadcast_limit):
    """Until session 30 the repeated keys were found in a second read and typing of the input.

    That second pass was 2.5 s of the 7.9 s validate stage of 2M prices (bench/HISTORY.md,
    "Session 30"). Past ``BROADCAST_REPEATS_LIMIT`` repeated keys (0 here) they are joined by a
    shuffle instead of a broadcast, with the same result.
    """
    monkeypatch.setattr(validation, "BROADCAST_REPEATS_LIMIT", broadcast_limit)
    raw = tmp_path / "raw"
    raw.mkdir()
    days = trading_days(1000)
    lines = ["ticker,date,open,high,low,close,adj_close,volume"] + [
        f"AAA,{line}" for line in map(yahoo_line, days, ["10"] * 1000)
    ]
    lines.append(f"AAA,{days[0]},1,2,0.5,1.5,1.5,7")  # the first day again
    (raw / "prices.csv").write_text("\n".join(lines) + "\n")
    args = stock_prices.parse_args(["--input_path", str(raw), "--output_path", str(tmp_path / "out")])
    with records_read(spark) as read:
        result = stock_prices.run(spark, args)
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (
        1001,
        1000,
        {"duplicate_key:ticker,date": 1},
    )
    assert 1001 <= read[0] < 1100  # the lines once, the header lookup, a few cached batches (twice: 2005)
    quarantine = spark.read.json(str(tmp_path / "out_quarantine")).select("raw_line", "reason")
    later_copy = f"AAA,{days[0]},1.000000,2.000000,0.500000,1.500000,1.500000,7"  # a good row as typed
    assert [tuple(row) for row in quarantine.collect()] == [(later_copy, "duplicate_key:ticker,date")]


def test_stooqs_bulk_layout_keeps_its_volume(spark, tmp_path):
    """``<VOL>`` matched no column: every row's volume was null, said only in ignored_columns."""
    (tmp_path / "raw").mkdir()
    lines = ["<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>"]
    lines.append("IBM.US,D,20240102,000000,190,192,189,191,5000,0")
    (tmp_path / "raw" / "ibm.us.txt").write_text("\n".join(lines) + "\n")
    argv = ["--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "stocks")]
    result = stock_prices.run(spark, stock_prices.parse_args([*argv, "--date_format", "yyyyMMdd"]))
    assert (result.rows_written, result.details["ignored_columns"]) == (1, ["<OPENINT>", "<PER>", "<TIME>"])
    [row] = spark.read.parquet(str(tmp_path / "stocks")).select("ticker", "date", "volume").collect()
    assert (row.ticker, row.date, row.volume) == ("IBM.US", dt.date(2024, 1, 2), 5000)


def test_a_line_cut_short_in_a_file_with_an_ignored_column_is_malformed_not_published(spark, tmp_path):
    """Spark's CSV column pruning skipped the ignored ``note``, and with it the field count: both bad
    lines were published (adj_close and volume null; extra fields dropped)."""
    (tmp_path / "raw").mkdir()
    lines = ["ticker,date,open,high,low,close,adj_close,volume,note", "PRN,2024-01-02,10,11,9,10.5,10.5,100,ok"]
    lines += ["PRN,2024-01-03,10,11,9,10.5", "PRN,2024-01-04,10,11,9,10.5,10.5,100,ok,EXTRA"]
    (tmp_path / "raw" / "prn.csv").write_text("\n".join(lines) + "\n")
    argv = ["--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "stocks")]
    result = stock_prices.run(spark, stock_prices.parse_args([*argv, "--max_bad_fraction", "1"]))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (3, 1, {"malformed_record": 2})
    quarantined = spark.read.json(str(tmp_path / "stocks_quarantine")).select("raw_line").collect()
    assert sorted(row.raw_line for row in quarantined) == sorted(lines[2:])  # the lines as they were


def test_a_date_past_year_9999_is_invalid_not_published(spark, tmp_path):
    """``yyyy`` reads ``+10000-01-01``: it was published, and pyarrow could not read the table back."""
    (tmp_path / "raw").mkdir()
    lines = ["ticker,date,open,high,low,close,adj_close,volume", "PRN,2024-01-02,10,11,9,10.5,10.5,100"]
    lines += ["PRN,+10000-01-01,10,11,9,10.5,10.5,100"]
    (tmp_path / "raw" / "prn.csv").write_text("\n".join(lines) + "\n")
    argv = ["--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "stocks")]
    result = stock_prices.run(spark, stock_prices.parse_args([*argv, "--max_bad_fraction", "1"]))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (2, 1, {"invalid_date:date": 1})


def test_a_ticker_no_folder_name_can_carry_is_quarantined(spark, tmp_path):
    """``__hive_default_partition__`` read back as a null ticker (the next load of it failed the write), and
    a 300-letter ticker failed the whole run with ``Mkdirs failed``."""
    (tmp_path / "raw").mkdir()
    lines = ["ticker,date,open,high,low,close,adj_close,volume", "PRN,2024-01-02,10,11,9,10.5,10.5,100"]
    lines += ["__hive_default_partition__,2024-01-02,10,11,9,10.5,10.5,100", "L" * 300 + ",2024-01-02,1,1,1,1,1,1"]
    (tmp_path / "raw" / "prn.csv").write_text("\n".join(lines) + "\n")
    argv = ["--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "stocks")]
    result = stock_prices.run(spark, stock_prices.parse_args([*argv, "--max_bad_fraction", "1"]))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (
        3,
        1,
        {"invalid_partition_value:ticker": 2},
    )
    quarantined = spark.read.json(str(tmp_path / "stocks_quarantine")).select("detail").collect()
    assert sorted(row.detail for row in quarantined) == [
        "ticker='" + "L" * 60 + "...' makes a folder name longer than 255 bytes, which file systems refuse",
        "ticker='__HIVE_DEFAULT_PARTITION__' is the folder name Spark writes for a null: it would read back as null",
    ]
    assert [row.ticker for row in spark.read.parquet(str(tmp_path / "stocks")).select("ticker").collect()] == ["PRN"]


def test_the_sample_files(spark, tmp_path):
    """The bundled sample (two Yahoo files and a watchlist): every day published once, four quarantined."""
    sample = SAMPLE_RAW / "stocks"
    days = []  # (ticker, date) of every data line, as the files give them
    for path in sorted(sample.glob("*.csv")):
        lines = path.read_text().splitlines()[1:]
        days += [
            (path.stem, line.split(",")[0]) if path.stem != "watchlist" else tuple(line.split(",")[:2])
            for line in lines
        ]
    argv = ["--input_path", str(sample), "--output_path", str(tmp_path / "stocks")]
    result = stock_prices.run(spark, stock_prices.parse_args(argv))

    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (len(days), 197, 4) == (201, 197, 4)
    assert result.quarantine_reasons == {
        "high_below_low": 1,
        "invalid_decimal:open": 1,
        "negative_volume": 1,
        "duplicate_key:ticker,date": 1,
    }
    bad = {("ACME", "2024-01-16"), ("MSFT", "2024-02-13"), ("AAPL", "2024-01-30")}
    table = spark.read.parquet(str(tmp_path / "stocks")).select("ticker", F.col("date").cast("string"))
    published = sorted(tuple(row) for row in table.collect())
    assert published == sorted(set(days) - bad)  # ZETA's repeated day once
    quarantine = spark.read.json(str(tmp_path / "stocks_quarantine")).select("source_file", "reason")
    assert sorted((row.source_file.rsplit("/", 1)[1], row.reason) for row in quarantine.collect()) == [
        ("AAPL.csv", "invalid_decimal:open"),
        ("MSFT.csv", "high_below_low"),
        ("watchlist.csv", "duplicate_key:ticker,date"),
        ("watchlist.csv", "negative_volume"),
    ]
