"""Submitted to the cluster: from where do the driver and the executors import lakejobs and pyspark?

Prints one JSON line: ``{"driver": {...}, "executors": [{...}, {...}]}``. The lambda runs in
the executors' Python workers, so they must import lakejobs themselves.
"""

import json
import sys

from pyspark.sql import SparkSession


def where() -> dict:
    import pyspark

    import lakejobs

    return {"lakejobs": lakejobs.__file__, "pyspark": pyspark.__file__, "python": sys.executable, "prefix": sys.prefix}


if __name__ == "__main__":
    spark = SparkSession.builder.getOrCreate()
    executors = spark.sparkContext.parallelize(range(2), 2).map(lambda _: where()).collect()
    print(json.dumps({"driver": where(), "executors": executors}), flush=True)
    spark.stop()
