import pytest
from pyspark.sql import types as T

from lakejobs import key_check
from lakejobs.datasets import Dataset
from lakejobs.key_check import dense_key_column, distinct_by_bits, key_range_aggregates, repeats_a_key

LINES = "order int, line int"
LINES_SCHEMA = T.StructType([T.StructField("order", T.IntegerType()), T.StructField("line", T.IntegerType())])
LINES_DATASET = Dataset(name="lines", schema=LINES_SCHEMA, primary_key=("order", "line"))
#: Values on both sides of the 64-value words' edges, zero, negatives and the extremes.
EDGES = [-(2**63), -129, -128, -65, -64, -63, -1, 0, 1, 63, 64, 65, 127, 128, 2**40, 2**63 - 1]


def test_distinct_by_bits_tells_distinct_values_apart_across_word_edges(spark):
    df = spark.createDataFrame([(value,) for value in EDGES], "id long")

    assert distinct_by_bits(df, "id")


def test_distinct_by_bits_finds_a_repeated_value(spark):
    df = spark.createDataFrame([(value,) for value in [*EDGES, -64]], "id long")

    assert not distinct_by_bits(df, "id")


def test_key_range_aggregates_give_rows_and_each_integer_key_columns_range(spark):
    df = spark.createDataFrame([(3, None), (1, -5), (2, 7)], LINES)

    ranges = df.agg(*key_range_aggregates(df.schema, LINES_DATASET)).first().asDict()

    assert ranges == {
        "_rows": 3,
        **{"_count order": 3, "_min order": 1, "_max order": 3},
        **{"_count line": 2, "_min line": -5, "_max line": 7},
    }


def ranges(rows, *columns):
    """``key_range_aggregates`` values: rows, then (count, min, max) of order and of line."""
    values = {"_rows": rows}
    for column, (count, low, high) in zip(("order", "line"), columns):
        values.update({f"_count {column}": count, f"_min {column}": low, f"_max {column}": high})
    return values


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (ranges(5, (5, 1, 3), (5, 1, 5)), "line"),  # order ids span fewer values than rows
        (ranges(4, (4, 1, 2), (4, 1, 2)), None),  # neither column can be distinct
        (ranges(3, (3, 1, 3), (2, 1, 2)), "order"),  # a null line id
        (ranges(3, (3, 1, 2**30), (3, 1, 3)), "line"),  # the denser of two
        (ranges(3, (3, 1, 2**31 - 1), (3, 1, 2**31 - 1)), None),  # too sparse for 3 rows
        (ranges(3, (3, 1, 2**27), (3, 1, 2**26 - 64)), "line"),  # 2**20 words may always be used
        (ranges(10**9, (10**9, 1, 2**33), (10**9, 1, 2**35)), "order"),  # 2**27 words for 1G rows
        (ranges(0, (0, None, None), (0, None, None)), None),
    ],
)
def test_dense_key_column_names_a_column_that_can_be_distinct(values, expected):
    assert dense_key_column(LINES_SCHEMA, LINES_DATASET, values) == expected


def test_key_ranges_skip_columns_that_are_not_integers():
    schema = T.StructType([T.StructField("code", T.StringType()), T.StructField("n", T.IntegerType())])

    codes = Dataset(name="codes", schema=schema, primary_key=("code",))

    assert key_range_aggregates(schema, codes) == []
    assert dense_key_column(schema, codes, {}) is None


@pytest.mark.parametrize(
    ("rows", "repeats", "checks"),
    [
        ([(1, 1), (1, 2), (2, 3), (2, 4), (3, 5)], False, ["bits"]),  # dense line ids: the bits answer
        ([(1, 1), (2, 1), (3, 5)], False, ["bits"]),  # orders span 3 values for 3 rows: their bits answer
        ([(1, 1), (2, 1), (2, 3)], False, ["bits", "counting"]),  # line's bits see 1 twice; the pairs differ
        ([(1, 1), (1, 2), (2, 3), (1, 2)], True, ["counting"]),  # 4 rows: no column spans 4 values
        ([(1, None), (1, None), (2, 3)], True, ["counting"]),  # null keys count as equal; no column qualifies
        ([(1, 1), (1, 1), (2, 3)], True, ["bits", "counting"]),  # line's bits see 1 twice; so does the pair
    ],
)
def test_repeats_a_key_agrees_with_counting_every_key(spark, monkeypatch, rows, repeats, checks):
    df = spark.createDataFrame(rows, LINES)
    taken = []
    for name, label in (("distinct_by_bits", "bits"), ("repeats_by_counting", "counting")):
        check = getattr(key_check, name)
        monkeypatch.setattr(
            key_check, name, lambda *args, _check=check, _label=label: taken.append(_label) or _check(*args)
        )

    assert repeats_a_key(df, LINES_DATASET) is repeats
    assert taken == checks
