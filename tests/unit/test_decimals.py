"""Decimal text: the places it needs, and when Spark's cast to a decimal would round it."""

from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs.transforms.decimals import decimal_places, would_round
from lakejobs.transforms.field_checks import decimal_checks, with_failed_checks

ARABIC_INDIC_FIVE = "\u0665"


def test_would_round_reads_the_places_and_never_passes_text_the_cast_reads_but_it_cannot(spark):
    texts = [
        ("5.55", 2, False),
        ("5.555", 2, True),
        ("5.5500000", 2, False),  # trailing zeros: more octets after the point, no more places
        ("1.5e-9", 4, True),  # a short exponent after a short fraction
        ("5e-1", 0, True),
        ("12E2", 0, False),
        (" 0.125 ", 3, False),
        (ARABIC_INDIC_FIVE + ".555", 2, True),  # cast to 5.56; the places cannot be read
        (ARABIC_INDIC_FIVE + ".5", 2, False),  # too short to need more: cast exactly to 5.5
        ("abc.defgh", 2, False),  # not a number: the cast's own check reports it
        (None, 2, False),
    ]
    rows = []
    for text, scale, _rounds in texts:
        df = spark.createDataFrame([(text,)], "text string")
        cast = F.col("text").cast(f"decimal(20,{scale})")
        rows.append(df.select("text", F.lit(scale).alias("scale"), would_round(F.col("text"), cast, scale).alias("r")))
    actual = rows[0]
    for df in rows[1:]:
        actual = actual.unionAll(df)
    expected = spark.createDataFrame(texts, "text string, scale int, r boolean")
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_decimal_places_of_plain_number_text(spark):
    df = spark.createDataFrame([(t,) for t in ["1.50", "1e-3", "1000e-4", "12E2", "0.000", "+7.25", "x"]], "t string")
    actual = df.select("t", decimal_places(F.col("t")).alias("places"))
    expected = spark.createDataFrame(
        [("1.50", 1), ("1e-3", 3), ("1000e-4", 1), ("12E2", 0), ("0.000", 0), ("+7.25", 2), ("x", None)],
        "t string, places long",
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_decimal_checks_quarantine_text_of_other_scripts_as_invalid(spark):
    """The JSON and taxi jobs' checks: digits of other scripts, which the cast reads, are invalid_decimal
    (until session 48 ``١٢`` was published as 12.00, and ``٥.555`` was too_many_decimals)."""
    df = spark.createDataFrame(
        [("a", "2.50"), ("b", ARABIC_INDIC_FIVE + ".555"), ("c", "two"), ("d", "\u0661\u0662"), ("e", "5.555")],
        "id string, fare string",
    ).withColumns({"_reason": F.lit(None).cast("string"), "_detail": F.lit(None).cast("string")})
    df = df.withColumn("_raw_line", F.lit("line"))
    checks = decimal_checks("fare", "fare", T.DecimalType(10, 2))
    actual = df.transform(with_failed_checks(checks)).select("id", "_reason", "_detail")
    expected = spark.createDataFrame(
        [
            ("a", None, None),
            ("b", "invalid_decimal:fare", f"fare={ARABIC_INDIC_FIVE}.555"),
            ("c", "invalid_decimal:fare", "fare=two"),
            ("d", "invalid_decimal:fare", "fare=\u0661\u0662"),
            ("e", "too_many_decimals:fare", "fare=5.555 has more than 2 decimals"),
        ],
        "id string, _reason string, _detail string",
    )
    assert_df_equality(actual, expected, ignore_nullable=True)
