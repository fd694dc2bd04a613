"""Transactions: parse JSON lines, type and check the fields, enrich the good ones."""

from typing import Callable, List

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs.io.csv_reader import CORRUPT_RECORD
from lakejobs.schemas_field import AMOUNT, TRANSACTION_FIELDS, TRANSACTION_REQUIRED, TRANSACTIONS, TRANSACTIONS_RAW
from lakejobs.transforms.field_checks import (
    STRICT_JSON,
    Check,
    check,
    decimal_checks,
    json_numbers_of_keys_as_strings,
    one_json_value,
    values_text,
)
from lakejobs.transforms.validation import (
    DETAIL,
    NUL_CHARACTER,
    RAW_LINE,
    REASON,
    REPLACEMENT_CHAR,
    REPLACEMENT_CHAR_ITSELF,
    any_holds,
)

Transform = Callable[[DataFrame], DataFrame]
#: The deduplication id: one row per id in the table, whatever the batches repeat.
ID = "transaction_id"
#: The typed fields before enrichment (the columns of the raw event).
BASE_COLUMNS = [field.name for field in TRANSACTIONS.fields if field.name in TRANSACTION_FIELDS]
ENRICHED_COLUMNS = [field.name for field in TRANSACTIONS.fields]
#: ``\z``, not ``$``: Java's ``$`` also matches before a final line break (``EUR\n`` passed).
CURRENCY_CODE = r"^[A-Z]{3}\z"
INVALID_UTF8_DETAIL = f"the line has bytes that are not valid UTF-8{REPLACEMENT_CHAR_ITSELF}"
#: The fields kept as text: a JSON object or array given as one was published as its JSON text.
TEXT_FIELDS = ("transaction_id", "account_id", "currency", "merchant", "category")
#: An ISO-8601 date-time: 4-digit year, date, ``T`` (or a space, as RFC 3339 allows), time with
#: seconds, an optional fraction (Spark keeps microseconds) and an optional ``Z`` or offset.
ISO_DATE_TIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)


def parse_transactions() -> Transform:
    """Parse ``value`` (one JSON object per row) into typed fields plus bookkeeping columns.

    Every field is read as text (a number, string or nested value alike; a number given as a
    field's value keeps its exact text, ``json_numbers_of_keys_as_strings``) and typed here:
    ``amount`` as ``decimal(18,2)``, ``event_time`` as an ISO-8601 date-time (``ISO_DATE_TIME``;
    an offset or ``Z`` is converted to UTC, other text is null), ``currency`` upper-cased; text
    fields are trimmed and empty text is null. The raw line is kept as ``_raw_line``.
    """

    def _(lines_df: DataFrame) -> DataFrame:
        schema = T.StructType(TRANSACTIONS_RAW.fields + [T.StructField(CORRUPT_RECORD, T.StringType())])
        parsed = F.from_json(
            json_numbers_of_keys_as_strings("value", TRANSACTION_FIELDS),
            schema,
            {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD, **STRICT_JSON},
        )
        texts = {name: F.nullif(F.trim(F.col(f"_event.{name}")), F.lit("")) for name in TRANSACTION_FIELDS}
        return (
            lines_df.withColumn("_event", parsed)
            .select(
                "_source_file",
                *[text.alias(f"{name}_text") for name, text in texts.items()],
                F.col(f"_event.{CORRUPT_RECORD}").alias(CORRUPT_RECORD),
                F.col("value").alias(RAW_LINE),
                F.lit(None).cast("string").alias(REASON),
                F.lit(None).cast("string").alias(DETAIL),
            )
            .withColumns(
                {
                    "transaction_id": F.col("transaction_id_text"),
                    "account_id": F.col("account_id_text"),
                    "amount": F.expr(f"try_cast(amount_text AS {AMOUNT.simpleString()})"),
                    "currency": F.upper(F.col("currency_text")),
                    "event_time": F.when(
                        F.col("event_time_text").rlike(ISO_DATE_TIME), F.col("event_time_text").cast("timestamp")
                    ),
                    "merchant": F.col("merchant_text"),
                    "category": F.col("category_text"),
                }
            )
        )

    return _


def _given_as_json(name: str) -> Column:
    """True where field ``name`` was a JSON object or array, which ``from_json`` turned into its text.

    Its text is then one JSON value starting with ``{`` or ``[``, and the line gives some key
    ``name`` such a value. Both together: the text alone would also take a string holding JSON
    (``"[1,2]"``), the line alone a key of that name inside another object. Only an event with
    both (a string holding JSON, and the same key nested elsewhere with an object) is taken
    for one given as JSON.
    """
    text = F.col(f"{name}_text")
    as_json = text.startswith("{") | text.startswith("[")
    in_line = F.col(RAW_LINE).rlike(f'"{name}"\\s*:\\s*[\\[{{]')
    return F.coalesce(as_json & one_json_value(f"{name}_text") & in_line, F.lit(False))


def transaction_checks() -> List[Check]:
    """The checks of a parsed transaction, in priority order."""
    checks = [
        check(
            F.col(CORRUPT_RECORD).isNotNull() | ~one_json_value(RAW_LINE),
            "malformed_record",
            "the line is not one JSON object",
        ),
        # Bytes that are not UTF-8 are read as U+FFFD: two ids differing only there would become one.
        check(F.col(RAW_LINE).contains(REPLACEMENT_CHAR), "invalid_utf8", INVALID_UTF8_DETAIL),
    ]
    checks += [
        check(_given_as_json(name), f"not_text:{name}", f"{name} is a JSON object or array, not text")
        for name in TEXT_FIELDS
    ]
    checks.append(
        check(
            # PostgreSQL and Redshift text cannot hold it: every later load of the table failed.
            any_holds([F.col(f"{name}_text") for name in TEXT_FIELDS], "\u0000"),
            NUL_CHARACTER,
            "a text field holds NUL characters (U+0000)",
        )
    )
    checks += [
        check(F.col(f"{name}_text").isNull(), f"missing_value:{name}", f"{name} is missing or empty")
        for name in TRANSACTION_REQUIRED
    ]
    checks += decimal_checks("amount", "amount_text", AMOUNT)
    checks += [
        check(
            # A time whose UTC date is past 9999 (9999-12-31T23:59:59-12:00) too: its event_date would be.
            F.coalesce(F.year("event_time") > 9999, F.lit(True)),
            "invalid_timestamp:event_time",
            F.concat(
                values_text("event_time_text"),
                F.when(F.col("event_time").isNull(), F.lit(" is not an ISO-8601 timestamp")).otherwise(
                    F.lit(" is past 9999-12-31 in UTC")
                ),
            ),
        ),
        check(~F.col("currency").rlike(CURRENCY_CODE), "invalid_currency:currency", values_text("currency_text")),
    ]
    return checks


def with_enrichment() -> Transform:
    """Add ``amount_minor`` (cents), ``is_refund``, ``event_hour`` and ``event_date`` (UTC)."""

    def _(df: DataFrame) -> DataFrame:
        return df.withColumns(
            {
                "amount_minor": (F.col("amount") * 100).cast("long"),
                "is_refund": F.col("amount") < 0,
                "event_hour": F.hour("event_time"),
                "event_date": F.to_date("event_time"),
            }
        )

    return _
