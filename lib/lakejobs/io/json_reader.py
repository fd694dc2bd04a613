"""Read JSON as text first, so every record keeps its raw text for the quarantine."""

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakejobs.io.csv_reader import SOURCE_FILE

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession


def read_json_text(spark: "SparkSession", path: str, whole_files: bool) -> "DataFrame":
    """Read the files below ``path`` as JSON text: one row per file, or per line.

    Parameters
    ----------
    spark : SparkSession
    path : str
        A file or a folder (read recursively) on any Hadoop filesystem.
    whole_files : bool
        True for documents spread over many lines (one JSON value per file), false for JSON
        lines (one value per line).

    Returns
    -------
    DataFrame
        ``_source_file`` and ``value``; a leading byte order mark (U+FEFF, as Windows
        editors save UTF-8) is dropped; blank lines and empty files (nothing but characters
        up to U+0020: spaces, tabs, line breaks, as the CSV reader counts them) are not
        records and are skipped.
    """
    return (
        spark.read.option("recursiveFileLookup", "true")
        .text(path, wholetext=whole_files)
        .withColumn("value", F.regexp_replace("value", "^\ufeff", ""))
        .filter(F.col("value").rlike("[^\\x00-\\x20]"))
        .select(F.input_file_name().alias(SOURCE_FILE), F.col("value"))
    )
