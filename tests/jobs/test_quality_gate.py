"""A user's rules file gates a run: one line naming the rule and value, nothing published, results reported."""

import json

from lakejobs import cli
from lakejobs.jobs import csv_to_parquet
from tests.conftest import SAMPLE_RAW

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


def test_a_failed_rule_exits_1_with_one_line_publishes_nothing_and_is_reported(spark, tmp_path, capsys):
    rules = tmp_path / "orders.dqdl"
    rules.write_text(RULES)
    (tmp_path / "small").mkdir()
    lines = (SAMPLE_RAW / "orders" / "orders-00000.csv").read_text().splitlines()
    (tmp_path / "small" / "orders.csv").write_text("\n".join(lines[:100]) + "\n")
    argv = ["--dataset", "orders", "--rules", str(rules), "--output_path", str(tmp_path / "orders")]
    outside = sum(not 1 <= int(line.split(",")[12]) <= 3 for line in lines)
    first = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv + ["--input_path", str(SAMPLE_RAW / "orders")]))
    assert [(r["outcome"], r.get("measured")) for r in first.details["rules"]] == [
        ("warned", round(1 - outside / 300, 6)),
        ("passed", 0.0),
        ("passed", 1.0),
        ("passed", 300.0),
        ("passed", 0.0),
        ("skipped", None),
    ]
    output_before = files_with_times(tmp_path / "orders")
    quarantine_before = files_with_times(tmp_path / "orders_quarantine")

    code = csv_to_parquet.main(argv + ["--input_path", str(tmp_path / "small")])

    captured = capsys.readouterr()
    message = (
        "csv_to_parquet: error: orders: quality rule failed: RowCountChange between -0.5 and 0.5 "
        "(measured -0.6667); nothing was published"
    )
    assert (code, [line for line in captured.err.splitlines() if "error:" in line]) == (1, [message])
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert (result["status"], result["rows_read"], result["details"]["rules"][-1]) == (
        "FAILED",
        100,
        {
            "rule": "RowCountChange between -0.5 and 0.5",
            "level": "dataset",
            "severity": "fail",
            "outcome": "failed",
            "measured": -0.666667,
        },
    )
    assert files_with_times(tmp_path / "orders") == output_before
    assert files_with_times(tmp_path / "orders_quarantine") == quarantine_before
    reports = sorted((tmp_path / "orders_lakejobs" / "runs" / "csv_to_parquet").glob("*.json"))
    assert [json.loads(path.read_text())["status"] for path in reports] == ["SUCCEEDED", "FAILED"]

    assert cli.main(["report", "--runs", str(tmp_path / "orders_lakejobs" / "runs")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[2:8] for line in table[2:] if line[:4].isdigit()] == [
        ["csv_to_parquet", "orders", "FAILED", "100", "0", "0"],
        ["csv_to_parquet", "orders", "SUCCEEDED", "300", "300", "0"],
    ]
    assert "                    failed: RowCountChange between -0.5 and 0.5 (measured -0.6667)" in table


def test_a_rule_on_an_unknown_column_is_a_usage_error_before_spark(tmp_path, capsys):
    rules = tmp_path / "bad.dqdl"
    rules.write_text('Rules = [ IsComplete "quantity" ]')
    argv = ["--dataset", "orders", "--rules", str(rules), "--input_path", "x", "--output_path", str(tmp_path / "o")]
    assert csv_to_parquet.main(argv) == 2
    assert capsys.readouterr().err == (
        "csv_to_parquet: error: rule 'IsComplete \"quantity\"': orders has no column quantity\n"
    )
