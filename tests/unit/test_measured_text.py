"""Measured values and failed rules as people read them: never rounded into a pass, one line."""

import pytest

from lakejobs.quality_gate import RuleResult, gate_message
from lakejobs.runs_report import detail_lines, format_measured


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "nothing"),
        (1.0, "1"),
        (0.99, "0.99"),
        (0.989996, "0.989996"),  # 4 decimals showed 0.99, as if it met >= 0.99
        (-0.500005, "-0.500005"),
        (0.9999996, "0.9999996"),  # the report keeps 7 decimals when 6 would flip the verdict
        (1234567.0, "1234567"),
    ],
)
def test_a_measured_value_is_shown_as_the_report_holds_it(value, text):
    assert format_measured(value) == text


def test_a_failed_rule_spanning_lines_is_named_on_one_line():
    rule = 'CustomSql "select count(*)\n from primary\n where shipdate < orderdate" = 0'
    failed = RuleResult(rule, "dataset", "fail", "failed", measured=3.0)
    assert gate_message("orders", [failed]) == (
        'orders: quality rule failed: CustomSql "select count(*)\\n from primary\\n where shipdate < orderdate" = 0 '
        "(measured 3); nothing was published"
    )
    run = {"details": {"rules": [failed.to_dict()]}}
    assert detail_lines(run) == [
        'failed: CustomSql "select count(*)\\n from primary\\n where shipdate < orderdate" = 0 (measured 3)'
    ]


def test_a_quarantine_reason_and_an_error_spanning_lines_stay_on_their_line():
    """A row rule's reason is its text: a ``where`` spanning lines broke the table's layout."""
    reason = 'ColumnValues "qty" > 0 where "region = \'EU\'\n and year > 2020"'
    run = {"quarantine_reasons": {reason: 2}, "error": "orders: failed\nsecond line"}
    assert detail_lines(run) == [
        'quarantined: ColumnValues "qty" > 0 where "region = \'EU\'\\n and year > 2020"=2',
        "error: orders: failed\\nsecond line",
    ]
