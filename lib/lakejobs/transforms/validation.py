"""Type raw string columns and give every row that cannot be typed a reason.

``with_typed_columns(dataset)`` turns the text columns of ``read_raw_csv`` into the dataset's
types and adds ``_reason`` (null for a good row), ``_detail`` and ``_raw_line``. Reasons are
short and countable (``invalid_date:orderdate``); details say what was found, for the person
who fixes the source. The first failing check wins, in this order: malformed record, invalid
UTF-8, type errors in column order, missing required values, then the dataset's row rules
(``lakejobs.dqdl``) in ruleset order; duplicate keys are flagged last, among the rows left.
"""

from typing import Callable, Dict, List, Optional, Sequence, Tuple

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs.datasets import Dataset
from lakejobs.io.csv_reader import CORRUPT_RECORD, SOURCE_FILE
from lakejobs.transforms.dates import parse_date

REASON = "_reason"
ROW_ID = "_row_id"
DETAIL = "_detail"
RAW_LINE = "_raw_line"
REPLACEMENT_CHAR = "\ufffd"

Transform = Callable[[DataFrame], DataFrame]
#: A row check: (true where the row is bad, its reason, a column explaining it).
Check = Tuple[Column, str, Column]


def quote_name(name: str) -> str:
    """Backtick-quote a column name for SQL expressions (``group`` -> ```group```)."""
    return "`" + name.replace("`", "``") + "`"


def typed_value(raw: Column, raw_name: str, data_type: T.DataType, dataset: Dataset) -> Column:
    """The typed value of a raw string column, null where it cannot be typed.

    ``try_cast`` is strict (``'3.5'`` is not an int) and never fails the job; dates and
    timestamps use the dataset's formats when it has them (dates through ``parse_date``, which
    skips the formatter for canonical text).
    """
    if isinstance(data_type, T.StringType):
        return raw
    if isinstance(data_type, T.DateType) and dataset.csv.date_format:
        return parse_date(raw, dataset.csv.date_format)
    if isinstance(data_type, T.TimestampType) and dataset.csv.timestamp_format:
        return F.to_timestamp(raw, dataset.csv.timestamp_format)
    return F.expr(f"try_cast({quote_name(raw_name)} AS {data_type.simpleString()})")


def type_label(data_type: T.DataType) -> str:
    """Short type name for reasons: ``decimal`` for ``decimal(17,4)``."""
    return data_type.simpleString().split("(")[0]


def _expected_text(data_type: T.DataType, dataset: Dataset) -> str:
    if isinstance(data_type, T.DateType):
        return f"a date in format {dataset.csv.date_format or 'yyyy-MM-dd'}"
    if isinstance(data_type, T.TimestampType):
        return f"a timestamp in format {dataset.csv.timestamp_format or 'yyyy-MM-dd HH:mm:ss'}"
    return f"a valid {data_type.simpleString()}"


def types_strictly(data_type: T.DataType, dataset: Dataset) -> bool:
    """Tell whether a text holding U+FFFD always types as null (``typed_value``) for ``data_type``.

    True for numbers, booleans, and dates read with the dataset's format. Not for dates without a
    format (``try_cast`` ignores what follows ``2014-05-01 ``), timestamps or strings.
    ``_checks`` relies on it to search for U+FFFD only in the fields that failed to type.
    Measured at 10M order lines (all 16 fields type strictly), five warm pairs in two JVMs: the
    staging pass 57.2 s against 58.8 s on average.
    """
    if isinstance(data_type, (T.NumericType, T.BooleanType)):
        return True
    return isinstance(data_type, T.DateType) and bool(dataset.csv.date_format)


def _checks(dataset: Dataset, raw: Dict[str, str]) -> List[Check]:
    """(is_bad, reason, detail) for every parsing check, in priority order.

    ``raw`` maps each column to the name of its raw text column; typed values are under the
    columns' own names.
    """
    # Searched field by field: the same answer as searching the joined line (U+FFFD cannot span
    # two valid UTF-8 fields) without building a string per row (measured 13 % of the pass).
    has_replacement = F.coalesce(F.col(CORRUPT_RECORD).contains(REPLACEMENT_CHAR), F.lit(False))
    for field in dataset.schema.fields:
        found = F.coalesce(F.col(raw[field.name]).contains(REPLACEMENT_CHAR), F.lit(False))
        if types_strictly(field.dataType, dataset):
            # Such a field's text holds U+FFFD only where its typed value is null: search those
            # alone (Spark skips the right side of a false AND).
            found = F.col(quote_name(field.name)).isNull() & found
        has_replacement = has_replacement | found
    field_count = len(dataset.schema.fields)
    checks = [
        (
            F.col(CORRUPT_RECORD).isNotNull(),
            "malformed_record",
            F.lit(f"expected {field_count} fields separated by {dataset.csv.delimiter!r}"),
        ),
        (
            has_replacement,
            "invalid_utf8",
            F.lit(f"the line has bytes that are not valid {dataset.csv.encoding}"),
        ),
    ]
    for field in dataset.schema.fields:
        if isinstance(field.dataType, T.StringType):
            continue
        raw_value = F.col(raw[field.name])
        checks.append(
            (
                raw_value.isNotNull() & F.col(quote_name(field.name)).isNull(),
                f"invalid_{type_label(field.dataType)}:{field.name}",
                F.concat(
                    F.lit(f"{field.name}='"), raw_value, F.lit(f"' is not {_expected_text(field.dataType, dataset)}")
                ),
            )
        )
    for name in dataset.required_columns:
        label = "null_key" if name in dataset.primary_key else "missing_value"
        checks.append((F.col(quote_name(name)).isNull(), f"{label}:{name}", F.lit(f"{name} is empty")))
    return checks


def reason_labels(dataset: Dataset, extra_labels: Sequence[str] = ()) -> List[str]:
    """Every reason a row of ``dataset`` can get, in priority order (for counting them in one pass).

    ``extra_labels`` are the reasons of extra checks (rules), as given to ``with_typed_columns``.
    """
    labels = ["malformed_record", "invalid_utf8"]
    labels += [
        f"invalid_{type_label(field.dataType)}:{field.name}"
        for field in dataset.schema.fields
        if not isinstance(field.dataType, T.StringType)
    ]
    labels += [
        f"{'null_key' if name in dataset.primary_key else 'missing_value'}:{name}" for name in dataset.required_columns
    ]
    labels += list(extra_labels)
    if dataset.primary_key:
        labels.append("duplicate_key:" + ",".join(dataset.primary_key))
    return labels


def with_typed_columns(dataset: Dataset, extra_checks: Sequence[Check] = ()) -> Transform:
    """Type the columns of ``read_raw_csv`` output and explain the rows that fail.

    Returns a transform whose result has the dataset's typed columns, ``_source_file``,
    ``_raw_line``, ``_reason`` and ``_detail``. ``extra_checks`` (``(is_bad, reason, detail)``
    over the typed columns, e.g. ``lakejobs.transforms.quality.row_checks``) run after the
    parsing checks; the first failing check gives the reason.
    """

    def _(raw_df: DataFrame) -> DataFrame:
        fields = dataset.schema.fields
        raw = {field.name: f"__raw_{index}" for index, field in enumerate(fields)}
        renamed_df = raw_df.select(
            *[F.col(quote_name(field.name)).alias(raw[field.name]) for field in fields],
            F.col(CORRUPT_RECORD),
            F.col(SOURCE_FILE),
        )
        typed_df = renamed_df.withColumns(
            {
                field.name: typed_value(F.col(raw[field.name]), raw[field.name], field.dataType, dataset)
                for field in fields
            }
        )
        checks = _checks(dataset, raw) + list(extra_checks)
        reason = F.coalesce(*[F.when(bad, F.lit(label)) for bad, label, _detail in checks], F.lit(None).cast("string"))
        detail = F.coalesce(*[F.when(bad, text) for bad, _label, text in checks], F.lit(None).cast("string"))
        raw_names = [F.col(raw[field.name]) for field in fields]
        csv_options = {
            "sep": dataset.csv.delimiter,
            "quote": dataset.csv.quote,
            "escape": dataset.csv.escape,
            # Spark's CSV writer trims each field by default: a bad row's text must stay whole.
            "ignoreLeadingWhiteSpace": "false",
            "ignoreTrailingWhiteSpace": "false",
        }
        # Only bad rows keep their line: rendering and caching it for every good row costs a
        # third of the conversion time at 10M rows (measured, see bench/README.md).
        raw_line = F.when(
            reason.isNotNull(), F.coalesce(F.col(CORRUPT_RECORD), F.to_csv(F.struct(*raw_names), csv_options))
        )
        return typed_df.select(
            *[F.col(quote_name(field.name)) for field in fields],
            F.col(SOURCE_FILE),
            raw_line.alias(RAW_LINE),
            reason.alias(REASON),
            detail.alias(DETAIL),
        )

    return _


def filter_valid(dataset: Dataset) -> Transform:
    """Keep the rows without a reason, with exactly the dataset's columns."""

    def _(df: DataFrame) -> DataFrame:
        return df.filter(F.col(REASON).isNull()).select(*[quote_name(f.name) for f in dataset.schema.fields])

    return _


def filter_quarantined(dataset_name: str, run_id: str) -> Transform:
    """Keep the rows with a reason, as quarantine records."""

    def _(df: DataFrame) -> DataFrame:
        return df.filter(F.col(REASON).isNotNull()).select(
            F.lit(dataset_name).alias("dataset"),
            F.col(SOURCE_FILE).alias("source_file"),
            F.col(RAW_LINE).alias("raw_line"),
            F.col(REASON).alias("reason"),
            F.col(DETAIL).alias("detail"),
            F.lit(run_id).alias("run_id"),
        )

    return _


def with_derived_columns(expressions: Dict[str, str]) -> Transform:
    """Add columns computed from Spark SQL expressions (e.g. ``order_year: year(orderdate)``)."""

    def _(df: DataFrame) -> DataFrame:
        if not expressions:
            return df
        return df.withColumns({name: F.expr(expression) for name, expression in expressions.items()})

    return _


def with_row_id() -> Transform:
    """Add ``_row_id``: unique per row of one read, increasing with file position."""

    def _(df: DataFrame) -> DataFrame:
        return df.withColumn(ROW_ID, F.monotonically_increasing_id())

    return _


#: Integer types of 32 bits or fewer: two of them pack into one long (``key_for_counting``).
NARROW_INTEGERS = (T.ByteType, T.ShortType, T.IntegerType)


def key_for_counting(dataset: Dataset) -> List[Column]:
    """Columns equal for two rows exactly when their primary keys are equal.

    A key of two columns of 32 bits or fewer is packed into one long (high and low halves):
    repeats are found by shuffling and counting one long per row instead of two columns
    (measured at 10M orders keys, one JVM, alternating: 7.0 s against 7.9 s on average over
    six rounds). Any other key is its columns.
    """
    types = {field.name: field.dataType for field in dataset.schema.fields}
    keys = list(dataset.primary_key)
    if len(keys) != 2 or not all(isinstance(types[key], NARROW_INTEGERS) for key in keys):
        return [F.col(quote_name(key)) for key in keys]
    high, low = (F.col(quote_name(key)).cast("long") for key in keys)
    return [F.shiftleft(high, 32).bitwiseOR(low.bitwiseAND(F.lit(0xFFFFFFFF))).alias("_key")]


def repeated_keys(dataset: Dataset) -> Transform:
    """Keys that more than one good row holds, with the first row's ``_row_id``.

    A small frame (usually empty): one aggregate over the keys of the good rows.
    """

    def _(df: DataFrame) -> DataFrame:
        keys = list(dataset.primary_key)
        return (
            df.filter(F.col(REASON).isNull())
            .groupBy(*keys)
            .agg(F.count(F.lit(1)).alias("_key_rows"), F.min(ROW_ID).alias("_first_row_id"))
            .filter(F.col("_key_rows") > 1)
            .drop("_key_rows")
        )

    return _


def with_duplicate_keys_flagged(dataset: Dataset, repeated_keys_df: Optional[DataFrame] = None) -> Transform:
    """Give every repeat of a primary key among the good rows the reason ``duplicate_key``.

    The first good row of a key (smallest ``_row_id``, see ``with_row_id``) stays good; every
    later one is quarantined, so a batch never holds a key twice (MERGE and joins rely on it);
    its ``_raw_line`` is the row's typed values written as CSV. ``repeated_keys_df`` (from
    ``repeated_keys``; computed from the input when not given) is broadcast, so the rows are
    not shuffled. Datasets without a primary key pass unchanged.
    """

    def _(df: DataFrame) -> DataFrame:
        if not dataset.primary_key:
            return df
        keys = list(dataset.primary_key)
        repeated_df = repeated_keys_df if repeated_keys_df is not None else df.transform(repeated_keys(dataset))
        joined = df.join(F.broadcast(repeated_df), keys, "left").select(*df.columns, "_first_row_id")
        repeated = F.col(REASON).isNull() & (F.col(ROW_ID) != F.col("_first_row_id"))
        key_text = F.concat_ws(", ", *[F.col(quote_name(key)).cast("string") for key in keys])
        detail = F.concat(F.lit("key ("), key_text, F.lit(") appears more than once in this batch"))
        typed_text = F.to_csv(F.struct(*[F.col(quote_name(f.name)).cast("string") for f in dataset.schema.fields]))
        return joined.withColumns(
            {
                RAW_LINE: F.when(repeated, typed_text).otherwise(F.col(RAW_LINE)),
                DETAIL: F.when(repeated, detail).otherwise(F.col(DETAIL)),
                REASON: F.when(repeated, F.lit("duplicate_key:" + ",".join(keys))).otherwise(F.col(REASON)),
            }
        ).drop("_first_row_id")

    return _
