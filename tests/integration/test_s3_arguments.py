"""Files named by job arguments (--schema_file, --rules) are read from S3 as from a folder."""

import pytest
from pyspark.sql import types as T

from lakejobs.errors import UsageError
from lakejobs.jobs import csv_to_parquet


def parse(bucket, *extra):
    paths = ["--input_path", f"s3://{bucket}/raw", "--output_path", f"s3://{bucket}/processed/items"]
    return csv_to_parquet.parse_args([*paths, *extra])


def test_a_schema_file_and_rules_on_s3_are_read(s3, bucket):
    s3["client"].put_object(Bucket=bucket, Key="conf/items.ddl", Body=b"id INT NOT NULL, price DECIMAL(10,2)\n")
    s3["client"].put_object(Bucket=bucket, Key="conf/items.dqdl", Body=b'Rules = [ ColumnValues "price" >= 0 ]\n')
    args = parse(bucket, "--schema_file", f"s3://{bucket}/conf/items.ddl", "--rules", f"s3a://{bucket}/conf/items.dqdl")
    assert args.dataset.schema == T.StructType(
        [T.StructField("id", T.IntegerType(), False), T.StructField("price", T.DecimalType(10, 2))]
    )
    assert [rule.text for rule in args.rules] == ['ColumnValues "price" >= 0']


@pytest.mark.parametrize(
    ("key", "body", "message"),
    [
        ("conf/none.ddl", None, "schema file does not exist: s3://{bucket}/conf/none.ddl"),
        (
            "conf/latin1.ddl",
            "id INT, café STRING".encode("latin-1"),
            "schema file s3://{bucket}/conf/latin1.ddl is not UTF-8 text (byte 11)",
        ),
    ],
)
def test_a_missing_or_unreadable_schema_file_on_s3_is_one_line(s3, bucket, key, body, message):
    if body is not None:
        s3["client"].put_object(Bucket=bucket, Key=key, Body=body)
    with pytest.raises(UsageError) as raised:
        parse(bucket, "--schema_file", f"s3://{bucket}/{key}")
    assert str(raised.value) == message.format(bucket=bucket)


def test_a_runs_report_of_a_mistyped_s3_lake_is_refused_not_shown_empty(s3, bucket, capsys):
    """An empty listing printed "(no runs)" with exit 0, where a mistyped local lake exits 2."""
    from lakejobs import cli

    key = "lake/_lakejobs/runs/csv_to_parquet/r1.json"
    body = '{"job": "csv_to_parquet", "run_id": "r1", "status": "SUCCEEDED", "started_at": "2026-12-05T10:00:00+00:00"}'
    s3["client"].put_object(Bucket=bucket, Key=key, Body=body.encode())
    assert cli.main(["report", "--lake", f"s3://{bucket}/lake"]) == 0
    assert "csv_to_parquet  -          SUCCEEDED" in capsys.readouterr().out
    assert cli.main(["report", "--lake", f"s3://{bucket}/laek"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"lakejobs: error: no run reports at s3://{bucket}/laek/_lakejobs/runs "
        "(run a job with --report_path, or the pipeline)"
    )


def test_a_runs_report_of_a_bucket_that_does_not_exist_is_one_line_and_exit_2(s3, capsys):
    """botocore's NoSuchBucket ClientError was printed as it came, exit 1."""
    from lakejobs import cli

    assert cli.main(["report", "--lake", "s3://no-such-bucket-for-reports/lake"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "lakejobs: error: there is no bucket 'no-such-bucket-for-reports' (s3://no-such-bucket-for-reports/lake/_lakejobs/runs)"
    ]


@pytest.mark.parametrize("which", ["--input_path", "--output_path"])
def test_a_bucket_that_does_not_exist_is_one_line_before_the_run(spark, s3, bucket, capsys, tmp_path, which):
    """It was AmazonS3Exception's whole text ("The specified bucket does not exist (Service: ...)"), exit 1."""
    paths = {"--input_path": f"s3://{bucket}/raw", "--output_path": f"s3://{bucket}/processed/customers"}
    s3["client"].put_object(Bucket=bucket, Key="raw/c.csv", Body=b"1,Ann,Lee,Ann Lee\n")
    paths[which] = paths[which].replace(bucket, "no-such-bucket-at-all", 1)
    argv = ["--dataset", "customers", "--report_path", str(tmp_path / "reports")]
    argv += [token for option, path in paths.items() for token in (option, path)]
    assert csv_to_parquet.main(argv) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"csv_to_parquet: error: {paths[which]}: the bucket no-such-bucket-at-all does not exist (check its name, "
        "and the region)"
    )


def test_a_report_that_cannot_be_written_to_a_missing_bucket_says_so_in_words(spark, s3, caplog):
    """The warning carried S3's whole text (request ids, ``Proxy: null``) until session 46."""
    from lakejobs.io.reports import save_run_report_quietly
    from lakejobs.result import JobResult

    save_run_report_quietly(spark, "s3://no-such-bucket-at-all/runs", JobResult(job="csv_to_parquet", run_id="r1"))
    assert [record.getMessage() for record in caplog.records if record.name == "lakejobs.io.reports"] == [
        "could not write the run report to s3://no-such-bucket-at-all/runs: the bucket no-such-bucket-at-all does "
        "not exist"
    ]


def test_a_report_path_in_a_missing_bucket_is_refused_before_the_run(spark, s3, bucket, capsys):
    """Until session 47 the run succeeded with a warning and left no report."""
    s3["client"].put_object(Bucket=bucket, Key="raw/c.csv", Body=b"1,Ann,Lee,Ann Lee\n")
    argv = ["--dataset", "customers", "--input_path", f"s3://{bucket}/raw", "--output_path", f"s3://{bucket}/c"]
    assert csv_to_parquet.main([*argv, "--report_path", "s3://no-such-bucket-at-all/runs"]) == 2
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if "WARN" not in line][-1] == (
        "csv_to_parquet: error: --report_path s3://no-such-bucket-at-all/runs: the bucket no-such-bucket-at-all "
        "does not exist (check its name, and the region)"
    )
    assert "could not write the run report" not in captured.err
    assert s3["client"].list_objects_v2(Bucket=bucket, Prefix="c")["KeyCount"] == 0


def test_a_lake_at_a_buckets_root_without_a_slash_is_listed(spark, s3, bucket):
    """Until session 47 ``--lake s3a://lake`` failed the pipeline after its last step: ``path must be absolute``."""
    from lakejobs import fs, pipeline

    s3["client"].put_object(Bucket=bucket, Key="mart/sales/part-0.parquet", Body=b"x")
    assert fs.exists(spark, f"s3a://{bucket}")
    assert pipeline.lake_line(spark, f"s3a://{bucket}") == f"lake: s3a://{bucket} (mart/)"


def test_a_pipeline_on_an_s3_lake_reads_the_lakes_own_raw_zone_by_default(spark, s3, bucket, capsys):
    """Until session 48 it read the checkout's local sample into the S3 lake, and SUCCEEDED."""
    from lakejobs import cli

    assert cli.main(["pipeline", "--lake", f"s3a://{bucket}/lake"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"lakejobs: error: input path does not exist: s3a://{bucket}/lake/rawData/customers"
    )
    listed = s3["client"].list_objects_v2(Bucket=bucket, Prefix="lake/").get("Contents", [])
    assert sorted(item["Key"].split("/")[3] for item in listed) == ["csv_to_parquet", "pipeline"]  # the reports
