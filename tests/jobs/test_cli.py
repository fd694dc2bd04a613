"""The entry points as a user runs them: the lakejobs CLI, python jobs/X.py and spark-submit."""

import json
import subprocess
import sys

import pytest
from chispa import assert_df_equality

from lakejobs import cli
from lakejobs.jobs import JOBS
from tests.conftest import ROOT, SAMPLE_RAW, VENV_BIN, job_env


def run(argv, timeout=300):
    return subprocess.run(argv, cwd=ROOT, env=job_env(), capture_output=True, text=True, timeout=timeout)


def test_lakejobs_jobs_lists_every_job_with_a_description(capsys):
    assert cli.main(["jobs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(JOBS)
    assert list(JOBS)[:2] == ["csv_to_parquet", "sales_mart"]
    assert all(len(line.split()) > 3 for line in lines)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--dataset", "orders", "--input_path", "no/such/dir", "--output_path", "/tmp/x"],
            "csv_to_parquet: error: input path does not exist: ",
        ),
        (
            ["--dataset", "nope", "--input_path", "data", "--output_path", "/tmp/x"],
            "csv_to_parquet: error: unknown dataset 'nope': known datasets are customers, employees, orders",
        ),
        (
            ["--schema", "id BIGINT, name", "--input_path", "data", "--output_path", "/tmp/x"],
            "csv_to_parquet: error: cannot read schema column 'name': expected 'name TYPE'",
        ),
        (
            ["--dataset", "orders", "--input_path", "data"],
            "csv_to_parquet: error: the following arguments are required: --output_path (see --help)",
        ),
        (
            ["--dataset", "orders", "--input_path", "data", "--output_path", "/tmp/x", "--max_bad_fraction", "x"],
            "csv_to_parquet: error: argument --max_bad_fraction: expected a number between 0 and 1",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_no_traceback(args, message):
    completed = run([sys.executable, "jobs/csv_to_parquet.py", *args])
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and completed.stderr.startswith(message), completed.stderr
    assert completed.stdout == ""


def test_lakejobs_run_reports_a_missing_processed_table_in_one_line():
    completed = run(
        [str(VENV_BIN / "lakejobs"), "run", "sales_mart", "--processed_path", "no/such", "--mart_path", "/tmp/m"]
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("sales_mart: error: input table does not exist: ")
    assert completed.stderr.count("\n") == 1


def test_lakejobs_generate_is_deterministic(tmp_path):
    for name in ("a", "b"):
        assert (
            run(
                [
                    str(VENV_BIN / "lakejobs"),
                    "generate",
                    "--orders",
                    "300",
                    "--seed",
                    "7",
                    "--out",
                    str(tmp_path / name),
                ]
            ).returncode
            == 0
        )
    for dataset in ("customers/customers.csv", "employees/employees.csv", "orders/orders-00000.csv"):
        assert (tmp_path / "a" / dataset).read_bytes() == (tmp_path / "b" / dataset).read_bytes()
        assert (tmp_path / "a" / dataset).read_bytes() == (SAMPLE_RAW / dataset).read_bytes()


@pytest.mark.subprocess
def test_python_job_script_with_the_argv_glue_passes(tmp_path):
    completed = run(
        [
            sys.executable,
            "jobs/csv_to_parquet.py",
            "--JOB_ID",
            "j_1",
            "--JOB_RUN_ID",
            "jr_1",
            "--job-bookmark-option",
            "job-bookmark-disable",
            "--TempDir",
            "s3://b/tmp",
            "--enable-metrics",
            "--JOB_NAME",
            "convert-orders",
            "--dataset",
            "orders",
            "--input_path",
            str(SAMPLE_RAW / "orders"),
            "--output_path",
            str(tmp_path / "orders"),
        ]
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert (result["status"], result["rows_read"], result["rows_written"], result["files_written"]) == (
        "SUCCEEDED",
        300,
        300,
        4,
    )
    assert "Traceback" not in completed.stderr


@pytest.mark.subprocess
def test_spark_submit_runs_the_sales_mart_script_to_the_same_mart(spark, sample_lake, tmp_path):
    completed = run(
        [
            str(VENV_BIN / "spark-submit"),
            "--master",
            "local[2]",
            "jobs/sales_mart.py",
            "--processed_path",
            str(sample_lake / "processedData"),
            "--mart_path",
            str(tmp_path / "submitted"),
        ]
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert json.loads(completed.stdout.strip().splitlines()[-1])["rows_written"] == 300
    for table in ("sales", "sales_by_employee_month", "customer_summary"):
        assert_df_equality(
            spark.read.parquet(str(tmp_path / "submitted" / table)),
            spark.read.parquet(str(sample_lake / "mart" / table)),
            ignore_row_order=True,
        )


@pytest.mark.subprocess
def test_a_path_hadoop_cannot_open_is_one_line_without_hadoops_warning():
    """Hadoop's ``WARN FileSystem: Failed to initialize fileystem ...`` came before the error line."""
    completed = run([str(VENV_BIN / "lakejobs"), "history", "hdfs:///x/t"])
    assert (completed.returncode, completed.stderr) == (
        1,
        "lakejobs: error: IOException: Incomplete HDFS URI, no host: hdfs:///x/t\n",
    )


@pytest.mark.subprocess
def test_a_header_behind_a_bom_is_read_without_sparks_header_warning(tmp_path):
    """Excel's UTF-8 export: the job reads the header itself, and Spark warned over five lines that it did
    not match (``WARN CSVHeaderChecker: CSV header does not conform to the schema``) on a good run."""
    (tmp_path / "raw").mkdir()
    header = "\ufeffticker,date,open,high,low,close,adj_close,volume"
    (tmp_path / "raw" / "prn.csv").write_text(f"{header}\r\nPRN,2024-01-02,10,11,9,10.5,10.5,100\r\n")
    argv = ["run", "stock_prices", "--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "stocks")]
    completed = run([str(VENV_BIN / "lakejobs"), *argv])
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert json.loads(completed.stdout.splitlines()[-1])["rows_written"] == 1
    assert [line for line in completed.stderr.splitlines() if " WARN " in line] == []


def test_an_unknown_job_is_a_usage_error(capsys):
    from lakejobs import cli

    assert cli.main(["run", "csv_to_parq", "--input_path", "a"]) == 2
    assert capsys.readouterr().err.startswith(
        "lakejobs: error: unknown job 'csv_to_parq': known jobs are csv_to_parquet, "
    )


def test_a_bad_cli_option_is_one_line_without_the_usage_block(capsys):
    from lakejobs import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["pipeline", "--format", "csv"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "lakejobs pipeline: error: argument --format: invalid choice: 'csv' (choose from 'parquet', 'delta')"
        " (see --help)\n"
    )


@pytest.mark.subprocess
def test_under_spark_submit_a_failed_runs_result_is_still_the_last_stdout_line(tmp_path):
    """spark-submit's Python runner merges stderr into stdout: the error line came after the result."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "p.csv").write_text("a1,1.50\nb2,oops\n")
    script = ["jobs/csv_to_parquet.py", "--schema", "sku STRING, price DECIMAL(10,2)", "--input_path"]
    script += [str(tmp_path / "in"), "--output_path", str(tmp_path / "out")]
    completed = run([str(VENV_BIN / "spark-submit"), "--master", "local[1]", *script])
    assert completed.returncode == 1, completed.stderr[-2000:]
    lines = completed.stdout.strip().splitlines()
    assert lines[-2].startswith("csv_to_parquet: error: out: 1 of 2 rows (50.00%) are bad, above --max_bad_fraction")
    result = json.loads(lines[-1])
    assert (result["status"], result["rows_read"], result["rows_quarantined"]) == ("FAILED", 2, 1)


@pytest.mark.subprocess
def test_under_spark_submit_without_hadoop_aws_an_s3a_run_names_the_jars_to_pass(tmp_path):
    """Until session 48 the line ended at ``ClassNotFoundException: Class ...S3AFileSystem not found``."""
    script = ["jobs/csv_to_parquet.py", "--dataset", "customers", "--input_path", "s3a://raw/customers"]
    script += ["--output_path", str(tmp_path / "out")]
    completed = run([str(VENV_BIN / "spark-submit"), "--master", "local[1]", *script])
    assert completed.returncode == 1, completed.stderr[-2000:]
    error_line = completed.stdout.strip().splitlines()[-2]
    assert error_line == (
        "csv_to_parquet: error: customers: the run failed in stage start: ClassNotFoundException: Class "
        "org.apache.hadoop.fs.s3a.S3AFileSystem not found; the s3a connector is not on Spark's classpath: start "
        "Spark with hadoop-aws 3.3.4 and the AWS SDK bundle ('make setup' fetches them into .jars/), e.g. "
        'spark-submit --jars "$(ls .jars/hadoop-aws-*.jar .jars/aws-java-sdk-bundle-*.jar | paste -sd,)"'
    )
    assert not (tmp_path / "out").exists()
