"""Insert only rows whose key the table does not hold yet: deduplication across batches.

Delta: a MERGE with only a ``WHEN NOT MATCHED THEN INSERT`` clause (rows already present are
left untouched, first seen wins). Parquet: a left anti-join of the batch against the table's
keys, then an append. Either way a replayed batch adds nothing. Callers make sure the batch
holds each key once, and hold the output's run lock (the Parquet path reads, then appends).
"""

import logging
from typing import TYPE_CHECKING, Sequence

from lakejobs import fs
from lakejobs.io.delta import commit_output_info, merge_delta, source_columns, table_version
from lakejobs.io.writer import write_table
from lakejobs.result import OutputInfo
from lakejobs.transforms.validation import quote_name

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

LOG = logging.getLogger(__name__)


def insert_new_rows(
    df: "DataFrame",
    path: str,
    name: str,
    fmt: str,
    keys: Sequence[str],
    partition_by: Sequence[str] = (),
    compression: str = "snappy",
) -> OutputInfo:
    """Add the rows of ``df`` whose ``keys`` are not in the table at ``path``.

    Returns
    -------
    OutputInfo
        ``rows`` counts the rows inserted by this call.
    """
    if fmt == "delta":
        return _insert_new_delta(df, path, name, keys, partition_by, compression)
    spark = df.sparkSession
    new_df = df
    if fs.list_data_files(spark, path):
        existing_df = spark.read.parquet(path).select(*keys)
        new_df = df.join(existing_df, list(keys), "left_anti").select(*df.columns)
    if new_df.isEmpty():  # an empty partitioned write_table never returns (see fieldjob.write_good_rows)
        return OutputInfo(name, path, "parquet", rows=0, files=0, bytes=0, partition_by=list(partition_by))
    return write_table(new_df, path, name, "parquet", partition_by, compression, mode="append")


def _insert_new_delta(df, path: str, name: str, keys, partition_by, compression) -> OutputInfo:
    from delta.tables import DeltaTable

    spark = df.sparkSession
    before = table_version(spark, path)
    if before < 0:
        return merge_delta(df, path, name, keys, partition_by, compression)  # creates the table
    condition = " AND ".join(f"target.{quote_name(key)} = source.{quote_name(key)}" for key in keys)
    table = DeltaTable.forPath(spark, path)
    table.alias("target").merge(df.alias("source"), condition).whenNotMatchedInsert(values=source_columns(df)).execute()
    # The MERGE's own commit, not the newest: an OPTIMIZE may have committed since (no lock).
    return commit_output_info(spark, path, name, partition_by, before)
