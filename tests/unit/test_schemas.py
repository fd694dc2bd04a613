import pytest
from pyspark.sql import types as T

from lakejobs.errors import UsageError
from lakejobs.schemas import ORDERS, parse_ddl


def test_parse_ddl_reads_types_nullability_quoted_names_and_comments():
    ddl = "id BIGINT NOT NULL, `full name` STRING COMMENT 'a, b', amount DECIMAL(10, 2), born DATE, ts TIMESTAMP"
    assert parse_ddl(ddl) == T.StructType(
        [
            T.StructField("id", T.LongType(), nullable=False),
            T.StructField("full name", T.StringType()),
            T.StructField("amount", T.DecimalType(10, 2)),
            T.StructField("born", T.DateType()),
            T.StructField("ts", T.TimestampType()),
        ]
    )


def test_parse_ddl_matches_the_orders_schema_written_as_ddl():
    ddl = (
        "salesorderid INT NOT NULL, salesorderdetailid INT NOT NULL, orderdate DATE NOT NULL, duedate DATE, "
        "shipdate DATE, employeeid INT, customerid INT, subtotal DECIMAL(17,4), taxamt DECIMAL(17,4), "
        "freight DECIMAL(17,4), totaldue DECIMAL(17,4), productid INT, orderqty INT, unitprice DECIMAL(17,4), "
        "unitpricediscount DECIMAL(17,4), linetotal DECIMAL(17,4)"
    )
    assert parse_ddl(ddl) == ORDERS


@pytest.mark.parametrize(
    "ddl, message",
    [
        ("", "the schema DDL is empty"),
        ("id", "cannot read schema column 'id': expected 'name TYPE'$"),
        ("id FOO", "column 'id FOO': unknown type FOO"),
        ("a INT, A STRING", "names a column more than once: a"),
        ("x ARRAY<INT>", "nested types cannot be read from CSV"),
        ("x DECIMAL(40,2)", "DECIMAL(40,2) is out of range"),
        ("x INT PRIMARY", "unexpected 'PRIMARY'"),
        # A size was dropped silently: FLOAT(53) (SQL's double) became a 32-bit float.
        ("x FLOAT(53)", "column 'x FLOAT(53)': FLOAT(53) takes no size here: for 64-bit floating point use DOUBLE"),
        ("x INT(11)", "column 'x INT(11)': INT(11) takes no size here"),
        ("x TIMESTAMP(3)", "TIMESTAMP(3) takes no size here"),
        ("x CHAR(3,2)", "CHAR(3,2) takes no size here"),
    ],
)
def test_parse_ddl_rejects_bad_ddl_with_a_clear_message(ddl, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_ddl(ddl)


KNOWN_TYPES = (
    "BIGINT, BOOL, BOOLEAN, BYTE, CHAR, DATE, DEC, DECIMAL, DOUBLE, FLOAT, INT, INTEGER, LONG, NUMERIC, REAL, "
    "SHORT, SMALLINT, STRING, TEXT, TIMESTAMP, TINYINT, VARCHAR"
)


@pytest.mark.parametrize(
    "ddl, message",
    [
        (
            "prénom STRING",
            "cannot read schema column 'prénom STRING': expected 'name TYPE'; a name of other characters than "
            "A-Z, 0-9 and _ goes in backticks: `prénom` STRING",
        ),
        (
            "prénom: STRING NOT NULL",
            "cannot read schema column 'prénom: STRING NOT NULL': expected 'name TYPE'; a name of other characters "
            "than A-Z, 0-9 and _ goes in backticks: `prénom` STRING NOT NULL",
        ),
        (
            "unit price DECIMAL(10,2)",
            f"column 'unit price DECIMAL(10,2)': unknown type PRICE (known: {KNOWN_TYPES}); a name of other "
            "characters than A-Z, 0-9 and _ goes in backticks: `unit price` DECIMAL(10,2)",
        ),
        (
            "unit sale  price DECIMAL(10,2)",
            f"column 'unit sale  price DECIMAL(10,2)': unknown type SALE (known: {KNOWN_TYPES}); a name of other "
            "characters than A-Z, 0-9 and _ goes in backticks: `unit sale  price` DECIMAL(10,2)",
        ),
        (
            "order date DATE",
            "cannot read schema column 'order date DATE': unexpected 'DATE'; a name of other characters than "
            "A-Z, 0-9 and _ goes in backticks: `order date` DATE",
        ),
        ("price NUMBER (10,2)", f"column 'price NUMBER (10,2)': unknown type NUMBER (known: {KNOWN_TYPES})"),
        ("x INT PRIMARY", "cannot read schema column 'x INT PRIMARY': unexpected 'PRIMARY'"),
        ("a.b STRING", "cannot read schema column 'a.b STRING': expected 'name TYPE'"),
        ("id FOO", f"column 'id FOO': unknown type FOO (known: {KNOWN_TYPES})"),
    ],
)
def test_a_column_name_that_needs_backticks_is_refused_saying_so(ddl, message):
    """``prénom STRING`` said only "expected 'name TYPE'"; ``unit price DECIMAL`` named an unknown type PRICE."""
    with pytest.raises(UsageError) as refused:
        parse_ddl(ddl)
    assert str(refused.value) == message
