"""Sales mart transforms: order periods, dimension joins and order-aware aggregates.

Orders has one row per order line. ``subtotal``, ``taxamt``, ``freight`` and ``totaldue``
belong to the order and repeat on each of its lines, so aggregates sum line money
(``linetotal``, ``orderqty``) over lines and order money once per order (``order_facts``).
"""

from typing import Callable, Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

Transform = Callable[[DataFrame], DataFrame]

ORDER_KEY = ("salesorderid",)
ORDER_MONEY = ("subtotal", "taxamt", "freight", "totaldue")
ORDER_ATTRIBUTES = ("orderdate", "employeeid", "customerid")
#: Money totals in the mart: Spark's type for a sum of decimal(17,4), kept through re-aggregation.
MONEY_TOTAL = T.DecimalType(27, 4)
#: The key the summaries give orders without a customer (or employee) id, so that every
#: summary row has a key a warehouse can hold (``warehouse_load`` refuses null keys). Such
#: orders are never known (``customer_known`` / ``employee_known`` false).
NO_ID = -1


def money_sum(column: str) -> "F.Column":
    """Sum of a money column as ``MONEY_TOTAL``."""
    return F.sum(column).cast(MONEY_TOTAL)


def with_order_period(date_col: str = "orderdate") -> Transform:
    """Add ``order_year`` and ``order_month`` (ints, null for a null date) from ``date_col``."""

    def _(df: DataFrame) -> DataFrame:
        return df.withColumns({"order_year": F.year(date_col), "order_month": F.month(date_col)})

    return _


def with_later_copies_flagged(key: Sequence[str], flag: str) -> Transform:
    """Add boolean ``flag``: true on every row of a repeated ``key`` but one.

    The row kept is the smallest (all its columns compared in order), so a rerun keeps the
    same one, and identical copies are interchangeable. A window over the key shuffles and
    sorts every row: use it once a key is known to repeat (``key_check.repeats_a_key``).
    """

    def _(df: DataFrame) -> DataFrame:
        others = [column for column in df.columns if column not in key]
        window = Window.partitionBy(*key).orderBy(*others)
        return df.withColumn(flag, F.row_number().over(window) > 1)

    return _


def one_row_per_key(key: str) -> Transform:
    """Keep one row per ``key`` (the smallest row), deterministically.

    Dimensions should have unique keys; if one does not, joining it would multiply fact rows.
    The aggregate also tells Spark that the result is distinct on ``key``, so a left join of it
    whose columns a plan never reads is dropped: the summaries, built from mart/sales' joined
    lines, join no line with a dimension (``test_sales``). Skipping it for a table already
    known to be unique would put those joins back, one per line.
    """

    def _(df: DataFrame) -> DataFrame:
        others = [column for column in df.columns if column != key]
        if not others:
            return df.dropDuplicates([key])
        return df.groupBy(key).agg(F.min(F.struct(*others)).alias("_row")).select(key, "_row.*")

    return _


def customer_dimension(customers_df: DataFrame) -> DataFrame:
    """customerid, customer_name: one row per customer."""
    return customers_df.select("customerid", F.col("fullname").alias("customer_name")).transform(
        one_row_per_key("customerid")
    )


def employee_dimension(employees_df: DataFrame) -> DataFrame:
    """employeeid, employee_name, territory, country, territory_group: one row per employee."""
    return employees_df.select(
        "employeeid",
        F.col("fullname").alias("employee_name"),
        "territory",
        "country",
        F.col("group").alias("territory_group"),
    ).transform(one_row_per_key("employeeid"))


def join_dimensions(customers_df: DataFrame, employees_df: DataFrame) -> Transform:
    """Enrich order lines with customer and employee attributes; never drop a line.

    Both dimensions are broadcast. Lines whose customer or employee is unknown are kept, with
    ``customer_known`` / ``employee_known`` false and null attributes.
    """

    def _(orders_df: DataFrame) -> DataFrame:
        customers = customer_dimension(customers_df).withColumn("customer_known", F.lit(True))
        employees = employee_dimension(employees_df).withColumn("employee_known", F.lit(True))
        joined = orders_df.join(F.broadcast(customers), "customerid", "left").join(
            F.broadcast(employees), "employeeid", "left"
        )
        return joined.withColumns(
            {
                "customer_known": F.coalesce(F.col("customer_known"), F.lit(False)),
                "employee_known": F.coalesce(F.col("employee_known"), F.lit(False)),
            }
        ).select(*orders_df.columns, *[c for c in joined.columns if c not in orders_df.columns])

    return _


def order_facts(lines_df: DataFrame) -> DataFrame:
    """One row per order from its lines: attributes and order money taken once, line sums.

    Only order-line columns are read (no dimension attributes), so the aggregate over every
    line stays narrow. Lines of one order normally agree on the order's attributes and money;
    if dirty data makes them differ, the smallest value is taken so the result stays
    deterministic.
    """
    return lines_df.groupBy(*ORDER_KEY).agg(
        *[F.min(column).alias(column) for column in (*ORDER_ATTRIBUTES, *ORDER_MONEY)],
        F.count(F.lit(1)).alias("line_count"),
        F.sum("orderqty").alias("units"),
        money_sum("linetotal").alias("line_total"),
    )


def sales_orders(customers_df: DataFrame, employees_df: DataFrame) -> Transform:
    """Order lines -> one row per order, with its period and its customer and employee.

    The order's period comes from its date and its dimension attributes from its customer and
    employee (``order_facts``), so an order is counted once, in one month, for one employee,
    even when its lines disagree. Dimensions are joined after the aggregate: once per order,
    not once per line.
    """

    def _(lines_df: DataFrame) -> DataFrame:
        return (
            order_facts(lines_df).transform(with_order_period()).transform(join_dimensions(customers_df, employees_df))
        )

    return _


def sales_by_employee_month(orders_df: DataFrame) -> DataFrame:
    """Per employee and order month: orders, lines, units, line money and order money.

    ``orders_df`` has one row per order, as ``sales_orders`` builds it: an employee's attributes
    come from the dimension (one row per employee), so grouping by them as well gives the same
    groups. Grouped, not aggregated (``min``), so that Spark hashes the rows instead of sorting
    them: a string aggregate buffer makes Spark fall back to a sort-based aggregate. Orders
    without an employee id are summarised under ``NO_ID``.
    """
    keys = ["employeeid", "order_year", "order_month"]
    attributes = ["employee_name", "territory", "country", "territory_group", "employee_known"]
    return (
        orders_df.withColumn("employeeid", F.coalesce("employeeid", F.lit(NO_ID)))
        .groupBy(*keys, *attributes)
        .agg(
            F.count(F.lit(1)).alias("order_count"),
            F.sum("line_count").alias("line_count"),
            F.sum("units").alias("units"),
            money_sum("line_total").alias("line_total"),
            *[money_sum(column).alias(column) for column in ORDER_MONEY],
        )
        .select(*keys, *attributes, "order_count", "line_count", "units", "line_total", *ORDER_MONEY)
    )


def customer_summary(orders_df: DataFrame) -> DataFrame:
    """Per customer: order count, lines, line money, total due, first and last order date.

    ``orders_df`` has one row per order, as ``sales_orders`` builds it, so order money is
    counted once per order; the customer's attributes are grouped by, as in
    ``sales_by_employee_month``. Orders without a customer id are summarised under ``NO_ID``.
    """
    with_id = orders_df.withColumn("customerid", F.coalesce("customerid", F.lit(NO_ID)))
    return with_id.groupBy("customerid", "customer_name", "customer_known").agg(
        F.count(F.lit(1)).alias("order_count"),
        F.sum("line_count").alias("line_count"),
        money_sum("line_total").alias("line_total"),
        money_sum("totaldue").alias("total_due"),
        F.min("orderdate").alias("first_order_date"),
        F.max("orderdate").alias("last_order_date"),
    )
