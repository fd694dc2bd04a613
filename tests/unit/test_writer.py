"""write_table: counts, files and the empty cases."""

import pytest

from lakejobs.io.writer import write_table


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
