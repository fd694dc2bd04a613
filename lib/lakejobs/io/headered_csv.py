"""Read headered CSV files whose columns are found by name, not by position.

Real downloads do not agree on column order or spelling: TLC taxi files gained
``congestion_surcharge`` in 2019, Yahoo writes ``Adj Close``, Stooq has no adjusted close.
``read_headered_csv`` reads the first line of every input file, groups the files by header,
reads each group with a schema of text columns in that file's order, and renames them to the
dataset's columns (matching case-, space- and underscore-insensitively, plus aliases). The
result has the columns ``lakejobs.io.csv_reader.read_raw_csv`` gives, so
``lakejobs.transforms.validation.with_typed_columns`` types it.
"""

import csv
import logging
import re
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence, Tuple

from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs import fs
from lakejobs.datasets import Dataset
from lakejobs.errors import UsageError
from lakejobs.io.csv_reader import CORRUPT_RECORD, FIELDS_EXPECTED, MAX_FIELDS, SOURCE_FILE
from lakejobs.io.input_folder import input_data_files
from lakejobs.transforms.stages import end_generated_stage
from lakejobs.transforms.validation import quote_name

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame, SparkSession

LOG = logging.getLogger(__name__)
#: The characters Java's ``String.trim`` removes (code points up to U+0020).
JAVA_TRIMMED = "".join(map(chr, range(0x21)))


def normalized(name: str) -> str:
    """A header name reduced for matching: ``Adj Close`` -> ``adjclose``, ``VendorID`` -> ``vendorid``."""
    return re.sub(r"[^a-z0-9]", "", name.strip().lstrip("\ufeff").lower())


def first_line(spark: "SparkSession", path: str, encoding: str = "UTF-8") -> str:
    """The first non-blank line of a file on any Hadoop filesystem, decompressing ``.gz`` and the like.

    Blank lines before it are skipped, as Spark's CSV reader skips them before the header: a
    line is blank when Java's ``trim`` empties it (``JAVA_TRIMMED``; Python's ``strip`` also
    takes a no-break space, and a line of one was then skipped here but read as the header by
    Spark); an empty or all-blank file gives ``""``.
    """
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    stream = hadoop_path.getFileSystem(conf).open(hadoop_path)
    try:
        codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(conf).getCodec(hadoop_path)
        source = codec.createInputStream(stream) if codec is not None else stream
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(source, encoding))
        line = reader.readLine()
        while line is not None and not line.strip(JAVA_TRIMMED):
            line = reader.readLine()
        return line or ""
    finally:
        stream.close()


def header_fields(line: str, delimiter: str) -> Tuple[str, ...]:
    """The names in a header line (quoted as CSV)."""
    return tuple(next(csv.reader([line], delimiter=delimiter), []))


def raw_column_names(header: Sequence[str]) -> List[str]:
    """Names for the raw text columns: the header's own when usable, else ``_c0``, ``_c1``, ...

    Using the header's names keeps Spark's header check quiet; repeated or empty names (or
    one clashing with the bookkeeping columns) fall back to positions.
    """
    lowered = [name.lower() for name in header]
    usable = all(lowered) and len(set(lowered)) == len(lowered)
    usable = usable and not {CORRUPT_RECORD, SOURCE_FILE} & set(lowered)
    return list(header) if usable else [f"_c{index}" for index in range(len(header))]


def column_positions(
    header: Sequence[str], dataset: Dataset, aliases: Mapping[str, str], source: str = "a file"
) -> Tuple[Dict[str, int], List[str]]:
    """Map each dataset column to its position in ``header``; also list the unused header names.

    Raises ``UsageError`` naming ``source`` when two header names match one column
    (``Fare Amount`` and ``fare_amount``): which one holds the values cannot be told.
    """
    wanted = {normalized(field.name): field.name for field in dataset.schema.fields}
    wanted.update({alias: column for alias, column in aliases.items() if normalized(column) in wanted})
    positions: Dict[str, int] = {}
    unused = []
    for index, name in enumerate(header):
        column = wanted.get(normalized(name))
        if column is not None and column in positions:
            raise UsageError(
                f"{source}: the header has two columns for {column}: {header[positions[column]]!r} and {name!r}; "
                "keep one of them"
            )
        if column is not None:
            positions[column] = index
        else:
            unused.append(name)
    return positions, unused


def read_headered_csv(
    spark: "SparkSession",
    path: str,
    dataset: Dataset,
    optional: Sequence[str] = (),
    aliases: Optional[Mapping[str, str]] = None,
    fill_missing: Optional[Mapping[str, "Column"]] = None,
    files: Optional[Sequence[fs.FileInfo]] = None,
) -> Tuple["DataFrame", Dict[str, object]]:
    """Read headered CSV files as the dataset's columns, all text.

    Parameters
    ----------
    spark : SparkSession
    path : str
        A file or folder (read recursively).
    dataset : Dataset
        Column names and CSV options (its ``header`` setting is ignored: files have one).
    optional : sequence of str
        Columns a file may lack; they are null for its rows.
    aliases : mapping, optional
        Normalized header name -> column, for other spellings.
    fill_missing : mapping, optional
        Column -> expression giving the column when a file lacks it (e.g. the ticker from
        the file name).
    files : sequence of FileInfo, optional
        The data files below ``path`` when the caller listed them already
        (``input_folder.input_data_files``); listed here otherwise.

    Returns
    -------
    tuple
        The frame (dataset columns as strings, ``_corrupt_record``, ``_source_file``, and
        ``_fields_expected``: the number of names in the file's header, which a malformed line's
        detail gives) and a description of the headers found (for the job result).

    Raises
    ------
    UsageError
        When there are no files, or a file lacks a required column. Files that all lack a
        header line (emptied) give a frame of no row.
    """
    listed = input_data_files(spark, path) if files is None else files
    groups = _files_by_header(spark, path, [info.path for info in listed], dataset)
    if not groups:  # every file emptied since: no row, and the job still clears what their earlier loads left
        return _no_rows(spark, dataset), {"headers": 0, "ignored_columns": []}
    frames, ignored = [], set()
    for header, files in groups.items():
        positions, unused = column_positions(header, dataset, aliases or {}, files[0])
        ignored.update(unused)
        _require_columns(dataset, positions, optional, fill_missing or {}, files[0], header)
        frames.append(_read_group(spark, files, header, positions, dataset, fill_missing or {}))
    union_df = frames[0]
    for frame in frames[1:]:
        union_df = union_df.unionByName(frame)
    if len(frames) > 1:
        union_df = _one_stage_after(union_df)
    return union_df, {"headers": len(groups), "ignored_columns": sorted(ignored)}


def _one_stage_after(union_df: "DataFrame") -> "DataFrame":
    """The union of the header groups, observed, so that what follows is one generated stage.

    Spark pushes the work done on a union into each of its inputs: every header layout would
    type and check its rows in a class of its own, each for the JIT to compile. An observation
    ends a generated stage and is not pushed through. Measured on 3M taxi trips in two layouts,
    fresh JVMs, alternating: 53.8 s against 50.0 s median (bench/HISTORY.md "Session 28").
    """
    return end_generated_stage(union_df, "headered_rows")


def _files_by_header(spark, path: str, files: Sequence[str], dataset: Dataset) -> Dict[Tuple[str, ...], List[str]]:
    if not files:
        raise UsageError(f"no data files below {path}")
    groups: Dict[Tuple[str, ...], List[str]] = {}
    for file in files:
        header = header_fields(first_line(spark, file, dataset.csv.encoding), dataset.csv.delimiter)
        if header:
            groups.setdefault(header, []).append(file)
        else:
            LOG.warning("skipping %s: it has no header line, hence no rows", file)
    return groups


def _no_rows(spark, dataset: Dataset) -> "DataFrame":
    """A frame of no row, with the columns ``_read_group`` gives (all text)."""
    names = [field.name for field in dataset.schema.fields] + [CORRUPT_RECORD, SOURCE_FILE]
    fields = [T.StructField(name, T.StringType()) for name in names]
    return spark.createDataFrame([], T.StructType(fields + [T.StructField(FIELDS_EXPECTED, T.IntegerType(), False)]))


def _require_columns(dataset, positions, optional, fill_missing, example: str, header) -> None:
    missing = [
        field.name
        for field in dataset.schema.fields
        if field.name not in positions and field.name not in optional and field.name not in fill_missing
    ]
    if missing:
        raise UsageError(
            f"{example}: the header has no column for {', '.join(missing)} (header: {', '.join(header) or 'empty'})"
        )


def _read_group(spark, files, header, positions, dataset: Dataset, fill_missing) -> "DataFrame":
    csv_options = dataset.csv
    names = raw_column_names(header)
    raw_fields = [T.StructField(name, T.StringType()) for name in names]
    raw_df = (
        spark.read.schema(T.StructType(raw_fields + [T.StructField(CORRUPT_RECORD, T.StringType())]))
        .option("header", "true")
        .option("sep", csv_options.delimiter)
        .option("quote", csv_options.quote)
        .option("escape", csv_options.escape)
        .option("encoding", csv_options.encoding)
        .option("mode", "PERMISSIVE")
        .option("maxColumns", MAX_FIELDS)
        .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
        .csv([fs.literal(file) for file in files])
        .withColumn(SOURCE_FILE, F.input_file_name())
    )
    columns = []
    for field in dataset.schema.fields:
        if field.name in positions:
            columns.append(F.col(quote_name(names[positions[field.name]])).alias(field.name))
        elif field.name in fill_missing:
            columns.append(fill_missing[field.name].cast("string").alias(field.name))
        else:
            columns.append(F.lit(None).cast("string").alias(field.name))
    return raw_df.select(*columns, CORRUPT_RECORD, SOURCE_FILE, F.lit(len(header)).alias(FIELDS_EXPECTED))
