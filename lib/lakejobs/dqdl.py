"""Quality rules as data: a small reader for AWS Glue Data Quality's DQDL rulesets.

A ruleset is text, so it lives next to a dataset's schema (``Dataset.rules``) or in a file a
user passes with ``--rules``, and the same text reads like (and mostly is) a Glue Data Quality
ruleset::

    Rules = [
        IsComplete "customerid",
        ColumnValues "orderqty" > 0,
        ColumnValues "status" in ["open", "closed", NULL] where "orderdate >= '2012-01-01'",
        ColumnValues "email" matches "[^@]+@[^@]+" with threshold >= 0.99,
        ReferentialIntegrity "customerid" "customers.customerid" >= 0.99 severity warn,
        RowCount between 1 and 10000000,
        RowCountChange between -0.5 and 0.5,
        CustomSql "select count(*) from primary where shipdate < orderdate" = 0
    ]

This module is pure Python (no Spark): a bad ruleset is rejected before a JVM starts. What
each rule measures and where its failing rows go is ``lakejobs.transforms.quality``'s job.
"""

import dataclasses
import re
from decimal import Decimal
from fractions import Fraction
from typing import List, Optional, Sequence, Tuple, Union

from lakejobs.errors import UsageError


@dataclasses.dataclass(frozen=True)
class Keyword:
    """``EMPTY`` or ``WHITESPACES_ONLY`` in a rule: a kind of value, never the text ``"EMPTY"``."""

    name: str

    def __str__(self) -> str:
        return self.name


EMPTY, WHITESPACES_ONLY = Keyword("EMPTY"), Keyword("WHITESPACES_ONLY")
#: A rule's value: ``NULL`` is None; a quoted ``"EMPTY"`` is the string, the bare word a ``Keyword``.
Value = Union[int, Decimal, str, Keyword, None]
#: A measured number: exact (``int``, ``Fraction`` of two counts) or a ``float`` (CustomSql).
Measured = Union[int, float, Fraction]

#: Rule types checked row by row: failing rows are quarantined with the rule as the reason.
ROW_RULES = ("IsComplete", "ColumnValues")
#: Rule types measured once over the dataset: pass or fail with the measured value.
DATASET_RULES = ("Completeness", "IsUnique", "ReferentialIntegrity", "RowCount", "RowCountChange", "CustomSql")
SEVERITIES = ("fail", "warn")
#: Placeholders DQDL allows inside ``in [...]`` lists, by the word written.
SPECIAL_VALUES = {"NULL": None, "EMPTY": EMPTY, "WHITESPACES_ONLY": WHITESPACES_ONLY}
#: How the keywords may be written: upper or lower case, as Glue's grammar takes them.
_KEYWORD_SPELLINGS = {spelling for word in SPECIAL_VALUES for spelling in (word, word.lower())}
#: Operators that compare numbers (every one but ``matches``).
NUMBER_OPS = ("=", "!=", ">", ">=", "<", "<=", "between", "not between", "in", "not in")
#: Operators that order values: ``NULL``, ``EMPTY`` and ``WHITESPACES_ONLY`` cannot follow them.
ORDER_OPS = (">", ">=", "<", "<=", "between", "not between")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<comment>\#[^\n]*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>>=|<=|!=|=|>|<)
      | (?P<punct>[\[\],()])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


_NO_NOW = "dates relative to now() are not supported; compare with a date"


class RulesError(UsageError):
    """A ruleset that cannot be read; the message names the rule and what was expected."""


@dataclasses.dataclass(frozen=True)
class Token:
    """One lexical token: ``kind`` is string, number, op, punct or word."""

    kind: str
    value: Value
    text: str


@dataclasses.dataclass(frozen=True)
class Condition:
    """What a measured value (or a column value) must satisfy.

    ``op`` is one of ``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``between``, ``not between``,
    ``in``, ``not in``, ``matches``, ``not matches``. ``between`` includes both ends, as SQL's.
    """

    op: str
    values: Tuple[Value, ...]
    #: Set for a ColumnValues rule over a FLOAT column (``quality_gate.mark_float_columns``): its
    #: numbers are compared as floats, as the column holds them (not part of the rule's text).
    float_column: bool = False

    def holds(self, measured: Optional[Measured]) -> bool:
        """Tell whether a measured number satisfies the condition.

        An exact measure (an ``int`` count, a ``Fraction`` of two counts) is compared exactly
        with the rule's numbers (``0.99`` is 99/100), so 9999996 of 10000000 is not ``= 1.0``;
        a ``float`` (a CustomSql result) is compared as a float.
        """
        if measured is None:
            return False
        exact = not isinstance(measured, float)
        numbers = [Fraction(value) if exact else float(value) for value in self.values if _is_number(value)]
        comparisons = {
            "=": lambda: measured == numbers[0],
            "!=": lambda: measured != numbers[0],
            ">": lambda: measured > numbers[0],
            ">=": lambda: measured >= numbers[0],
            "<": lambda: measured < numbers[0],
            "<=": lambda: measured <= numbers[0],
            "between": lambda: numbers[0] <= measured <= numbers[1],
            "not between": lambda: not numbers[0] <= measured <= numbers[1],
            "in": lambda: measured in numbers,
            "not in": lambda: measured not in numbers,
        }
        if self.op not in comparisons:
            raise RulesError(f"'{self.op}' cannot compare a measured number")
        return bool(comparisons[self.op]())

    def render(self) -> str:
        """The condition as DQDL text."""
        if self.op.endswith("between"):
            return f"{self.op} {render_value(self.values[0])} and {render_value(self.values[1])}"
        if self.op.endswith("in"):
            return f"{self.op} [{', '.join(render_value(value) for value in self.values)}]"
        return f"{self.op} {render_value(self.values[0])}"


@dataclasses.dataclass(frozen=True)
class Rule:
    """One DQDL rule.

    Attributes
    ----------
    rule_type : str
        ``IsComplete``, ``ColumnValues``, ``Completeness``, ``IsUnique``, ...
    columns : tuple of str
        The columns it checks (empty for RowCount, RowCountChange, CustomSql).
    condition : Condition, optional
        The expression a value must satisfy.
    reference : tuple, optional
        ReferentialIntegrity's ``(dataset, (columns...))``.
    sql : str, optional
        CustomSql's statement (the dataset is the table ``primary``).
    where : str, optional
        A Spark SQL filter: the rule checks only the rows it selects.
    threshold : Condition, optional
        For row rules: the share of passing rows the whole rule needs (``with threshold``).
    severity : str
        ``fail`` (the default: quarantine failing rows, or stop the run) or ``warn`` (report only).
    """

    rule_type: str
    columns: Tuple[str, ...] = ()
    condition: Optional[Condition] = None
    reference: Optional[Tuple[str, Tuple[str, ...]]] = None
    sql: Optional[str] = None
    where: Optional[str] = None
    threshold: Optional[Condition] = None
    severity: str = "fail"

    @property
    def row_level(self) -> bool:
        """Rules checked row by row (see ``ROW_RULES``)."""
        return self.rule_type in ROW_RULES

    @property
    def text(self) -> str:
        """The rule as canonical DQDL text, without its severity: the quarantine reason."""
        parts = [self.rule_type]
        if self.rule_type == "ReferentialIntegrity" and self.reference:
            dataset, columns = self.reference
            target = columns[0] if len(columns) == 1 else "{" + ",".join(columns) + "}"
            parts += [render_value(",".join(self.columns)), render_value(f"{dataset}.{target}")]
        else:
            parts += [render_value(column) for column in self.columns]
        if self.sql is not None:
            parts.append(render_value(self.sql))
        if self.condition is not None:
            parts.append(self.condition.render())
        if self.where is not None:
            parts += ["where", render_value(self.where)]
        if self.threshold is not None:
            parts += ["with threshold", self.threshold.render()]
        return " ".join(parts)


_SQL_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<quoted>`(?:[^`]|``)*`)
      | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z]*)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<other>->|\S)
    )""",
    re.VERBOSE,
)
#: Words of Spark SQL filters that are not column names: keywords, type names, interval units
#: and functions called without parentheses. A column named like one of them is not checked.
_SQL_WORDS = frozenset(
    """and or not is null true false unknown in between like ilike rlike regexp escape case when then else
    end cast try_cast as distinct exists any some all div interval date timestamp timestamp_ntz
    timestamp_ltz int integer bigint smallint tinyint long short byte string varchar char double float
    real decimal dec numeric boolean binary array map struct year years month months week weeks day
    days hour hours minute minutes second seconds millisecond milliseconds microsecond microseconds
    current_date current_timestamp current_user current_timezone current_catalog current_database
    current_schema user session_user""".split()
)


def where_columns(where: str) -> Tuple[str, ...]:
    """The column names a ``where`` filter reads, as far as plain text tells (pure Python).

    Skipped: string literals, keywords and type names (``_SQL_WORDS``), function names (a word
    before ``(``), struct fields (after ``.``) and typed literals (``date '2012-01-01'``). A
    filter that cannot be read this way (a lambda ``->``, a subquery, an unclosed quote) gives
    no names: Spark reports what is wrong with it.

    Examples
    --------
    >>> where_columns("orderdate >= date '2012-01-01' and upper(`status`) in ('A', 'B')")
    ('orderdate', 'status')
    """
    tokens, position = [], 0
    while position < len(where) and where[position:].strip():
        match = _SQL_TOKEN.match(where, position)
        if not match:
            return ()
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    if any(text in ("->", "'", '"', "`") or text.lower() == "select" for _kind, text in tokens):
        return ()
    names = []
    for index, (kind, text) in enumerate(tokens):
        before = tokens[index - 1][1].lower() if index else ""
        after = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
        if kind == "quoted":
            name = text[1:-1].replace("``", "`")
        elif kind == "word" and text.lower() not in _SQL_WORDS and after[0] != "string":
            name = text
        else:
            continue
        if before not in (".", "as") and after[1] != "(" and name not in names:
            names.append(name)
    return tuple(names)


def _is_number(value: Value) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def render_value(value: Value) -> str:
    """A value as DQDL writes it: strings in double quotes, numbers as they are.

    Inside quotes only ``"`` and a backslash that would otherwise escape the next character
    (or the closing quote) are escaped, so ``"\\d{5}"`` renders as it was written.
    """
    if value is None:
        return "NULL"
    if isinstance(value, Keyword):
        return value.name
    if isinstance(value, str):
        escaped = re.sub(r'\\(?=[\\"]|$)', r"\\\\", value).replace('"', '\\"')
        return '"' + escaped + '"'
    if isinstance(value, Decimal):
        return format(value, "f")  # 0.0000000000000000001, not 1E-19
    return str(value)


def is_special(value: Value) -> bool:
    """Whether ``value`` is ``NULL``, ``EMPTY`` or ``WHITESPACES_ONLY`` (not a quoted string)."""
    return value is None or isinstance(value, Keyword)


def tokenize(text: str) -> List[Token]:
    """Split DQDL text into tokens; ``#`` starts a comment that runs to the end of the line."""
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            line = text.count("\n", 0, position) + 1
            if [token.text for token in tokens[-3:]] == ["now", "(", ")"]:
                raise RulesError(f"line {line}: {_NO_NOW}")
            raise RulesError(f"cannot read the rules at line {line}: {text[position:].strip()[:40]!r}")
        position = match.end()
        kind = match.lastgroup
        raw = match.group(kind)
        if kind == "comment":
            continue
        tokens.append(Token(kind, _token_value(kind, raw), raw))
    return tokens


def _token_value(kind: str, raw: str) -> Value:
    if kind == "string":
        # Only \" and \\ are escapes: a regular expression's \d or \. keeps its backslash.
        return re.sub(r'\\(["\\])', r"\1", raw[1:-1])
    if kind == "number":
        return Decimal(raw) if "." in raw else int(raw)
    return raw


class _Reader:
    """A cursor over the tokens of one rule."""

    def __init__(self, tokens: Sequence[Token], source: str) -> None:
        self.tokens, self.index, self.source = list(tokens), 0, source

    def fail(self, expected: str) -> RulesError:
        found = self.tokens[self.index].text if self.index < len(self.tokens) else "the end of the rule"
        return RulesError(f"rule {self.source!r}: expected {expected}, found {found!r}")

    def peek(self, offset: int = 0) -> Optional[Token]:
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self, kind: str, expected: str, value: Optional[str] = None) -> Token:
        token = self.peek()
        if token is None or token.kind != kind or (value is not None and token.value != value):
            raise self.fail(expected)
        self.index += 1
        return token

    def accept_word(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.value == word:
            self.index += 1
            return True
        return False

    def done(self) -> bool:
        return self.index >= len(self.tokens)


def _value(reader: _Reader) -> Value:
    token = reader.peek()
    if token is None:
        raise reader.fail("a value")
    if token.kind in ("string", "number"):
        reader.index += 1
        return token.value
    if token.kind == "word" and token.value in _KEYWORD_SPELLINGS:
        reader.index += 1
        return SPECIAL_VALUES[str(token.value).upper()]
    raise reader.fail('a number, a "string" or NULL/EMPTY/WHITESPACES_ONLY')


def _value_list(reader: _Reader) -> Tuple[Value, ...]:
    reader.take("punct", "'['", "[")
    values = [_value(reader)]
    while reader.peek() is not None and reader.peek().value == ",":
        reader.index += 1
        values.append(_value(reader))
    reader.take("punct", "']'", "]")
    return tuple(values)


def _condition(reader: _Reader) -> Condition:
    """``op value`` | ``[not] between a and b`` | ``[not] in [...]`` | ``[not] matches "re"``."""
    token = reader.peek()
    if token is not None and token.kind == "op":
        reader.index += 1
        return Condition(str(token.value), (_value(reader),))
    negated = "not " if reader.accept_word("not") else ""
    if reader.accept_word("between"):
        low = _value(reader)
        if not reader.accept_word("AND"):
            reader.take("word", "'and'", "and")
        return Condition(negated + "between", (low, _value(reader)))
    if reader.accept_word("in"):
        return Condition(negated + "in", _value_list(reader))
    if reader.accept_word("matches"):
        return Condition(negated + "matches", (reader.take("string", 'a "regular expression"').value,))
    raise reader.fail('a condition (> n, between a and b, in [...], matches "...")')


def _columns(reader: _Reader, single: bool = False) -> Tuple[str, ...]:
    columns = [str(reader.take("string", 'a "column" name').value)]
    while not single and reader.peek() is not None and reader.peek().kind == "string":
        columns.append(str(reader.take("string", "a column").value))
    return tuple(columns)


def _reference(reader: _Reader) -> Tuple[Tuple[str, ...], Tuple[str, Tuple[str, ...]]]:
    own = tuple(part.strip() for part in str(reader.take("string", '"column"').value).split(","))
    target = str(reader.take("string", '"dataset.column"').value)
    dataset, _, columns_text = target.partition(".")
    columns = tuple(part.strip() for part in columns_text.strip("{}").split(","))
    if not dataset or not all(columns) or len(columns) != len(own):
        raise RulesError(f'rule {reader.source!r}: expected "dataset.column" (or "dataset.{{c1,c2}}"), got {target!r}')
    return own, (dataset, columns)


def _rule_body(reader: _Reader, rule_type: str) -> dict:
    if rule_type == "IsComplete":
        return {"columns": _columns(reader, single=True)}
    if rule_type == "IsUnique":
        return {"columns": _columns(reader)}
    if rule_type in ("ColumnValues", "Completeness"):
        return {"columns": _columns(reader, single=True), "condition": _condition(reader)}
    if rule_type == "ReferentialIntegrity":
        columns, reference = _reference(reader)
        return {"columns": columns, "reference": reference, "condition": _condition(reader)}
    if rule_type in ("RowCount", "RowCountChange"):
        return {"condition": _condition(reader)}
    if rule_type == "CustomSql":
        return {"sql": str(reader.take("string", 'a "select ..." statement').value), "condition": _condition(reader)}
    known = ", ".join(ROW_RULES + DATASET_RULES)
    raise RulesError(f"rule {reader.source!r}: unknown or unsupported rule type {rule_type!r} (known: {known})")


def _check_number_condition(condition: Condition, source: str, subject: str) -> None:
    """A measured number is compared with numbers only (no ``matches``, strings or NULL)."""
    if condition.op not in NUMBER_OPS:
        raise RulesError(f"rule {source!r}: {subject} is compared with numbers, '{condition.op}' does not apply")
    for value in condition.values:
        if not _is_number(value):
            raise RulesError(f"rule {source!r}: {subject} is compared with numbers, got {render_value(value)}")


def _check_value_condition(condition: Condition, source: str) -> None:
    """ColumnValues: NULL, EMPTY and WHITESPACES_ONLY only with =, !=, in, not in; no mixed between."""
    for value in condition.values:
        if condition.op in ORDER_OPS and is_special(value):
            raise RulesError(
                f"rule {source!r}: {render_value(value)} cannot follow '{condition.op}' (use =, != or in [...])"
            )
    if condition.op.endswith("between") and _is_number(condition.values[0]) != _is_number(condition.values[1]):
        raise RulesError(f"rule {source!r}: between needs two numbers or two strings")


def _check_conditions(rule: Rule, source: str) -> None:
    """Refuse operators and values the rule type cannot compare: a bad rule never reaches Spark."""
    if rule.threshold is not None:
        _check_number_condition(rule.threshold, source, "with threshold")
        _check_fraction(rule.threshold, source, "with threshold")
    if rule.condition is None:
        return
    if rule.rule_type == "ColumnValues":
        _check_value_condition(rule.condition, source)
    else:
        _check_number_condition(rule.condition, source, rule.rule_type)
    if rule.rule_type in ("Completeness", "ReferentialIntegrity"):
        _check_fraction(rule.condition, source, rule.rule_type)
    _check_bounds(rule.condition, source)


def _check_fraction(condition: Condition, source: str, subject: str) -> None:
    """A share of rows is compared with numbers from 0 to 1 (``>= 1.5`` failed every run, ``<= 2`` none)."""
    outside = [value for value in condition.values if _is_number(value) and not 0 <= value <= 1]
    if outside:
        raise RulesError(f"rule {source!r}: {subject} is a share of rows, from 0 to 1, got {render_value(outside[0])}")


def _check_bounds(condition: Condition, source: str) -> None:
    """``between 5 and 1`` holds no number: every row failed the rule (and ``not between`` none)."""
    if condition.op.endswith("between") and all(_is_number(value) for value in condition.values):
        low, high = condition.values
        if low > high:
            raise RulesError(
                f"rule {source!r}: between {render_value(low)} and {render_value(high)} holds no number: "
                "write the smaller bound first"
            )


def _clauses(reader: _Reader) -> dict:
    """The optional ``where "..."``, ``with threshold ...`` and ``severity fail|warn`` clauses."""
    clauses: dict = {}
    while not reader.done():
        for name in ("where", "with", "severity"):
            key = "threshold" if name == "with" else name
            if key in clauses and reader.accept_word(name):
                raise RulesError(
                    f"rule {reader.source!r}: {name} is given twice (one each of where, with threshold, severity)"
                )
        if reader.accept_word("where"):
            clauses["where"] = str(reader.take("string", 'a "condition" after where').value)
        elif reader.accept_word("with"):
            reader.take("word", "'threshold' after with", "threshold")
            clauses["threshold"] = _condition(reader)
        elif reader.accept_word("severity"):
            severity = reader.take("word", "fail or warn after severity").value
            if severity not in SEVERITIES:
                raise RulesError(f"rule {reader.source!r}: severity must be fail or warn, got {severity!r}")
            clauses["severity"] = severity
        else:
            raise reader.fail("where, with threshold, severity or the end of the rule")
    return clauses


def parse_rule(tokens: Sequence[Token]) -> Rule:
    """Read one rule from its tokens."""
    source = " ".join(token.text for token in tokens)
    reader = _Reader(tokens, source)
    if any(token.kind == "word" and str(token.value).lower() == "now" for token in tokens):
        raise RulesError(f"rule {source!r}: {_NO_NOW}")
    if any(token.kind == "punct" and token.value in "()" for token in tokens):
        raise RulesError(f"rule {source!r}: composite rules (and/or with parentheses) are not supported")
    rule_type = str(reader.take("word", "a rule type").value)
    body = _rule_body(reader, rule_type)
    clauses = _clauses(reader)
    rule = Rule(rule_type=rule_type, **body, **clauses)
    if rule.threshold is not None and not rule.row_level:
        raise RulesError(f"rule {source!r}: with threshold applies to row rules ({', '.join(ROW_RULES)}) only")
    if rule.where is not None and rule.rule_type in ("RowCountChange", "CustomSql"):
        raise RulesError(f"rule {source!r}: where does not apply to {rule.rule_type}")
    _check_conditions(rule, source)
    return rule


def _split_rules(tokens: Sequence[Token]) -> List[List[Token]]:
    """Split the tokens between the ruleset's brackets at the top-level commas."""
    rules, current, depth = [], [], 0
    for token in tokens:
        if token.kind == "punct" and token.value in "[(":
            depth += 1
        elif token.kind == "punct" and token.value in "])":
            depth -= 1
        if depth == 0 and token.kind == "punct" and token.value == ",":
            rules.append(current)
            current = []
            continue
        current.append(token)
    if current:
        rules.append(current)
    return rules


def parse_ruleset(text: str) -> Tuple[Rule, ...]:
    """Read a DQDL ruleset: ``Rules = [ rule, rule, ... ]`` (an empty text has no rules).

    Raises
    ------
    RulesError
        With the rule and what was expected, for anything that is not a supported rule, and
        for a rule given twice (whatever its severity: its rows would be counted twice).

    Examples
    --------
    >>> [rule.text for rule in parse_ruleset('Rules = [ IsComplete "id", RowCount > 0 ]')]
    ['IsComplete "id"', 'RowCount > 0']
    """
    tokens = tokenize(text)
    if not tokens:
        return ()
    if [token.text for token in tokens[:3]] != ["Rules", "=", "["] or tokens[-1].text != "]":
        raise RulesError("a ruleset must read Rules = [ rule, rule, ... ]")
    rules = tuple(parse_rule(rule_tokens) for rule_tokens in _split_rules(tokens[3:-1]))
    texts = [rule.text for rule in rules]
    repeated = sorted({text for text in texts if texts.count(text) > 1})
    if repeated:
        raise RulesError(f"a rule is given twice (each rule is one check; keep one): {'; '.join(repeated)}")
    return rules
