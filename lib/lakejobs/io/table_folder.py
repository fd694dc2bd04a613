"""Refuse to write a table into a folder that holds more than a table.

A run replaces what its output folder holds: an unpartitioned Parquet table whole (every entry
but ``_staging``), a rebuilt partitioned table every partition it no longer has. Pointed by
mistake at a folder holding other things (the zone above the table, ``processedData/``
instead of ``processedData/customers``; a folder of documents; a Delta table given to a
Parquet run), a run would delete them. So before any write, every output folder that exists
must hold only what a table holds (``is_table_entry``): data files as Spark, Glue, Hive and
Athena name them, ``column=value`` partition folders, and the markers, logs and checksums of
Spark, Hadoop's committers and Delta. A Delta table is left to Delta, whose writes never
delete files its log does not name. One listing of the folder's top level, no recursion.
"""

import re
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Sequence, Tuple
from urllib.parse import unquote

from lakejobs import fs
from lakejobs.errors import UsageError, listed

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

DELTA_LOG = "_delta_log"
#: What Spark's file committers leave in a table's folder when a write ends.
SUCCESS_MARKER = "_SUCCESS"


def holds_delta_commit(spark: "SparkSession", path: str) -> bool:
    """Tell whether ``path`` holds a Delta table: a ``_delta_log`` with a commit in it.

    Delta makes ``_delta_log/`` before its first commit, so a first write that was stopped (Ctrl-C,
    a killed driver) left a log without one, and every rerun took it for a table (until session
    42: ``holds a table with other columns``, ``DELTA_TABLE_NOT_FOUND``). A table that ever
    committed holds its version 0, or a checkpoint once log cleanup has removed that.
    """
    log = f"{path.rstrip('/')}/{DELTA_LOG}"
    if fs.exists(spark, f"{log}/{0:020d}.json") or fs.exists(spark, f"{log}/_last_checkpoint"):
        return True
    if not fs.exists(spark, log):
        return False
    # A log cleaned of its first commits, whose _last_checkpoint (a hint, by Delta's protocol)
    # is missing, or one a first write left without a commit: the log's own files tell.
    names = (info.path.rsplit("/", 1)[-1] for info in fs.list_data_files(spark, log))
    return any(is_commit_entry(name) for name in names)


def is_commit_entry(name: str) -> bool:
    """Tell whether a file of a ``_delta_log/`` (its name alone) shows that the table committed."""
    return name == "_last_checkpoint" or DELTA_LOG_ENTRY.fullmatch(name) is not None


#: A Delta commit or checkpoint file of a ``_delta_log``.
DELTA_LOG_ENTRY = re.compile(r"\d{20}\.(json|checkpoint(\.\d+\.\d+)?(\.[\w-]+)?\.parquet)")


#: Data files: Spark's and Delta's ``part-*``, Glue's ``run-*-part-r-*``, Delta's deletion
#: vectors, Hive's ``000000_0`` (``_copy_1``), Athena's ``20240101_093000_00012_abcde_<uuid>``,
#: and any file of a columnar or row format by its extension.
DATA_FILE = re.compile(
    r"(part-|run-|deletion_vector_).*|\d+_\d+(_copy_\d+)?|\d{8}_\d{6}_\d{5}_\w{5}_.*|.*\.(parquet|orc|avro|json)(\.\w+)?"
)
#: Hidden entries a table's writers make: Spark's marker and staging, Hadoop's committers,
#: Delta's change data (its log counts only in a Delta run, ``foreign_entries``), checksums,
#: EMRFS folder markers, macOS's folder metadata.
MARKER = re.compile(
    r"_SUCCESS|_staging|_temporary|__magic.*|_committed_.*|_started_.*|_change_data"
    r"|\..*\.crc|\.spark-staging-.*|\.DS_Store|.*_\$folder\$"
)


def is_table_entry(name: str, folder: bool = True) -> bool:
    """Tell whether an entry ``name`` (a ``folder`` or a file) below a table's folder is something a table holds."""
    return bool(DATA_FILE.fullmatch(name) or MARKER.fullmatch(name)) or (folder and _is_partition(name))


def foreign_entries(spark: "SparkSession", path: str, output_format: str = "parquet") -> List[str]:
    """The names directly below ``path`` that no table of ``output_format`` holds (sorted).

    Empty when ``path`` is not a folder (missing; a file there fails the write itself: a
    folder cannot be made below a file, locally or on S3A) and for a Delta table written as
    Delta. Written as anything else, a Delta table's ``_delta_log`` is foreign.
    """
    if not fs.is_folder(spark, path):
        return []
    entries = _child_entries(spark, path)
    if any(name == DELTA_LOG for name, _folder in entries) and output_format == "delta":
        return []
    return sorted(name for name, folder in entries if not is_table_entry(name, folder))


def refuse_foreign_folders(spark: "SparkSession", outputs: Dict[str, str], output_format: str = "parquet") -> None:
    """Raise ``UsageError`` when an output folder holds something no table holds.

    Parameters
    ----------
    spark : SparkSession
    outputs : dict of str to str
        The folders a run writes, keyed by the option that named them (``--output_path``).
    output_format : str
        How the run writes them: only a ``delta`` run may write into a Delta table.
    """
    for option, path in outputs.items():
        foreign = foreign_entries(spark, path, output_format)
        if DELTA_LOG in foreign:
            raise UsageError(
                f"{option} {path} is a Delta table: write it with --format delta "
                f"(a {output_format} run would replace it)"
            )
        if foreign:
            shown = listed(foreign)
            raise UsageError(
                f"{option} {path} holds {shown}, which a table's folder does not: the run would replace them; "
                "give the table's own folder (e.g. a new sub-folder), or empty it first"
            )
        _refuse_other_format(spark, option, path, output_format)
        refuse_inside_a_table(spark, option, path)


class InsideATableError(UsageError):
    """A folder the run would write lies inside another table (``table``): no report is left in it either."""

    def __init__(self, message: str, table: str) -> None:
        super().__init__(message)
        self.table = table

    def leaves_report_at(self, report_root: Optional[str]) -> bool:
        """Only outside the table: a report folder inside it would be read as part of it."""
        return not report_root or not fs.contains(self.table, report_root)


def refuse_inside_a_table(spark: "SparkSession", option: str, path: str) -> None:
    """Raise ``UsageError`` when a folder above ``path`` is a table (``shows_a_table`` of an entry in it).

    Until session 47 a run into ``processedData/orders/customers`` succeeded, and the orders
    table could then be neither read (Spark: ``Conflicting directory structures detected``)
    nor written (its folder held foreign entries). Each folder above is listed once; one that
    cannot be listed is passed over. Loose Parquet files do not make a folder a table (a
    download folder holding ``sample.parquet``). The refused run leaves no report inside that
    table (the default place, ``<output_path>_lakejobs/runs``, is). A path below a folder
    readers skip (``_staging``, ``.hidden``: ``fs.spark_skips``) harms no table and is passed.
    """
    for ancestor in _ancestors(path):
        below = path.rstrip("/")[len(ancestor) :].strip("/").split("/")
        if any(fs.spark_skips(name) for name in below):
            return
        try:
            entries = _child_entries(spark, ancestor)
        except Exception:  # noqa: BLE001 - a folder the run may not list (permissions) is not judged
            continue
        signs = [name for name, folder in entries if shows_a_table(name, folder)]
        if _in_a_dated_snapshot(spark, ancestor, below, signs):
            signs = [name for name in signs if not _is_partition(name)]
        found = sorted(signs, key=lambda name: (name != DELTA_LOG, name != SUCCESS_MARKER, name))
        if found:
            raise InsideATableError(
                f"{option} {path} lies inside the table {ancestor} (it holds {found[0]}): its folders would be read "
                "as part of that table, which Spark then refuses to read; write outside it",
                ancestor,
            )


def _in_a_dated_snapshot(spark: "SparkSession", ancestor: str, below: List[str], signs: List[str]) -> bool:
    """Tell whether a path ``below`` ``ancestor`` lies in a dated snapshot's folder, not in a table's partition.

    ``daily/dt=2024-01-02/orders`` beside ``daily/dt=2024-01-01/orders``: the path's first folder
    is ``column=value``, a folder (a table) is below it, and the other ``column=value`` folders
    hold folders, not a table's files or partitions (one listing, of one of them). A path that is
    itself a partition (``orders/order_year=2015``) or below one of a table lies in that table.
    """
    partitions = [name for name in signs if _is_partition(name)]
    if not partitions or not _is_partition(below[0]) or all(_is_partition(name) for name in below):
        return False
    sibling = next((name for name in partitions if name != below[0]), partitions[0])
    try:
        held = _child_entries(spark, f"{ancestor}/{sibling}")
    except Exception:  # noqa: BLE001 - a folder the run may not list is no table's partition it can tell
        return True
    return not any(shows_a_table(name, folder) for name, folder in held)


#: Data files by their writers' names (Spark's and Delta's ``part-00000-<uuid>``, Hadoop's
#: ``part-r-00000``, Glue's ``run-<time>-part-r-00000``); a loose ``sample.parquet`` or
#: ``part-1.pdf`` is not one.
WRITERS_DATA_FILE = re.compile(r"(run-\d+-)?part-([rm]-)?\d{5}.*")


def shows_a_table(name: str, folder: bool = True) -> bool:
    """Tell whether an entry named ``name`` (a ``folder`` or a file) makes the folder holding it a table.

    A Delta log, Spark's ``_SUCCESS``, a writer's data file, or a ``column=value`` partition
    folder: lakejobs' own partitioned Parquet tables hold no ``_SUCCESS`` (their files are
    staged, then moved in), so until session 48 a pipeline whose ``--lake`` lay inside one
    SUCCEEDED and left the table unreadable. Partition folders do not count in a layout of
    dated snapshots (``_in_a_dated_snapshot``), and a file is no partition: until session 49 a
    file named ``notes=v1.txt`` made its folder a table, and every write below it was refused.
    """
    partition = folder and _is_partition(name)
    return name in (DELTA_LOG, SUCCESS_MARKER) or partition or WRITERS_DATA_FILE.fullmatch(name) is not None


def _is_partition(name: str) -> bool:
    """Tell whether ``name`` reads as a ``column=value`` partition folder (not one readers skip)."""
    return "=" in name and not name.startswith(("_", "."))


def _child_entries(spark: "SparkSession", path: str) -> List[Tuple[str, bool]]:
    """The entries directly below ``path``: each name, and whether it is a folder (one listing)."""
    return [(child.rstrip("/").rsplit("/", 1)[-1], folder) for child, folder in fs.list_children_kinds(spark, path)]


def _ancestors(path: str) -> List[str]:
    """The folders above ``path``, nearest first, up to (not including) the root or the bucket's root."""
    folders = []
    current = path.rstrip("/")
    while True:
        above = fs.parent(current)
        if above in ("", ".") or above.endswith(":") or above.endswith(":/") or re.fullmatch(r"\w+://[^/]*", above):
            return folders
        folders.append(above)
        current = above


#: A data file's format, by its name's last extensions (``.c000.json``, ``.snappy.parquet``, ``.json.gz``).
_FILE_FORMAT = re.compile(r"\.(parquet|json|orc|avro|csv)(\.(gz|bz2|deflate|zst|zstd|lz4|snappy|br|xz))?$")


def _refuse_other_format(spark: "SparkSession", option: str, path: str, output_format: str) -> None:
    """Raise ``UsageError`` when the table at ``path`` holds data files of another format.

    A quarantine path naming a Parquet table (or an output naming a quarantine) passes the
    folder check, both being tables: the run then moved the table's files aside as an earlier
    quarantine layout, or replaced them. The first ``LAYOUT_CHECKED_FILES`` files listed tell.
    A Delta run refuses data files without a ``_delta_log`` (a Parquet table): Delta would start
    its log beside them, and the folder read as Parquet would then hold both runs' rows. (A
    Delta write makes its ``_delta_log`` before its first data file, so a first write that
    stopped part-way is still a Delta table here.)
    """
    if output_format == "delta" and fs.exists(spark, f"{path.rstrip('/')}/{DELTA_LOG}"):
        return  # a Delta table (foreign_entries let it through): Parquet files by definition
    for found, example in _files_by_format(spark, path, LAYOUT_CHECKED_FILES):
        if output_format == "delta":
            raise UsageError(
                f"{option} {path} holds {found} files ({example}) and no {DELTA_LOG}: it is not a Delta "
                f"table, and a delta run would add one beside its files; write it with --format {found}, "
                "or give this output its own folder"
            )
        if found != output_format:
            raise UsageError(
                f"{option} {path} holds {found} files ({example}), not {output_format}: it is another "
                "table, which the run would replace; give this output its own folder"
            )


def _files_by_format(spark: "SparkSession", path: str, limit: int) -> Iterator[Tuple[str, str]]:
    """(format, path below ``path``) of the first ``limit`` files of the table at ``path`` named by a format."""
    root = fs.qualified(spark, path).rstrip("/")
    for info in table_files(spark, path, limit=limit):
        found = _FILE_FORMAT.search(info.path.rsplit("/", 1)[-1])
        if found:
            yield found.group(1), info.path[len(root) :].lstrip("/")


#: How many of a table's files ``refuse_other_layout`` looks at.
LAYOUT_CHECKED_FILES = 1000


def refuse_other_layout(spark: "SparkSession", path: str, partition_by: Sequence[str]) -> None:
    """Raise ``UsageError`` when the Parquet table at ``path`` is partitioned otherwise than ``partition_by``.

    A partitioned run replaces (or adds to) only the partitions it writes: the old layout's
    files would stay beside the new folders (``order_year=2014/part-0`` next to
    ``order_year=2014/order_month=5/``), a table Spark refuses to read and Athena reads twice.
    A layout change leaves every old file in the old layout, so the first ``LAYOUT_CHECKED_FILES``
    the listing returns tell (one listing request on S3, not the whole table's).
    Spark escapes characters of a column's name in its folders (``a:b`` is ``a%3Ab``).
    """
    wanted = list(partition_by)
    root = fs.qualified(spark, path).rstrip("/")
    for info in table_files(spark, path):
        folders = info.path[len(root) :].strip("/").split("/")[:-1]
        found = [unquote(folder.split("=", 1)[0]) for folder in folders]
        if found != wanted:
            layout = ", ".join(found) or "nothing"
            raise UsageError(
                f"{path} is partitioned by {layout} ({info.path[len(root) :].lstrip('/')}), not by "
                f"{', '.join(wanted) or 'nothing'}: write to a new output, or delete it and convert every input again"
            )


#: How many of a table's files ``refuse_files_not_parquet`` looks at.
READ_CHECKED_FILES = 10


def refuse_files_not_parquet(spark: "SparkSession", path: str) -> None:
    """Raise ``UsageError`` when a table read as Parquet holds files named as another format.

    ``sales_mart --processed_path`` given the raw zone (CSV files) failed inside Spark, exit 1
    (until session 48: ``RuntimeException: ... is not a Parquet file. Expected magic number``).
    The first ``READ_CHECKED_FILES`` files listed tell; a file named without a format's
    extension (Hive's ``000000_0``) passes.
    """
    for found, example in _files_by_format(spark, path, READ_CHECKED_FILES):
        if found != "parquet":
            raise UsageError(
                f"{path} holds {found} files ({example}), not a Parquet table: "
                "give the folder of the tables the jobs wrote (e.g. the lake's processedData/)"
            )


def refuse_other_delta_layout(spark: "SparkSession", path: str, partition_by: Sequence[str]) -> None:
    """Raise ``UsageError`` when the Delta table at ``path`` is partitioned otherwise than ``partition_by``.

    For the writes that keep the table's rows (a MERGE, an append). Until session 47 a MERGE kept
    the table's partitioning and said the run's in its result (SUCCEEDED), and an append failed
    with Delta's own text (``Partition columns do not match``). The partition columns are read
    from the table's log.
    """
    from delta.tables import DeltaTable

    if not holds_delta_commit(spark, path):
        return
    found = list(DeltaTable.forPath(spark, path).detail().select("partitionColumns").first()[0] or [])
    if [name.lower() for name in found] != [name.lower() for name in partition_by]:
        fix = f"run with --partition_by {','.join(found)}" if found else "run without --partition_by"
        raise UsageError(
            f"{path} is a Delta table partitioned by {', '.join(found) or 'nothing'} (its log says so), not by "
            f"{', '.join(partition_by) or 'nothing'}: {fix}, or write to a new output (or delete the table to "
            "rebuild it)"
        )


def table_files(spark: "SparkSession", path: str, limit: int = LAYOUT_CHECKED_FILES) -> List[fs.FileInfo]:
    """The first ``limit`` data files listed below ``path``, markers left out.

    EMRFS writes a ``ticker=AAPL_$folder$`` object beside each folder, which S3A lists as a file.
    An empty list when ``path`` is not a folder: a file there fails the write itself
    (``foreign_entries``).
    """
    if not fs.is_folder(spark, path):
        return []
    files = fs.list_data_files(spark, path, limit=limit)
    return [info for info in files if not MARKER.fullmatch(info.path.rstrip("/").rsplit("/", 1)[-1])]
