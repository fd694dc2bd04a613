"""Read raw CSV as text columns, keeping what is needed to quarantine any row."""

import re
from typing import TYPE_CHECKING, Optional, Sequence

from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs import fs
from lakejobs.datasets import Dataset
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.io import unclosed_quote

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

CORRUPT_RECORD = "_corrupt_record"
SOURCE_FILE = "_source_file"
#: The number of fields of a line of its file, when files differ (``headered_csv``: their header's).
FIELDS_EXPECTED = "_fields_expected"
#: The most fields Spark's CSV parser reads on one line (``maxColumns``; Spark's default, 20,480,
#: made a line of 25,000 commas fail the run instead of being quarantined as malformed). The
#: parser allocates this many slots for every file it opens: 65,536 costs nothing measurable on
#: 3,000 small files, 1,048,576 cost 1 ms a file.
MAX_FIELDS = 65536


def require_known_encoding(spark: "SparkSession", encoding: str) -> None:
    """Raise ``UsageError`` when the session's JVM has no charset named ``encoding``.

    Spark would fail in its first stage instead (``UnsupportedEncodingException``). Java's
    names are the ones that count (``windows-1252``, ``x-UTF-16LE-BOM``), so the JVM decides.
    """
    charset = spark.sparkContext._jvm.java.nio.charset.Charset
    try:
        known = bool(charset.isSupported(encoding))
    except Exception:  # noqa: BLE001 - Java's IllegalCharsetNameException: not a name at all
        known = False
    if not known:
        raise UsageError(
            f"--encoding {encoding!r} is not an encoding Java knows (e.g. UTF-8, ISO-8859-1, windows-1252)"
        )


def raw_schema(dataset: Dataset) -> T.StructType:
    """Every column of ``dataset`` as a nullable string, plus the corrupt-record column."""
    fields = [T.StructField(field.name, T.StringType()) for field in dataset.schema.fields]
    return T.StructType(fields + [T.StructField(CORRUPT_RECORD, T.StringType())])


def read_raw_csv(spark: "SparkSession", path: str, dataset: Dataset) -> "DataFrame":
    """Read the CSV files below ``path`` without typing them.

    Columns come back as strings so that typing happens in ``lakejobs.transforms.validation``
    where every failure gets a reason. A line whose field count differs from the schema keeps
    its raw text in ``_corrupt_record``; ``_source_file`` names the file of every row. Blank
    lines are not records and are skipped, as Spark's CSV reader does. Read whole (``multiline``),
    a record a quote never closed swallowed later lines into gets a ``_corrupt_record`` too
    (``unclosed_quote``; the quotes of such UTF-8 files are counted here, a query run at once,
    while the rows themselves are read only when the caller's query runs). With ``header`` the
    first line of every file must name the schema's columns (so a file without its header
    fails the run, see ``header_mismatch``, instead of losing its first row).

    Parameters
    ----------
    spark : SparkSession
    path : str
        A file or a folder (read recursively) on any Hadoop filesystem.
    dataset : Dataset
        Supplies the column names and the CSV options.
    """
    csv = dataset.csv
    reader = (
        spark.read.schema(raw_schema(dataset))
        .option("header", str(csv.header).lower())
        .option("sep", csv.delimiter)
        .option("quote", csv.quote)
        .option("escape", csv.escape)
        .option("encoding", csv.encoding)
        .option("multiLine", str(csv.multiline).lower())
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
        .option("maxColumns", MAX_FIELDS)
        .option("recursiveFileLookup", "true")
        .option("enforceSchema", str(not csv.header).lower())
    )
    raw_df = reader.csv(path).withColumn(SOURCE_FILE, F.input_file_name())
    if csv.multiline:
        raw_df = raw_df.filter(~_blank_record(dataset))
    if unclosed_quote.is_checked(csv):
        raw_df = raw_df.transform(
            unclosed_quote.with_unclosed_quote_as_malformed(spark, path, dataset, SOURCE_FILE, CORRUPT_RECORD)
        )
    return raw_df


def too_many_fields(error: BaseException) -> Optional[str]:
    """What stopped a run on a line of more than ``MAX_FIELDS`` fields, in one line (None for other errors).

    The parser fails its task on such a line (``ArrayIndexOutOfBoundsException: Index 65536 out of
    bounds``), before the line can be read as a malformed record; the error names no file.
    """
    bound = rf"ArrayIndexOutOfBoundsException: Index {MAX_FIELDS} out of bounds for length {MAX_FIELDS}\b"
    if not re.search(bound, str(error)):
        return None
    return (
        f"a line holds more than {MAX_FIELDS} fields, the most Spark's CSV parser reads, so it cannot even be "
        "quarantined: is the input this CSV, with this delimiter? remove that line; nothing was published"
    )


#: Text of only characters up to U+0020 (spaces, tabs, line breaks): what Java's ``trim`` empties.
_BLANK = "^[\\x00-\\x20]*$"


def _blank_record(dataset: Dataset):
    """A malformed record that is a blank line (only spaces or tabs), as ``multiLine`` parsing returns it.

    Read line by line, Spark skips a line its ``trim`` empties; read whole, its parser returns
    such a line as a record of one field, malformed for a schema of more columns. Records the
    parser reads as the schema's fields stay rows: a one-column file's value of spaces, or a
    tab-separated line of tabs, may be a quoted value, which the parsed row no longer shows.
    """
    corrupt = F.col(CORRUPT_RECORD)
    return corrupt.isNotNull() & corrupt.rlike(_BLANK)


def breaks_lines_with_one_byte(spark: "SparkSession", encoding: str) -> bool:
    """Tell whether ``encoding`` writes a line break as the one byte ``\\n``.

    Spark splits a file into lines at that byte before decoding them, unless it reads each file
    whole (``multiLine``): UTF-16 and UTF-32 (two or four bytes) and EBCDIC (another byte) are
    only read right whole. The JVM's charset decides.
    """
    encoded = spark.sparkContext._jvm.java.nio.charset.Charset.forName(encoding).encode("\n")
    return encoded.remaining() == 1 and encoded.get(0) == ord("\n")


def _same_names_in_another_order(text: str) -> bool:
    """Whether Spark's header complaint lists the schema's names, in another order.

    ``--header false`` would then load the header as a row of data (text columns take it).
    """
    header, schema = re.search(r"Header: (.*)", text), re.search(r"Schema: (.*)", text)
    if not header or not schema:
        return False
    names = [sorted(name.strip().lower() for name in match.group(1).split(",")) for match in (header, schema)]
    return names[0] == names[1]


def header_mismatch(error: BaseException, dataset: Dataset) -> Optional[LakejobsError]:
    """Explain Spark's complaints about a CSV header as one line (None for other errors).

    Spark checks a header against the schema by names ("does not conform to the schema") and by
    count ("Number of column in CSV header is not equal to ..."); both name the file.
    """
    text = str(error)
    source = re.search(r"CSV file: (\S+)", text)
    where = source.group(1) if source else "a file"
    if "CSV header does not conform to the schema" in text:
        found = re.search(r"Expected: (.*?) but found: (.*?)\r?$", text, re.M)
        what = f" (expected {found.group(1)!r}, found {found.group(2)!r})" if found else ""
        problem = (
            f"the first line of {where} does not name the columns{what}; if the file has no header row, pass "
            "--header false; if that line is its header, give the schema the file's column names"
        )
        if found and found.group(2).strip().lower() == found.group(1).lower():  # Spark ignores case, not blanks
            problem = (
                f"the first line of {where} names a column with blanks around it{what}, and Spark compares a "
                "header's names exactly: remove the blanks from that line"
            )
        elif _same_names_in_another_order(text):
            problem = (
                f"the first line of {where} names the schema's columns in another order{what}; "
                "give the schema's columns in the file's order"
            )
    elif "Number of column in CSV header is not equal" in text:
        sizes = re.search(r"Header length: (\d+), schema size: (\d+)", text)
        what = "another number of columns"
        if sizes:
            columns = "1 column" if sizes.group(1) == "1" else f"{sizes.group(1)} columns"
            what = f"{columns} where the schema has {sizes.group(2)}"
        problem = f"the first line of {where} names {what}; give the file's columns in the schema"
    else:
        return None
    return LakejobsError(f"{dataset.name}: --header true, but {problem}; nothing was published")


#: How many of a batch's files ``refuse_header_as_data`` opens (one small read each).
HEADER_CHECKED_FILES = 3


def refuse_header_as_data(spark: "SparkSession", dataset: Dataset, files: Sequence[str]) -> None:
    """Raise ``UsageError`` when, with ``--header false``, a file starts with the schema's column names.

    Read as data, the header line would be a row: quarantined where a column is typed (its
    name is no number or date; ``header_hint`` then explains a failed gate), but published as it
    is when every column is text, which is when this refuses.
    """
    if not all(isinstance(field.dataType, T.StringType) for field in dataset.schema.fields):
        return
    headed = file_with_header(spark, dataset, files)
    if headed is not None:
        raise UsageError(
            f"{dataset.name}: {headed} starts with a line naming the schema's columns, but --header is false: "
            "pass --header true (read as data, that line would be a row)"
        )


def header_hint(spark: "SparkSession", dataset: Dataset, files: Sequence[str]) -> str:
    """``; <file> starts with a header line ...`` when one of ``files`` does (else ``""``), for an error."""
    headed = file_with_header(spark, dataset, files)
    if headed is None:
        return ""
    return (
        f"; {headed} starts with a line naming the schema's columns, read as a row: run the job with --header true "
        "(lakejobs pipeline reads files without a header line: write them without one, e.g. generate without --header)"
    )


def file_with_header(spark: "SparkSession", dataset: Dataset, files: Sequence[str]) -> Optional[str]:
    """The first of ``files`` starting with the schema's column names, when ``--header`` is false.

    The first line of the first ``HEADER_CHECKED_FILES`` files is compared, names matched as
    ``headered_csv.normalized`` does. None when none does, or with ``--header true``.
    """
    from lakejobs.io.headered_csv import first_line, header_fields, normalized

    if dataset.csv.header:
        return None
    names = [normalized(field.name) for field in dataset.schema.fields]
    for path in list(files)[:HEADER_CHECKED_FILES]:
        try:
            line = first_line(spark, path, dataset.csv.encoding)
        except Exception:  # noqa: BLE001 - a hint: a file gone or unreadable since the read tells nothing
            continue
        fields = header_fields(line, dataset.csv.delimiter)
        if [normalized(field) for field in fields] == names:
            return fs.local_path(path)
    return None
