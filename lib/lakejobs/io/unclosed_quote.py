"""Find the record a quote never closed turned into the rest of its file (``--multiline true``).

Read whole, Spark's CSV parser takes a quote opened in a record's **last** field and never closed
as the start of a value that runs to the end of the file: the records after it become text in
that one value and the record parses with the right number of fields, so nothing flags it (opened
in another field, the record has too few fields and is malformed). Such a file holds an odd
number of quote characters, and its last line ends the swallowing value. ``with_unclosed_quote_as_malformed``
finds that record from one scan of the files as lines and gives it a ``_corrupt_record``, so it
is quarantined as ``malformed_record``, its text whole.
"""

import codecs
from typing import TYPE_CHECKING, Sequence, Union

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakejobs.datasets import CsvOptions, Dataset

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

_TAIL = "_file_tail"
_ODD_FILE = "_odd_quotes_file"
#: Trailing blanks and line breaks, which neither the value nor the file's last line is compared by.
_TRAILING_BLANKS = "[\\x00-\\x20]+$"


def quote_count(line: Column, csv: CsvOptions) -> Column:
    """How many of ``csv.quote`` open or close a quoted value in ``line`` (escaped ones are not counted).

    A doubled quote (RFC 4180, the escape being the quote) counts two, so it changes no parity.
    """
    if csv.escape and csv.escape != csv.quote:
        for escaped in (csv.escape + csv.escape, csv.escape + csv.quote):
            line = F.replace(line, F.lit(escaped), F.lit(""))
    return F.length(line) - F.length(F.translate(line, csv.quote, ""))


def is_checked(csv: CsvOptions) -> bool:
    """Whether the files can be checked: read whole, with a quote, in UTF-8 (what Spark's text reader decodes)."""
    try:
        readable = codecs.lookup(csv.encoding).name in ("utf-8", "ascii")
    except LookupError:
        readable = False
    return csv.multiline and csv.quote not in ("", "\u0000") and readable


def with_unclosed_quote_as_malformed(
    spark: "SparkSession", path: Union[str, Sequence[str]], dataset: Dataset, source_file: str, corrupt_record: str
):
    """A transform giving ``_corrupt_record`` to the record an unclosed last-field quote swallowed the file into.

    The record is in a file of an odd number of quotes, and the value of its last field either
    spans lines and ends with the file's last non-blank line, or is the end of that line after a
    quote. Only files of ``path`` with an odd number of quotes are joined to the rows (broadcast).
    """
    csv = dataset.csv
    fields = [F.col(f"`{field.name}`") for field in dataset.schema.fields]
    last = F.regexp_replace(F.coalesce(fields[-1], F.lit("")), _TRAILING_BLANKS, "")
    tail = F.col(_TAIL)
    spans_to_tail = last.contains("\n") & last.endswith(tail)
    ends_tail = tail.endswith(F.concat(F.lit(csv.quote), last))
    options = {"sep": csv.delimiter, "quote": csv.quote, "escape": csv.escape}
    as_read = F.concat(F.to_csv(F.struct(*fields[:-1]), options), F.lit(csv.delimiter + csv.quote), fields[-1])
    if len(fields) == 1:
        as_read = F.concat(F.lit(csv.quote), fields[-1])

    def _(raw_df: "DataFrame") -> "DataFrame":
        odd_df = F.broadcast(_files_of_odd_quotes(spark, path, csv))
        joined_df = raw_df.join(odd_df, raw_df[source_file] == odd_df[_ODD_FILE], "left")
        swallowed = F.col(corrupt_record).isNull() & tail.isNotNull() & (spans_to_tail | ends_tail)
        return joined_df.withColumn(corrupt_record, F.when(swallowed, as_read).otherwise(F.col(corrupt_record))).drop(
            _ODD_FILE, _TAIL
        )

    return _


def _files_of_odd_quotes(spark: "SparkSession", path: Union[str, Sequence[str]], csv: CsvOptions) -> "DataFrame":
    """The files holding an odd number of quotes, with their last non-blank line (trailing blanks dropped).

    A line's place is its split's offset, then its order in the split: splits of one file may be
    read in any order.
    """
    lines_df = spark.read.option("recursiveFileLookup", "true").text(path)
    line = F.regexp_replace(F.col("value"), _TRAILING_BLANKS, "")
    place = F.when(line != "", F.struct(F.input_file_block_start(), F.monotonically_increasing_id()))
    return (
        lines_df.select(F.input_file_name().alias(_ODD_FILE), line.alias("line"), place.alias("place"))
        .groupBy(_ODD_FILE)
        .agg(F.sum(quote_count(F.col("line"), csv)).alias("quotes"), F.max_by("line", "place").alias(_TAIL))
        .filter(F.col("quotes") % 2 == 1)
        .select(_ODD_FILE, _TAIL)
    )
