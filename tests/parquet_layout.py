"""How Parquet files written by a test are encoded, read from their footers with pyarrow."""

from pathlib import Path
from typing import Iterable, Optional, Set

import pyarrow.parquet as pq


def columns_without_dictionary(folder: Path, names: Optional[Iterable[str]] = None) -> Set[str]:
    """Columns that have no dictionary page in some row group of some data file below ``folder``.

    ``names``, when given, are the files to read (relative to ``folder``) instead of them all.
    """
    plain = set()
    paths = [Path(folder) / name for name in names] if names is not None else Path(folder).rglob("*.parquet")
    for path in sorted(paths):
        metadata = pq.ParquetFile(path).metadata
        for group in range(metadata.num_row_groups):
            for index in range(metadata.num_columns):
                column = metadata.row_group(group).column(index)
                if not column.has_dictionary_page:
                    plain.add(column.path_in_schema)
    return plain


def columns_with_dictionary(folder: Path) -> Set[str]:
    """Columns that have a dictionary page in every row group of every data file below ``folder``.

    Empty when there is no data file (or no row group): a test expecting columns fails.
    """
    found = None
    for path in sorted(Path(folder).rglob("*.parquet")):
        metadata = pq.ParquetFile(path).metadata
        for group in range(metadata.num_row_groups):
            columns = [metadata.row_group(group).column(index) for index in range(metadata.num_columns)]
            present = {column.path_in_schema for column in columns if column.has_dictionary_page}
            found = present if found is None else found & present
    return found or set()
