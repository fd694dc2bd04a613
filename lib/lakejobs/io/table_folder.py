"""Refuse to write a table into a folder that holds more than a table.

A run replaces what its output folder holds: an unpartitioned table whole, a rebuilt
partitioned table every partition it no longer has. Pointed by mistake at a folder holding
other things (the zone above the table, ``processedData/`` instead of
``processedData/customers``; a folder of documents), a run would delete them. So before any
write, every output folder that exists must hold only what a table written by Spark or Delta
holds: data files (``part-*``, Delta's ``deletion_vector_*``), partition folders
(``column=value``) and hidden entries (``_SUCCESS``, ``_delta_log``, ``_staging``, ``.crc``
files). One listing of the folder's top level, no recursion.
"""

from typing import TYPE_CHECKING, Dict, List

from lakejobs import fs
from lakejobs.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

#: How the names of a table's data files begin (Spark's writers and Delta's).
DATA_FILE_PREFIXES = ("part-", "deletion_vector_")
#: Names a table's readers skip (Spark, Hive, Athena): markers, logs, staging, checksums.
HIDDEN_PREFIXES = ("_", ".")


def is_table_entry(name: str) -> bool:
    """Tell whether ``name``, directly below a table's folder, is something a table holds."""
    return name.startswith(DATA_FILE_PREFIXES + HIDDEN_PREFIXES) or "=" in name


def foreign_entries(spark: "SparkSession", path: str) -> List[str]:
    """The names directly below ``path`` that no table holds (sorted; empty unless it is a folder)."""
    if not fs.is_folder(spark, path):  # missing; a file there fails the write itself
        return []
    names = (child.rstrip("/").rsplit("/", 1)[-1] for child in fs.list_children(spark, path))
    return sorted(name for name in names if not is_table_entry(name))


def refuse_foreign_folders(spark: "SparkSession", outputs: Dict[str, str]) -> None:
    """Raise ``UsageError`` when an output folder holds something no table holds.

    Parameters
    ----------
    spark : SparkSession
    outputs : dict of str to str
        The folders a run writes, keyed by the option that named them (``--output_path``).
    """
    for option, path in outputs.items():
        foreign = foreign_entries(spark, path)
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise UsageError(
                f"{option} {path} holds {shown}, which a table's folder does not: the run would replace them; "
                "give the table's own folder (e.g. a new sub-folder), or empty it first"
            )
