"""Stock prices: the ticker of per-ticker files, price checks, daily return and moving average."""

from typing import Callable, List

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakejobs.io.input_folder import CODEC_SUFFIXES
from lakejobs.transforms.field_checks import Check, check, ohlc_checks, values_text

Transform = Callable[[DataFrame], DataFrame]
PRICES = ("open", "high", "low", "close", "adj_close")
#: Rows in the moving-average window: today and the 6 trading days before.
MOVING_AVERAGE_ROWS = 7
#: Columns the job adds to every row.
DERIVED = ("daily_return", "close_ma_7d")
#: A compression suffix Spark reads through (other codecs' files are refused before any read).
_COMPRESSION_SUFFIX = rf"\.({'|'.join(CODEC_SUFFIXES)})$"


def ticker_from_file_name() -> Column:
    """The ticker of a per-ticker file: its name without extensions, upper-cased.

    ``.../AAPL.csv`` -> ``AAPL``; ``.../BRK-B.csv.gz`` -> ``BRK-B``; Stooq's ``aapl.us.txt``
    -> ``AAPL.US``; ``^GSPC.csv`` -> ``^GSPC`` and ``BRK B.csv`` -> ``BRK B``: Spark gives the
    file as a URI (``%5EGSPC.csv``, ``BRK%20B.csv``), decoded here. ``url_decode`` would read
    ``+`` as a space, but a URI path keeps ``+`` literally, so ``+`` is protected first.
    """
    encoded = F.regexp_extract(F.input_file_name(), r"([^/]+)$", 1)
    name = F.url_decode(F.regexp_replace(encoded, r"\+", "%2B"))
    without_compression = F.regexp_replace(name, _COMPRESSION_SUFFIX, "")
    return F.upper(F.regexp_replace(without_compression, r"\.[^.]*$", ""))


def with_normalized_ticker() -> Transform:
    """Trim and upper-case ``ticker`` (``aapl `` and ``AAPL`` are one series)."""

    def _(df: DataFrame) -> DataFrame:
        return df.withColumn("ticker", F.upper(F.trim("ticker")))

    return _


def price_checks() -> List[Check]:
    """The checks of a typed price row, in priority order.

    A blank ticker (spaces only) is a null key once ``with_normalized_ticker`` trimmed it.
    """
    blank_ticker = check(F.col("ticker") == F.lit(""), "null_key:ticker", F.lit("ticker is blank"))
    return [blank_ticker, *ohlc_checks(PRICES), check(F.col("volume") < 0, "negative_volume", values_text("volume"))]


def with_daily_metrics() -> Transform:
    """Add ``daily_return`` and ``close_ma_7d`` per ticker, in date order.

    ``daily_return = close / previous close - 1`` (as double; null on a ticker's first row).
    ``close_ma_7d`` is the mean close of the row and the 6 rows before it (trading days, not
    calendar days), as a decimal; null until a ticker has 7 rows.
    """

    def _(df: DataFrame) -> DataFrame:
        by_date = Window.partitionBy("ticker").orderBy("date")
        last_7 = by_date.rowsBetween(-(MOVING_AVERAGE_ROWS - 1), 0)
        previous_close = F.lag("close").over(by_date)
        return df.withColumns(
            {
                "daily_return": F.col("close").cast("double") / previous_close.cast("double") - F.lit(1.0),
                "close_ma_7d": F.when(
                    F.count(F.lit(1)).over(last_7) == MOVING_AVERAGE_ROWS, F.avg("close").over(last_7)
                ),
            }
        )

    return _
