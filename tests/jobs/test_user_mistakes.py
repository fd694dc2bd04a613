"""Mistakes found by trying the tools as a user would: each is refused in one line, nothing is lost."""

import contextlib
import json
import os
import shutil
import subprocess
from decimal import Decimal

import pytest
from delta.tables import DeltaTable

from lakejobs import cli, generate, generate_field
from lakejobs.args import datetime_pattern_problem
from lakejobs.errors import UsageError
from lakejobs.io import table_schema
from lakejobs.io.table_folder import foreign_entries, refuse_foreign_folders, refuse_other_layout
from lakejobs.jobs import csv_to_parquet, stock_prices
from tests.conftest import SAMPLE_RAW, stderr_lines

SCHEMA = "sku STRING NOT NULL, price DECIMAL(10,2)"


def files_under(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def convert_argv(tmp_path, output, *more):
    return ["--schema", SCHEMA, "--input_path", str(tmp_path / "in"), "--output_path", str(output), *more]


def test_an_output_folder_holding_more_than_a_table_is_refused_and_kept_whole(spark, products, capsys):
    # The zone above the tables, as a user might give it instead of the table's own folder.
    zone = products / "processedData"
    (zone / "orders" / "year=2014").mkdir(parents=True)
    (zone / "orders" / "year=2014" / "part-0.parquet").write_bytes(b"PAR1")
    (zone / "notes.txt").write_text("kept")
    before = files_under(zone)

    assert csv_to_parquet.main(convert_argv(products, zone)) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: --output_path {zone} holds notes.txt, orders, which a table's folder does not: "
        "the run would replace them; give the table's own folder (e.g. a new sub-folder), or empty it first"
    )
    assert files_under(zone) == before


def test_a_table_folder_written_before_is_replaced_as_always(spark, products):
    output = products / "out"
    argv = convert_argv(products, output, "--partition_by", "sku")
    first_files = None
    for _ in range(2):  # the second run finds the first one's table: partitions, _SUCCESS
        result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
        assert (result.status, result.rows_written) == ("SUCCEEDED", 2)
        first_files = first_files or set(files_under(output))
    assert foreign_entries(spark, str(output)) == []
    data_files = [name for name in files_under(output) if name.endswith(".parquet")]
    assert [name.split("/")[0] for name in data_files] == ["sku=a1", "sku=b2"]  # one file each, both new
    assert not first_files & set(data_files)
    table = spark.read.parquet(str(output)).select("sku", "price")
    assert sorted(tuple(row) for row in table.collect()) == [("a1", Decimal("1.50")), ("b2", Decimal("2.00"))]


@pytest.mark.parametrize("before", [(), ("--partition_by", "price")], ids=["unpartitioned", "by_price"])
def test_a_table_partitioned_otherwise_is_refused_not_mixed_with_the_new_layout(spark, products, capsys, before):
    output = products / "out"
    assert csv_to_parquet.main(convert_argv(products, output, *before)) == 0
    kept = files_under(output)
    capsys.readouterr()
    assert csv_to_parquet.main(convert_argv(products, output, "--partition_by", "sku")) == 2
    first = next(name for name in kept if name.endswith(".parquet"))
    layout = "price" if before else "nothing"
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: {output} is partitioned by {layout} ({first}), not by sku: "
        "write to a new output, or delete it and convert every input again"
    )
    assert files_under(output) == kept


TABLE_NAMES = [
    "part-00000-x.snappy.parquet",  # Spark, Delta
    ".part-00000-x.snappy.parquet.crc",
    "_SUCCESS",
    "_temporary",
    "year=2014",
    "year=2014_$folder$",  # EMRFS
    "run-1700000000000-part-r-00000",  # Glue
    "000000_0",  # Hive
    "20240101_093000_00012_abcde_1d7e9e8a-2b3c-4d5e-8f90-123456789abc",  # Athena
    "export.parquet",
]


def test_the_names_a_table_folder_may_hold(spark, tmp_path):
    for name in TABLE_NAMES:
        (tmp_path / name).mkdir() if name == "year=2014" else (tmp_path / name).write_text("x")
    assert foreign_entries(spark, str(tmp_path)) == []
    for name in ("customers", "_backup", ".git", "data.csv", "notes.txt", "year=2015"):
        (tmp_path / name).write_text("x")  # hidden from readers is not a table's: a full run deleted them
    # A file named like a partition folder is none (until session 49 it was taken for one).
    assert foreign_entries(spark, str(tmp_path)) == [
        ".git",
        "_backup",
        "customers",
        "data.csv",
        "notes.txt",
        "year=2015",
    ]
    assert foreign_entries(spark, str(tmp_path / "missing")) == []


def test_a_delta_table_is_left_to_delta_and_refused_to_a_parquet_run(spark, tmp_path):
    (tmp_path / "_delta_log").mkdir()
    (tmp_path / "ab").mkdir()  # Delta's random file prefixes are not partition folders
    assert foreign_entries(spark, str(tmp_path), "delta") == []
    with pytest.raises(UsageError) as raised:
        refuse_foreign_folders(spark, {"--output_path": str(tmp_path)})
    assert str(raised.value) == (
        f"--output_path {tmp_path} is a Delta table: write it with --format delta (a parquet run would replace it)"
    )


@pytest.mark.parametrize("partitioned", [False, True])
def test_a_full_run_over_an_empty_input_folder_never_empties_the_table(spark, products, capsys, partitioned):
    output = products / "out"
    more = ["--partition_by", "sku"] if partitioned else []
    assert csv_to_parquet.main(convert_argv(products, output, *more)) == 0
    before = files_under(output)
    (products / "in" / "p.csv").unlink()
    capsys.readouterr()

    code = csv_to_parquet.main(convert_argv(products, output, *more))
    if partitioned:  # it replaces only the partitions it has rows for: none, a no-op
        assert code == 0
    else:
        assert code == 2
        assert stderr_lines(capsys.readouterr().err)[-1] == (
            f"csv_to_parquet: error: no data files below {products / 'in'}: "
            f"a full run would replace {output} with an empty table"
        )
    assert files_under(output) == before


@pytest.mark.parametrize(
    "output_format, content",
    [("parquet", "sku,price\n"), ("delta", ""), ("parquet", "\n \n")],
    ids=["header_only_parquet", "no_bytes_delta", "blank_lines_parquet"],
)
def test_a_full_run_over_files_without_rows_never_empties_the_table(spark, products, capsys, output_format, content):
    output = products / "out"
    argv = convert_argv(products, output, "--format", output_format, "--header", "true")
    (products / "in" / "p.csv").write_text("sku,price\na1,1.50\nb2,2.00\n")
    assert csv_to_parquet.main(argv) == 0
    before = files_under(output)
    (products / "in" / "p.csv").write_text(content)  # "nothing today"
    capsys.readouterr()

    assert csv_to_parquet.main(argv) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: no data rows in the 1 file(s) below {products / 'in'} (only header lines, "
        f"blank lines or empty files): a full run would replace {output} with an empty table; "
        "delete the table first if that is what you want"
    )
    assert files_under(output) == before
    table = spark.read.format(output_format).load(str(output)).select("sku")
    assert sorted(row.sku for row in table.collect()) == ["a1", "b2"]


def test_an_empty_delta_table_may_be_replaced_by_another_empty_one(spark, products):
    output = products / "out"
    (products / "in" / "p.csv").write_text("sku,price\n")  # no rows on the first day either
    argv = convert_argv(products, output, "--format", "delta", "--header", "true")
    assert csv_to_parquet.main(argv) == 0
    assert csv_to_parquet.main(argv) == 0
    assert spark.read.format("delta").load(str(output)).count() == 0


def test_an_output_path_that_is_a_file_is_refused_before_spark_starts(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "outfile").write_text("x")
    args = csv_to_parquet.parse_args(convert_argv(tmp_path, tmp_path / "outfile"))
    with pytest.raises(UsageError) as raised:
        csv_to_parquet.preflight(args)
    assert str(raised.value) == (
        f"--output_path {tmp_path / 'outfile'} cannot be written: {tmp_path / 'outfile'} is a file, not a folder"
    )


@pytest.mark.parametrize(
    "pattern, problem",
    [
        ("M/d/yyyy", None),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", None),
        ("yyyy-MM-DD", None),  # D is the day of the year: legal, if rarely meant
        ("dd 'Week' yyyy", None),
        ("YYYY-MM-DD", "'Y' is a week-based field, which Spark 3 does not parse: use y (the year)"),
        ("uuuu-MM-dd", "'u' is a week-based field, which Spark 3 does not parse: use y (the year)"),
        ("yyyy ww", "'w' is a week-based field, which Spark 3 does not parse: use d (day of month) or D (day of year)"),
        ("EEE, d MMM yyyy", "Spark 3 does not parse with the pattern letter 'E'"),
        ("yyyyyyy", "'yyyyyyy': Spark 3 takes at most 6 'y' in a row"),
        ("dd#MM", "'#', '{' and '}' are reserved in datetime patterns (quote them: '#')"),
        ("M/d/yyyy h:mm a", None),
        (
            "yyyy-MM-dd hh:mm",
            "'hh' is an hour of a 12-hour clock, which needs the AM/PM marker 'a' (without it 12:30 is read as "
            "00:30): use HH for a 24-hour clock",
        ),
        ("dd.MM.yy", "a two-letter year reads '69' as 2069 (Spark's two-digit years are 2000-2099): use yyyy"),
        ("dd.MM.'yy'yyyy", None),
    ],
)
def test_datetime_patterns_spark_refuses_are_named_before_it_starts(pattern, problem):
    assert datetime_pattern_problem(pattern) == problem


def test_a_date_format_spark_would_refuse_in_its_first_stage_is_an_argument_error(tmp_path):
    argv = ["--input_path", str(tmp_path), "--output_path", str(tmp_path / "o"), "--date_format", "YYYY-MM-DD"]
    with pytest.raises(UsageError) as raised:
        stock_prices.parse_args(argv)
    assert str(raised.value) == (
        "argument --date_format: 'YYYY-MM-DD' is not a pattern Spark can parse dates with: "
        "'Y' is a week-based field, which Spark 3 does not parse: use y (the year) (see --help)"
    )


def test_a_tab_delimiter_may_be_given_as_backslash_t(tmp_path):
    argv = convert_argv(tmp_path, tmp_path / "o", "--delimiter", "\\t")
    assert csv_to_parquet.parse_args(argv).dataset.csv.delimiter == "\t"


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["vacuum", "t", "--retain-hours", "-5"],
            "argument --retain-hours/--retain_hours: expected a number of hours, 0 or more",
        ),
        (["history", "t", "--limit", "-1"], "argument --limit: expected a positive whole number, got '-1'"),
        (["report", "--limit", "0"], "argument --limit: expected a positive whole number, got '0'"),
        (
            ["report", "--limit", "3000000000"],
            "argument --limit: expected a whole number up to 2,147,483,647, got '3000000000'",
        ),
        (
            ["pipeline", "start", "--poll-seconds", "-1"],
            "argument --poll-seconds: expected a positive number, got '-1'",
        ),
        (["state", "show", "csv_to_parqet"], "argument JOB: invalid choice: 'csv_to_parqet' (choose from"),
        (["state", "reset", "taxi_trips"], "argument JOB: invalid choice: 'taxi_trips' (choose from 'csv_to_parquet')"),
        (["pipeline", "start", "--run-date", "2024/01/01"], "argument --run-date: expected a date YYYY-MM-DD, got"),
        (["pipeline", "start", "--run-date", "2024-02-30"], "argument --run-date: expected a date YYYY-MM-DD, got"),
        (["pipeline", "start", "--endpoint-url", "notaurl"], "argument --endpoint-url: expected an endpoint URL like"),
        (["deploy", "--endpoint-url", "localhost:5000"], "argument --endpoint-url: expected an endpoint URL like"),
        (["catalog", "sync", "--endpoint-url", "http://h:99999"], "argument --endpoint-url: expected an endpoint URL"),
        (["pipeline", "--lake", "l", "--nosuch"], "unrecognized arguments: --nosuch"),  # was headed lakejobs:
    ],
)
def test_cli_numbers_and_names_are_checked_before_anything_starts(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    [line] = stderr_lines(capsys.readouterr().err)
    assert line.startswith(f"lakejobs {argv[0]}") and message in line, line


def test_generate_into_a_used_folder_leaves_only_the_new_zone(tmp_path, monkeypatch):
    """A smaller run into the same folder kept the larger run's later order files beside its own."""
    monkeypatch.setattr(generate, "ORDER_LINES_PER_FILE", 100)
    raw = tmp_path / "raw"
    assert generate.generate(str(raw), 350, seed=7)["orders"] == 350
    assert len(list((raw / "orders").glob("*.csv"))) == 4
    counts = generate.generate(str(raw), 120, seed=8)
    lines = {name: sum(1 for path in (raw / name).glob("*.csv") for _ in path.open()) for name in counts}
    assert lines == counts and counts["orders"] == 120
    assert sorted(path.name for path in raw.iterdir()) == ["customers", "employees", "orders"]
    (raw / ".lakejobs-generate-999999" / "orders").mkdir(parents=True)  # a killed run's
    elsewhere = tmp_path / "kept"
    elsewhere.mkdir()
    (elsewhere / "keep.csv").write_text("x\n")
    shutil.rmtree(raw / "orders")
    (raw / "orders").symlink_to(elsewhere)  # a link is replaced; what it names is kept
    generate.generate(str(raw), 30, seed=9)
    assert sorted(path.name for path in raw.iterdir()) == ["customers", "employees", "orders"]
    assert not (raw / "orders").is_symlink() and (elsewhere / "keep.csv").read_text() == "x\n"


def test_a_negative_seed_is_refused_and_generate_field_errors_are_one_line(tmp_path, capsys):
    """Python seeds -42 exactly as 42, so a negative seed would silently repeat another zone."""
    with pytest.raises(SystemExit) as refused:
        cli.main(["generate", "--orders", "10", "--out", str(tmp_path / "raw"), "--seed", "-42"])
    assert refused.value.code == 2
    assert stderr_lines(capsys.readouterr().err) == [
        "lakejobs generate: error: argument --seed: expected a whole number, 0 or more, got '-42' (see --help)"
    ]
    assert not (tmp_path / "raw").exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert generate_field.main(["--out", str(afile)]) == 2
    assert capsys.readouterr().err == f"lakejobs.generate_field: error: --out {afile} is a file, not a folder\n"


@pytest.mark.parametrize("orders", ["9", "1"])
def test_generate_refuses_fewer_order_lines_than_it_writes(tmp_path, capsys, orders):
    """Until session 46 ``--orders 5`` wrote 10 lines without a word."""
    with pytest.raises(SystemExit) as refused:
        cli.main(["generate", "--orders", orders, "--out", str(tmp_path / "raw")])
    assert refused.value.code == 2
    assert stderr_lines(capsys.readouterr().err) == [
        "lakejobs generate: error: argument --orders: expected 10 or more order lines (the course's lines come "
        f"first), got '{orders}' (see --help)"
    ]
    assert not (tmp_path / "raw").exists()
    assert cli.main(["generate", "--orders", "10", "--out", str(tmp_path / "raw")]) == 0
    assert capsys.readouterr().out.endswith(f"orders=10 -> {tmp_path / 'raw'}\n")


def test_generate_refuses_an_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert cli.main(["generate", "--orders", "10", "--out", str(tmp_path / "afile")]) == 2
    assert stderr_lines(capsys.readouterr().err) == [
        f"lakejobs: error: --out {tmp_path / 'afile'} is a file, not a folder"
    ]


@pytest.mark.parametrize("name", ["customers", "employees", "orders/"])
def test_generate_refuses_a_dataset_folder_as_out_where_it_would_nest_a_zone(tmp_path, capsys, name):
    out = str(tmp_path / "rawData" / name)
    assert cli.main(["generate", "--orders", "10", "--out", out]) == 2
    assert stderr_lines(capsys.readouterr().err) == [
        f"lakejobs: error: --out {out} names a dataset's folder: generate writes customers, employees, orders "
        "below --out, so give the raw zone that holds them (e.g. lake/rawData)"
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out", ["s3://bucket/rawData", "s3a://bucket/rawData"])
def test_generate_refuses_an_out_on_s3_instead_of_making_a_local_folder_of_that_name(
    tmp_path, monkeypatch, capsys, out
):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["generate", "--orders", "10", "--out", out]) == 2
    assert stderr_lines(capsys.readouterr().err) == [
        f"lakejobs: error: --out {out}: generate writes to a local folder (copy it to S3 afterwards)"
    ]
    assert list(tmp_path.iterdir()) == []


def test_generate_writes_a_file_uri_to_that_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["generate", "--orders", "10", "--out", f"file://{tmp_path}/raw"]) == 0
    assert sorted(path.name for path in (tmp_path / "raw").iterdir()) == ["customers", "employees", "orders"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["raw"]


@pytest.mark.parametrize(
    "argv, option",
    [
        (["pipeline", "--lake", ""], "--lake"),
        (["report", "--runs", ""], "--runs"),
        (["state", "show", "csv_to_parquet", "--dataset", "orders", "--state_path", ""], "--state_path"),
        (["run", "taxi_trips", "--input_path", "", "--output_path", "out"], "--input_path"),
        (["run", "csv_to_parquet", "--dataset", "orders", "--input_path", "in", "--output_path", ""], "--output_path"),
    ],
)
def test_an_empty_path_is_refused_instead_of_naming_the_working_directory(tmp_path, monkeypatch, capsys, argv, option):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    [line] = stderr_lines(capsys.readouterr().err)
    assert line.endswith(f"error: {option} is empty: give a file or folder (local, s3://, s3a://)"), line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "--orders", "10", "--out", " "], "--out is empty: give a local folder"),
        (["report", "--html", ""], "--html is empty: give a local file"),
        (["history", ""], "the table path is empty: give the Delta table's folder (local, s3://, s3a://)"),
        (["vacuum", " "], "the table path is empty: give the Delta table's folder (local, s3://, s3a://)"),
    ],
    ids=["generate", "report", "history", "vacuum"],
)
def test_an_empty_local_or_positional_path_is_said_as_the_command_takes_it(
    tmp_path, monkeypatch, capsys, argv, message
):
    """Until session 48 ``history ''`` said "--table is empty", and ``--out``/``--html`` offered s3://."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"lakejobs: error: {message}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["pipeline", "--runtime", "glue", "--bucket", "bkt"],
            "--runtime, --bucket: not an option of `lakejobs pipeline run` (of `start`)",
        ),
        (
            ["pipeline", "start", "--runtime", "glue", "--bucket", "bkt", "--raw", "x", "--format", "delta"],
            "--raw, --format: not an option of `lakejobs pipeline start` (of `run`)",
        ),
    ],
)
def test_pipeline_options_of_the_other_action_are_refused_not_ignored(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    assert stderr_lines(capsys.readouterr().err) == [f"lakejobs: error: {message}"]
    assert list(tmp_path.iterdir()) == []


def test_report_refuses_an_html_page_it_cannot_write_before_printing_anything(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    (tmp_path / "a_file").write_text("x")
    page = tmp_path / "a_file" / "runs.html"
    assert cli.main(["report", "--runs", str(tmp_path / "runs"), "--html", str(page)]) == 2
    captured = capsys.readouterr()
    problem = f"--html {page} cannot be written: {tmp_path / 'a_file'} is a file, not a folder"
    assert (captured.out, stderr_lines(captured.err)) == ("", [f"lakejobs: error: {problem}"])


def test_report_refuses_a_page_whose_name_is_not_html_and_leaves_the_file(tmp_path, capsys):
    """``--html README.md`` replaced the README with the page."""
    (tmp_path / "runs").mkdir()
    readme = tmp_path / "README.md"
    readme.write_text("# notes\n")
    assert cli.main(["report", "--runs", str(tmp_path / "runs"), "--html", str(readme)]) == 2
    captured = capsys.readouterr()
    problem = f"--html {readme}: give the page a name ending in .html (an existing file there is replaced)"
    assert (captured.out, stderr_lines(captured.err)) == ("", [f"lakejobs: error: {problem}"])
    assert readme.read_text() == "# notes\n"


def test_report_refuses_a_page_on_s3_and_reads_a_job_folder(tmp_path, monkeypatch, capsys):
    """``--html s3://b/x.html`` made a local folder named ``s3:`` and said it wrote to S3."""
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs" / "csv_to_parquet"
    runs.mkdir(parents=True)
    report = {"job": "csv_to_parquet", "run_id": "r1", "status": "SUCCEEDED", "started_at": "2026-12-05T10:00:00+00:00"}
    (runs / "r1.json").write_text(json.dumps(report))
    assert cli.main(["report", "--runs", str(runs.parent), "--html", "s3://b/x.html"]) == 2
    captured = capsys.readouterr()
    message = "--html s3://b/x.html: the page is written to a local file (copy it to S3 afterwards)"
    assert (captured.out, stderr_lines(captured.err)) == ("", [f"lakejobs: error: {message}"])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["runs"]
    assert cli.main(["report", "--runs", str(runs)]) == 0  # one job's folder
    assert "2026-12-05 10:00:00 csv_to_parquet  -          SUCCEEDED" in capsys.readouterr().out


def test_report_writes_its_page_into_a_new_folder_and_skips_reports_that_are_not_utf8(tmp_path, capsys):
    (tmp_path / "runs" / "csv_to_parquet").mkdir(parents=True)
    (tmp_path / "runs" / "csv_to_parquet" / "broken.json").write_bytes(b"\xff\xfe{")
    page = tmp_path / "pages" / "runs.html"
    # A folder of nothing but a broken report holds no run: one line, no page (since session 34), after the
    # warning naming the broken file (since session 48).
    assert cli.main(["report", "--runs", str(tmp_path / "runs"), "--html", str(page)]) == 2
    assert capsys.readouterr().err == (
        "lakejobs: warning: skipped 1 file(s) that are no run report: "
        f"{tmp_path / 'runs' / 'csv_to_parquet' / 'broken.json'}\n"
        f"lakejobs: error: no run reports at {tmp_path / 'runs'} (run a job with --report_path, or the pipeline)\n"
    )
    assert not page.exists()
    good = {"job": "csv_to_parquet", "run_id": "20261205T000000Z-a", "status": "SUCCEEDED", "rows_read": 3}
    (tmp_path / "runs" / "csv_to_parquet" / "good.json").write_text(json.dumps(good))
    assert cli.main(["report", "--runs", str(tmp_path / "runs"), "--html", str(page)]) == 0
    assert "<h2>Runs (1, newest first)</h2>" in page.read_text()


@pytest.mark.parametrize(
    "argv, option",
    [(["--lake", str(SAMPLE_RAW)], "--lake"), (["--lake", "s3://bucket/lake", "--raw", str(SAMPLE_RAW)], "--raw")],
)
def test_catalog_sync_checks_the_lake_before_it_needs_a_region(monkeypatch, capsys, argv, option):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert cli.main(["catalog", "sync", *argv]) == 2
    assert stderr_lines(capsys.readouterr().err) == [
        f"lakejobs: error: {option} must be an s3:// location for the Glue Data Catalog, got {str(SAMPLE_RAW)!r}"
    ]


def test_a_rules_file_that_is_a_folder_says_so(tmp_path):
    argv = ["--dataset", "orders", "--input_path", "a", "--output_path", "b", "--rules", str(tmp_path)]
    with pytest.raises(UsageError) as raised:
        csv_to_parquet.parse_args(argv)
    assert str(raised.value) == f"rules file {tmp_path} is a folder, not a file"


def test_an_empty_rules_file_is_refused_and_a_pipe_is_read(tmp_path):
    """``--rules /dev/null`` dropped the dataset's own rules, saying the file did not exist."""
    argv = ["--dataset", "orders", "--input_path", "a", "--output_path", "b", "--rules"]
    with pytest.raises(UsageError) as raised:
        csv_to_parquet.parse_args([*argv, "/dev/null"])
    assert str(raised.value) == (
        "rules file /dev/null is empty: give a DQDL ruleset (Rules = [ ... ]; Rules = [ ] for none), or leave "
        "--rules out for the dataset's own rules"
    )
    comments = tmp_path / "todo.dqdl"  # read as no rules, it dropped customers' ColumnValues "customerid" > 0
    comments.write_text("# TODO rules\n\n# more later\n")
    with pytest.raises(UsageError) as raised:
        csv_to_parquet.parse_args([*argv, str(comments)])
    assert str(raised.value) == (
        f"rules file {comments} holds comments only: give a DQDL ruleset (Rules = [ ... ]; Rules = [ ] for none), "
        "or leave --rules out for the dataset's own rules"
    )
    fifo = tmp_path / "rules"  # as ``--rules <(...)`` passes it: a pipe, no regular file
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"printf 'Rules = [ RowCount > 0 ]' > '{fifo}'"])
    try:
        assert [rule.text for rule in csv_to_parquet.parse_args([*argv, str(fifo)]).rules] == ["RowCount > 0"]
    finally:
        writer.wait(timeout=30)


def test_an_encoding_java_does_not_know_is_refused_before_anything_is_read(spark, products, capsys):
    assert csv_to_parquet.main(convert_argv(products, products / "out", "--encoding", "utf-9")) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        "csv_to_parquet: error: --encoding 'utf-9' is not an encoding Java knows (e.g. UTF-8, ISO-8859-1, windows-1252)"
    )
    assert not (products / "out").exists()


@pytest.mark.parametrize("name, message", [("missing", "table path does not exist"), ("plain", "not a Delta table")])
def test_history_of_a_missing_path_or_a_plain_folder_says_which(tmp_path, capsys, name, message):
    (tmp_path / "plain").mkdir()
    assert cli.main(["history", str(tmp_path / name)]) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == f"lakejobs: error: {message}: {tmp_path / name}"


def test_a_partition_column_spark_escapes_in_its_folders_is_the_same_layout(spark, tmp_path):
    (tmp_path / "t" / "a%3Ab=1").mkdir(parents=True)
    (tmp_path / "t" / "a%3Ab=1" / "part-0.parquet").write_bytes(b"PAR1")
    refuse_other_layout(spark, str(tmp_path / "t"), ["a:b"])
    with pytest.raises(UsageError, match=r"is partitioned by a:b \(a%3Ab=1/part-0.parquet\), not by ab:"):
        refuse_other_layout(spark, str(tmp_path / "t"), ["ab"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["state", "reset", "csv_to_parquet", "--lake", "L", "--state_path", "s.json"],
            "--lake names a lake's state; --state_path names the file itself: give one or the other",
        ),
        (
            ["state", "show", "csv_to_parquet", "--dataset", "customers", "--state_path", "s.json"],
            "--dataset names a lake's state; --state_path names the file itself: give one or the other",
        ),
        (
            ["report", "--lake", "A", "--runs", "B"],
            "--lake names a lake's runs folder; --runs names the folder itself: give one or the other",
        ),
    ],
)
def test_a_location_given_two_ways_is_refused_not_half_ignored(argv, message, capsys, tmp_path, monkeypatch):
    """``--lake`` and ``--dataset`` were dropped without a word beside ``--state_path`` (or ``--runs``)."""
    monkeypatch.chdir(tmp_path)  # the relative paths name nothing in the checkout, even if one were used
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"lakejobs: error: {message}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("job", ["taxi_trips", "transactions", "warehouse_extract", "warehouse_load"])
def test_a_report_folder_that_is_a_file_is_refused_before_spark_starts(tmp_path, capsys, job):
    """Every job refuses it as csv_to_parquet does; the report was lost with a warning and exit 0."""
    import importlib

    notes = tmp_path / "notes.txt"
    notes.write_text("kept")
    raw = tmp_path / "raw.csv"
    raw.write_text("x\n")
    argv = {
        "taxi_trips": ["--input_path", str(raw), "--output_path", str(tmp_path / "out")],
        "transactions": ["--input_path", str(raw), "--output_path", str(tmp_path / "out")],
        "warehouse_extract": ["--table", "t", "--jdbc_url", "jdbc:postgresql://127.0.0.1:1/d"],
        "warehouse_load": [
            "--input_path",
            str(tmp_path),
            "--key",
            "id",
            "--jdbc_url",
            "jdbc:postgresql://127.0.0.1:1/d",
        ],
    }[job]
    if job == "warehouse_extract":
        argv += ["--output_path", str(tmp_path / "out")]
    module = importlib.import_module(f"lakejobs.jobs.{job}")
    capsys.readouterr()
    code = module.main([*argv, "--report_path", str(notes)])
    assert (code, stderr_lines(capsys.readouterr().err)) == (
        2,
        [f"{job}: error: --report_path {notes} cannot be written: {notes} is a file, not a folder"],
    )
    assert notes.read_text() == "kept"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("lake", ["s3://", "s3:///lake", "s3a://"])
def test_a_catalog_lake_without_a_bucket_is_refused(capsys, lake):
    """``catalog ddl --lake s3://`` printed DDL with LOCATION 's3:/rawData/...' and exit 0."""
    assert cli.main(["catalog", "ddl", "--lake", lake]) == 2
    scheme = lake.split(":")[0]  # refused with every command's paths since session 36, before catalog's own check
    assert stderr_lines(capsys.readouterr().err) == [
        f"lakejobs: error: --lake {lake} is not an S3 URI as Hadoop reads one: write {scheme}://bucket/key "
        "(a lower-case scheme, two slashes, then the bucket)"
    ]


@pytest.mark.parametrize(
    "module, argv, message",
    [
        ("packaging", ["--pyver"], "python -m lakejobs.packaging: error: argument --pyver: expected one argument"),
        ("packaging", ["--dist", "{file}"], "lakejobs.packaging: error: --dist {file} is a file, not a folder"),
        (
            "packaging",
            ["--dist", "{tmp}/d", "--extra-requirements", "{tmp}"],
            "lakejobs.packaging: error: extra requirements file is a folder: {tmp}",
        ),
        ("generate_field", ["--seed", "-1", "--out", "x"], "lakejobs.generate_field: error: argument --seed: expected"),
    ],
)
def test_packaging_and_generate_field_mistakes_are_one_line_and_exit_2(tmp_path, capsys, module, argv, message):
    """Plain argparse printed a usage block; a --dist that is a file, a traceback."""
    import importlib

    afile = tmp_path / "afile"
    afile.write_text("kept")
    fill = {"file": afile, "tmp": tmp_path}
    with pytest.raises(SystemExit) if argv == ["--pyver"] or "--seed" in argv else contextlib.nullcontext() as ended:
        code = importlib.import_module(f"lakejobs.{module}").main([text.format(**fill) for text in argv])
    code = ended.value.code if ended else code
    [line] = stderr_lines(capsys.readouterr().err)
    assert (code, line.startswith(message.format(**fill))) == (2, True), line
    assert afile.read_text() == "kept"


def test_an_unpartitioned_run_into_a_partitioned_table_is_refused_not_replacing_it(spark, products, capsys):
    output = products / "out"
    assert csv_to_parquet.main(convert_argv(products, output, "--partition_by", "sku")) == 0
    kept = files_under(output)
    capsys.readouterr()
    assert csv_to_parquet.main(convert_argv(products, output)) == 2
    first = next(name for name in kept if name.endswith(".parquet"))
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: {output} is partitioned by sku ({first}), not by nothing: "
        "write to a new output, or delete it and convert every input again"
    )
    assert files_under(output) == kept


@pytest.mark.parametrize("partition", [(), ("--partition_by", "sku")], ids=["unpartitioned", "partitioned"])
def test_a_quarantine_path_naming_a_parquet_table_is_refused_and_the_table_kept(spark, products, capsys, partition):
    """The table's files were moved aside as an 'earlier quarantine layout', or deleted with it."""
    table = products / "customers"
    assert csv_to_parquet.main(convert_argv(products, table, *partition)) == 0
    kept = files_under(table)
    capsys.readouterr()
    argv = convert_argv(products, products / "other", "--quarantine_path", str(table))
    assert csv_to_parquet.main(argv) == 2
    first = next(name for name in kept if name.endswith(".parquet"))
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: --quarantine_path {table} holds parquet files ({first}), not json: it is another "
        "table, which the run would replace; give this output its own folder"
    )
    assert files_under(table) == kept


@pytest.mark.parametrize("partition", [(), ("--partition_by", "sku")], ids=["unpartitioned", "partitioned"])
def test_a_delta_run_into_a_parquet_table_is_refused_and_the_table_kept(spark, products, capsys, partition):
    """Until session 40 Delta started its log beside the Parquet files: read as Parquet, the rows twice."""
    table = products / "customers"
    assert csv_to_parquet.main(convert_argv(products, table, *partition)) == 0
    kept = files_under(table)
    capsys.readouterr()
    assert csv_to_parquet.main(convert_argv(products, table, *partition, "--format", "delta")) == 2
    first = next(name for name in kept if name.endswith(".parquet"))
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: --output_path {table} holds parquet files ({first}) and no _delta_log: it is not a "
        "Delta table, and a delta run would add one beside its files; write it with --format parquet, or give this "
        "output its own folder"
    )
    assert files_under(table) == kept


def test_an_output_path_naming_a_quarantine_is_refused_and_the_records_kept(spark, products, capsys):
    (products / "in" / "bad.csv").write_text("c3,not a price\n")
    argv = convert_argv(products, products / "out", "--max_bad_fraction", "1")
    assert csv_to_parquet.main(argv) == 0
    quarantine = products / "out_quarantine"
    kept = files_under(quarantine)
    capsys.readouterr()
    assert csv_to_parquet.main(convert_argv(products, quarantine)) == 2
    first = next(name for name in kept if name.endswith(".json"))
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: --output_path {quarantine} holds json files ({first}), not parquet: it is "
        "another table, which the run would replace; give this output its own folder"
    )
    assert files_under(quarantine) == kept


@pytest.mark.parametrize("second", ["stock_prices", "taxi_trips"])
def test_a_field_job_into_another_jobs_table_is_refused_not_mixing_layouts(spark, tmp_path, capsys, second):
    """stock_prices into fx's output left ticker= folders beside base=: a table Spark refuses to read."""
    from lakejobs.jobs import fx_rates, taxi_trips

    out = tmp_path / "fx"
    assert fx_rates.main(["--input_path", str(SAMPLE_RAW / "fx"), "--output_path", str(out)]) == 0
    kept = files_under(out)
    capsys.readouterr()
    module = {"stock_prices": stock_prices, "taxi_trips": taxi_trips}[second]
    source = SAMPLE_RAW / {"stock_prices": "stocks", "taxi_trips": "taxi"}[second]
    quarantine = ["--quarantine_path", str(tmp_path / "q")]
    assert module.main(["--input_path", str(source), "--output_path", str(out), *quarantine]) == 2
    [line] = stderr_lines(capsys.readouterr().err)
    wanted = {"stock_prices": "ticker", "taxi_trips": "pickup_date"}[second]
    assert line.startswith(f"{second}: error: {out} is partitioned by base, quote (base="), line
    assert line.endswith(f"not by {wanted}: write to a new output, or delete it and convert every input again"), line
    assert files_under(out) == kept


def test_state_of_a_mistyped_lake_or_a_folder_is_refused_writing_nothing(tmp_path, capsys):
    """A typo'd --lake printed 'no state was at ...', exit 0, and made the folders and a state file."""
    typo = tmp_path / "typo_lake"
    assert cli.main(["state", "reset", "csv_to_parquet", "--lake", str(typo), "--dataset", "orders"]) == 2
    assert stderr_lines(capsys.readouterr().err) == [
        f"lakejobs: error: --lake {typo} does not exist: give the lake folder (the one holding processedData/)"
    ]
    assert not typo.exists()
    assert cli.main(["state", "show", "csv_to_parquet", "--state_path", str(tmp_path)]) == 2
    assert stderr_lines(capsys.readouterr().err) == [
        f"lakejobs: error: --state_path {tmp_path} is a folder: give the state file "
        "(<lake>/_lakejobs/state/<job>/<name>.json)"
    ]


def test_state_reset_of_a_dataset_or_lake_holding_none_is_refused_writing_nothing(spark, tmp_path, capsys):
    """``--dataset Orders`` said "no state was at .../Orders.json", exit 0, and left orders' state as it was;
    a table folder as ``--lake`` got a state inside it, which every later run then refused."""
    lake = tmp_path / "lake"
    (lake / "processedData" / "orders").mkdir(parents=True)
    states = lake / "_lakejobs" / "state" / "csv_to_parquet"
    states.mkdir(parents=True)
    (states / "orders.json").write_text(
        '{"job": "csv_to_parquet", "processed": {}, "input_path": "", "output_path": ""}'
    )
    (tmp_path / "afile").write_text("")
    before = sorted(tmp_path.rglob("*"))
    refusals = {
        ("reset", str(lake), "Orders"): (
            f"no state at {states}/Orders.json, and no table at {lake}/processedData/Orders: check --dataset (the "
            "csv_to_parquet states here are of orders)"
        ),
        (
            "show",
            str(lake),
            "customers",
        ): f"no state at {states}/customers.json (the csv_to_parquet states here are of orders)",
        ("reset", str(lake / "processedData" / "orders"), "orders"): (
            f"--lake {lake}/processedData/orders holds neither processedData/ nor _lakejobs/: give the lake folder"
        ),
        ("reset", str(tmp_path / "afile"), "orders"): (
            f"--lake {tmp_path}/afile is not a folder: give the lake folder (the one holding processedData/)"
        ),
        (
            "reset",
            str(lake),
            "../../x",
        ): "--dataset '../../x' is no dataset name: give one such as orders (no / or leading .)",
    }
    for (action, given_lake, dataset), message in refusals.items():
        assert cli.main(["state", action, "csv_to_parquet", "--lake", given_lake, "--dataset", dataset]) == 2
        assert stderr_lines(capsys.readouterr().err) == [f"lakejobs: error: {message}"]
    under_a_file = tmp_path / "afile" / "state.json"
    assert cli.main(["state", "reset", "csv_to_parquet", "--state_path", str(under_a_file)]) == 2
    [line] = stderr_lines(capsys.readouterr().err)
    assert line.startswith(f"lakejobs: error: --state_path {under_a_file} cannot be written: "), line
    assert sorted(tmp_path.rglob("*")) == before
    # A table converted in full so far has no state yet: its reset is how incremental runs start on it.
    assert cli.main(["state", "reset", "csv_to_parquet", "--lake", str(lake), "--dataset", "orders"]) == 0
    (lake / "processedData" / "customers").mkdir()
    assert cli.main(["state", "reset", "csv_to_parquet", "--lake", str(lake), "--dataset", "customers"]) == 0
    assert json.loads((states / "customers.json").read_text())["reset"] is True


@pytest.mark.parametrize(
    "argv, option",
    [
        (["state", "reset", "csv_to_parquet", "--lake", "L", "--dataset", ""], "--dataset"),
        (["pipeline", "start", "--runtime", "glue", "--bucket", ""], "--bucket"),
        (["deploy", "--target", "glue", "--bucket", "bkt", "--prefix", "", "--role-arn", ""], "--role-arn"),
    ],
)
def test_a_cli_option_given_an_empty_value_is_refused_not_read_as_left_out(argv, option, capsys):
    """``state reset ... --dataset "$DS"`` with DS unset reset the orders state (--prefix may be empty)."""
    assert cli.main(argv) == 2
    assert stderr_lines(capsys.readouterr().err) == [
        f"lakejobs: error: {option} is empty: give a value, or leave the option out"
    ]


@pytest.mark.parametrize("delimiter", ["\t", " ", ";"])
def test_a_tab_or_a_space_is_a_delimiter_not_an_empty_value(delimiter):
    argv = ["--schema", SCHEMA, "--input_path", "in", "--output_path", "o", "--delimiter", delimiter]
    assert csv_to_parquet.parse_args(argv).dataset.csv.delimiter == delimiter


def test_emrfs_folder_markers_beside_partitions_are_not_taken_for_another_layout(spark, products):
    """S3A lists EMRFS's ``sku=a1_$folder$`` objects as files: 'partitioned by nothing' refused the table."""
    output = products / "out"
    argv = convert_argv(products, output, "--partition_by", "sku")
    assert csv_to_parquet.main(argv) == 0
    (output / "sku=a1_$folder$").write_bytes(b"")
    refuse_other_layout(spark, str(output), ["sku"])
    refuse_foreign_folders(spark, {"--output_path": str(output)})
    assert csv_to_parquet.main(argv) == 0


@pytest.mark.parametrize(
    "output_format, more",
    [
        ("delta", ["--primary_key", "sku"]),
        ("parquet", ["--partition_by", "sku"]),
        ("delta", ["--incremental", "true", "--state_path", "STATE"]),
    ],
    ids=["delta_merge", "parquet_partitions", "delta_append"],
)
def test_a_table_of_other_columns_is_refused_not_cast_or_mixed(spark, products, capsys, output_format, more):
    # A MERGE cast 1.239 to the table's decimal(10,2) (1.24) and dropped currency; a partition
    # overwrite left files Spark cannot read together.
    output = products / "out"
    more = [str(products / "state.json") if value == "STATE" else value for value in more]
    first = convert_argv(products, output, "--format", output_format, *more)
    assert csv_to_parquet.main(first) == 0
    before = files_under(output)
    (products / "in" / "p.csv").write_text("c3,1.239,EUR\n")
    changed = [*first]
    changed[changed.index("--schema") + 1] = "sku STRING NOT NULL, price DECIMAL(12,3), currency STRING"
    capsys.readouterr()

    assert csv_to_parquet.main(changed) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: --output_path {output} holds a table with other columns than this run's: "
        "price is decimal(10,2) there, decimal(12,3) here; currency is not in the table; writing into it would "
        "cast, drop or mix them: write to a new output, or delete the table and convert every input again"
    )
    assert files_under(output) == before


@pytest.mark.parametrize("output_format", ["parquet", "delta"])
def test_a_table_replaced_whole_takes_the_runs_columns(spark, products, output_format):
    # An unpartitioned Parquet table, a keyless Delta table (overwritten with its new schema).
    output = products / "out"
    assert csv_to_parquet.main(convert_argv(products, output, "--format", output_format)) == 0
    (products / "in" / "p.csv").write_text("c3,1.239,EUR\n")
    argv = convert_argv(products, output, "--format", output_format)
    argv[argv.index("--schema") + 1] = "sku STRING NOT NULL, price DECIMAL(12,3), currency STRING"
    assert csv_to_parquet.main(argv) == 0
    table = spark.read.format(output_format).load(str(output))
    assert [tuple(row) for row in table.collect()] == [("c3", Decimal("1.239"), "EUR")]


@pytest.mark.parametrize(
    "runs, incremental, commits_since",
    [(1, False, 0), (2, True, 0), (2, False, 2)],
    ids=["created_full", "merged_incremental", "after_the_commits_read"],
)
def test_a_run_without_the_key_of_a_merged_delta_table_is_refused(
    spark, products, capsys, monkeypatch, incremental, runs, commits_since
):
    """It replaced the merged table whole with its batch (or appended beside the rows to update); with
    more commits since than the check reads (ten vacuums against 20 until session 49; here one
    against 2, the same case in a tenth of the time), the keyed first commit and the MERGE were out of them."""
    output = products / "out"
    for _ in range(runs):  # one: created by a keyed run (a WRITE); two: merged too
        assert csv_to_parquet.main(convert_argv(products, output, "--format", "delta", "--primary_key", "sku")) == 0
    if commits_since:
        monkeypatch.setattr(table_schema, "KEY_HISTORY_COMMITS", commits_since)
    for _ in range(commits_since // 2):  # two commits each (VACUUM START, END); no SQL: no spark-warehouse here
        DeltaTable.forPath(spark, str(output)).vacuum(168)
    before = files_under(output)
    (products / "in" / "p.csv").write_text("c3,3.00\n")
    capsys.readouterr()
    more = ["--incremental", "true", "--state_path", str(products / "state.json")] if incremental else []
    assert csv_to_parquet.main(convert_argv(products, output, "--format", "delta", *more)) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: --output_path {output} is a Delta table kept by a key (merged, or created by a "
        "keyed run), and this run has none: give its --primary_key, or delete the table to replace it whole"
    )
    assert files_under(output) == before


def test_a_run_with_another_key_than_the_delta_tables_is_refused(spark, products, capsys):
    """A MERGE on price replaced b2's row with c3's, which only shared its price, and the run succeeded."""
    output = products / "out"
    assert csv_to_parquet.main(convert_argv(products, output, "--format", "delta", "--primary_key", "sku")) == 0
    before = files_under(output)
    (products / "in" / "p.csv").write_text("c3,2.00\n")
    capsys.readouterr()
    assert csv_to_parquet.main(convert_argv(products, output, "--format", "delta", "--primary_key", "price")) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: --output_path {output} is a Delta table kept by the key sku (its first commit says "
        "so), and this run's key is price: a MERGE on another key replaces rows that only share its values; run "
        "with the key sku, or write to a new output (or delete the table to rebuild it)"
    )
    assert files_under(output) == before
    assert csv_to_parquet.main(convert_argv(products, output, "--format", "delta", "--primary_key", "sku")) == 0
    table = spark.read.format("delta").load(str(output))
    assert sorted(tuple(row) for row in table.collect()) == [
        ("a1", Decimal("1.50")),
        ("b2", Decimal("2.00")),
        ("c3", Decimal("2.00")),
    ]


def test_a_keyed_run_into_a_keyless_delta_table_holding_a_key_twice_is_refused(spark, products, capsys):
    """Until session 47 the MERGE was committed (both copies updated), then the run failed its count check."""
    output = products / "out"
    (products / "in" / "p.csv").write_text("a1,1.50\nb2,2.00\nb2,2.00\n")
    assert csv_to_parquet.main(convert_argv(products, output, "--format", "delta")) == 0
    before = files_under(output)
    (products / "in" / "p.csv").write_text("b2,9.00\n")
    capsys.readouterr()
    assert csv_to_parquet.main(convert_argv(products, output, "--format", "delta", "--primary_key", "sku")) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: --output_path {output} is a Delta table written without a key, and it holds 1 "
        "key(s) more than once (e.g. sku=b2): a MERGE on sku updates every copy and keeps them all; remove the "
        "repeats from the table first, or write to a new output (or delete the table to rebuild it)"
    )
    assert files_under(output) == before
    DeltaTable.forPath(spark, str(output)).delete("sku = 'b2'")  # the repeats removed: the keyed run merges
    (products / "in" / "p.csv").write_text("b2,9.00\nc3,3.00\n")
    assert csv_to_parquet.main(convert_argv(products, output, "--format", "delta", "--primary_key", "sku")) == 0
    table = spark.read.format("delta").load(str(output))
    assert sorted(tuple(row) for row in table.collect()) == [
        ("a1", Decimal("1.50")),
        ("b2", Decimal("9.00")),
        ("c3", Decimal("3.00")),
    ]


@pytest.mark.parametrize("more", [["--primary_key", "sku"], ["--incremental", "true"]], ids=["merge", "append"])
def test_a_delta_run_partitioned_otherwise_than_its_table_is_refused(spark, products, capsys, more):
    """Until session 47 a MERGE kept the table's partitioning and named the run's in its SUCCEEDED result; an
    append failed with Delta's ``Partition columns do not match``."""
    output = products / "out"
    state = ["--state_path", str(products / "state.json")] if "--incremental" in more else []
    first = convert_argv(products, output, "--format", "delta", "--partition_by", "price", *more, *state)
    assert csv_to_parquet.main(first) == 0
    before = files_under(output)
    (products / "in" / "q.csv").write_text("c3,3.00\n")
    capsys.readouterr()
    assert csv_to_parquet.main(convert_argv(products, output, "--format", "delta", *more, *state)) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: {output} is a Delta table partitioned by price (its log says so), not by nothing: "
        "run with --partition_by price, or write to a new output (or delete the table to rebuild it)"
    )
    assert files_under(output) == before


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_an_output_inside_an_existing_table_is_refused(spark, products, capsys, fmt):
    """Until session 47 it succeeded, and the table around it could no longer be read (conflicting directories)."""
    table = products / "table"
    assert csv_to_parquet.main(convert_argv(products, table, "--format", fmt)) == 0
    before = files_under(table)
    capsys.readouterr()
    assert csv_to_parquet.main(convert_argv(products, table / "inner")) == 2
    marker = "_delta_log" if fmt == "delta" else "_SUCCESS"
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: --output_path {table / 'inner'} lies inside the table {table} (it holds {marker}): "
        "its folders would be read as part of that table, which Spark then refuses to read; write outside it"
    )
    assert files_under(table) == before
    # A quarantine inside the table is refused too; the report, outside it, is left as for any refusal.
    assert csv_to_parquet.main(convert_argv(products, products / "o2", "--quarantine_path", str(table / "q"))) == 2
    assert [path.parent.name for path in (products / "o2_lakejobs" / "runs").rglob("*.json")] == ["csv_to_parquet"]
    assert files_under(table) == before
    assert csv_to_parquet.main(convert_argv(products, table / "_scratch" / "out")) == 0  # readers skip _scratch


def test_an_output_inside_a_partitioned_table_without_a_success_marker_is_refused(spark, products, capsys):
    """lakejobs' partitioned Parquet tables hold no ``_SUCCESS``: until session 48 a run inside one SUCCEEDED."""
    table = products / "table"
    assert csv_to_parquet.main(convert_argv(products, table, "--partition_by", "price")) == 0
    assert not (table / "_SUCCESS").exists()
    before = files_under(table)
    capsys.readouterr()
    assert csv_to_parquet.main(convert_argv(products, table / "inner")) == 2
    assert stderr_lines(capsys.readouterr().err)[-1] == (
        f"csv_to_parquet: error: --output_path {table / 'inner'} lies inside the table {table} (it holds "
        "price=1.50): its folders would be read as part of that table, which Spark then refuses to read; "
        "write outside it"
    )
    assert files_under(table) == before
    # A partition of the table, new or not, and a folder inside one: inside the table too.
    partition = table / "price=1.50"
    for inner, around, sign in ((table / "price=9.99", table, "price=1.50"), (partition / "x", partition, "part-0")):
        assert csv_to_parquet.main(convert_argv(products, inner)) == 2
        assert stderr_lines(capsys.readouterr().err)[-1].startswith(
            f"csv_to_parquet: error: --output_path {inner} lies inside the table {around} (it holds {sign}"
        )
    assert files_under(table) == before
    # Dated snapshots, each in a column=value folder of its own, are no table around each other.
    daily = products / "daily"
    assert csv_to_parquet.main(convert_argv(products, daily / "dt=2024-01-01" / "out")) == 0
    assert csv_to_parquet.main(convert_argv(products, daily / "dt=2024-01-02" / "out")) == 0
    # A file named like a partition is none (until session 49 it made its folder a table) ...
    (products / "notes=v1.txt").write_text("kept\n")
    assert csv_to_parquet.main(convert_argv(products, products / "proj" / "out")) == 0
    # ... and an output holding one is refused (until session 49 a full run deleted it with the table).
    (products / "proj" / "out" / "notes=v1.txt").write_text("kept\n")
    capsys.readouterr()
    assert csv_to_parquet.main(convert_argv(products, products / "proj" / "out")) == 2
    assert stderr_lines(capsys.readouterr().err)[-1].startswith(
        f"csv_to_parquet: error: --output_path {products / 'proj' / 'out'} holds notes=v1.txt, which a "
        "table's folder does not"
    )
    assert (products / "proj" / "out" / "notes=v1.txt").read_text() == "kept\n"


def test_a_pipeline_whose_lake_lies_inside_a_table_is_refused_leaving_the_table_as_it_was(
    spark, sample_lake, tmp_path, capsys
):
    """Until session 48 such a pipeline SUCCEEDED: the orders table then held a whole lake (1100 rows, not 300).

    Until session 49 the line named the step's ``--output_path`` without naming the step.
    """
    orders = tmp_path / "orders"
    shutil.copytree(sample_lake / "processedData" / "orders", orders)
    before = files_under(orders)
    capsys.readouterr()
    assert cli.main(["pipeline", "--raw", str(SAMPLE_RAW), "--lake", str(orders / "sub")]) == 2
    assert stderr_lines(capsys.readouterr().err)[-1].startswith(
        "lakejobs: error: step csv_to_parquet customers (its paths come from --raw and --lake): "
        f"--output_path {orders / 'sub' / 'processedData' / 'customers'} lies inside the table "
        f"{orders} (it holds order_year=2011)"
    )
    assert files_under(orders) == before


def test_a_references_path_no_rule_reads_is_refused(tmp_path):
    """Until session 48 ``--references_path /nonexistent`` on customers was accepted without a word."""
    argv = ["--dataset", "customers", "--input_path", str(tmp_path / "in"), "--output_path", str(tmp_path / "o")]
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.parse_args(argv + ["--references_path", str(tmp_path / "nonexistent")])
    assert str(refused.value) == (
        "--references_path is read by ReferentialIntegrity rules naming another table, and the rules of customers "
        "have none: leave it out, or give --rules with such a rule"
    )
    orders = ["--dataset", "orders", "--input_path", str(tmp_path / "in"), "--output_path", str(tmp_path / "o")]
    assert csv_to_parquet.parse_args(orders + ["--references_path", str(tmp_path / "r")]).references_path == str(
        tmp_path / "r"
    )


@pytest.mark.parametrize("option", ["--quote", "--escape"])
def test_a_quote_or_escape_that_is_the_delimiter_is_refused(tmp_path, option):
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.parse_args(convert_argv(tmp_path, tmp_path / "o", "--delimiter", ";", option, ";"))
    assert str(refused.value) == f"{option} ';' is also the delimiter: give another character"


@pytest.mark.parametrize("job", ["transactions", "fx_rates", "stock_prices", "taxi_trips"])
def test_a_field_job_given_an_empty_folder_fails_in_one_line(spark, tmp_path, capsys, job):
    """transactions and fx_rates said SUCCEEDED with 0 rows: a wrong or unfilled folder looked green."""
    import importlib

    (tmp_path / "in").mkdir()
    module = importlib.import_module(f"lakejobs.jobs.{job}")
    assert module.main(["--input_path", str(tmp_path / "in"), "--output_path", str(tmp_path / "out")]) == 2
    assert stderr_lines(capsys.readouterr().err) == [f"{job}: error: no data files below {tmp_path / 'in'}"]
    assert not (tmp_path / "out").exists()
