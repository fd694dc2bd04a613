"""Read a Parquet table without a schema, typing its partition columns only where no value changes.

Spark types a partition column from its folder names: ``ticker=0700`` becomes the integer 700
and ``code=1E5`` a double, so the text is lost. Here a column keeps Spark's integer or date type
only when every value is written canonically (``7203``, ``-5``, ``2024-03-01``); otherwise it is
read as the folder's text.
"""

import re
from typing import TYPE_CHECKING, Dict, Iterable, List, Sequence, Set, Tuple
from urllib.parse import unquote

from pyspark.sql import types as T

from lakejobs import fs

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

#: Spark's folder value for a null partition value.
NULL_VALUE = "__HIVE_DEFAULT_PARTITION__"
_CANONICAL = {
    T.IntegerType: re.compile(r"-?(0|[1-9][0-9]*)"),
    T.LongType: re.compile(r"-?(0|[1-9][0-9]*)"),
    T.DateType: re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
}


def partition_values(file_urls: Iterable[str]) -> Dict[str, Set[str]]:
    """The values of the ``name=value`` folders right above each file, unescaped.

    ``file_urls`` are spelled as ``DataFrame.inputFiles()`` spells them: URL-encoded paths of
    folders that Spark named with its own ``%XX`` escapes, hence two rounds of unquoting.
    """
    values: Dict[str, Set[str]] = {}
    for url in file_urls:
        for part in reversed(url.split("/")[:-1]):
            if "=" not in part:
                break
            name, value = unquote(part).split("=", 1)
            values.setdefault(unquote(name), set()).add(unquote(value))
    return values


def lossless_type(inferred: T.DataType, values: Iterable[str]) -> T.DataType:
    """``inferred`` if every value is its canonical text, else ``StringType``."""
    pattern = _CANONICAL.get(type(inferred))
    if isinstance(inferred, T.StringType) or pattern is None:
        return T.StringType()
    if all(value == NULL_VALUE or pattern.fullmatch(value) for value in values):
        return inferred
    return T.StringType()


def read_parquet_table(spark: "SparkSession", path: str) -> "DataFrame":
    """Read the Parquet table at ``path``; partition columns typed as described above."""
    inferred_df = spark.read.parquet(path)
    folders = partition_values(inferred_df.inputFiles())
    if not folders:
        return inferred_df
    fields = [
        T.StructField(field.name, lossless_type(field.dataType, folders[field.name]), field.nullable)
        if field.name in folders
        else field
        for field in inferred_df.schema.fields
    ]
    if fields == inferred_df.schema.fields:
        return inferred_df
    return spark.read.schema(T.StructType(fields)).parquet(path)


def partition_folders(spark: "SparkSession", path: str, levels: int) -> Dict[str, str]:
    """The partition folders (``k=v[/k2=v2]``) holding data files below ``path`` -> their URLs.

    Files outside such folders (``path`` itself being a file) are not in a partition.
    """
    folders: Dict[str, str] = {}
    for info in fs.list_data_files(spark, path):
        parts: List[str] = info.path.split("/")[:-1]
        if all("=" in part for part in parts[-levels:]):
            folders["/".join(parts[-levels:])] = "/".join(parts)
    return folders


def folder_values(folder: str) -> Tuple[str, ...]:
    """The values of a partition folder (``base=USD/quote=GBP`` -> ``('USD', 'GBP')``), unescaped."""
    return tuple(unquote(part.split("=", 1)[1]) for part in folder.split("/"))


def partition_texts(df: "DataFrame", partition_by: Sequence[str]) -> Set[Tuple[str, ...]]:
    """The partitions ``df`` has rows for, as their folders spell the values (small aggregate)."""
    from pyspark.sql import functions as F

    columns = [F.coalesce(F.col(name).cast("string"), F.lit(NULL_VALUE)) for name in partition_by]
    return {tuple(row) for row in df.select(*columns).distinct().collect()}
