"""The DQDL reader: rule text in, rules out (pure Python, no Spark)."""

from decimal import Decimal

import pytest

from lakejobs.datasets import BUILTIN
from lakejobs.dqdl import EMPTY, WHITESPACES_ONLY, Condition, Rule, RulesError, parse_ruleset

RULESET = """
# orders: comments run to the end of a line
Rules = [
    IsComplete "customerid",
    ColumnValues "orderqty" > 0,
    ColumnValues "status" in ["open", "closed", NULL] where "orderdate >= '2012-01-01'",
    ColumnValues "email" matches "[^@]+@[^@]+" with threshold >= 0.99 severity warn,
    ReferentialIntegrity "customerid" "customers.customerid" >= 0.99,
    ReferentialIntegrity "city,state" "places.{city,state}" = 1.0,
    IsUnique "a" "b",
    Completeness "note" between 0.5 and 1,
    RowCount between 1 and 10000000,
    RowCountChange between -0.5 and 0.5,
    CustomSql "select count(*) from primary where note = \\"x\\"" = 0,
]
"""


def test_a_ruleset_reads_into_rules_and_renders_back_to_canonical_text():
    rules = parse_ruleset(RULESET)
    assert [rule.text for rule in rules] == [
        'IsComplete "customerid"',
        'ColumnValues "orderqty" > 0',
        'ColumnValues "status" in ["open", "closed", NULL] where "orderdate >= \'2012-01-01\'"',
        'ColumnValues "email" matches "[^@]+@[^@]+" with threshold >= 0.99',
        'ReferentialIntegrity "customerid" "customers.customerid" >= 0.99',
        'ReferentialIntegrity "city,state" "places.{city,state}" = 1.0',
        'IsUnique "a" "b"',
        'Completeness "note" between 0.5 and 1',
        "RowCount between 1 and 10000000",
        "RowCountChange between -0.5 and 0.5",
        'CustomSql "select count(*) from primary where note = \\"x\\"" = 0',
    ]
    assert rules[3] == Rule(
        "ColumnValues",
        ("email",),
        Condition("matches", ("[^@]+@[^@]+",)),
        threshold=Condition(">=", (Decimal("0.99"),)),
        severity="warn",
    )
    assert rules[5].reference == ("places", ("city", "state")) and rules[5].columns == ("city", "state")
    assert rules[10].sql == 'select count(*) from primary where note = "x"'
    assert [rule.row_level for rule in rules] == [True] * 4 + [False] * 7
    assert parse_ruleset("  # nothing\n") == ()


@pytest.mark.parametrize(
    "condition, measured, holds",
    [
        (Condition("between", (1, 5)), 1, True),
        (Condition("between", (1, 5)), 5, True),
        (Condition("between", (1, 5)), 5.01, False),
        (Condition("not between", (1, 5)), 0, True),
        (Condition(">=", (Decimal("0.99"),)), 0.99, True),
        (Condition(">", (0,)), 0, False),
        (Condition("=", (0,)), 0.0, True),
        (Condition("!=", (0,)), 0.0, False),
        (Condition("in", (1, 2)), 2, True),
        (Condition("<", (3,)), None, False),
    ],
)
def test_conditions_judge_a_measured_number(condition, measured, holds):
    assert condition.holds(measured) is holds


@pytest.mark.parametrize(
    "text, message",
    [
        ('Rules = [ Mean "x" > 1 ]', "rule 'Mean \"x\" > 1': unknown or unsupported rule type 'Mean'"),
        ('Rules = [ ColumnValues "x" ]', "rule 'ColumnValues \"x\"': expected a condition"),
        ('Rules = [ ColumnValues "x" between 1 ]', "expected 'and', found 'the end of the rule'"),
        (
            'Rules = [ (IsComplete "a") and (IsComplete "b") ]',
            "composite rules (and/or with parentheses) are not supported",
        ),
        (
            'Rules = [ ColumnValues "d" > (now() - 3 days) ]',
            "dates relative to now() are not supported; compare with a date",
        ),
        ('Rules = [ ColumnValues "x" in [Null] ]', 'expected a number, a "string" or NULL/EMPTY/WHITESPACES_ONLY'),
        ('IsComplete "a"', "a ruleset must read Rules = [ rule, rule, ... ]"),
        ("Rules = [ RowCount > 0 with threshold > 0.5 ]", "with threshold applies to row rules"),
        ('Rules = [ IsComplete "a" severity high ]', "severity must be fail or warn, got 'high'"),
        ('Rules = [ IsComplete "a" ; ]', "cannot read the rules at line 1: '; ]'"),
        ('Rules = [ ReferentialIntegrity "a" "customers" >= 1 ]', 'expected "dataset.column"'),
        ('Rules = [ CustomSql "select 1" = 1 where "x > 1" ]', "where does not apply to CustomSql"),
        (
            'Rules = [ ColumnValues "qty" > 0, IsComplete "a", ColumnValues "qty" > 0 severity warn ]',
            'a rule is given twice (each rule is one check; keep one): ColumnValues "qty" > 0',
        ),
    ],
)
def test_a_bad_rule_is_one_clear_error(text, message):
    with pytest.raises(RulesError) as raised:
        parse_ruleset(text)
    assert message in str(raised.value)


def test_keywords_read_in_upper_or_lower_case_as_in_glue():
    lower = parse_ruleset('Rules = [ ColumnValues "c" in ["a", null, empty] ]')
    upper = parse_ruleset('Rules = [ ColumnValues "c" in ["a", NULL, EMPTY] ]')
    assert lower[0].condition == upper[0].condition == Condition("in", ("a", None, EMPTY))
    assert parse_ruleset('Rules = [ ColumnValues "c" != whitespaces_only ]')[0].condition == Condition(
        "!=", (WHITESPACES_ONLY,)
    )
    assert parse_ruleset('Rules = [ ColumnValues "n" between 1 AND 5 ]')[0].condition == Condition("between", (1, 5))


def test_every_builtin_dataset_has_rules_that_read():
    counts = {name: len(parse_ruleset(dataset.rules)) for name, dataset in BUILTIN.items()}
    assert counts == {"customers": 1, "employees": 2, "orders": 5}


@pytest.mark.parametrize(
    "text, clause",
    [
        ('ColumnValues "qty" > 0 where "region = \'EU\'" where "year = 2024"', "where"),
        ('ColumnValues "qty" > 0 severity warn severity fail', "severity"),
        ('ColumnValues "qty" > 0 with threshold > 0.5 with threshold > 0.9', "with"),
    ],
)
def test_a_clause_given_twice_is_refused_not_replaced(text, clause):
    """The second ``where`` replaced the first: the rule then checked rows outside the EU."""
    with pytest.raises(RulesError) as raised:
        parse_ruleset(f"Rules = [ {text} ]")
    assert str(raised.value) == (
        f"rule {text!r}: {clause} is given twice (one each of where, with threshold, severity)"
    )
