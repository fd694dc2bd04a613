"""How many records the stages of a block of code read, from Spark's status store."""

import contextlib
from typing import Iterator, List


def _stages(spark) -> dict:
    """Stage id -> input records, of every stage the status store still holds."""
    context = spark.sparkContext
    jvm = context._jvm
    stages = (
        context._jsc.sc()
        .statusStore()
        .stageList(None, False, False, context._gateway.new_array(jvm.double, 0), jvm.java.util.ArrayList())
    )
    return {
        stage.stageId(): stage.inputRecords() for stage in jvm.scala.collection.JavaConverters.seqAsJavaList(stages)
    }


@contextlib.contextmanager
def records_read(spark) -> Iterator[List[int]]:
    """Yield a list that holds, on leaving, the records read by the stages run inside.

    A record is a line of a text or CSV file, a row of a Parquet file, or a batch of a cached
    frame (Spark counts a cached block's records as input too).
    """
    before = set(_stages(spark))
    read: List[int] = []
    yield read
    read.append(sum(records for stage, records in _stages(spark).items() if stage not in before))
