"""DQDL rules as Spark columns and the one-aggregate measurement, on tiny frames."""

import json

from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs import quality_gate
from lakejobs.datasets import Dataset
from lakejobs.dqdl import parse_ruleset
from lakejobs.quality_gate import RuleResult
from lakejobs.transforms import quality

SCHEMA = "id int, code string, qty int, parent int"
ROWS = [(1, "AB", 5, None), (2, "ab", -1, 1), (3, None, None, 9), (4, "  ", 7, 2), (5, "", 0, 1)]
DATASET = Dataset(
    name="items",
    schema=T.StructType(
        [
            T.StructField("id", T.IntegerType()),
            T.StructField("code", T.StringType()),
            T.StructField("qty", T.IntegerType()),
            T.StructField("parent", T.IntegerType()),
        ]
    ),
)


def verdicts(spark, ruleset):
    """For each rule, the ids of the rows it passes."""
    source = spark.createDataFrame(ROWS, SCHEMA)
    rules = parse_ruleset(ruleset)
    columns = [(~quality.row_violation(rule)).alias(f"r{index}") for index, rule in enumerate(rules)]
    rows = source.select("id", *columns).orderBy("id").collect()
    return [[row["id"] for row in rows if row[f"r{index}"]] for index in range(len(rules))]


def test_row_rules_follow_glue_null_semantics_and_where_clauses(spark):
    assert verdicts(
        spark,
        """Rules = [
            ColumnValues "qty" > 0,
            ColumnValues "qty" != 0,
            ColumnValues "qty" between 0 and 5,
            ColumnValues "qty" not between 0 and 5,
            ColumnValues "code" in ["AB", "ab"],
            ColumnValues "code" in ["AB", NULL, EMPTY, WHITESPACES_ONLY],
            ColumnValues "code" not in ["AB"],
            ColumnValues "code" not in ["AB", NULL],
            ColumnValues "code" matches "[A-Z]+",
            ColumnValues "qty" > 0 where "parent = 1",
            IsComplete "code",
            ColumnValues "qty" = NULL
        ]""",
    ) == [
        [1, 4],
        [1, 2, 3, 4],
        [1, 5],
        [2, 4],  # a null fails not between, as Glue documents
        [1, 2],
        [1, 3, 4, 5],
        [2, 3, 4, 5],
        [2, 4, 5],
        [1],
        [1, 3, 4],
        [1, 2, 4, 5],
        [3],
    ]


def test_row_checks_give_the_rule_as_reason_and_the_value_in_the_detail(spark):
    rules = parse_ruleset('Rules = [ ColumnValues "qty" >= 0, IsComplete "code", ColumnValues "id" > 9 severity warn ]')
    checks = quality.row_checks(rules)
    assert [label for _bad, label, _detail in checks] == ['ColumnValues "qty" >= 0', 'IsComplete "code"']
    source = spark.createDataFrame(ROWS, SCHEMA)
    details = source.select("id", *[detail.alias(f"d{i}") for i, (_b, _l, detail) in enumerate(checks)])
    expected = spark.createDataFrame(
        [
            (2, 'qty=-1 breaks ColumnValues "qty" >= 0', 'code is empty (IsComplete "code")'),
            (3, 'qty=null breaks ColumnValues "qty" >= 0', 'code is empty (IsComplete "code")'),
        ],
        "id int, d0 string, d1 string",
    )
    assert_df_equality(details.filter("id in (2, 3)"), expected, ignore_nullable=True)


def validated(spark, reasons):
    """The tiny rows as a validated batch: ``_reason`` per row (None = good)."""
    rows = [row + (reason,) for row, reason in zip(ROWS, reasons)]
    return spark.createDataFrame(rows, SCHEMA + ", _reason string")


def test_one_aggregate_measures_row_and_dataset_rules_and_counts_reasons(spark):
    rules = parse_ruleset(
        """Rules = [
            ColumnValues "qty" >= 0,
            ColumnValues "qty" > 0 with threshold >= 0.9 severity warn,
            IsComplete "code" with threshold > 0.5,
            Completeness "code" >= 0.9,
            IsUnique "parent",
            ReferentialIntegrity "parent" "items.id" = 1.0,
            ReferentialIntegrity "parent" "elsewhere.id" >= 0.5 severity warn,
            RowCount between 1 and 3,
            RowCountChange between -0.1 and 0.1
        ]"""
    )
    validated_df = validated(spark, [None, 'ColumnValues "qty" >= 0', "malformed_record", None, None])
    references = quality_gate.reference_frames(validated_df, rules, DATASET, "/no/such/folder")
    labels = ["malformed_record", 'ColumnValues "qty" >= 0']
    measurement = quality_gate.measure(validated_df, DATASET, rules, labels, references, previous_rows=4)
    assert (measurement.rows_read, measurement.reasons) == (5, {"malformed_record": 1, 'ColumnValues "qty" >= 0': 1})
    assert measurement.results == [
        # Row rules are measured over the rows they checked: not the malformed row 3, nor (for the
        # warn rule) row 2, quarantined by the rule before it.
        RuleResult('ColumnValues "qty" >= 0', "row", "fail", "quarantined", 0.75, 1),
        RuleResult(
            'ColumnValues "qty" > 0 with threshold >= 0.9', "row", "warn", "warned", 0.666667, 1,
            "1 of 3 rows checked break it: compliance 0.666667 is not >= 0.9",
        ),
        RuleResult('IsComplete "code" with threshold > 0.5', "row", "fail", "passed", 1.0, 0),
        RuleResult('Completeness "code" >= 0.9', "dataset", "fail", "passed", 1.0),
        RuleResult('IsUnique "parent"', "dataset", "fail", "passed", 0.0),
        RuleResult('ReferentialIntegrity "parent" "items.id" = 1.0', "dataset", "fail", "failed", 0.5),
        RuleResult(
            'ReferentialIntegrity "parent" "elsewhere.id" >= 0.5', "dataset", "warn", "warned", None,
            note="reference table not found: /no/such/folder/elsewhere",
        ),
        RuleResult("RowCount between 1 and 3", "dataset", "fail", "passed", 3.0),
        RuleResult("RowCountChange between -0.1 and 0.1", "dataset", "fail", "failed", -0.25),
    ]  # fmt: skip
    assert quality_gate.gate_message("items", measurement.failed) == (
        'items: quality rule failed: ReferentialIntegrity "parent" "items.id" = 1.0 (measured 0.5) '
        "(and 1 more failed rules, see the run report); nothing was published"
    )


def test_custom_sql_runs_over_the_good_rows_as_the_table_primary(spark):
    rules = parse_ruleset('Rules = [ CustomSql "select sum(qty) from primary where parent is not null" = 7 ]')
    validated_df = validated(spark, [None, None, "malformed_record", None, None])
    measurement = quality_gate.measure(validated_df, DATASET, rules, [], ({}, {}), None)
    assert measurement.results == [RuleResult(rules[0].text, "dataset", "fail", "failed", 6.0)]


def test_count_reasons_counts_bad_rows_per_reason_and_skips_the_job_without_any(spark):
    labels = ["malformed_record", 'ColumnValues "qty" >= 0', "unused"]
    bad_df = validated(spark, [None, 'ColumnValues "qty" >= 0', "malformed_record", None, 'ColumnValues "qty" >= 0'])
    unreadable_df = bad_df.withColumn("_reason", F.when(F.col("id") > 0, F.raise_error(F.lit("read"))).otherwise("x"))

    assert quality_gate.count_reasons(bad_df, labels) == {"reason_0": 1, "reason_1": 2, "reason_2": 0}
    assert quality_gate.count_reasons(bad_df, labels, bad_rows=3) == {"reason_0": 1, "reason_1": 2, "reason_2": 0}
    assert quality_gate.count_reasons(unreadable_df, labels, bad_rows=0) == {
        "reason_0": 0,
        "reason_1": 0,
        "reason_2": 0,
    }


def test_reference_flags_mark_found_keys_once_per_row_whatever_the_reference_holds(spark):
    rules = parse_ruleset(
        """Rules = [
            ReferentialIntegrity "parent id,code" "elsewhere.key,kind" >= 0.5,
            ReferentialIntegrity "id" "others.id" >= 0.5
        ]"""
    )
    rows_df = spark.createDataFrame(
        [(1, "a", 10), (2, "a", 11), (3, None, 10), (4, "b", None), (5, "a", 10)],
        "id int, code string, `parent id` int",
    )
    # (10, a) twice, two keys half null, one matching no row; other names and a wider type.
    reference_df = spark.createDataFrame(
        [(10, "a"), (10, "a"), (None, "b"), (12, "a"), (10, None)], "key bigint, kind string"
    )
    ids_df = spark.createDataFrame([(2,), (5,), (5,), (None,)], "id long")

    # Broadcast because the rule asks, not because the frames are small.
    threshold = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    try:
        flagged_df = rows_df.transform(quality.with_reference_flags(rules, {0: reference_df, 1: ids_df}))
        plan = flagged_df._jdf.queryExecution().executedPlan().toString()
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", threshold)

    expected_df = spark.createDataFrame(
        [
            (1, "a", 10, True, None),
            (2, "a", 11, None, True),
            (3, None, 10, None, None),
            (4, "b", None, None, None),
            (5, "a", 10, True, True),
        ],
        f"id int, code string, `parent id` int, {quality.ri_flag(0)} boolean, {quality.ri_flag(1)} boolean",
    )
    assert_df_equality(flagged_df, expected_df, ignore_row_order=True)
    assert plan.count("ExistenceJoin") == 2 and plan.count("BroadcastHashJoin") == 2
    assert not [view for view in spark.catalog.listTables() if view.name.startswith("__lakejobs_reference_")]


def test_a_warn_rule_met_by_its_threshold_passes_as_in_glue(spark):
    """It was reported ``warned`` although it held: 2 of 4 rows checked breaking it is within >= 0.5."""
    rules = parse_ruleset('Rules = [ ColumnValues "qty" > 0 with threshold >= 0.5 severity warn ]')
    validated_df = validated(spark, [None, None, "malformed_record", None, None])
    references = quality_gate.reference_frames(validated_df, rules, DATASET, "/no/such/folder")
    measurement = quality_gate.measure(validated_df, DATASET, rules, ["malformed_record"], references, None)
    assert measurement.results == [
        RuleResult('ColumnValues "qty" > 0 with threshold >= 0.5', "row", "warn", "passed", 0.5, 2)
    ]


def test_a_run_that_wrote_no_rows_is_not_the_baseline_of_row_count_change(spark, tmp_path):
    """Against 0 rows the rule was skipped: after an empty run any batch went through it."""
    from lakejobs.io.reports import previous_rows_written

    folder = tmp_path / "runs" / "csv_to_parquet"
    folder.mkdir(parents=True)
    out = str(tmp_path / "orders")
    for run_id, status, rows in [("r1", "SUCCEEDED", 10), ("r2", "SUCCEEDED", 0), ("r3", "FAILED", 5)]:
        report = {"run_id": run_id, "status": status, "inputs": {"orders": "in"}, "rows_written": rows}
        report["outputs"] = [{"path": out}]
        (folder / f"{run_id}.json").write_text(json.dumps(report))
    assert previous_rows_written(spark, str(tmp_path / "runs"), "csv_to_parquet", "orders", out) == 10
    (folder / "r1.json").unlink()
    assert previous_rows_written(spark, str(tmp_path / "runs"), "csv_to_parquet", "orders", out) is None


def test_a_gates_reasons_show_the_top_three_and_how_many_more():
    """'reasons: a=1, b=1, c=1' hid that 3 more rows had other reasons."""
    from lakejobs.quality_gate import top_reasons

    reasons = {"a": 1, "b": 5, "f": 2, "d": 1, "e": 0, "c": 2}
    assert top_reasons(reasons) == "b=5, f=2, c=2 and 2 more reasons (2 rows)"
    assert top_reasons({"a": 1, "b": 2, "c": 1, "d": 3}) == "d=3, b=2, a=1 and 1 more reason (1 row)"
    assert top_reasons({"a": 1, "b": 0}) == "a=1"
