"""Entry point of the pipeline's catalog step: ``lakejobs catalog sync`` as a Glue job, EMR step or EMR Serverless run.

The sync itself needs no Spark: it lists the lake's objects and calls Glue's API with boto3
(which Glue, EMR and EMR Serverless ship). Glue's own arguments (``--JOB_NAME``, ...) are set
aside, as in the other jobs (a flag of Glue's this library does not know yet too). Started by
``spark-submit`` (an EMR step, an EMR Serverless run), the script still starts a SparkContext:
in YARN cluster mode the application master registers only once the driver has one, and ends a
driver that never made one as FAILED ("User did not initialize spark context!"), failing the
step after a successful sync.
"""

import sys

try:
    from lakejobs.args import run_by_glue, set_aside_other_glue_arguments, strip_glue_arguments
    from lakejobs.catalog_cli import sync_parser
    from lakejobs.cli import main
    from lakejobs.runtime import launched_by_spark_submit
except ModuleNotFoundError as missing:  # until session 47 a traceback: "No module named 'lakejobs'"
    if missing.name != "lakejobs" or __name__ != "__main__":
        raise
    print(
        "catalog_sync: error: the lakejobs package is not importable: pass --py-files dist/lakejobs-lib.zip "
        "to spark-submit (Glue: --extra-py-files; make package builds it)",
        file=sys.stderr,
    )
    sys.exit(2)


def sync(arguments):
    """Run ``lakejobs catalog sync`` with ``arguments``; its exit code.

    On Glue, a service flag the library does not know yet is set aside with a warning, as the
    other jobs do (``args.set_aside_other_glue_arguments``), instead of failing the step.
    """
    own_arguments, glue_arguments = strip_glue_arguments(arguments)
    if run_by_glue(glue_arguments):
        own_arguments = set_aside_other_glue_arguments(sync_parser(), own_arguments, glue_arguments)
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
