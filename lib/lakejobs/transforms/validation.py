"""Type raw string columns and give every row that cannot be typed a reason.

``with_typed_columns(dataset)`` turns the text columns of ``read_raw_csv`` into the dataset's
types and adds ``_reason`` (null for a good row), ``_detail`` and ``_raw_line``. Reasons are
short and countable (``invalid_date:orderdate``); details say what was found, for the person
who fixes the source. The first failing check wins, in this order: malformed record, invalid
UTF-8, type errors in column order (a decimal with more places than its scale is one,
``too_many_decimals:<column>``: it is never rounded silently), missing required values, then the
dataset's row rules (``lakejobs.dqdl``) in ruleset order; duplicate keys are flagged last, among
the rows left.
"""

from functools import reduce
from typing import Callable, Collection, Dict, List, Optional, Sequence, Tuple

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs.datasets import Dataset
from lakejobs.io.csv_reader import CORRUPT_RECORD, FIELDS_EXPECTED, SOURCE_FILE
from lakejobs.io.unclosed_quote import quote_count, quotes_values
from lakejobs.transforms.dates import parse_date, within_calendar_years
from lakejobs.transforms.decimals import beyond_ascii, would_round
from lakejobs.transforms.stages import end_generated_stage

REASON = "_reason"
ROW_ID = "_row_id"
DETAIL = "_detail"
RAW_LINE = "_raw_line"
REPLACEMENT_CHAR = "\ufffd"
#: Ends the ``invalid_utf8`` detail: a line holding U+FFFD itself cannot be told from one whose bytes were invalid.
REPLACEMENT_CHAR_ITSELF = " (or the character U+FFFD they are read as)"
#: The text of a date without ``--date_format``: ISO 8601's ``2014-05-01`` (``2014-5-1`` too),
#: whitespace around it allowed, as the cast trims it.
ISO_DATE = r"^\s*(?!0000)[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}\s*$"
#: The zone of a timestamp: ``Z``, an offset (``+02:00``, ``-0530``), ``UTC``/``GMT``/``UT``
#: with or without one, ``EST``/``MST``/``HST`` (which Spark reads as the fixed offsets they
#: name), or a region of the time zone database (``Europe/London``). Not another abbreviation:
#: Spark's cast resolves ``BST`` to Asia/Dhaka (+06:00), ``PST`` and ``CST`` to American regions
#: that keep summer time (``PST`` in July is -07:00), ``IST`` to India, ``CET`` to a zone with
#: summer time, while ``EDT`` is unknown (null): such values were published moved by hours; they
#: are ``invalid_timestamp`` since session 45.
TIMESTAMP_ZONE = (
    r"(Z|(UTC|GMT|UT)?[+-][0-9]{1,2}(:?[0-9]{2}){0,2}|UTC|GMT0?|UT|EST|MST|HST|EST5EDT|CST6CDT|MST7MDT|PST8PDT"
    r"|[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+)"
)
#: The zone names without a ``/`` that ``TIMESTAMP_ZONE`` takes: UTC and the fixed offsets, and
#: the tz database's four US zones of POSIX form (``EST5EDT``: New York's rules; since session 48).
FIXED_ZONE_NAMES = ("UTC", "GMT", "GMT0", "UT", "EST", "MST", "HST", "EST5EDT", "CST6CDT", "MST7MDT", "PST8PDT")
#: The text of a timestamp without ``--timestamp_format``: a whole ISO date, then optionally a
#: time (``T`` or a space, hours, minutes, seconds, a fraction) and a zone (``TIMESTAMP_ZONE``).
#: Spark's cast alone reads a time without a date as today's date at that time, and ``2014`` or
#: ``2014-05`` as the first day. A fraction's digits past the sixth must be zeros: Spark keeps
#: microseconds and drops the rest (``.1234567`` would become ``.123456``).
ISO_TIMESTAMP = (
    r"^\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"([ T][0-9]{1,2}(:[0-9]{1,2}(:[0-9]{1,2}(\.[0-9]{0,6}0{0,3})?)?)?"
    rf"\s*{TIMESTAMP_ZONE}?)?\s*$"
)
#: ``ISO_TIMESTAMP`` as a quarantine's detail shows it.
ISO_TIMESTAMP_SHOWN = "yyyy-MM-dd[ HH[:mm[:ss[.SSSSSS][ zone]]]] (a zone: Z, +hh:mm, UTC or a region as Europe/London)"
#: The texts Spark's cast reads as infinity by name (after trimming, in any case).
INFINITY_NAMES = ("inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")
#: Letters Java's number parser (Spark's cast to double) takes that no CSV writer means in a
#: number: a type suffix (``12d``, ``2f``) and hexadecimal (``0x1p3``).
JAVA_NUMBER_LETTERS = "[dDfFxXpP]"
#: A fraction of more than six digits whose digits past the sixth are not all zeros.
FINER_THAN_MICROSECONDS = r"\.[0-9]{6}0*[1-9]"

Transform = Callable[[DataFrame], DataFrame]
#: A row check: (true where the row is bad, its reason, a column explaining it).
Check = Tuple[Column, str, Column]


def quote_name(name: str) -> str:
    """Backtick-quote a column name for SQL expressions (``group`` -> ```group```)."""
    return "`" + name.replace("`", "``") + "`"


def value_text(name: str) -> Column:
    """A column's value as text, for details and lines; null where the value is null.

    A decimal is written out in full (``0.000000000000``, ``0.000000100000``): ``cast`` writes
    Java's scientific form (``0E-12``, ``1.00000E-7``) once a value needs more than six places
    after the point, ``try_cast`` does not.
    """
    return F.expr(f"try_cast({quote_name(name)} AS STRING)")


def typed_value(raw: Column, raw_name: str, data_type: T.DataType, dataset: Dataset) -> Column:
    """The typed value of a raw string column, null where it cannot be typed.

    ``try_cast`` is strict (``'3.5'`` is not an int) and never fails the job; dates and
    timestamps use the dataset's formats when it has them (dates through ``parse_date``, which
    skips the formatter for canonical text).
    """
    if isinstance(data_type, T.StringType):
        return raw
    if isinstance(data_type, T.DateType) and dataset.csv.date_format:
        return parse_date(raw, dataset.csv.date_format)
    if isinstance(data_type, T.DateType):
        # ``try_cast`` alone reads ``2014-05-01 junk`` and ``2014-05-01T10:00`` as 2014-05-01,
        # and ``2014`` as 2014-01-01: it is given whole dates only.
        return F.when(raw.rlike(ISO_DATE), _cast(raw_name, data_type))
    if isinstance(data_type, (T.DoubleType, T.FloatType)):
        return _finite_unless_spelled(raw, _cast(raw_name, data_type))
    if isinstance(data_type, T.TimestampType) and dataset.csv.timestamp_format:
        parsed = within_calendar_years(F.to_timestamp(raw, dataset.csv.timestamp_format))
        if "SSSSSSS" not in dataset.csv.timestamp_format:
            return parsed
        # With 7 to 9 ``S`` the format reads nanoseconds, and Spark drops those past microseconds.
        return F.when(~raw.rlike(FINER_THAN_MICROSECONDS), parsed)
    if isinstance(data_type, T.TimestampType):
        # A zone may move a value past the years 1 to 9999 (``0001-01-01T00:00+05:00``).
        return within_calendar_years(F.when(raw.rlike(ISO_TIMESTAMP), _cast(raw_name, data_type)))
    if isinstance(data_type, T.DecimalType):
        # Null, not rounded, where the cast would round (``rounding_flag``); null for digits of other scripts.
        return F.when(~_rounds(raw, raw_name, data_type) & ~beyond_ascii(raw), _cast(raw_name, data_type))
    return _cast(raw_name, data_type)


def _finite_unless_spelled(raw: Column, value: Column) -> Column:
    """``value``, null where it is infinite but its text is a number too large for the type.

    ``try_cast`` reads ``1e400`` as a double's infinity (``3.5e39`` as a float's): only the
    text Spark reads as infinity by name (``Infinity``, ``-inf``, any case) stays infinite. It is
    Java's parser, so it also reads ``12d`` as 12, ``0x1p3`` as 8 (``JAVA_NUMBER_LETTERS``) and
    ``1e-400`` as 0: those are null too, as is any zero whose digits before the exponent are not.
    """
    spelled = F.lower(F.trim(raw)).isin(*INFINITY_NAMES)
    underflow = (value == F.lit(0.0)) & raw.rlike("^[^eE]*[1-9]")
    plain = (F.abs(value) != F.lit(float("inf"))) & ~raw.rlike(JAVA_NUMBER_LETTERS) & ~underflow
    return F.when(plain | spelled, value)


def _cast(raw_name: str, data_type: T.DataType) -> Column:
    return F.expr(f"try_cast({quote_name(raw_name)} AS {data_type.simpleString()})")


def _rounds(raw: Column, raw_name: str, data_type: T.DecimalType) -> Column:
    return would_round(raw, _cast(raw_name, data_type), data_type.scale)


def flag_columns(dataset: Dataset, raw: Dict[str, str], typed: Dict[str, Column]) -> Dict[str, Column]:
    """The flags ``with_typed_columns`` computes beside the typed values (``typed``), by column name.

    ``untyped_flag``: a date's typed value is null; ``rounding_flag``: a decimal's text would
    round (``would_round``). The checks read these instead of the expressions they stand for.
    Each flag repeats an expression of its typed value in the same projection, so Spark computes
    that expression once per row in a small method of its own, and the method that types and
    checks a row stays under the 8000 bytes of bytecode the JIT compiles
    (``tests/unit/test_generated_code.py``). Measured at 10M order lines, the orders job alone in
    fresh JVMs: 64.8 s on average without the flags or the decimals' check, 63.1 s with the
    dates' flags, 63.6 s with both (bench/HISTORY.md "Session 18").
    """
    flags = {}
    for field in dataset.schema.fields:
        raw_name = raw[field.name]
        if isinstance(field.dataType, T.DateType):
            flags[untyped_flag(raw_name)] = typed[field.name].isNull()
        elif isinstance(field.dataType, T.DecimalType):
            flags[rounding_flag(raw_name)] = _rounds(F.col(raw_name), raw_name, field.dataType)
    return flags


def untyped_flag(raw_name: str) -> str:
    """The column of ``flag_columns`` that is true where a date's typed value is null."""
    return f"{raw_name}_untyped"


def rounding_flag(raw_name: str) -> str:
    """The column of ``flag_columns`` that is true where a decimal's text would round."""
    return f"{raw_name}_rounds"


def _is_null(field: T.StructField, raw: Dict[str, str]) -> Column:
    """True where ``field``'s typed value is null, read from its flag when it has one."""
    if isinstance(field.dataType, T.DateType):
        return F.col(untyped_flag(raw[field.name]))
    return F.col(quote_name(field.name)).isNull()


def type_label(data_type: T.DataType) -> str:
    """Short type name for reasons: ``decimal`` for ``decimal(17,4)``."""
    return data_type.simpleString().split("(")[0]


def _expected_text(data_type: T.DataType, dataset: Dataset) -> str:
    if isinstance(data_type, T.DateType):
        return f"a date in format {dataset.csv.date_format or 'yyyy-MM-dd'}"
    if isinstance(data_type, T.TimestampType):
        if dataset.csv.timestamp_format:
            return f"a timestamp in format {dataset.csv.timestamp_format}"
        return f"a timestamp in format {ISO_TIMESTAMP_SHOWN}"
    return f"a valid {data_type.simpleString()}"


def types_strictly(data_type: T.DataType) -> bool:
    """Tell whether a text holding U+FFFD always types as null (``typed_value``) for ``data_type``.

    True for numbers, booleans and dates (with or without the dataset's format: never through
    ``try_cast``, which ignores what follows ``2014-05-01 ``). Not for timestamps or strings.
    ``_has_replacement`` relies on it to search for U+FFFD only in rows where a field failed to type.
    Measured at 10M order lines (all 16 fields type strictly), five warm pairs in two JVMs: the
    staging pass 57.2 s against 58.8 s on average.
    """
    return isinstance(data_type, (T.NumericType, T.BooleanType, T.DateType))


def _malformed_detail(dataset: Dataset, per_file: bool = False) -> Column:
    """Why a line is malformed: the field count, and for a quote left open, the likely cause.

    The count is the schema's, or with ``per_file`` the line's file's (``FIELDS_EXPECTED``: files
    read by their header may have more or fewer columns; until session 47 a line of a 19-column
    TLC file was said to expect 20).

    Without ``--multiline`` a quoted field holding a line break ends the record at the break,
    leaving an odd number of quote characters on the line: the detail then says how to read such
    files whole. With it, a record of several lines is most often a quote never closed, which runs
    to the end of the file (``lakejobs.io.unclosed_quote``).
    """
    csv = dataset.csv
    count = F.col(FIELDS_EXPECTED).cast("string") if per_file else F.lit(str(len(dataset.schema.fields)))
    expected = F.concat(F.lit("expected "), count, F.lit(f" fields separated by {csv.delimiter!r}"))
    if not quotes_values(csv):
        return expected
    if csv.multiline:
        hint = F.lit(f"; it spans lines: if a {csv.quote!r} is never closed, the rest of its file is read into it")
        return F.when(F.col(CORRUPT_RECORD).rlike("[\\r\\n]"), F.concat(expected, hint)).otherwise(expected)
    hint = F.lit(
        f"; the line has an odd number of {csv.quote!r}: if quoted fields hold line breaks, read the"
        " file as multiline (csv_to_parquet --multiline true)"
    )
    return F.when(quote_count(F.col(CORRUPT_RECORD), csv) % 2 == 1, F.concat(expected, hint)).otherwise(expected)


def _has_replacement(dataset: Dataset, raw: Dict[str, str]) -> Column:
    """True where a field holds U+FFFD: bytes not valid in the encoding.

    The fields that may hold it in a good row (text, timestamps: ``types_strictly``) are
    searched joined, on every row; the others only in a row where one of them failed to type,
    and joined too: a strict field holding U+FFFD is one that failed. Joining gives the same
    answer as searching field by field (U+FFFD cannot span two valid UTF-8 fields) in much
    smaller code: searched field by field, taxi_trips' 12 text and timestamp fields made the
    method that types a trip 8,212 bytes, over the 8,000 the JIT compiles (its job's validate
    stage 31.0 against 27.8 s on 3M trips, ``make bench-field``; bench/HISTORY.md "Session 28").
    A malformed line is not searched: its first reason is ``malformed_record``.
    """
    fields = dataset.schema.fields
    strict = [field for field in fields if types_strictly(field.dataType)]
    loose = [F.col(raw[field.name]) for field in fields if field not in strict]
    found = _any_holds_replacement(loose) if loose else F.lit(False)
    if strict:
        # Spark skips the right side of an AND whose left side is false: a good row joins nothing here.
        untyped = reduce(lambda left, right: left | right, [_is_null(field, raw) for field in strict])
        found = found | (untyped & _any_holds_replacement([F.col(raw[field.name]) for field in strict]))
    return found


def _any_holds_replacement(texts: List[Column]) -> Column:
    """True where one of ``texts`` (nulls skipped) holds U+FFFD; false, never null, otherwise."""
    return any_holds(texts, REPLACEMENT_CHAR)


def any_holds(texts: List[Column], character: str) -> Column:
    """True where one of ``texts`` (nulls skipped) holds ``character``; false, never null, otherwise."""
    if len(texts) == 1:
        return F.coalesce(texts[0].contains(character), F.lit(False))
    return F.concat_ws("", *texts).contains(character)


#: The reason of a text field holding U+0000, which no text a table should keep holds: most often
#: a UTF-16 file read as UTF-8, whose every other byte is a NUL (typed fields drop them: Spark's
#: cast trims them, so a number read that way passes).
NUL_CHARACTER = "nul_character"


def _has_nul(dataset: Dataset, raw: Dict[str, str]) -> Column:
    """True where a text field holds U+0000 (other fields fail to type, or drop it as Spark trims them)."""
    texts = [F.col(raw[field.name]) for field in dataset.schema.fields if isinstance(field.dataType, T.StringType)]
    return any_holds(texts, "\u0000") if texts else F.lit(False)


def _nul_detail(dataset: Dataset) -> Column:
    encoding = dataset.csv.encoding
    hint = f"; a UTF-16 file read as {encoding}? convert it to UTF-8 (csv_to_parquet reads it with --encoding UTF-16)"
    return F.lit("a text field holds NUL characters (U+0000)" + ("" if encoding.upper().startswith("UTF-16") else hint))


#: The reason of a line that repeats the header, in a dataset whose columns are all text.
HEADER_LINE = "header_line"


def header_names(dataset: Dataset) -> Optional[List[str]]:
    """The schema's column names as a header line spells them, when a line repeating it would pass.

    Spark drops the first line of each file only (``--header true``; none with ``false``): a
    header repeated inside a file, or files joined with ``cat``, gives a row of the column
    names. A typed column refuses its name (no number, no date); when every column is text,
    the row would be published, so it gets the reason ``header_line``. Names are matched as
    ``headered_csv.normalized`` matches them. None for a schema of one column (a word list may
    hold its column's name) or with a typed column, or whose names do not spell letters or digits.
    """
    from lakejobs.io.headered_csv import normalized

    fields = dataset.schema.fields
    names = [normalized(field.name) for field in fields]
    if len(fields) < 2 or not all(isinstance(field.dataType, T.StringType) for field in fields) or not all(names):
        return None
    return names


def _checks(dataset: Dataset, raw: Dict[str, str], per_file: bool = False) -> List[Check]:
    """(is_bad, reason, detail) for every parsing check, in priority order.

    ``raw`` maps each column to the name of its raw text column; typed values are under the
    columns' own names. ``per_file``: the rows carry ``FIELDS_EXPECTED`` (``_malformed_detail``).
    """
    checks = [
        (F.col(CORRUPT_RECORD).isNotNull(), "malformed_record", _malformed_detail(dataset, per_file)),
        (
            _has_replacement(dataset, raw),
            "invalid_utf8",
            F.lit(f"the line has bytes that are not valid {dataset.csv.encoding}{REPLACEMENT_CHAR_ITSELF}"),
        ),
        (_has_nul(dataset, raw), NUL_CHARACTER, _nul_detail(dataset)),
    ]
    names = header_names(dataset)
    if names:
        repeats = [
            F.regexp_replace(F.lower(F.col(raw[field.name])), "[^a-z0-9]", "") == F.lit(name)
            for field, name in zip(dataset.schema.fields, names)
        ]
        detail = F.lit("the line names the schema's columns: a header line inside a file, or files joined together")
        checks.append((F.coalesce(reduce(lambda a, b: a & b, repeats), F.lit(False)), HEADER_LINE, detail))
    for field in dataset.schema.fields:
        if isinstance(field.dataType, T.StringType):
            continue
        raw_value = F.col(raw[field.name])
        invalid = raw_value.isNotNull() & _is_null(field, raw)
        if isinstance(field.dataType, T.DecimalType):
            rounds = F.col(rounding_flag(raw[field.name]))
            invalid = invalid & ~rounds  # its typed value is null where it would round, too
            scale = field.dataType.scale
            checks.append(
                (
                    rounds,
                    f"too_many_decimals:{field.name}",
                    F.concat(F.lit(f"{field.name}='"), raw_value, F.lit(f"' has more than {scale} decimals")),
                )
            )
        checks.append(
            (
                invalid,
                f"invalid_{type_label(field.dataType)}:{field.name}",
                F.concat(
                    F.lit(f"{field.name}='"), raw_value, F.lit(f"' is not {_expected_text(field.dataType, dataset)}")
                ),
            )
        )
    fields = {field.name: field for field in dataset.schema.fields}
    for name in dataset.required_columns:
        label = "null_key" if name in dataset.primary_key else "missing_value"
        checks.append((_is_null(fields[name], raw), f"{label}:{name}", F.lit(f"{name} is empty")))
    return checks


#: The most code ``failing_one_of`` may inline, in units of one cast's check (a date's is 3:
#: each is typed in full). Measured on orders, the method that reads and keeps the rows is
#: 1,307 bytes with three one-unit conditions and 6,838 bytes with two dates'; the JIT compiles
#: up to 8,000 (``tests/unit/test_generated_code.py``).
MAX_FAILING_COST = 6


def failing_one_of(dataset: Dataset, labels: Collection[str]) -> Optional[Column]:
    """True at least where a row of ``read_raw_csv`` output fails a check named in ``labels``.

    Given every reason the rows of a batch had (``quality_gate.REASONS_SEEN``), each bad row of
    the same batch fails the check of its own reason, one of them; a good row may pass the
    condition too (it is cheaper than the checks), and is dropped once typed. None (no such
    condition) when a label has no cheap condition (``invalid_utf8`` tests every field,
    ``too_many_decimals`` is a long computation, a rule's condition is the rule's) or the
    conditions cost more than ``MAX_FAILING_COST``.
    """
    conditions = _failing_conditions(dataset)
    if not all(label in conditions for label in labels):
        return None
    chosen = [conditions[label] for label in sorted(labels)]
    if sum(cost for _condition, cost in chosen) > MAX_FAILING_COST:
        return None
    return reduce(lambda left, right: left | right, [condition for condition, _cost in chosen], F.lit(False))


def _failing_conditions(dataset: Dataset) -> Dict[str, Tuple[Column, int]]:
    """Reason label -> (true at least where a raw row fails that check, its cost)."""
    conditions = {"malformed_record": (F.col(CORRUPT_RECORD).isNotNull(), 1)}
    untyped = {}
    for field in dataset.schema.fields:
        raw = F.col(quote_name(field.name))
        if isinstance(field.dataType, T.StringType):
            untyped[field.name] = (raw.isNull(), 1)
            continue
        cost = 3 if isinstance(field.dataType, (T.DateType, T.TimestampType)) else 1
        if isinstance(field.dataType, T.DecimalType):
            untyped_now = _untyped_decimal(raw, field.name, field.dataType)
        else:
            untyped_now = typed_value(raw, field.name, field.dataType, dataset).isNull()
        untyped[field.name] = (untyped_now, cost)
        conditions[f"invalid_{type_label(field.dataType)}:{field.name}"] = (raw.isNotNull() & untyped_now, cost)
    for name in dataset.required_columns:
        label = "null_key" if name in dataset.primary_key else "missing_value"
        conditions[f"{label}:{name}"] = untyped[name]
    return conditions


def _untyped_decimal(raw: Column, raw_name: str, data_type: T.DecimalType) -> Column:
    """True at least where a decimal's typed value is null, without the rounding check (``typed_value``).

    Where the text does not round, the typed value is null when the plain cast is, or when the
    text holds digits of other scripts (``beyond_ascii``), which the cast reads. Until session 49
    the second read's filter had the cast alone: a batch with ``１２`` in a decimal failed every
    run with "the input changed while it was converted (1 bad rows in the first read, 0 in the
    second)".
    """
    return _cast(raw_name, data_type).isNull() | beyond_ascii(raw)


def keep_failing(dataset: Dataset, labels: Collection[str]) -> Optional[Transform]:
    """Keep the rows of ``read_raw_csv`` output that may fail a check in ``labels`` (``failing_one_of``).

    The rows keep their raw columns, so that ``with_reasons`` types only the few kept rows in
    full. They are observed: an observation ends Spark's generated stage, so typing them is not
    added to the method that reads and filters every row (with it, that method passed the 8,000
    bytes the JIT compiles: ``tests/unit/test_generated_code.py``). None when
    ``failing_one_of`` is.
    """
    condition = failing_one_of(dataset, labels)
    if condition is None:
        return None

    def _(raw_df: DataFrame) -> DataFrame:
        kept_df = raw_df.filter(condition)
        return end_generated_stage(kept_df, "failing_rows")

    return _


def reason_labels(dataset: Dataset, extra_labels: Sequence[str] = ()) -> List[str]:
    """Every reason a row of ``dataset`` can get, in priority order (for counting them in one pass).

    ``extra_labels`` are the reasons of extra checks (rules), as given to ``with_typed_columns``.
    """
    labels = ["malformed_record", "invalid_utf8", NUL_CHARACTER] + ([HEADER_LINE] if header_names(dataset) else [])
    for field in dataset.schema.fields:
        if isinstance(field.dataType, T.DecimalType):
            labels.append(f"too_many_decimals:{field.name}")
        if not isinstance(field.dataType, T.StringType):
            labels.append(f"invalid_{type_label(field.dataType)}:{field.name}")
    labels += [
        f"{'null_key' if name in dataset.primary_key else 'missing_value'}:{name}" for name in dataset.required_columns
    ]
    labels += list(extra_labels)
    if dataset.primary_key:
        labels.append("duplicate_key:" + ",".join(dataset.primary_key))
    return labels


def with_typed_columns(dataset: Dataset, extra_checks: Sequence[Check] = ()) -> Transform:
    """Type the columns of ``read_raw_csv`` output and explain the rows that fail.

    Returns a transform whose result has the dataset's typed columns, ``_source_file``,
    ``_raw_line``, ``_reason`` and ``_detail``. ``extra_checks`` (``(is_bad, reason, detail)``
    over the typed columns, e.g. ``lakejobs.transforms.quality.row_checks``) run after the
    parsing checks; the first failing check gives the reason. The two steps,
    ``with_reasons`` then ``with_explanations``, may also be run apart, with a filter between
    them that keeps only the rows to explain.
    """

    def _(raw_df: DataFrame) -> DataFrame:
        return raw_df.transform(with_reasons(dataset, extra_checks)).transform(with_explanations(dataset, extra_checks))

    return _


def _raw_names(dataset: Dataset) -> Dict[str, str]:
    """Each column's name -> the name of its raw text column."""
    return {field.name: f"__raw_{index}" for index, field in enumerate(dataset.schema.fields)}


def with_reasons(dataset: Dataset, extra_checks: Sequence[Check] = ()) -> Transform:
    """The first step of ``with_typed_columns``: the typed columns and each row's ``_reason``.

    The result also keeps what ``with_explanations`` reads: ``_source_file``,
    ``_corrupt_record``, ``_fields_expected`` when the rows have it, the raw text columns and
    their flags (``flag_columns``).
    """

    def _(raw_df: DataFrame) -> DataFrame:
        raw = _raw_names(dataset)
        per_file = [F.col(FIELDS_EXPECTED)] if FIELDS_EXPECTED in raw_df.columns else []
        renamed_df = raw_df.select(
            *[F.col(quote_name(field.name)).alias(raw[field.name]) for field in dataset.schema.fields],
            F.col(CORRUPT_RECORD),
            F.col(SOURCE_FILE),
            *per_file,
        )
        typed = {
            field.name: typed_value(F.col(raw[field.name]), raw[field.name], field.dataType, dataset)
            for field in dataset.schema.fields
        }
        typed_df = renamed_df.withColumns({**typed, **flag_columns(dataset, raw, typed)})
        checks = _checks(dataset, raw) + list(extra_checks)
        reason = F.coalesce(*[F.when(bad, F.lit(label)) for bad, label, _detail in checks], F.lit(None).cast("string"))
        return typed_df.withColumn(REASON, reason)

    return _


def with_explanations(dataset: Dataset, extra_checks: Sequence[Check] = ()) -> Transform:
    """The second step of ``with_typed_columns``: each bad row's ``_detail`` and ``_raw_line``.

    Give it the ``extra_checks`` given to ``with_reasons``. A good row's detail and line are null
    and cost nothing: rendering and caching every good row's line costs a third of the
    conversion time at 10M rows (measured, see bench/README.md).
    """

    def _(reasoned_df: DataFrame) -> DataFrame:
        raw = _raw_names(dataset)
        checks = _checks(dataset, raw, FIELDS_EXPECTED in reasoned_df.columns) + list(extra_checks)
        bad = F.col(REASON).isNotNull()
        # Chosen by the reason, not by testing each check again: smaller code, the same text.
        detail = F.coalesce(*[F.when(F.col(REASON) == F.lit(label), text) for _bad, label, text in checks])
        raw_texts = [F.col(raw[field.name]) for field in dataset.schema.fields]
        line = F.coalesce(F.col(CORRUPT_RECORD), F.to_csv(F.struct(*raw_texts), csv_write_options(dataset)))
        return reasoned_df.select(
            *[F.col(quote_name(field.name)) for field in dataset.schema.fields],
            F.col(SOURCE_FILE),
            F.when(bad, line).alias(RAW_LINE),
            F.col(REASON),
            F.when(bad, detail).alias(DETAIL),
        )

    return _


def csv_write_options(dataset: Dataset) -> Dict[str, str]:
    """``to_csv`` options writing a line the way the dataset's files are written."""
    return {
        "sep": dataset.csv.delimiter,
        "quote": dataset.csv.quote,
        "escape": dataset.csv.escape,
        # Spark's CSV writer trims each field by default: a bad row's text must stay whole.
        "ignoreLeadingWhiteSpace": "false",
        "ignoreTrailingWhiteSpace": "false",
    }


def as_input_text(dataset: Dataset) -> Column:
    """A typed row written back as a line of the dataset's CSV: same separator, quotes and formats.

    For a row whose text was not kept (a good row found to repeat a key later): the line reads
    back, through the same job, to the same values (``5/1/2014`` stays a ``M/d/yyyy`` date,
    not ``2014-05-01``), though not always to the same characters (``1.5`` in
    ``decimal(17,4)`` comes back as ``1.5000``).
    """
    formats = {"date": dataset.csv.date_format, "timestamp": dataset.csv.timestamp_format}
    fields = []
    for field in dataset.schema.fields:
        text_format = formats.get(field.dataType.typeName())
        column = F.date_format(F.col(quote_name(field.name)), text_format) if text_format else value_text(field.name)
        fields.append(column.alias(field.name))
    return F.to_csv(F.struct(*fields), csv_write_options(dataset))


def filter_valid(dataset: Dataset) -> Transform:
    """Keep the rows without a reason, with exactly the dataset's columns."""

    def _(df: DataFrame) -> DataFrame:
        return df.filter(F.col(REASON).isNull()).select(*[quote_name(f.name) for f in dataset.schema.fields])

    return _


def filter_quarantined(dataset_name: str, run_id: str) -> Transform:
    """Keep the rows with a reason, as quarantine records."""

    def _(df: DataFrame) -> DataFrame:
        return df.filter(F.col(REASON).isNotNull()).select(
            F.lit(dataset_name).alias("dataset"),
            F.col(SOURCE_FILE).alias("source_file"),
            F.col(RAW_LINE).alias("raw_line"),
            F.col(REASON).alias("reason"),
            F.col(DETAIL).alias("detail"),
            F.lit(run_id).alias("run_id"),
        )

    return _


def with_derived_columns(expressions: Dict[str, str]) -> Transform:
    """Add columns computed from Spark SQL expressions (e.g. ``order_year: year(orderdate)``)."""

    def _(df: DataFrame) -> DataFrame:
        if not expressions:
            return df
        return df.withColumns({name: F.expr(expression) for name, expression in expressions.items()})

    return _


def with_row_id() -> Transform:
    """Add ``_row_id``: unique per row of one read, increasing in the order Spark reads it.

    That order is the read tasks' (Spark packs files into tasks largest first, not by name),
    and within a file, by position: the same on every read of the same files.
    """

    def _(df: DataFrame) -> DataFrame:
        return df.withColumn(ROW_ID, F.monotonically_increasing_id())

    return _


#: Integer types of 32 bits or fewer: two of them pack into one long (``key_for_counting``).
NARROW_INTEGERS = (T.ByteType, T.ShortType, T.IntegerType)


def key_for_counting(dataset: Dataset) -> List[Column]:
    """Columns equal for two rows exactly when their primary keys are equal.

    A key of two columns of 32 bits or fewer is packed into one long (high and low halves):
    repeats are found by shuffling and counting one long per row instead of two columns
    (measured at 10M orders keys, one JVM, alternating: 7.0 s against 7.9 s on average over
    six rounds). Any other key is its columns.
    """
    types = {field.name: field.dataType for field in dataset.schema.fields}
    keys = list(dataset.primary_key)
    if len(keys) != 2 or not all(isinstance(types[key], NARROW_INTEGERS) for key in keys):
        return [F.col(quote_name(key)) for key in keys]
    high, low = (F.col(quote_name(key)).cast("long") for key in keys)
    return [F.shiftleft(high, 32).bitwiseOR(low.bitwiseAND(F.lit(0xFFFFFFFF))).alias("_key")]


def repeated_keys(dataset: Dataset) -> Transform:
    """Keys that more than one good row holds, with the first row's ``_row_id``.

    A small frame (usually empty): one aggregate over the keys of the good rows.
    """

    def _(df: DataFrame) -> DataFrame:
        keys = list(dataset.primary_key)
        return (
            df.filter(F.col(REASON).isNull())
            .groupBy(*keys)
            .agg(F.count(F.lit(1)).alias("_key_rows"), F.min(ROW_ID).alias("_first_row_id"))
            .filter(F.col("_key_rows") > 1)
            .drop("_key_rows")
        )

    return _


#: Repeated keys up to this many are broadcast to the rows they flag (no shuffle of the rows);
#: more, as when a batch holds the same file twice, are joined by a shuffle, which needs no
#: driver memory for them (a broadcast of 10M keys could take the driver down).
BROADCAST_REPEATS_LIMIT = 1_000_000


def few_repeats(repeated_keys_df: DataFrame) -> bool:
    """Tell whether ``repeated_keys_df`` (persisted) is small enough to broadcast; one count of it."""
    return repeated_keys_df.count() <= BROADCAST_REPEATS_LIMIT


def with_duplicate_keys_flagged(
    dataset: Dataset, repeated_keys_df: Optional[DataFrame] = None, broadcast: bool = True
) -> Transform:
    """Give every repeat of a primary key among the good rows the reason ``duplicate_key``.

    The first good row of a key (smallest ``_row_id``, see ``with_row_id``) stays good; every
    later one is quarantined, so a batch never holds a key twice (MERGE and joins rely on it);
    its ``_raw_line`` is its line as read where the input kept it (JSON lines do), else the row
    written back as a line of the dataset's CSV (``as_input_text``: a good CSV row's text is not
    kept).
    ``repeated_keys_df`` (from ``repeated_keys``; computed from the input when not given) is
    broadcast, so the rows are not shuffled, unless ``broadcast`` is false (``few_repeats``).
    Datasets without a primary key pass unchanged.
    """

    def _(df: DataFrame) -> DataFrame:
        if not dataset.primary_key:
            return df
        keys = list(dataset.primary_key)
        repeated_df = repeated_keys_df if repeated_keys_df is not None else df.transform(repeated_keys(dataset))
        repeated_df = F.broadcast(repeated_df) if broadcast else repeated_df
        joined = df.join(repeated_df, keys, "left").select(*df.columns, "_first_row_id")
        repeated = F.col(REASON).isNull() & (F.col(ROW_ID) != F.col("_first_row_id"))
        key_text = F.concat_ws(", ", *[value_text(key) for key in keys])
        detail = F.concat(F.lit("key ("), key_text, F.lit(") appears more than once in this batch"))
        typed_text = as_input_text(dataset)
        return joined.withColumns(
            {
                RAW_LINE: F.when(repeated, F.coalesce(F.col(RAW_LINE), typed_text)).otherwise(F.col(RAW_LINE)),
                DETAIL: F.when(repeated, detail).otherwise(F.col(DETAIL)),
                REASON: F.when(repeated, F.lit("duplicate_key:" + ",".join(keys))).otherwise(F.col(REASON)),
            }
        ).drop("_first_row_id")

    return _
