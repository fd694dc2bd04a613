"""The dataset registry: what each dataset is, how its CSV is read and how it is laid out.

A ``Dataset`` is plain data. The built-in ones are the sales business of the AWS
data-engineer course; users describe their own with ``custom_dataset`` (the jobs build one
from ``--schema`` / ``--schema_file`` and the CSV options), with no Python to write.
"""

import dataclasses
from typing import Collection, Dict, List, Optional, Sequence, Tuple

from pyspark.sql import types as T

from lakejobs import schemas
from lakejobs.errors import UsageError


@dataclasses.dataclass(frozen=True)
class CsvOptions:
    """How a raw CSV file is written.

    ``escape`` defaults to the quote character, i.e. RFC 4180 (``"a ""quoted"" word"``), which
    is what spreadsheets and Python's ``csv`` module write.
    """

    header: bool = False
    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    encoding: str = "UTF-8"
    date_format: Optional[str] = None
    timestamp_format: Optional[str] = None
    multiline: bool = False


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A named dataset.

    Attributes
    ----------
    name : str
        Folder name in every zone (``rawData/<name>``, ``processedData/<name>``, ...).
    schema : StructType
        Column names and types; non-nullable columns must be present in every row.
    csv : CsvOptions
        How its raw files are written.
    primary_key : tuple of str
        Columns that identify a row; a row with a null key is quarantined.
    foreign_keys : dict
        Column -> ``"dataset.column"`` it refers to.
    partition_by : tuple of str
        Partition columns of its processed table.
    derived_columns : dict
        Column -> Spark SQL expression over typed columns, added before writing (used for
        partition columns such as ``order_year``).
    description : str
        One line for listings.
    rules : str
        Its quality rules, a DQDL ruleset (see ``lakejobs.dqdl``); ``--rules FILE`` replaces them.
    plain_columns : tuple of str
        Columns whose values are nearly all distinct (row ids, amounts), written to Parquet
        without a dictionary (``lakejobs.io.writer.plain_encoding_options``).
    """

    name: str
    schema: T.StructType
    csv: CsvOptions = CsvOptions()
    primary_key: Tuple[str, ...] = ()
    foreign_keys: Dict[str, str] = dataclasses.field(default_factory=dict)
    partition_by: Tuple[str, ...] = ()
    derived_columns: Dict[str, str] = dataclasses.field(default_factory=dict)
    description: str = ""
    rules: str = ""
    plain_columns: Tuple[str, ...] = ()

    @property
    def required_columns(self) -> Tuple[str, ...]:
        """Columns that may not be null: the primary key and every non-nullable field."""
        others = [f.name for f in self.schema.fields if not f.nullable and f.name not in self.primary_key]
        return tuple(self.primary_key) + tuple(others)


BUILTIN: Dict[str, Dataset] = {
    "customers": Dataset(
        name="customers",
        schema=schemas.CUSTOMERS,
        primary_key=("customerid",),
        description="sales customers: id and names",
        rules='Rules = [ ColumnValues "customerid" > 0 ]',
    ),
    "employees": Dataset(
        name="employees",
        schema=schemas.EMPLOYEES,
        primary_key=("employeeid",),
        foreign_keys={"managerid": "employees.employeeid"},
        description="sales employees with manager, territory, country and group",
        rules="""Rules = [
            ColumnValues "employeeid" > 0,
            ReferentialIntegrity "managerid" "employees.employeeid" = 1.0 severity warn
        ]""",
    ),
    "orders": Dataset(
        name="orders",
        schema=schemas.ORDERS,
        csv=CsvOptions(date_format="M/d/yyyy"),
        primary_key=("salesorderid", "salesorderdetailid"),
        foreign_keys={"customerid": "customers.customerid", "employeeid": "employees.employeeid"},
        partition_by=("order_year",),
        derived_columns={"order_year": "year(orderdate)"},
        plain_columns=(
            "salesorderid",
            "salesorderdetailid",
            "customerid",
            "subtotal",
            "taxamt",
            "freight",
            "totaldue",
            "unitprice",
            "linetotal",
        ),
        description="sales order lines (order-level money repeats on every line of an order)",
        rules="""Rules = [
            ColumnValues "orderqty" > 0,
            ColumnValues "unitprice" >= 0,
            ColumnValues "unitpricediscount" between 0 and 1,
            ReferentialIntegrity "customerid" "customers.customerid" >= 0.99 severity warn,
            ReferentialIntegrity "employeeid" "employees.employeeid" >= 0.99 severity warn
        ]""",
    ),
}


def builtin_dataset(name: str) -> Dataset:
    """Return a built-in dataset by name, or raise ``UsageError`` listing the known ones."""
    try:
        return BUILTIN[name]
    except KeyError:
        known = ", ".join(sorted(BUILTIN))
        raise UsageError(f"unknown dataset {name!r}: known datasets are {known}") from None


#: Column names the jobs add while reading and checking rows (reason, detail, raw line, and the
#: repeated-key check's helper columns).
RESERVED_COLUMNS = (
    "_reason",
    "_detail",
    "_raw_line",
    "_row_id",
    "_source_file",
    "_corrupt_record",
    "_first_row_id",
    "_key_rows",
    "_key",
)
#: The raw text columns of a conversion are ``__raw_<n>`` (and ``__raw_<n>_untyped``, ...).
RESERVED_PREFIX = "__raw_"


def as_spelled(names: Sequence[str], known: Collection[str], option: str) -> Tuple[str, ...]:
    """``names`` as ``known`` spells them: a name matches exactly, or the one known name equal to it in any case.

    Spark resolves column names in any case, and so do the rules; a name matching none is left
    as given (for the caller's own message). Raises ``UsageError`` when two names become one
    (``year,Year``).
    """
    by_lower: Dict[str, List[str]] = {}
    for column in known:
        by_lower.setdefault(column.lower(), []).append(column)
    spelled = tuple(
        name if name in known or len(by_lower.get(name.lower(), [])) != 1 else by_lower[name.lower()][0]
        for name in names
    )
    repeated = sorted({name for name in spelled if spelled.count(name) > 1})
    if repeated:
        raise UsageError(f"{option} names the column {repeated[0]} twice (column names match in any case)")
    return spelled


def custom_dataset(name: str, schema: T.StructType, primary_key: Tuple[str, ...] = ()) -> Dataset:
    """Describe a user's dataset from a schema (see ``lakejobs.schemas.parse_ddl``)."""
    columns = {field.name for field in schema.fields}
    reserved = sorted(
        column for column in columns if column.lower() in RESERVED_COLUMNS or column.lower().startswith(RESERVED_PREFIX)
    )
    if reserved:
        raise UsageError(
            f"schema column(s) {', '.join(reserved)}: the jobs use these names for their bookkeeping; rename them"
        )
    primary_key = as_spelled(primary_key, columns, "--primary_key")
    missing = [column for column in primary_key if column not in columns]
    if missing:
        raise UsageError(f"primary key column(s) not in the schema: {', '.join(missing)}")
    return Dataset(name=name, schema=schema, primary_key=tuple(primary_key), description="user schema")
