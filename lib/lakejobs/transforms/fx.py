"""FX rates: flatten base -> quote -> date -> {open, high, low, close} documents, type, check.

Flattening is three ``explode_outer`` calls over a ``MapType`` parsed by ``from_json``: the
keys never travel to the driver, whatever currencies a document holds. A document or branch
holding no rate (``{}``, ``{"EUR": {}}``, ``{"EUR": null}``) becomes one row with the reason
``no_rates``, so it is counted and quarantined instead of vanishing in an ``explode``.
"""

from typing import Callable, List

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakejobs.io.csv_reader import SOURCE_FILE
from lakejobs.schemas_field import FX_DOCUMENT, RATE
from lakejobs.transforms.dates import within_calendar_years
from lakejobs.transforms.field_checks import (
    STRICT_JSON,
    Check,
    check,
    decimal_checks,
    json_numbers_as_strings,
    ohlc_checks,
    one_json_value,
    values_text,
)
from lakejobs.transforms.validation import DETAIL, RAW_LINE, REASON

Transform = Callable[[DataFrame], DataFrame]
PRICES = ("open", "high", "low", "close")
#: Pattern of a currency or coin code after upper-casing (USD, BTC, USDT, 1INCH); ``\z``, not
#: ``$``, which in Java also matches before a final line break.
CURRENCY_CODE = r"^[A-Z0-9]{2,12}\z"
#: Characters of an unparsable document kept as its raw line.
RAW_TEXT_LIMIT = 2000
UNPARSABLE_DETAIL = "not a JSON object of base -> quote -> date -> {open, high, low, close}"


def flatten_fx_documents(date_format: str = "yyyy-MM-dd") -> Transform:
    """Turn documents (``_source_file``, ``value``) into one row per base, quote and date.

    A document that is not one such JSON object (Spark's ``from_json`` alone would read the
    first of two objects in a file and drop the second) becomes one row with the reason
    ``unparsable_json``; a document or branch without any date, one with ``no_rates``. Rows
    get ``base``, ``quote`` (upper-cased), ``date_text``, ``<price>_text`` (a JSON number's
    exact text, ``json_numbers_as_strings``), the typed ``date`` and prices, and the
    bookkeeping columns.
    """

    def _(documents_df: DataFrame) -> DataFrame:
        unparsable = F.col("_unparsable").isNotNull()
        empty = F.col("date_text").isNull()
        branch = F.to_json(F.struct("base", "quote"))
        return (
            documents_df.transform(_exploded_documents)
            .select(
                SOURCE_FILE,
                F.upper(F.trim("base")).alias("base"),
                F.upper(F.trim("quote")).alias("quote"),
                "date_text",
                *[F.col(f"_ohlc.{name}").alias(f"{name}_text") for name in PRICES],
                F.when(unparsable, F.col("_unparsable")).when(empty, branch).alias(RAW_LINE),
                F.when(unparsable, F.lit("unparsable_json")).when(empty, F.lit("no_rates")).alias(REASON),
                F.when(unparsable, F.lit(UNPARSABLE_DETAIL))
                .when(empty, F.concat(F.coalesce(branch, F.lit("{}")), F.lit(" holds no date")))
                .alias(DETAIL),
            )
            .withColumns(
                {
                    "date": within_calendar_years(F.to_date("date_text", date_format)),
                    **{name: F.expr(f"try_cast({name}_text AS {RATE.simpleString()})") for name in PRICES},
                }
            )
        )

    return _


def _exploded_documents(documents_df: DataFrame) -> DataFrame:
    """One row per base, quote and date (``_ohlc``), in one pass over the documents.

    The explodes are outer: a document or branch without a date still gives one row, and so
    does an unparsable document, with the start of its text as ``_unparsable`` (null for the
    others, so that a document's text is not copied to each of its rates). Before session 30
    unparsable documents were a second branch of a union, which parsed every document twice.
    """
    document = F.when(one_json_value("value"), F.from_json(json_numbers_as_strings("value"), FX_DOCUMENT, STRICT_JSON))
    unparsable_text = F.when(F.col("_document").isNull(), F.substring("value", 1, RAW_TEXT_LIMIT))
    return (
        documents_df.select(SOURCE_FILE, "value", document.alias("_document"))
        .select(SOURCE_FILE, unparsable_text.alias("_unparsable"), F.explode_outer("_document").alias("base", "_q"))
        .select(SOURCE_FILE, "_unparsable", "base", F.explode_outer("_q").alias("quote", "_days"))
        .select(SOURCE_FILE, "_unparsable", "base", "quote", F.explode_outer("_days").alias("date_text", "_ohlc"))
    )


def rate_checks(date_format: str = "yyyy-MM-dd") -> List[Check]:
    """The checks of a flattened rate row, in priority order."""
    checks = [
        check(~F.col(side).rlike(CURRENCY_CODE), f"invalid_currency:{side}", values_text(side))
        for side in ("base", "quote")
    ]
    checks.append(
        check(
            F.col("date").isNull(),
            "invalid_date:date",
            F.concat(values_text("date_text"), F.lit(f" is not a date in format {date_format}")),
        )
    )
    for name in PRICES:
        checks.append(check(F.col(f"{name}_text").isNull(), f"missing_value:{name}", f"{name} is missing"))
        checks += decimal_checks(name, f"{name}_text", RATE)
    return checks + ohlc_checks(PRICES)
