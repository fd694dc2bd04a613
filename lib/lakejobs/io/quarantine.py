"""Write a conversion's quarantine one folder per source file, so no run loses another's bad rows.

A run replaces the quarantine folders of the files it read and leaves every other folder, just
as its output keeps the partitions (or, with a key, the rows) of files it did not read again. A
quarantine replaced whole would delete the bad rows of an earlier run whose good rows are still
in the output. Layout: ``<quarantine_path>/source=<file name>-<12 hex>/part-*.json``, where the
hex digits are the start of the SHA-256 of the file's URL (``source_file`` in every record), so
two files with one name in different folders stay apart.
"""

import hashlib
import logging
import re
from typing import TYPE_CHECKING, Iterable

from pyspark.sql import functions as F

from lakejobs import fs
from lakejobs.io.writer import remove_partitions_not_rewritten, write_table
from lakejobs.result import OutputInfo

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

LOG = logging.getLogger(__name__)

#: The partition column of the quarantine: one value per source file.
SOURCE = "source"
#: Where a quarantine written before this layout keeps its files (moved, never deleted).
EARLIER_LAYOUT = f"{SOURCE}=earlier-layout"
_NAME_CHARACTERS = "A-Za-z0-9._-"
_NAME_LENGTH = 40
_DIGEST_LENGTH = 12


def source_value(file_url: str) -> str:
    """The ``source`` folder value of one file, as ``with_source`` computes it in Spark.

    Parameters
    ----------
    file_url : str
        The file as Spark names it (``input_file_name()``, ``DataFrame.inputFiles()``).
    """
    name = re.sub(f"[^{_NAME_CHARACTERS}]", "_", file_url.rsplit("/", 1)[-1])[:_NAME_LENGTH]
    return f"{name}-{hashlib.sha256(file_url.encode('utf-8')).hexdigest()[:_DIGEST_LENGTH]}"


def with_source(df: "DataFrame") -> "DataFrame":
    """Add ``source``, the folder value of each record's ``source_file`` (see ``source_value``)."""
    url = F.col("source_file")
    name = F.regexp_replace(F.regexp_extract(url, r"([^/]+)$", 1), f"[^{_NAME_CHARACTERS}]", "_")
    digest = F.substring(F.sha2(url, 256), 1, _DIGEST_LENGTH)
    return df.withColumn(SOURCE, F.concat(F.substring(name, 1, _NAME_LENGTH), F.lit("-"), digest))


def write_quarantine(
    quarantine_df: "DataFrame", path: str, source_files: Iterable[str], rows: int, whole: bool = False
) -> OutputInfo:
    """Write the bad rows of a run that read ``source_files``, one folder per source file.

    Parameters
    ----------
    quarantine_df : DataFrame
        Quarantine records (``source_file`` among the columns).
    path : str
        The quarantine's root folder.
    source_files : iterable of str
        Every file the run read, as Spark names them: their folders are replaced, including
        those of files that have no bad rows any more, and those of the same files read under
        another S3 scheme (``s3a://`` from a laptop, ``s3://`` on Glue or EMR).
    rows : int
        The number of records (known from the run's counts): with none, nothing is written.
    whole : bool
        Replace the whole quarantine (the output was replaced whole too).

    Returns
    -------
    OutputInfo
        What this run wrote.
    """
    spark = quarantine_df.sparkSession
    move_earlier_layout(spark, path)
    replaced = {f"{SOURCE}={source_value(url)}" for url in fs.every_spelling(source_files)}
    replace = "table" if whole else "partitions"
    if rows:
        keyed_df = quarantine_df.transform(with_source)
        return write_table(
            keyed_df, path, "quarantine", "json", [SOURCE], "none", replace=replace, also_replace=sorted(replaced)
        )
    stale = [info for info in fs.list_data_files(spark, path) if whole or _folder(info.path) in replaced]
    remove_partitions_not_rewritten(spark, path, 1, stale)
    return OutputInfo("quarantine", path, "json", rows=0, files=0, bytes=0, partition_by=[SOURCE])


def move_earlier_layout(spark, path: str) -> int:
    """Move files not in a ``source=`` folder (a quarantine written before this layout) aside.

    They go to ``source=earlier-layout/`` (a file in a folder, such as an incremental run's
    ``batch=<id>/``, keeps that folder in its name), so the quarantine stays one readable
    table and keeps them, until a run replaces the whole quarantine (``whole``, with its
    output). Returns the number of files moved.
    """
    root = fs.qualified(spark, path)
    moved = 0
    for info in fs.list_data_files(spark, root):
        relative = info.path[len(root) :].lstrip("/")
        if relative.startswith(f"{SOURCE}="):
            continue
        fs.rename(spark, info.path, f"{root}/{EARLIER_LAYOUT}/{relative.replace('/', '_')}")
        moved += 1
    if moved:
        LOG.warning("moved %d quarantine file(s) of an earlier layout to %s/%s", moved, root, EARLIER_LAYOUT)
    return moved


def _folder(file_path: str) -> str:
    """The folder (``source=...``) holding a file."""
    return file_path.rsplit("/", 2)[-2]
