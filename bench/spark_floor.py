"""Spark's floor for the orders conversion: a plain typed CSV read and Parquet write.

Same session settings as the jobs (``lakejobs.session``, local profile). ``--encoding dataset``
(the default) writes the Parquet layout the orders table has (its ``plain_columns`` without a
dictionary); ``--encoding default`` keeps Spark's default of a dictionary on every column. As
the issue defines it, the floor writes one unpartitioned folder: the conversion's ratio to it
also holds the cost of partitioning by order_year (the pipeline floor, ``spark_pipeline_floor.py``,
partitions as the jobs do). Prints one JSON line: start-up seconds, conversion seconds, and when the conversion
started and ended (``ready_at``, ``done_at``: epoch seconds, for ``bench/run.py``'s CPU trace).
"""

import argparse
import json
import time

started = time.monotonic()
from lakejobs.datasets import builtin_dataset  # noqa: E402
from lakejobs.io.writer import plain_encoding_options  # noqa: E402
from lakejobs.schemas import ORDERS  # noqa: E402


def write_floor(spark, raw: str, out: str, encoding: str = "dataset") -> None:
    """Spark's native typed CSV read of the orders under ``raw``, written as Parquet to ``out``."""
    plain = builtin_dataset("orders").plain_columns if encoding == "dataset" else ()
    orders_df = spark.read.csv(raw, schema=ORDERS, dateFormat="M/d/yyyy")
    orders_df.write.mode("overwrite").options(**plain_encoding_options(plain)).parquet(out)


def main() -> None:
    """Run the floor once; print start-up and conversion seconds as JSON."""
    from lakejobs.session import build_session

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw")
    parser.add_argument("out")
    parser.add_argument("--encoding", choices=("dataset", "default"), default="dataset")
    args = parser.parse_args()
    spark = build_session("spark-floor", "local")
    ready, ready_at = time.monotonic(), time.time()
    write_floor(spark, args.raw, args.out, args.encoding)
    done, done_at = time.monotonic(), time.time()
    timing = {"startup_s": round(ready - started, 3), "floor_s": round(done - ready, 3)}
    print(json.dumps({**timing, "ready_at": ready_at, "done_at": done_at}))


if __name__ == "__main__":
    main()
