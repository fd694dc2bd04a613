"""What Parquet files' footers say about how their columns were written (read through Hadoop).

Only footers are read (a few KB per file, from the end of the file), on any file system the
session reaches: local, HDFS, ``s3a://``.
"""

from typing import TYPE_CHECKING, Iterable, List, Set

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession


def columns_without_dictionary(spark: "SparkSession", paths: Iterable[str]) -> List[str]:
    """The columns written without a dictionary in every one of ``paths`` that shows it.

    A column chunk shows how it was written when it holds a value: a chunk of nulls has no
    dictionary page either way, so it neither adds nor removes its column. A column no file
    shows is not returned.

    Parameters
    ----------
    spark : SparkSession
        Session whose Hadoop configuration reaches the files.
    paths : iterable of str
        Parquet data files (qualified or not).

    Returns
    -------
    list of str
        Column paths (dotted for nested fields), sorted.
    """
    plain: Set[str] = set()
    dictionary: Set[str] = set()
    for path in paths:
        seen_plain, seen_dictionary = _chunks_by_encoding(spark, path)
        plain |= seen_plain
        dictionary |= seen_dictionary
    return sorted(plain - dictionary)


def _chunks_by_encoding(spark: "SparkSession", path: str):
    """(columns with a plain chunk, columns with a dictionary chunk) in the file's row groups."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    input_file = jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(
        hadoop_path, spark.sparkContext._jsc.hadoopConfiguration()
    )
    reader = jvm.org.apache.parquet.hadoop.ParquetFileReader.open(input_file)
    try:
        blocks = reader.getFooter().getBlocks()
        plain, dictionary = set(), set()
        for block in blocks:
            for chunk in block.getColumns():
                statistics = chunk.getStatistics()
                if statistics is not None and statistics.getNumNulls() == chunk.getValueCount():
                    continue  # only nulls: no dictionary page whether or not one was enabled
                name = chunk.getPath().toDotString()
                (dictionary if chunk.hasDictionaryPage() else plain).add(name)
        return plain, dictionary
    finally:
        reader.close()
