"""Entry point of the pipeline's catalog step: ``lakejobs catalog sync`` as a Glue job, EMR step or EMR Serverless run.

The sync itself needs no Spark: it lists the lake's objects and calls Glue's API with boto3
(which Glue, EMR and EMR Serverless ship). Glue's own arguments (``--JOB_NAME``, ...) are set
aside. Started by ``spark-submit`` (an EMR step, an EMR Serverless run), the script still
starts a SparkContext: in YARN cluster mode the application master registers only once the
driver has one, and ends a driver that never made one as FAILED ("User did not initialize spark
context!"), failing the step after a successful sync.
"""

import sys

from lakejobs.args import strip_glue_arguments
from lakejobs.cli import main
from lakejobs.runtime import launched_by_spark_submit


def sync(arguments):
    """Run ``lakejobs catalog sync`` with ``arguments``; its exit code."""
    own_arguments, _glue_arguments = strip_glue_arguments(arguments)
    if not launched_by_spark_submit():
        return main(["catalog", "sync", *own_arguments])
    from pyspark import SparkContext

    context = SparkContext.getOrCreate()
    try:
        return main(["catalog", "sync", *own_arguments])
    finally:
        context.stop()


if __name__ == "__main__":
    sys.exit(sync(sys.argv[1:]))
