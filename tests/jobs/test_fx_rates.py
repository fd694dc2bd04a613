"""fx_rates: nested documents flattened to exact rows; every bad rate and file quarantined."""

import datetime as dt
import json
from decimal import Decimal

from chispa import assert_df_equality

from lakejobs.jobs import fx_rates
from tests.conftest import SAMPLE_RAW
from tests.spark_reads import records_read

GOOD_DOCUMENT = """{
  "USD": {
    "GBP": {
      "2010-01-01": {"open": 0.62, "high": 0.63, "low": 0.61, "close": 0.625},
      "2010-01-02": {"open": "0.625", "high": 0.64, "low": 0.62, "close": 0.63}
    },
    "BTC": {"2010-01-01": {"open": 2.5e-5, "high": 0.000026, "low": 0.000024, "close": 0.0000255}}
  },
  "inr": {"usd": {"2010-01-01": {"open": 0.0215, "high": 0.0216, "low": 0.0214, "close": 0.0215}}}
}
"""
OK = {"open": 1.43, "high": 1.44, "low": 1.42, "close": 1.43}
BAD_DOCUMENT = {
    "EUR": {
        "USD": {
            "2010-01-01": {"open": 1.43, "high": 1.40, "low": 1.42, "close": 1.41},
            "2010-01-02": {**OK, "low": 0},
            "2010-01-03": {"open": 1.43, "high": 1.44, "low": 1.42},
            "2010-01-04": {**OK, "open": "abc"},
            "2010-13-01": OK,
            "2010-01-05": {**OK, "open": 1.5},
            "2010-01-06": None,
        },
        "U$D": {"2010-01-01": OK},
    },
    "E_R": {"USD": {"2010-01-01": OK}},
}
REPEATED_DOCUMENT = {"USD": {"GBP": {"2010-01-01": {"open": 0.62, "high": 0.63, "low": 0.61, "close": 0.626}}}}
REASONS = {
    "high_below_low": 1,
    "non_positive_price:low": 1,
    "missing_value:close": 1,
    "invalid_decimal:open": 1,
    "invalid_date:date": 1,
    "price_outside_range:open": 1,
    "missing_value:open": 1,
    "invalid_currency:quote": 1,
    "invalid_currency:base": 1,
    "unparsable_json": 1,
    "duplicate_key:base,quote,date": 1,
}

#: (reason, detail) of every quarantined rate, sorted.
QUARANTINE_DETAILS = [
    ("duplicate_key:base,quote,date", "key (USD, GBP, 2010-01-01) appears more than once in this batch"),
    ("high_below_low", "high=1.400000000000, low=1.420000000000"),
    ("invalid_currency:base", "base=E_R"),
    ("invalid_currency:quote", "quote=U$D"),
    ("invalid_date:date", "date_text=2010-13-01 is not a date in format yyyy-MM-dd"),
    ("invalid_decimal:open", "open_text=abc"),
    ("missing_value:close", "close is missing"),
    ("missing_value:open", "open is missing"),
    ("non_positive_price:low", "low=0.000000000000"),  # written out, not Java's 0E-12
    ("price_outside_range:open", "open=1.500000000000, low=1.420000000000, high=1.440000000000"),
    ("unparsable_json", "not a JSON object of base -> quote -> date -> {open, high, low, close}"),
]


def rate(text):
    return Decimal(text).quantize(Decimal("1e-12"))


def test_documents_flatten_to_rows_partitioned_by_base_and_quote(spark, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.json").write_text(GOOD_DOCUMENT)
    (raw / "b.json").write_text(json.dumps(BAD_DOCUMENT, indent=2))
    (raw / "c.json").write_text('{"GBP": {"USD": {"2010-01-01": \n')
    (raw / "d.json").write_text(json.dumps(REPEATED_DOCUMENT))
    out = tmp_path / "fx"
    argv = ["--input_path", str(raw), "--output_path", str(out), "--max_bad_fraction", "1"]
    result = fx_rates.run(spark, fx_rates.parse_args(argv))

    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (15, 4, 11)
    assert result.quarantine_reasons == REASONS
    day1, day2 = dt.date(2010, 1, 1), dt.date(2010, 1, 2)
    expected = spark.createDataFrame(
        [
            ("USD", "GBP", day1, rate("0.62"), rate("0.63"), rate("0.61"), rate("0.625")),
            ("USD", "GBP", day2, rate("0.625"), rate("0.64"), rate("0.62"), rate("0.63")),
            ("USD", "BTC", day1, rate("0.000025"), rate("0.000026"), rate("0.000024"), rate("0.0000255")),
            ("INR", "USD", day1, rate("0.0215"), rate("0.0216"), rate("0.0214"), rate("0.0215")),
        ],
        "base string, quote string, date date, open decimal(30,12), high decimal(30,12), low decimal(30,12), "
        "close decimal(30,12)",
    )
    actual = spark.read.parquet(str(out)).select(*expected.columns)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    partitions = sorted(str(p.relative_to(out)) for p in out.glob("base=*/quote=*"))
    assert partitions == ["base=INR/quote=USD", "base=USD/quote=BTC", "base=USD/quote=GBP"]

    quarantine = spark.read.json(str(tmp_path / "fx_quarantine"))
    broken = quarantine.filter("reason = 'unparsable_json'").select("source_file", "raw_line").first()
    assert tuple(broken) == ((raw / "c.json").as_uri(), '{"GBP": {"USD": {"2010-01-01": \n')
    assert sorted(tuple(row) for row in quarantine.select("reason", "detail").collect()) == QUARANTINE_DETAILS
    # The repeated key's two copies differ (close 0.625 in a.json, 0.626 in d.json): one is in the
    # table (a.json's, read first: the larger file), the other here with its own values.
    repeat = quarantine.filter("reason like 'duplicate_key%'").select("source_file", "raw_line").collect()
    assert [tuple(row) for row in repeat] == [
        ((raw / "d.json").as_uri(), "USD,GBP,2010-01-01,0.620000000000,0.630000000000,0.610000000000,0.626000000000")
    ]
    report = json.loads((tmp_path / "fx_lakejobs" / "runs" / "fx_rates" / f"{result.run_id}.json").read_text())
    assert (report["status"], report["rows_written"], report["quarantine_reasons"]) == ("SUCCEEDED", 4, REASONS)


def test_the_sample_documents(spark, tmp_path):
    argv = ["--input_path", str(SAMPLE_RAW / "fx"), "--output_path", str(tmp_path / "fx")]
    result = fx_rates.run(spark, fx_rates.parse_args(argv))
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (152, 147, 5)
    assert result.quarantine_reasons == {
        "high_below_low": 1,
        "non_positive_price:low": 1,
        "invalid_decimal:close": 1,
        "invalid_date:date": 1,
        "unparsable_json": 1,
    }
    pairs = spark.read.parquet(str(tmp_path / "fx")).groupBy("base", "quote").count()
    assert sorted(tuple(row) for row in pairs.collect()) == [
        ("INR", "JPY", 30),
        ("INR", "USD", 30),
        ("USD", "BTC", 29),
        ("USD", "EUR", 29),
        ("USD", "GBP", 29),
    ]


def test_an_input_with_no_good_record_writes_only_the_quarantine(spark, tmp_path):
    (tmp_path / "broken.json").write_text('{"USD": [1, 2]}')
    argv = ["--input_path", str(tmp_path / "broken.json"), "--output_path", str(tmp_path / "fx")]
    result = fx_rates.run(spark, fx_rates.parse_args([*argv, "--max_bad_fraction", "1"]))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (1, 0, {"unparsable_json": 1})
    assert [(output.rows, output.files) for output in result.outputs] == [(0, 0), (1, 1)]
    assert not (tmp_path / "fx").exists()


def test_documents_and_branches_without_rates_are_quarantined_not_lost(spark, tmp_path):
    rate_of_day = {"open": 1.1, "high": 1.2, "low": 1.0, "close": 1.1}
    lines = [
        {"USD": {"GBP": {"2010-01-01": rate_of_day}}},
        {},
        {"EUR": {}},
        {"EUR": {"GBP": {}}},
        {"EUR": None},
        [],
        {"EUR": {"JPY": None}},
        {"USD": {"GBP": {"2010-01-02": rate_of_day}, "CHF": {}}},
    ]
    (tmp_path / "rates.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = ["--input_path", str(tmp_path / "rates.jsonl"), "--output_path", str(tmp_path / "fx")]
    result = fx_rates.run(spark, fx_rates.parse_args([*argv, "--json_lines", "true", "--max_bad_fraction", "1"]))
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (9, 2, 7)
    assert result.quarantine_reasons == {"no_rates": 6, "unparsable_json": 1}
    quarantine = spark.read.json(str(tmp_path / "fx_quarantine")).filter("reason = 'no_rates'")
    assert sorted((row.raw_line, row.detail) for row in quarantine.collect()) == [
        ('{"base":"EUR","quote":"GBP"}', '{"base":"EUR","quote":"GBP"} holds no date'),
        ('{"base":"EUR","quote":"JPY"}', '{"base":"EUR","quote":"JPY"} holds no date'),
        ('{"base":"EUR"}', '{"base":"EUR"} holds no date'),
        ('{"base":"EUR"}', '{"base":"EUR"} holds no date'),
        ('{"base":"USD","quote":"CHF"}', '{"base":"USD","quote":"CHF"} holds no date'),
        ("{}", "{} holds no date"),
    ]


def test_a_file_of_two_documents_is_quarantined_whole_not_read_as_its_first(spark, tmp_path):
    rate_of_day = {"open": 1.1, "high": 1.2, "low": 1.0, "close": 1.1}
    text = "".join(json.dumps({base: {"GBP": {"2010-01-01": rate_of_day}}}) + "\n" for base in ("USD", "EUR"))
    (tmp_path / "rates.jsonl").write_text(text)  # JSON lines, read without --json_lines: one record
    argv = ["--input_path", str(tmp_path / "rates.jsonl"), "--output_path", str(tmp_path / "fx")]
    result = fx_rates.run(spark, fx_rates.parse_args([*argv, "--max_bad_fraction", "1"]))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (1, 0, {"unparsable_json": 1})
    quarantine = spark.read.json(str(tmp_path / "fx_quarantine")).select("raw_line", "reason")
    assert [tuple(row) for row in quarantine.collect()] == [(text, "unparsable_json")]


def test_a_document_followed_by_a_bracket_and_another_or_single_quoted_is_quarantined_whole(spark, tmp_path):
    """``json_array_length`` stops at the first ``]``; single quotes escape the numbers' quoting."""
    rate_of_day = {"open": 1.1, "high": 1.2, "low": 1.0, "close": 1.1}
    texts = {
        "a.json": json.dumps({"USD": {"GBP": {"2010-01-01": rate_of_day}}})
        + "]"
        + json.dumps({"EUR": {"GBP": {"2010-01-01": rate_of_day}}}),
        "b.json": "{'USD': {'GBP': {'2010-01-01': {'open': 1.1, 'high': 1.2, 'low': 1.0, 'close': 1.105}}}}",
    }
    for name, text in texts.items():
        (tmp_path / "raw").mkdir(exist_ok=True)
        (tmp_path / "raw" / name).write_text(text)
    argv = ["--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "fx"), "--max_bad_fraction", "1"]
    result = fx_rates.run(spark, fx_rates.parse_args(argv))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (2, 0, {"unparsable_json": 2})
    quarantine = spark.read.json(str(tmp_path / "fx_quarantine")).select("raw_line", "reason")
    assert sorted(tuple(row) for row in quarantine.collect()) == sorted(
        (text, "unparsable_json") for text in texts.values()
    )


def test_the_documents_are_read_and_flattened_once_also_when_a_rate_repeats(spark, tmp_path):
    """Until session 30 every document was parsed twice, and the whole input twice again for repeats.

    Unparsable documents were a second branch of a union (1,009 records read here), and the
    repeated rates were found in a second read and flattening of the input.
    """
    raw = tmp_path / "raw"
    raw.mkdir()
    days = [dt.date(2010, 1, 1) + dt.timedelta(days=index) for index in range(500)]
    documents = [{"USD": {"GBP": {day.isoformat(): OK}}} for day in days] + [REPEATED_DOCUMENT]
    (raw / "rates.jsonl").write_text("".join(json.dumps(document) + "\n" for document in documents))
    argv = ["--input_path", str(raw), "--output_path", str(tmp_path / "out"), "--json_lines", "true"]
    with records_read(spark) as read:
        result = fx_rates.run(spark, fx_rates.parse_args(argv))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (
        501,
        500,
        {"duplicate_key:base,quote,date": 1},
    )
    assert 501 <= read[0] < 550  # the lines once and a few cached batches (twice: over 1,000)


def test_a_currency_code_ending_in_a_line_break_is_quarantined_not_a_partition_of_its_own(spark, tmp_path):
    """Java's ``$`` also matches before a final line break: ``USD\\n`` passed as a code of 3 letters."""
    day = {"open": 1.1, "high": 1.2, "low": 1.0, "close": 1.1}
    (tmp_path / "fx.json").write_text(
        json.dumps({"USD\n": {"GBP": {"2010-01-01": day}}, "EUR": {"GBP\n": {"2010-01-01": day}}})
    )
    argv = ["--input_path", str(tmp_path / "fx.json"), "--output_path", str(tmp_path / "fx"), "--max_bad_fraction", "1"]
    result = fx_rates.run(spark, fx_rates.parse_args(argv))
    assert (result.rows_read, result.rows_written) == (2, 0)
    assert result.quarantine_reasons == {"invalid_currency:base": 1, "invalid_currency:quote": 1}
