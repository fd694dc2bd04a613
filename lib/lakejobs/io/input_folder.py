"""Refuse an input holding a data file Spark would skip without a word.

Spark leaves out of a read every file whose name, or a folder's name on the way to it, starts
with ``_`` or ``.`` (``fs.spark_skips``): writers' markers and checksums (``_SUCCESS``,
``.crc``), and folders kept out of reads on purpose (``_archive/``, ``.git/``,
``_spark_metadata/``, ``__MACOSX/``). A data *file* named that way in a folder that is read
(``_late.csv``, ``.orders-fix.csv``), or given as the input itself, would be neither converted
nor quarantined, and the run would report the rows it read as if they were all. So such a file
stops the run before anything is read, naming it, unless it is empty or is what writers and
operating systems leave (``SKIPPED_ON_PURPOSE``). Files inside skipped folders are left to the
folder's convention; since session 49 a warning names the folders, other than tools' own
(``TOOLS_FOLDERS``), whose files were not read (``_archive/``, ``_tmp/``): until then nothing
said so, and a run SUCCEEDED with the rows of ``_tmp/x.csv`` in neither table nor quarantine.
"""

import collections
import logging
import re
from typing import TYPE_CHECKING, List, Tuple

from lakejobs import fs
from lakejobs.errors import UsageError, listed
from lakejobs.io.table_folder import MARKER

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

#: Skipped file names that hold no data to convert: table markers and checksums (``MARKER``),
#: macOS's AppleDouble ``._x.csv``, files still being written (Hadoop's ``._COPYING_``,
#: Flink's ``.part-*.inprogress.*``) and placeholders.
SKIPPED_ON_PURPOSE = re.compile(rf"{MARKER.pattern}|\._.*|.*\._COPYING_|\..*\.inprogress.*|\.gitkeep|\.keep")


LOG = logging.getLogger(__name__)
#: Folders tools keep out of reads (Spark's, Hadoop's, Hive's, notebooks', macOS's, git's): not warned about.
TOOLS_FOLDERS = re.compile(
    r"(?i)_temporary|_spark_metadata|_delta_log|_staging|\.spark-staging-.*|\.hive-staging.*|__magic.*|__MACOSX"
    r"|\.ipynb_checkpoints|\.git|__pycache__|\.hoodie|_impala_insert_staging"
)


def input_data_files(spark: "SparkSession", path: str) -> List[fs.FileInfo]:
    """The data files below ``path`` (``fs.list_data_files``), after ``refuse_skipped_data``."""
    data, skipped = fs.list_files(spark, path)
    root = fs.qualified(spark, path)
    refuse_object_and_prefix(spark, path, root, data + skipped)
    sized = [(info.path[len(root) :].lstrip("/"), info.size) for info in skipped]
    refuse_skipped_data(path, sized)
    warn_skipped_folders(path, sized)
    relatives = [info.path[len(root) :].lstrip("/") or info.path for info in data]
    refuse_archives(path, relatives)
    refuse_codec_suffix_case(path, relatives)
    return data


def refuse_object_and_prefix(spark: "SparkSession", path: str, root: str, listed: List[fs.FileInfo]) -> None:
    """Raise ``UsageError`` when ``path`` names an object and also a prefix of objects (S3's keys).

    An object store may hold ``raw/orders`` and ``raw/orders/part-1.csv`` at once. Spark then
    reads the prefix's files and not the object: its rows were in neither the table nor the
    quarantine, and the run SUCCEEDED (until session 48). A file system holds one or the other.
    """
    below = [info for info in listed if info.path != root]
    if fs.is_local(path) or not below or not fs.is_file(spark, path):
        return
    raise UsageError(
        f"{path} is both an object and a prefix of {len(below)} object(s) (e.g. {below[0].path}): Spark would "
        "read the prefix's objects and not the object itself; rename the object, or move it below the prefix"
    )


#: Archives Spark's text readers cannot open: it reads their bytes as text (a ``.zip`` of a CSV
#: file was reported as a header of one column). Spark decompresses ``.gz``, ``.bz2``, ``.deflate``
#: and ``.zst`` files, one file each; a tar inside ``.tgz`` is not one file. Hadoop's ``.lz4`` and
#: ``.snappy`` codecs read only Hadoop's own block layout, which no ``lz4`` or ``snappy`` tool
#: writes: a file from the ``lz4`` tool was read as empty, its rows in neither the table nor the
#: quarantine, and the run SUCCEEDED (until session 43).
ARCHIVE = re.compile(r"(?i).*\.(zip|7z|rar|tar|tgz|tar\.gz|tar\.bz2|xz|z|lz4|snappy)")


def refuse_archives(path: str, relatives: List[str]) -> None:
    """Raise ``UsageError`` when an input file is an archive Spark would read as text."""
    archives = [relative for relative in relatives if ARCHIVE.fullmatch(relative.rsplit("/", 1)[-1])]
    if archives:
        shown = listed(archives)
        raise UsageError(
            f"{path} holds {len(archives)} archive(s) Spark cannot open: {shown}; extract the files, or "
            "compress them with gzip or bzip2 (Spark reads .gz, .bz2, .deflate and .zst files, one file each; "
            "its .lz4 and .snappy codecs read only Hadoop's own block layout, as empty otherwise)"
        )


#: The suffixes Hadoop picks a decompressor by, as it matches them: case and all.
CODEC_SUFFIXES = ("gz", "bz2", "deflate", "zst")


def refuse_codec_suffix_case(path: str, relatives: List[str]) -> None:
    """Raise ``UsageError`` for a file named like a compressed one but not in Hadoop's case.

    Hadoop matches ``.gz`` exactly, so a ``data.csv.GZ`` was read as text: its compressed bytes
    became one or two ``malformed_record`` rows of junk and its lines were in neither the table
    nor the quarantine (until session 42).
    """
    odd = [
        relative
        for relative in relatives
        if "." in relative.rsplit("/", 1)[-1]
        and relative.rsplit(".", 1)[-1].lower() in CODEC_SUFFIXES
        and relative.rsplit(".", 1)[-1] not in CODEC_SUFFIXES
    ]
    if odd:
        shown = listed(odd)
        raise UsageError(
            f"{path} holds {len(odd)} file(s) whose compression suffix is not in lower case: {shown}; Spark "
            "would read them as text, not decompress them: rename them (.gz, .bz2, .deflate, .zst)"
        )


def refuse_skipped_data(path: str, skipped: List[Tuple[str, int]]) -> None:
    """Raise ``UsageError`` when a file Spark skips looks like data the user meant to convert.

    Parameters
    ----------
    path : str
        The input, as the user gave it.
    skipped : list of (str, int)
        Each skipped file's path below ``path`` (``""`` for ``path`` itself, a file) and its
        size in bytes (``fs.list_files``).
    """
    if any(relative == "" and size > 0 for relative, size in skipped):
        raise UsageError(
            f"{path}: Spark does not read a file whose name starts with _ or . (it would read no rows); rename it"
        )
    refused = [relative for relative, size in skipped if size > 0 and _looks_like_data(relative)]
    if not refused:
        return
    shown = listed(refused)
    raise UsageError(
        f"{path} holds {len(refused)} file(s) that Spark skips (a name starting with _ or .): {shown}; "
        "rename them, or move them out of the input"
    )


def _looks_like_data(relative: str) -> bool:
    """True for a skipped file in read folders whose own name is not skipped on purpose."""
    *folders, name = relative.split("/")
    return not any(fs.spark_skips(folder) for folder in folders if folder) and not SKIPPED_ON_PURPOSE.fullmatch(name)


def warn_skipped_folders(path: str, skipped: List[Tuple[str, int]]) -> None:
    """Log a warning naming the skipped folders below ``path`` whose files (with bytes) Spark does not read.

    ``skipped`` as for ``refuse_skipped_data``; folders of ``TOOLS_FOLDERS`` are not named.
    """
    unread = collections.Counter()
    for relative, size in skipped:
        *folders, _name = relative.split("/")
        first = next((depth for depth, folder in enumerate(folders) if fs.spark_skips(folder)), None)
        if size > 0 and first is not None and not TOOLS_FOLDERS.fullmatch(folders[first]):
            unread["/".join(folders[: first + 1]) + "/"] += 1
    if unread:
        shown = listed(f"{folder} ({count})" for folder, count in sorted(unread.items()))
        LOG.warning(
            "%s: %d file(s) in folders Spark skips (a name starting with _ or .) are not read: %s",
            path,
            sum(unread.values()),
            shown,
        )
