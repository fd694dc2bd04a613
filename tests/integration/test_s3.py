"""The pipeline on S3 for real: moto's S3 server, boto3 uploads, Spark through s3a://."""

import json
import subprocess

import pytest
from chispa import assert_df_equality

from lakejobs import s3local, session
from lakejobs.jobs import csv_to_parquet
from lakejobs.pipeline import run_pipeline
from lakejobs.schemas import CUSTOMERS
from tests.conftest import ROOT, SAMPLE_RAW, VENV_BIN, job_env, read_raw_rows


def keys(s3, bucket, prefix=""):
    pages = s3["client"].get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_whole_delta_pipeline_on_s3a_equals_the_local_run(spark, s3, bucket, sample_delta_lake):
    assert s3local.upload_sales_raw(bucket, SAMPLE_RAW) == 3
    lake = f"s3a://{bucket}"
    results = run_pipeline(spark, f"{lake}/rawData", lake, "delta", incremental=True)
    assert [(r.rows_read, r.rows_written, r.rows_quarantined) for r in results] == [
        (40, 40, 0),
        (18, 18, 0),
        (300, 300, 0),
        (300, 300, 0),
    ]
    local_lake, _results = sample_delta_lake
    for table in ("processedData/orders", "mart/sales", "mart/customer_summary"):
        on_s3 = spark.read.format("delta").load(f"{lake}/{table}")
        local = spark.read.format("delta").load(str(local_lake / table))
        assert_df_equality(on_s3, local, ignore_row_order=True)
    written = keys(s3, bucket)
    assert "_lakejobs/state/csv_to_parquet/orders.json" in written
    assert any(k.startswith("mart/sales/_delta_log/") for k in written)
    assert any(k.startswith("mart/sales/order_year=2014/order_month=5/") for k in written)
    assert not any(k.endswith(".lock") for k in written)
    rerun = run_pipeline(spark, f"{lake}/rawData", lake, "delta", incremental=True)
    assert [r.rows_read for r in rerun] == [0, 0, 0, 300]
    for table in ("processedData/orders", "mart/sales", "mart/customer_summary"):  # the rebuilt mart too
        on_s3 = spark.read.format("delta").load(f"{lake}/{table}")
        local = spark.read.format("delta").load(str(local_lake / table))
        assert_df_equality(on_s3, local, ignore_row_order=True)


def test_s3_paths_map_to_s3a_and_writes_are_encrypted(spark, s3, bucket):
    s3local.upload_folder(bucket, "rawData/orders", SAMPLE_RAW / "orders")
    s3["client"].put_object(Bucket=bucket, Key="rawData/orders/bad.csv", Body=b"1,2,3\n")
    result = csv_to_parquet.run(
        spark,
        csv_to_parquet.parse_args(
            [
                "--dataset",
                "orders",
                "--input_path",
                f"s3://{bucket}/rawData/orders",
                "--output_path",
                f"s3://{bucket}/processedData/orders",
                "--quarantine_path",
                f"s3://{bucket}/quarantine/orders",
            ]
        ),
    )
    assert (result.rows_read, result.rows_written, result.quarantine_reasons) == (301, 300, {"malformed_record": 1})
    data = [k for k in keys(s3, bucket, "processedData/orders/") if k.endswith(".parquet")]
    assert [k.split("/")[2] for k in data] == [
        "order_year=2011",
        "order_year=2012",
        "order_year=2013",
        "order_year=2014",
    ]
    head = s3["client"].head_object(Bucket=bucket, Key=data[0])
    assert head["ServerSideEncryption"] == "AES256"
    quarantine = spark.read.json(f"s3://{bucket}/quarantine/orders").select("raw_line", "reason").collect()
    assert [tuple(row) for row in quarantine] == [("1,2,3", "malformed_record")]


def test_a_missing_s3_input_is_one_clear_error(spark, s3, bucket):
    import pytest

    from lakejobs.errors import UsageError

    with pytest.raises(UsageError, match=f"input path does not exist: s3a://{bucket}/nothing"):
        csv_to_parquet.run(
            spark,
            csv_to_parquet.parse_args(
                ["--dataset", "orders", "--input_path", f"s3a://{bucket}/nothing", "--output_path", f"s3a://{bucket}/o"]
            ),
        )


def test_a_compressed_file_not_named_so_on_s3_is_refused_by_its_first_bytes(spark, s3, bucket, capsys):
    import gzip

    s3["client"].put_object(Bucket=bucket, Key="gzipped/a.csv", Body=b"1,a\n")
    s3["client"].put_object(Bucket=bucket, Key="gzipped/b.csv", Body=gzip.compress(b"2,b\n"))
    argv = ["--schema", "id INT, name STRING", "--input_path", f"s3a://{bucket}/gzipped"]
    assert csv_to_parquet.main(argv + ["--output_path", f"s3a://{bucket}/gzipped_out"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"csv_to_parquet: error: input file s3a://{bucket}/gzipped/b.csv is gzip-compressed (its first bytes say "
        "so), but Spark picks a decompressor by the file's name and would read its bytes as text: name it with .gz "
        "at the end; nothing was read"
    )


def test_an_input_that_is_both_an_object_and_a_prefix_is_refused(spark, s3, bucket, capsys):
    """Until session 48 Spark read the prefix's object and not ``both``'s own row: the run SUCCEEDED with 1 row."""
    s3["client"].put_object(Bucket=bucket, Key="both", Body=b"1,a\n")
    s3["client"].put_object(Bucket=bucket, Key="both/part-1.csv", Body=b"2,b\n")
    argv = ["--schema", "id INT, name STRING", "--input_path", f"s3a://{bucket}/both"]
    assert csv_to_parquet.main(argv + ["--output_path", f"s3a://{bucket}/both_out"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"csv_to_parquet: error: s3a://{bucket}/both is both an object and a prefix of 1 object(s) "
        f"(e.g. s3a://{bucket}/both/part-1.csv): Spark would read the prefix's objects and not the object itself; "
        "rename the object, or move it below the prefix"
    )
    assert keys(s3, bucket, "both_out/") == []


def test_an_object_or_a_prefix_alone_is_read(spark, s3, bucket, tmp_path):
    s3["client"].put_object(Bucket=bucket, Key="single/one.csv", Body=b"1,a\n")
    s3["client"].put_object(Bucket=bucket, Key="single/many/part-1.csv", Body=b"2,b\n")
    argv = ["--schema", "id INT, name STRING", "--input_path"]
    for name, expected in (("one.csv", [(1, "a")]), ("many", [(2, "b")])):
        output = str(tmp_path / name)
        assert csv_to_parquet.main(argv + [f"s3a://{bucket}/single/{name}", "--output_path", output]) == 0
        assert [tuple(row) for row in spark.read.parquet(output).collect()] == expected


@pytest.mark.subprocess
def test_spark_submit_on_a_laptop_reaches_the_local_s3_server(spark, s3, bucket):
    """spark-submit's session took EMR's S3 settings: no s3:// mapping, no endpoint; it hung for minutes."""
    s3local.upload_folder(bucket, "raw/customers", SAMPLE_RAW / "customers")
    jars = ",".join(str(jar) for jar in session.local_jars())
    script = ["jobs/csv_to_parquet.py", "--dataset", "customers", "--input_path", f"s3://{bucket}/raw/customers"]
    argv = [str(VENV_BIN / "spark-submit"), "--master", "local[1]", "--jars", jars, *script]
    argv += ["--output_path", f"s3://{bucket}/out/customers"]
    completed = subprocess.run(argv, cwd=ROOT, env=job_env(), capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert json.loads(completed.stdout.strip().splitlines()[-1])["rows_written"] == 40
    submitted = spark.read.parquet(f"s3a://{bucket}/out/customers")
    rows = [(int(r[0]), r[1] or None, r[2] or None, r[3] or None) for r in read_raw_rows(SAMPLE_RAW / "customers")]
    assert_df_equality(submitted, spark.createDataFrame(rows, CUSTOMERS), ignore_row_order=True, ignore_nullable=True)
