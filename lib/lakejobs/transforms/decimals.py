"""Decimal places of number text, so that a check can refuse a value a cast would round.

Spark's cast of ``'5.555'`` to ``decimal(10,2)`` gives ``5.56`` without a word. These
functions read the places from the text itself, before any cast, for the checks that give
such a value the reason ``too_many_decimals:<column>``: ``validation.with_typed_columns``
(csv_to_parquet, stock_prices) and ``field_checks.decimal_checks`` (the fx, taxi and
transactions jobs).
"""

from pyspark.sql import Column
from pyspark.sql import functions as F

#: A number as Spark's cast to decimal reads it: sign, digits, fraction digits, exponent.
DECIMAL_TEXT = r"^\s*[+-]?([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?)0*([0-9]+))?\s*$"


def decimal_places(text: Column) -> Column:
    """The decimal places a number's text needs, trailing zeros aside; null if not plain number text.

    ``1.50`` -> 1, ``1e-3`` -> 3, ``1000e-4`` -> 1, ``12E2`` -> 0, ``0.000`` -> 0. Computed on the
    text, so nothing is rounded on the way (a cast to a decimal rounds to its scale).
    """
    fraction = F.regexp_extract(text, DECIMAL_TEXT, 2)
    digits = F.concat(F.regexp_extract(text, DECIMAL_TEXT, 1), fraction)
    significant = F.regexp_replace(digits, "0+$", "")
    exponent_digits = F.regexp_extract(text, DECIMAL_TEXT, 4)
    exponent_text = F.concat(F.regexp_extract(text, DECIMAL_TEXT, 3), exponent_digits)
    # 18 digits always fit a bigint; a longer exponent (leading zeros aside) fails the cast to decimal.
    exponent = F.when(exponent_digits == "", F.lit(0)).when(
        F.length(exponent_digits) <= 18, exponent_text.cast("bigint")
    )
    places = F.length(fraction) - (F.length(digits) - F.length(significant)) - exponent
    return F.when(text.rlike(DECIMAL_TEXT), F.when(significant == "", F.lit(0)).otherwise(F.greatest(places, F.lit(0))))


def would_round(text: Column, cast: Column, scale: int) -> Column:
    """True where ``cast``, Spark's cast of number text to a decimal of ``scale``, rounds it; never null.

    That is text needing more places than the scale (``decimal_places``), and text the cast reads
    whose places cannot be read from it: the cast also reads digits of other scripts (an
    Arabic-Indic five, a point and ``555`` cast to ``5.56``), which ``decimal_places`` does not,
    and such text is never passed unread. Text that cannot need more (no exponent, and at most
    ``scale`` octets after its point) is passed by cheap byte searches first, so the regular
    expressions run only on text that may need them. ``contains`` is a tight loop over the
    bytes; ``instr`` compares at every position, and searching for the exponent with it cost
    three times as much (bench/HISTORY.md "Session 18").
    """
    point = F.instr(text, ".")
    # Octets after the point: never fewer than its characters, so no text that needs more is passed.
    may_need_more = ((point > 0) & (F.octet_length(text) - point > scale)) | text.contains("e") | text.contains("E")
    read = F.coalesce(decimal_places(text) > scale, cast.isNotNull())
    return F.coalesce(F.when(may_need_more, read), F.lit(False))


def beyond_ascii(text: Column) -> Column:
    """True where number text holds a character beyond ASCII (null for null text).

    Spark's cast to decimal reads digits of other scripts (fullwidth ``１２``, Arabic-Indic
    ``١٢`` cast to 12), where its casts to the integer types refuse them; until session 48 such
    a decimal was published. Such text has more octets than characters.
    """
    return F.octet_length(text) != F.length(text)
