"""Input files found wanting by trying realistic bad data: each is read exactly, or refused in one line."""

import bz2
import gzip
import io
import json
import zipfile
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from lakejobs import fs
from lakejobs.datasets import builtin_dataset
from lakejobs.generate_field import TAXI_COLUMNS
from lakejobs.io.csv_reader import file_with_header
from lakejobs.io.headered_csv import first_line
from lakejobs.jobs import csv_to_parquet, taxi_trips
from tests.conftest import SAMPLE_RAW, stderr_lines
from tests.jobs.test_taxi_trips import GOOD

SCHEMA = "sku STRING NOT NULL, price DECIMAL(10,2)"


def convert_argv(tmp_path, *more, schema=SCHEMA):
    return ["--schema", schema, "--input_path", str(tmp_path / "in"), "--output_path", str(tmp_path / "out"), *more]


def test_data_files_spark_would_skip_stop_the_run_before_anything_is_read(spark, products, capsys):
    (products / "in" / "_late.csv").write_text("c3,3.00\n")
    (products / "in" / "_metadata_2024.csv").write_text("e5,5.00\n")  # listed by Spark, but never read
    (products / "in" / "2024").mkdir()
    (products / "in" / "2024" / ".fix.csv").write_text("d4,4.00\n")
    assert csv_to_parquet.main(convert_argv(products)) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: {products / 'in'} holds 3 file(s) that Spark skips (a name starting with _ or .): "
        "2024/.fix.csv, _late.csv, _metadata_2024.csv; rename them, or move them out of the input"
    )
    assert not (products / "out").exists()


def test_a_single_input_file_spark_would_skip_is_refused(spark, products, capsys):
    (products / "in" / "p.csv").rename(products / "in" / "_p.csv")
    argv = convert_argv(products)
    argv[argv.index("--input_path") + 1] = str(products / "in" / "_p.csv")
    assert csv_to_parquet.main(argv) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: {products / 'in' / '_p.csv'}: Spark does not read a file whose name starts with "
        "_ or . (it would read no rows); rename it"
    )


def test_markers_empty_files_and_skipped_folders_are_left_out_as_spark_leaves_them(spark, products, caplog):
    for name, text in [
        ("_SUCCESS", ""),
        (".gitkeep", ""),
        (".p.csv.crc", "crc"),
        (".DS_Store", "mac"),
        ("._p.csv", "x"),
    ]:
        (products / "in" / name).write_text(text)
    for folder in ("_temporary/0", "_archive", ".ipynb_checkpoints", "__MACOSX", "dt=1/_tmp/a", "dt=1/_tmp/b"):
        (products / "in" / folder).mkdir(parents=True)
        (products / "in" / folder / "old.csv").write_text("x9,9.00\n")
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(convert_argv(products)))
    assert (result.status, result.rows_read, result.rows_written) == ("SUCCEEDED", 2, 2)
    # Since session 49 a warning names the folders whose files were not read, tools' own left out.
    assert [record.getMessage() for record in caplog.records if record.name == "lakejobs.io.input_folder"] == [
        f"{products / 'in'}: 3 file(s) in folders Spark skips (a name starting with _ or .) are not read: "
        "_archive/ (1), dt=1/_tmp/ (2)"
    ]
    table = spark.read.parquet(str(products / "out")).select("sku")
    assert sorted(row.sku for row in table.collect()) == ["a1", "b2"]  # p.csv's rows only


@pytest.mark.parametrize("name", ["in[1]", "orders_{eu}", "in*"])
def test_an_input_folder_named_like_a_pattern_is_read_as_named(spark, products, name):
    """Spark reads a path as a glob: ``in[1]`` would read ``in1``, ``orders_{eu}`` ``orders_eu``."""
    (products / "in").rename(products / name)
    decoy = name.replace("[", "").replace("]", "").replace("{", "").replace("}", "").replace("*", "-decoy")
    (products / decoy).mkdir()
    (products / decoy / "d.csv").write_text("z9,9.00\n")
    argv = convert_argv(products)
    argv[argv.index("--input_path") + 1] = str(products / name)
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.status, result.rows_read, result.rows_written) == ("SUCCEEDED", 2, 2)
    assert_df_equality(
        spark.read.parquet(str(products / "out")),
        spark.createDataFrame([("a1", Decimal("1.50")), ("b2", Decimal("2.00"))], "sku string, price decimal(10,2)"),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_a_field_job_refuses_skipped_data_files_too(spark, tmp_path, capsys):
    (tmp_path / "taxi").mkdir()
    sample = SAMPLE_RAW / "taxi" / "green_tripdata_2019-01a.csv"
    (tmp_path / "taxi" / ".green_tripdata_2019-01a.csv").write_bytes(sample.read_bytes())
    argv = ["--input_path", str(tmp_path / "taxi"), "--output_path", str(tmp_path / "out")]
    assert taxi_trips.main(argv) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"taxi_trips: error: {tmp_path / 'taxi'} holds 1 file(s) that Spark skips (a name starting with _ or .): "
        ".green_tripdata_2019-01a.csv; rename them, or move them out of the input"
    )


def test_a_field_job_lists_its_input_once_for_the_check_and_the_read(spark, tmp_path, monkeypatch):
    (tmp_path / "taxi").mkdir()
    sample = SAMPLE_RAW / "taxi" / "green_tripdata_2019-01a.csv"
    (tmp_path / "taxi" / sample.name).write_bytes(sample.read_bytes())
    listed = []
    list_files = fs.list_files
    monkeypatch.setattr(
        fs, "list_files", lambda spark, path, *more: listed.append(path) or list_files(spark, path, *more)
    )
    argv = ["--input_path", str(tmp_path / "taxi"), "--output_path", str(tmp_path / "out")]
    result = taxi_trips.run(spark, taxi_trips.parse_args(argv))
    assert result.status == "SUCCEEDED"
    assert listed.count(str(tmp_path / "taxi")) == 1


@pytest.mark.parametrize("extra", [True, False])
def test_a_header_with_more_or_fewer_columns_than_the_schema_names_the_file(spark, tmp_path, capsys, extra):
    (tmp_path / "in").mkdir()
    header, row = ("sku,price,note", "a1,1.50,x") if extra else ("sku", "a1")
    (tmp_path / "in" / "p.csv").write_text(f"{header}\n{row}\n")
    assert csv_to_parquet.main(convert_argv(tmp_path, "--header", "true")) == 1
    source, columns = (tmp_path / "in" / "p.csv").as_uri(), "3 columns" if extra else "1 column"
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: out: --header true, but the first line of {source} names {columns} "
        "where the schema has 2; give the file's columns in the schema; nothing was published"
    )
    assert not (tmp_path / "out").exists()


def test_a_header_line_read_with_header_false_is_refused_not_published_as_a_row(spark, tmp_path, capsys):
    """Every column is text here: the header line would have been a row of the table."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "p.csv").write_text("first_name,Last Name\nAda,Lovelace\n")
    argv = ["--schema", "first_name STRING, last_name STRING", "--input_path", str(tmp_path / "in")]
    assert csv_to_parquet.main([*argv, "--output_path", str(tmp_path / "out")]) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: out: {tmp_path / 'in' / 'p.csv'} "
        "starts with a line naming the schema's columns, but --header is false: "
        "pass --header true (read as data, that line would be a row)"
    )
    assert not (tmp_path / "out").exists()  # (names are matched loosely: "Last Name" is last_name)
    (tmp_path / "in" / "p.csv").write_text("first_name,last_name\nAda,Lovelace\n")
    out = str(tmp_path / "out")
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args([*argv, "--output_path", out, "--header", "true"]))
    assert (result.rows_read, result.rows_written) == (1, 1)


def test_a_gate_failed_by_header_lines_read_as_rows_says_so(spark, tmp_path, capsys):
    """Typed columns: the header line is quarantined, and here it is more bad rows than allowed."""
    names = [field.name for field in builtin_dataset("employees").schema.fields]
    (tmp_path / "in").mkdir()
    rows = (SAMPLE_RAW / "employees" / "employees.csv").read_text()
    (tmp_path / "in" / "employees.csv").write_text(",".join(names) + "\n" + rows)
    argv = ["--dataset", "employees", "--input_path", str(tmp_path / "in"), "--output_path", str(tmp_path / "out")]
    assert csv_to_parquet.main(argv) == 1
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        "csv_to_parquet: error: employees: 1 of 19 rows (5.26%) are bad, above --max_bad_fraction 0.05; nothing "
        f"was published (reasons: invalid_int:employeeid=1; rows kept in {tmp_path / 'out_quarantine'}_rejected); "
        f"{tmp_path / 'in' / 'employees.csv'} starts with a line naming the schema's columns, read as a row: "
        "run the job with --header true (lakejobs pipeline reads files without a header line: write them without "
        "one, e.g. generate without --header)"
    )
    assert csv_to_parquet.main([*argv, "--max_bad_fraction", "0.1"]) == 0  # under the gate: a warning says so
    assert [line for line in stderr_lines(capsys.readouterr().err) if "employees.csv" in line] == [
        "WARNING lakejobs.jobs.csv_to_parquet: employees: 1 row(s) quarantined; "
        f"{tmp_path / 'in' / 'employees.csv'} starts with a line naming the schema's columns, read as a row: "
        "run the job with --header true (lakejobs pipeline reads files without a header line: write them without "
        "one, e.g. generate without --header)"
    ]
    assert csv_to_parquet.main([*argv, "--header", "true"]) == 0
    assert spark.read.parquet(str(tmp_path / "out")).count() == 18
    assert "starts with a line" not in capsys.readouterr().err
    # A file gone since the read gives no hint, not a failed run (the hint is read after the run's read).
    gone = [str(tmp_path / "in" / "gone.csv"), str(tmp_path / "in" / "employees.csv")]
    assert file_with_header(spark, builtin_dataset("employees"), gone) == str(tmp_path / "in" / "employees.csv")


def test_a_utf16_file_is_read_whole_since_its_line_breaks_are_two_bytes(spark, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "p.csv").write_bytes("a1,1.50\nb€,2.00\n".encode("utf-16"))
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(convert_argv(tmp_path, "--encoding", "UTF-16")))
    assert (result.status, result.rows_read, result.rows_quarantined) == ("SUCCEEDED", 2, 0)
    expected = spark.createDataFrame([("a1", Decimal("1.50")), ("b€", Decimal("2.00"))], SCHEMA)
    assert_df_equality(spark.read.parquet(str(tmp_path / "out")), expected, ignore_row_order=True, ignore_nullable=True)


def test_a_utf16_file_read_without_its_encoding_is_quarantined_not_published_as_garbage(spark, tmp_path):
    """Every other byte of its text is a NUL: the rows were published as '\\x00a\\x001...' (Spark's cast
    trims NULs, so the price typed); the byte-order mark's line is not valid UTF-8."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "p.csv").write_bytes("a1,1.50\r\nb2,2.00\r\nc3,3.00\r\n".encode("utf-16"))
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(convert_argv(tmp_path, "--max_bad_fraction", "1")))
    assert (result.rows_read, result.rows_written) == (3, 0)
    assert result.quarantine_reasons == {"invalid_utf8": 1, "nul_character": 2}
    details = {row.detail for row in spark.read.json(str(tmp_path / "out_quarantine")).select("detail").collect()}
    assert details == {
        "the line has bytes that are not valid UTF-8 (or the character U+FFFD they are read as)",
        "a text field holds NUL characters (U+0000); a UTF-16 file read as UTF-8? convert it to UTF-8 "
        "(csv_to_parquet reads it with --encoding UTF-16)",
    }


def test_a_line_of_25000_fields_is_quarantined_and_one_over_the_parsers_limit_is_one_line(spark, tmp_path, capsys):
    """Spark's parser stops at 20,480 fields by default: the whole run failed with an ArrayIndexOutOfBounds."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "p.csv").write_bytes(b"a1,1.50\nb2," + b"," * 25000 + b"\nc3,3.00\n")
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(convert_argv(tmp_path, "--max_bad_fraction", "0.5")))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (3, 2, {"malformed_record": 1})
    (tmp_path / "in" / "p.csv").write_bytes(b"a1,1.50\nb2," + b"," * 70000 + b"\nc3,3.00\n")
    argv = convert_argv(tmp_path)
    argv[argv.index("--output_path") + 1] = str(tmp_path / "wide")
    assert csv_to_parquet.main(argv) == 1
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        "csv_to_parquet: error: wide: a line holds more than 65536 fields, the most Spark's CSV parser reads, so it "
        "cannot even be quarantined: is the input this CSV, with this delimiter? remove that line; nothing was "
        "published"
    )
    assert not (tmp_path / "wide").exists()


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_partition_values_a_folder_name_cannot_carry_are_quarantined(spark, tmp_path, fmt):
    """Spark's null folder name read back as null (with a real null beside it, the write failed), and a
    value too long for a folder name failed with "Mkdirs failed", naming neither column nor row."""
    (tmp_path / "in").mkdir()
    # 254 bytes as cat=<value>, 258 once '/' and ':' are escaped as %2F and %3A; the other is 255 exactly.
    long_value, fitting = "y" * 248 + "/:", "z" * 251
    # A quoted empty text reads as null, as an empty field does: it is a null partition, not a lost value.
    lines = ["1,a/b", "2,__HIVE_DEFAULT_PARTITION__", '3,""', "4,", f"5,{long_value}", "6,\u00fc", f"7,{fitting}"]
    (tmp_path / "in" / "p.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    schema = "id INT NOT NULL, cat STRING"
    argv = convert_argv(tmp_path, "--partition_by", "cat", "--format", fmt, "--max_bad_fraction", "0.9", schema=schema)
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (
        7,
        5,
        {"invalid_partition_value:cat": 2},
    )
    table_df = spark.read.format(fmt).load(str(tmp_path / "out")).select("id", "cat")
    assert sorted(table_df.collect()) == [(1, "a/b"), (3, None), (4, None), (6, "\u00fc"), (7, fitting)]
    records = spark.read.json(str(tmp_path / "out_quarantine")).select("raw_line", "detail").orderBy("raw_line")
    assert [tuple(row) for row in records.collect()] == [
        (
            "2,__HIVE_DEFAULT_PARTITION__",
            "cat='__HIVE_DEFAULT_PARTITION__' is the folder name Spark writes for a null: it would read back as null",
        ),
        (
            f"5,{long_value}",
            f"cat='{long_value[:60]}...' makes a folder name longer than 255 bytes, which file systems refuse",
        ),
    ]


def test_a_truncated_archive_is_named_in_the_one_line(spark, products, capsys):
    whole = gzip.compress(b"c3,3.00\n" * 5000)
    (products / "in" / "q.csv.gz").write_bytes(whole[: len(whole) // 2])
    (products / "in" / "r.csv.gz").write_bytes(gzip.compress(b"d4,4.00\n"))
    assert csv_to_parquet.main(convert_argv(products)) == 1
    captured = capsys.readouterr()
    message = (
        f"out: {products / 'in' / 'q.csv.gz'} cannot be decompressed "
        "(EOFException: Unexpected end of input stream); nothing was published"
    )
    assert stderr_lines(captured.err)[-1] == f"csv_to_parquet: error: {message}"
    result = json.loads(captured.out.splitlines()[-1])  # a failed run prints its result, as every failed run
    assert (result["status"], result["error"], result["rows_written"]) == ("FAILED", message, 0)
    assert not (products / "out").exists()


def gzipped_trips(lines: int) -> bytes:
    header = ",".join(TAXI_COLUMNS).encode()
    return gzip.compress(header + b"\n" + b"\n".join([GOOD[0].encode()] * lines) + b"\n")


def taxi_run_on(tmp_path, capsys, files):
    """Run taxi_trips on ``files`` (name -> bytes) in ``raw/``: its exit code and last error line; no table made."""
    (tmp_path / "raw").mkdir()
    for name, data in files.items():
        (tmp_path / "raw" / name).write_bytes(data)
    code = taxi_trips.main(["--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "trips")])
    assert not (tmp_path / "trips").exists()
    return code, stderr_lines(capsys.readouterr().err)[-1]


def test_a_field_jobs_truncated_archive_is_named_in_the_one_line(spark, tmp_path, capsys):
    """The task's ``EOFException: Unexpected end of input stream`` did not say which file."""
    whole = gzipped_trips(4000)
    files = {"green_2019-02.csv.gz": whole[: len(whole) // 2], "green_2019-01.csv.gz": gzipped_trips(1)}
    assert taxi_run_on(tmp_path, capsys, files) == (
        1,
        f"taxi_trips: error: {tmp_path / 'raw' / 'green_2019-02.csv.gz'} cannot be decompressed "
        "(EOFException: Unexpected end of input stream); nothing was published",
    )


def test_a_headers_lookup_skips_the_lines_spark_skips_and_no_others(spark, tmp_path):
    """Spark skips lines Java's trim empties; a no-break space is not one of those characters."""
    (tmp_path / "a.csv").write_text(" \t\n\nDate,Open\n1,2\n")
    (tmp_path / "b.csv").write_text("\u00a0\nDate,Open\n")
    assert first_line(spark, str(tmp_path / "a.csv")) == "Date,Open"
    assert first_line(spark, str(tmp_path / "b.csv")) == "\u00a0"


def test_dates_before_the_gregorian_calendar_are_published_as_read(spark, tmp_path):
    """Spark refuses by default to write such a date to Parquet: a run failed on every rerun.

    ``0001-01-01`` is a common "no date" sentinel (Go, .NET).
    """
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "d.csv").write_text("1,0001-01-01,0001-01-01 00:00:00\n2,1582-10-04,1899-12-31 23:59:59\n")
    schema = "id INT, day DATE, at TIMESTAMP"
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(convert_argv(tmp_path, schema=schema)))
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (2, 2, 0)
    # Compared as text: Python's datetime cannot hold year 1 moved to the test's time zone.
    got = spark.read.parquet(str(tmp_path / "out")).selectExpr("id", "string(day)", "string(at)")
    expected = spark.createDataFrame(
        [(1, "0001-01-01", "0001-01-01 00:00:00"), (2, "1582-10-04", "1899-12-31 23:59:59")], got.schema
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_iso_dates_and_timestamps_outside_the_years_1_to_9999_are_quarantined(spark, tmp_path):
    """Year 0 was published without formats (pyarrow cannot read it); a zone could move a value out."""
    (tmp_path / "in").mkdir()
    lines = [
        "1,0000-01-01,2014-05-01 00:00:00",
        "2,2014-05-01,0000-12-31 00:00:00",
        "3,2014-05-01,0001-01-01T00:00:00+05:00",
        "4,2014-05-01,9999-12-31T23:00:00-05:00",
        "5,9999-12-31,9999-12-31T23:00:00Z",
    ]
    (tmp_path / "in" / "d.csv").write_text("\n".join(lines) + "\n")
    argv = convert_argv(tmp_path, "--max_bad_fraction", "1", schema="id INT, day DATE, at TIMESTAMP")
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.rows_written, result.quarantine_reasons) == (1, {"invalid_date:day": 1, "invalid_timestamp:at": 3})
    assert [row.id for row in spark.read.parquet(str(tmp_path / "out")).collect()] == [5]


def test_timestamps_are_written_as_int64_microseconds_which_pyarrow_reads_exactly(spark, tmp_path):
    """As INT96, pyarrow read them as nanoseconds: 2500-01-01 came back as 1915-06-14."""
    import pyarrow.parquet as pq

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "t.csv").write_text(
        "1,2500-01-01 00:00:00\n2,0001-01-01 00:00:00\n3,9999-12-31 23:59:59.999999\n"
    )
    argv = convert_argv(tmp_path, schema="id INT, at TIMESTAMP")
    assert csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv)).rows_written == 3
    [part] = (tmp_path / "out").glob("*.parquet")
    table = pq.read_table(part)
    assert str(table.schema.field("at").type) == "timestamp[us, tz=UTC]"
    assert sorted(str(value) for value in table.column("at").to_pylist()) == [
        "0001-01-01 00:00:00+00:00",
        "2500-01-01 00:00:00+00:00",
        "9999-12-31 23:59:59.999999+00:00",
    ]


def test_a_quote_given_alone_is_also_its_own_escape_as_the_help_says(spark, tmp_path):
    """``--quote "'"`` left ``"`` as the escape: ``'O''Brien'`` was not read as O'Brien."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "n.csv").write_text("1,'O''Brien'\n2,'say \"hi\"'\n")
    argv = convert_argv(tmp_path, "--quote", "'", schema="id INT, name STRING")
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.rows_read, result.rows_written) == (2, 2)
    got = spark.read.parquet(str(tmp_path / "out"))
    expected = spark.createDataFrame([(1, "O'Brien"), (2, 'say "hi"')], got.schema)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("header", ["true", "false"])
def test_a_header_repeated_inside_a_file_of_text_columns_is_quarantined_not_published(spark, tmp_path, header):
    """``cat a.csv b.csv``: Spark drops only a file's first line; every column being text, the second passed."""
    (tmp_path / "in").mkdir()
    lines = ["sku,title", "A1,x", "SKU , Title", "B1,y"] if header == "true" else ["A1,x", "sku,title", "B1,y"]
    (tmp_path / "in" / "all.csv").write_text("\n".join(lines) + "\n")
    argv = convert_argv(
        tmp_path, "--header", header, "--max_bad_fraction", "1", schema="sku STRING NOT NULL, title STRING"
    )
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (3, 2, {"header_line": 1})
    table = spark.read.parquet(str(tmp_path / "out"))
    assert sorted(tuple(row) for row in table.collect()) == [("A1", "x"), ("B1", "y")]
    records = spark.read.json(str(tmp_path / "out_quarantine")).select("raw_line", "reason", "detail")
    repeated = "SKU , Title" if header == "true" else "sku,title"
    assert [tuple(row) for row in records.collect()] == [
        (
            repeated,
            "header_line",
            "the line names the schema's columns: a header line inside a file, or files joined together",
        )
    ]


def test_a_one_column_text_schema_keeps_a_value_equal_to_its_name(spark, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "words.csv").write_text("word\nbird\nword\n")
    argv = convert_argv(tmp_path, "--header", "true", schema="word STRING")
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (2, 2, 0)
    table = spark.read.parquet(str(tmp_path / "out"))
    assert sorted(row.word for row in table.collect()) == ["bird", "word"]


@pytest.mark.parametrize("multiline", ["false", "true"])
def test_lines_of_only_spaces_or_tabs_are_blank_whether_read_by_line_or_whole(spark, tmp_path, multiline):
    # Read whole (--multiline true), Spark's parser returned them as records: malformed ones.
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "p.csv").write_text("sku,price\na1,1.50\n   \nb2,2.00\n\t\n \t \nc3,3.00\n")
    argv = convert_argv(tmp_path, "--header", "true", "--multiline", multiline)
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (3, 3, 0)
    table = spark.read.parquet(str(tmp_path / "out")).select("sku")
    assert sorted(row.sku for row in table.collect()) == ["a1", "b2", "c3"]


@pytest.mark.parametrize("name", ["p.zip", "2024/p.tar.gz", "p.CSV.ZIP", "p.xz", "p.csv.lz4", "p.csv.snappy"])
def test_an_archive_in_the_input_is_refused_in_one_line_before_it_is_read(spark, products, capsys, name):
    archive = products / "in" / name
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(b"PK\x03\x04 not a csv")
    assert csv_to_parquet.main(convert_argv(products)) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: {products / 'in'} holds 1 archive(s) Spark cannot open: {name}; extract the "
        "files, or compress them with gzip or bzip2 (Spark reads .gz, .bz2, .deflate and .zst files, one file "
        "each; its .lz4 and .snappy codecs read only Hadoop's own block layout, as empty otherwise)"
    )
    assert not (products / "out").exists()


@pytest.mark.parametrize("name", ["p.csv.GZ", "2024/p.csv.Bz2", "p.ZST"])
def test_a_compressed_file_named_in_another_case_is_refused_not_read_as_text(spark, products, capsys, name):
    """Hadoop picks the decompressor by the exact suffix: the file's bytes were rows of junk."""
    compressed = products / "in" / name
    compressed.parent.mkdir(parents=True, exist_ok=True)
    compressed.write_bytes(gzip.compress(b"a1,1.50\n"))
    assert csv_to_parquet.main(convert_argv(products)) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: {products / 'in'} holds 1 file(s) whose compression suffix is not in lower case: "
        f"{name}; Spark would read them as text, not decompress them: rename them (.gz, .bz2, .deflate, .zst)"
    )
    assert not (products / "out").exists()


def test_a_zone_needs_seconds_and_the_detail_says_so(spark, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "t.csv").write_text("1,2024-01-15 10:30:00Z\n2,2024-01-15T10:00Z\n3,2024-01-15 10:30\n")
    argv = convert_argv(tmp_path, "--max_bad_fraction", "0.5", schema="id INT, at TIMESTAMP")
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (3, 2, 1)
    table = spark.read.parquet(str(tmp_path / "out")).selectExpr("id", "cast(at as string)")
    assert sorted(tuple(row) for row in table.collect()) == [(1, "2024-01-15 10:30:00"), (3, "2024-01-15 10:30:00")]
    [bad] = spark.read.json(str(tmp_path / "out_quarantine")).select("raw_line", "reason", "detail").collect()
    assert tuple(bad) == (
        "2,2024-01-15T10:00Z",
        "invalid_timestamp:at",
        "at='2024-01-15T10:00Z' is not a timestamp in format yyyy-MM-dd[ HH[:mm[:ss[.SSSSSS][ zone]]]] (a zone: "
        "Z, +hh:mm, UTC or a region as Europe/London)",
    )


def test_a_zone_abbreviation_is_quarantined_not_read_as_some_region(spark, tmp_path):
    """Spark's cast read BST as Asia/Dhaka (+06:00), PST in July as -07:00 and CET with summer time: hours off."""
    (tmp_path / "in").mkdir()
    zones = ["BST", "PST", "CET", "EDT", "Europe/London", "UTC", "GMT+02:00", "Z", "Etc/GMT+5", "EST"]
    lines = [f"{number},2014-07-01 10:00:00 {zone}" for number, zone in enumerate(zones, 1)]
    # The tz database's POSIX-form zones and GMT0: quarantined until session 48.
    posix = ["12,2014-07-01 10:00:00 EST5EDT", "13,2014-01-01 10:00:00 PST8PDT", "14,2014-07-01 10:00:00 GMT0"]
    (tmp_path / "in" / "t.csv").write_text("\n".join(lines + ["11,2014-07-01 10:00:00+01:00", *posix]) + "\n")
    argv = convert_argv(tmp_path, "--max_bad_fraction", "1", schema="id INT, at TIMESTAMP")
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (14, 10, {"invalid_timestamp:at": 4})
    table = spark.read.parquet(str(tmp_path / "out")).selectExpr("id", "cast(at as string)")
    assert sorted(tuple(row) for row in table.collect()) == [
        (5, "2014-07-01 09:00:00"),
        (6, "2014-07-01 10:00:00"),
        (7, "2014-07-01 08:00:00"),
        (8, "2014-07-01 10:00:00"),
        (9, "2014-07-01 15:00:00"),
        (10, "2014-07-01 15:00:00"),  # EST: the fixed -05:00 it names
        (11, "2014-07-01 09:00:00"),
        (12, "2014-07-01 14:00:00"),  # New York's summer time, -04:00
        (13, "2014-01-01 18:00:00"),  # Los Angeles' winter time, -08:00
        (14, "2014-07-01 10:00:00"),
    ]
    quarantine = spark.read.json(str(tmp_path / "out_quarantine")).select("raw_line", "reason").collect()
    assert sorted(tuple(row) for row in quarantine) == [(line, "invalid_timestamp:at") for line in sorted(lines[:4])]


def _zipped(text: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("p.csv", text)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, pack, kind, action",
    [
        ("p.csv", gzip.compress, "gzip-compressed", "name it with .gz at the end"),
        ("2024/p.csv.gzip", gzip.compress, "gzip-compressed", "name it with .gz at the end"),
        ("p.csv", bz2.compress, "bzip2-compressed", "name it with .bz2 at the end"),
        ("p.dat", _zipped, "a zip archive", "extract its files"),
    ],
)
def test_a_compressed_file_not_named_so_is_refused_not_read_as_junk(spark, products, capsys, name, pack, kind, action):
    """Until session 46 its bytes were read as text: a few malformed_record rows, its lines nowhere."""
    compressed = products / "in" / name
    compressed.parent.mkdir(parents=True, exist_ok=True)
    compressed.write_bytes(pack(b"a1,1.50\n" * 300))
    assert csv_to_parquet.main(convert_argv(products)) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: input file {compressed} is {kind} (its first bytes say so), but Spark "
        f"picks a decompressor by the file's name and would read its bytes as text: {action}; nothing was read"
    )
    assert not (products / "out").exists()


def test_a_field_job_refuses_a_compressed_file_not_named_so(spark, tmp_path, capsys):
    assert taxi_run_on(tmp_path, capsys, {"green_2019-01.csv": gzipped_trips(1)}) == (
        2,
        f"taxi_trips: error: input file {tmp_path / 'raw' / 'green_2019-01.csv'} is gzip-compressed (its "
        "first bytes say so), but Spark picks a decompressor by the file's name and would read its bytes as text: "
        "name it with .gz at the end; nothing was read",
    )


def test_digits_of_other_scripts_in_a_decimal_are_quarantined_by_the_run_not_taken_for_a_changed_input(
    spark, products, capsys
):
    """Until session 49 the second read kept no such row: every run failed, "1 bad rows in the first read, 0"."""
    (products / "in" / "q.csv").write_text("c3,\uff11\uff12\nd4,\u0661\u0662\n")
    argv = convert_argv(products, "--max_bad_fraction", "0.5")
    assert csv_to_parquet.main(argv) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (result["rows_read"], result["rows_written"], result["quarantine_reasons"]) == (
        4,
        2,
        {"invalid_decimal:price": 2},
    )
    quarantined = spark.read.json(str(products / "out_quarantine")).select("raw_line", "reason", "detail")
    expected = spark.createDataFrame(
        [
            ("c3,\uff11\uff12", "invalid_decimal:price", "price='\uff11\uff12' is not a valid decimal(10,2)"),
            ("d4,\u0661\u0662", "invalid_decimal:price", "price='\u0661\u0662' is not a valid decimal(10,2)"),
        ],
        "raw_line string, reason string, detail string",
    )
    assert_df_equality(quarantined, expected, ignore_row_order=True, ignore_nullable=True)
