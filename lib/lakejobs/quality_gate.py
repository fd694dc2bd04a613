"""Measure a validated batch against its DQDL rules and decide whether it may be published.

One set of aggregate columns (``metric_columns``) measures the rows per quarantine reason and
every row and dataset rule's metric together (ReferentialIntegrity keys are broadcast-joined into
the same pass): either as one ``agg`` over a persisted batch (``aggregate``), or, in the
single-pass conversion, observed while the good rows are written (``observe_metrics``), with the
rows per reason counted over the bad rows alone (``count_reasons``). Each
``CustomSql`` rule is one more query over the good rows. A rule whose outcome is ``failed`` stops
the run before anything is written.

Outcomes: ``passed``; ``quarantined`` (a ``fail`` row rule whose breaking rows went to the
quarantine); ``warned`` (a ``warn`` rule that did not hold; one its ``with threshold`` holds
is ``passed``); ``failed`` (a ``fail`` rule that did
not hold, or a row rule below its ``with threshold``: the gate); ``skipped`` (nothing to compare
with, e.g. RowCountChange on the first run).
"""

import dataclasses
import datetime
import json
import logging
import re
import uuid
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

from pyspark.errors import IllegalArgumentException
from pyspark.sql import Column, Observation
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs import fs
from lakejobs.args import is_time_zone_name
from lakejobs.datasets import Dataset
from lakejobs.dqdl import Condition, Measured, Rule, is_special, render_value, where_columns
from lakejobs.errors import LakejobsError, UsageError, root_cause
from lakejobs.runs_report import format_measured, one_line
from lakejobs.transforms import quality
from lakejobs.transforms.validation import FIXED_ZONE_NAMES, REASON, quote_name

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

LOG = logging.getLogger(__name__)
UNLISTED = "unlisted_reason"
UNIQUE = Condition("=", (0,))


@dataclasses.dataclass
class RuleResult:
    """How one rule came out: what was measured and what that means for the run."""

    rule: str
    level: str
    severity: str
    outcome: str
    measured: Optional[float] = None
    failing_rows: Optional[int] = None
    note: Optional[str] = None

    def to_dict(self) -> Dict[str, object]:
        """The result as JSON-ready data, without empty fields."""
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}


@dataclasses.dataclass
class Measurement:
    """Rows read, rows per quarantine reason and every rule's result, from one aggregate."""

    rows_read: int
    reasons: Dict[str, int]
    results: List[RuleResult]

    @property
    def failed(self) -> List[RuleResult]:
        """The results that stop the run."""
        return [result for result in self.results if result.outcome == "failed"]


def rejected_root(quarantine_path: str) -> str:
    """Where rejected runs keep their bad rows: beside the quarantine (whose folders runs replace)."""
    return f"{quarantine_path.rstrip('/')}_rejected"


def rejected_path(quarantine_path: str, run_id: str) -> str:
    """The folder of one rejected run's bad rows (``<quarantine_path>_rejected/run_id=<id>``)."""
    return f"{rejected_root(quarantine_path)}/run_id={run_id}"


def check_rule_columns(rules: Sequence[Rule], dataset: Dataset) -> None:
    """Raise ``UsageError`` when a rule does not fit the dataset (no Spark needed).

    A rule must name columns the dataset has (its ``where`` filter too, see
    ``lakejobs.dqdl.where_columns``), and a ColumnValues rule must compare a column with values
    of its type: numbers for a number column, text for a string column, ``"yyyy-mm-dd..."``
    text for a date or timestamp column.
    """
    types = {field.name: field.dataType for field in dataset.schema.fields}
    lowered = {name.lower() for name in types}
    for rule in rules:
        unknown = [column for column in rule.columns if column not in types]
        if unknown:
            raise UsageError(f"rule {rule.text!r}: {dataset.name} has no column {', '.join(unknown)}")
        unknown = [column for column in where_columns(rule.where or "") if column.lower() not in lowered]
        if unknown:
            raise UsageError(
                f"rule {rule.text!r}: the where filter names {unknown[0]}, a column {dataset.name} does not have"
            )
        if rule.rule_type == "ColumnValues" and rule.condition.op.replace("not ", "") != "matches":
            _check_value_types(rule, types[rule.columns[0]])


def mark_float_columns(rules: Sequence[Rule], dataset: Dataset) -> Tuple[Rule, ...]:
    """``rules``, each ColumnValues rule over a FLOAT column marked to compare as floats.

    See ``quality._literal``; the rule's text (its quarantine reason) stays as written.
    """
    floats = {field.name for field in dataset.schema.fields if isinstance(field.dataType, T.FloatType)}
    return tuple(
        dataclasses.replace(rule, condition=dataclasses.replace(rule.condition, float_column=True))
        if rule.rule_type == "ColumnValues" and rule.columns[0] in floats and rule.condition is not None
        else rule
        for rule in rules
    )


def check_rule_patterns(spark: "SparkSession", rules: Sequence[Rule]) -> None:
    """Raise ``UsageError`` for a ``matches`` rule whose pattern Java cannot compile.

    Spark's ``rlike`` uses ``java.util.regex``, whose syntax Python's ``re`` does not share
    (``\\p{Alpha}``, possessive quantifiers), so the session's own JVM decides, before any data
    is read. Otherwise the run failed in its first stage with Java's message about the pattern
    as the rule wraps it (``^(?:...)\\z``), whose positions are not the user's; and a pattern
    with an unbalanced parenthesis (``a)|(?:b``) compiled once wrapped, meaning something else.
    """
    pattern_class = spark.sparkContext._jvm.java.util.regex.Pattern
    for rule in rules:
        if rule.condition is None or not rule.condition.op.endswith("matches"):
            continue
        pattern = str(rule.condition.values[0])
        java_says = _compile_error(pattern_class, pattern)
        if java_says:
            raise UsageError(f"rule {rule.text!r}: {pattern!r} is not a valid regular expression (Java: {java_says})")
        wrapped = quality.whole_value_pattern(pattern)
        java_says = _compile_error(pattern_class, wrapped)
        if java_says:  # e.g. a (?x) comment running to the end takes the wrapping's ")" with it
            raise UsageError(
                f"rule {rule.text!r}: {pattern!r} cannot be matched against whole values"
                f" (Java, for {wrapped!r}: {java_says})"
            )


def check_rule_filters(spark: "SparkSession", rules: Sequence[Rule], dataset: Dataset) -> None:
    """Raise ``UsageError`` for a ``where`` filter Spark cannot read or apply to the dataset's rows.

    Its columns are checked without Spark (``check_rule_columns``); its syntax and meaning only
    Spark knows, so the session parses it, then applies it to an empty frame of the dataset's
    columns, before any data is read. Otherwise the run failed with Spark's ``ParseException``,
    or, for a filter that is no condition (``where "id"``) or aggregates (``where "sum(id) > 1"``),
    with an ``AnalysisException`` (until session 42), naming no rule.
    """
    from pyspark.errors import AnalysisException, ParseException

    rows = None
    for rule in [rule for rule in rules if rule.where]:
        try:
            condition = F.expr(rule.where)
        except ParseException as error:
            raise UsageError(
                f"rule {rule.text!r}: the where filter is not a Spark SQL condition: {_said(error)}"
            ) from None
        rows = rows if rows is not None else spark.createDataFrame([], dataset.schema)
        try:
            rows.filter(condition).schema  # noqa: B018 - analysed, not run
        except AnalysisException as error:
            raise UsageError(f"rule {rule.text!r}: the where filter cannot select rows: {_said(error)}") from None


def _said(error: Exception) -> str:
    """The first line of a Spark error's message."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _compile_error(pattern_class, pattern: str) -> Optional[str]:
    """Java's description of why ``pattern`` does not compile; None when it does."""
    try:
        pattern_class.compile(pattern)
    except IllegalArgumentException as error:
        # PySpark turns Java's PatternSyntaxException into its IllegalArgumentException;
        # the first line of its message is Java's description (index from 0).
        return str(error).strip().splitlines()[0]
    return None


#: A date value (Glue's DATE token is ``"YYYY-MM-DD"``), and the time a timestamp value may add:
#: ``h:m``, or ``h:m:s`` with an optional fraction and zone (Spark reads a zone only after seconds).
_DATE_VALUE = r"(\d{4})-(\d{1,2})-(\d{1,2})"
_TIME_VALUE = r"(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d{1,9})?(?P<zone>\s*\S+)?)?)?"
_OFFSET = re.compile(r"Z|(?:UTC|GMT|UT)?[+-](?:(\d{2})(?::?(\d{2}))?|(\d))")


def _is_zone(text: str) -> bool:
    """Whether Spark reads ``text`` as a zone a rule's value may give.

    ``Z``, an offset up to 18 hours (as ``_OFFSET`` spells them), a name of
    ``validation.FIXED_ZONE_NAMES``, or a region (``Europe/London``): not another abbreviation,
    which Spark resolves to some region (``BST`` to Asia/Dhaka), as the data's timestamps
    (``validation.TIMESTAMP_ZONE``) may not give one either.
    """
    text = text.strip()
    offset = _OFFSET.fullmatch(text)
    if offset:
        hours, minutes = offset.group(1) or offset.group(3) or "0", offset.group(2) or "0"
        return int(hours) * 60 + int(minutes) <= 18 * 60 and int(minutes) < 60
    return text in FIXED_ZONE_NAMES or ("/" in text and is_time_zone_name(text))


def _is_date_value(value: object, with_time: bool) -> bool:
    """Whether Spark casts ``value`` to a date (or timestamp) as written, not to null.

    A timestamp given as ``2014-05-01 10am`` or a date ``2014-02-30`` became null, and every
    row failed the rule (or, with ``!=``, passed it). A date may be followed by a time, which a
    date column's cast ignores.
    """
    if not isinstance(value, str):
        return False
    # Casting to a date, Spark reads the date and ignores what follows a space or a T.
    match = re.fullmatch(_DATE_VALUE + (_TIME_VALUE if with_time else r"(?:[ T].*)?()()()"), value.strip())
    if match is None or (with_time and match.group("zone") and not _is_zone(match.group("zone"))):
        return False
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def _value_fits(value: object, data_type: T.DataType) -> bool:
    if is_special(value):
        return True
    if isinstance(data_type, T.NumericType):
        return isinstance(value, (int, Decimal))
    if isinstance(data_type, T.DateType):
        return _is_date_value(value, with_time=False)
    if isinstance(data_type, (T.TimestampType, T.TimestampNTZType)):
        return _is_date_value(value, with_time=True)
    if isinstance(data_type, T.BooleanType):
        return isinstance(value, str) and value.lower() in ("true", "false")
    if isinstance(data_type, T.StringType):
        return isinstance(value, str)
    return True


def _check_value_types(rule: Rule, data_type: T.DataType) -> None:
    """Refuse a ColumnValues value Spark would turn into null (every row failing silently)."""
    for value in rule.condition.values:
        if not _value_fits(value, data_type):
            shown_type = data_type.simpleString()
            raise UsageError(
                f"rule {rule.text!r}: {render_value(value)} is not a {shown_type} value ({rule.columns[0]})"
            )
        problem = _decimal_comparison_problem(value, data_type)
        if problem:
            raise UsageError(f"rule {rule.text!r}: {problem}")


#: Integer digits each integral type's values have (Spark compares them as ``DecimalType.forType``,
#: 20 digits for a long, but a long's values have 19, which a bounded decimal keeps).
_INTEGRAL_DIGITS = {T.ByteType: 3, T.ShortType: 5, T.IntegerType: 10, T.LongType: 19}
#: The most digits a Spark decimal holds.
MAX_DIGITS = 38


def _decimal_comparison_problem(value: object, data_type: T.DataType) -> Optional[str]:
    """Why comparing a number column with ``value`` would turn large values into null (None if not).

    Spark compares a decimal (or integral) column with a decimal number in a decimal wide enough
    for both; past 38 digits it keeps the decimals and drops integer digits, and a value that no
    longer fits compares as null, failing the rule (until session 42: ``> 0.0000000000000000001``
    quarantined a valid ``decimal(38,18)`` 12345678901234567890.5).
    """
    if not isinstance(value, (int, Decimal)) or isinstance(value, bool):
        return None
    sign, digits, exponent = Decimal(value).as_tuple()
    scale = max(-exponent, 0)
    integer_digits = max(len(digits) + min(exponent, 0), 0) + max(exponent, 0)
    if integer_digits + scale > MAX_DIGITS:
        return f"{render_value(value)} has more than {MAX_DIGITS} digits, the most Spark compares exactly"
    if isinstance(data_type, T.DecimalType):
        column_integer, column_scale = data_type.precision - data_type.scale, data_type.scale
    elif type(data_type) in _INTEGRAL_DIGITS:
        column_integer, column_scale = _INTEGRAL_DIGITS[type(data_type)], 0
    else:
        return None
    needed = max(column_integer, integer_digits) + max(column_scale, scale)
    if needed <= MAX_DIGITS:
        return None
    if scale > column_scale:
        fix = f"give at most {MAX_DIGITS - max(column_integer, integer_digits)} decimals"
    else:
        fix = f"give at most {MAX_DIGITS - column_scale} integer digits"
    return (
        f"{render_value(value)} has {integer_digits} integer digits and {scale} decimals: comparing a "
        f"{data_type.simpleString()} column with it takes {needed} digits, more than Spark's {MAX_DIGITS}, so its "
        f"large values would fail the rule; {fix}"
    )


def reference_frames(
    validated_df: "DataFrame",
    rules: Sequence[Rule],
    dataset: Dataset,
    references_path: str,
    include_self: bool = True,
) -> Tuple[Dict[int, "DataFrame"], Dict[int, str]]:
    """The reference keys of each ReferentialIntegrity rule, and a note for those not found.

    A reference to the dataset itself is the batch's good rows (left out with ``include_self``
    false: the single pass measures those rules after staging, ``staged_metrics``); any
    other is the table ``<references_path>/<dataset>`` (a sibling of the output by default),
    read as the Parquet or Delta table it is.
    """
    spark = validated_df.sparkSession
    frames, missing = {}, {}
    for index, rule in enumerate(rules):
        if rule.rule_type != "ReferentialIntegrity":
            continue
        name, columns = rule.reference
        selected = [quote_name(column) for column in columns]
        if refers_to_itself(rule, dataset):
            if include_self:
                frames[index] = validated_df.filter(F.col(REASON).isNull()).select(*selected)
            continue
        path = f"{references_path.rstrip('/')}/{name}"
        if not fs.exists(spark, path):
            missing[index] = f"reference table not found: {path}"
            continue
        frames[index] = _reference_keys(_read_reference(spark, path, rule), rule, path)
    return frames, missing


def _read_reference(spark: "SparkSession", path: str, rule: Rule) -> "DataFrame":
    """The reference table at ``path``, in the format it holds; ``UsageError`` naming the rule when it is none.

    A reference is only read, so a Parquet run may check keys against a Delta lake's table and a
    Delta run against a Parquet one (until session 43 the reference had to be in the run's
    ``--format``, and the refusal said to change the run's format).
    """
    from pyspark.errors import AnalysisException

    from lakejobs.io.delta import has_delta, is_delta_table, read_table

    reference_format = "delta" if is_delta_table(spark, path) else "parquet"
    if reference_format == "parquet" and fs.exists(spark, f"{path.rstrip('/')}/_delta_log"):
        raise UsageError(
            f"rule {rule.text!r}: the reference table {path} has a _delta_log/ without a commit (a first Delta "
            "write stopped before it committed): run that write again"
        )
    if reference_format == "delta" and not has_delta(spark):
        raise UsageError(
            f"rule {rule.text!r}: the reference table {path} is a Delta table, and this Spark session has no "
            "Delta Lake to read it (start it with Delta's jars and extensions, see --format delta)"
        )
    try:
        return read_table(spark, path, reference_format)
    except AnalysisException as error:  # a folder without Parquet files
        said = str(error).strip().splitlines()[0] if str(error).strip() else "AnalysisException"
        raise UsageError(f"rule {rule.text!r}: cannot read the reference table {path}: {said}") from None


def _reference_keys(table_df: "DataFrame", rule: Rule, path: str) -> "DataFrame":
    """The reference columns of ``rule`` from its table at ``path``; ``UsageError`` if it lacks one."""
    has = {name.lower() for name in table_df.columns}
    unknown = [column for column in rule.reference[1] if column.lower() not in has]
    if unknown:
        raise UsageError(f"rule {rule.text!r}: the reference table {path} has no column {', '.join(unknown)}")
    return table_df.select(*[quote_name(column) for column in rule.reference[1]])


def metric_columns(
    rules: Sequence[Rule], labels: Sequence[str], has_reference: Sequence[bool], unique_key: Sequence[str] = ()
) -> Dict[str, Column]:
    """Every measure as a named aggregate column: rows, rows per reason label, each rule's metric.

    The same columns are computed by ``aggregate`` (a query of their own) or observed while the
    rows are written (``observe_metrics``). ``unique_key``: see ``quality.metric_columns``.
    """
    columns = {"rows": F.count(F.lit(1)), "bad": F.count(F.col(REASON))}
    columns.update(reason_columns(labels))
    columns.update(quality.metric_columns(rules, has_reference, unique_key))
    return columns


def top_reasons(reasons: Dict[str, int], shown: int = 3) -> str:
    """The most frequent reasons as ``a=3, b=2, c=1``, and how many more there are (a gate's message).

    Reasons counted alike keep the order of ``reasons``.
    """
    ranked = sorted(((reason, count) for reason, count in reasons.items() if count), key=lambda kv: -kv[1])
    text = ", ".join(f"{reason}={count}" for reason, count in ranked[:shown])
    rest = ranked[shown:]
    if rest:
        rows = sum(count for _reason, count in rest)
        text += f" and {len(rest)} more reason{'s' if len(rest) > 1 else ''} ({rows} row{'s' if rows > 1 else ''})"
    return text


def reason_columns(labels: Sequence[str]) -> Dict[str, Column]:
    """``reason_<i>``: the rows whose reason is ``labels[i]``."""
    return {f"reason_{i}": F.count(F.when(F.col(REASON) == F.lit(label), 1)) for i, label in enumerate(labels)}


def count_reasons(bad_df: "DataFrame", labels: Sequence[str], bad_rows: Optional[int] = None) -> Dict[str, int]:
    """Count the rows per reason label among ``bad_df``'s rows (one small aggregate).

    ``bad_rows``, when known, is how many rows ``bad_df`` has: with none, every count is 0 and
    no Spark job runs (about 1 s saved per clean batch, measured at 10M lines).
    """
    if not labels:
        return {}
    if bad_rows == 0:
        return {name: 0 for name in reason_columns(labels)}
    row = bad_df.agg(*[column.alias(name) for name, column in reason_columns(labels).items()]).first()
    return {name: int(row[name]) for name in row.asDict()}


def measured_after_staging(rule: Rule, dataset: Dataset) -> bool:
    """Tell whether the single pass measures ``rule`` over the staged rows, not while writing them.

    ``IsUnique`` (a distinct count, which an observation cannot hold), unless ``settled_by_key``,
    and a ReferentialIntegrity rule naming the dataset itself (its reference is the batch's good
    rows): see ``staged_metrics``.
    """
    return (rule.rule_type == "IsUnique" and not settled_by_key(rule, dataset)) or refers_to_itself(rule, dataset)


def settled_by_key(rule: Rule, dataset: Dataset) -> bool:
    """Tell whether ``rule`` is an IsUnique rule over columns that include the whole primary key.

    A batch's good rows hold each primary key once: the single pass checks the staged keys
    (a repeat sends the batch to the persisted passes), which quarantine every repeat. Such a
    rule then holds, and is measured by counting its rows (``quality.covers_key``), not by a
    distinct count. Orders at 10M lines with ``IsUnique "salesorderid" "salesorderdetailid"``:
    38-45 s before, 32 s now in the single pass; 75-89 s before, 62-64 s now in the persisted
    passes (``bench/HISTORY.md``, session 25).
    """
    return quality.covers_key(rule, dataset.primary_key)


def refers_to_itself(rule: Rule, dataset: Dataset) -> bool:
    """Tell whether ``rule`` is a ReferentialIntegrity rule whose reference is ``dataset`` itself."""
    return rule.rule_type == "ReferentialIntegrity" and rule.reference[0] == dataset.name


def staged_metrics(good_df: "DataFrame", rules: Sequence[Rule], dataset: Dataset) -> Dict[str, int]:
    """The metrics (``metric_columns``) of the rules ``measured_after_staging``, over ``good_df``.

    ``good_df`` is every good row of the batch (the staged rows). A rule referring to the
    dataset itself takes its own keys among them as the reference. One small aggregate of the
    columns these rules read; nothing runs when there is none. Taking the persisted passes for
    such a rule cost employees (38 rows) 3.7-4.0 s as the second job of a fresh JVM; the single
    pass with this aggregate 1.9-2.2 s (``bench/HISTORY.md``, sessions 23 and 24).
    """
    indices = [index for index, rule in enumerate(rules) if measured_after_staging(rule, dataset)]
    if not indices:
        return {}
    references = {
        index: good_df.select(*[quote_name(c) for c in rules[index].reference[1]])
        for index in indices
        if refers_to_itself(rules[index], dataset)
    }
    wanted = tuple(f"r{index}_" for index in indices)
    good_df = good_df.withColumn(REASON, F.lit(None).cast("string"))
    flagged_df, columns = _flagged(good_df, rules, (), references, keep=lambda name: name.startswith(wanted))
    return flagged_df.agg(*columns).first().asDict()


def _flagged(
    validated_df: "DataFrame",
    rules: Sequence[Rule],
    labels: Sequence[str],
    references: Dict[int, "DataFrame"],
    keep: Callable[[str], bool] = lambda name: True,
    unique_key: Sequence[str] = (),
) -> Tuple["DataFrame", List[Column]]:
    """The rows with their reference flags, and the named measure columns over them.

    ``keep``: which measures to compute, by name (``rows``, ``r<index>_total``...); all by default.
    ``unique_key``: see ``quality.metric_columns``.
    """
    has_reference = [index in references for index in range(len(rules))]
    columns = metric_columns(rules, labels, has_reference, unique_key)
    flagged_df = validated_df.transform(quality.with_reference_flags(rules, references))
    return flagged_df, [column.alias(name) for name, column in columns.items() if keep(name)]


def aggregate(
    validated_df: "DataFrame",
    rules: Sequence[Rule],
    labels: Sequence[str],
    references: Dict[int, "DataFrame"],
    unique_key: Sequence[str] = (),
) -> Dict[str, int]:
    """The one aggregate: rows, rows per reason label and every rule's metric.

    ``unique_key``: columns whose values the good rows hold once (see ``quality.metric_columns``).
    """
    flagged_df, columns = _flagged(validated_df, rules, labels, references, unique_key=unique_key)
    return flagged_df.agg(*columns).first().asDict()


#: The observed metric of ``observe_metrics`` listing the reasons the rows had.
REASONS_SEEN = "reasons_seen"


def observe_metrics(
    validated_df: "DataFrame",
    rules: Sequence[Rule],
    references: Dict[int, "DataFrame"],
    unique_key: Sequence[str] = (),
) -> Tuple["DataFrame", Observation]:
    """``validated_df`` with reference flags, observing rows, bad rows and the rules' metrics.

    The rows pass unchanged (plus the flag columns); ``Observation.get`` holds the values once
    an action has run the frame. Rows per reason are not observed (25 counters on every row
    cost 16 % of the pass, measured): ``count_reasons`` counts them over the bad rows. Which
    reasons occur is (``REASONS_SEEN``, read with ``pop_reasons_seen``: at most every label).
    ``unique_key``: columns whose values the good rows hold once, if they turn out to be
    published (see ``quality.metric_columns``).
    """
    # An IsUnique rule's distinct count cannot be observed: ``staged_metrics`` measures it.
    unique = tuple(
        f"r{index}_"
        for index, rule in enumerate(rules)
        if rule.rule_type == "IsUnique" and not quality.covers_key(rule, unique_key)
    )
    flagged_df, columns = _flagged(
        validated_df, rules, (), references, keep=lambda name: not name.startswith(unique), unique_key=unique_key
    )
    columns.append(F.to_json(F.collect_set(F.col(REASON))).alias(REASONS_SEEN))
    # Spark 3.5 hands an observation the metrics of any query of the session observing its name:
    # a unique name keeps jobs run at once in one session (threads, notebooks) apart.
    observation = Observation(f"quality_{uuid.uuid4().hex[:12]}")
    return flagged_df.observe(observation, *columns), observation


def pop_reasons_seen(metrics: Dict[str, object]) -> List[str]:
    """Remove ``REASONS_SEEN`` from the metrics of ``observe_metrics`` and return its labels."""
    return sorted(json.loads(metrics.pop(REASONS_SEEN)))


def _failure_line(error: BaseException) -> str:
    """Spark's first line for an analysis or parse error; the root cause of a failure while running."""
    if getattr(error, "java_exception", None) is not None:  # py4j: "An error occurred while calling ..."
        return root_cause(error)
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def custom_sql_value(good_df: "DataFrame", rule: Rule) -> Optional[Measured]:
    """Run a CustomSql rule's statement over the good rows (the table ``primary``)."""
    spark = good_df.sparkSession
    good_df.createOrReplaceTempView("primary")
    try:
        rows = spark.sql(rule.sql).take(2)
    except Exception as error:  # noqa: BLE001 - Spark's AnalysisException and ParseException
        raise LakejobsError(f"rule {rule.text!r}: the statement failed: {_failure_line(error)}") from None
    finally:
        spark.catalog.dropTempView("primary")
    if len(rows) > 1 or (rows and len(rows[0]) != 1):  # judging the first of several would be arbitrary
        shape = "more than one row" if len(rows) > 1 else f"{len(rows[0])} columns"
        raise LakejobsError(f"rule {rule.text!r}: the statement must return one number, got {shape}")
    value = rows[0][0] if rows else None
    try:
        if value is None:
            return None
        if isinstance(value, Decimal):  # compared exactly, as counts and shares are
            return Fraction(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        raise LakejobsError(f"rule {rule.text!r}: the statement must return one number, got {value!r}") from None


def _shown(measured: Optional[Measured], condition: Optional[Condition]) -> Optional[float]:
    """A measured value for the report: rounded to 6 decimals, unless that changes the verdict.

    Rules are judged on the exact value: 9999996 of 10000000 keys found is not ``= 1.0``, so
    it shows as 0.9999996, not 1.0.
    """
    if measured is None:
        return None
    rounded = round(float(measured), 6)
    if condition is not None and condition.holds(rounded) != condition.holds(measured):
        return float(measured)
    return rounded


def skipped_results(rules: Sequence[Rule], note: str) -> List[Dict[str, object]]:
    """Every rule as ``skipped`` with ``note``, for a report (a run that had no rows to check).

    An incremental run without new files reported no rule at all (until session 42), so a
    ``RowCount > 0`` looked as if it had been met.
    """
    return [
        RuleResult(rule.text, "row" if rule.row_level else "dataset", rule.severity, "skipped", note=note).to_dict()
        for rule in rules
    ]


def _row_result(rule: Rule, failing: int, checked: int) -> RuleResult:
    """A row rule's result: ``checked`` rows were judged (see ``quality.metric_columns``)."""
    compliance = Fraction(1) if checked == 0 else Fraction(checked - failing, checked)
    result = RuleResult(rule.text, "row", rule.severity, "passed", _shown(compliance, rule.threshold), failing)
    if rule.threshold is not None and not rule.threshold.holds(compliance):
        result.outcome = "failed" if rule.severity == "fail" else "warned"
        result.note = (
            f"{failing} of {checked} rows checked break it: "
            f"compliance {result.measured} is not {rule.threshold.render()}"
        )
    elif failing and rule.severity == "fail":
        result.outcome = "quarantined"
    elif failing and rule.threshold is None:
        result.outcome = "warned"  # a warn rule met by its threshold holds, as in Glue: passed
    return result


def _dataset_result(rule: Rule, measured: Optional[Measured], note: Optional[str]) -> RuleResult:
    condition = rule.condition or UNIQUE  # IsUnique has no expression: no repeated value
    result = RuleResult(rule.text, "dataset", rule.severity, "passed", _shown(measured, condition), note=note)
    if measured is None and rule.rule_type == "RowCountChange":
        result.outcome = "skipped"
    elif measured is None or not condition.holds(measured):
        result.outcome = "failed" if rule.severity == "fail" else "warned"
    return result


def row_count_change(current: int, previous: Optional[int]) -> Tuple[Optional[Fraction], Optional[str]]:
    """Relative change of the good rows against the previous run's (exact), or a note when not measurable."""
    if previous is None:
        return None, "no previous successful run to compare with"
    if previous == 0:  # not a baseline (io.reports.previous_rows_written passes over such runs)
        return (Fraction(0), None) if current == 0 else (None, "the previous run wrote 0 rows")
    return Fraction(current - previous, previous), None


def measure(
    validated_df: "DataFrame",
    dataset: Dataset,
    rules: Sequence[Rule],
    labels: Sequence[str],
    references: Tuple[Dict[int, "DataFrame"], Dict[int, str]],
    previous_rows: Optional[int],
) -> Measurement:
    """Count rows per reason and judge every rule; see the module docstring for the passes."""
    frames, missing = references
    row = aggregate(validated_df, rules, labels, frames, dataset.primary_key)
    good_df = validated_df.filter(F.col(REASON).isNull()).select(*[quote_name(f.name) for f in dataset.schema.fields])
    return judge(row, good_df, rules, labels, missing, previous_rows)


def judge(
    row: Dict[str, int],
    good_df: "DataFrame",
    rules: Sequence[Rule],
    labels: Sequence[str],
    missing: Dict[int, str],
    previous_rows: Optional[int],
) -> Measurement:
    """Judge every rule from the measured ``row`` (``metric_columns``' values).

    ``good_df`` (the rows to publish, the dataset's columns) is queried only by CustomSql rules.
    """
    reasons = {label: int(row[f"reason_{i}"]) for i, label in enumerate(labels) if row[f"reason_{i}"]}
    unlisted = int(row["bad"]) - sum(reasons.values())
    if unlisted:
        reasons[UNLISTED] = unlisted
    rows_read = int(row["rows"])
    results = []
    for index, rule in enumerate(rules):
        if rule.row_level:
            results.append(_row_result(rule, int(row[f"r{index}_failing"]), int(row[f"r{index}_checked"])))
            continue
        note = missing.get(index)
        if rule.rule_type == "CustomSql":
            measured = custom_sql_value(good_df, rule)
        elif rule.rule_type == "RowCountChange":
            measured, note = row_count_change(int(row[f"r{index}_total"]), previous_rows)
        else:
            measured = quality.measured_value(rule, row, index)
        results.append(_dataset_result(rule, measured, note))
    return Measurement(rows_read, reasons, results)


def gate_message(dataset_name: str, failed: Sequence[RuleResult]) -> str:
    """One line naming the first failed rule and its measured value."""
    first = failed[0]
    measured = first.note if first.measured is None and first.note else f"measured {format_measured(first.measured)}"
    more = f" (and {len(failed) - 1} more failed rules, see the run report)" if len(failed) > 1 else ""
    rule = one_line(first.rule)
    return f"{dataset_name}: quality rule failed: {rule} ({measured}){more}; nothing was published"
