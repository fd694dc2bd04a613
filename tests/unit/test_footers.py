"""columns_without_dictionary: a table's plain columns, read from its files' footers through Hadoop."""

from lakejobs.io.footers import columns_without_dictionary
from lakejobs.io.writer import plain_encoding_options


def write_file(spark, path, plain_columns, rows=30):
    """One Parquet file: ``code`` and ``label`` repeat their values; ``missing`` is always null."""
    df = spark.range(0, rows, 1, numPartitions=1).selectExpr(
        "id % 4 AS code", "CAST(id % 3 AS STRING) AS label", "CAST(NULL AS STRING) AS missing"
    )
    df.write.options(**plain_encoding_options(plain_columns)).parquet(str(path))
    (file,) = path.glob("*.parquet")
    return str(file)


def test_the_columns_written_without_a_dictionary_and_not_a_column_of_nulls(spark, tmp_path):
    # ``missing`` has no dictionary page in either file, but holds no value to show how it was written.
    first = write_file(spark, tmp_path / "a", ["code", "missing"])
    second = write_file(spark, tmp_path / "b", ["code"])
    assert columns_without_dictionary(spark, [first, second]) == ["code"]


def test_a_column_with_a_dictionary_in_one_file_is_not_plain(spark, tmp_path):
    first = write_file(spark, tmp_path / "a", ["code", "label"])
    second = write_file(spark, tmp_path / "b", ["code"])
    assert columns_without_dictionary(spark, [first]) == ["code", "label"]
    assert columns_without_dictionary(spark, [first, second]) == ["code"]
    assert columns_without_dictionary(spark, []) == []
