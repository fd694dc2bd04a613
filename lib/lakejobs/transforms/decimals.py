"""Decimal places of number text, so that a check can refuse a value a cast would round.

Spark's cast of ``'5.555'`` to ``decimal(10,2)`` gives ``5.56`` without a word. These
functions read the places from the text itself, before any cast, for the checks that give
such a value the reason ``too_many_decimals:<column>`` (``field_checks.decimal_checks``: the fx,
taxi and transactions jobs). ``csv_to_parquet`` does not use them: it still rounds, a known
limit (README; measured in bench/HISTORY.md "Session 17").
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


def has_more_decimals_than(text: Column, scale: int) -> Column:
    """True where number text needs more than ``scale`` decimal places (``decimal_places``).

    Null for text that is not a number (the cast's own check reports it). Text that cannot
    need more (no exponent, and at most ``scale`` characters after its point) is passed by
    string searches first, so the regular expressions run only on text that may need them.
    """
    point = F.instr(text, ".")
    may_need_more = ((point > 0) & (F.length(text) - point > scale)) | (F.instr(text, "e") > 0)
    may_need_more = may_need_more | (F.instr(text, "E") > 0)
    return F.when(may_need_more, decimal_places(text) > scale).otherwise(F.when(text.isNotNull(), F.lit(False)))
