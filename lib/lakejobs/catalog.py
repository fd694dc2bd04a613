"""The Glue Data Catalog for the lake: table definitions, Athena DDL and a crawler-free sync.

The tables come from the code: the raw and processed tables from the dataset registry
(``lakejobs.datasets``), the mart tables from ``MART_SCHEMAS`` (a test derives them from the
sales mart transforms, so they cannot drift). Nothing here needs Spark; ``sync`` talks to
Glue and S3 with boto3, imported when it runs.

Examples
--------
>>> tables = lake_tables("s3://bucket/lake")
>>> [(t.database, t.name) for t in tables][:2]
[('raw_data', 'customers'), ('raw_data', 'employees')]
"""

import dataclasses
import logging
from typing import Dict, List, Optional, Sequence, Tuple

from pyspark.sql import types as T

from lakejobs.datasets import BUILTIN, Dataset
from lakejobs.errors import UsageError
from lakejobs.transforms.sales import MONEY_TOTAL

LOG = logging.getLogger(__name__)

RAW_DATABASE = "raw_data"
PROCESSED_DATABASE = "processed_data"
FORMATS = ("parquet", "delta")
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
DATASET_ORDER = ("customers", "employees", "orders")


def _fields(*pairs: Tuple[str, T.DataType]) -> List[T.StructField]:
    return [T.StructField(name, data_type) for name, data_type in pairs]


_PERIOD = _fields(("order_year", T.IntegerType()), ("order_month", T.IntegerType()))
_EMPLOYEE = _fields(
    ("employee_name", T.StringType()),
    ("territory", T.StringType()),
    ("country", T.StringType()),
    ("territory_group", T.StringType()),
    ("employee_known", T.BooleanType()),
)
_COUNTS = _fields(("order_count", T.LongType()), ("line_count", T.LongType()))

#: Mart table -> (schema as the sales mart writes it, partition columns).
MART_SCHEMAS: Dict[str, Tuple[T.StructType, Tuple[str, ...]]] = {
    "sales": (
        T.StructType(
            BUILTIN["orders"].schema.fields
            + _PERIOD
            + _fields(("customer_name", T.StringType()), ("customer_known", T.BooleanType()))
            + _EMPLOYEE
        ),
        ("order_year", "order_month"),
    ),
    "sales_by_employee_month": (
        T.StructType(
            _fields(("employeeid", T.IntegerType()))
            + _PERIOD
            + _EMPLOYEE
            + _COUNTS
            + _fields(("units", T.LongType()), ("line_total", MONEY_TOTAL))
            + _fields(*[(name, MONEY_TOTAL) for name in ("subtotal", "taxamt", "freight", "totaldue")])
        ),
        (),
    ),
    "customer_summary": (
        T.StructType(
            _fields(("customerid", T.IntegerType()), ("customer_name", T.StringType()))
            + _fields(("customer_known", T.BooleanType()))
            + _COUNTS
            + _fields(("line_total", MONEY_TOTAL), ("total_due", MONEY_TOTAL))
            + _fields(("first_order_date", T.DateType()), ("last_order_date", T.DateType()))
        ),
        (),
    ),
}


@dataclasses.dataclass(frozen=True)
class Table:
    """One catalog table: where it is, its columns (Hive types) and how it is stored.

    ``kind`` is ``csv``, ``parquet`` or ``delta``; ``columns`` exclude the partition keys.
    """

    database: str
    name: str
    location: str
    kind: str
    columns: Tuple[Tuple[str, str], ...]
    partition_keys: Tuple[Tuple[str, str], ...] = ()
    csv_header: bool = False
    description: str = ""

    def table_input(self) -> Dict:
        """The Glue ``TableInput`` of ``CreateTable`` / ``UpdateTable``."""
        return {
            "Name": self.name,
            "Description": self.description,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": self._parameters(),
            "PartitionKeys": [{"Name": name, "Type": kind} for name, kind in self.partition_keys],
            "StorageDescriptor": self.storage_descriptor(self.location),
        }

    def storage_descriptor(self, location: str) -> Dict:
        """The ``StorageDescriptor`` of the table, or of one of its partitions at ``location``."""
        descriptor = {
            "Columns": [{"Name": name, "Type": kind} for name, kind in self.columns],
            "Location": location,
        }
        if self.kind == "csv":
            serde = {"SerializationLibrary": CSV_SERDE, "Parameters": _csv_serde_parameters()}
            return {**descriptor, "InputFormat": TEXT_INPUT, "OutputFormat": TEXT_OUTPUT, "SerdeInfo": serde}
        parameters = {"serialization.format": "1"}
        if self.kind == "delta":
            parameters = {**parameters, "path": self.location}
        serde = {"SerializationLibrary": PARQUET_SERDE, "Parameters": parameters}
        return {**descriptor, "InputFormat": PARQUET_INPUT, "OutputFormat": PARQUET_OUTPUT, "SerdeInfo": serde}

    def _parameters(self) -> Dict[str, str]:
        if self.kind == "csv":
            header = {"skip.header.line.count": "1"} if self.csv_header else {}
            return {"EXTERNAL": "TRUE", "classification": "csv", **header}
        if self.kind == "delta":
            return {"EXTERNAL": "TRUE", "table_type": "DELTA", "spark.sql.sources.provider": "delta"}
        return {"EXTERNAL": "TRUE", "classification": "parquet", "parquet.compression": "SNAPPY"}


def _csv_serde_parameters() -> Dict[str, str]:
    """OpenCSVSerde options of the raw zone: comma separated, RFC 4180 double-quoted fields.

    OpenCSV reads a doubled quote inside a quoted field as one quote, which is how the raw
    files escape quotes; its escape character must differ from the quote, so it stays ``\\``.
    """
    return {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"}


def hive_type(data_type: T.DataType) -> str:
    """The Glue/Hive type name of a Spark type: ``int``, ``bigint``, ``decimal(17,4)``, ``date``..."""
    return data_type.simpleString()


def s3_uri(path: str, option: str = "--lake") -> str:
    """``s3a://`` / ``s3n://`` -> ``s3://`` (what Glue and Athena expect), without a trailing slash.

    ``option`` names the argument in the error when ``path`` is not on S3.
    """
    for scheme in ("s3a://", "s3n://"):
        if path.startswith(scheme):
            path = "s3://" + path[len(scheme) :]
    if not path.startswith("s3://"):
        raise UsageError(f"{option} must be an s3:// location for the Glue Data Catalog, got {path!r}")
    if not path[len("s3://") :].split("/", 1)[0]:
        raise UsageError(f"{option} names no bucket: {path!r} (s3://bucket/folder)")
    if "//" in path[len("s3://") :].rstrip("/"):
        raise UsageError(
            f"{option} {path!r} holds an empty folder name (//): the jobs write s3://bucket/a/b for s3://bucket//a//b "
            "(Hadoop drops it), so the tables would point at keys no job writes"
        )
    if any(part in (".", "..") for part in path[len("s3://") :].rstrip("/").split("/")[1:]):
        raise UsageError(
            f"{option} {path!r} holds a . or .. folder: Hadoop resolves it, so the jobs write other keys than the "
            "tables would point at"
        )
    return path.rstrip("/")


def _split(schema: T.StructType, partition_by: Sequence[str]):
    columns = tuple((f.name, hive_type(f.dataType)) for f in schema.fields if f.name not in partition_by)
    by_name = {f.name: f.dataType for f in schema.fields}
    keys = tuple((name, hive_type(by_name.get(name, T.IntegerType()))) for name in partition_by)
    return columns, keys


def raw_table(dataset: Dataset, raw: str, database: str) -> Table:
    """The raw CSV table of ``dataset``: every column a string, as the files hold text."""
    columns = tuple((field.name, "string") for field in dataset.schema.fields)
    if dataset.csv.delimiter != ",":
        raise UsageError(f"dataset {dataset.name}: only comma-separated raw files are catalogued")
    return Table(
        database, dataset.name, f"{raw}/{dataset.name}", "csv", columns, (), dataset.csv.header, dataset.description
    )


def processed_table(dataset: Dataset, lake: str, database: str, output_format: str) -> Table:
    """The typed table ``csv_to_parquet`` writes for ``dataset``."""
    fields = list(dataset.schema.fields) + [T.StructField(name, T.IntegerType()) for name in dataset.derived_columns]
    partition_by = () if output_format == "delta" else dataset.partition_by
    columns, keys = _split(T.StructType(fields), partition_by)
    location = f"{lake}/processedData/{dataset.name}"
    return Table(database, dataset.name, location, output_format, columns, keys, description=dataset.description)


def mart_table(name: str, lake: str, database: str, output_format: str) -> Table:
    """A sales mart table (see ``lakejobs.jobs.sales_mart``)."""
    schema, partition_by = MART_SCHEMAS[name]
    columns, keys = _split(schema, () if output_format == "delta" else partition_by)
    return Table(database, name, f"{lake}/mart/{name}", output_format, columns, keys, description=f"sales mart: {name}")


def lake_tables(
    lake: str,
    database: str = PROCESSED_DATABASE,
    raw_database: str = RAW_DATABASE,
    output_format: str = "parquet",
    raw: Optional[str] = None,
) -> List[Table]:
    """Every table of the lake at ``lake``: raw, processed, then mart.

    Delta tables carry no partition keys: Athena and Spark take partitions from the Delta log.
    """
    if output_format not in FORMATS:
        raise UsageError(f"unknown format {output_format!r}: expected one of {', '.join(FORMATS)}")
    lake = s3_uri(lake)
    raw = s3_uri(raw, "--raw") if raw else f"{lake}/rawData"
    datasets = [BUILTIN[name] for name in DATASET_ORDER]
    return (
        [raw_table(dataset, raw, raw_database) for dataset in datasets]
        + [processed_table(dataset, lake, database, output_format) for dataset in datasets]
        + [mart_table(name, lake, database, output_format) for name in MART_SCHEMAS]
    )


def _quote(name: str) -> str:
    return f"`{name}`"


def create_table_ddl(table: Table) -> str:
    """Athena ``CREATE EXTERNAL TABLE`` statement of ``table``."""
    head = f"CREATE EXTERNAL TABLE IF NOT EXISTS {_quote(table.database)}.{_quote(table.name)}"
    if table.kind == "delta":
        return f"{head}\nLOCATION '{table.location}/'\nTBLPROPERTIES ('table_type' = 'DELTA');"
    columns = ",\n".join(f"  {_quote(name)} {kind}" for name, kind in table.columns)
    lines = [f"{head} (", columns, ")"]
    if table.partition_keys:
        keys = ", ".join(f"{_quote(name)} {kind}" for name, kind in table.partition_keys)
        lines.append(f"PARTITIONED BY ({keys})")
    if table.kind == "csv":
        options = ",\n".join(f"  '{key}' = '{_escape(value)}'" for key, value in _csv_serde_parameters().items())
        lines += [f"ROW FORMAT SERDE '{CSV_SERDE}'", "WITH SERDEPROPERTIES (", options, ")", "STORED AS TEXTFILE"]
    else:
        lines.append("STORED AS PARQUET")
    lines.append(f"LOCATION '{table.location}/'")
    properties = {k: v for k, v in table.table_input()["Parameters"].items() if k != "EXTERNAL"}
    lines.append("TBLPROPERTIES (" + ", ".join(f"'{k}' = '{v}'" for k, v in properties.items()) + ");")
    return "\n".join(lines)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def ddl(tables: Sequence[Table]) -> str:
    """``CREATE DATABASE`` for each database, then every table's statement, separated by blank lines."""
    databases = list(dict.fromkeys(table.database for table in tables))
    statements = [f"CREATE DATABASE IF NOT EXISTS {_quote(name)};" for name in databases]
    return "\n\n".join(statements + [create_table_ddl(table) for table in tables]) + "\n"
