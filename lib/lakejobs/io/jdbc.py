"""JDBC edges: Spark's JDBC reader and writer, and SQL transactions run from the driver's JVM.

Transactions use ``java.sql`` through py4j (``DriverManager.getConnection`` in the driver JVM),
so a job needs no Python database driver: the PostgreSQL JDBC jar Spark loads is enough.
Database errors become one ``LakejobsError`` line that carries the server's message and
SQLSTATE (and never the login).
"""

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional

from lakejobs.errors import LakejobsError, root_cause
from lakejobs.io.credentials import DbLogin

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

LOG = logging.getLogger(__name__)
DRIVER = "org.postgresql.Driver"
#: The driver's messages that say nothing of why: the cause (an unknown host, say) is added.
GENERIC_MESSAGES = ("The connection attempt failed.",)


class DatabaseError(LakejobsError):
    """The database refused a statement or a connection."""


def _java_exception(error: BaseException):
    """The Java exception behind a py4j or PySpark error, if any."""
    return getattr(error, "java_exception", None) or getattr(error, "_origin", None)


def sql_error_message(error: BaseException) -> str:
    """One line describing the innermost ``java.sql.SQLException`` behind ``error``.

    Walks the causes (and a batch's next exceptions) to the database's own message, e.g.
    ``ERROR: relation "sales" does not exist (SQLSTATE 42P01)``. A JVM error without one is
    told by its root cause (``ClassNotFoundException: org.postgresql.Driver``, a file the
    write could not create), not by py4j's ``An error occurred while calling o71.save``. The
    driver's ``The connection attempt failed.`` gets its cause added (an unknown host, say).
    """
    java, found, seen = _java_exception(error), None, 0
    while java is not None and seen < 20:
        seen += 1
        if "SQLException" in java.getClass().getName() or "PSQLException" in java.getClass().getName():
            found = java
            following = java.getNextException() if hasattr(java, "getNextException") else None
            java = following if following is not None else java.getCause()
            continue
        java = java.getCause()
    if found is None:  # not the database's: py4j's first line names only the call, the cause says what
        return root_cause(error) if _java_exception(error) is not None else _first_line(error)
    message = (found.getMessage() or found.getClass().getSimpleName()).strip().splitlines()[0]
    if message in GENERIC_MESSAGES and found.getCause() is not None:
        message = f"{message.rstrip('.')}: {_innermost(found)}"
    state = found.getSQLState()
    return f"{message} (SQLSTATE {state})" if state else message


def _innermost(java) -> str:
    """``Type: message`` of the innermost cause of a Java exception (``UnknownHostException: db.invalid``)."""
    for _ in range(20):
        deeper = java.getCause()
        if deeper is None or deeper is java:
            break
        java = deeper
    message = (java.getMessage() or "").strip().splitlines()
    name = java.getClass().getSimpleName()
    return f"{name}: {message[0]}" if message else name


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@contextmanager
def database_errors(action: str) -> Iterator[None]:
    """Turn a JDBC failure inside the block into ``DatabaseError("<action>: <message>")``."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        yield
    except (Py4JJavaError, PySparkException) as error:
        raise DatabaseError(f"{action}: {sql_error_message(error)}") from None


class Sql:
    """Statements on one open JDBC connection (see ``transaction``)."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def execute(self, statement: str) -> int:
        """Run a statement; return its update count (-1 when it has none)."""
        LOG.debug("sql: %s", statement)
        handle = self.connection.createStatement()
        try:
            handle.execute(statement)
            return int(handle.getUpdateCount())
        finally:
            handle.close()

    def query(self, statement: str) -> List[tuple]:
        """Run a query that returns a few rows; values come back as Python ints and strings."""
        LOG.debug("sql: %s", statement)
        handle = self.connection.createStatement()
        try:
            results = handle.executeQuery(statement)
            width = results.getMetaData().getColumnCount()
            rows = []
            while results.next():
                rows.append(tuple(_python_value(results.getObject(index)) for index in range(1, width + 1)))
            return rows
        finally:
            handle.close()


def _python_value(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value.toString())


def _properties(spark: "SparkSession", login: DbLogin):
    props = spark.sparkContext._jvm.java.util.Properties()
    for key, value in login.properties().items():
        props.setProperty(key, value)
    return props


@contextmanager
def connection(spark: "SparkSession", login: DbLogin, autocommit: bool = True) -> Iterator[Sql]:
    """An open JDBC connection from the driver JVM; closed when the block ends."""
    jvm = spark.sparkContext._jvm
    with database_errors("cannot connect to the database"):
        # Spark's registry wraps the driver so DriverManager sees it from any class loader.
        jvm.org.apache.spark.sql.execution.datasources.jdbc.DriverRegistry.register(DRIVER)
        handle = jvm.java.sql.DriverManager.getConnection(login.url, _properties(spark, login))
    try:
        handle.setAutoCommit(autocommit)
        yield Sql(handle)
    finally:
        handle.close()


@contextmanager
def transaction(spark: "SparkSession", login: DbLogin, action: str) -> Iterator[Sql]:
    """One database transaction: committed when the block succeeds, rolled back otherwise."""
    with connection(spark, login, autocommit=False) as sql:
        try:
            with database_errors(action):
                yield sql
                sql.connection.commit()
        except BaseException:
            try:
                sql.connection.rollback()
            except Exception:  # noqa: BLE001 - the first error is the one to report
                LOG.warning("rollback failed after: %s", action)
            raise


def jdbc_options(login: DbLogin, extra: Optional[Dict[str, object]] = None) -> Dict[str, str]:
    """Options of Spark's JDBC source: URL, driver, login, and ``extra``."""
    options = {"url": login.url, "driver": DRIVER, **login.properties()}
    options.update({key: str(value) for key, value in (extra or {}).items() if value is not None})
    return options


def write_jdbc(df: "DataFrame", login: DbLogin, table: str, batch_size: int, num_partitions: int) -> None:
    """Append ``df`` to an existing ``table`` with Spark's JDBC writer.

    At most ``num_partitions`` connections write at once, each sending ``batch_size`` rows a
    batch (rewritten by the PostgreSQL driver into multi-row inserts).
    """
    options = jdbc_options(login, {"dbtable": table, "batchsize": batch_size, "numPartitions": num_partitions})
    with database_errors(f"cannot write to {table}"):
        df.write.format("jdbc").options(**options).mode("append").save()


def read_jdbc(
    spark: "SparkSession",
    login: DbLogin,
    source: str,
    options: Optional[Dict[str, object]] = None,
    named: Optional[str] = None,
):
    """Spark's JDBC reader on ``source`` (a table name or ``(query) alias``) with ``options``.

    An error names the source as ``named`` when given (a query: its text may span lines, and
    an error is one line).
    """
    with database_errors(f"cannot read {named or source}"):
        return spark.read.format("jdbc").options(**jdbc_options(login, {"dbtable": source, **(options or {})})).load()
