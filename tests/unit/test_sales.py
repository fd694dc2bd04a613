import datetime as dt
import re
from decimal import Decimal as D

import pytest
from chispa import assert_df_equality

from lakejobs.transforms.sales import (
    customer_summary,
    join_dimensions,
    one_row_per_key,
    sales_by_employee_month,
    sales_orders,
    with_order_period,
)

LINES = (
    "salesorderid int, salesorderdetailid int, orderdate date, employeeid int, customerid int, "
    "totaldue decimal(17,4), orderqty int, linetotal decimal(17,4)"
)
CUSTOMERS = "customerid int, firstname string, lastname string, fullname string"
EMPLOYEES = "employeeid int, fullname string, territory string, country string, group string"


def test_with_order_period_keeps_null_dates(spark):
    source = spark.createDataFrame([(dt.date(2014, 5, 1),), (None,)], "orderdate date")
    expected = spark.createDataFrame(
        [(dt.date(2014, 5, 1), 2014, 5), (None, None, None)], "orderdate date, order_year int, order_month int"
    )
    assert_df_equality(source.transform(with_order_period()), expected)


def test_one_row_per_key_keeps_the_smallest_row_of_a_repeated_key(spark):
    source = spark.createDataFrame([(1, "b"), (1, "a"), (2, "c")], "k int, v string")
    expected = spark.createDataFrame([(1, "a"), (2, "c")], "k int, v string")
    assert_df_equality(source.transform(one_row_per_key("k")), expected, ignore_row_order=True, ignore_nullable=True)


def test_join_dimensions_flags_unknown_keys_and_never_drops_or_repeats_lines(spark):
    orders = spark.createDataFrame(
        [(1, 293, 276), (2, 999, 276), (3, 293, 888), (4, None, None)],
        "salesorderid int, customerid int, employeeid int",
    )
    customers = spark.createDataFrame(
        [(293, "Catherine", "Abel", "Catherine Abel"), (293, "Catherine", "Abel", "Catherine Abel")], CUSTOMERS
    )
    employees = spark.createDataFrame([(276, "Linda Mitchell", "Southwest", "US", "North America")], EMPLOYEES)
    expected = spark.createDataFrame(
        [
            (1, 293, 276, "Catherine Abel", True, "Linda Mitchell", "Southwest", "US", "North America", True),
            (2, 999, 276, None, False, "Linda Mitchell", "Southwest", "US", "North America", True),
            (3, 293, 888, "Catherine Abel", True, None, None, None, None, False),
            (4, None, None, None, False, None, None, None, None, False),
        ],
        "salesorderid int, customerid int, employeeid int, customer_name string, customer_known boolean, "
        "employee_name string, territory string, country string, territory_group string, employee_known boolean",
    )
    actual = orders.transform(join_dimensions(customers, employees))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


ORDER_LINES = (
    "salesorderid int, salesorderdetailid int, orderdate date, employeeid int, customerid int, "
    "subtotal decimal(17,4), taxamt decimal(17,4), freight decimal(17,4), totaldue decimal(17,4), "
    "orderqty int, linetotal decimal(17,4)"
)


def dimensions(spark):
    """Customers 293 and 295; employees 276 and 277."""
    customers = spark.createDataFrame(
        [(293, "Catherine", "Abel", "Catherine Abel"), (295, "Kim", "Abercrombie", "Kim Abercrombie")], CUSTOMERS
    )
    employees = spark.createDataFrame(
        [
            (276, "Linda Mitchell", "Southwest", "US", "North America"),
            (277, "Jillian Carson", "Central", "US", "North America"),
        ],
        EMPLOYEES,
    )
    return customers, employees


def sales_lines(spark, rows=None):
    """Mart lines as the job joins them; by default orders 71782 (2 lines) and 71783 of
    employee 276 in May 2014, 44110 of 277 in Aug 2011.

    Order money repeats on every line of an order, as in the raw data.
    """
    money_71782 = (D("92.5000"), D("7.4000"), D("2.3125"), D("102.2125"))
    money_71783 = (D("45.0000"), D("3.6000"), D("1.1250"), D("49.7250"))
    money_44110 = (D("9.0000"), D("0.7200"), D("0.2250"), D("9.9450"))
    rows = rows or [
        (71782, 1, dt.date(2014, 5, 1), 276, 293, *money_71782, 3, D("30.0000")),
        (71782, 2, dt.date(2014, 5, 1), 276, 293, *money_71782, 1, D("62.5000")),
        (71783, 3, dt.date(2014, 5, 9), 276, 295, *money_71783, 2, D("45.0000")),
        (44110, 4, dt.date(2011, 8, 1), 277, 293, *money_44110, 1, D("9.0000")),
    ]
    return (
        spark.createDataFrame(rows, ORDER_LINES)
        .transform(with_order_period())
        .transform(join_dimensions(*dimensions(spark)))
    )


def sales_orders_of(spark, rows=None):
    """One row per order, as the job builds it for the summaries."""
    return sales_lines(spark, rows).transform(sales_orders(*dimensions(spark)))


SALES_ORDERS = (
    "salesorderid int, employeeid int, customerid int, orderdate date, subtotal decimal(17,4), "
    "taxamt decimal(17,4), freight decimal(17,4), totaldue decimal(17,4), line_count long, units long, "
    "line_total decimal(27,4), order_year int, order_month int, customer_name string, customer_known boolean, "
    "employee_name string, territory string, country string, territory_group string, employee_known boolean"
)


def test_sales_orders_takes_an_order_once_even_when_its_lines_disagree(spark):
    money = (D("10.0000"), D("0.8000"), D("0.2500"), D("11.0500"))
    rows = [
        (900, 1, dt.date(2014, 6, 2), 277, 295, *money, 1, D("4.0000")),
        (900, 2, dt.date(2014, 5, 31), 276, 293, *money, 2, D("6.0000")),
        (901, 3, dt.date(2014, 5, 9), 999, 888, *money, 5, D("10.0000")),
    ]
    expected = spark.createDataFrame(
        [
            (900, 276, 293, dt.date(2014, 5, 31), *money, 2, 3, D("10.0000"), 2014, 5)
            + ("Catherine Abel", True, "Linda Mitchell", "Southwest", "US", "North America", True),
            (901, 999, 888, dt.date(2014, 5, 9), *money, 1, 5, D("10.0000"), 2014, 5)
            + (None, False, None, None, None, None, False),
        ],
        SALES_ORDERS,
    )
    actual = sales_orders_of(spark, rows).select(*expected.columns)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_sales_by_employee_month_sums_order_money_once_per_order(spark):
    expected = spark.createDataFrame(
        [
            (
                276,
                2014,
                5,
                "Linda Mitchell",
                "Southwest",
                "US",
                "North America",
                True,
                2,
                3,
                6,
                D("137.5000"),
                D("137.5000"),
                D("11.0000"),
                D("3.4375"),
                D("151.9375"),
            ),
            (
                277,
                2011,
                8,
                "Jillian Carson",
                "Central",
                "US",
                "North America",
                True,
                1,
                1,
                1,
                D("9.0000"),
                D("9.0000"),
                D("0.7200"),
                D("0.2250"),
                D("9.9450"),
            ),
        ],
        "employeeid int, order_year int, order_month int, employee_name string, territory string, country string, "
        "territory_group string, employee_known boolean, order_count long, line_count long, units long, "
        "line_total decimal(27,4), subtotal decimal(27,4), taxamt decimal(27,4), freight decimal(27,4), "
        "totaldue decimal(27,4)",
    )
    actual = sales_by_employee_month(sales_orders_of(spark))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_customer_summary_counts_orders_and_dates_per_customer(spark):
    expected = spark.createDataFrame(
        [
            (293, "Catherine Abel", True, 2, 3, D("101.5000"), D("112.1575"), dt.date(2011, 8, 1), dt.date(2014, 5, 1)),
            (295, "Kim Abercrombie", True, 1, 1, D("45.0000"), D("49.7250"), dt.date(2014, 5, 9), dt.date(2014, 5, 9)),
        ],
        "customerid int, customer_name string, customer_known boolean, order_count long, line_count long, "
        "line_total decimal(27,4), total_due decimal(27,4), first_order_date date, last_order_date date",
    )
    actual = customer_summary(sales_orders_of(spark))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_both_dimensions_are_joined_by_broadcast(spark):
    """By the transform's hints: tiny test frames are broadcast by size alone, so size is switched off."""
    threshold = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    try:
        plan = sales_lines(spark)._jdf.queryExecution().executedPlan().toString()
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", threshold)
    assert plan.count("BroadcastHashJoin") == 2
    assert "SortMergeJoin" not in plan


@pytest.mark.parametrize(
    "summary, keys",
    [
        (customer_summary, r"customerid#\d+, customer_name#\d+"),
        (sales_by_employee_month, r"employeeid#\d+, order_year"),
    ],
)
def test_summaries_hash_their_groups_instead_of_sorting_them(spark, summary, keys):
    plan = summary(sales_orders_of(spark))._jdf.queryExecution().executedPlan().toString()
    assert re.search(rf"HashAggregate\(keys=\[{keys}", plan)
    assert not re.search(rf"SortAggregate\(key=\[{keys}", plan)


@pytest.mark.parametrize(
    "summary, dimension_key",
    [(sales_by_employee_month, "employeeid"), (customer_summary, "customerid")],
)
def test_a_summary_joins_only_its_own_dimension_and_once_per_order(spark, summary, dimension_key):
    """The job builds the summaries from mart/sales' joined lines (``sales_lines``), whose
    joins the summaries do not need: Spark drops a left join none of whose columns is used when
    the other side is distinct on the key, and ``one_row_per_key``'s aggregate is what tells it
    so. Without it, each summary joined every line with both dimensions, then each order again.
    """
    plan = summary(sales_orders_of(spark))._jdf.queryExecution().optimizedPlan().toString()
    joins = [line for line in plan.splitlines() if "Join LeftOuter" in line]
    assert len(joins) == 1 and f"({dimension_key}#" in joins[0], plan
    below_the_join = plan.split("Join LeftOuter", 1)[1]
    assert "Aggregate [salesorderid" in below_the_join, plan
