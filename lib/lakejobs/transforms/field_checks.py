"""Row checks after typing: the first failing check gives a row its quarantine reason.

Works on the frames of ``lakejobs.transforms.validation.with_typed_columns`` (or any frame
with ``_reason``, ``_detail`` and ``_raw_line``): rows that already have a reason keep it;
the others get the reason of the first check they fail, a detail, and their values as JSON
as ``_raw_line`` when they have no raw line yet.
"""

from typing import Callable, List, NamedTuple, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakejobs.datasets import RESERVED_COLUMNS
from lakejobs.transforms.validation import DETAIL, RAW_LINE, REASON

Transform = Callable[[DataFrame], DataFrame]
#: Bookkeeping columns that are not data (left out of ``_raw_line``).
BOOKKEEPING = RESERVED_COLUMNS


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
        parts.extend([F.lit(prefix), F.coalesce(F.col(name).cast("string"), F.lit("null"))])
    return F.concat(*parts)


def one_json_value(column: str) -> Column:
    """True where ``column`` holds exactly one JSON value (false for none, two, or trailing text).

    Spark's ``from_json`` reads the first value and ignores what follows it, so ``{..}{..}``
    or a file of JSON lines would lose all but its first object. Wrapped in brackets, the
    text is a JSON array of one element only if it held exactly one value.
    """
    wrapped = F.concat(F.lit("["), F.col(column), F.lit("]"))
    return F.coalesce(F.json_array_length(wrapped) == 1, F.lit(False))


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
                RAW_LINE: F.when(fresh & F.col(RAW_LINE).isNull(), F.to_json(F.struct(*data))).otherwise(
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
