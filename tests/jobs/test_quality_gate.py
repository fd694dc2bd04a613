"""A user's rules file gates a run: one line naming the rule and value, nothing published, results reported."""

import json

import pytest
from chispa import assert_df_equality

from lakejobs import cli
from lakejobs.io.quarantine import source_value
from lakejobs.jobs import csv_to_parquet
from tests.conftest import ROOT, SAMPLE_RAW, stderr_lines

RULES = """# the user's own rules replace the dataset's
Rules = [
    ColumnValues "orderqty" between 1 and 3 severity warn,
    IsUnique "salesorderid" "salesorderdetailid",
    Completeness "shipdate" >= 0.9,
    RowCount between 1 and 1000,
    CustomSql "select count(*) from primary where shipdate < orderdate" = 0,
    RowCountChange between -0.5 and 0.5
]
"""


def files_with_times(folder):
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


BAD_LINE = "1,2,3"
MALFORMED = (BAD_LINE, "malformed_record", "expected 16 fields separated by ','")
RECORD_COLUMNS = ["dataset", "source_file", "raw_line", "reason", "detail", "run_id"]


def write_orders(folder, lines):
    """``folder/orders.csv`` holding ``lines``; returns the file's URL as Spark names it."""
    folder.mkdir()
    (folder / "orders.csv").write_text("\n".join(lines) + "\n")
    return (folder / "orders.csv").absolute().as_uri()


def malformed_record(spark, source_file, run_id, with_source):
    columns = RECORD_COLUMNS + (["source"] if with_source else [])
    row = ("orders", source_file, *MALFORMED, run_id) + ((source_value(source_file),) if with_source else ())
    return spark.createDataFrame([row], ", ".join(f"{column} string" for column in columns))


def test_a_failed_rule_exits_1_with_one_line_publishes_nothing_and_is_reported(spark, tmp_path, capsys):
    rules = tmp_path / "orders.dqdl"
    rules.write_text(RULES)
    lines = (SAMPLE_RAW / "orders" / "orders-00000.csv").read_text().splitlines()
    # Both runs read one malformed line: the first publishes it to the quarantine, the failed one must not.
    full_file = write_orders(tmp_path / "full", lines + [BAD_LINE])
    small_file = write_orders(tmp_path / "small", lines[:100] + [BAD_LINE])
    argv = ["--dataset", "orders", "--rules", str(rules), "--output_path", str(tmp_path / "orders")]
    outside = sum(not 1 <= int(line.split(",")[12]) <= 3 for line in lines)
    first = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv + ["--input_path", str(tmp_path / "full")]))
    assert (first.rows_read, first.rows_written, first.quarantine_reasons) == (301, 300, {"malformed_record": 1})
    assert [(r["outcome"], r.get("measured")) for r in first.details["rules"]] == [
        ("warned", round(1 - outside / 300, 6)),  # over the 300 rows it checked, not the malformed one
        ("passed", 0.0),
        ("passed", 1.0),
        ("passed", 300.0),
        ("passed", 0.0),
        ("skipped", None),
    ]
    quarantine = tmp_path / "orders_quarantine"
    assert_df_equality(
        spark.read.json(str(quarantine)).select(*RECORD_COLUMNS, "source"),
        malformed_record(spark, full_file, first.run_id, with_source=True),
        ignore_nullable=True,
    )
    output_before = files_with_times(tmp_path / "orders")
    quarantine_before = files_with_times(quarantine)
    assert len([name for name in quarantine_before if name.endswith(".json")]) == 1
    capsys.readouterr()  # the first run's log lines, if an earlier test configured logging

    code = csv_to_parquet.main(argv + ["--input_path", str(tmp_path / "small")])

    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    rejected = tmp_path / "orders_quarantine_rejected" / f"run_id={result['run_id']}"
    message = (
        "csv_to_parquet: error: orders: quality rule failed: RowCountChange between -0.5 and 0.5 "
        "(measured -0.666667); nothing was published"
    )
    # The single pass staged the good rows before the gate measured them; the staging is removed.
    staged = tmp_path / "orders" / "_staging" / f"run_id={result['run_id']}"
    assert (code, stderr_lines(captured.err)) == (
        1,
        [
            f"INFO lakejobs.io.writer: wrote orders: 100 rows in 3 files to {staged}",
            f"INFO lakejobs.io.writer: wrote rejected: 1 rows in 1 files to {rejected}",
            message,
        ],
    )
    assert not staged.parent.exists()
    assert (result["status"], result["rows_read"], result["details"]["rules"][-1]) == (
        "FAILED",
        101,
        {
            "rule": "RowCountChange between -0.5 and 0.5",
            "level": "dataset",
            "severity": "fail",
            "outcome": "failed",
            "measured": -0.666667,
        },
    )
    assert files_with_times(tmp_path / "orders") == output_before
    assert files_with_times(quarantine) == quarantine_before
    assert [path.name for path in rejected.parent.iterdir()] == [rejected.name]
    assert_df_equality(
        spark.read.json(str(rejected)).select(*RECORD_COLUMNS),
        malformed_record(spark, small_file, result["run_id"], with_source=False),
        ignore_nullable=True,
    )
    reports = sorted((tmp_path / "orders_lakejobs" / "runs" / "csv_to_parquet").glob("*.json"))
    assert [json.loads(path.read_text())["status"] for path in reports] == ["SUCCEEDED", "FAILED"]

    assert cli.main(["report", "--runs", str(tmp_path / "orders_lakejobs" / "runs")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[2:8] for line in table[2:] if line[:4].isdigit()] == [
        ["csv_to_parquet", "orders", "FAILED", "101", "0", "1"],
        ["csv_to_parquet", "orders", "SUCCEEDED", "301", "300", "1"],
    ]
    assert "                    failed: RowCountChange between -0.5 and 0.5 (measured -0.666667)" in table


def test_a_rule_on_an_unknown_column_is_a_usage_error_before_spark(tmp_path, capsys):
    rules = tmp_path / "bad.dqdl"
    rules.write_text('Rules = [ IsComplete "quantity" ]')
    argv = ["--dataset", "orders", "--rules", str(rules), "--input_path", "x", "--output_path", str(tmp_path / "o")]
    assert csv_to_parquet.main(argv) == 2
    assert capsys.readouterr().err == (
        "csv_to_parquet: error: rule 'IsComplete \"quantity\"': orders has no column quantity\n"
    )


def test_a_pattern_java_cannot_compile_fails_the_run_with_one_line_before_any_data_is_read(spark, tmp_path, capsys):
    rules = tmp_path / "bad.dqdl"
    rules.write_text('Rules = [ ColumnValues "productid" matches "[0-9" ]')
    out = tmp_path / "o"
    argv = ["--dataset", "orders", "--rules", str(rules), "--input_path", str(SAMPLE_RAW / "orders")]
    assert csv_to_parquet.main([*argv, "--output_path", str(out)]) == 2
    assert stderr_lines(capsys.readouterr().err) == [
        "csv_to_parquet: error: rule 'ColumnValues \"productid\" matches \"[0-9\"': '[0-9' is not a valid "
        "regular expression (Java: Unclosed character class near index 3)"
    ]
    assert not out.exists()
    (report,) = (tmp_path / "o_lakejobs" / "runs" / "csv_to_parquet").glob("*.json")
    assert (json.loads(report.read_text())["status"], json.loads(report.read_text())["rows_read"]) == ("FAILED", 0)


def test_a_pattern_that_compiles_alone_but_not_wrapped_whole_fails_the_run_with_one_line(spark, tmp_path, capsys):
    rules = tmp_path / "comment.dqdl"
    rules.write_text(r'Rules = [ ColumnValues "productid" matches "(?x)\d+ # digits" ]')
    out = tmp_path / "o"
    argv = ["--dataset", "orders", "--rules", str(rules), "--input_path", str(SAMPLE_RAW / "orders")]
    assert csv_to_parquet.main([*argv, "--output_path", str(out)]) == 2
    assert stderr_lines(capsys.readouterr().err) == [
        r"""csv_to_parquet: error: rule 'ColumnValues "productid" matches "(?x)\\d+ # digits"': '(?x)\\d+ # digits'"""
        r""" cannot be matched against whole values (Java, for '^(?:(?x)\\d+ # digits)\\z': Unclosed group"""
        r""" near index 23)"""
    ]
    assert not out.exists()


def test_a_pattern_in_java_syntax_python_does_not_read_is_accepted(spark, tmp_path):
    rules = tmp_path / "java.dqdl"
    rules.write_text('Rules = [ ColumnValues "productid" matches "\\p{Digit}++" ]')
    argv = ["--dataset", "orders", "--rules", str(rules), "--input_path", str(SAMPLE_RAW / "orders")]
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args([*argv, "--output_path", str(tmp_path / "o")]))
    assert (result.status, result.rows_written, result.rows_quarantined) == ("SUCCEEDED", 300, 0)


def readme_ruleset():
    """The ``# orders.dqdl`` example of the README, as a user would copy it."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```\n# orders.dqdl\n") + len("```\n")
    return readme[start : readme.index("```", start)]


def test_the_readme_example_ruleset_runs_on_the_sample_orders(spark, sample_lake, tmp_path):
    rules = tmp_path / "orders.dqdl"
    rules.write_text(readme_ruleset())
    argv = ["--dataset", "orders", "--rules", str(rules), "--input_path", str(SAMPLE_RAW / "orders")]
    argv += ["--output_path", str(tmp_path / "orders"), "--references_path", str(sample_lake / "processedData")]
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.status, result.rows_read, result.rows_written, result.rows_quarantined) == ("SUCCEEDED", 300, 300, 0)
    # Its one IsUnique rule is over the primary key: the key check settles it, no aggregate runs.
    assert (result.details["conversion"], "measure_after_staging" in result.stages_s) == ("single_pass", False)
    assert [(r["rule"], r["outcome"], r.get("measured")) for r in result.details["rules"]] == [
        ('IsComplete "customerid"', "passed", 1.0),
        ('ColumnValues "orderqty" > 0', "passed", 1.0),
        (
            'ColumnValues "unitpricediscount" in [0, 0.02, 0.05, 0.1, NULL] where "orderdate >= \'2012-01-01\'"',
            "passed",
            1.0,
        ),
        ('ColumnValues "productid" matches "[0-9]{3}" with threshold >= 0.99', "passed", 1.0),
        ('ReferentialIntegrity "customerid" "customers.customerid" >= 0.99', "passed", 1.0),
        ('IsUnique "salesorderid" "salesorderdetailid"', "passed", 0.0),
        ('Completeness "shipdate" >= 0.9', "passed", 1.0),
        ("RowCount between 1 and 10000000", "passed", 300.0),
        ("RowCountChange between -0.5 and 0.5", "skipped", None),  # no previous run
        ('CustomSql "select count(*) from primary where shipdate < orderdate" = 0', "passed", 0.0),
    ]


def run_with_rules(tmp_path, text, references=None):
    rules = tmp_path / "rules.dqdl"
    rules.write_text(text)
    argv = ["--dataset", "orders", "--rules", str(rules), "--input_path", str(SAMPLE_RAW / "orders")]
    argv += ["--output_path", str(tmp_path / "o")]
    return csv_to_parquet.main([*argv, "--references_path", str(references)] if references else argv)


def refused_rule(tmp_path, rule, references, capsys):
    """The one stderr line of a run refused (exit 2) for ``rule``, after checking nothing was written."""
    assert run_with_rules(tmp_path, f"Rules = [ {rule} ]", references) == 2
    assert not (tmp_path / "o").exists()
    [line] = stderr_lines(capsys.readouterr().err)
    return line


def test_a_where_filter_spark_cannot_parse_is_one_line_naming_the_rule(spark, tmp_path, capsys):
    """It failed with Spark's ParseException, exit 1, naming no rule."""
    assert run_with_rules(tmp_path, 'Rules = [ ColumnValues "orderqty" > 0 where "orderdate >= " ]') == 2
    [line] = stderr_lines(capsys.readouterr().err)
    assert line.startswith(
        'csv_to_parquet: error: rule \'ColumnValues "orderqty" > 0 where "orderdate >= "\': the where filter is '
        "not a Spark SQL condition: [PARSE_SYNTAX_ERROR]"
    ), line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "where, error",
    [("orderqty", "[DATATYPE_MISMATCH.FILTER_NOT_BOOLEAN]"), ("sum(orderqty) > 1", "[INVALID_WHERE_CONDITION]")],
)
def test_a_where_filter_that_selects_no_rows_is_one_line_naming_the_rule(spark, tmp_path, capsys, where, error):
    """A filter that is no condition, or aggregates, failed the run with Spark's AnalysisException, exit 1."""
    assert run_with_rules(tmp_path, f'Rules = [ ColumnValues "orderqty" > 0 where "{where}" ]') == 2
    [line] = stderr_lines(capsys.readouterr().err)
    assert line.startswith(
        f'csv_to_parquet: error: rule \'ColumnValues "orderqty" > 0 where "{where}"\': the where filter cannot select '
        f"rows: {error}"
    ), line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("run_format", ["parquet", "delta"])
def test_a_reference_table_is_read_in_its_own_format_whatever_the_run_writes(
    spark, sample_lake, sample_delta_lake, tmp_path, run_format
):
    """A Parquet run against a Delta lake's customers was refused: "read it with --format delta"."""
    references = (sample_delta_lake[0] if run_format == "parquet" else sample_lake) / "processedData"
    rules = tmp_path / "rules.dqdl"
    rules.write_text('Rules = [ ReferentialIntegrity "customerid" "customers.customerid" = 1.0 ]')
    argv = ["--dataset", "orders", "--rules", str(rules), "--input_path", str(SAMPLE_RAW / "orders")]
    argv += ["--output_path", str(tmp_path / "orders"), "--references_path", str(references), "--format", run_format]
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.status, result.rows_written) == ("SUCCEEDED", 300)
    assert [(r["rule"], r["outcome"], r.get("measured")) for r in result.details["rules"]] == [
        ('ReferentialIntegrity "customerid" "customers.customerid" = 1.0', "passed", 1.0)
    ]


def test_a_reference_whose_delta_log_holds_no_commit_is_one_line_naming_the_rule(spark, tmp_path, capsys):
    """It was read as Parquet and refused with "read it with --format delta", naming no rule."""
    (tmp_path / "refs" / "customers" / "_delta_log").mkdir(parents=True)  # a first Delta write stopped
    rule = 'ReferentialIntegrity "customerid" "customers.customerid" >= 0.99'
    assert refused_rule(tmp_path, rule, tmp_path / "refs", capsys) == (
        f"csv_to_parquet: error: rule {rule!r}: the reference table {tmp_path / 'refs' / 'customers'} has a "
        "_delta_log/ without a commit (a first Delta write stopped before it committed): run that write again"
    )


def test_a_delta_reference_in_a_session_without_delta_is_one_line_naming_the_rule(
    spark, sample_delta_lake, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr("lakejobs.io.delta.has_delta", lambda session: False)  # a session started without Delta
    lake, _results = sample_delta_lake
    rule = 'ReferentialIntegrity "customerid" "customers.customerid" >= 0.99'
    assert refused_rule(tmp_path, rule, lake / "processedData", capsys) == (
        f"csv_to_parquet: error: rule {rule!r}: the reference table {lake / 'processedData' / 'customers'} is a "
        "Delta table, and this Spark session has no Delta Lake to read it (start it with Delta's jars and "
        "extensions, see --format delta)"
    )


def test_a_reference_column_the_reference_table_lacks_is_one_line_naming_the_rule(spark, sample_lake, tmp_path, capsys):
    """It failed in the staging stage with Spark's UNRESOLVED_COLUMN, exit 1, naming neither rule nor table."""
    rule = 'ReferentialIntegrity "customerid" "customers.custid" >= 0.99'
    assert refused_rule(tmp_path, rule, sample_lake / "processedData", capsys) == (
        f"csv_to_parquet: error: rule {rule!r}: the reference table {sample_lake / 'processedData' / 'customers'} "
        "has no column custid"
    )


def test_a_reference_folder_holding_no_table_is_one_line_naming_the_rule(spark, tmp_path, capsys):
    (tmp_path / "refs" / "customers").mkdir(parents=True)  # an empty folder: no Parquet file to read a schema from
    rule = 'ReferentialIntegrity "customerid" "customers.customerid" >= 0.99'
    assert run_with_rules(tmp_path, f"Rules = [ {rule} ]", tmp_path / "refs") == 2
    [line] = stderr_lines(capsys.readouterr().err)
    assert line.startswith(
        f"csv_to_parquet: error: rule {rule!r}: cannot read the reference table {tmp_path / 'refs' / 'customers'}: "
    ), line
