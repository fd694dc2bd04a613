"""SQL text of a warehouse load: table DDL from a Spark schema, staging, key checks, upserts.

Pure functions (no connection), in PostgreSQL's dialect. Identifiers are always quoted, so a
column named ``group`` or ``order`` is fine and names keep the case they are given in.

Two upsert statements are offered:

``on_conflict`` (PostgreSQL, RDS/Aurora PostgreSQL)
    ``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE``; rows whose values did not change
    are left alone, and ``RETURNING (xmax = 0)`` tells inserted rows from updated ones.
``merge`` (PostgreSQL 15+, and the statement Redshift runs)
    ``MERGE INTO target USING stage ON key WHEN MATCHED THEN UPDATE ... WHEN NOT MATCHED
    THEN INSERT ...``.
"""

import dataclasses
import re
from typing import Optional, Sequence

from pyspark.sql import types as T

from lakejobs.errors import UsageError

UPSERTS = ("on_conflict", "merge")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
#: PostgreSQL truncates longer identifiers.
MAX_IDENTIFIER = 63


def quote(name: str) -> str:
    """A double-quoted SQL identifier (``"`` doubled)."""
    return '"' + name.replace('"', '""') + '"'


def quote_all(names: Sequence[str], prefix: str = "") -> str:
    """Comma-separated quoted identifiers, each optionally qualified (``prefix.``)."""
    return ", ".join(prefix + quote(name) for name in names)


@dataclasses.dataclass(frozen=True)
class TableName:
    """A table name, optionally schema-qualified: ``sales`` or ``mart.sales``."""

    name: str
    schema: Optional[str] = None

    @classmethod
    def parse(cls, text: str) -> "TableName":
        """Read ``[schema.]table``; each part a plain identifier of at most 63 characters."""
        parts = text.split(".")
        if len(parts) > 2 or not all(_IDENTIFIER.match(part) and len(part) <= MAX_IDENTIFIER for part in parts):
            raise UsageError(f"bad table name {text!r}: expected [schema.]table with letters, digits and _")
        return cls(parts[-1], parts[0] if len(parts) == 2 else None)

    @property
    def sql(self) -> str:
        """The quoted, qualified name."""
        return f"{quote(self.schema)}.{quote(self.name)}" if self.schema else quote(self.name)

    def staging(self, suffix: str) -> "TableName":
        """The staging table of one load: same schema, ``<name>__stage_<suffix>``."""
        tail = f"__stage_{suffix}"
        return TableName(self.name[: MAX_IDENTIFIER - len(tail)] + tail, self.schema)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


def postgres_type(data_type: T.DataType) -> str:
    """The PostgreSQL column type that holds a Spark type's values exactly."""
    if isinstance(data_type, T.DecimalType):
        return f"NUMERIC({data_type.precision},{data_type.scale})"
    simple = {
        T.IntegerType: "INTEGER",
        T.LongType: "BIGINT",
        T.ShortType: "SMALLINT",
        T.ByteType: "SMALLINT",
        T.BooleanType: "BOOLEAN",
        T.StringType: "TEXT",
        T.DateType: "DATE",
        T.TimestampType: "TIMESTAMPTZ",
        T.TimestampNTZType: "TIMESTAMP",
        T.DoubleType: "DOUBLE PRECISION",
        T.FloatType: "REAL",
        T.BinaryType: "BYTEA",
    }
    for spark_type, sql_type in simple.items():
        if isinstance(data_type, spark_type):
            return sql_type
    raise UsageError(f"no PostgreSQL column type for Spark type {data_type.simpleString()}")


def column_definitions(schema: T.StructType, key: Sequence[str]) -> str:
    """``"col" TYPE [NOT NULL], ...``; key columns and non-nullable fields are NOT NULL."""
    return ", ".join(
        f"{quote(field.name)} {postgres_type(field.dataType)}"
        + (" NOT NULL" if field.name in key or not field.nullable else "")
        for field in schema.fields
    )


def create_target_sql(table: TableName, schema: T.StructType, key: Sequence[str]) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with the columns of ``schema`` and a primary key on ``key``."""
    return f"CREATE TABLE IF NOT EXISTS {table.sql} ({column_definitions(schema, key)}, PRIMARY KEY ({quote_all(key)}))"


def create_staging_sql(table: TableName, schema: T.StructType) -> str:
    """An UNLOGGED staging table (no WAL: it lives for one load) with nullable columns."""
    return f"CREATE UNLOGGED TABLE {table.sql} ({column_definitions(schema, ())})"


def drop_sql(table: TableName) -> str:
    """``DROP TABLE IF EXISTS``."""
    return f"DROP TABLE IF EXISTS {table.sql}"


def column_types_sql(table: TableName) -> str:
    """Rows (column, type as PostgreSQL names it: ``numeric(17,4)``, ``text``) of ``table``'s columns."""
    return (
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        f"WHERE attrelid = '{table.sql}'::regclass AND attnum > 0 AND NOT attisdropped"
    )


def key_indexes_sql(table: TableName, key: Sequence[str]) -> str:
    """One row: how many unique indexes of ``table`` (its primary key among them) are on exactly ``key``.

    An upsert on ``key`` must find at most one target row per staged row: without such an index
    a MERGE updates every target row of a key, and ``ON CONFLICT`` has nothing to conflict on.
    """
    names = "ARRAY[" + ", ".join("'" + column.replace("'", "''") + "'" for column in key) + "]::text[]"
    # The key columns are the first ``indnkeyatts`` of ``indkey`` (INCLUDE columns follow them);
    # a deferrable constraint (not ``indimmediate``) cannot serve ON CONFLICT.
    columns = (
        "ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid "
        "AND a.attnum = ANY((i.indkey::int2[])[0:i.indnkeyatts - 1]))"
    )
    return (
        f"SELECT count(*) FROM pg_index i WHERE i.indrelid = '{table.sql}'::regclass AND i.indisunique "
        f"AND i.indimmediate AND i.indpred IS NULL AND i.indnkeyatts = {len(key)} "
        f"AND {columns} @> {names} AND {columns} <@ {names}"
    )


def key_check_sql(staging: TableName, key: Sequence[str]) -> str:
    """One row: staged rows, rows with a null key column, rows beyond the first of each key."""
    null_key = " OR ".join(f"{quote(column)} IS NULL" for column in key)
    return (
        f"SELECT count(*) AS staged, count(*) FILTER (WHERE {null_key}) AS null_keys, "
        f"count(*) - (SELECT count(*) FROM (SELECT DISTINCT {quote_all(key)} FROM {staging.sql}) AS k) "
        f"AS duplicate_keys FROM {staging.sql}"
    )


def _changed(columns: Sequence[str], old: str, new: str) -> str:
    return f"ROW({quote_all(columns, old + '.')}) IS DISTINCT FROM ROW({quote_all(columns, new + '.')})"


def on_conflict_sql(target: TableName, staging: TableName, columns: Sequence[str], key: Sequence[str]) -> str:
    """Upsert ``staging`` into ``target``; one result row: (inserted, updated).

    Rows whose non-key values are unchanged are not rewritten, so a rerun updates nothing.
    """
    values = [column for column in columns if column not in key]
    if values:
        assignments = ", ".join(f"{quote(column)} = EXCLUDED.{quote(column)}" for column in values)
        action = f"DO UPDATE SET {assignments} WHERE {_changed(values, 't', 'EXCLUDED')}"
    else:
        action = "DO NOTHING"
    return (
        f"WITH upserted AS (INSERT INTO {target.sql} AS t ({quote_all(columns)}) "
        f"SELECT {quote_all(columns)} FROM {staging.sql} "
        f"ON CONFLICT ({quote_all(key)}) {action} RETURNING (xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted"
    )


def _key_match(key: Sequence[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{quote(column)} = {right}.{quote(column)}" for column in key)


def new_keys_sql(target: TableName, staging: TableName, key: Sequence[str]) -> str:
    """One row: staged rows whose key the target does not hold yet (what a MERGE inserts)."""
    return (
        f"SELECT count(*) FROM {staging.sql} AS s WHERE NOT EXISTS "
        f"(SELECT 1 FROM {target.sql} AS t WHERE {_key_match(key, 't', 's')})"
    )


def merge_alias(target: TableName) -> str:
    """The staging table's alias in a MERGE: ``s``, or ``staged`` for a target named ``s``.

    The target has no alias and its columns are qualified by its name, so the two must differ.
    """
    return quote("staged" if target.name.lower() == "s" else "s")  # Redshift folds even quoted names


def merge_sql(target: TableName, staging: TableName, columns: Sequence[str], key: Sequence[str]) -> str:
    """``MERGE`` ``staging`` into ``target`` on ``key`` (PostgreSQL 15+; Redshift's form).

    Written in the subset both accept: no alias on the target (Redshift takes none), and no
    extra condition on WHEN MATCHED (Redshift takes none either), so every matched row is
    updated and the update count includes unchanged rows.
    """
    values = [column for column in columns if column not in key]
    staged = merge_alias(target)
    matched = ""
    if values:
        matched = "WHEN MATCHED THEN UPDATE SET " + ", ".join(f"{quote(c)} = {staged}.{quote(c)}" for c in values) + " "
    return (
        f"MERGE INTO {target.sql} USING {staging.sql} AS {staged} ON {_key_match(key, target.sql, staged)} {matched}"
        f"WHEN NOT MATCHED THEN INSERT ({quote_all(columns)}) VALUES ({quote_all(columns, staged + '.')})"
    )
