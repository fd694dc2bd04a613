"""The catalog's mart schemas are what the sales mart transforms produce (no drift)."""

import pytest

from lakejobs.catalog import MART_SCHEMAS, lake_tables
from lakejobs.datasets import BUILTIN
from lakejobs.jobs.sales_mart import SALES_PARTITIONS
from lakejobs.transforms.sales import (
    customer_summary,
    join_dimensions,
    sales_by_employee_month,
    sales_orders,
    with_order_period,
)


def names_and_types(schema):
    return [(field.name, field.dataType) for field in schema.fields]


@pytest.fixture(scope="module")
def mart_frames(spark):
    """The mart tables as the job builds them, from empty processed tables."""
    empty = {name: spark.createDataFrame([], BUILTIN[name].schema) for name in ("orders", "customers", "employees")}
    sales_df = (
        empty["orders"]
        .transform(with_order_period())
        .transform(join_dimensions(empty["customers"], empty["employees"]))
    )
    orders_df = sales_df.transform(sales_orders(empty["customers"], empty["employees"]))
    return {
        "sales": sales_df,
        "sales_by_employee_month": sales_by_employee_month(orders_df),
        "customer_summary": customer_summary(orders_df),
    }


@pytest.mark.parametrize("name", sorted(MART_SCHEMAS))
def test_mart_schema_matches_the_transforms(mart_frames, name):
    schema, _partitions = MART_SCHEMAS[name]
    assert names_and_types(schema) == names_and_types(mart_frames[name].schema)


def test_sales_partitions_are_the_jobs():
    assert MART_SCHEMAS["sales"][1] == SALES_PARTITIONS
    sales = next(t for t in lake_tables("s3://b/l") if t.name == "sales")
    assert sales.partition_keys == (("order_year", "int"), ("order_month", "int"))
