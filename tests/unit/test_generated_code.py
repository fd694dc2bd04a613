"""The conversion's generated code stays small enough for the JIT to compile (a plan check, not a timing).

HotSpot leaves any method over 8000 bytes of bytecode to its interpreter
(``-XX:-DontCompileHugeMethods`` is off by default, also on Glue and EMR). The method Spark
generates for typing and checking each order line is 6,684 bytes, with the ``too_many_decimals``
check of the seven money columns: the dates' typing and the decimals' rounding checks each run
in a small method of their own (``validation.flag_columns``). Session 17's first tries at that
check, inline, took it to 8,453-32,935 bytes and the orders conversion to 1.7-2.3 times as long
(bench/HISTORY.md "Session 17"). The quarantine pass and the persisted passes (Delta outputs)
type the rows in their own stage (7,246 bytes) and explain them in another (6,918 and 7,463
bytes); until session 19 both were one stage, of 64 KB and 9,896 bytes. Since session 20 the
quarantine pass may first keep the rows failing a cheap condition, in a stage of its own (at most
6,838 bytes). This keeps the next change from crossing the line unnoticed.
"""

import contextlib

import pytest

from lakejobs.io.input_folder import input_data_files
from lakejobs.jobs import csv_to_parquet, stock_prices, taxi_trips
from lakejobs.transforms import quality, validation
from tests.conftest import SAMPLE_RAW

#: HotSpot's HugeMethodLimit: larger methods are never JIT-compiled.
JIT_METHOD_LIMIT = 8000


def generated_method_sizes(spark, df) -> list:
    """The largest method of each whole-stage class Spark generates for ``df``, in bytes of bytecode."""
    plan = df._jdf.queryExecution().executedPlan()
    stages = spark._jvm.org.apache.spark.sql.execution.debug.package.codegenStringSeq(plan)
    sizes = [stages.apply(index)._3().maxMethodCodeSize() for index in range(stages.size())]
    assert sizes and min(sizes) > 0  # every stage compiled
    return sizes


def largest_generated_method(spark, df) -> int:
    """The largest method, in bytes of bytecode, of the whole-stage code Spark generates for ``df``."""
    return max(generated_method_sizes(spark, df))


def checked_orders(spark, tmp_path):
    argv = ["--dataset", "orders", "--input_path", str(SAMPLE_RAW / "orders"), "--output_path", str(tmp_path / "o")]
    args = csv_to_parquet.parse_args(argv)
    row_checks = quality.row_checks(args.rules)
    return args, row_checks, csv_to_parquet._checked_rows(spark, args, None, row_checks)


def test_every_method_generated_for_the_orders_conversion_is_small_enough_to_compile(spark, tmp_path):
    args, _row_checks, checked_df = checked_orders(spark, tmp_path)
    valid_df, _observation, _missing = csv_to_parquet.observed_good_rows(args, checked_df)
    assert largest_generated_method(spark, valid_df) < JIT_METHOD_LIMIT


def test_the_bad_rows_pass_types_checks_then_filters_and_explains_in_code_small_enough(spark, tmp_path):
    """Until session 19 its filter was pushed below the typing (over 64 KB: not compiled at all)."""
    args, row_checks, checked_df = checked_orders(spark, tmp_path)
    bad_df = csv_to_parquet.explained_rows(checked_df, args.dataset, row_checks, bad_only=True)
    assert largest_generated_method(spark, bad_df) < JIT_METHOD_LIMIT


def test_the_persisted_passes_type_and_explain_every_row_in_code_small_enough(spark, tmp_path):
    """Delta outputs take them: until session 19 one method of 9,896 bytes typed and explained each row."""
    args, row_checks, checked_df = checked_orders(spark, tmp_path)
    explained_df = csv_to_parquet.explained_rows(checked_df, args.dataset, row_checks)
    assert largest_generated_method(spark, explained_df) < JIT_METHOD_LIMIT


def test_the_bad_rows_pass_kept_by_the_largest_condition_is_small_enough(spark, tmp_path):
    """The quarantine read keeps the rows that may fail the reasons pass 1 saw, then types them.

    The largest condition it builds types two dates (6,838 bytes).
    """
    args, row_checks, _checked_df = checked_orders(spark, tmp_path)
    raw_df = csv_to_parquet._raw_rows(spark, args, None)
    seen = ["invalid_date:orderdate", "invalid_date:duedate"]
    assert validation.failing_one_of(args.dataset, seen + ["invalid_int:orderqty"]) is None  # over the cost
    bad_df = csv_to_parquet.quarantine_rows(args, raw_df, row_checks, seen)
    plan = bad_df._jdf.queryExecution().optimizedPlan().toString()
    assert plan.count("Filter ") == 2  # the kept rows' condition, then the reason's
    assert largest_generated_method(spark, bad_df) < JIT_METHOD_LIMIT


def test_iso_dates_and_doubles_of_a_user_schema_type_in_code_small_enough(spark, tmp_path):
    """Dates without a format are guarded by a pattern, doubles by the infinity check: both inline."""
    (tmp_path / "in.csv").write_text("1,2014-05-01,2014-05-02,2014-05-03,1.5,2.5,3.5,4.5,x,2,3\n")
    schema = "id INT NOT NULL, a DATE, b DATE, c DATE, p DOUBLE, q DOUBLE, r FLOAT, s DOUBLE, t STRING, u INT, v BIGINT"
    argv = ["--schema", schema, "--primary_key", "id", "--input_path", str(tmp_path / "in.csv")]
    args = csv_to_parquet.parse_args([*argv, "--output_path", str(tmp_path / "o")])
    row_checks = quality.row_checks(args.rules)
    checked_df = csv_to_parquet._checked_rows(spark, args, None, row_checks)
    valid_df, _observation, _missing = csv_to_parquet.observed_good_rows(args, checked_df)
    assert largest_generated_method(spark, valid_df) < JIT_METHOD_LIMIT
    explained_df = csv_to_parquet.explained_rows(checked_df, args.dataset, row_checks)
    assert largest_generated_method(spark, explained_df) < JIT_METHOD_LIMIT


@contextlib.contextmanager
def adaptive_execution_off(spark):
    """Plan whole: with AQE, a plan holding a shuffle shows no generated stage before it runs."""
    before = spark.conf.get("spark.sql.adaptive.enabled")
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    try:
        yield
    finally:
        spark.conf.set("spark.sql.adaptive.enabled", before)


def checked_field_rows(spark, tmp_path, job, folder):
    """A field job's checked rows of the sample ``folder``, and the headers it found."""
    args = job.parse_args(["--input_path", str(SAMPLE_RAW / folder), "--output_path", str(tmp_path / "o")])
    raw_df, headers = job.read_raw(spark, args, input_data_files(spark, args.input_path))
    return raw_df.transform(job.checked_rows(args)), headers


@pytest.mark.parametrize(
    ("job", "folder"),
    [(taxi_trips, "taxi"), (stock_prices, "stocks")],
    ids=["taxi_trips", "stock_prices"],
)
def test_the_field_jobs_type_and_check_their_rows_in_code_small_enough(spark, tmp_path, job, folder):
    """Until session 28 taxi_trips' method was 8,212 and 8,375 bytes (its two headers), stock_prices' 8,188.

    Their invalid-UTF-8 check searched each text field on its own; joined, taxi's validate stage takes
    27.8 s instead of 31.0 s on 3M trips (bench/HISTORY.md "Session 28").
    """
    checked_df, _headers = checked_field_rows(spark, tmp_path, job, folder)
    with adaptive_execution_off(spark):
        assert largest_generated_method(spark, checked_df) < JIT_METHOD_LIMIT


def test_taxi_trips_types_both_header_layouts_in_one_generated_class(spark, tmp_path):
    """The sample has two TLC layouts; until session 28 each typed its trips in a class of its own.

    Two classes of about 6,900 bytes each were two for the JIT to compile in every fresh JVM
    (``headered_csv._one_stage_after``).
    """
    checked_df, headers = checked_field_rows(spark, tmp_path, taxi_trips, "taxi")
    with adaptive_execution_off(spark):
        sizes = generated_method_sizes(spark, checked_df)
    assert headers["headers"] == 2
    assert len([size for size in sizes if size > 4000]) == 1
