"""What makes a folder a table (``shows_a_table``) and a file's format by its name (``_FILE_FORMAT``)."""

import pytest

from lakejobs.io.table_folder import _FILE_FORMAT, shows_a_table


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("_delta_log", True),
        ("_SUCCESS", True),
        ("order_year=2013", True),
        ("part-00000-6e1a.c000.snappy.parquet", True),
        ("part-r-00000", True),
        ("run-1700000000000-part-r-00000", True),
        # A home folder's documents, a download and bookkeeping are no table's (until session 48's review,
        # part-1.pdf made /home/u a table, and every output below it was refused).
        ("part-1.pdf", False),
        ("part-2 notes.txt", False),
        ("sample.parquet", False),
        ("_lakejobs", False),
        ("_x=y", False),
        ("processedData", False),
    ],
)
def test_the_entries_that_make_a_folder_a_table(name, table):
    assert shows_a_table(name) is table


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("part-00000-6e1a.c000.snappy.parquet", "parquet"),
        ("orders.csv.parquet", "parquet"),  # the last extension tells (csv until session 48's review)
        ("part-00000.c000.json.gz", "json"),
        ("orders-00000.csv", "csv"),
        ("000000_0", None),
    ],
)
def test_a_files_format_is_its_last_extension_before_a_compression_one(name, found):
    match = _FILE_FORMAT.search(name)
    assert (match.group(1) if match else None) == found
