"""Row checks after typing: the first failing check gives a row its quarantine reason.

Works on the frames of ``lakejobs.transforms.validation.with_typed_columns`` (or any frame
with ``_reason``, ``_detail`` and ``_raw_line``): rows that already have a reason keep it;
the others get the reason of the first check they fail, a detail, and their values as JSON
as ``_raw_line`` when they have no raw line yet (null fields kept).
"""

import re
from typing import Callable, List, NamedTuple, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs.datasets import RESERVED_COLUMNS
from lakejobs.transforms.decimals import beyond_ascii, would_round
from lakejobs.transforms.validation import DETAIL, RAW_LINE, REASON, quote_name, value_text

Transform = Callable[[DataFrame], DataFrame]
#: Bookkeeping columns that are not data (left out of ``_raw_line``).
BOOKKEEPING = RESERVED_COLUMNS
#: ``to_json`` options keeping a null field (``"ehail_fee":null``): the record whole, every key.
WITH_NULLS = {"ignoreNullFields": "false"}


class Check(NamedTuple):
    """A rule: rows where ``is_bad`` is true get ``reason`` and ``detail``."""

    is_bad: Column
    reason: str
    detail: Column


def check(is_bad: Column, reason: str, detail) -> Check:
    """Build a ``Check``; ``detail`` may be a string or a Column."""
    return Check(is_bad, reason, detail if isinstance(detail, Column) else F.lit(detail))


def values_text(*columns: str) -> Column:
    """``name=value, ...`` of some columns, for details (``null`` for nulls)."""
    parts = []
    for index, name in enumerate(columns):
        prefix = ("" if index == 0 else ", ") + f"{name}="
        parts.extend([F.lit(prefix), F.coalesce(value_text(name), F.lit("null"))])
    return F.concat(*parts)


def one_json_value(column: str) -> Column:
    """True where ``column`` holds exactly one JSON value (false for none, two, or trailing text).

    Spark's ``from_json`` reads the first value and ignores what follows it, so ``{..}{..}``
    or a file of JSON lines would lose all but its first object. Wrapped in brackets, the
    text is a JSON array of one element only if it held exactly one value, except when a
    ``]`` follows that value: ``json_array_length`` stops at the first closing bracket, so
    ``{..}]{..}`` also reads as one element. A text holding a ``]`` is therefore wrapped a
    second time, followed by a second element (``[text,0]``), which must then count two: the
    first wrapping needs ``]`` right after the first value, the second a ``,``.
    """
    text = F.col(column)

    def elements(after: str) -> Column:
        return F.json_array_length(F.concat(F.lit("["), text, F.lit(after)))

    closes_early = text.contains("]") & (elements(",0]") != 2)
    return F.coalesce((elements("]") == 1) & ~closes_early, F.lit(False))


#: ``from_json`` options for standard JSON only. By default Spark also reads single-quoted
#: names and strings, which the quoting of numbers below does not know: ``{'amount': 1.005}``
#: would reach the decimal through a double (1.005 read as 1.00 or 1.01, not refused).
STRICT_JSON = {"allowSingleQuotes": "false"}
#: A JSON number's text, read possessively.
_JSON_NUMBER = r"-?(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][+-]?[0-9]++)?+"
#: One token of JSON text per match, each match starting where the last ended (``\G``): text
#: that is neither a string nor a number, then a string (kept), a number (marked) or a lone ``-``
#: (``-Infinity``). One token per match keeps the regex engine's recursion shallow on big documents.
_JSON_TOKEN = r'\G([^"0-9-]*+)(?:("[^"\\]*+(?:\\.[^"\\]*+)*+")' + f"|({_JSON_NUMBER})|(-))"
#: Marks around a number: control characters a valid JSON text never holds unescaped.
_OPEN, _CLOSE = "\u0001", "\u0002"


def json_numbers_as_strings(column: str) -> Column:
    """The JSON text of ``column`` with every number quoted: ``{"a": 1.10}`` -> ``{"a": "1.10"}``.

    Spark's JSON parser turns a number read into a string field into a double first
    (``12345678.123456789012`` -> ``1.234567812345679E7``); quoted, the number keeps its exact
    text, to be cast to a decimal. Strings (keys included) are left as they are, and so is text
    that is not valid JSON (a number like ``01`` or ``1.`` becomes invalid JSON again). Text
    holding the marker characters U+0001 or U+0002 (never valid JSON) is not changed.
    """
    marked = F.regexp_replace(F.col(column), _JSON_TOKEN, f"$1$2{_OPEN}$3{_CLOSE}$4")
    quoted = F.translate(F.regexp_replace(marked, _OPEN + _CLOSE, ""), _OPEN + _CLOSE, '""')
    return F.when(F.col(column).rlike(f"[{_OPEN}{_CLOSE}]"), F.col(column)).otherwise(quoted)


def json_numbers_of_keys_as_strings(column: str, keys: Sequence[str]) -> Column:
    """``json_numbers_as_strings`` for the values of ``keys`` only: ``{"a": 1.10}`` -> ``{"a": "1.10"}``.

    For JSON whose numbers that matter are the values of a few known keys (a transaction's
    ``amount``): one match per such value, where ``json_numbers_as_strings`` matches every
    token of the text (15.2 s of 23.1 s parsing 2M transactions, bench/HISTORY.md "Session 29").
    A key is recognised at any depth, as its text spells it: one written with escapes
    (``"\\u0061mount"``) is not, and its number reaches Spark's parser unquoted. A number
    followed by more number characters (``01``, ``1.``) is left as it is: invalid JSON.
    """
    names = "|".join(re.escape(key) for key in keys)
    pattern = f'("(?:{names})"\\s*+:\\s*+)({_JSON_NUMBER})(?![0-9.eE+-])'
    return F.regexp_replace(F.col(column), pattern, '$1"$2"')


def decimal_checks(column: str, text_column: str, data_type: T.DecimalType) -> List[Check]:
    """The checks of a decimal typed from ``text_column``: it casts, and without rounding.

    ``invalid_decimal:<column>`` where the text does not cast to ``data_type`` or holds digits of
    other scripts (``decimals.beyond_ascii``);
    ``too_many_decimals:<column>`` where it has more decimal places than the type's scale (the
    cast would round it silently).
    """
    scale = data_type.scale
    typed = F.expr(f"try_cast({quote_name(text_column)} AS {data_type.simpleString()})")
    return [
        check(
            F.col(text_column).isNotNull() & (typed.isNull() | beyond_ascii(F.col(text_column))),
            f"invalid_decimal:{column}",
            values_text(text_column),
        ),
        check(
            would_round(F.col(text_column), typed, scale),
            f"too_many_decimals:{column}",
            F.concat(values_text(text_column), F.lit(f" has more than {scale} decimals")),
        ),
    ]


def ohlc_checks(prices: Sequence[str]) -> List[Check]:
    """Checks of an open/high/low/close row: prices positive, high >= low, open and close within them."""
    checks = [check(F.col(name) <= 0, f"non_positive_price:{name}", values_text(name)) for name in prices]
    checks.append(check(F.col("high") < F.col("low"), "high_below_low", values_text("high", "low")))
    checks += [
        check(
            (F.col(name) > F.col("high")) | (F.col(name) < F.col("low")),
            f"price_outside_range:{name}",
            values_text(name, "low", "high"),
        )
        for name in ("open", "close")
    ]
    return checks


def with_failed_checks(checks: Sequence[Check]) -> Transform:
    """Give each row without a reason the reason and detail of its first failing check.

    A check whose condition is null (a null input) does not fail. Rows given a reason here
    and lacking a raw line get their data columns as a JSON object.
    """

    def _(df: DataFrame) -> DataFrame:
        if not checks:
            return df
        failed = F.coalesce(*[F.when(c.is_bad, F.lit(c.reason)) for c in checks], F.lit(None).cast("string"))
        detail = F.coalesce(*[F.when(c.is_bad, c.detail) for c in checks], F.lit(None).cast("string"))
        data = [F.col(name) for name in df.columns if name not in BOOKKEEPING]
        fresh = F.col(REASON).isNull() & failed.isNotNull()
        return df.withColumns(
            {
                RAW_LINE: F.when(fresh & F.col(RAW_LINE).isNull(), F.to_json(F.struct(*data), WITH_NULLS)).otherwise(
                    F.col(RAW_LINE)
                ),
                DETAIL: F.when(fresh, detail).otherwise(F.col(DETAIL)),
                REASON: F.coalesce(F.col(REASON), failed),
            }
        )

    return _


def filter_good(columns: Sequence[str]) -> Transform:
    """Keep the rows without a reason, with exactly ``columns``."""

    def _(df: DataFrame) -> DataFrame:
        return df.filter(F.col(REASON).isNull()).select(*columns)

    return _
