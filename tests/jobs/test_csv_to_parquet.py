"""csv_to_parquet on dirty, headered and never-seen inputs, with exact outcomes."""

import csv
import datetime as dt
import json
import subprocess
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from lakejobs.errors import LakejobsError, QualityGateError
from lakejobs.generate import generate
from lakejobs.jobs import csv_to_parquet
from lakejobs.schemas import EMPLOYEES
from tests.conftest import (
    SAMPLE_RAW,
    VENV_BIN,
    expected_orders,
    expected_orders_of_rows,
    job_env,
    read_raw_rows,
    stderr_lines,
)
from tests.parquet_layout import columns_without_dictionary

GOOD_LINES = (SAMPLE_RAW / "orders" / "orders-00000.csv").read_bytes().splitlines()[:20]
#: The orders columns without a dictionary in a small output: the dataset's plain columns (spelled
#: out), and productid, which falls back to PLAIN on its own.
ORDERS_WITHOUT_DICTIONARY = {
    "productid",
    "salesorderid",
    "salesorderdetailid",
    "customerid",
    "subtotal",
    "taxamt",
    "freight",
    "totaldue",
    "unitprice",
    "linetotal",
}
BAD_LINES = {
    b"71782,110667,5/1/2014,5/13/2014,5/8/2014,276,293": "malformed_record",
    b"44110,1732,8/1/2011,8/13/2011,8/8/2011,277,295,16667.3077,1600.6864,500.2145,18768.2086,765,2,419.4589,0,"
    b"838.9178,9": "malformed_record",
    b"44111,1733,8/1/2011,8/13/2011,8/8/2011,277,295,10,1,1,12,765,two,5,0,10": "invalid_int:orderqty",
    b"44112,1734,8/1/2011,8/13/2011,8/8/2011,277,295,1.2.3,1,1,12,765,2,5,0,10": "invalid_decimal:subtotal",
    b"44113,1735,2/30/2014,3/13/2014,3/8/2014,277,295,10,1,1,12,765,2,5,0,10": "invalid_date:orderdate",
    b",1736,8/1/2011,8/13/2011,8/8/2011,277,295,10,1,1,12,765,2,5,0,10": "null_key:salesorderid",
    b"44115,1737,8/1/2011,8/13/2011,8/8/2011,277,295,10,1,1,12,765,2,5\xff\xfe,0,10": "invalid_utf8",
    # A cast to decimal(17,4) would round it to 5.0000 without a word.
    b"44116,1738,8/1/2011,8/13/2011,8/8/2011,277,295,10,1,1,12,765,2,5.00001,0,10": "too_many_decimals:unitprice",
}


def run_job(spark, argv):
    return csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))


@pytest.fixture
def dirty_orders(tmp_path):
    folder = tmp_path / "raw" / "orders"
    folder.mkdir(parents=True)
    (folder / "orders-dirty.csv").write_bytes(b"\n".join(GOOD_LINES + list(BAD_LINES)) + b"\n")
    return folder


def orders_argv(raw, out, fraction):
    return [
        "--dataset",
        "orders",
        "--input_path",
        str(raw),
        "--output_path",
        str(out / "orders"),
        "--quarantine_path",
        str(out / "quarantine"),
        "--max_bad_fraction",
        str(fraction),
    ]


def quarantined(spark, path):
    return spark.read.json(str(path)).select("raw_line", "reason", "source_file")


def expected_bad_rows(spark, dirty_orders):
    """The quarantine rows of ``dirty_orders``: each bad line as read, its reason, its file."""
    source_file = (dirty_orders / "orders-dirty.csv").as_uri()
    return spark.createDataFrame(
        [(line.decode("utf-8", errors="replace"), reason, source_file) for line, reason in BAD_LINES.items()],
        "raw_line string, reason string, source_file string",
    )


def test_a_run_failing_after_its_quarantine_is_published_reports_that_quarantine(
    spark, dirty_orders, tmp_path, monkeypatch
):
    """Its FAILED report listed no output, though the quarantine had been replaced."""

    def failing_commit(*_args, **_kwargs):
        raise RuntimeError("simulated commit failure")

    monkeypatch.setattr(csv_to_parquet, "commit_parquet", failing_commit)
    argv = orders_argv(dirty_orders, tmp_path / "out", 0.5) + ["--report_path", str(tmp_path / "runs")]
    with pytest.raises(LakejobsError, match="the run failed in stage write: .*simulated commit failure"):
        run_job(spark, argv)
    [report] = [json.loads(path.read_text()) for path in (tmp_path / "runs" / "csv_to_parquet").iterdir()]
    assert report["status"] == "FAILED"
    assert [(output["name"], output["rows"]) for output in report["outputs"]] == [("quarantine", 8)]
    assert quarantined(spark, tmp_path / "out" / "quarantine").count() == 8
    assert not (tmp_path / "out" / "orders").exists()


def test_dirty_orders_within_threshold_split_exactly_into_output_and_quarantine(spark, dirty_orders, tmp_path):
    result = run_job(spark, orders_argv(dirty_orders, tmp_path / "out", 0.5))
    assert (result.status, result.rows_read, result.rows_written, result.rows_quarantined) == ("SUCCEEDED", 28, 20, 8)
    assert result.quarantine_reasons == {
        "malformed_record": 2,
        "invalid_int:orderqty": 1,
        "invalid_decimal:subtotal": 1,
        "invalid_date:orderdate": 1,
        "null_key:salesorderid": 1,
        "invalid_utf8": 1,
        "too_many_decimals:unitprice": 1,
    }
    assert_df_equality(
        quarantined(spark, tmp_path / "out" / "quarantine"),
        expected_bad_rows(spark, dirty_orders),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    output = spark.read.parquet(str(tmp_path / "out" / "orders"))
    assert_df_equality(output, expected_orders(spark, GOOD_LINES), ignore_row_order=True, ignore_nullable=True)
    # The dataset's plain columns (spelled out) have no dictionary; productid (16 values in 20
    # lines) falls back to PLAIN on its own; repeating columns (orderdate, employeeid, ...) keep theirs.
    without_dictionary = columns_without_dictionary(tmp_path / "out" / "orders")
    assert without_dictionary == ORDERS_WITHOUT_DICTIONARY


def test_a_corrected_file_clears_its_quarantine_without_planning_a_second_read(
    spark, dirty_orders, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    run_job(spark, orders_argv(dirty_orders, out, 0.5))
    assert quarantined(spark, out / "quarantine").count() == len(BAD_LINES)
    (dirty_orders / "orders-dirty.csv").write_bytes(b"\n".join(GOOD_LINES) + b"\n")

    def planned(*_args):
        raise AssertionError("a clean batch planned the quarantine's read")

    monkeypatch.setattr(csv_to_parquet, "quarantine_rows", planned)
    result = run_job(spark, orders_argv(dirty_orders, out, 0.5))
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (20, 20, 0)
    assert result.details["conversion"] == "single_pass"
    assert list((out / "quarantine").rglob("*.json")) == []
    published = spark.read.parquet(str(out / "orders"))
    assert_df_equality(published, expected_orders(spark, GOOD_LINES), ignore_row_order=True, ignore_nullable=True)


def test_dirty_orders_above_threshold_fail_and_leave_the_output_untouched(spark, dirty_orders, tmp_path):
    out = tmp_path / "out"
    run_job(spark, orders_argv(SAMPLE_RAW / "orders", out, 0.05))
    before = {p: p.stat().st_mtime_ns for p in (out / "orders").rglob("*")}
    with pytest.raises(QualityGateError) as raised:
        run_job(spark, orders_argv(dirty_orders, out, 0.05))
    assert str(raised.value) == (
        "orders: 8 of 28 rows (28.57%) are bad, above --max_bad_fraction 0.05; nothing was published "
        "(reasons: malformed_record=2, invalid_utf8=1, invalid_date:orderdate=1 and 4 more reasons (4 rows); "
        f"rows kept in {out / 'quarantine'}_rejected)"
    )
    assert raised.value.result.status == "FAILED"
    assert {p: p.stat().st_mtime_ns for p in (out / "orders").rglob("*")} == before
    bad_rows = expected_bad_rows(spark, dirty_orders)
    rejected_folders = [path.name for path in (out / "quarantine_rejected").iterdir()]
    assert rejected_folders == [f"run_id={raised.value.result.run_id}"]
    assert_df_equality(
        quarantined(spark, out / "quarantine_rejected"), bad_rows, ignore_row_order=True, ignore_nullable=True
    )
    assert spark.read.parquet(str(out / "orders")).count() == 300
    run_job(spark, orders_argv(dirty_orders, out, 0.5))  # a rerun that passes replaces the quarantine...
    assert_df_equality(quarantined(spark, out / "quarantine"), bad_rows, ignore_row_order=True, ignore_nullable=True)
    # ...and keeps the rejected rows
    assert_df_equality(
        quarantined(spark, out / "quarantine_rejected"), bad_rows, ignore_row_order=True, ignore_nullable=True
    )


def test_headered_variant_converts_to_the_same_rows(spark, tmp_path):
    generate(str(tmp_path / "raw"), 300, seed=7, header=True)
    result = run_job(
        spark,
        [
            "--dataset",
            "orders",
            "--header",
            "true",
            "--input_path",
            str(tmp_path / "raw" / "orders"),
            "--output_path",
            str(tmp_path / "headered"),
        ],
    )
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (300, 300, 0)
    # The sample is the same generator's output (seed 7) without the header line.
    assert_df_equality(
        spark.read.parquet(str(tmp_path / "headered")),
        expected_orders_of_rows(spark, read_raw_rows(SAMPLE_RAW / "orders")),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_a_header_row_that_was_not_declared_is_quarantined_not_lost(spark, tmp_path):
    generate(str(tmp_path / "raw"), 30, seed=1, header=True)
    result = run_job(
        spark,
        [
            "--dataset",
            "customers",
            "--input_path",
            str(tmp_path / "raw" / "customers"),
            "--output_path",
            str(tmp_path / "customers"),
        ],
    )
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (41, 40, {"invalid_int:customerid": 1})
    [raw_file] = (tmp_path / "raw" / "customers").glob("*.csv")
    header = raw_file.read_text().splitlines()[0]
    assert header.startswith("customerid,")
    quarantine = spark.read.json(str(tmp_path / "customers_quarantine")).select("raw_line", "reason")
    expected = spark.createDataFrame([(header, "invalid_int:customerid")], "raw_line string, reason string")
    assert_df_equality(quarantine, expected, ignore_nullable=True)


UNSEEN = [
    ["sku", "title", "price", "launched", "note"],
    ["A-1", "Widget, large", "12.50", "04.03.2021", 'says "hi", twice'],
    ["B-2", "Gadget", "7", "31.12.2020", "plain"],
    ["C-3", "Sprocket, small, blue", "0.99", "15.01.2019", "x"],
]


def test_an_unseen_csv_converts_with_only_a_ddl_and_matches_pythons_csv_reader(spark, tmp_path):
    source = tmp_path / "products.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(UNSEEN)
    result = run_job(
        spark,
        [
            "--schema",
            "sku STRING NOT NULL, title STRING, price DECIMAL(10,2), launched DATE, note STRING",
            "--primary_key",
            "sku",
            "--header",
            "true",
            "--date_format",
            "dd.MM.yyyy",
            "--input_path",
            str(source),
            "--output_path",
            str(tmp_path / "products"),
        ],
    )
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (3, 3, 0)
    with open(source, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    expected = spark.createDataFrame(
        [
            (sku, title, Decimal(price).quantize(Decimal("0.01")), dt.datetime.strptime(day, "%d.%m.%Y").date(), note)
            for sku, title, price, day, note in rows
        ],
        "sku string, title string, price decimal(10,2), launched date, note string",
    )
    assert_df_equality(
        spark.read.parquet(str(tmp_path / "products")), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_user_partitioning_and_zstd_compression(spark, tmp_path):
    result = run_job(
        spark,
        [
            "--dataset",
            "employees",
            "--partition_by",
            "country",
            "--compression",
            "zstd",
            "--input_path",
            str(SAMPLE_RAW / "employees"),
            "--output_path",
            str(tmp_path / "emp"),
        ],
    )
    files = sorted(str(p.relative_to(tmp_path / "emp")) for p in (tmp_path / "emp").rglob("*.parquet"))
    assert [f.split("/")[0] for f in files] == [
        "country=AU",
        "country=CA",
        "country=DE",
        "country=FR",
        "country=GB",
        "country=US",
        "country=__HIVE_DEFAULT_PARTITION__",
    ]
    assert all(f.endswith(".zstd.parquet") for f in files)
    assert (result.rows_read, result.rows_written, result.outputs[0].files) == (18, 18, 7)
    table = spark.read.parquet(str(tmp_path / "emp")).select(*EMPLOYEES.fieldNames())
    assert_df_equality(table, typed_employees(spark), ignore_row_order=True, ignore_nullable=True)


def typed_employees(spark):
    """The sample's employees typed in plain Python (empty fields as null)."""
    whole = {"employeeid", "managerid", "organizationlevel"}
    rows = [
        tuple(
            None if text == "" else int(text) if name in whole else text
            for name, text in zip(EMPLOYEES.fieldNames(), row)
        )
        for row in read_raw_rows(SAMPLE_RAW / "employees")
    ]
    return spark.createDataFrame(rows, EMPLOYEES)


def test_an_empty_folder_converts_to_an_empty_table(spark, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_job(
        spark,
        ["--dataset", "customers", "--input_path", str(tmp_path / "empty"), "--output_path", str(tmp_path / "out")],
    )
    assert (result.status, result.rows_read, result.rows_written) == ("SUCCEEDED", 0, 0)
    written = spark.read.parquet(str(tmp_path / "out"))
    assert (written.count(), written.columns) == (0, ["customerid", "firstname", "lastname", "fullname"])


def test_main_prints_the_result_as_the_last_stdout_line(spark, tmp_path, capsys):
    code = csv_to_parquet.main(
        [
            "--JOB_NAME",
            "convert",
            "--dataset",
            "employees",
            "--input_path",
            str(SAMPLE_RAW / "employees"),
            "--output_path",
            str(tmp_path / "e"),
        ]
    )
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert code == 0
    assert {
        k: result[k]
        for k in (
            "job",
            "status",
            "rows_read",
            "rows_written",
            "rows_quarantined",
            "quarantine_reasons",
            "files_written",
        )
    } == {
        "job": "csv_to_parquet",
        "status": "SUCCEEDED",
        "rows_read": 18,
        "rows_written": 18,
        "rows_quarantined": 0,
        "quarantine_reasons": {},
        "files_written": 1,
    }
    assert set(result) >= {"run_id", "outputs", "bytes_written", "duration_s"}


def test_main_turns_a_failed_gate_into_exit_1_and_one_stderr_line(spark, dirty_orders, tmp_path, capsys):
    code = csv_to_parquet.main(orders_argv(dirty_orders, tmp_path / "out", 0.05))
    captured = capsys.readouterr()
    assert code == 1
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["status"] == "FAILED"
    run_id, out = result["run_id"], tmp_path / "out"
    # The job's own log lines (the single pass stages the good rows before the gate), then one error line.
    assert stderr_lines(captured.err) == [
        f"INFO lakejobs.io.writer: wrote orders: 20 rows in 2 files to {out}/orders/_staging/run_id={run_id}",
        f"INFO lakejobs.io.writer: wrote rejected: 8 rows in 1 files to {out}/quarantine_rejected/run_id={run_id}",
        "csv_to_parquet: error: orders: 8 of 28 rows (28.57%) are bad, above --max_bad_fraction 0.05; "
        "nothing was published (reasons: malformed_record=2, invalid_utf8=1, invalid_date:orderdate=1 "
        "and 4 more reasons (4 rows); "
        f"rows kept in {out}/quarantine_rejected)",
    ]


def test_a_column_name_with_a_space_converts_and_its_repeated_key_is_quarantined(spark, tmp_path):
    """Backticked names are advertised; the repeated-key path names columns in selects and joins."""
    source = tmp_path / "items.csv"
    source.write_text("1,5/1/2014,a\n2,5/2/2014,b\n1,5/3/2014,c\n", encoding="utf-8")
    argv = ["--schema", "`item id` INT NOT NULL, `sold on` DATE, note STRING", "--primary_key", "item id"]
    argv += ["--date_format", "M/d/yyyy", "--partition_by", "sold on", "--max_bad_fraction", "0.5"]
    result = run_job(spark, [*argv, "--input_path", str(source), "--output_path", str(tmp_path / "items")])
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (3, 2, {"duplicate_key:item id": 1})
    expected = spark.createDataFrame(
        [(1, "a", dt.date(2014, 5, 1)), (2, "b", dt.date(2014, 5, 2))], "`item id` int, note string, `sold on` date"
    )
    written = spark.read.parquet(str(tmp_path / "items"))
    assert_df_equality(written, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_report_that_cannot_be_written_after_the_commit_leaves_the_run_succeeded(
    spark, tmp_path, monkeypatch, caplog
):
    """The rows and state were published; turning the run FAILED (exit 1) then misled the scheduler."""
    from lakejobs.io import reports

    written = reports.fs.write_text

    def refuse_reports(spark_, path, text):
        if "/runs/" in path:
            raise OSError("AccessDenied")
        written(spark_, path, text)

    monkeypatch.setattr(reports.fs, "write_text", refuse_reports)
    source = tmp_path / "a.csv"
    source.write_text("1,x\n2,y\n", encoding="utf-8")
    argv = ["--schema", "id INT NOT NULL, note STRING", "--input_path", str(source)]
    result = run_job(spark, [*argv, "--output_path", str(tmp_path / "out"), "--report_path", str(tmp_path / "runs")])
    assert (result.status, result.rows_written) == ("SUCCEEDED", 2)
    assert spark.read.parquet(str(tmp_path / "out")).count() == 2
    assert not (tmp_path / "runs").exists()
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert f"could not write the run report to {tmp_path / 'runs'}: OSError: AccessDenied" in warnings


def test_a_run_failing_inside_spark_prints_one_stderr_line_not_java_stacks(tmp_path):
    """The failure surfaces in Spark's tasks (an injected Python worker error): its logs stay off the console."""
    (tmp_path / "a.csv").write_text("1,note\n", encoding="utf-8")
    argv = ["run", "csv_to_parquet", "--schema", "id INT NOT NULL, note STRING"]
    argv += ["--input_path", str(tmp_path / "a.csv"), "--output_path", str(tmp_path / "out")]
    completed = subprocess.run(
        [str(VENV_BIN / "lakejobs"), *argv],
        env={**job_env(), "LAKEJOBS_FAIL_TASK": "first_attempt"},  # one attempt per task locally: the run fails
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 1
    # The injected fault says so on the worker's stderr first; then the job's one line.
    assert completed.stderr.splitlines() == [
        "fault injection: the first attempt of partition 0 fails",
        "csv_to_parquet: error: out: the run failed in stage read_validate_and_stage: "
        "PythonException: RuntimeError: fault injection: the first attempt of partition 0 fails",
    ]


def test_an_input_below_a_folder_named_like_bookkeeping_is_read_whole(spark, tmp_path):
    """Files are skipped by name (``_SUCCESS``, ``.crc``) below the input, never for its own path."""
    raw = tmp_path / "_in" / "o"
    raw.mkdir(parents=True)
    (raw / "orders.csv").write_text((SAMPLE_RAW / "orders" / "orders-00000.csv").read_text())
    (raw / "_SUCCESS").write_text("")
    argv = ["--dataset", "orders", "--input_path", str(raw), "--output_path", str(tmp_path / "out")]
    result = run_job(spark, argv)
    lines = len((raw / "orders.csv").read_text().splitlines())
    assert (result.rows_read, result.details["input_files"], result.outputs[0].files) == (lines, 1, 4)
