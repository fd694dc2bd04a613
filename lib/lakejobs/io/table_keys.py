"""Refuse a Parquet append whose rows repeat keys the table already holds.

A Parquet table has no MERGE: an incremental batch is appended. Until session 46 a batch
repeating keys of earlier batches was appended all the same, so the table held those keys twice
and nothing said so: a customers snapshot landed again as a new file (as the changed-file
refusal advises) doubled the table, and the sales mart, which keeps one row per dimension key
(the smallest), went on showing the old names. ``refuse_keys_in_table`` semi-joins the batch's
keys with the table's key columns, before anything is published.

A full run into a partitioned Parquet table replaces only the partitions its rows hold. Until
session 47 a row whose key moved to another partition (an order re-dated into another year) was
written there while its old copy stayed in a partition the run kept, so the table held the key
twice and the mart counted the line's money twice. ``refuse_keys_in_kept_partitions`` reads
the key columns of the kept partitions only (none when the run replaces every partition).
"""

from typing import TYPE_CHECKING, Callable, Collection, Sequence, Tuple

from lakejobs.datasets import Dataset
from lakejobs.errors import LakejobsError
from lakejobs.io.partitions import folder_values, partition_folders
from lakejobs.transforms.validation import quote_name

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession


class KeysInTableError(LakejobsError):
    """An incremental Parquet batch repeats keys of the table's earlier batches (exit 1, nothing published)."""


def refuse_keys_in_table(spark: "SparkSession", rows_df: "DataFrame", output_path: str, dataset: Dataset) -> None:
    """Raise ``KeysInTableError`` when a key of ``rows_df`` is already in the Parquet table at ``output_path``.

    One query: the batch's keys semi-joined with the table's key columns, counted, with the
    smallest repeated key for the message. The table is read with the dataset's types (``table_schema``):
    inferred, a partition column ``code=1`` would be an int that ``"01"`` matches, and an empty
    table would have no schema at all.
    """
    from lakejobs.io.delta import table_schema

    keys = [quote_name(name) for name in dataset.primary_key]
    table_df = spark.read.schema(table_schema(spark, dataset)).parquet(output_path)
    found = _holding_keys_of(rows_df.select(*keys), table_df, dataset.primary_key)
    if found["rows"]:
        raise KeysInTableError(_message(dataset, output_path, found["rows"], found["example"]))


def refuse_keys_in_kept_partitions(
    spark: "SparkSession",
    rows_df: "DataFrame",
    output_path: str,
    dataset: Dataset,
    partition_by: Sequence[str],
    replaced: Callable[[], Collection[Tuple[str, ...]]],
) -> None:
    """Raise ``KeysInTableError`` when a partition a full run keeps holds a key of ``rows_df``.

    ``replaced`` gives the partitions the run replaces, as their folders spell the values
    (``partitions.folder_values``); it is called only when the table at ``output_path`` has
    partition folders. When some of them are kept, their key columns are semi-joined with the
    batch's keys.
    """
    from lakejobs.io.delta import table_schema

    if {name.lower() for name in partition_by} <= {name.lower() for name in dataset.primary_key}:
        return  # a key's partition is part of it: no key can move to another partition
    folders = partition_folders(spark, output_path, len(partition_by))
    replaced_values = set(replaced()) if folders else set()
    kept = [url for folder, url in folders.items() if folder_values(folder) not in replaced_values]
    if not kept:
        return
    keys = [quote_name(name) for name in dataset.primary_key]
    where = [quote_name(name) for name in partition_by]
    reader = spark.read.schema(table_schema(spark, dataset)).option("basePath", output_path)
    found = _holding_keys_of(reader.parquet(*kept).select(*keys, *where), rows_df, dataset.primary_key)
    if found["rows"]:
        raise KeysInTableError(_kept_message(dataset, output_path, partition_by, found["rows"], found["example"]))


def _holding_keys_of(rows_df: "DataFrame", other_df: "DataFrame", primary_key: Sequence[str]):
    """One query: how many rows of ``rows_df`` hold a key of ``other_df``, and the smallest (all its columns)."""
    from pyspark.sql import functions as F

    columns = [quote_name(name) for name in rows_df.columns]
    holding_df = rows_df.join(
        other_df.select(*[quote_name(key) for key in primary_key]), list(primary_key), "left_semi"
    )
    return holding_df.agg(F.count(F.lit(1)).alias("rows"), F.min(F.struct(*columns)).alias("example")).first()


def _kept_message(
    dataset: Dataset, output_path: str, partition_by: Sequence[str], repeats: int, example: Sequence[object]
) -> str:
    width = len(dataset.primary_key)
    key = ", ".join(f"{name}={value}" for name, value in zip(dataset.primary_key, example[:width]))
    partition = "/".join(f"{name}={value}" for name, value in zip(partition_by, example[width:]))
    rows = "1 row" if repeats == 1 else f"{repeats} rows"
    return (
        f"{dataset.name}: {rows} of {output_path}, in partitions this run does not replace, hold keys of this batch "
        f"(e.g. {key} in {partition}): a full run replaces only the partitions its rows hold, so the old row would "
        "stay beside the new one; nothing was published. Convert those partitions' rows too (the whole snapshot), "
        "or convert into a Delta table (--format delta merges on the key)"
    )


def _message(dataset: Dataset, output_path: str, repeats: int, example: Sequence[object]) -> str:
    key = ", ".join(f"{name}={value}" for name, value in zip(dataset.primary_key, example))
    rows = "1 row repeats a key" if repeats == 1 else f"{repeats} rows repeat keys"
    return (
        f"{dataset.name}: {rows} of {output_path} (e.g. {key}): a Parquet table cannot replace rows, and an "
        "incremental run appends; nothing was published. To correct rows, convert into a Delta table (--format "
        "delta merges on the key); to load a new snapshot, move the earlier snapshot's files out of the input, "
        "then run without --incremental (a full run reads every file of the input and replaces the table, or the "
        "partitions its rows hold)"
    )
