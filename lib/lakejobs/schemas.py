"""Schemas as code: the built-in datasets' ``StructType`` and a parser for DDL strings.

The DDL parser is pure Python so that a bad ``--schema`` is rejected before a JVM starts.
It accepts what Spark's ``StructType.fromDDL`` accepts for flat CSV data::

    id BIGINT NOT NULL, name STRING, amount DECIMAL(10,2), `order date` DATE

Examples
--------
>>> parse_ddl("id INT NOT NULL, amount DECIMAL(10,2)").simpleString()
'struct<id:int,amount:decimal(10,2)>'
"""

import re
from typing import List

from pyspark.sql import types as T

from lakejobs.errors import UsageError

MONEY = T.DecimalType(17, 4)

CUSTOMERS = T.StructType(
    [
        T.StructField("customerid", T.IntegerType(), nullable=False),
        T.StructField("firstname", T.StringType()),
        T.StructField("lastname", T.StringType()),
        T.StructField("fullname", T.StringType()),
    ]
)

EMPLOYEES = T.StructType(
    [
        T.StructField("employeeid", T.IntegerType(), nullable=False),
        T.StructField("managerid", T.IntegerType()),
        T.StructField("firstname", T.StringType()),
        T.StructField("lastname", T.StringType()),
        T.StructField("fullname", T.StringType()),
        T.StructField("jobtitle", T.StringType()),
        T.StructField("organizationlevel", T.IntegerType()),
        T.StructField("maritalstatus", T.StringType()),
        T.StructField("gender", T.StringType()),
        T.StructField("territory", T.StringType()),
        T.StructField("country", T.StringType()),
        T.StructField("group", T.StringType()),
    ]
)

ORDERS = T.StructType(
    [
        T.StructField("salesorderid", T.IntegerType(), nullable=False),
        T.StructField("salesorderdetailid", T.IntegerType(), nullable=False),
        T.StructField("orderdate", T.DateType(), nullable=False),
        T.StructField("duedate", T.DateType()),
        T.StructField("shipdate", T.DateType()),
        T.StructField("employeeid", T.IntegerType()),
        T.StructField("customerid", T.IntegerType()),
        T.StructField("subtotal", MONEY),
        T.StructField("taxamt", MONEY),
        T.StructField("freight", MONEY),
        T.StructField("totaldue", MONEY),
        T.StructField("productid", T.IntegerType()),
        T.StructField("orderqty", T.IntegerType()),
        T.StructField("unitprice", MONEY),
        T.StructField("unitpricediscount", MONEY),
        T.StructField("linetotal", MONEY),
    ]
)

_SIMPLE_TYPES = {
    "string": T.StringType(),
    "varchar": T.StringType(),
    "char": T.StringType(),
    "text": T.StringType(),
    "int": T.IntegerType(),
    "integer": T.IntegerType(),
    "bigint": T.LongType(),
    "long": T.LongType(),
    "smallint": T.ShortType(),
    "short": T.ShortType(),
    "tinyint": T.ByteType(),
    "byte": T.ByteType(),
    "double": T.DoubleType(),
    "float": T.FloatType(),
    "real": T.FloatType(),
    "boolean": T.BooleanType(),
    "bool": T.BooleanType(),
    "date": T.DateType(),
    "timestamp": T.TimestampType(),
    "decimal": T.DecimalType(10, 0),
    "dec": T.DecimalType(10, 0),
    "numeric": T.DecimalType(10, 0),
}

_COLUMN = re.compile(
    r"""^\s*(?P<name>`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\s*:?\s+
        (?P<type>[A-Za-z]+)\s*(?:\(\s*(?P<args>[0-9,\s]+)\)\s*)?
        (?P<rest>.*)$""",
    re.VERBOSE | re.DOTALL,
)
_COMMENT = re.compile(r"^COMMENT\s+'(?:[^'\\]|\\.)*'$", re.IGNORECASE)


def parse_ddl(ddl: str) -> T.StructType:
    """Parse a flat Spark DDL column list into a ``StructType``.

    Parameters
    ----------
    ddl : str
        Comma-separated ``name TYPE [NOT NULL] [COMMENT '...']`` items.

    Returns
    -------
    StructType
        One field per column; ``NOT NULL`` columns are not nullable.

    Raises
    ------
    UsageError
        When the string is empty, a column or type cannot be read, a name has a dot, a type is nested (CSV
        holds only flat values) or a column name repeats.
    """
    if not ddl or not ddl.strip():
        raise UsageError("the schema DDL is empty: expected e.g. 'id BIGINT, name STRING'")
    fields = [_parse_column(item) for item in _split_top_level(ddl)]
    names = [field.name.lower() for field in fields]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"the schema DDL names a column more than once: {', '.join(repeated)}")
    return T.StructType(fields)


def _split_top_level(ddl: str) -> List[str]:
    items, depth, current, in_quote = [], 0, [], None
    for char in ddl:
        if in_quote:
            in_quote = None if char == in_quote else in_quote
        elif char in "`'":
            in_quote = char
        elif char in "(<":
            depth += 1
        elif char in ")>":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    items.append("".join(current))
    return items


def _parse_column(item: str) -> T.StructField:
    match = _COLUMN.match(item)
    if not match:
        raise UsageError(f"cannot read schema column {item.strip()!r}: expected 'name TYPE'{_backtick_hint(item)}")
    name = match.group("name").strip("`")
    if "." in name:
        raise UsageError(f"column {name!r}: a name with a dot is not supported (Spark reads a.b as field b of a)")
    data_type = _parse_type(match.group("type").lower(), match.group("args"), item)
    rest = match.group("rest").strip()
    nullable = True
    if re.match(r"^NOT\s+NULL\b", rest, re.IGNORECASE):
        nullable = False
        rest = re.sub(r"^NOT\s+NULL\s*", "", rest, flags=re.IGNORECASE)
    if rest and not _COMMENT.match(rest):
        raise UsageError(f"cannot read schema column {item.strip()!r}: unexpected {rest!r}{_backtick_hint(item)}")
    return T.StructField(name, data_type, nullable=nullable)


def _backtick_hint(item: str) -> str:
    """A hint for a column name that needs backticks (``prénom``, ``unit price``), else ``""``.

    The name is what comes before a word that starts with a known type (before any quote); a
    plain name (letters, digits, ``_``) needs none, and one with a dot or a backtick cannot have them.
    """
    words = list(re.finditer(r"[^\s']+(?=\s|$)", item.split("'")[0]))
    for word in words[1:]:
        type_word = re.match(r"[A-Za-z]+", word.group())
        if not type_word or type_word.group().lower() not in _SIMPLE_TYPES:
            continue
        name = item[words[0].start() : word.start()].strip().rstrip(":").rstrip()
        if _PLAIN_NAME.fullmatch(name):
            continue
        if "." in name or "`" in name:
            return ""
        written = f"`{name}` {item[word.start() :].strip()}"
        return f"; a name of other characters than A-Z, 0-9 and _ goes in backticks: {written}"
    return ""


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _parse_type(type_name: str, args: str, item: str) -> T.DataType:
    if type_name in ("array", "map", "struct"):
        raise UsageError(f"column {item.strip()!r}: nested types cannot be read from CSV")
    if type_name not in _SIMPLE_TYPES:
        known = ", ".join(sorted({t.upper() for t in _SIMPLE_TYPES}))
        hint = _backtick_hint(item)
        raise UsageError(f"column {item.strip()!r}: unknown type {type_name.upper()} (known: {known}){hint}")
    if type_name in ("decimal", "dec", "numeric") and args:
        if not re.fullmatch(r"\s*\d+\s*(,\s*\d+\s*)?", args):
            raise UsageError(f"column {item.strip()!r}: DECIMAL({args}) is not DECIMAL(precision[, scale])")
        numbers = [int(part) for part in args.split(",")]
        precision, scale = (numbers + [0])[:2]
        if not 1 <= precision <= 38 or not 0 <= scale <= precision:
            raise UsageError(f"column {item.strip()!r}: DECIMAL({args}) is out of range")
        return T.DecimalType(precision, scale)
    if args is not None and not (type_name in ("char", "varchar") and re.fullmatch(r"\s*\d+\s*", args)):
        hint = ": for 64-bit floating point use DOUBLE" if type_name in ("float", "real") else ""
        raise UsageError(f"column {item.strip()!r}: {type_name.upper()}({args}) takes no size here{hint}")
    return _SIMPLE_TYPES[type_name]
