"""Refuse to write rows into a table whose columns are not the run's.

A run that keeps a table's earlier rows (a Delta MERGE or append, a Parquet partition overwrite
or append) mixes them with its own. With another schema than the table's, Delta's MERGE casts
the run's values to the table's types and drops its new columns (``1.239`` in a
``decimal(12,3)`` column merged into a ``decimal(10,2)`` one was stored as ``1.24``), and a
Parquet table is left with files of two types for one column, which Spark refuses to read
(``Parquet column cannot be converted``). So before such a write, the table's column names and
types (nullability aside) must be the run's: Delta's from its log, Parquet's from the footer of
one data file (partition columns are folder names, checked by the layout check).
"""

import json
import logging
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from lakejobs import fs
from lakejobs.errors import UsageError
from lakejobs.io.table_folder import DELTA_LOG, holds_delta_commit, table_files

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

LOG = logging.getLogger(__name__)


def refuse_other_schema(
    spark: "SparkSession",
    path: str,
    schema: "StructType",
    output_format: str,
    partition_by: Sequence[str] = (),
    types_only: bool = False,
) -> None:
    """Raise ``UsageError`` when the table at ``path`` has other columns or types than ``schema``.

    Parameters
    ----------
    spark : SparkSession
        The session.
    path : str
        The output table's folder; nothing is checked when it holds no table yet.
    schema : StructType
        The columns the run writes, partition columns included.
    output_format : str
        ``parquet`` or ``delta``.
    partition_by : Sequence[str]
        The run's partition columns, left out of a Parquet file's comparison.
    types_only : bool
        Compare only the types of the columns both have (the field jobs' merges read a table's
        earlier rows by the run's columns: a column only in the run is null there, as in a table
        written before lineage, one only in the table is left out; another type fails the read).
    """
    table = _table_columns(spark, path, output_format)
    if table is None:
        return
    skipped = {name.lower() for name in partition_by} if output_format == "parquet" else set()
    run = {field.name.lower(): field.dataType.simpleString() for field in schema.fields}
    run = {name: kind for name, kind in run.items() if name not in skipped}
    differences = _type_differences(table, run) + ([] if types_only else _presence_differences(table, run))
    if differences:
        raise UsageError(
            f"--output_path {path} holds a table with other columns than this run's: {'; '.join(differences)}; "
            "writing into it would cast, drop or mix them: write to a new output, or delete the table and convert "
            "every input again"
        )


def _table_columns(spark: "SparkSession", path: str, output_format: str):
    """``{column (lower case): type}`` of the table at ``path``; None when it holds no table."""
    if output_format == "delta":
        if not holds_delta_commit(spark, path):
            return None
        schema = delta_log_schema(spark, path)
    else:
        files = table_files(spark, path, limit=20)
        if not files:
            return None
        schema = spark.read.parquet(files[0].path).schema
    filled = [field for field in schema.fields if any(key.startswith(DELTA_FILLED) for key in field.metadata)]
    return {field.name.lower(): field.dataType.simpleString() for field in schema.fields if field not in filled}


#: Metadata of a Delta column that Delta fills itself (generated, identity): no run writes it.
DELTA_FILLED = ("delta.generationExpression", "delta.identity.")


def delta_log_schema(spark: "SparkSession", path: str) -> "StructType":
    """The schema of the Delta table at ``path`` as its log holds it, Delta's column metadata included.

    Spark's read of a Delta table leaves out the metadata that marks generated and identity
    columns (``DELTA_FILLED``), so it is taken from the table's latest snapshot, through Delta's
    JVM ``DeltaLog`` (no Python API gives it). On a Delta release without that call, the read
    schema: such columns then count as columns a run must write, and the check refuses the run.
    """
    from py4j.protocol import Py4JError
    from pyspark.sql.types import StructType

    try:
        delta_log = spark._jvm.org.apache.spark.sql.delta.DeltaLog
        snapshot = delta_log.forTableWithSnapshot(spark._jsparkSession, path)._2()
        return StructType.fromJson(json.loads(snapshot.schema().json()))
    except Py4JError:
        LOG.warning("could not read the Delta log's schema of %s: generated columns are compared too", path)
        return spark.read.format("delta").load(path).schema


def _type_differences(table: Dict[str, str], run: Dict[str, str]) -> List[str]:
    """The columns both have, with another type in each."""
    return [
        f"{name} is {table[name]} there, {kind} here" for name, kind in run.items() if table.get(name, kind) != kind
    ]


def _presence_differences(table: Dict[str, str], run: Dict[str, str]) -> List[str]:
    """A column only in the run, one only in the table."""
    found = [f"{name} is not in the table" for name in run if name not in table]
    return found + [f"{name} is not in this run's rows" for name in table if name not in run]


#: How many of a Delta table's latest commits ``refuse_keyless_write_into_a_merged_table`` reads.
KEY_HISTORY_COMMITS = 20


def recorded_key(spark: "SparkSession", path: str) -> Optional[List[str]]:
    """The key a keyed run created the table with (its first commit, ``_delta_log/00000000000000000000.json``).

    Read whole, whatever the history since: ten ``vacuum`` runs (two commits each) had pushed it
    out of the latest ``KEY_HISTORY_COMMITS``, and a keyless run then replaced the table. Delta
    removes old commit files after its log retention (30 days by default); then only the
    latest commits tell.
    """
    from lakejobs.io.delta import KEYED_BY

    text = fs.read_text(spark, f"{path.rstrip('/')}/{DELTA_LOG}/{0:020d}.json") or ""
    for line in text.splitlines():
        try:
            action = json.loads(line)
        except ValueError:
            continue
        metadata = (action.get("commitInfo") or {}).get("userMetadata") if isinstance(action, dict) else None
        if isinstance(metadata, str) and metadata.startswith(KEYED_BY):
            return metadata[len(KEYED_BY) :].split(",")
    return None


def refuse_another_key(spark: "SparkSession", path: str, keys: Sequence[str]) -> None:
    """Raise ``UsageError`` when a keyed run's key differs from the one the Delta table was created with.

    A MERGE on another key (``--primary_key v`` into a table of ``id``) replaced rows that only
    shared the new key's value: ``(2, b)`` was overwritten by ``(3, b)``, and the run succeeded.
    """
    if not holds_delta_commit(spark, path):
        return
    recorded = recorded_key(spark, path)
    if recorded is None and fs.exists(spark, f"{path.rstrip('/')}/{DELTA_LOG}/{0:020d}.json"):
        refuse_repeated_keys(spark, path, keys)  # created without a key (its first commit is still there)
    elif recorded is not None and sorted(key.lower() for key in recorded) != sorted(key.lower() for key in keys):
        raise UsageError(
            f"--output_path {path} is a Delta table kept by the key {','.join(recorded)} (its first commit says so), "
            f"and this run's key is {','.join(keys)}: a MERGE on another key replaces rows that only share "
            f"its values; run with the key {','.join(recorded)}, or write to a new output (or delete the table to "
            "rebuild it)"
        )


def refuse_repeated_keys(spark: "SparkSession", path: str, keys: Sequence[str]) -> None:
    """Raise ``UsageError`` when the Delta table at ``path``, created without a key, holds one of ``keys`` twice.

    A MERGE updates every copy of a matched key and keeps them all. Until session 47 a keyed run
    into such a table committed its MERGE, then failed its count check (2 written for 1 row)
    with exit 1, and every rerun merged again. One aggregate of the key columns, run only for
    tables whose first commit is kept and records no key (one whose log retention removed it is
    not judged). Keys holding a null are left out: a MERGE matches none of them.
    """
    from pyspark.sql import functions as F

    from lakejobs.transforms.validation import quote_name

    columns = [quote_name(key) for key in keys]
    table_df = spark.read.format("delta").load(path).dropna(subset=list(keys))
    repeated = table_df.groupBy(*columns).count().filter(F.col("count") > 1)
    found = repeated.agg(F.count(F.lit(1)).alias("keys"), F.min(F.struct(*columns)).alias("example")).first()
    if found["keys"]:
        example = ", ".join(f"{key}={value}" for key, value in zip(keys, found["example"]))
        raise UsageError(
            f"--output_path {path} is a Delta table written without a key, and it holds {found['keys']} key(s) "
            f"more than once (e.g. {example}): a MERGE on {','.join(keys)} updates every copy and keeps them all; "
            "remove the repeats from the table first, or write to a new output (or delete the table to rebuild it)"
        )


def refuse_keyless_write_into_a_merged_table(spark: "SparkSession", path: str) -> None:
    """Raise ``UsageError`` when a run without a key would write into a Delta table kept by one.

    A table does not remember its key: a rerun that forgot ``--primary_key`` replaced a merged
    table whole with its batch (or appended beside the rows it should have updated). Its latest
    ``KEY_HISTORY_COMMITS`` commits tell: a MERGE, or the first commit of a keyed run
    (``delta.KEYED_BY`` in its message). A longer history is not read (one request per commit).
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from lakejobs.io.delta import KEYED_BY

    if not holds_delta_commit(spark, path):
        return
    history = DeltaTable.forPath(spark, path).history(KEY_HISTORY_COMMITS)
    keyed = (F.col("operation") == "MERGE") | F.coalesce(F.col("userMetadata").startswith(KEYED_BY), F.lit(False))
    if recorded_key(spark, path) is not None or history.filter(keyed).limit(1).count():
        raise UsageError(
            f"--output_path {path} is a Delta table kept by a key (merged, or created by a keyed run), and this "
            "run has none: give its --primary_key, or delete the table to replace it whole"
        )
