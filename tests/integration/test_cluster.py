"""The packaged jobs on a real distributed engine: a Spark standalone cluster, s3a on moto's server.

A master and one worker on 127.0.0.1 (from the pip-installed PySpark) run the pipeline's
``spark-submit``s from a freshly packaged ``dist/``, two ways at once: with ``lakejobs-lib.zip``
on ``--py-files`` under a bare interpreter, and with the packed environment on ``--archives``.
Each way first submits a probe that reports where the driver and the executors import lakejobs
and pyspark from. The zip way then runs the whole pipeline, the environment way its first step
(every application starts two JVMs: running all ten took about 150 of the suite's seconds on two
cores, these seven about a third less). What they wrote must equal the local-mode run, table by
table.
"""

import os
import platform
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from chispa import assert_df_equality

from lakejobs import cluster, packaging, s3local
from tests.conftest import SAMPLE_RAW

# Ten applications start twenty JVMs: on a busy 2-core machine that outlasts the default limit.
pytestmark = [pytest.mark.subprocess, pytest.mark.timeout(1800)]

PROBE = Path(__file__).with_name("where_is_lakejobs.py")
BUCKET = "cluster-lake"
TABLES = (
    "processedData/customers",
    "processedData/employees",
    "processedData/orders",
    "mart/sales",
    "mart/sales_by_employee_month",
    "mart/customer_summary",
)


def runtime_python() -> str:
    """The Python 3.11 the cluster's Python processes run: AL2023's path when this machine has it.

    On this Debian machine ``/usr/bin/python3.11`` exists, so the packed environment links to
    the same path it would on Glue 5 / AL2023. Elsewhere the test passes its own base
    interpreter explicitly (``interpreter=``), still not a venv.
    """
    default = packaging.RUNTIME_INTERPRETERS["3.11"]
    return default if os.path.exists(default) else os.path.realpath(getattr(sys, "_base_executable", sys.executable))


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dist")
    # No boto3 (env/requirements-py3.11.txt): the pipeline's jobs do not import it.
    built = packaging.build_all(
        folder, ["3.11"], platform.machine(), interpreter=runtime_python(), with_runtime_requirements=False
    )
    return {**built, "env": built["envs"][0]}


#: How many pipeline steps each way of shipping runs (None: all of them).
STEPS = {"zip": None, "env": 1}


def run_pipeline_on(running, shipping, jobs_dir, conf, logs: Path) -> dict:
    """Submit the probe, then the way's pipeline steps, one after the other; their result lines."""
    logs.mkdir()
    probe_command = cluster.submit_command(running, PROBE, [], shipping, conf, name=f"{shipping.name}: probe")
    probe = cluster.run_submit(probe_command, shipping, logs / "probe.log")
    lake = f"s3a://{BUCKET}/{shipping.name}"
    results = []
    submissions = cluster.pipeline_submissions(f"s3a://{BUCKET}/rawData", lake, jobs_dir)
    for label, script, argv in submissions[: STEPS[shipping.name]]:
        command = cluster.submit_command(running, script, argv, shipping, conf, name=f"{shipping.name}: {label}")
        results.append(cluster.run_submit(command, shipping, logs / f"{label.replace(' ', '-')}.log"))
    return {"probe": probe, "results": results, "lake": lake}


@pytest.fixture(scope="module")
def cluster_runs(s3, dist, tmp_path_factory):
    """Both ways of shipping lakejobs, run side by side on one cluster (one core each)."""
    s3["client"].create_bucket(Bucket=BUCKET)
    assert s3local.upload_sales_raw(BUCKET, SAMPLE_RAW) == 3
    work = tmp_path_factory.mktemp("cluster")
    (work / "zip-driver").mkdir()
    shippings = [
        cluster.zip_shipping(dist["lib_zip"], runtime_python(), work / "zip-driver"),
        cluster.env_shipping(dist["env"], work / "env-driver"),
    ]
    conf = cluster.s3a_submit_conf()
    with cluster.standalone_cluster(work / "spark") as running, ThreadPoolExecutor(len(shippings)) as pool:
        futures = {
            shipping.name: pool.submit(run_pipeline_on, running, shipping, dist["jobs"], conf, work / shipping.name)
            for shipping in shippings
        }
        return {name: future.result() for name, future in futures.items()}


def test_the_zip_reaches_driver_and_executors_under_a_bare_interpreter(cluster_runs):
    probe = cluster_runs["zip"]["probe"]
    places = [probe["driver"], *probe["executors"]]
    assert len(probe["executors"]) == 2
    for place in places:
        assert place["python"] == runtime_python()
        assert place["lakejobs"].endswith("/lakejobs-lib.zip/lakejobs/__init__.py")
        assert place["pyspark"].endswith("/python/lib/pyspark.zip/pyspark/__init__.py")
    assert probe["executors"][0]["lakejobs"] == "./lakejobs-lib.zip/lakejobs/__init__.py"


def test_the_packed_environment_runs_driver_and_executors(cluster_runs):
    probe = cluster_runs["env"]["probe"]
    driver, executors = probe["driver"], probe["executors"]
    assert len(executors) == 2
    for place in [driver, *executors]:
        assert place["prefix"].endswith("/environment")
        assert place["python"] == place["prefix"] + "/bin/python"
        assert place["lakejobs"] == place["prefix"] + "/lib/python3.11/site-packages/lakejobs/__init__.py"
        assert place["pyspark"].endswith("/python/lib/pyspark.zip/pyspark/__init__.py")
    assert driver["prefix"].endswith("/env-driver/environment")
    assert all("/worker/app-" in executor["prefix"] for executor in executors)


def result_counts(run) -> list:
    return [(r["job"], r["status"], r["rows_read"], r["rows_written"], r["rows_quarantined"]) for r in run["results"]]


def test_the_pipeline_on_the_cluster_equals_the_local_run(spark, cluster_runs, sample_lake):
    run = cluster_runs["zip"]
    assert result_counts(run) == [
        ("csv_to_parquet", "SUCCEEDED", 40, 40, 0),
        ("csv_to_parquet", "SUCCEEDED", 18, 18, 0),
        ("csv_to_parquet", "SUCCEEDED", 300, 300, 0),
        ("sales_mart", "SUCCEEDED", 300, 300, 0),
    ]
    for table in TABLES:
        on_cluster = spark.read.parquet(f"{run['lake']}/{table}")
        local = spark.read.parquet(str(sample_lake / table))
        assert_df_equality(on_cluster, local, ignore_row_order=True)


def test_a_job_in_the_packed_environment_writes_what_the_local_run_writes(spark, cluster_runs, sample_lake):
    run = cluster_runs["env"]
    assert result_counts(run) == [("csv_to_parquet", "SUCCEEDED", 40, 40, 0)]
    on_cluster = spark.read.parquet(f"{run['lake']}/{TABLES[0]}")
    local = spark.read.parquet(str(sample_lake / TABLES[0]))
    assert_df_equality(on_cluster, local, ignore_row_order=True)
