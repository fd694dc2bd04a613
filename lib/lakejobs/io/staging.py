"""Publish a Parquet table that was written to a staging folder, by moving its files.

The single-pass conversion writes the good rows while it measures them, before it knows
whether the batch passes its gate, so it writes them to ``<output>/_staging/run_id=<id>`` and
moves them into the output only once the gate has passed: the way Spark's own dynamic partition
overwrite publishes (``.spark-staging-*``). Readers (Spark, Hive, Athena) skip folders whose
names start with ``_``, so a staging folder left by a killed run is never read; the next run
removes it. Moving is a rename on local disks and HDFS
(cheap, no bytes copied) and a server-side copy per object on S3.

A commit that replaces (a table, or partitions) first writes a journal into its staging folder
(``_commit.json``: the staged files by folder, the folders to remove). If it stops part-way
(a failed copy, a killed driver), the replaced folders may hold neither their old rows nor all
the new ones, and the staging folder holds the only copy of the rest; the next run into the
same output finishes that commit from the journal (``clear_staging``) before anything else,
instead of deleting the staging folder.
"""

import json
import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Dict, List, Sequence

from lakejobs import faults, fs
from lakejobs.errors import LakejobsError, listed, root_cause

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

LOG = logging.getLogger(__name__)
SUCCESS = "_SUCCESS"
JOURNAL = "_commit.json"


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


def staged_files(spark: "SparkSession", staging: str) -> List[str]:
    """The staged data files, as paths below the output they will be moved into (``k=v/part-...``)."""
    return sorted(
        f"{folder}/{path.rsplit('/', 1)[-1]}" if folder else path.rsplit("/", 1)[-1]
        for folder, paths in _files_per_folder(spark, staging).items()
        for path in paths
    )


def commit_parquet(
    spark: "SparkSession",
    staging: str,
    output_path: str,
    partitioned: bool,
    append: bool,
    remove: Sequence[str] = (),
) -> None:
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
        Add the staged files to the output and replace nothing (incremental runs; an
        interrupted append is undone by the job's state, so it keeps no journal).
    remove : sequence of str
        Partition folders of the output (below it) to remove once the staged ones are in.
    """
    output = output_path.rstrip("/")
    folders = sorted(_files_per_folder(spark, staging).items())
    if not append:
        journal = {"partitioned": partitioned, "remove": list(remove)}
        journal["files"] = {folder: [path.rsplit("/", 1)[-1] for path in files] for folder, files in folders}
        fs.write_text(spark, f"{staging.rstrip('/')}/{JOURNAL}", json.dumps(journal))
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
            if moved == 1:
                faults.point("during_write")  # tests: killed part-way through the moves
        for folder in remove:
            fs.delete(spark, f"{output}/{folder}", recursive=True)
    except Exception as error:
        unfinished = [folder or "(top)" for folder, _files in folders[moved:]] or list(remove)
        raise partly_committed(output, unfinished, append, root_cause(error)) from error
    _finish(spark, staging, output)


def _finish(spark: "SparkSession", staging: str, output: str) -> None:
    fs.delete(spark, f"{output}/{SUCCESS}")
    if fs.exists(spark, f"{staging.rstrip('/')}/{SUCCESS}"):
        fs.rename(spark, f"{staging.rstrip('/')}/{SUCCESS}", f"{output}/{SUCCESS}")
    fs.delete(spark, staging_root(output), recursive=True)


def holds_unfinished_commit(spark: "SparkSession", output_path: str) -> bool:
    """Tell whether a commit into ``output_path`` stopped part-way (its journal is left)."""
    runs = fs.list_children(spark, staging_root(output_path))
    return any(fs.exists(spark, f"{run.rstrip('/')}/{JOURNAL}") for run in runs)


#: The folder Spark's dynamic partition overwrite writes into before it moves partitions in.
SPARK_STAGING = ".spark-staging-"


def clear_staging(spark: "SparkSession", output_path: str) -> None:
    """Finish a commit into ``output_path`` that stopped part-way, then remove every staging folder.

    A staging folder without a journal was never being committed (a run stopped before its
    gate, or an append): its rows are not published, and it goes. So does a folder Spark's
    dynamic partition overwrite left (``SPARK_STAGING``, a whole copy of a write when the
    driver stopped before moving it in; readers skip it, so it only cost storage).
    """
    output = output_path.rstrip("/")
    for run in fs.list_children(spark, staging_root(output)):
        text = fs.read_text(spark, f"{run.rstrip('/')}/{JOURNAL}")
        if text is not None:
            LOG.warning("%s: finishing the commit of %s, which stopped part-way", output, run.rsplit("/", 1)[-1])
            _resume(spark, run.rstrip("/"), output, json.loads(text))
    fs.delete(spark, staging_root(output), recursive=True)
    remove_spark_staging(spark, output)


def remove_spark_staging(spark: "SparkSession", output_path: str) -> None:
    """Remove the folders a dynamic partition overwrite into ``output_path`` left (``SPARK_STAGING``)."""
    for left in fs.list_children(spark, output_path):
        if left.rstrip("/").rsplit("/", 1)[-1].startswith(SPARK_STAGING):
            LOG.warning("%s: removing %s, left by a partition overwrite that stopped part-way", output_path, left)
            fs.delete(spark, left, recursive=True)


def _resume(spark: "SparkSession", staging: str, output: str, journal: Dict) -> None:
    """Redo a journaled commit: in each staged folder keep only its new files, move the rest in.

    Spark names each file of a write uniquely, so a file of a replaced folder that the journal
    does not name is an old one; a staged file still in ``staging`` was not moved yet, unless
    its copy is in place too (S3 copies, then deletes).
    """
    for folder, names in sorted(journal["files"].items()):
        target = f"{output}/{folder}" if folder else output
        kept = set(names) | ({"_staging"} if not folder else set())
        for path in fs.list_children(spark, target):
            if path.rstrip("/").rsplit("/", 1)[-1] not in kept:
                fs.delete(spark, path, recursive=True)
        for name in names:
            source = f"{staging}/{folder}/{name}" if folder else f"{staging}/{name}"
            if not fs.exists(spark, source):
                continue
            if fs.exists(spark, f"{target}/{name}"):
                # On S3 a folder moves as a copy of each object, then their deletion: a copy is
                # whole or absent, so a file in both places is in place; its staged copy goes.
                fs.delete(spark, source)
            else:
                fs.rename(spark, source, f"{target}/{name}")
    if not journal["partitioned"] and not journal["files"]:  # an empty table replaced whole
        for path in fs.list_children(spark, output):
            if path.rstrip("/").rsplit("/", 1)[-1] != "_staging":
                fs.delete(spark, path, recursive=True)
    for folder in journal["remove"]:
        fs.delete(spark, f"{output}/{folder}", recursive=True)
    _finish(spark, staging, output)


def partly_committed(output: str, unfinished: List[str], append: bool, cause: str) -> LakejobsError:
    """The error of a commit that stopped part-way: which folders it left, and how to repair them.

    Moving is a rename per folder locally, a copy per object on S3; like Spark's own dynamic
    partition overwrite, a failure in between leaves the folders being replaced part-written.
    """
    shown = listed(unfinished, 5)
    repair = (
        "the next incremental run removes the files of this batch and converts it again"
        if append
        else "the next run into it finishes this commit first (its staged rows are kept until then)"
    )
    return LakejobsError(f"moving the staged rows into {output} stopped part-way ({cause}), before {shown}: {repair}")
