"""DQDL rules as Spark columns: row checks for the quarantine, metrics for one aggregate.

Row rules (``IsComplete``, ``ColumnValues``) become ``(is_bad, reason, detail)`` checks that
``validation.with_typed_columns`` evaluates with the parsing checks, so a breaking row goes to
the quarantine with the rule's text as its reason. Dataset rules become aggregate columns that
are computed together, with the rows per reason, in a single ``agg`` (see
``lakejobs.quality_gate``).
"""

import functools
import math
import operator
import re
import struct
import uuid
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakejobs.dqdl import EMPTY, WHITESPACES_ONLY, Condition, Rule, is_special
from lakejobs.transforms.validation import REASON, quote_name, value_text

Check = Tuple[Column, str, Column]
#: The conditions a null value passes (unless the condition names NULL itself), as Glue's
#: ColumnValues documentation says ("Null behavior"): every other condition fails a null.
NULL_PASSES = ("!=", "not in")


def _literal(value, float_column: bool = False) -> Column:
    """``value`` as a literal; a number compared with a FLOAT column as the float nearest to it.

    Spark compares a FLOAT column with a decimal literal as doubles: a value read as ``0.1``
    holds the float nearest to 0.1, 0.100000001490116..., which is then above ``0.1``, so
    ``<= 0.1`` failed it and ``in [0.05, 0.1]`` missed it (until session 42). The double equal to
    the nearest float compares as the column's own type would.
    """
    if float_column and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return F.lit(as_float32(value))
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return F.lit(Decimal(value))  # beyond a Java long, which F.lit cannot make
    return F.lit(value)


def as_float32(value) -> float:
    """The float32 nearest to ``value`` (ties to even, as Java's ``parseFloat``), as the equal double.

    Rounding to a double first and then to a float can land one float off (a number of 17 or
    more significant digits just past a halfway point): the float next to it on either side
    is compared with the exact value too.
    """
    exact = Fraction(Decimal(value))
    near = _float32_bits(float(exact))
    candidates = [bits for bits in (near - 1, near, near + 1) if math.isfinite(_float32(bits))]
    return _float32(min(candidates, key=lambda bits: (abs(Fraction(_float32(bits)) - exact), bits & 1)))


def _float32_bits(number: float) -> int:
    return struct.unpack("<i", struct.pack("<f", number))[0]


def _float32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<i", bits))[0]


#: Text that a date, timestamp or boolean column reads as one of its values
#: (``quality_gate`` checks such values).
_TYPED_TEXT = re.compile(r"\s*(\d{4}-\d{1,2}-\d{1,2}|true\s*$|false\s*$)", re.IGNORECASE)


def _in_list(column: Column, values: Sequence, float_column: bool = False) -> Column:
    """Whether the column's value is one of ``values``, each compared as ``=`` compares it.

    Spark compares an ``in`` list of text with a date or timestamp column as text (``2014-05-01``
    against ``2014-5-1``, ``2012-01-05 00:00:00`` against ``2012-01-05``) and refuses one with a
    boolean column, while ``=`` reads the text as the column's type: a list holding such text is
    a chain of ``=``. Other lists stay one ``isin``, which Spark turns into a hash lookup past 10
    values.
    """
    plain = [value for value in values if not is_special(value)]
    if any(isinstance(value, str) and _TYPED_TEXT.match(value) for value in plain):
        found = functools.reduce(operator.or_, [column == _literal(value, float_column) for value in plain])
    else:  # literals made as ``=`` makes them: floats, whole numbers past a Java long
        found = column.isin(*[_literal(value, float_column) for value in plain]) if plain else F.lit(False)
    if None in values:
        found = found | column.isNull()
    if EMPTY in values:
        found = found | (column.cast("string") == F.lit(""))
    if WHITESPACES_ONLY in values:
        text = column.cast("string")
        found = found | ((F.length(text) > 0) & (F.trim(text) == F.lit("")))
    return found


def whole_value_pattern(pattern: str) -> str:
    """A ``java.util.regex`` pattern that matches what ``pattern`` matches as the whole value.

    ``rlike`` finds a match anywhere, so the pattern is wrapped in ``^(?:...)\\z`` (``\\z`` is the
    very end; ``$`` also matches before a final line break). A ``\\Q`` that ``pattern`` leaves
    open quotes to its end in Java; it is closed first, or it would quote the wrapping too.
    """
    return "^(?:" + pattern + ("\\E" if _ends_quoted(pattern) else "") + ")\\z"


def _ends_quoted(pattern: str) -> bool:
    """Whether ``pattern`` ends inside ``\\Q...\\E`` quoting."""
    index = 0
    while index < len(pattern):
        if pattern[index] != "\\":
            index += 1
        elif pattern.startswith("\\Q", index):
            end = pattern.find("\\E", index + 2)
            if end < 0:
                return True
            index = end + 2
        else:
            index += 2  # an escaped character, a backslash included
    return False


def _positive(column: Column, condition: Condition) -> Column:
    """The un-negated test (``between`` for ``not between``); null where the value is null."""
    op, values, float_column = condition.op.replace("not ", ""), condition.values, condition.float_column
    if op in ("=", "!=") and is_special(values[0]):
        return _in_list(column, values)
    first = _literal(values[0], float_column)
    comparisons = {
        "=": lambda: column == first,
        "!=": lambda: column == first,
        ">": lambda: column > first,
        ">=": lambda: column >= first,
        "<": lambda: column < first,
        "<=": lambda: column <= first,
        "between": lambda: (column >= first) & (column <= _literal(values[1], float_column)),
        "in": lambda: _in_list(column, values, float_column),
        "matches": lambda: column.cast("string").rlike(whole_value_pattern(str(values[0]))),
    }
    return comparisons[op]()


def value_passes(column: Column, condition: Condition) -> Column:
    """True where a column value satisfies ``condition``, never null.

    As in Glue Data Quality, a null value fails every condition except ``!=`` and ``not in``
    (``NULL_PASSES``), which it passes unless the condition names ``NULL`` itself; it fails
    ``not between`` and ``not matches`` (until session 32 it passed them here).
    """
    positive = _positive(column, condition)
    negated = condition.op == "!=" or condition.op.startswith("not ")
    return F.coalesce(~positive if negated else positive, F.lit(condition.op in NULL_PASSES))


def _applies(rule: Rule) -> Column:
    return F.coalesce(F.expr(rule.where), F.lit(False)) if rule.where else F.lit(True)


def row_violation(rule: Rule) -> Column:
    """True where a row breaks a row rule (rows outside its ``where`` never do)."""
    column = F.col(quote_name(rule.columns[0]))
    broken = column.isNull() if rule.rule_type == "IsComplete" else ~value_passes(column, rule.condition)
    return _applies(rule) & broken


def _detail(rule: Rule) -> Column:
    name = rule.columns[0]
    if rule.rule_type == "IsComplete":
        return F.lit(f"{name} is empty ({rule.text})")
    shown = F.coalesce(value_text(name), F.lit("null"))
    return F.concat(F.lit(f"{name}="), shown, F.lit(f" breaks {rule.text}"))


def row_checks(rules: Sequence[Rule]) -> List[Check]:
    """``(is_bad, reason, detail)`` of every row rule of severity ``fail``, in ruleset order."""
    return [
        (row_violation(rule), rule.text, _detail(rule)) for rule in rules if rule.row_level and rule.severity == "fail"
    ]


def ri_flag(index: int) -> str:
    """Name of the column that says a row's ReferentialIntegrity key was found (rule ``index``)."""
    return f"__ri_found_{index}"


def with_reference_flags(rules: Sequence[Rule], references: Dict[int, DataFrame]) -> Callable[[DataFrame], DataFrame]:
    """Add ``ri_flag(i)`` (true or null) for every ReferentialIntegrity rule with a reference frame.

    ``references`` maps the rule's index to the reference rows (its key columns, in the rule's
    order). The flag is an ``EXISTS`` over the broadcast reference, which Spark plans as a
    broadcast hash ExistenceJoin: each row gets a found-or-not column, so no row is repeated or
    shuffled, and a key the reference repeats needs no ``distinct`` (references are dimension
    keys, unique in practice; keys with a null are dropped, they match nothing). At 10M order
    lines this was 0.2-2.7 s (median 2.0 s) faster per orders conversion than the left join of
    distinct keys it replaced, whose shuffle aggregate was most of the two rules' cost
    (``bench/HISTORY.md``, "Session 24").
    """

    def _(df: DataFrame) -> DataFrame:
        for index, reference_df in references.items():
            df = _flag_found(df, rules[index].columns, reference_df, ri_flag(index))
        return df

    return _


def _flag_found(df: DataFrame, columns: Sequence[str], reference_df: DataFrame, flag: str) -> DataFrame:
    """``df`` with ``flag``: true when its ``columns`` equal a row of ``reference_df``, else null."""
    # PySpark 3.5 has no DataFrame subquery: the reference is a temporary view while the
    # expression is analysed (then it is part of the plan, and the view is dropped). Its key
    # names are unique, so an unqualified name in the subquery can only be one of ``df``'s.
    view = f"__lakejobs_reference_{uuid.uuid4().hex}"
    keys = [f"{view}_{position}" for position in range(len(columns))]
    reference_df.toDF(*keys).dropna().createOrReplaceTempView(view)
    try:
        matches = " AND ".join(f"reference.{key} = {quote_name(own)}" for own, key in zip(columns, keys))
        found = F.expr(f"EXISTS (SELECT /*+ BROADCAST(reference) */ 1 FROM {view} reference WHERE {matches})")
        return df.withColumn(flag, F.when(found, F.lit(True)))
    finally:
        df.sparkSession.catalog.dropTempView(view)


def _count(condition: Column) -> Column:
    return F.count(F.when(condition, F.lit(1)))


def _keys_present(rule: Rule) -> Column:
    present = F.lit(True)
    for column in rule.columns:
        present = present & F.col(quote_name(column)).isNotNull()
    return present


def covers_key(rule: Rule, unique_key: Sequence[str]) -> bool:
    """Tell whether ``rule`` is an IsUnique rule whose columns include every one of ``unique_key``.

    Rows that hold each value of ``unique_key`` once hold each value of such a rule's columns
    once too (a where filter only selects fewer of them): the rule holds without counting.
    """
    return rule.rule_type == "IsUnique" and bool(unique_key) and set(unique_key) <= set(rule.columns)


def metric_columns(
    rules: Sequence[Rule], has_reference: Sequence[bool], unique_key: Sequence[str] = ()
) -> Dict[str, Column]:
    """Aggregate columns measuring every rule, keyed ``r<index>_<part>``.

    Row rules: ``checked``, the rows a rule was judged on (those its ``where`` selects among
    the rows that reached it: good rows, the repeated keys, which passed every rule, and the
    rows quarantined by it or by a later rule; not rows quarantined for a parsing error or by
    an earlier rule), and ``failing``, those of them breaking it. Dataset rules: over the good rows (those published).
    ``unique_key``: columns the good rows are known to hold each value of once (the primary
    key, checked or deduplicated): an IsUnique rule that ``covers_key`` counts its rows as
    distinct instead of counting distinct values (a hash aggregate of every row).
    """
    good = F.col(REASON).isNull()
    # Flagged after the rules ran (``validation.with_duplicate_keys_flagged``): they passed them.
    repeated = F.coalesce(F.col(REASON).startswith("duplicate_key:"), F.lit(False))
    columns: Dict[str, Column] = {}
    for index, rule in enumerate(rules):
        key = f"r{index}_"
        if rule.row_level:
            # Quarantined by a later rule: it passed this one (the first failing rule names a row).
            later = [other.text for other in rules[index + 1 :] if other.row_level and other.severity == "fail"]
            reached = good | repeated | (F.col(REASON) == F.lit(rule.text))
            if later:
                reached = reached | F.col(REASON).isin(later)
            checked = reached & _applies(rule)
            columns[key + "checked"] = _count(checked)
            columns[key + "failing"] = _count(checked & row_violation(rule))
        elif rule.rule_type == "Completeness":
            selected = good & _applies(rule)
            columns[key + "total"] = _count(selected)
            columns[key + "hits"] = _count(selected & F.col(quote_name(rule.columns[0])).isNotNull())
        elif rule.rule_type == "IsUnique":
            selected = good & _applies(rule)
            columns[key + "total"] = _count(selected)
            values = F.struct(*[F.col(quote_name(column)) for column in rule.columns])
            distinct = _count(selected) if covers_key(rule, unique_key) else F.count_distinct(F.when(selected, values))
            columns[key + "distinct"] = distinct
        elif rule.rule_type == "ReferentialIntegrity" and has_reference[index]:
            selected = good & _applies(rule) & _keys_present(rule)
            columns[key + "total"] = _count(selected)
            columns[key + "hits"] = _count(selected & F.col(ri_flag(index)).isNotNull())
        elif rule.rule_type in ("RowCount", "RowCountChange"):
            columns[key + "total"] = _count(good & _applies(rule))
    return columns


def measured_value(rule: Rule, row: Dict[str, Optional[int]], index: int) -> Optional[Union[int, Fraction]]:
    """The value a dataset rule is judged on, from the aggregate row (None when not measurable).

    Exact: a count, or a share as the ``Fraction`` of two counts (rounding happens only for
    display, see ``lakejobs.quality_gate``).
    """
    key = f"r{index}_"
    total = row.get(key + "total")
    if rule.rule_type in ("Completeness", "ReferentialIntegrity"):
        if total is None:
            return None
        return Fraction(1) if total == 0 else Fraction(int(row[key + "hits"]), int(total))
    if rule.rule_type == "IsUnique":
        return int(total) - int(row[key + "distinct"])
    if rule.rule_type == "RowCount":
        return int(total)
    return None
