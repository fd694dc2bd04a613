"""Does a primary key repeat? An exact answer, cheap when the keys are dense integers.

``csv_to_parquet`` checks its staged rows for a repeated key before publishing them. The
general check shuffles every key and counts each (``repeats_by_counting``): a hash table and a
shuffle of every row. Most real keys are dense integers (ids from a sequence), and for them a
cheaper exact check exists (``distinct_by_bits``): each value sets one bit of a 64-bit word,
the words are OR-ed together by a small hash aggregate (one group per 64 values), and the
values are distinct exactly when the bits set add up to the rows. A key of several columns is
distinct when any one of its columns is, so one dense distinct column is enough (an order
line's detail id). When no column qualifies, or the bits show a repeat, the general check gives
the answer; both give the same one.

Measured on the 10M order lines, one JVM: 0.8-1.0 s warm (2.0 s cold) with the words, 1.8-2.9 s
warm (5.5 s cold) with Spark 3.5's 4 KiB bitmaps (``bitmap_construct_agg``, a sort aggregate),
6.7-8.5 s shuffling and counting the packed key. The orders conversion's ``check_keys``
(fresh JVMs, alternating, with the small range aggregate that picks the column): see
``bench/HISTORY.md``, "Session 10".
"""

import logging
from typing import TYPE_CHECKING, Dict, List, Optional

from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs.datasets import Dataset
from lakejobs.transforms.validation import NARROW_INTEGERS, key_for_counting, quote_name

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

LOG = logging.getLogger(__name__)

#: Words a check may always use: at most this many groups in its hash aggregate.
MIN_WORD_BUDGET = 1 << 20
#: Past ``MIN_WORD_BUDGET``, at least this many rows per 64-value word on average, so that
#: counting words stays far cheaper than counting keys.
ROWS_PER_WORD = 4
_INTEGERS = (*NARROW_INTEGERS, T.LongType)


def repeats_a_key(df: "DataFrame", dataset: Dataset) -> bool:
    """Tell whether two rows of ``df`` hold the same ``dataset.primary_key``.

    Parameters
    ----------
    df : DataFrame
        Rows with the dataset's key columns (the staged good rows).
    dataset : Dataset
        Its ``primary_key`` names the columns.

    Returns
    -------
    bool
        True when some key is held by more than one row (null keys count as equal).
    """
    aggregates = key_range_aggregates(df.schema, dataset)
    ranges = df.agg(*aggregates).first().asDict() if aggregates else {}
    column = dense_key_column(df.schema, dataset, ranges)
    if column is not None and distinct_by_bits(df, column):
        LOG.debug("%s: keys distinct by %s's bits", dataset.name, column)
        return False
    return repeats_by_counting(df, dataset)


def key_range_aggregates(schema: T.StructType, dataset: Dataset) -> List["F.Column"]:
    """Aggregates giving the rows and each integer key column's non-null count, min and max.

    Named ``_rows``, ``_count <column>``, ``_min <column>`` and ``_max <column>``.

    Empty when no key column is an integer. Their values, as a dict, are what
    ``dense_key_column`` reads. (Observing them while the staged rows were written, instead of
    this small aggregate afterwards, made the 10M-line staging pass slower: 73.2-77.0 s against
    63.6-68.0 s in session 10; in session 31, fresh JVMs, it saved 0.3 s of ``check_keys`` and
    cost 0.9-1.2 s of staging, bench/HISTORY.md.)
    """
    columns = _integer_key_columns(schema, dataset)
    if not columns:
        return []
    aggregates = [F.count(F.lit(1)).alias("_rows")]
    for column in columns:
        value = F.col(quote_name(column)).cast("long")
        aggregates += [
            F.count(value).alias(f"_count {column}"),
            F.min(value).alias(f"_min {column}"),
            F.max(value).alias(f"_max {column}"),
        ]
    return aggregates


def dense_key_column(schema: T.StructType, dataset: Dataset, ranges: Dict[str, int]) -> Optional[str]:
    """The key column best checked with ``distinct_by_bits``, or None when none can be.

    A column qualifies when it has no null, spans at least as many values as there are rows
    (fewer values must repeat) and needs few enough words (``MIN_WORD_BUDGET``,
    ``ROWS_PER_WORD``); the densest one is chosen. ``ranges`` holds the values of
    ``key_range_aggregates``.
    """
    rows = ranges.get("_rows") or 0
    budget = max(MIN_WORD_BUDGET, rows // ROWS_PER_WORD)
    spans: Dict[str, int] = {}
    for column in _integer_key_columns(schema, dataset):
        if rows == 0 or ranges.get(f"_count {column}") != rows:
            continue
        span = ranges[f"_max {column}"] - ranges[f"_min {column}"] + 1
        if span >= rows and span // 64 + 1 <= budget:
            spans[column] = span
    return min(spans, key=spans.get) if spans else None


def _integer_key_columns(schema: T.StructType, dataset: Dataset) -> List[str]:
    types = {field.name: field.dataType for field in schema.fields}
    return [key for key in dataset.primary_key if isinstance(types.get(key), _INTEGERS)]


def distinct_by_bits(df: "DataFrame", column: str) -> bool:
    """Tell whether ``column`` (an integer without nulls) holds no value twice.

    Value ``v`` sets bit ``v & 63`` of word ``v >> 6``; per word the bits are OR-ed and the
    rows counted. The values are distinct exactly when, over all words, the bits set equal the
    rows. A hash aggregate with one small group per word: no sort, and each task sends one row
    per word it saw.
    """
    value = F.col(quote_name(column)).cast("long")
    bit = F.expr(f"shiftleft(1L, cast({quote_name(column)} & 63 AS INT))")
    per_word = df.groupBy(F.shiftright(value, 6).alias("_word")).agg(
        F.count(F.lit(1)).alias("_rows"), F.bit_count(F.bit_or(bit)).alias("_distinct")
    )
    totals = per_word.agg(F.sum("_rows").alias("rows"), F.sum("_distinct").alias("distinct")).first()
    return totals["rows"] == totals["distinct"]


def repeats_by_counting(df: "DataFrame", dataset: Dataset) -> bool:
    """The general check: shuffle the keys, count each, look for a count above one.

    The keys are shuffled before they are counted: keys are almost all unique, so counting
    them in each task first (Spark's partial aggregate) would reduce nothing and cost a hash
    table of every key. The shuffle keeps ``spark.sql.shuffle.partitions`` partitions; left to
    AQE it was coalesced and slower. Measured at 10M orders keys, same JVM, alternating:
    7.3-8.3 s shuffled first, 8.3-9.8 s counted first, 11.9-14.4 s shuffled and coalesced.
    Two-integer keys are packed into one long first (``key_for_counting``).
    """
    key_df = df.select(*key_for_counting(dataset))
    keys = [F.col(quote_name(column)) for column in key_df.columns]
    partitions = int(df.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    repeats = key_df.repartition(partitions, *keys).groupBy(*keys).count().filter(F.col("count") > 1)
    return not repeats.isEmpty()
