"""What a rule measures and accepts: shares over the rows a rule checked, exact comparisons,
rule values checked before Spark starts, regular expressions kept whole and matched whole."""

import datetime as dt
import json
from decimal import Decimal
from fractions import Fraction

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from lakejobs import quality_gate
from lakejobs.datasets import Dataset
from lakejobs.dqdl import RulesError, parse_ruleset, where_columns
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.jobs import csv_to_parquet
from lakejobs.quality_gate import RuleResult
from lakejobs.transforms import quality
from tests.conftest import stderr_lines

WHERE_RULE = 'ColumnValues "x" > 0 where "y = 1" with threshold >= 0.9'
WHERE_RESULT = RuleResult(
    WHERE_RULE, "row", "fail", "failed", 0.5, 5, "5 of 10 rows checked break it: compliance 0.5 is not >= 0.9"
)


def where_batch(spark):
    """A validated batch as a run sees it: 10 rows with y = 1 (5 of them breaking ``WHERE_RULE``,
    so quarantined with it), 2 rows with y = 1 and an unreadable x, 90 rows with y = 2."""
    rows = [(i, 1, -1 if i < 5 else 1, WHERE_RULE if i < 5 else None) for i in range(10)]
    rows += [(i, 1, None, "invalid_int:x") for i in range(10, 12)]
    rows += [(i, 2, 1, None) for i in range(12, 102)]
    return spark.createDataFrame(rows, "id int, y int, x int, _reason string")


def test_both_measuring_paths_judge_a_threshold_over_the_rows_its_where_selects(spark):
    rules = parse_ruleset(f"Rules = [ {WHERE_RULE} ]")
    labels = ["invalid_int:x", WHERE_RULE]
    batch = where_batch(spark)

    aggregated = quality_gate.aggregate(batch, rules, labels, {})
    observed_df, observation = quality_gate.observe_metrics(batch, rules, {})
    observed_df.write.format("noop").mode("overwrite").save()
    observed = dict(observation.get, **quality_gate.count_reasons(batch, labels))
    assert quality_gate.pop_reasons_seen(observed) == sorted(labels)

    for row in (aggregated, observed):
        assert (row["rows"], row["r0_checked"], row["r0_failing"]) == (102, 10, 5)
        measurement = quality_gate.judge(row, None, rules, labels, {}, None)
        assert measurement.results == [WHERE_RESULT]


def test_a_threshold_with_where_fails_the_run_when_half_the_selected_rows_break_it(spark, tmp_path, capsys):
    rows = [f"{i},1,{-1 if i < 5 else 1}" for i in range(10)] + [f"{i},2,1" for i in range(10, 100)]
    (tmp_path / "in.csv").write_text("\n".join(rows + ["100,1,abc", "101,1"]) + "\n")
    (tmp_path / "rules.dqdl").write_text(f"Rules = [ {WHERE_RULE} ]")
    argv = ["--schema", "id INT, y INT, x INT", "--input_path", str(tmp_path / "in.csv")]
    argv += ["--output_path", str(tmp_path / "q1"), "--rules", str(tmp_path / "rules.dqdl"), "--max_bad_fraction", "1"]

    code = csv_to_parquet.main(argv)

    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert (code, stderr_lines(captured.err)[-1]) == (
        1,
        f"csv_to_parquet: error: q1: quality rule failed: {WHERE_RULE} (measured 0.5); nothing was published",
    )
    assert (result["rows_read"], result["details"]["rules"]) == (102, [WHERE_RESULT.to_dict()])
    assert not (tmp_path / "q1").exists()


def test_shares_and_changes_are_compared_exactly_and_shown_without_hiding_a_miss():
    rules = parse_ruleset(
        """Rules = [
            ReferentialIntegrity "customerid" "customers.customerid" = 1.0,
            Completeness "c" >= 1.0,
            IsComplete "c" with threshold = 1.0,
            RowCountChange < 0.0000001
        ]"""
    )
    row = {"rows": 10_000_000, "bad": 4, "r0_total": 10_000_000, "r0_hits": 9_999_996}
    row.update({"r1_total": 10_000_000, "r1_hits": 9_999_996, "r2_checked": 10_000_000, "r2_failing": 4})
    row["r3_total"] = 10_000_001

    measurement = quality_gate.judge(row, None, rules, [], {}, previous_rows=10_000_000)

    assert measurement.results == [
        RuleResult(rules[0].text, "dataset", "fail", "failed", 0.9999996),
        RuleResult(rules[1].text, "dataset", "fail", "failed", 0.9999996),
        RuleResult(
            rules[2].text, "row", "fail", "failed", 0.9999996, 4,
            "4 of 10000000 rows checked break it: compliance 0.9999996 is not = 1.0",
        ),
        RuleResult(rules[3].text, "dataset", "fail", "failed", 1e-07),
    ]  # fmt: skip
    assert quality_gate.gate_message("orders", measurement.failed[:1]) == (
        f"orders: quality rule failed: {rules[0].text} (measured 0.9999996); nothing was published"
    )


@pytest.mark.parametrize(
    "rule, message",
    [
        ("RowCount = NULL", "rule 'RowCount = NULL': RowCount is compared with numbers, got NULL"),
        ('RowCount > "abc"', 'rule \'RowCount > "abc"\': RowCount is compared with numbers, got "abc"'),
        ('RowCount matches "1"', "RowCount is compared with numbers, 'matches' does not apply"),
        ('Completeness "c" in [0.5, "x"]', 'Completeness is compared with numbers, got "x"'),
        ('IsComplete "c" with threshold > "high"', 'with threshold is compared with numbers, got "high"'),
        ('ColumnValues "c" > NULL', "NULL cannot follow '>' (use =, != or in [...])"),
        ('ColumnValues "c" between EMPTY and "z"', "EMPTY cannot follow 'between' (use =, != or in [...])"),
        ('ColumnValues "c" between 1 and "z"', "between needs two numbers or two strings"),
        ('ColumnValues "c" between 5 and 1', "between 5 and 1 holds no number: write the smaller bound first"),
        ("RowCount not between 10 and 2", "between 10 and 2 holds no number: write the smaller bound first"),
        ('Completeness "c" >= 1.5', "Completeness is a share of rows, from 0 to 1, got 1.5"),
        ('ReferentialIntegrity "c" "o.c" = 100', "ReferentialIntegrity is a share of rows, from 0 to 1, got 100"),
        ('IsComplete "c" with threshold > -0.1', "with threshold is a share of rows, from 0 to 1, got -0.1"),
    ],
)
def test_a_value_the_rule_type_cannot_compare_is_refused_by_the_reader(rule, message):
    with pytest.raises(RulesError) as raised:
        parse_ruleset(f"Rules = [ {rule} ]")
    assert message in str(raised.value)


ITEMS = Dataset(
    name="items",
    schema=T.StructType(
        [
            T.StructField("qty", T.IntegerType()),
            T.StructField("code", T.StringType()),
            T.StructField("shipped", T.DateType()),
            T.StructField("at", T.TimestampType()),
            T.StructField("Addr", T.StructType([T.StructField("city", T.StringType())])),
        ]
    ),
)


@pytest.mark.parametrize(
    "rule, message",
    [
        ('ColumnValues "qty" > "five"', 'rule \'ColumnValues "qty" > "five"\': "five" is not a int value (qty)'),
        ('ColumnValues "qty" in [1, "2"]', '"2" is not a int value (qty)'),
        ('ColumnValues "code" = 5', "5 is not a string value (code)"),
        ('ColumnValues "shipped" > "yesterday"', '"yesterday" is not a date value (shipped)'),
        ('ColumnValues "shipped" > 20120101', "20120101 is not a date value (shipped)"),
        ('ColumnValues "shipped" = "2014-02-30"', '"2014-02-30" is not a date value (shipped)'),
        ('ColumnValues "at" > "2014-05-01 10am"', '"2014-05-01 10am" is not a timestamp value (at)'),
        ('ColumnValues "at" in ["2014-05-01 25:00"]', '"2014-05-01 25:00" is not a timestamp value (at)'),
        ('ColumnValues "at" = "2014-05-01 10:30 UTC"', '"2014-05-01 10:30 UTC" is not a timestamp value (at)'),
        ('ColumnValues "at" = "2014-05-01 10:30:00 Europe/Pariss"', 'Pariss" is not a timestamp value (at)'),
        ('ColumnValues "at" = "2014-05-01 10:30:00 CET"', '"2014-05-01 10:30:00 CET" is not a timestamp value (at)'),
        ('ColumnValues "at" = "2014-05-01 10:30:00+19:00"', '"2014-05-01 10:30:00+19:00" is not a timestamp'),
        (
            'IsComplete "qty" where "nosuch > 1"',
            'rule \'IsComplete "qty" where "nosuch > 1"\': the where filter names nosuch, a column items does not have',
        ),
        ('Completeness "qty" > 0.5 where "upper(`cod`) = \'A\'"', "the where filter names cod, a column items"),
    ],
)
def test_a_rule_that_does_not_fit_the_columns_is_a_usage_error(rule, message):
    with pytest.raises(UsageError) as raised:
        quality_gate.check_rule_columns(parse_ruleset(f"Rules = [ {rule} ]"), ITEMS)
    assert message in str(raised.value)


def test_rules_that_fit_the_columns_are_accepted():
    rules = parse_ruleset(
        """Rules = [
            ColumnValues "qty" in [1, 2, NULL],
            ColumnValues "code" in ["a", EMPTY] where "QTY > 1 and addr.city = 'Oslo' and shipped >= date '2012-01-01'",
            ColumnValues "shipped" between "2012-01-01" and "2012-12-31 23:59:59",
            ColumnValues "at" in ["2014-05-01 10:5", "2014-05-01 10:30:00 UTC", "2014-5-1 1:2:3.123456789+01:00"],
            ColumnValues "at" > "2014-05-01 10:30:00 Europe/Paris",
            ColumnValues "qty" matches "[0-9]+" where "exists(array(qty), v -> v > 1)",
            ColumnValues "code" != EMPTY where "cast(qty as string) like '1%' and current_date > shipped"
        ]"""
    )
    quality_gate.check_rule_columns(rules, ITEMS)
    assert [where_columns(rule.where or "") for rule in rules] == [
        (),
        ("QTY", "addr", "shipped"),
        (),
        (),
        (),
        (),
        ("qty", "shipped"),
    ]


@pytest.mark.parametrize(
    "rules_text, message",
    [
        ("Rules = [ RowCount = NULL ]", "rule 'RowCount = NULL': RowCount is compared with numbers, got NULL"),
        (
            'Rules = [ ColumnValues "id" > 0 where "nosuch > 1" ]',
            'rule \'ColumnValues "id" > 0 where "nosuch > 1"\': '
            "the where filter names nosuch, a column o does not have",
        ),
    ],
)
def test_a_bad_rules_file_exits_2_with_one_line_before_spark(tmp_path, capsys, rules_text, message):
    (tmp_path / "bad.dqdl").write_text(rules_text)
    argv = ["--schema", "id INT, c STRING", "--rules", str(tmp_path / "bad.dqdl")]
    argv += ["--input_path", str(tmp_path / "missing.csv"), "--output_path", str(tmp_path / "o")]
    assert csv_to_parquet.main(argv) == 2
    assert capsys.readouterr().err == f"csv_to_parquet: error: {message}\n"


def test_a_regular_expression_keeps_its_backslashes_and_renders_as_written():
    rules = parse_ruleset(r'Rules = [ ColumnValues "zip" matches "\d{5}", ColumnValues "p" matches "a\\\"b\\" ]')
    assert [rule.condition.values[0] for rule in rules] == [r"\d{5}", r"a\"b" + "\\"]
    assert [rule.text for rule in rules] == [
        r'ColumnValues "zip" matches "\d{5}"',
        r'ColumnValues "p" matches "a\\\"b\\"',
    ]
    assert parse_ruleset(f"Rules = [ {rules[1].text} ]") == rules[1:]


def test_matches_takes_the_whole_value_without_a_trailing_line_break(spark):
    rules = parse_ruleset(
        r'Rules = [ ColumnValues "c" matches "\d{5}", ColumnValues "c" matches "[a-z]+", '
        r'ColumnValues "c" not matches "[a-z]+" ]'
    )
    source = spark.createDataFrame([("12345",), ("ddddd",), ("abc\n",), ("abc",), (None,)], "c string")
    verdicts = source.select("c", *[(~quality.row_violation(rule)).alias(f"r{i}") for i, rule in enumerate(rules)])
    expected = spark.createDataFrame(
        [
            ("12345", True, False, True),
            ("ddddd", False, True, False),
            ("abc\n", False, False, True),
            ("abc", False, True, False),
            (None, False, False, False),  # Glue: a null fails every condition but != and not in
        ],
        "c string, r0 boolean, r1 boolean, r2 boolean",
    )
    assert_df_equality(verdicts, expected, ignore_nullable=True, ignore_row_order=True)


@pytest.mark.parametrize(
    ("pattern", "wrapped"),
    [
        (r"\d{5}", r"^(?:\d{5})\z"),
        (r"\Q1.5", r"^(?:\Q1.5\E)\z"),
        (r"a\Q.\Eb\Q*", r"^(?:a\Q.\Eb\Q*\E)\z"),
        (r"a\Q.\E", r"^(?:a\Q.\E)\z"),
        (r"a\\Q.", r"^(?:a\\Q.)\z"),
        (r"[\Q]\E]", r"^(?:[\Q]\E])\z"),
    ],
)
def test_a_pattern_is_wrapped_to_match_whole_values_with_an_open_quote_closed(pattern, wrapped):
    assert quality.whole_value_pattern(pattern) == wrapped


def test_matches_with_a_quote_left_open_takes_the_rest_literally(spark):
    (rule,) = parse_ruleset(r'Rules = [ ColumnValues "c" matches "v\Q1.5" ]')
    source = spark.createDataFrame([("v1.5",), ("v1x5",), ("v1.5)",), ("xv1.5",)], "c string")
    verdicts = source.select("c", (~quality.row_violation(rule)).alias("passes"))
    expected = spark.createDataFrame(
        [("v1.5", True), ("v1x5", False), ("v1.5)", False), ("xv1.5", False)], "c string, passes boolean"
    )
    assert_df_equality(verdicts, expected, ignore_nullable=True, ignore_row_order=True)


def test_a_null_passes_only_not_equal_and_not_in_as_glue_documents(spark):
    """Glue's ColumnValues "Null behavior": a null fails every condition other than != and NOT IN."""
    rules = parse_ruleset(
        'Rules = [ ColumnValues "x" != 3, ColumnValues "x" not in [1, 2], ColumnValues "x" not between 1 and 5, '
        'ColumnValues "x" between 1 and 5, ColumnValues "x" != NULL, ColumnValues "x" not in [1, null] ]'
    )
    source = spark.createDataFrame([(None,), (3,), (7,)], "x int")
    verdicts = source.select("x", *[(~quality.row_violation(rule)).alias(f"r{i}") for i, rule in enumerate(rules)])
    expected = spark.createDataFrame(
        [(None, True, True, False, False, False, False), (3, False, True, False, True, True, True),
         (7, True, True, True, False, True, True)],
        "x int, r0 boolean, r1 boolean, r2 boolean, r3 boolean, r4 boolean, r5 boolean",
    )  # fmt: skip
    assert_df_equality(verdicts, expected, ignore_nullable=True, ignore_row_order=True)


def test_equals_empty_and_whitespaces_only_test_the_value_not_the_word(spark):
    rules = parse_ruleset('Rules = [ ColumnValues "c" = EMPTY, ColumnValues "c" != WHITESPACES_ONLY ]')
    source = spark.createDataFrame([("",), ("  ",), ("EMPTY",), (None,)], "c string")
    verdicts = source.select("c", *[(~quality.row_violation(rule)).alias(f"r{i}") for i, rule in enumerate(rules)])
    expected = spark.createDataFrame(
        [("", True, True), ("  ", False, False), ("EMPTY", False, True), (None, False, True)],
        "c string, r0 boolean, r1 boolean",
    )
    assert_df_equality(verdicts, expected, ignore_nullable=True, ignore_row_order=True)


def test_quoted_keywords_are_the_text_they_spell_and_render_quoted(spark):
    rules = parse_ruleset(
        'Rules = [ ColumnValues "c" = "EMPTY", ColumnValues "c" in ["NULL", "WHITESPACES_ONLY"], '
        'ColumnValues "c" in ["EMPTY", EMPTY], ColumnValues "c" > "NULL" ]'
    )
    assert [rule.text for rule in rules] == [
        'ColumnValues "c" = "EMPTY"',
        'ColumnValues "c" in ["NULL", "WHITESPACES_ONLY"]',
        'ColumnValues "c" in ["EMPTY", EMPTY]',
        'ColumnValues "c" > "NULL"',
    ]
    assert [parse_ruleset(f"Rules = [ {rule.text} ]") for rule in rules] == [(rule,) for rule in rules]
    source = spark.createDataFrame([("",), ("  ",), ("EMPTY",), ("NULL",), ("WHITESPACES_ONLY",), (None,)], "c string")
    verdicts = source.select("c", *[(~quality.row_violation(rule)).alias(f"r{i}") for i, rule in enumerate(rules)])
    expected = spark.createDataFrame(
        [
            ("", False, False, True, False),
            ("  ", False, False, False, False),
            ("EMPTY", True, False, True, False),
            ("NULL", False, True, False, False),
            ("WHITESPACES_ONLY", False, True, False, True),
            (None, False, False, False, False),
        ],
        "c string, r0 boolean, r1 boolean, r2 boolean, r3 boolean",
    )
    assert_df_equality(verdicts, expected, ignore_nullable=True, ignore_row_order=True)


def test_custom_sql_decimals_and_counts_are_compared_exactly(spark):
    good_df = spark.createDataFrame([(1,), (2,)], "v int")
    rules = parse_ruleset(
        """Rules = [
            CustomSql "select cast(1.00000000000000001 as decimal(20,17)) from primary limit 1" = 1,
            CustomSql "select count(*) from primary" = 2
        ]"""
    )
    assert [quality_gate.custom_sql_value(good_df, rule) for rule in rules] == [Fraction(100000000000000001, 10**17), 2]
    measurement = quality_gate.judge({"rows": 2, "bad": 0}, good_df, rules, [], {}, None)
    assert [(result.outcome, result.measured) for result in measurement.results] == [
        ("failed", 1.00000000000000001),
        ("passed", 2.0),
    ]


def test_repeated_keys_passed_the_row_rules_and_count_as_checked(spark):
    rules = parse_ruleset('Rules = [ ColumnValues "x" > 0, ColumnValues "x" > 1 severity warn ]')
    rows = [(1, 1, 1, None), (2, 1, -1, rules[0].text), (3, 1, 2, "duplicate_key:id"), (4, 1, None, "invalid_int:x")]
    batch = spark.createDataFrame(rows, "id int, y int, x int, _reason string")
    row = quality_gate.aggregate(batch, rules, [], {})
    assert [(row[f"r{i}_checked"], row[f"r{i}_failing"]) for i in range(2)] == [(3, 1), (2, 1)]


def test_is_unique_rules_covering_the_unique_key_count_rows_and_measure_what_distinct_counts_measure(spark):
    rules = parse_ruleset(
        """Rules = [
            IsUnique "id", IsUnique "y" "id" where "x > 1", IsUnique "y", IsUnique "x" "y", IsUnique "x" where "x > 1"
        ]"""
    )
    # Good rows: ids 1-3 once each (the repeat of 3 was quarantined); y repeats, (x, y) does not.
    rows = [(1, 1, 1, None), (2, 1, 5, None), (3, 2, 5, None), (3, 2, 7, "duplicate_key:id"), (4, 1, None, "bad")]
    batch = spark.createDataFrame(rows, "id int, y int, x int, _reason string")

    counted = quality_gate.aggregate(batch, rules, [], {}, unique_key=("id",))
    assert counted == quality_gate.aggregate(batch, rules, [], {})
    assert [(counted[f"r{i}_total"], counted[f"r{i}_distinct"]) for i in range(5)] == [
        (3, 3),
        (2, 2),
        (3, 2),
        (3, 3),
        (2, 1),
    ]
    columns = quality.metric_columns(rules, [False] * 5, ("id",))
    distinct = ["count(distinct" in columns[f"r{i}_distinct"]._jc.expr().toString() for i in range(5)]
    assert distinct == [False, False, True, True, True]
    # Observed while written: the covering rules' counts; the others are left to staged_metrics.
    observed_df, observation = quality_gate.observe_metrics(batch, rules, {}, unique_key=("id",))
    observed_df.write.format("noop").mode("overwrite").save()
    observed = dict(observation.get)
    assert quality_gate.pop_reasons_seen(observed) == ["bad", "duplicate_key:id"]
    assert observed == {
        "rows": 5,
        "bad": 2,
        "r0_total": 3,
        "r0_distinct": 3,
        "r1_total": 2,
        "r1_distinct": 2,
    }


def test_a_row_quarantined_by_a_later_rule_passed_the_earlier_ones_and_counts_as_checked(spark):
    rules = parse_ruleset('Rules = [ ColumnValues "x" > 0, ColumnValues "y" < 5 ]')
    rows = [(1, 1, 1, None), (2, 9, 1, rules[1].text), (3, 1, -1, rules[0].text), (4, 1, None, "invalid_int:x")]
    batch = spark.createDataFrame(rows, "id int, y int, x int, _reason string")
    row = quality_gate.aggregate(batch, rules, [], {})
    # x > 0 judged rows 1-3 (row 2 passed it, then broke y < 5); y < 5 judged rows 1 and 2 only.
    assert [(row[f"r{i}_checked"], row[f"r{i}_failing"]) for i in range(2)] == [(3, 1), (2, 1)]


@pytest.mark.parametrize(
    "statement, shape",
    [("select v from primary", "more than one row"), ("select count(*), 1 from primary", "2 columns")],
)
def test_a_custom_sql_statement_of_more_than_one_value_is_refused_not_judged_by_its_first(spark, statement, shape):
    """``select count(*) ... group by region`` = 0 judged one arbitrary group."""
    good_df = spark.createDataFrame([(1,), (2,)], "v int")
    [rule] = parse_ruleset(f'Rules = [ CustomSql "{statement}" = 0 ]')
    with pytest.raises(LakejobsError) as refused:
        quality_gate.custom_sql_value(good_df, rule)
    assert str(refused.value) == f"rule {rule.text!r}: the statement must return one number, got {shape}"
    assert not spark.catalog.tableExists("primary")  # not left behind for another job of the session


def test_an_in_list_of_dates_or_timestamps_compares_them_as_dates_not_as_text(spark):
    """Spark compared an ``in`` list of text with a date column as text: ``2014-5-1`` matched no
    row, nor ``2012-01-05`` a timestamp at midnight, while ``=`` matched both."""
    rows = spark.createDataFrame(
        [
            (1, dt.date(2014, 5, 1), dt.datetime(2012, 1, 5), True),
            (2, dt.date(2014, 5, 2), dt.datetime(2012, 1, 5, 1), False),
        ],
        "id int, shipped date, at timestamp, refund boolean",
    )
    rules = parse_ruleset(
        """Rules = [
            ColumnValues "shipped" in ["2014-5-1"],
            ColumnValues "at" in ["2012-01-05", "2012-01-06 00:00:00"],
            ColumnValues "shipped" not in ["2014-05-01"],
            ColumnValues "refund" in ["true"]
        ]"""
    )
    passing = rows.select("id", *[(~quality.row_violation(rule)).alias(f"r{i}") for i, rule in enumerate(rules)])
    assert [tuple(row) for row in passing.orderBy("id").collect()] == [
        (1, True, True, False, True),
        (2, False, False, True, False),
    ]


def test_a_float_column_is_compared_with_a_rules_numbers_as_floats(spark, tmp_path):
    """0.1 read into FLOAT is 0.100000001490116...: compared as a double with 0.1 it was above it."""
    (tmp_path / "in.csv").write_text("1,0.1\n2,0.05\n3,0.2\n4,0.07\n")
    rules = (
        'ColumnValues "rate" <= 0.1, ColumnValues "rate" in [0.05, 0.1, 0.2], ColumnValues "rate" between 0.05 and 0.1'
    )
    (tmp_path / "rules.dqdl").write_text(f"Rules = [ {rules} ]")
    argv = ["--schema", "id INT, rate FLOAT", "--input_path", str(tmp_path / "in.csv"), "--max_bad_fraction", "1"]
    argv += ["--output_path", str(tmp_path / "out"), "--rules", str(tmp_path / "rules.dqdl")]
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.rows_written, result.quarantine_reasons) == (
        2,
        {'ColumnValues "rate" <= 0.1': 1, 'ColumnValues "rate" in [0.05, 0.1, 0.2]': 1},
    )
    written = spark.read.parquet(str(tmp_path / "out"))
    assert sorted(row.id for row in written.collect()) == [1, 2]


def test_numbers_past_a_long_or_a_decimals_digits_compare_exactly_or_are_refused(spark, tmp_path):
    """A 20-digit number made F.lit fail in Py4J; 19 decimals against decimal(38,18) nulled large values."""
    (tmp_path / "in.csv").write_text("1,9223372036854775807,12345678901234567890.5\n")
    rules = 'ColumnValues "big" < 99999999999999999999, ColumnValues "m" > 0.000000000000000001'
    rules += ', ColumnValues "big" in [99999999999999999999, 9223372036854775807]'
    (tmp_path / "rules.dqdl").write_text(f"Rules = [ {rules} ]")
    argv = ["--schema", "id INT, big BIGINT, m DECIMAL(38,18)", "--input_path", str(tmp_path / "in.csv")]
    argv += ["--output_path", str(tmp_path / "out"), "--rules", str(tmp_path / "rules.dqdl")]
    result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (result.rows_written, result.rows_quarantined) == (1, 0)
    (tmp_path / "rules.dqdl").write_text('Rules = [ ColumnValues "m" > 0.0000000000000000001 ]')
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.parse_args(argv)
    assert str(refused.value) == (
        "rule 'ColumnValues \"m\" > 0.0000000000000000001': 0.0000000000000000001 has 0 integer digits and 19 "
        "decimals: comparing a decimal(38,18) column with it takes 39 digits, more than Spark's 38, so its large "
        "values would fail the rule; give at most 18 decimals"
    )


@pytest.mark.parametrize(
    "text, nearest",
    [
        ("0.1", 0.10000000149011612),
        ("-0.1", -0.10000000149011612),
        ("16777217", 16777216.0),  # halfway: ties to the even float
        ("1.000000059604644775390625", 1.0),  # halfway too
        ("1.00000005960464477539062501", 1.0000001192092896),  # past it: through a double it rounded to 1.0
        ("0", 0.0),
    ],
)
def test_a_rule_number_for_a_float_column_is_the_nearest_float_as_javas_parse_float_gives(text, nearest):
    assert quality.as_float32(Decimal(text)) == nearest
