"""``GlueContext``: on Glue it wraps the SparkContext and exposes the job's SparkSession."""

from pyspark.sql import SparkSession


class GlueContext:
    """Like ``awsglue.context.GlueContext(sparkContext, **options)``."""

    def __init__(self, spark_context, **options):
        self._spark_context = spark_context
        self.options = options
        self.spark_session = SparkSession(spark_context)
