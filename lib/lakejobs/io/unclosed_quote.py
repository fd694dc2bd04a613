"""Find the record a quote never closed turned later lines into (``--multiline true``).

Read whole, Spark's CSV parser takes a quote never closed as the start of a value that runs on:
to the end of the file, or to a later quote that the delimiter does not follow, where it reads
on without the quotes' meaning. The records in between become text in that value, and when the
record still has the right number of fields (the quote opened in its last field, or the value
stopped so), nothing flags it: it was published, the later records' lines inside it. Such a
file holds an odd number of quote characters. ``with_unclosed_quote_as_malformed`` counts them
per file (one scan of the files as lines) and, in an odd file, gives that record a
``_corrupt_record``, so it is quarantined as ``malformed_record`` with the lines it holds.
"""

import codecs
from functools import reduce
from typing import TYPE_CHECKING, List, Sequence, Tuple, Union

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakejobs.datasets import CsvOptions, Dataset

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

_TAIL = "_file_tail"
_ODD_FILE = "_odd_quotes_file"
#: Trailing blanks and line breaks, which neither the value nor the file's last line is compared by.
_TRAILING_BLANKS = "[\\x00-\\x20]+$"
#: A line break (CR or LF) inside a value.
_LINE_BREAK = "[\\r\\n]"


def quote_count(line: Column, csv: CsvOptions) -> Column:
    """How many of ``csv.quote`` open or close a quoted value in ``line`` (escaped ones are not counted).

    A doubled quote (RFC 4180, the escape being the quote) counts two, so it changes no parity.
    """
    if csv.escape and csv.escape != csv.quote:
        for escaped in (csv.escape + csv.escape, csv.escape + csv.quote):
            line = F.replace(line, F.lit(escaped), F.lit(""))
    return F.length(line) - F.length(F.translate(line, csv.quote, ""))


def quotes_values(csv: CsvOptions) -> bool:
    """Whether ``csv`` quotes values at all (``--quote ''`` or NUL turns quoting off)."""
    return csv.quote not in ("", "\u0000")


def is_checked(csv: CsvOptions) -> bool:
    """Whether the files can be checked: read whole, with a quote, in UTF-8 (what Spark's text reader decodes)."""
    try:
        readable = codecs.lookup(csv.encoding).name in ("utf-8", "ascii")
    except LookupError:
        readable = False
    return csv.multiline and quotes_values(csv) and readable


def with_unclosed_quote_as_malformed(
    spark: "SparkSession", path: Union[str, Sequence[str]], dataset: Dataset, source_file: str, corrupt_record: str
):
    """A transform giving ``_corrupt_record`` to a record an unclosed quote swallowed later lines into.

    Only in a file of an odd number of quotes (``_odd_files``, computed here, once). There a
    record is taken for one when a value spans lines and still starts with the quote (the parser
    stopped the quoted value at a later quote not followed by the delimiter and read on without
    it: a value it unquotes never keeps its opening quote), or when its last value spans lines and
    ends with the file's last non-blank line, or is the end of that line after a quote (the quote
    ran to the end of the file). Its ``_corrupt_record`` is its fields joined by the delimiter,
    the last one's opening quote back.
    """
    csv = dataset.csv
    fields = [F.col(f"`{field.name}`") for field in dataset.schema.fields]
    last_text = F.coalesce(fields[-1], F.lit(""))
    last = F.regexp_replace(last_text, _TRAILING_BLANKS, "")
    tail = F.col(_TAIL)
    spans_to_tail = last.rlike(_LINE_BREAK) & last.endswith(tail)
    ends_tail = tail.endswith(F.concat(F.lit(csv.quote), last))
    kept_quote = [F.coalesce(field.startswith(csv.quote) & field.rlike(_LINE_BREAK), F.lit(False)) for field in fields]
    reopened = F.when(last_text.startswith(csv.quote), last_text).otherwise(F.concat(F.lit(csv.quote), last_text))
    as_read = F.concat_ws(csv.delimiter, *[F.coalesce(field, F.lit("")) for field in fields[:-1]], reopened)

    def _(raw_df: "DataFrame") -> "DataFrame":
        odd = _odd_files(spark, path, csv)
        if not odd:
            return raw_df
        odd_df = F.broadcast(spark.createDataFrame(odd, f"{_ODD_FILE} string, {_TAIL} string"))
        joined_df = raw_df.join(odd_df, raw_df[source_file] == odd_df[_ODD_FILE], "left")
        in_odd_file = F.col(_ODD_FILE).isNotNull()
        swallowed = reduce(lambda left, right: left | right, kept_quote, spans_to_tail | ends_tail)
        bad = F.col(corrupt_record).isNull() & in_odd_file & F.coalesce(swallowed, F.lit(False))
        marked_df = joined_df.withColumn(corrupt_record, F.when(bad, as_read).otherwise(F.col(corrupt_record)))
        return marked_df.drop(_ODD_FILE, _TAIL)

    return _


def _odd_files(spark: "SparkSession", path: Union[str, Sequence[str]], csv: CsvOptions) -> List[Tuple[str, str]]:
    """(file, its last non-blank line) of each file holding an odd number of quotes; usually none.

    Two small queries, run here once: the quotes counted per file (a hash aggregate over the
    lines), then, only when a file is odd, the last line of each odd one (a line's place is its
    split's offset, then its order in the split: splits of one file may be read in any order).
    The answers are a few file names and lines, not rows of data.
    """
    lines_df = spark.read.option("recursiveFileLookup", "true").text(path)
    line = F.regexp_replace(F.col("value"), _TRAILING_BLANKS, "")
    counted_df = lines_df.select(F.input_file_name().alias(_ODD_FILE), quote_count(line, csv).alias("quotes"))
    odd_df = counted_df.groupBy(_ODD_FILE).agg(F.sum("quotes").alias("quotes")).filter(F.col("quotes") % 2 == 1)
    odd = [row[_ODD_FILE] for row in odd_df.select(_ODD_FILE).collect()]
    if not odd:
        return []
    place = F.when(line != "", F.struct(F.input_file_block_start(), F.monotonically_increasing_id()))
    tails_df = (
        lines_df.select(F.input_file_name().alias(_ODD_FILE), line.alias("line"), place.alias("place"))
        .filter(F.col(_ODD_FILE).isin(odd))
        .groupBy(_ODD_FILE)
        .agg(F.max_by("line", "place").alias(_TAIL))
    )
    return [(row[_ODD_FILE], row[_TAIL]) for row in tails_df.collect()]
