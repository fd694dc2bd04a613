"""The bad-input battery: every dirty input gives an exact, explained outcome and loses no line.

Cases already covered elsewhere (tests/jobs/test_csv_to_parquet.py): too few and too many
fields, unparsable ints and decimals, an impossible date, a null key, non-UTF-8 bytes, a header
row where none is declared, an empty folder. Here: negative quantities and other rule breaks, a
UTF-8 BOM, CRLF line ends, an empty file, duplicate keys within a file and across files, orphan
foreign keys, a 1 MB line, quoted fields with embedded delimiters and newlines (with and
without --multiline), and a declared header that is missing.
"""

import csv
import datetime as dt
import json
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from lakejobs.errors import LakejobsError
from lakejobs.jobs import csv_to_parquet
from tests.conftest import SAMPLE_RAW, expected_orders, typed_order

SAMPLE = (SAMPLE_RAW / "orders" / "orders-00000.csv").read_text().splitlines()
MEGABYTE = "x" * 1_000_000


def with_field(line, index, value):
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


def typed_text(line):
    """A duplicate's quarantine line: its typed values written back as CSV, dates as M/d/yyyy."""
    values = typed_order(next(csv.reader([line])))
    return ",".join(_as_text(value) for value in values)


def _as_text(value):
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return f"{value.month}/{value.day}/{value.year}"
    return str(value)


# a.csv: UTF-8 BOM, CRLF line ends, a repeated key inside the file, a negative quantity, a 1 MB line.
A_LINES = [SAMPLE[0], SAMPLE[1], SAMPLE[2], SAMPLE[3]]
A_DUPLICATE = with_field(SAMPLE[0], 12, "9")
A_NEGATIVE = with_field(SAMPLE[4], 12, "-2")
# b.csv: LF, a key repeated from a.csv, an unknown customer (kept; measured), a discount above 1.
B_LINES = [SAMPLE[5], SAMPLE[6], SAMPLE[7]]
B_DUPLICATE = with_field(SAMPLE[1], 12, "4")
B_ORPHAN = with_field(SAMPLE[8], 6, "99999")
B_DISCOUNT = with_field(SAMPLE[9], 14, "1.5")


def run_job(spark, argv):
    return csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))


@pytest.fixture(scope="module")
def dirty_orders_run(spark, tmp_path_factory):
    """One run over three files (one empty) with the customers and employees tables beside the output."""
    root = tmp_path_factory.mktemp("battery")
    raw = root / "raw" / "orders"
    raw.mkdir(parents=True)
    a_text = "\r\n".join(A_LINES + [A_DUPLICATE, A_NEGATIVE, MEGABYTE]) + "\r\n"
    (raw / "a.csv").write_bytes(b"\xef\xbb\xbf" + a_text.encode("utf-8"))
    (raw / "b.csv").write_text("\n".join(B_LINES + [B_DUPLICATE, B_ORPHAN, B_DISCOUNT]) + "\n")
    (raw / "empty.csv").write_bytes(b"")
    customers = sorted({int(line.split(",")[0]) for line in (SAMPLE_RAW / "customers" / "customers.csv").open()})
    employees = sorted({int(line.split(",")[0]) for line in (SAMPLE_RAW / "employees" / "employees.csv").open()})
    spark.createDataFrame([(i,) for i in customers], "customerid int").write.parquet(str(root / "out" / "customers"))
    spark.createDataFrame([(i,) for i in employees], "employeeid int").write.parquet(str(root / "out" / "employees"))
    argv = ["--dataset", "orders", "--input_path", str(raw), "--output_path", str(root / "out" / "orders")]
    argv += ["--max_bad_fraction", "0.5"]
    return root, run_job(spark, argv)


def test_every_line_of_the_dirty_files_is_written_or_quarantined_for_a_specific_reason(dirty_orders_run):
    _root, result = dirty_orders_run
    assert (result.status, result.rows_read, result.rows_written, result.rows_quarantined) == ("SUCCEEDED", 13, 8, 5)
    assert result.quarantine_reasons == {
        "malformed_record": 1,
        'ColumnValues "orderqty" > 0': 1,
        'ColumnValues "unitpricediscount" between 0 and 1': 1,
        "duplicate_key:salesorderid,salesorderdetailid": 2,
    }


def test_the_quarantine_holds_each_bad_line_with_its_file_and_an_explanation(spark, dirty_orders_run):
    root, _result = dirty_orders_run
    a_file, b_file = ((root / "raw" / "orders" / name).as_uri() for name in ("a.csv", "b.csv"))
    expected = spark.createDataFrame(
        [
            (a_file, MEGABYTE, "malformed_record", "expected 16 fields separated by ','"),
            (a_file, typed_text(A_DUPLICATE), "duplicate_key:salesorderid,salesorderdetailid",
             "key (71782, 110667) appears more than once in this batch"),
            (a_file, A_NEGATIVE, 'ColumnValues "orderqty" > 0', 'orderqty=-2 breaks ColumnValues "orderqty" > 0'),
            (b_file, typed_text(B_DUPLICATE), "duplicate_key:salesorderid,salesorderdetailid",
             "key (71782, 1) appears more than once in this batch"),
            (b_file, B_DISCOUNT, 'ColumnValues "unitpricediscount" between 0 and 1',
             'unitpricediscount=1.5000 breaks ColumnValues "unitpricediscount" between 0 and 1'),
        ],
        "source_file string, raw_line string, reason string, detail string",
    )  # fmt: skip
    quarantine = spark.read.json(str(root / "out" / "orders_quarantine")).select(*expected.columns)
    assert_df_equality(quarantine, expected, ignore_row_order=True, ignore_nullable=True)


def test_the_good_rows_are_the_clean_lines_typed_with_the_bom_and_crs_gone(spark, dirty_orders_run):
    root, _result = dirty_orders_run
    good_lines = A_LINES + B_LINES + [B_ORPHAN]
    expected = expected_orders(spark, good_lines)
    actual = spark.read.parquet(str(root / "out" / "orders"))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_orphan_foreign_keys_are_measured_by_the_referential_integrity_rules(dirty_orders_run):
    _root, result = dirty_orders_run
    # A row rule is judged on the rows that reach it: orderqty's on 12 of the 13 lines (not the
    # malformed 1 MB line), the discount's on 11 (nor the line orderqty's rule quarantined).
    assert result.details["rules"] == [
        {"rule": 'ColumnValues "orderqty" > 0', "level": "row", "severity": "fail", "outcome": "quarantined",
         "measured": round(1 - 1 / 12, 6), "failing_rows": 1},
        {"rule": 'ColumnValues "unitprice" >= 0', "level": "row", "severity": "fail", "outcome": "passed",
         "measured": 1.0, "failing_rows": 0},
        {"rule": 'ColumnValues "unitpricediscount" between 0 and 1', "level": "row", "severity": "fail",
         "outcome": "quarantined", "measured": round(1 - 1 / 11, 6), "failing_rows": 1},
        {"rule": 'ReferentialIntegrity "customerid" "customers.customerid" >= 0.99', "level": "dataset",
         "severity": "warn", "outcome": "warned", "measured": 0.875},
        {"rule": 'ReferentialIntegrity "employeeid" "employees.employeeid" >= 0.99', "level": "dataset",
         "severity": "warn", "outcome": "passed", "measured": 1.0},
    ]  # fmt: skip


def test_the_run_report_is_written_beside_the_output_by_default(dirty_orders_run):
    root, result = dirty_orders_run
    report = root / "out" / "orders_lakejobs" / "runs" / "csv_to_parquet" / f"{result.run_id}.json"
    assert json.loads(report.read_text()) == json.loads(result.to_json())


NOTES = [
    ["id", "note", "amount"],
    ["1", "line one\nline two, with a comma", "1.50"],
    ["2", MEGABYTE, "2"],
    ["3", 'say "hi"', "x"],
]
NOTES_SCHEMA = "id INT NOT NULL, note STRING, amount DECIMAL(10,2)"


@pytest.fixture(scope="module")
def notes_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("notes") / "notes.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(NOTES)
    return path


def notes_argv(source, out, multiline):
    return ["--schema", NOTES_SCHEMA, "--primary_key", "id", "--header", "true", "--multiline", multiline,
            "--input_path", str(source), "--output_path", str(out), "--max_bad_fraction", "1"]  # fmt: skip


def test_quoted_fields_with_delimiters_newlines_and_a_1mb_value_read_whole_with_multiline(spark, notes_file, tmp_path):
    result = run_job(spark, notes_argv(notes_file, tmp_path / "notes", "true"))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (3, 2, {"invalid_decimal:amount": 1})
    expected = spark.createDataFrame(
        [(1, NOTES[1][1], Decimal("1.50")), (2, MEGABYTE, Decimal("2.00"))], "id int, note string, amount decimal(10,2)"
    )
    assert_df_equality(
        spark.read.parquet(str(tmp_path / "notes")), expected, ignore_row_order=True, ignore_nullable=True
    )
    quarantine = spark.read.json(str(tmp_path / "notes_quarantine")).select("raw_line", "detail").collect()
    assert [tuple(row) for row in quarantine] == [('3,"say ""hi""",x', "amount='x' is not a valid decimal(10,2)")]


def test_without_multiline_a_quoted_newline_splits_the_record_and_no_line_is_lost(spark, notes_file, tmp_path):
    result = run_job(spark, notes_argv(notes_file, tmp_path / "notes", "false"))
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (4, 1, 3)
    assert result.quarantine_reasons == {"malformed_record": 1, "invalid_int:id": 1, "invalid_decimal:amount": 1}
    # The three physical lines are in the quarantine, each with its reason. A line with the right
    # number of fields is rendered again from them (to_csv): the second comes back re-quoted, its
    # blank before "with" kept (the file has: line two, with a comma",1.50). The first line's
    # quote is not closed, and its detail says how to read such a file whole.
    quarantine = spark.read.json(str(tmp_path / "notes_quarantine")).select("raw_line", "reason", "detail")
    unclosed = (
        "expected 3 fields separated by ','; the line has an odd number of '\"': if quoted fields hold line"
        " breaks, read the file as multiline (csv_to_parquet --multiline true)"
    )
    expected = spark.createDataFrame(
        [
            ('1,"line one', "malformed_record", unclosed),
            ('line two," with a comma""",1.50', "invalid_int:id", "id='line two' is not a valid int"),
            ('3,"say ""hi""",x', "invalid_decimal:amount", "amount='x' is not a valid decimal(10,2)"),
        ],
        "raw_line string, reason string, detail string",
    )
    assert_df_equality(quarantine, expected, ignore_row_order=True, ignore_nullable=True)


UNCLOSED_FILES = {
    # A quote opened in the last field and never closed: Spark read lines 3 to 5 as one value.
    "unclosed.csv": 'id,name,note\n1,a,plain\n2,b,"multi\nline"\n3,c,"never closed\n4,d,x\n5,e,y\n',
    # The same on the file's last line (blanks around a field are kept in the quarantined text).
    "last_line.csv": 'id,name,note\n6,f,x\n7, g ,"open\n',
    # Never closed, then a later quoted value: the parser stops there, keeping the first quote.
    "stopped.csv": 'id,name,note\n10,j,plain\n11,k,"never closed\n12,l,x\n13,m,"quoted"\n14,n,y\n',
    # An odd number of quotes (one inside an unquoted value, kept as it is) and a last value of
    # two lines, properly closed: nothing to flag.
    "stray.csv": 'id,name,note\n8,h,12" pizza\n9,i,"ends\nhere"\n',
}


def test_with_multiline_a_quote_never_closed_in_the_last_field_quarantines_the_rest_of_the_file(spark, tmp_path):
    """Until session 46 the record was published with the file's later lines as its note."""
    source = tmp_path / "in"
    source.mkdir()
    for name, text in UNCLOSED_FILES.items():
        (source / name).write_text(text, encoding="utf-8")
    argv = ["--schema", "id INT NOT NULL, name STRING, note STRING", "--header", "true", "--multiline", "true"]
    argv += ["--input_path", str(source), "--output_path", str(tmp_path / "notes"), "--max_bad_fraction", "1"]
    result = run_job(spark, argv)
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (10, 7, {"malformed_record": 3})
    expected = spark.createDataFrame(
        [(1, "a", "plain"), (2, "b", "multi\nline"), (6, "f", "x"), (8, "h", '12" pizza'), (9, "i", "ends\nhere")]
        + [(10, "j", "plain"), (14, "n", "y")],
        "id int, name string, note string",
    )
    assert_df_equality(
        spark.read.parquet(str(tmp_path / "notes")), expected, ignore_row_order=True, ignore_nullable=True
    )
    detail = (
        "expected 3 fields separated by ','; it spans lines: if a '\"' is never closed, the rest of its file is read"
        " into it"
    )
    quarantine = spark.read.json(str(tmp_path / "notes_quarantine")).select("raw_line", "reason", "detail")
    expected_quarantine = spark.createDataFrame(
        [
            ('3,c,"never closed\n4,d,x\n5,e,y\n', "malformed_record", detail),
            ('7, g ,"open\n', "malformed_record", detail),
            ('11,k,"never closed\n12,l,x\n13,m,"quoted"', "malformed_record", detail),
        ],
        "raw_line string, reason string, detail string",
    )
    assert_df_equality(quarantine, expected_quarantine, ignore_row_order=True, ignore_nullable=True)


def test_a_header_naming_the_columns_in_another_order_asks_for_the_files_order(spark, tmp_path):
    """The old advice, --header false, loads the header as a row of text and swaps the columns."""
    source = tmp_path / "people.csv"
    source.write_text("last,first\nLovelace,Ada\n", encoding="utf-8")
    argv = ["--schema", "first STRING, last STRING", "--header", "true", "--input_path", str(source)]
    with pytest.raises(LakejobsError) as raised:
        run_job(spark, argv + ["--output_path", str(tmp_path / "people")])
    assert str(raised.value) == (
        f"people: --header true, but the first line of {source.as_uri()} names the schema's columns in another "
        "order (expected 'first', found 'last'); give the schema's columns in the file's order; nothing was published"
    )


def test_a_header_with_blanks_around_a_name_says_so(spark, tmp_path):
    """Until session 48: ``names the schema's columns in another order (expected 'id', found 'id')``."""
    source = tmp_path / "people.csv"
    source.write_text("id , name\n1,a\n", encoding="utf-8")
    argv = ["--schema", "id INT NOT NULL, name STRING", "--header", "true", "--input_path", str(source)]
    with pytest.raises(LakejobsError) as raised:
        run_job(spark, argv + ["--output_path", str(tmp_path / "people")])
    assert str(raised.value) == (
        f"people: --header true, but the first line of {source.as_uri()} names a column with blanks around it "
        "(expected 'id', found 'id '), and Spark compares a header's names exactly: remove the blanks from that "
        "line; nothing was published"
    )


def test_a_declared_header_that_is_missing_fails_the_run_instead_of_losing_the_first_line(spark, tmp_path):
    argv = ["--dataset", "orders", "--header", "true", "--input_path", str(SAMPLE_RAW / "orders")]
    with pytest.raises(LakejobsError) as raised:
        run_job(spark, argv + ["--output_path", str(tmp_path / "orders")])
    source = (SAMPLE_RAW / "orders" / "orders-00000.csv").as_uri()
    assert str(raised.value) == (
        f"orders: --header true, but the first line of {source} does not name the columns (expected "
        "'salesorderid', found '71782'); if the file has no header row, pass --header false; if that line is "
        "its header, give the schema the file's column names; nothing was published"
    )
    assert not (tmp_path / "orders").exists()
