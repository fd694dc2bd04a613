"""Refuse an input folder holding data Spark would skip without a word.

Spark and Hadoop read a folder without the files whose name, or a folder's name on the way to
them, starts with ``_`` or ``.``: writers' markers and checksums (``_SUCCESS``, ``.crc``).
A data file named that way (``_late.csv``, ``.orders-fix.csv``, a ``_backfill/`` folder) would
be neither converted nor quarantined, and the run would report the rows it read as if they were
all. So an input may hold hidden entries only where they are empty or are what writers and
operating systems leave (``table_folder.MARKER``); any other stops the run before anything is
read, naming the files.
"""

from typing import TYPE_CHECKING, List, Tuple

from lakejobs import fs
from lakejobs.errors import UsageError
from lakejobs.io.table_folder import MARKER

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession


def input_data_files(spark: "SparkSession", path: str) -> List[fs.FileInfo]:
    """The data files below ``path`` (``fs.list_data_files``), after ``refuse_skipped_data``."""
    data, hidden = fs.list_files(spark, path)
    root = fs.qualified(spark, path)
    refuse_skipped_data(path, [(info.path[len(root) :].lstrip("/"), info.size) for info in hidden])
    return data


def refuse_skipped_data(path: str, hidden: List[Tuple[str, int]]) -> None:
    """Raise ``UsageError`` when a hidden file holds bytes and is no marker.

    Parameters
    ----------
    path : str
        The input, as the user gave it.
    hidden : list of (str, int)
        Each hidden file's path below ``path`` and its size in bytes (``fs.list_files``).
    """
    skipped = [name for name, size in hidden if size > 0 and not _is_marker(name)]
    if not skipped:
        return
    shown = ", ".join(skipped[:3]) + (f" and {len(skipped) - 3} more" if len(skipped) > 3 else "")
    raise UsageError(
        f"{path} holds {len(skipped)} file(s) that Spark skips (a name starting with _ or .): {shown}; "
        "rename them, or move them out of the input"
    )


def _is_marker(relative: str) -> bool:
    """Tell whether a hidden part of ``relative`` is a writer's or an operating system's marker."""
    return any(MARKER.fullmatch(part) for part in relative.split("/") if part.startswith(("_", ".")))
