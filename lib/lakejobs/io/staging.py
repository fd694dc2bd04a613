"""Publish a Parquet table that was written to a staging folder, by moving its files.

The single-pass conversion writes the good rows while it measures them, before it knows
whether the batch passes its gate, so it writes them to ``<output>/_staging/run_id=<id>`` and
moves them into the output only once the gate has passed: the way Spark's own dynamic partition
overwrite publishes (``.spark-staging-*``). Readers (Spark, Hive, Athena) skip folders whose
names start with ``_``, so a staging folder left by a killed run is never read; the next run
removes it. Moving is a rename on local disks and HDFS
(cheap, no bytes copied) and a server-side copy per object on S3.
"""

import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Dict, List

from lakejobs import fs
from lakejobs.errors import LakejobsError, root_cause

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

LOG = logging.getLogger(__name__)
SUCCESS = "_SUCCESS"


def staging_root(output_path: str) -> str:
    """The folder holding every run's staging folder of ``output_path``."""
    return f"{output_path.rstrip('/')}/_staging"


def staging_path(output_path: str, run_id: str) -> str:
    """Where run ``run_id`` writes the rows it may publish to ``output_path``."""
    return f"{staging_root(output_path)}/run_id={run_id}"


def _files_per_folder(spark: "SparkSession", staging: str) -> Dict[str, List[str]]:
    """The staged data files grouped by their folder below ``staging`` ('' for the top)."""
    marker = "/" + staging.rstrip("/").rsplit("/", 1)[-1] + "/"
    folders: Dict[str, List[str]] = defaultdict(list)
    for info in fs.list_data_files(spark, staging):
        relative = info.path.split(marker, 1)[1]
        folder, _, _name = relative.rpartition("/")
        folders[folder].append(info.path)
    return folders


def commit_parquet(spark: "SparkSession", staging: str, output_path: str, partitioned: bool, append: bool) -> None:
    """Move a staged table into ``output_path`` and remove the staging folder.

    Parameters
    ----------
    spark : SparkSession
    staging : str
        A folder written by ``write_table`` (``staging_path``).
    output_path : str
    partitioned : bool
        Partitioned tables replace exactly the partitions staged (dynamic partition overwrite);
        an unpartitioned table is replaced whole.
    append : bool
        Add the staged files to the output and replace nothing (incremental runs).
    """
    output = output_path.rstrip("/")
    folders = sorted(_files_per_folder(spark, staging).items())
    moved = 0
    try:
        if not partitioned and not append:
            for path in fs.list_children(spark, output):
                if path.rstrip("/").rsplit("/", 1)[-1] != "_staging":
                    fs.delete(spark, path, recursive=True)
        for folder, files in folders:
            target = f"{output}/{folder}" if folder else output
            if append or not folder:
                for path in files:
                    fs.rename(spark, path, f"{target}/{path.rsplit('/', 1)[-1]}")
            else:
                fs.delete(spark, target, recursive=True)
                fs.rename(spark, f"{staging.rstrip('/')}/{folder}", target)
            moved += 1
    except Exception as error:
        unfinished = [folder or "(top)" for folder, _files in folders[moved:]]
        raise partly_committed(output, unfinished, append, root_cause(error)) from error
    fs.delete(spark, f"{output}/{SUCCESS}")
    if fs.exists(spark, f"{staging.rstrip('/')}/{SUCCESS}"):
        fs.rename(spark, f"{staging.rstrip('/')}/{SUCCESS}", f"{output}/{SUCCESS}")
    fs.delete(spark, staging_root(output_path), recursive=True)


def partly_committed(output: str, unfinished: List[str], append: bool, cause: str) -> LakejobsError:
    """The error of a commit that stopped part-way: which folders it left, and how to repair them.

    Moving is a rename per folder locally, a copy per object on S3; like Spark's own dynamic
    partition overwrite, a failure in between leaves the folders being replaced part-written.
    """
    shown = ", ".join(unfinished[:5]) + (f" and {len(unfinished) - 5} more" if len(unfinished) > 5 else "")
    repair = (
        "the next incremental run removes the files of this batch and converts it again"
        if append
        else "run the same input again to replace them whole"
    )
    return LakejobsError(f"moving the staged rows into {output} stopped part-way ({cause}), before {shown}: {repair}")
