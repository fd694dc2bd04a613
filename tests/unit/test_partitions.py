"""Parquet tables read without a schema keep partition values that Spark's inference would change."""

import datetime as dt

from chispa import assert_df_equality

from lakejobs.datasets import Dataset
from lakejobs.io.delta import read_table
from lakejobs.io.partitions import partition_values
from lakejobs.schemas import parse_ddl
from lakejobs.transforms.partition_values import partition_value_checks


def test_partition_values_come_from_the_folders_right_above_each_file():
    urls = [
        "file:///lake/batch=9/stocks/ticker=0700/day=2024-03-01/part-0.parquet",
        "s3a://bucket/stocks/ticker=A%252FB/day=__HIVE_DEFAULT_PARTITION__/part-1.parquet",
    ]
    assert partition_values(urls) == {"ticker": {"0700", "A/B"}, "day": {"2024-03-01", "__HIVE_DEFAULT_PARTITION__"}}


def test_a_table_read_without_a_schema_keeps_0700_as_text_and_canonical_values_typed(spark, tmp_path):
    rows = [("0700", 2011, dt.date(2024, 3, 1), "1E5", 1), ("7203", 2012, dt.date(2024, 3, 2), "2", 2)]
    source = spark.createDataFrame(rows, "ticker string, year int, day date, code string, v int")
    source.write.partitionBy("ticker", "year", "day", "code").parquet(str(tmp_path / "table"))
    actual = read_table(spark, str(tmp_path / "table"), "parquet").select("ticker", "year", "day", "code", "v")
    expected = spark.createDataFrame(
        [row[:4] + (row[4],) for row in rows], "ticker string, year int, day date, code string, v int"
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    assert spark.read.parquet(str(tmp_path / "table")).schema["ticker"].dataType.simpleString() == "int"  # Spark's own


def test_an_output_without_folders_takes_a_partition_value_of_any_length(spark):
    """S3 keys may be 1,024 bytes: the 255-byte folder name check is for file systems only."""
    dataset = Dataset(name="d", schema=parse_ddl("id INT, cat STRING"))
    frame = spark.createDataFrame([(1, "x" * 300)], "id INT, cat STRING")
    flags = [frame.select(bad).first()[0] for bad, _label, _detail in partition_value_checks(dataset, ["cat"], None)]
    limited = [frame.select(bad).first()[0] for bad, _label, _detail in partition_value_checks(dataset, ["cat"])]
    assert (flags, limited) == ([False], [True])
