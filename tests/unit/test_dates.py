import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakejobs.transforms.dates import canonical_date, parse_date, shortcut_fields

#: Canonical text (read by the shortcut) and text only ``to_date`` may read, or nobody.
TEXTS = [
    "5/1/2014",
    "12/31/2013",
    "1/13/1000",
    "2/29/2012",
    "2/29/2013",
    "13/1/2014",
    "0/1/2014",
    "5/0/2014",
    "05/01/2014",
    "5/01/2014",
    " 5/1/2014",
    "5/1/2014 ",
    "5/ 1/2014",
    "+5/1/2014",
    "5/+1/2014",
    "5/1/+201",
    "5/1/0999",
    "1/1/999",
    "1/1/12345",
    "5/1/14",
    "5/1/x/2014",
    "5/1//2014",
    "5//2014",
    "5/1",
    "5-1-2014",
    "1./1/2014",
    "5/1/20.4",
    "\uff15/1/2014",
    "",
    None,
]


def test_parse_date_equals_to_date_for_every_text(spark):
    df = spark.createDataFrame([(text,) for text in TEXTS], "text string")

    parsed = df.select("text", parse_date(F.col("text"), "M/d/yyyy").alias("day"))
    expected = df.select("text", F.to_date("text", "M/d/yyyy").alias("day"))

    assert_df_equality(parsed, expected, ignore_row_order=True)
    assert parsed.filter(F.col("day").isNotNull()).count() == 7


def test_the_shortcut_reads_canonical_text_only(spark):
    df = spark.createDataFrame([(text,) for text in TEXTS], "text string")
    fields, separator = shortcut_fields("M/d/yyyy")

    read = df.select("text", canonical_date(F.col("text"), fields, separator).alias("day")).filter("day is not null")

    expected = spark.createDataFrame(
        [
            ("5/1/2014", dt.date(2014, 5, 1)),
            ("12/31/2013", dt.date(2013, 12, 31)),
            ("1/13/1000", dt.date(1000, 1, 13)),
            ("2/29/2012", dt.date(2012, 2, 29)),
        ],
        "text string, day date",
    )
    assert_df_equality(read, expected, ignore_row_order=True)


@pytest.mark.parametrize(
    "date_format, text, day, fields",
    [
        # Day and month both at most 12: read in the wrong order, each would still be a date.
        ("d.M.yyyy", "1.2.2014", dt.date(2014, 2, 1), ({"d": 0, "M": 1, "yyyy": 2}, ".")),
        ("yyyy-M-d", "2014-1-2", dt.date(2014, 1, 2), ({"yyyy": 0, "M": 1, "d": 2}, "-")),
        ("yyyy.d.M", "2014.3.4", dt.date(2014, 4, 3), ({"yyyy": 0, "d": 1, "M": 2}, ".")),
        ("M/d/yyyy", "1/2/2014", dt.date(2014, 1, 2), ({"M": 0, "d": 1, "yyyy": 2}, "/")),
        ("d.M.yyyy", "31.12.2013", dt.date(2013, 12, 31), ({"d": 0, "M": 1, "yyyy": 2}, ".")),
    ],
)
def test_formats_with_a_shortcut_read_their_field_order(spark, date_format, text, day, fields):
    # The shortcut alone, since parse_date falls back to to_date: a shortcut reading the fields in
    # another order gives another date here (or null), not the same one.
    assert shortcut_fields(date_format) == fields
    df = spark.createDataFrame([(text,), ("1/2/3/4",)], "text string")

    shortcut = df.select(canonical_date(F.col("text"), *fields).alias("day"))
    parsed = df.select(parse_date(F.col("text"), date_format).alias("day"))

    expected = spark.createDataFrame([(day,), (None,)], "day date")
    assert_df_equality(shortcut, expected)
    assert_df_equality(parsed, expected)


@pytest.mark.parametrize("date_format", ["MM/dd/yyyy", "M/d/yy", "yyyy-MM-dd", "M/M/yyyy", "d MMM yyyy", "M/d-yyyy"])
def test_other_formats_have_no_shortcut(date_format):
    assert shortcut_fields(date_format) is None
