"""The conversion's generated code stays small enough for the JIT to compile (a plan check, not a timing).

HotSpot leaves any method over 8000 bytes of bytecode to its interpreter
(``-XX:-DontCompileHugeMethods`` is off by default, also on Glue and EMR). The method Spark
generates for typing and checking each order line is 6,684 bytes, with the ``too_many_decimals``
check of the seven money columns: the dates' typing and the decimals' rounding checks each run
in a small method of their own (``validation.flag_columns``). Session 17's first tries at that
check, inline, took it to 8,453-32,935 bytes and the orders conversion to 1.7-2.3 times as long
(bench/HISTORY.md "Session 17"). This keeps the next change from crossing the line unnoticed.
"""

from lakejobs.jobs import csv_to_parquet
from lakejobs.transforms import quality
from tests.conftest import SAMPLE_RAW

#: HotSpot's HugeMethodLimit: larger methods are never JIT-compiled.
JIT_METHOD_LIMIT = 8000


def largest_generated_method(spark, df) -> int:
    """The largest method, in bytes of bytecode, of the whole-stage code Spark generates for ``df``."""
    plan = df._jdf.queryExecution().executedPlan()
    stages = spark._jvm.org.apache.spark.sql.execution.debug.package.codegenStringSeq(plan)
    sizes = [stages.apply(index)._3().maxMethodCodeSize() for index in range(stages.size())]
    assert sizes and min(sizes) > 0  # every stage compiled
    return max(sizes)


def test_every_method_generated_for_the_orders_conversion_is_small_enough_to_compile(spark, tmp_path):
    argv = ["--dataset", "orders", "--input_path", str(SAMPLE_RAW / "orders"), "--output_path", str(tmp_path / "o")]
    args = csv_to_parquet.parse_args(argv)
    checked_df = csv_to_parquet._checked_rows(spark, args, None, quality.row_checks(args.rules))
    valid_df, _observation, _missing = csv_to_parquet.observed_good_rows(args, checked_df)
    assert largest_generated_method(spark, valid_df) < JIT_METHOD_LIMIT
