"""``lakejobs catalog sync|ddl`` against moto's Glue and S3 server."""

import contextlib
import subprocess
import sys

import boto3
import pytest

from lakejobs import cli, s3local
from lakejobs.deploy import iam
from lakejobs.deploy.description import DeployConfig
from lakejobs.deploy.execute import aws_region
from tests.conftest import ROOT, job_env
from tests.integration import iam_eval
from tests.integration.test_deployer_policy import ACCOUNT, recorded_calls

LAKE_BUCKET = "catalog-lake"
PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
ORDERS_COLUMNS = [
    ("salesorderid", "int"),
    ("salesorderdetailid", "int"),
    ("orderdate", "date"),
    ("duedate", "date"),
    ("shipdate", "date"),
    ("employeeid", "int"),
    ("customerid", "int"),
    ("subtotal", "decimal(17,4)"),
    ("taxamt", "decimal(17,4)"),
    ("freight", "decimal(17,4)"),
    ("totaldue", "decimal(17,4)"),
    ("productid", "int"),
    ("orderqty", "int"),
    ("unitprice", "decimal(17,4)"),
    ("unitpricediscount", "decimal(17,4)"),
    ("linetotal", "decimal(17,4)"),
]
SALES_EXTRA = [
    ("customer_name", "string"),
    ("customer_known", "boolean"),
    ("employee_name", "string"),
    ("territory", "string"),
    ("country", "string"),
    ("territory_group", "string"),
    ("employee_known", "boolean"),
]
MART_KEYS = [
    "mart/sales/order_year=2013/order_month=12/part-00000.snappy.parquet",
    "mart/sales/order_year=2014/order_month=1/part-00000.snappy.parquet",
    "mart/sales/order_year=2014/order_month=1/part-00001.snappy.parquet",
    "mart/sales/order_year=2014/order_month=2/part-00000.snappy.parquet",
    "mart/sales/_SUCCESS",
    "mart/sales_by_employee_month/part-00000.snappy.parquet",
    "processedData/orders/order_year=2013/part-00000.snappy.parquet",
    "processedData/orders/order_year=2014/part-00000.snappy.parquet",
]
DELTA_TABLES = [f"processedData/{name}" for name in ("customers", "employees", "orders")] + [
    f"mart/{name}" for name in ("sales", "sales_by_employee_month", "customer_summary")
]
DELTA_KEYS = [f"{folder}/_delta_log/00000000000000000000.json" for folder in DELTA_TABLES]


@pytest.fixture(scope="module")
def aws():
    """moto's server on loopback with a bucket holding a lake's object keys."""
    with s3local.s3_server() as env:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=LAKE_BUCKET)
        for key in MART_KEYS:
            s3.put_object(Bucket=LAKE_BUCKET, Key=f"lake/{key}", Body=b"x")
        for key in DELTA_KEYS:
            s3.put_object(Bucket=LAKE_BUCKET, Key=f"delta-lake/{key}", Body=b"{}")
        yield {"env": env, "s3": s3, "glue": boto3.client("glue")}


def sync(aws, *extra):
    """``catalog sync`` of the test lake, or of the ``--lake`` among ``extra`` (an option is given once)."""
    lake = [] if "--lake" in extra else ["--lake", f"s3://{LAKE_BUCKET}/lake"]
    return cli.main(["catalog", "sync", *lake, "--endpoint-url", aws["env"]["AWS_ENDPOINT_URL"], *extra])


def columns(pairs):
    return [{"Name": name, "Type": kind} for name, kind in pairs]


def table(glue, database, name):
    found = glue.get_table(DatabaseName=database, Name=name)["Table"]
    descriptor = found["StorageDescriptor"]
    return {
        "Parameters": found["Parameters"],
        "PartitionKeys": found.get("PartitionKeys", []),
        "Columns": descriptor["Columns"],
        "Location": descriptor["Location"],
        "InputFormat": descriptor["InputFormat"],
        "OutputFormat": descriptor["OutputFormat"],
        "SerdeInfo": descriptor["SerdeInfo"],
    }


def partitions(glue, name, database="processed_data"):
    found = glue.get_partitions(DatabaseName=database, TableName=name)["Partitions"]
    return sorted((tuple(p["Values"]), p["StorageDescriptor"]["Location"]) for p in found)


def point_elsewhere(glue, name, values, database="processed_data"):
    """Point a registered partition at another lake's folder, as another deployment would."""
    found = glue.get_partition(DatabaseName=database, TableName=name, PartitionValues=values)["Partition"]
    storage = {**found["StorageDescriptor"], "Location": "s3://another-lake/" + "/".join(values) + "/"}
    glue.update_partition(
        DatabaseName=database,
        TableName=name,
        PartitionValueList=values,
        PartitionInput={"Values": values, "StorageDescriptor": storage},
    )


def test_sync_creates_databases_tables_and_partitions_then_updates_in_place(aws, capsys):
    glue = aws["glue"]
    assert sync(aws) == 0
    first = capsys.readouterr().out.splitlines()
    assert first[:2] == ["database raw_data: created", "database processed_data: created"]
    assert "table processed_data.sales: created, partitions: 3 added, 0 already registered" in first
    assert "table processed_data.orders: created, partitions: 2 added, 0 already registered" in first
    assert first[-1] == "9 tables created, 0 updated, 0 unchanged, 5 partitions added"
    assert sorted(t["Name"] for t in glue.get_tables(DatabaseName="raw_data")["TableList"]) == [
        "customers",
        "employees",
        "orders",
    ]
    assert sorted(t["Name"] for t in glue.get_tables(DatabaseName="processed_data")["TableList"]) == [
        "customer_summary",
        "customers",
        "employees",
        "orders",
        "sales",
        "sales_by_employee_month",
    ]
    location = f"s3://{LAKE_BUCKET}/lake/mart/sales"
    assert table(glue, "processed_data", "sales") == {
        "Parameters": {"EXTERNAL": "TRUE", "classification": "parquet", "parquet.compression": "SNAPPY"},
        "PartitionKeys": columns([("order_year", "int"), ("order_month", "int")]),
        "Columns": columns(ORDERS_COLUMNS + SALES_EXTRA),
        "Location": location,
        **PARQUET,
    }
    assert table(glue, "processed_data", "orders")["PartitionKeys"] == columns([("order_year", "int")])
    assert table(glue, "processed_data", "orders")["Columns"] == columns(ORDERS_COLUMNS)
    assert table(glue, "raw_data", "orders") == {
        "Parameters": {"EXTERNAL": "TRUE", "classification": "csv"},
        "PartitionKeys": [],
        "Columns": columns([(name, "string") for name, _kind in ORDERS_COLUMNS]),
        "Location": f"s3://{LAKE_BUCKET}/lake/rawData/orders",
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
            "Parameters": {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"},
        },
    }
    assert partitions(glue, "sales") == [
        (("2013", "12"), f"{location}/order_year=2013/order_month=12/"),
        (("2014", "1"), f"{location}/order_year=2014/order_month=1/"),
        (("2014", "2"), f"{location}/order_year=2014/order_month=2/"),
    ]

    glue.update_table(
        DatabaseName="processed_data",
        TableInput={"Name": "sales", "StorageDescriptor": {"Columns": columns([("x", "string")])}},
    )
    aws["s3"].put_object(
        Bucket=LAKE_BUCKET, Key="lake/mart/sales/order_year=2014/order_month=3/part-0.parquet", Body=b""
    )
    assert sync(aws) == 0
    second = capsys.readouterr().out.splitlines()
    assert "table processed_data.sales: updated, partitions: 1 added, 3 already registered" in second
    # Only the changed table is updated: every UpdateTable archives a table version.
    assert "table processed_data.orders: unchanged, partitions: 0 added, 2 already registered" in second
    assert "table raw_data.orders: unchanged" in second
    assert second[-1] == "0 tables created, 1 updated, 8 unchanged, 1 partitions added"
    assert table(glue, "processed_data", "sales")["Columns"] == columns(ORDERS_COLUMNS + SALES_EXTRA)
    assert [values for values, _location in partitions(glue, "sales")] == [
        ("2013", "12"),
        ("2014", "1"),
        ("2014", "2"),
        ("2014", "3"),
    ]
    # A rebuilt mart no longer has 2014-03: its folder is gone, and so goes its partition.
    aws["s3"].delete_object(Bucket=LAKE_BUCKET, Key="lake/mart/sales/order_year=2014/order_month=3/part-0.parquet")
    assert sync(aws) == 0
    third = capsys.readouterr().out.splitlines()
    assert (
        "table processed_data.sales: unchanged, partitions: 0 added, 3 already registered, 1 removed (no file left)"
        in third
    )
    assert third[-1] == "0 tables created, 0 updated, 9 unchanged, 0 partitions added, 1 removed (no file left)"
    assert [values for values, _location in partitions(glue, "sales")] == [("2013", "12"), ("2014", "1"), ("2014", "2")]


def test_a_lake_moved_elsewhere_re_points_its_partitions_and_folder_markers_are_no_partitions(aws, capsys):
    """Partitions were compared by value only: after a move Athena kept reading the old lake's files."""
    glue, s3 = aws["glue"], aws["s3"]
    databases = ["--database", "moved_db", "--raw-database", "moved_raw"]
    for key in (
        "moved/a/mart/sales/order_year=2014/order_month=1/part-0.parquet",
        "moved/a/mart/sales/order_year=2015/order_month=1/",  # a folder marker: no data
        "moved/a/mart/sales/order_year=2016/order_month=1/_temporary/0/part-0.parquet",  # Spark skips it
        "moved/b/mart/sales/order_year=2014/order_month=1/part-0.parquet",
        "moved/b/mart/sales/order_year=2014/order_month=2/part-0.parquet",
    ):
        s3.put_object(Bucket=LAKE_BUCKET, Key=key, Body=b"x")
    lake = f"s3://{LAKE_BUCKET}/moved"
    assert sync(aws, "--lake", f"{lake}/a", *databases) == 0
    capsys.readouterr()
    assert partitions(glue, "sales", "moved_db") == [
        (("2014", "1"), f"{lake}/a/mart/sales/order_year=2014/order_month=1/")
    ]
    with recorded_calls() as calls:
        assert sync(aws, "--lake", f"{lake}/b", *databases) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        "table moved_db.sales: updated, partitions: 1 added, 0 already registered, 1 re-pointed to this lake" in lines
    )
    assert lines[-1] == "0 tables created, 9 updated, 0 unchanged, 1 partitions added, 1 re-pointed to this lake"
    # Re-pointed in place: the partition is never missing, even if a call fails.
    sales_partition_calls = [
        (operation, params)
        for _service, operation, params in calls
        if "Partition" in operation and operation != "GetPartitions" and params["TableName"] == "sales"
    ]
    assert [operation for operation, _params in sales_partition_calls] == [
        "BatchUpdatePartition",
        "BatchCreatePartition",
    ]
    assert sales_partition_calls[0][1]["Entries"] == [
        {
            "PartitionValueList": ["2014", "1"],
            "PartitionInput": sales_partition_calls[1][1]["PartitionInputList"][0]
            | {
                "Values": ["2014", "1"],
                "StorageDescriptor": sales_partition_calls[1][1]["PartitionInputList"][0]["StorageDescriptor"]
                | {"Location": f"{lake}/b/mart/sales/order_year=2014/order_month=1/"},
            },
        }
    ]
    assert partitions(glue, "sales", "moved_db") == [
        (("2014", "1"), f"{lake}/b/mart/sales/order_year=2014/order_month=1/"),
        (("2014", "2"), f"{lake}/b/mart/sales/order_year=2014/order_month=2/"),
    ]
    assert sync(aws, "--lake", f"{lake}/b", *databases) == 0
    assert "table moved_db.sales: unchanged, partitions: 0 added, 2 already registered" in capsys.readouterr().out


def test_a_table_parameter_the_definition_lacks_is_removed_not_kept_as_unchanged(aws, capsys):
    """Found parameters are compared whole: a dropped ``skip.header.line.count`` would drop a row per file."""
    databases = ["--database", "params_db", "--raw-database", "params_raw"]
    assert sync(aws, *databases) == 0
    found = aws["glue"].get_table(DatabaseName="params_raw", Name="orders")["Table"]
    table_input = {
        key: found[key] for key in ("Name", "Description", "TableType", "PartitionKeys", "StorageDescriptor")
    }
    parameters = {**found["Parameters"], "skip.header.line.count": "1"}
    aws["glue"].update_table(DatabaseName="params_raw", TableInput={**table_input, "Parameters": parameters})
    capsys.readouterr()
    assert sync(aws, *databases) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "table params_raw.orders: updated" in lines and "table params_raw.customers: unchanged" in lines
    assert table(aws["glue"], "params_raw", "orders")["Parameters"] == {"EXTERNAL": "TRUE", "classification": "csv"}


def test_sync_of_a_delta_lake_declares_delta_tables_without_partition_keys(aws, capsys):
    delta_lake = ["--lake", f"s3://{LAKE_BUCKET}/delta-lake", "--database", "processed_delta"]
    assert sync(aws, *delta_lake, "--raw-database", "raw_delta", "--format", "delta") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "9 tables created, 0 updated, 0 unchanged, 0 partitions added"
    found = table(aws["glue"], "processed_delta", "sales")
    location = f"s3://{LAKE_BUCKET}/delta-lake/mart/sales"
    assert found["Parameters"] == {"EXTERNAL": "TRUE", "table_type": "DELTA", "spark.sql.sources.provider": "delta"}
    assert found["PartitionKeys"] == []
    assert found["Columns"] == columns(ORDERS_COLUMNS + [("order_year", "int"), ("order_month", "int")] + SALES_EXTRA)
    assert found["SerdeInfo"]["Parameters"] == {"serialization.format": "1", "path": location}


def test_a_lake_switched_to_delta_keeps_no_partition_of_its_parquet_sync(aws, capsys):
    """Delta tables declare no partition keys, and the Parquet sync's 5 partitions stayed registered."""
    databases = ["--database", "switched", "--raw-database", "switched_raw"]
    assert sync(aws, *databases) == 0
    assert [len(partitions(aws["glue"], name, "switched")) for name in ("sales", "orders")] == [3, 2]
    capsys.readouterr()
    assert sync(aws, *databases, "--lake", f"s3://{LAKE_BUCKET}/delta-lake", "--format", "delta") == 0
    out = capsys.readouterr().out.splitlines()
    assert "table switched.sales: updated, partitions: 0 added, 0 already registered, 3 removed (no file left)" in out
    assert out[-1] == "0 tables created, 9 updated, 0 unchanged, 0 partitions added, 5 removed (no file left)"
    assert [partitions(aws["glue"], name, "switched") for name in ("sales", "orders")] == [[], []]


def test_folders_no_job_writes_are_no_partitions_and_stop_nothing(aws, capsys, caplog):
    """``order_year=/`` failed the sync part-way (ParamValidationError, exit 1); ``order_year=abc`` was
    registered for an int key, which Athena refuses for the whole table."""
    s3 = aws["s3"]
    for key in MART_KEYS:
        s3.put_object(Bucket=LAKE_BUCKET, Key=f"stray-lake/{key}", Body=b"x")
    for folder in ("order_year=", "order_year=abc"):
        s3.put_object(Bucket=LAKE_BUCKET, Key=f"stray-lake/mart/sales/{folder}/order_month=1/x.parquet", Body=b"x")
    databases = ["--database", "strays", "--raw-database", "strays_raw"]
    assert sync(aws, "--lake", f"s3://{LAKE_BUCKET}/stray-lake", *databases) == 0
    assert [values for values, _location in partitions(aws["glue"], "sales", "strays")] == [
        ("2013", "12"),
        ("2014", "1"),
        ("2014", "2"),
    ]
    assert (
        "strays.sales: skipped 2 file(s) in folders no job writes (a value that is empty or not of its key's type), "
        f"e.g. s3://{LAKE_BUCKET}/stray-lake/mart/sales/order_year=/order_month=1/x.parquet"
    ) in caplog.messages


def test_sync_in_the_other_format_than_the_lake_holds_fails_in_one_line_and_changes_nothing(aws, capsys):
    databases = ["--database", "wrong_format", "--raw-database", "wrong_format_raw"]
    assert sync(aws, "--lake", f"s3://{LAKE_BUCKET}/delta-lake", *databases) == 1  # --format parquet, the default
    assert capsys.readouterr().err == (
        f"lakejobs: error: s3://{LAKE_BUCKET}/delta-lake/processedData/customers is a Delta table "
        "(it has a _delta_log/): sync it with --format delta\n"
    )
    assert sync(aws, *databases, "--format", "delta") == 1
    assert capsys.readouterr().err == (
        f"lakejobs: error: s3://{LAKE_BUCKET}/lake/processedData/orders is not a Delta table "
        "(it has no _delta_log/): sync it with --format parquet\n"
    )
    names = {database["Name"] for database in aws["glue"].get_databases()["DatabaseList"]}
    assert not names & {"wrong_format", "wrong_format_raw"}


def test_sync_of_a_delta_log_without_a_commit_fails_in_one_line_in_either_format(aws, capsys):
    """A first Delta write stopped before its commit leaves s3a's folder marker of ``_delta_log/``: no table."""
    s3, lake = aws["s3"], f"s3://{LAKE_BUCKET}/stopped-lake"
    for key in DELTA_KEYS[1:]:
        s3.put_object(Bucket=LAKE_BUCKET, Key=f"stopped-lake/{key}", Body=b"{}")
    customers = "stopped-lake/processedData/customers"
    s3.put_object(Bucket=LAKE_BUCKET, Key=f"{customers}/_delta_log/", Body=b"")
    s3.put_object(Bucket=LAKE_BUCKET, Key=f"{customers}/part-00000.snappy.parquet", Body=b"x")
    databases = ["--database", "stopped", "--raw-database", "stopped_raw"]
    message = (
        f"lakejobs: error: {lake}/processedData/customers/_delta_log/ holds no Delta commit (a first Delta "
        "write stopped before it committed): run that write again, then sync\n"
    )
    for kind in ("delta", "parquet"):
        assert sync(aws, "--lake", lake, *databases, "--format", kind) == 1
        assert capsys.readouterr().err == message
    names = {database["Name"] for database in aws["glue"].get_databases()["DatabaseList"]}
    assert not names & {"stopped", "stopped_raw"}


def test_sync_of_a_missing_bucket_and_a_local_lake_fail_in_one_line(aws, capsys):
    """A missing bucket is a usage error, exit 2, as elsewhere (until session 48 exit 1)."""
    assert sync(aws, "--lake", "s3://no-such-bucket/lake", "--database", "other") == 2
    assert capsys.readouterr().err == "lakejobs: error: bucket does not exist: s3://no-such-bucket\n"
    assert cli.main(["catalog", "ddl", "--lake", "lake"]) == 2
    assert capsys.readouterr().err == (
        "lakejobs: error: --lake must be an s3:// location for the Glue Data Catalog, got 'lake'\n"
    )


def test_sync_of_a_lake_holding_none_of_its_tables_is_refused_changing_nothing(aws, capsys):
    """Until session 48 a mistyped ``--lake`` repointed every table to an empty folder, removing every partition."""
    databases = ["--database", "typo_check", "--raw-database", "typo_check_raw"]
    assert sync(aws, *databases) == 0
    capsys.readouterr()
    before = {name: table(aws["glue"], "typo_check", name) for name in ("orders", "sales")}
    sales = partitions(aws["glue"], "sales", "typo_check")
    for kind in ("parquet", "delta"):
        assert sync(aws, "--lake", f"s3://{LAKE_BUCKET}/lake/typo", *databases, "--format", kind) == 2
        assert capsys.readouterr() == (
            "",
            f"lakejobs: error: --lake s3://{LAKE_BUCKET}/lake/typo holds none of the tables it would register (no "
            "file below its processedData/ or mart/): give the lake the jobs wrote; nothing was changed in the "
            "catalog\n",
        )
    assert {name: table(aws["glue"], "typo_check", name) for name in ("orders", "sales")} == before
    assert partitions(aws["glue"], "sales", "typo_check") == sales


def test_sync_without_boto3_fails_in_one_line_saying_how_to_pack_it(aws, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # "import boto3" now raises ImportError
    assert sync(aws) == 1
    assert capsys.readouterr().err == (
        f"lakejobs: error: boto3 is not importable by {sys.executable}: in a packed environment add it "
        "(make package packs it: env/requirements-pyX.Y.txt)\n"
    )


def test_sync_takes_the_region_from_aws_region_as_aws_runtimes_set_it(aws, capsys, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert sync(aws, "--database", "region_check", "--raw-database", "region_check_raw") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("9 tables created")
    monkeypatch.delenv("AWS_REGION")
    assert sync(aws) == 1
    assert capsys.readouterr().err == "lakejobs: error: NoRegionError: You must specify a region.\n"


def test_an_unreachable_endpoint_is_one_line(aws, capsys, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    argv = ["catalog", "sync", "--lake", f"s3://{LAKE_BUCKET}/lake", "--endpoint-url", "http://127.0.0.1:9"]
    assert cli.main(argv) == 1
    assert capsys.readouterr().err == (
        "lakejobs: error: EndpointConnectionError: Could not connect to the endpoint URL: "
        f'"http://127.0.0.1:9/{LAKE_BUCKET}?list-type=2&prefix=lake%2FprocessedData%2Fcustomers%2F_delta_log%2F'
        '&encoding-type=url"\n'  # the first request: the format check lists S3
    )


RAW_CUSTOMERS_DDL = r"""CREATE EXTERNAL TABLE IF NOT EXISTS `raw_data`.`customers` (
  `customerid` string,
  `firstname` string,
  `lastname` string,
  `fullname` string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
WITH SERDEPROPERTIES (
  'separatorChar' = ',',
  'quoteChar' = '"',
  'escapeChar' = '\\'
)
STORED AS TEXTFILE
LOCATION 's3://b/lake/rawData/customers/'
TBLPROPERTIES ('classification' = 'csv');"""

CUSTOMER_SUMMARY_DDL = """CREATE EXTERNAL TABLE IF NOT EXISTS `processed_data`.`customer_summary` (
  `customerid` int,
  `customer_name` string,
  `customer_known` boolean,
  `order_count` bigint,
  `line_count` bigint,
  `line_total` decimal(27,4),
  `total_due` decimal(27,4),
  `first_order_date` date,
  `last_order_date` date
)
STORED AS PARQUET
LOCATION 's3://b/lake/mart/customer_summary/'
TBLPROPERTIES ('classification' = 'parquet', 'parquet.compression' = 'SNAPPY');"""


def test_ddl_prints_every_statement_exactly(capsys):
    assert cli.main(["catalog", "ddl", "--lake", "s3a://b/lake/"]) == 0
    statements = capsys.readouterr().out.split("\n\n")
    assert len(statements) == 11
    assert statements[:3] == [
        "CREATE DATABASE IF NOT EXISTS `raw_data`;",
        "CREATE DATABASE IF NOT EXISTS `processed_data`;",
        RAW_CUSTOMERS_DDL,
    ]
    assert statements[-1] == CUSTOMER_SUMMARY_DDL + "\n"
    sales = statements[8].splitlines()
    assert sales[0] == "CREATE EXTERNAL TABLE IF NOT EXISTS `processed_data`.`sales` ("
    assert sales[1:3] == ["  `salesorderid` int,", "  `salesorderdetailid` int,"]
    assert sales[-4:] == [
        "PARTITIONED BY (`order_year` int, `order_month` int)",
        "STORED AS PARQUET",
        "LOCATION 's3://b/lake/mart/sales/'",
        "TBLPROPERTIES ('classification' = 'parquet', 'parquet.compression' = 'SNAPPY');",
    ]
    assert "  `group` string" in statements[6].splitlines()  # processed employees: a reserved word, quoted


def test_ddl_of_a_delta_lake_lets_athena_read_the_schema_from_the_log(capsys):
    assert cli.main(["catalog", "ddl", "--lake", "s3://b/lake", "--format", "delta"]) == 0
    statements = capsys.readouterr().out.split("\n\n")
    assert statements[-1] == (
        "CREATE EXTERNAL TABLE IF NOT EXISTS `processed_data`.`customer_summary`\n"
        "LOCATION 's3://b/lake/mart/customer_summary/'\n"
        "TBLPROPERTIES ('table_type' = 'DELTA');\n"
    )


def test_the_catalog_step_script_takes_the_argv_glue_passes(aws):
    """``jobs/catalog_sync.py`` as the Glue job of the Step Functions catalog step runs it."""
    env = {**job_env(), **aws["env"]}
    argv = ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--job-bookmark-option", "job-bookmark-disable"]
    argv += ["--lake", f"s3://{LAKE_BUCKET}/lake/", "--database", "glue_step", "--raw-database", "glue_step_raw"]
    argv += ["--format", "parquet", "--region", "us-east-1", "--JOB_NAME", "lakejobs-catalog-sync", "--enable-metrics"]
    completed = subprocess.run(
        [sys.executable, "jobs/catalog_sync.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    keys = aws["s3"].list_objects_v2(Bucket=LAKE_BUCKET, Prefix="lake/mart/sales/order_year=")["Contents"]
    in_s3 = {tuple(part.split("=")[1] for part in item["Key"].split("/")[3:5]) for item in keys}
    found = aws["glue"].get_partitions(DatabaseName="glue_step", TableName="sales")["Partitions"]
    assert sorted(tuple(p["Values"]) for p in found) == sorted(in_s3)
    totals = f"9 tables created, 0 updated, 0 unchanged, {len(in_s3) + 2} partitions added"
    assert completed.stdout.splitlines()[-1] == totals


def test_every_job_role_may_make_every_call_of_the_catalog_step(aws, capsys):
    """The catalog step runs as the pipeline's job role on each runtime: each role allows its calls."""
    for database in ("processed_data", "raw_data"):
        with contextlib.suppress(aws["glue"].exceptions.EntityNotFoundException):
            aws["glue"].delete_database(Name=database)
    extra = "lake/mart/sales/order_year=2015/order_month=1/part-0.parquet"
    with recorded_calls() as calls:
        assert sync(aws) == 0  # creates
        aws["s3"].put_object(Bucket=LAKE_BUCKET, Key=extra, Body=b"x")
        aws["glue"].update_table(DatabaseName="processed_data", TableInput={"Name": "sales"})
        assert sync(aws) == 0  # updates the changed table in place, adds 2015-01
        aws["s3"].delete_object(Bucket=LAKE_BUCKET, Key=extra)
        assert sync(aws) == 0  # removes 2015-01
        point_elsewhere(aws["glue"], "sales", ["2014", "1"])
        assert sync(aws) == 0  # re-points 2014-01 to this lake
    here = f"s3://{LAKE_BUCKET}/lake/mart/sales/order_year=2014/order_month=1/"
    assert (("2014", "1"), here) in partitions(aws["glue"], "sales")
    capsys.readouterr()
    # Exactly the Glue actions the roles grant (each one used), and the S3 listing.
    granted = {action.split(":", 1)[1] for action in iam.CATALOG_ACTIONS}
    assert {operation for _service, operation, _params in calls} == granted | {"ListObjectsV2"}
    config = DeployConfig(
        bucket=LAKE_BUCKET, prefix="lake", role_arn=f"arn:aws:iam::{ACCOUNT}:role/r", region="us-east-1"
    )
    checks = [check for call in calls for check in iam_eval.authorizations(*call, ACCOUNT, aws_region())]
    roles = [path for path in iam.POLICIES if path.endswith("-policy.json") and "service-role" not in path]
    assert len(roles) == 4
    for path in roles:
        policy = iam.POLICIES[path](config)
        assert [check for check in checks if not iam_eval.allowed(policy, check)] == [], path
        without = {**policy, "Statement": [s for s in policy["Statement"] if s.get("Sid") != "SyncLakeCatalog"]}
        assert not all(iam_eval.allowed(without, check) for check in checks), path
