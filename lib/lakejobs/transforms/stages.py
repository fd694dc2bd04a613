"""Where Spark's generated code ends: a stage boundary the optimizer keeps."""

import uuid

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def end_generated_stage(df: DataFrame, label: str) -> DataFrame:
    """``df`` observed (a row count under a unique name nobody reads), to end a generated stage.

    An observation is a node Spark's optimizer neither pushes a filter or a projection through
    nor merges projections across, and whole-stage code generation stops at it. Used where one
    stage would otherwise grow past what the JIT compiles, or be generated once per input of a
    union (``tests/unit/test_generated_code.py``).
    """
    return df.observe(f"{label}_{uuid.uuid4().hex[:12]}", F.count(F.lit(1)).alias("rows"))
