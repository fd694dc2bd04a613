"""A local folder is listed with ``os``, and gives what Hadoop's own listing of it gives."""

import os

import pytest

from lakejobs import fs


def hadoop_listing(spark, path):
    """(data, skipped) from Hadoop's recursive listing, classified as ``fs.list_files`` does."""
    return fs._classify(fs.qualified(spark, path), fs._hadoop_listing(spark, path))


def names(infos, root):
    return [info.path[len(root) + 1 :] for info in infos]


@pytest.fixture
def folder(tmp_path):
    table = tmp_path / "table"
    files = {
        "part-0.parquet": "a",
        "_SUCCESS": "",
        ".hidden.parquet": "bb",
        ".part-0.parquet.crc": "ccc",  # Hadoop's checksum file: its listing hides it
        "day=2024-01-01/part-1 copy [1].parquet": "dddd",
        "day=2024-01-01/résumé{x}.parquet": "eeeee",
        "day=2024-01-01/_temporary/0/part-2.parquet": "ffffff",
        "_delta_log/00000000000000000000.json": "{}",
    }
    for name, text in files.items():
        (table / name).parent.mkdir(parents=True, exist_ok=True)
        (table / name).write_text(text)
    (table / "empty").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "linked.parquet").write_text("g")
    os.symlink(elsewhere, table / "day=2024-01-02")
    return table


def test_a_local_folder_lists_as_hadoop_lists_it(spark, folder):
    listed = fs.list_files(spark, str(folder))
    assert listed == hadoop_listing(spark, str(folder))
    root = f"file:{folder}"
    data, skipped = listed
    assert names(data, root) == [
        "day=2024-01-01/part-1 copy [1].parquet",
        "day=2024-01-01/résumé{x}.parquet",
        "day=2024-01-02/linked.parquet",
        "part-0.parquet",
    ]
    assert names(skipped, root) == [
        ".hidden.parquet",
        "_SUCCESS",
        "_delta_log/00000000000000000000.json",
        "day=2024-01-01/_temporary/0/part-2.parquet",
    ]
    assert [info.size for info in data] == [4, 5, 1, 1]
    assert data[-1].modified_ms == os.stat(folder / "part-0.parquet").st_mtime_ns // 1_000_000


def test_a_local_file_and_a_limit_list_as_hadoop_lists_them(spark, folder):
    one = str(folder / "day=2024-01-01" / "part-1 copy [1].parquet")
    assert fs.list_files(spark, one) == hadoop_listing(spark, one)
    assert [info.size for info in fs.list_files(spark, one)[0]] == [4]
    assert len(fs.list_data_files(spark, f"file://{folder}", limit=2)) == 2
    assert fs.list_files(spark, str(folder / "missing")) == ([], [])


@pytest.mark.parametrize(
    "path, local",
    [
        ("file:/tmp/trips{2}*?.csv", "/tmp/trips{2}*?.csv"),  # a URL parser took ?.csv for a query
        ("file:/tmp/a#1.csv", "/tmp/a#1.csv"),
        ("file:///tmp/x.csv", "/tmp/x.csv"),
        ("file://localhost/tmp/x.csv", "/tmp/x.csv"),
        ("/tmp/x.csv", "/tmp/x.csv"),
    ],
)
def test_a_local_path_keeps_every_character_of_a_file_name(path, local):
    assert fs.local_path(path) == local
