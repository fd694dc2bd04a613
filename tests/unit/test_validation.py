import dataclasses
import datetime as dt
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs.datasets import CsvOptions, Dataset
from lakejobs.transforms.validation import (
    MAX_FAILING_COST,
    REASON,
    failing_one_of,
    filter_quarantined,
    filter_valid,
    key_for_counting,
    types_strictly,
    with_derived_columns,
    with_duplicate_keys_flagged,
    with_reasons,
    with_row_id,
    with_typed_columns,
)

DATASET = Dataset(
    name="items",
    schema=T.StructType(
        [
            T.StructField("id", T.IntegerType(), nullable=False),
            T.StructField("name", T.StringType()),
            T.StructField("price", T.DecimalType(17, 4)),
            T.StructField("sold", T.DateType(), nullable=False),
        ]
    ),
    csv=CsvOptions(date_format="M/d/yyyy"),
    primary_key=("id",),
)
RAW_SCHEMA = "id string, name string, price string, sold string, _corrupt_record string, _source_file string"
RESULT_SCHEMA = (
    "id int, name string, price decimal(17,4), sold date, _source_file string, "
    "_raw_line string, _reason string, _detail string"
)


def raw_df(spark, rows):
    return spark.createDataFrame([(*row, "file:/raw/items.csv") for row in rows], RAW_SCHEMA)


def test_with_typed_columns_types_good_rows_and_explains_each_bad_one(spark):
    source = raw_df(
        spark,
        [
            ("1", "pen", "1.5", "5/1/2014", None),
            ("2", "cup", "abc", "5/1/2014", None),
            ("3", "mug", "2", "2/30/2014", None),
            (None, "ink", "2", "5/1/2014", None),
            ("5", "box", "2", None, None),
            ("6", "caf\ufffd", "2", "5/1/2014", None),
            ("7", "kit", None, None, "7,kit"),
            ("3.5", "pad", "2", "5/1/2014", None),
            ("9", None, "99999999999999", "12/31/2014", None),
        ],
    )
    expected = spark.createDataFrame(
        [
            (1, "pen", Decimal("1.5000"), dt.date(2014, 5, 1), None, None, None),
            (
                2,
                "cup",
                None,
                dt.date(2014, 5, 1),
                "2,cup,abc,5/1/2014",
                "invalid_decimal:price",
                "price='abc' is not a valid decimal(17,4)",
            ),
            (
                3,
                "mug",
                Decimal("2.0000"),
                None,
                "3,mug,2,2/30/2014",
                "invalid_date:sold",
                "sold='2/30/2014' is not a date in format M/d/yyyy",
            ),
            (None, "ink", Decimal("2.0000"), dt.date(2014, 5, 1), ",ink,2,5/1/2014", "null_key:id", "id is empty"),
            (5, "box", Decimal("2.0000"), None, "5,box,2,", "missing_value:sold", "sold is empty"),
            (
                6,
                "caf\ufffd",
                Decimal("2.0000"),
                dt.date(2014, 5, 1),
                "6,caf\ufffd,2,5/1/2014",
                "invalid_utf8",
                "the line has bytes that are not valid UTF-8 (or the character U+FFFD they are read as)",
            ),
            (7, "kit", None, None, "7,kit", "malformed_record", "expected 4 fields separated by ','"),
            (
                None,
                "pad",
                Decimal("2.0000"),
                dt.date(2014, 5, 1),
                "3.5,pad,2,5/1/2014",
                "invalid_int:id",
                "id='3.5' is not a valid int",
            ),
            (
                9,
                None,
                None,
                dt.date(2014, 12, 31),
                "9,,99999999999999,12/31/2014",
                "invalid_decimal:price",
                "price='99999999999999' is not a valid decimal(17,4)",
            ),
        ],
        "id int, name string, price decimal(17,4), sold date, _raw_line string, _reason string, _detail string",
    )
    actual = source.transform(with_typed_columns(DATASET)).drop("_source_file")
    assert_df_equality(actual, expected, ignore_nullable=True)


UNCLOSED = (
    "expected 4 fields separated by ','; the line has an odd number of '\"': if quoted fields hold line breaks,"
    " read the file as multiline (csv_to_parquet --multiline true)"
)


def malformed_details(spark, dataset):
    lines = ['7,"kit', '8,"a ""b"", c",2', '9,"x""', "10,pad"]
    source = raw_df(spark, [(line.split(",")[0], None, None, None, line) for line in lines])
    return source.transform(with_typed_columns(dataset)).select("_raw_line", "_detail")


def test_a_malformed_line_with_a_quote_left_open_is_told_to_pass_multiline(spark):
    plain = "expected 4 fields separated by ','"
    expected = spark.createDataFrame(
        [('7,"kit', UNCLOSED), ('8,"a ""b"", c",2', plain), ('9,"x""', UNCLOSED), ("10,pad", plain)],
        "_raw_line string, _detail string",
    )
    assert_df_equality(malformed_details(spark, DATASET), expected, ignore_nullable=True)


def test_with_a_backslash_escape_escaped_quotes_neither_open_nor_close_a_field(spark):
    escaped = dataclasses.replace(DATASET, csv=CsvOptions(date_format="M/d/yyyy", escape="\\"))
    lines = ['7,"a\\"b', '8,"a\\"b"', '9,"a\\\\"']
    source = raw_df(spark, [(line.split(",")[0], None, None, None, line) for line in lines])
    details = source.transform(with_typed_columns(escaped)).select("_raw_line", "_detail")
    plain = "expected 4 fields separated by ','"
    expected = spark.createDataFrame(
        [('7,"a\\"b', UNCLOSED), ('8,"a\\"b"', plain), ('9,"a\\\\"', plain)], "_raw_line string, _detail string"
    )
    assert_df_equality(details, expected, ignore_nullable=True)


def test_with_multiline_a_malformed_record_of_several_lines_asks_whether_a_quote_is_never_closed(spark):
    multiline = dataclasses.replace(DATASET, csv=CsvOptions(date_format="M/d/yyyy", multiline=True))
    lines = ['7,"kit', '8,"a\nb",2', '9,"x\r\n10,y\n']
    source = raw_df(spark, [(line.split(",")[0], None, None, None, line) for line in lines])
    details = source.transform(with_typed_columns(multiline)).select("_raw_line", "_detail")
    plain = "expected 4 fields separated by ','"
    spans = f"{plain}; it spans lines: if a '\"' is never closed, the rest of its file is read into it"
    expected = spark.createDataFrame(
        [('7,"kit', plain), ('8,"a\nb",2', spans), ('9,"x\r\n10,y\n', spans)], "_raw_line string, _detail string"
    )
    assert_df_equality(details, expected, ignore_nullable=True)


WIDE = Dataset(
    name="wide",
    schema=T.StructType(
        [
            T.StructField("tag", T.StringType()),
            T.StructField("id", T.IntegerType()),
            T.StructField("price", T.DecimalType(17, 4)),
            T.StructField("sold", T.DateType()),
            T.StructField("ok", T.BooleanType()),
            T.StructField("ratio", T.DoubleType()),
            T.StructField("at", T.TimestampType()),
        ]
    ),
    csv=CsvOptions(date_format="M/d/yyyy"),
)
GOOD_WIDE_ROW = {
    "tag": "good",
    "id": "1",
    "price": "2.5",
    "sold": "5/1/2014",
    "ok": "true",
    "ratio": "0.5",
    "at": "2014-05-01 10:00:00",
}


def wide_raw_df(spark, rows):
    names = [field.name for field in WIDE.schema.fields]
    schema = ", ".join(f"{name} string" for name in [*names, "_corrupt_record", "_source_file"])
    data = [(*[row.get(name) for name in names], None, "f.csv") for row in rows]
    return spark.createDataFrame(data, schema)


def test_a_replacement_character_in_any_field_is_invalid_utf8(spark):
    """Strictly typed fields are searched only when they fail to type: the reason stays the same."""
    good = GOOD_WIDE_ROW
    rows = [{**good, "tag": name, name: good[name] + "\ufffd"} for name in ("id", "price", "sold", "ok", "ratio", "at")]
    rows += [{**good, "tag": "x\ufffd"}, {**good, "tag": "id and ratio", "id": "1\ufffd", "ratio": "no"}, good]
    actual = wide_raw_df(spark, rows).transform(with_typed_columns(WIDE)).select("tag", "_reason")
    expected = [(row["tag"], "invalid_utf8") for row in rows[:-1]] + [("good", None)]
    assert_df_equality(actual, spark.createDataFrame(expected, "tag string, _reason string"), ignore_nullable=True)


def test_the_joined_search_skips_null_fields_and_finds_nothing_in_clean_rows(spark):
    """The text fields are searched joined (``concat_ws``): a null one must not hide another's U+FFFD."""
    good = GOOD_WIDE_ROW
    rows = [
        {**good, "tag": None, "at": good["at"] + "\ufffd"},
        {**good, "tag": None, "id": "1\ufffd"},
        {**good, "tag": "junk id", "id": "x"},
        {**good, "tag": "junk id, no time", "id": "x", "at": None},
        {**good, "tag": "no time", "at": None},
    ]
    actual = wide_raw_df(spark, rows).transform(with_typed_columns(WIDE)).select("tag", "_reason")
    expected = [
        (None, "invalid_utf8"),
        (None, "invalid_utf8"),
        ("junk id", "invalid_int:id"),
        ("junk id, no time", "invalid_int:id"),
        ("no time", None),
    ]
    assert_df_equality(actual, spark.createDataFrame(expected, "tag string, _reason string"), ignore_nullable=True)


def test_a_date_without_a_format_is_a_whole_iso_date_or_quarantined(spark):
    """``try_cast`` would read '2014-05-01 junk' and '2014-05-01T10:00' as 2014-05-01, '2014' as 2014-01-01."""
    dataset = Dataset(name="days", schema=T.StructType([T.StructField("sold", T.DateType())]))
    texts = ["2014-05-01", " 2014-5-1 ", "2014-05-01 junk", "2014-05-01T10:00", "2014", "2014-05-01 \ufffd"]
    source = spark.createDataFrame(
        [(text, None, "f.csv") for text in texts], "sold string, _corrupt_record string, _source_file string"
    )
    actual = source.transform(with_typed_columns(dataset)).select("sold", "_reason")
    may_day = dt.date(2014, 5, 1)
    reasons = [None, None, "invalid_date:sold", "invalid_date:sold", "invalid_date:sold", "invalid_utf8"]
    expected = spark.createDataFrame(
        [(may_day if reason is None else None, reason) for reason in reasons], "sold date, _reason string"
    )
    assert_df_equality(actual, expected, ignore_nullable=True)
    assert types_strictly(T.DateType())


def test_a_timestamp_without_a_format_needs_a_whole_date_or_is_quarantined(spark):
    """Spark's cast reads '10:30:00' as today at 10:30 (a new value each day), '2014' as 2014-01-01."""
    dataset = Dataset(name="events", schema=T.StructType([T.StructField("at", T.TimestampType())]))
    read = {
        "2014-05-01 10:30:00": "2014-05-01 10:30:00",
        "2014-05-01T10:30:00Z": "2014-05-01 10:30:00",
        "2014-05-01 10:30:00+02:00": "2014-05-01 08:30:00",
        " 2014-5-1 ": "2014-05-01 00:00:00",
        "10:30:00": None,
        "T10:30": None,
        "2014": None,
        "2014-05": None,
        "2014-05-01 junk": None,
        # Spark keeps microseconds: a seventh digit would be dropped, unless it is a zero.
        "2014-05-01 10:30:00.123456": "2014-05-01 10:30:00.123456",
        "2014-05-01 10:30:00.123456000": "2014-05-01 10:30:00.123456",
        "2014-05-01 10:30:00.1234567": None,
    }
    source = spark.createDataFrame(
        [(text, None, "f.csv") for text in read], "at string, _corrupt_record string, _source_file string"
    )
    typed = source.transform(with_typed_columns(dataset))
    actual = typed.select(F.date_format("at", "yyyy-MM-dd HH:mm:ss.SSSSSS").alias("at"), "_reason")
    with_fraction = [value if value is None or "." in value else value + ".000000" for value in read.values()]
    expected = spark.createDataFrame(
        [(value, None if value else "invalid_timestamp:at") for value in with_fraction], "at string, _reason string"
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_a_timestamp_format_with_nanoseconds_quarantines_digits_spark_would_drop(spark):
    csv = dataclasses.replace(CsvOptions(), timestamp_format="yyyy-MM-dd HH:mm:ss.SSSSSSS")
    dataset = Dataset(name="events", schema=T.StructType([T.StructField("at", T.TimestampType())]), csv=csv)
    texts = ["2014-05-01 10:30:00.1234560", "2014-05-01 10:30:00.1234567"]
    source = spark.createDataFrame(
        [(text, None, "f.csv") for text in texts], "at string, _corrupt_record string, _source_file string"
    )
    typed = source.transform(with_typed_columns(dataset))
    actual = typed.select(F.date_format("at", "yyyy-MM-dd HH:mm:ss.SSSSSS").alias("at"), "_reason")
    expected = spark.createDataFrame(
        [("2014-05-01 10:30:00.123456", None), (None, "invalid_timestamp:at")], "at string, _reason string"
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_java_only_number_forms_and_underflow_are_quarantined_not_read(spark):
    """Java's parser reads '12d' as 12, '0x1p3' as 8 and '1e-400' as 0: no CSV writer means those."""
    dataset = Dataset(name="floats", schema=T.StructType([T.StructField("d", T.DoubleType())]))
    read = {"12d": None, "2F": None, "0x1p3": None, "1e-400": None, "0.5e-3": 0.0005, "-0": -0.0, "0e7": 0.0}
    read.update({" 1.5E2 ": 150.0, "NaN": float("nan")})
    source = spark.createDataFrame(
        [(text, None, "f.csv") for text in read], "d string, _corrupt_record string, _source_file string"
    )
    actual = source.transform(with_typed_columns(dataset)).select("d", "_reason")
    expected = spark.createDataFrame(
        [(value, None if value is not None else "invalid_double:d") for value in read.values()],
        "d double, _reason string",
    )
    assert_df_equality(actual, expected, ignore_nullable=True, allow_nan_equality=True)


def test_a_number_too_large_for_a_double_or_float_is_quarantined_not_infinite(spark):
    schema = T.StructType([T.StructField("d", T.DoubleType()), T.StructField("f", T.FloatType())])
    dataset = Dataset(name="floats", schema=schema)
    rows = [("1e400", "1.5"), ("-Infinity", "inf"), ("NaN", "3.5e39"), ("2.5", " -INF ")]
    source = spark.createDataFrame(
        [(*row, None, "f.csv") for row in rows], "d string, f string, _corrupt_record string, _source_file string"
    )
    actual = source.transform(with_typed_columns(dataset)).select("d", "f", "_reason")
    inf = float("inf")
    expected = spark.createDataFrame(
        [
            (None, 1.5, "invalid_double:d"),
            (-inf, inf, None),
            (float("nan"), None, "invalid_float:f"),
            (2.5, -inf, None),
        ],
        "d double, f float, _reason string",
    )
    assert_df_equality(actual, expected, ignore_nullable=True, allow_nan_equality=True)


def test_filter_valid_and_filter_quarantined_split_every_row(spark):
    validated = raw_df(spark, [("1", "pen", "1.5", "5/1/2014", None), ("x", "cup", "1", "5/1/2014", None)]).transform(
        with_typed_columns(DATASET)
    )
    assert_df_equality(
        validated.transform(filter_valid(DATASET)),
        spark.createDataFrame([(1, "pen", Decimal("1.5"), dt.date(2014, 5, 1))], DATASET.schema),
        ignore_nullable=True,
    )
    assert_df_equality(
        validated.transform(filter_quarantined("items", "run-1")),
        spark.createDataFrame(
            [
                (
                    "items",
                    "file:/raw/items.csv",
                    "x,cup,1,5/1/2014",
                    "invalid_int:id",
                    "id='x' is not a valid int",
                    "run-1",
                )
            ],
            "dataset string, source_file string, raw_line string, reason string, detail string, run_id string",
        ),
        ignore_nullable=True,
    )


def test_raw_line_of_a_typed_failure_is_requoted_like_the_source(spark):
    source = raw_df(spark, [("1", "pen, blue", "x", "5/1/2014", None)])
    actual = source.transform(with_typed_columns(DATASET)).select("_raw_line")
    assert_df_equality(
        actual, spark.createDataFrame([('1,"pen, blue",x,5/1/2014',)], "_raw_line string"), ignore_nullable=True
    )


def test_with_derived_columns_adds_sql_expressions_and_keeps_nulls(spark):
    source = spark.createDataFrame([(dt.date(2014, 5, 1),), (None,)], "orderdate date")
    expected = spark.createDataFrame([(dt.date(2014, 5, 1), 2014), (None, None)], "orderdate date, order_year int")
    assert_df_equality(source.transform(with_derived_columns({"order_year": "year(orderdate)"})), expected)


def test_duplicate_keys_keep_the_first_good_row_and_quarantine_the_rest(spark):
    source = raw_df(
        spark,
        [
            ("1", "pen", "1.5", "5/1/2014", None),
            ("1", "pen", "1.5", "5/1/2014", None),
            ("1", "ink", "2", "5/2/2014", None),
            ("2", "cup", "1", "5/1/2014", None),
            ("2", "cup", "x", "5/1/2014", None),
        ],
    ).coalesce(1)
    actual = (
        source.transform(with_typed_columns(DATASET))
        .transform(with_row_id())
        .transform(with_duplicate_keys_flagged(DATASET))
        .select("_row_id", "id", "_reason", "_detail")
    )
    dup = "key (1) appears more than once in this batch"
    expected = spark.createDataFrame(
        [
            (0, 1, None, None),
            (1, 1, "duplicate_key:id", dup),
            (2, 1, "duplicate_key:id", dup),
            (3, 2, None, None),
            (4, 2, "invalid_decimal:price", "price='x' is not a valid decimal(17,4)"),
        ],
        "_row_id long, id int, _reason string, _detail string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    # Past BROADCAST_REPEATS_LIMIT the repeated keys are joined by a shuffle: the same rows.
    previous = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    try:
        typed = source.transform(with_typed_columns(DATASET)).transform(with_row_id())
        shuffled = typed.transform(with_duplicate_keys_flagged(DATASET, broadcast=False))
        plan = shuffled._jdf.queryExecution().executedPlan().toString()
        assert "BroadcastHashJoin" not in plan and "SortMergeJoin" in plan, plan
        assert (
            "BroadcastHashJoin"
            in typed.transform(with_duplicate_keys_flagged(DATASET))._jdf.queryExecution().executedPlan().toString()
        )
        selected = shuffled.select("_row_id", "id", "_reason", "_detail")
        assert_df_equality(selected, expected, ignore_row_order=True, ignore_nullable=True)
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", previous)


def test_key_for_counting_packs_two_integer_keys_into_distinct_longs(spark):
    pairs = [(1, 2), (2, 1), (-1, -1), (0, -1), (-1, 0), (2147483647, -2147483648), (-2147483648, 2147483647), (1, 2)]
    dataset = Dataset(
        name="lines",
        schema=T.StructType([T.StructField("order", T.IntegerType()), T.StructField("line", T.IntegerType())]),
        primary_key=("order", "line"),
    )
    df = spark.createDataFrame(pairs, "order int, line int")

    packed = df.select(*key_for_counting(dataset))

    assert packed.columns == ["_key"]
    assert packed.distinct().count() == 7
    assert packed.filter("_key = 4294967298").count() == 2  # (1, 2): 1 * 2^32 + 2


def test_key_for_counting_keeps_other_keys_as_their_columns(spark):
    df = spark.createDataFrame([(1, "a", 2)], "id bigint, `group` string, n int")
    long_key = Dataset(name="a", schema=df.schema, primary_key=("id", "n"))
    text_key = Dataset(name="b", schema=df.schema, primary_key=("group", "n"))

    assert df.select(*key_for_counting(long_key)).columns == ["id", "n"]
    assert df.select(*key_for_counting(text_key)).columns == ["group", "n"]


def test_a_decimal_with_more_places_than_its_scale_is_quarantined_not_rounded(spark):
    """A cast would round ``5.555`` to ``5.56`` silently: such a value is not typed, and has its own reason."""
    dataset = Dataset(name="fares", schema=T.StructType([T.StructField("fare", T.DecimalType(10, 2))]))
    texts = ["5.555", "5.550", "1e-3", "12E2", "1000e-4", " 2.5 ", "-0.125", "0.0000000", "1.", "abc", None]
    # The byte searches' edge: a short exponent after a short fraction; text the cast reads but
    # the places cannot be read from (an Arabic-Indic five); garbage with a long tail.
    texts += ["1.5e-9", "\u0665.555", "\u0665.5", "abc.defgh", "5e1"]
    # Digits of other scripts the cast reads as 12 (fullwidth, Arabic-Indic): published until session 48.
    texts += ["\uff11\uff12", "\u0661\u0662"]
    source = spark.createDataFrame(
        [(text, None, "f.csv") for text in texts], "fare string, _corrupt_record string, _source_file string"
    )
    actual = source.transform(with_typed_columns(dataset)).select("fare", "_reason", "_detail")
    too_many = "too_many_decimals:fare"
    expected = spark.createDataFrame(
        [
            (None, too_many, "fare='5.555' has more than 2 decimals"),
            (Decimal("5.55"), None, None),
            (None, too_many, "fare='1e-3' has more than 2 decimals"),
            (Decimal("1200.00"), None, None),
            (Decimal("0.10"), None, None),
            (Decimal("2.50"), None, None),
            (None, too_many, "fare='-0.125' has more than 2 decimals"),
            (Decimal("0.00"), None, None),
            (Decimal("1.00"), None, None),
            (None, "invalid_decimal:fare", "fare='abc' is not a valid decimal(10,2)"),
            (None, None, None),
            (None, too_many, "fare='1.5e-9' has more than 2 decimals"),
            (None, too_many, "fare='\u0665.555' has more than 2 decimals"),
            (None, "invalid_decimal:fare", "fare='\u0665.5' is not a valid decimal(10,2)"),
            (None, "invalid_decimal:fare", "fare='abc.defgh' is not a valid decimal(10,2)"),
            (Decimal("50.00"), None, None),
            (None, "invalid_decimal:fare", "fare='\uff11\uff12' is not a valid decimal(10,2)"),
            (None, "invalid_decimal:fare", "fare='\u0661\u0662' is not a valid decimal(10,2)"),
        ],
        "fare decimal(10,2), _reason string, _detail string",
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_failing_one_of_the_reasons_seen_holds_for_every_bad_row(spark):
    source = raw_df(
        spark,
        [
            ("1", "pen", "1.5", "5/1/2014", None),
            ("2", "cup", "abc", "5/1/2014", None),
            ("3", "mug", "x", "2/30/2014", None),  # two failures: its reason is the price's
            ("4", "ink", "2", "13/1/2014", None),
            (None, "box", "2", "5/1/2014", None),
            ("6", None, None, None, "6"),
            ("7", "kit", "2.12345", "5/1/2014", None),
            ("3.5", "pad", "2", "5/2/2014", None),
            ("9", "cap", "2", "5/2/2014", None),
        ],
    )
    reasoned_df = source.transform(with_reasons(DATASET))
    seen = sorted(row[0] for row in reasoned_df.where(f"{REASON} IS NOT NULL").select(REASON).distinct().collect())
    assert seen == [
        "invalid_date:sold",
        "invalid_decimal:price",
        "invalid_int:id",
        "malformed_record",
        "null_key:id",
        "too_many_decimals:price",
    ]
    # Every bad row but the one that rounds (too_many_decimals has no cheap condition). Its
    # reason, invalid_int:id, left out (cost 3 + 1 + 1 + 1 = 6), "3.5" is kept by null_key:id.
    kept = ["2", "3", "4", "6", None, "3.5"]
    cheap = ["invalid_date:sold", "invalid_decimal:price", "malformed_record", "null_key:id"]
    kept_df = source.where(failing_one_of(DATASET, cheap)).select("id")
    assert_df_equality(kept_df, spark.createDataFrame([(i,) for i in kept], "id string"), ignore_row_order=True)
    kept_df = source.where(failing_one_of(DATASET, ["invalid_int:id", "null_key:id"])).select("id")
    assert_df_equality(kept_df, spark.createDataFrame([(None,), ("3.5",)], "id string"), ignore_row_order=True)


def test_failing_one_of_gives_no_condition_for_costly_reasons_or_too_many():
    assert failing_one_of(DATASET, ["invalid_utf8"]) is None
    assert failing_one_of(DATASET, ["too_many_decimals:price"]) is None
    assert failing_one_of(DATASET, ["invalid_int:id", "row_rule:price > 0"]) is None
    dates_and_more = ["invalid_date:sold", "missing_value:sold", "malformed_record"]  # 3 + 3 + 1
    assert failing_one_of(DATASET, dates_and_more) is None
    assert failing_one_of(DATASET, dates_and_more[1:]) is not None
    assert MAX_FAILING_COST == 6
