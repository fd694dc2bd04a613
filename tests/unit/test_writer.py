"""write_table: counts, files and the empty cases."""

import pytest
from chispa import assert_df_equality

from lakejobs.io.writer import write_table
from tests.parquet_layout import columns_with_dictionary, columns_without_dictionary


@pytest.mark.timeout(180)
def test_an_empty_partitioned_write_reports_zero_rows_and_files_instead_of_waiting_forever(spark, tmp_path):
    empty = spark.range(100).selectExpr("id", "id % 3 AS part").filter("id < 0")
    output = write_table(empty, str(tmp_path / "table"), "empty", partition_by=["part"])
    assert (output.rows, output.files, output.bytes) == (0, 0, 0)


def test_a_partitioned_write_counts_rows_and_writes_one_file_per_partition_per_core(spark, tmp_path):
    cores = spark.sparkContext.defaultParallelism
    df = spark.range(0, 90, 1, numPartitions=2 * cores).selectExpr("id", "id % 3 AS part")
    output = write_table(df, str(tmp_path / "table"), "numbers", partition_by=["part"])
    written = sorted(p.parent.name for p in (tmp_path / "table").rglob("*.parquet"))
    assert (output.rows, output.files) == (90, 3 * cores)
    assert written == sorted(["part=0", "part=1", "part=2"] * cores)


def test_a_partitioned_write_of_one_input_task_writes_one_file_per_partition(spark, tmp_path):
    df = spark.range(0, 90, 1, numPartitions=1).selectExpr("id", "id % 3 AS part")
    output = write_table(df, str(tmp_path / "table"), "numbers", partition_by=["part"])
    written = sorted(p.parent.name for p in (tmp_path / "table").rglob("*.parquet"))
    assert (output.rows, output.files, written) == (90, 3, ["part=0", "part=1", "part=2"])


#: Both columns repeat their values, so Parquet would give each a dictionary unless told not to
#: (a column of distinct values may fall back to PLAIN on its own).
REPEATING = ("id % 4 AS code", "CAST(id % 3 AS STRING) AS label")


def test_plain_columns_are_written_without_a_dictionary_and_read_back_unchanged(spark, tmp_path):
    df = spark.range(0, 60, 1, numPartitions=2).selectExpr(*REPEATING, "CAST(id % 2 AS INT) AS part")
    write_table(df, str(tmp_path / "table"), "numbers", partition_by=["part"], plain_columns=["code"])
    assert columns_without_dictionary(tmp_path / "table") == {"code"}
    assert_df_equality(spark.read.parquet(str(tmp_path / "table")), df, ignore_row_order=True, ignore_nullable=True)


def test_without_plain_columns_every_column_has_a_dictionary(spark, tmp_path):
    df = spark.range(0, 60, 1, numPartitions=2).selectExpr(*REPEATING)
    output = write_table(df, str(tmp_path / "table"), "numbers")
    files = list((tmp_path / "table").rglob("*.parquet"))
    assert (output.rows, output.files, len(files)) == (60, 2, 2)
    assert columns_with_dictionary(tmp_path / "table") == {"code", "label"}
    assert columns_without_dictionary(tmp_path / "table") == set()
    assert_df_equality(spark.read.parquet(str(tmp_path / "table")), df, ignore_row_order=True, ignore_nullable=True)


def test_a_failed_unpartitioned_overwrite_leaves_the_old_table_and_no_staging(spark, tmp_path):
    old = spark.range(0, 6, 1, numPartitions=2).selectExpr("id", "id * 10 AS value")
    write_table(old, str(tmp_path / "table"), "numbers")
    failing = spark.range(0, 6, 1, numPartitions=2).selectExpr(
        "id", "IF(id = 5, raise_error('simulated task failure'), id) AS value"
    )
    with pytest.raises(Exception, match="simulated task failure"):
        write_table(failing, str(tmp_path / "table"), "numbers")
    assert_df_equality(spark.read.parquet(str(tmp_path / "table")), old, ignore_row_order=True, ignore_nullable=True)
    assert sorted(p.name for p in (tmp_path / "table").iterdir() if not p.name.startswith(".")) == [
        "_SUCCESS",
        *sorted(p.name for p in (tmp_path / "table").glob("*.parquet")),
    ]


def test_an_unpartitioned_overwrite_replaces_the_table_and_reports_only_its_own_files(spark, tmp_path):
    write_table(spark.range(0, 9, 1, numPartitions=3).selectExpr("id"), str(tmp_path / "table"), "numbers")
    new = spark.range(100, 104, 1, numPartitions=2).selectExpr("id")
    output = write_table(new, str(tmp_path / "table"), "numbers", fmt="json", compression="none")
    files = sorted((tmp_path / "table").glob("part-*"))
    assert (output.rows, output.files, output.bytes) == (4, 2, sum(p.stat().st_size for p in files))
    assert [p.suffix for p in files] == [".json", ".json"]
    assert sorted(p.name for p in (tmp_path / "table").iterdir() if p.name.startswith("_")) == ["_SUCCESS"]
    assert sorted(row.id for row in spark.read.json(str(tmp_path / "table")).collect()) == [100, 101, 102, 103]


@pytest.mark.parametrize("before", [("a",), ()])
def test_a_table_rebuilt_in_another_layout_keeps_no_file_of_the_old_one(spark, tmp_path, before):
    """Dynamic overwrite replaces only ``a=1/b=x`` folders: the old ``a=1/part-*`` files stayed, read with the new."""
    path = str(tmp_path / "t")
    old = spark.createDataFrame([(1, "x", 10), (2, "y", 20)], "a INT, b STRING, v INT")
    write_table(old, path, "t", partition_by=before)
    new = spark.createDataFrame([(1, "x", 11), (3, "z", 30)], "a INT, b STRING, v INT")
    result = write_table(new, path, "t", partition_by=("a", "b"), replace="table")
    assert result.rows == 2
    assert_df_equality(spark.read.parquet(path).select("a", "b", "v"), new, ignore_row_order=True, ignore_nullable=True)
    folders = sorted(str(p.relative_to(tmp_path / "t")) for p in (tmp_path / "t").rglob("*") if p.is_dir())
    assert folders == ["a=1", "a=1/b=x", "a=3", "a=3/b=z"]
    files = sorted(str(p.relative_to(tmp_path / "t")).split("/")[:-1] for p in (tmp_path / "t").rglob("*.parquet"))
    assert files == [["a=1", "b=x"], ["a=3", "b=z"]]  # none left at the old depth (Spark would skip root files)


def test_a_partition_overwrite_removes_the_copy_an_earlier_one_left_when_it_stopped(spark, tmp_path):
    """Spark's dynamic overwrite writes into .spark-staging-<job> first; a killed driver left that copy forever."""
    path = tmp_path / "t"
    first = spark.createDataFrame([(1, "a"), (2, "b")], "k int, v string")
    write_table(first, str(path), "t", "parquet", ["k"], "snappy")
    left = path / ".spark-staging-0b1c" / "k=1"
    left.mkdir(parents=True)
    (left / "part-00000.snappy.parquet").write_bytes(b"a copy")
    second = spark.createDataFrame([(2, "c")], "k int, v string")
    info = write_table(second, str(path), "t", "parquet", ["k"], "snappy")
    assert (info.rows, sorted(p.name for p in path.iterdir() if p.is_dir())) == (1, ["k=1", "k=2"])
    table = spark.read.parquet(str(path)).select("k", "v")
    assert sorted(tuple(row) for row in table.collect()) == [(1, "a"), (2, "c")]


def test_a_partition_overwrite_that_sparks_commit_stops_part_way_says_so(spark, tmp_path):
    """Until session 47 the run failed with Spark's rename error alone, as if the table were left as it was."""
    from lakejobs.errors import LakejobsError

    table = tmp_path / "table"
    old = spark.createDataFrame([(1, 1, "old"), (2, 1, "old")], "a INT, b INT, v STRING")
    write_table(old, str(table), "t", partition_by=["a", "b"])
    for child in (table / "a=2").iterdir():  # a file where the partition a=2/b=1 must be moved in
        child.rename(tmp_path / "moved")
    (table / "a=2").rmdir()
    (table / "a=2").write_text("in the way")
    new = spark.createDataFrame([(1, 1, "new"), (2, 1, "new")], "a INT, b INT, v STRING")
    with pytest.raises(LakejobsError) as stopped:
        write_table(new, str(table), "t", partition_by=["a", "b"])
    assert str(stopped.value) == (
        f"t: the write into {table} stopped part-way while Spark moved its partitions in (ParentNotDirectoryException: "
        f"Parent path is not a directory: file:{table}/a=2): some partitions may hold this run's rows and the others "
        "their earlier ones; run the same input again to replace them all"
    )


def test_only_a_failure_of_sparks_partition_commit_is_called_part_way():
    from lakejobs.io.writer import part_replaced

    move = Exception(
        "Failed to rename /t/.spark-staging-1/a=1 to /t/a=1 when committing files staged for "
        "overwriting dynamic partitions"
    )
    assert str(part_replaced("t", "/t", move)).startswith("t: the write into /t stopped part-way while Spark moved")
    assert part_replaced("t", "/t", Exception("Task failed while writing rows")) is None
