"""Spark's floor for the orders conversion: a plain typed CSV read and Parquet write.

Same session settings as the jobs (``lakejobs.session``, local profile). Prints one JSON line:
start-up seconds and conversion seconds.
"""

import json
import sys
import time

started = time.monotonic()
from lakejobs.schemas import ORDERS  # noqa: E402
from lakejobs.session import build_session  # noqa: E402

spark = build_session("spark-floor", "local")
ready = time.monotonic()
raw, out = sys.argv[1], sys.argv[2]
spark.read.csv(raw, schema=ORDERS, dateFormat="M/d/yyyy").write.mode("overwrite").parquet(out)
done = time.monotonic()
print(json.dumps({"startup_s": round(ready - started, 3), "floor_s": round(done - ready, 3)}))
