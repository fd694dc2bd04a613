"""transactions: validated, deduplicated within and across batches, Parquet and Delta alike."""

import datetime as dt
import json
import os
import subprocess
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakejobs import cli
from lakejobs.jobs import JOBS, transactions
from tests.conftest import ROOT, VENV_BIN, job_env


def event(tid, amount, time, account="a1", currency="EUR", **extra):
    return json.dumps(
        {"transaction_id": tid, "account_id": account, "amount": amount, "currency": currency, "event_time": time}
        | extra
    )


BATCH_1 = [
    event("t1", "10.50", "2024-03-01T10:15:00Z", currency="eur", merchant="Cafe", category="food"),
    event("t2", -4.2, "2024-03-01T23:30:00+02:00", account="a2", currency="USD"),
    event("t3", 99, "2024-03-02 08:00:00", currency="GBP", merchant="  Shop  ", category=""),
    "",
    event("t1", "11.00", "2024-03-01T10:15:00Z"),
    '{"transaction_id": "t9", ',
    event("t10", "1.00", "2024-03-01T00:00:00Z") + event("t11", "2.00", "2024-03-01T00:00:00Z"),  # two on one line
    json.dumps({"transaction_id": "t4", "account_id": "a1", "amount": "1.00", "event_time": "2024-03-01T00:00:00Z"}),
    event("t5", "1,5", "2024-03-01T00:00:00Z"),
    event("t6", "1.005", "2024-03-01T00:00:00Z"),
    event("t7", "1.00", "03/01/2024"),
    event("t8", "1.00", "2024-03-01T00:00:00Z", currency="EURO"),
    event("", "1.00", "2024-03-01T00:00:00Z"),
]
REASONS_1 = {
    "duplicate_key:transaction_id": 1,
    "malformed_record": 2,
    "missing_value:currency": 1,
    "invalid_decimal:amount": 1,
    "too_many_decimals:amount": 1,
    "invalid_timestamp:event_time": 1,
    "invalid_currency:currency": 1,
    "missing_value:transaction_id": 1,
}
#: (raw_line, reason, detail) of BATCH_1's quarantine.
QUARANTINE_1 = [
    (BATCH_1[4], "duplicate_key:transaction_id", "key (t1) appears more than once in this batch"),
    (BATCH_1[12], "missing_value:transaction_id", "transaction_id is missing or empty"),
    (BATCH_1[6], "malformed_record", "the line is not one JSON object"),
    (BATCH_1[7], "missing_value:currency", "currency is missing or empty"),
    (BATCH_1[8], "invalid_decimal:amount", "amount_text=1,5"),
    (BATCH_1[9], "too_many_decimals:amount", "amount_text=1.005 has more than 2 decimals"),
    (BATCH_1[10], "invalid_timestamp:event_time", "event_time_text=03/01/2024 is not an ISO-8601 timestamp"),
    (BATCH_1[11], "invalid_currency:currency", "currency_text=EURO"),
    ('{"transaction_id": "t9", ', "malformed_record", "the line is not one JSON object"),
]
BATCH_2 = [
    event("t3", 99, "2024-03-02 08:00:00", currency="GBP", merchant="  Shop  ", category=""),
    event("t2", -9.99, "2024-03-01T23:30:00+02:00", account="a2", currency="USD"),
    event("t5", "1.50", "2024-03-03T00:59:59Z"),
    event("t6", 0, "2024-03-03T01:00:00Z", account="a3"),
]
SCHEMA = (
    "transaction_id string, account_id string, amount decimal(18,2), currency string, event_time string, "
    "merchant string, category string, amount_minor bigint, is_refund boolean, event_hour int, event_date date"
)
ROW_T1 = ("t1", "a1", Decimal("10.50"), "EUR", "2024-03-01 10:15:00", "Cafe", "food", 1050, False, 10)
ROW_T2 = ("t2", "a2", Decimal("-4.20"), "USD", "2024-03-01 21:30:00", None, None, -420, True, 21)
ROW_T3 = ("t3", "a1", Decimal("99.00"), "GBP", "2024-03-02 08:00:00", "Shop", None, 9900, False, 8)
ROW_T5 = ("t5", "a1", Decimal("1.50"), "EUR", "2024-03-03 00:59:59", None, None, 150, False, 0)
ROW_T6 = ("t6", "a3", Decimal("0.00"), "EUR", "2024-03-03 01:00:00", None, None, 0, False, 1)


def expected_table(spark, rows):
    with_dates = [(*row, dt.date.fromisoformat(row[4][:10])) for row in rows]
    return spark.createDataFrame(with_dates, SCHEMA).withColumn("event_time", F.to_timestamp("event_time"))


def write_batch(folder, lines):
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def load(spark, batch, table, fmt="parquet"):
    argv = ["--input_path", str(batch), "--output_path", str(table), "--format", fmt, "--max_bad_fraction", "1"]
    return transactions.run(spark, transactions.parse_args(argv))


def read_table(spark, table, fmt, columns):
    reader = spark.read.format("delta") if fmt == "delta" else spark.read.format("parquet")
    return reader.load(str(table)).select(*columns)


def test_batches_are_validated_and_loaded_once_per_id_in_parquet(spark, tmp_path):
    batch_1 = write_batch(tmp_path / "raw" / "batch=1", BATCH_1)
    batch_2 = write_batch(tmp_path / "raw" / "batch=2", BATCH_2)
    table = tmp_path / "transactions"

    first = load(spark, batch_1, table)
    assert (first.rows_read, first.rows_written, first.rows_quarantined) == (12, 3, 9)
    assert first.quarantine_reasons == REASONS_1
    assert (first.details["rows_inserted"], first.details["rows_already_loaded"]) == (3, 0)
    expected_1 = expected_table(spark, [ROW_T1, ROW_T2, ROW_T3])
    assert_df_equality(
        read_table(spark, table, "parquet", expected_1.columns), expected_1, ignore_row_order=True, ignore_nullable=True
    )

    replay = load(spark, batch_1, table)
    assert (replay.rows_written, replay.details["rows_inserted"], replay.details["rows_already_loaded"]) == (3, 0, 3)
    second = load(spark, batch_2, table)
    assert (second.rows_read, second.rows_written, second.rows_quarantined) == (4, 4, 0)
    assert (second.details["rows_inserted"], second.details["rows_already_loaded"]) == (2, 2)
    expected = expected_table(spark, [ROW_T1, ROW_T2, ROW_T3, ROW_T5, ROW_T6])
    assert_df_equality(
        read_table(spark, table, "parquet", expected.columns), expected, ignore_row_order=True, ignore_nullable=True
    )

    # Batch 1 uploaded again (a new modification time, so a new batch id), then replayed.
    os.utime(batch_1 / "events.jsonl", (1_700_000_000, 1_700_000_000))
    reupload = load(spark, batch_1, table)
    assert (reupload.details["rows_inserted"], reupload.details["rows_already_loaded"]) == (0, 3)
    assert_df_equality(
        read_table(spark, table, "parquet", expected.columns), expected, ignore_row_order=True, ignore_nullable=True
    )

    # Each replay replaced batch 1's quarantine (one folder per source file); batch 2 had none.
    quarantine = spark.read.json(str(tmp_path / "transactions_quarantine")).select("raw_line", "reason", "detail")
    assert sorted(tuple(row) for row in quarantine.collect()) == sorted(QUARANTINE_1)


def test_delta_merge_inserts_only_new_ids(spark, tmp_path):
    table = tmp_path / "transactions"
    load(spark, write_batch(tmp_path / "raw" / "batch=1", BATCH_1), table, "delta")
    second = load(spark, write_batch(tmp_path / "raw" / "batch=2", BATCH_2), table, "delta")
    assert (second.rows_written, second.details["rows_inserted"], second.details["rows_already_loaded"]) == (4, 2, 2)
    assert second.outputs[0].rows == 2
    expected = expected_table(spark, [ROW_T1, ROW_T2, ROW_T3, ROW_T5, ROW_T6])
    assert_df_equality(
        read_table(spark, table, "delta", expected.columns), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_a_line_closing_a_bracket_before_another_event_or_in_single_quotes_is_malformed(spark, tmp_path):
    """``json_array_length`` stops at the first ``]`` (t11 was lost); single quotes escape the numbers' quoting."""
    lines = [
        event("t10", "1.00", "2024-03-01T00:00:00Z") + "]" + event("t11", "2.00", "2024-03-01T00:00:00Z"),
        event("t12", "1.00", "2024-03-01T00:00:00Z") + "," + event("t13", "2.00", "2024-03-01T00:00:00Z") + "]",
        "{'transaction_id': 't14', 'account_id': 'a1', 'amount': 1.005, 'currency': 'EUR',"
        " 'event_time': '2024-03-01T00:00:00Z'}",
        event("t15", 3.25, "2024-03-01T00:00:00Z"),
    ]
    result = load(spark, write_batch(tmp_path / "raw" / "batch=1", lines), tmp_path / "transactions")
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (4, 1, {"malformed_record": 3})
    table = spark.read.parquet(str(tmp_path / "transactions")).select("transaction_id", "amount")
    assert [tuple(row) for row in table.collect()] == [("t15", Decimal("3.25"))]
    quarantine = spark.read.json(str(tmp_path / "transactions_quarantine")).select("raw_line", "reason")
    assert sorted(tuple(row) for row in quarantine.collect()) == sorted(
        (line, "malformed_record") for line in lines[:3]
    )


def test_the_field_jobs_are_listed_and_bad_arguments_are_one_line():
    assert {"taxi_trips", "fx_rates", "stock_prices", "transactions"} <= set(JOBS)
    assert cli.main(["jobs"]) == 0
    completed = subprocess.run(
        [str(VENV_BIN / "lakejobs"), "run", "transactions", "--input_path", "no/such", "--output_path", "/tmp/t"],
        cwd=ROOT,
        env=job_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert len(completed.stderr.strip().splitlines()) == 1
    assert completed.stderr.startswith("transactions: error: input path does not exist: ")


def test_bytes_that_are_not_utf8_are_quarantined_not_merged_into_another_id(spark, tmp_path):
    """Read as U+FFFD, ``T\\xff1`` and ``T\\xfe1`` became one id: the second was counted as already loaded."""
    batch = tmp_path / "raw" / "batch=1"
    batch.mkdir(parents=True)
    lines = [
        event(tid, "1.00", "2024-03-01T00:00:00Z").encode().replace(b"@", raw)
        for tid, raw in [("T@1", b"\xff"), ("T@2", b"\xfe"), ("ok", b"")]
    ]
    lines.append(event("cafe", "2.00", "2024-03-01T00:00:00Z", merchant="Caf@").encode().replace(b"@", b"\xe9"))
    (batch / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    result = load(spark, batch, tmp_path / "transactions")
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (4, 1, {"invalid_utf8": 3})
    table = spark.read.parquet(str(tmp_path / "transactions")).select("transaction_id", "amount")
    assert [tuple(row) for row in table.collect()] == [("ok", Decimal("1.00"))]
    quarantine = spark.read.json(str(tmp_path / "transactions_quarantine")).select("reason", "detail")
    assert [tuple(row) for row in quarantine.collect()] == [
        ("invalid_utf8", "the line has bytes that are not valid UTF-8 (or the character U+FFFD they are read as)")
    ] * 3


def test_text_holding_nul_or_given_as_an_object_or_array_is_quarantined(spark, tmp_path):
    """Both were published: NUL as text every later warehouse load refused (and a table that keeps the
    first copy of an id cannot be corrected), an object or array as its JSON text."""
    lines = [
        event("t1", "1.00", "2024-03-01T00:00:00Z", merchant="M\u0000X"),
        event({"a": 1}, "1.00", "2024-03-01T00:00:00Z"),
        event("t3", "1.00", "2024-03-01T00:00:00Z", category=["food"]),
        event("t4", "1.00", "2024-03-01T00:00:00Z", merchant="[Brand] {shop}", category='a"merchant": {'),
        # A key of the same name inside another object; a string holding JSON: text all the same.
        event("t5", "1.00", "2024-03-01T00:00:00Z", merchant="Shop", payment={"merchant": {"id": 5}}),
        event("t6", "1.00", "2024-03-01T00:00:00Z", merchant="[1,2]"),
    ]
    result = load(spark, write_batch(tmp_path / "raw", lines), tmp_path / "transactions")
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (
        6,
        3,
        {"nul_character": 1, "not_text:transaction_id": 1, "not_text:category": 1},
    )
    table = spark.read.parquet(str(tmp_path / "transactions")).select("transaction_id", "merchant", "category")
    assert sorted(tuple(row) for row in table.collect()) == [
        ("t4", "[Brand] {shop}", 'a"merchant": {'),
        ("t5", "Shop", None),
        ("t6", "[1,2]", None),
    ]
    quarantine = spark.read.json(str(tmp_path / "transactions_quarantine")).select("raw_line", "reason", "detail")
    assert sorted(tuple(row) for row in quarantine.collect()) == sorted(
        [
            (lines[0], "nul_character", "a text field holds NUL characters (U+0000)"),
            (lines[1], "not_text:transaction_id", "transaction_id is a JSON object or array, not text"),
            (lines[2], "not_text:category", "category is a JSON object or array, not text"),
        ]
    )


def test_a_currency_ending_in_a_line_break_is_quarantined_not_published(spark, tmp_path):
    """Java's ``$`` also matches before a final line break: ``EUR\\n`` passed as a 3-letter code."""
    batch = write_batch(tmp_path / "raw", [event("t1", "1.00", "2024-03-01T00:00:00Z", currency="EUR\n")])
    result = load(spark, batch, tmp_path / "transactions")
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (
        1,
        0,
        {"invalid_currency:currency": 1},
    )


def test_a_time_whose_utc_date_is_past_9999_is_quarantined(spark, tmp_path):
    """Its event_date partition was ``+10000-01-01``, a table pyarrow could not read back."""
    lines = [event("t1", "1.00", "9999-12-31T23:59:59-12:00"), event("t2", "1.00", "9999-12-31T23:59:59Z")]
    result = load(spark, write_batch(tmp_path / "raw", lines), tmp_path / "transactions")
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (
        2,
        1,
        {"invalid_timestamp:event_time": 1},
    )
    [bad] = spark.read.json(str(tmp_path / "transactions_quarantine")).select("detail").collect()
    assert bad.detail == "event_time_text=9999-12-31T23:59:59-12:00 is past 9999-12-31 in UTC"


def test_the_sample_batches(spark, tmp_path):
    """The bundled sample's two batches: each id published once, the second batch's repeats not again."""
    ids = []
    for path in sorted((ROOT / "data" / "sample" / "rawData" / "transactions").glob("batch=*/events.jsonl")):
        ids += [line.split('"transaction_id": "', 1)[1].split('"', 1)[0] for line in path.read_text().splitlines()]
    table = tmp_path / "transactions"
    first, second = (
        load(spark, ROOT / "data" / "sample" / "rawData" / "transactions" / batch, table)
        for batch in ("batch=2024-03-02", "batch=2024-03-03")
    )
    assert (first.rows_read, first.rows_written, first.rows_quarantined) == (100, 96, 4)
    assert (second.rows_read, second.rows_written, second.rows_quarantined) == (60, 59, 1)
    assert (first.details["rows_inserted"], second.details["rows_inserted"]) == (96, 44)
    assert second.details["rows_already_loaded"] == 15
    bad = {"tx-900001", "tx-900002", "tx-900003", "tx-900004"}
    published = sorted(row.transaction_id for row in spark.read.parquet(str(table)).select("transaction_id").collect())
    assert published == sorted(set(ids) - bad)  # one row per id: the batch's repeat and the replays not again
    assert len(ids) == 160 and len(published) == 140
