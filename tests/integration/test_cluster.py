"""The packaged jobs on a real distributed engine: a Spark standalone cluster, s3a on moto's server.

A master and one worker on 127.0.0.1 (from the pip-installed PySpark) run the pipeline's
``spark-submit``s from a freshly packaged ``dist/``, two ways at once, one core each: with
``lakejobs-lib.zip`` on ``--py-files`` under a bare interpreter, and with the packed environment
on ``--archives``. Each way first submits a probe that reports where the driver and the
executors import lakejobs and pyspark from, then its share of the pipeline's steps into one
lake: the environment converts employees while the zip converts customers; then the zip
converts orders (whose rules read both) and builds the mart. What they wrote must equal the
local-mode run, table by table. Every application starts two JVMs: the ten of a whole pipeline
per way took about 150 of the suite's seconds on two cores; the seven of the whole pipeline from
the zip and one step from the environment, 93-112 s, five of them one after the other. Shared
this way, four follow one another.
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


#: The step each way of shipping runs after its probe, side by side; then the zip runs the steps
#: that read both tables (the orders' rules check their customer and employee ids, the mart joins
#: all three).
LANES = {"zip": "csv_to_parquet customers", "env": "csv_to_parquet employees"}
THEN = ("csv_to_parquet orders", "sales_mart")
LAKE = f"s3a://{BUCKET}/lake"


def submit_step(running, shipping, step, conf, logs: Path, cores: int = 1) -> dict:
    """Submit one ``(label, script, argv)`` step on ``cores`` of the worker's cores; its result line."""
    label, script, argv = step
    name = f"{shipping.name}: {label}"
    command = cluster.submit_command(running, script, argv, shipping, conf, name=name, cores=cores)
    return cluster.run_submit(command, shipping, logs / f"{label.replace(' ', '-')}.log")


def run_lane(running, shipping, steps, conf, logs: Path) -> dict:
    """Submit the probe, then ``steps``, one after the other; their result lines."""
    logs.mkdir()
    probe_command = cluster.submit_command(running, PROBE, [], shipping, conf, name=f"{shipping.name}: probe")
    probe = cluster.run_submit(probe_command, shipping, logs / "probe.log")
    return {"probe": probe, "results": [submit_step(running, shipping, step, conf, logs) for step in steps]}


@pytest.fixture(scope="module")
def cluster_runs(s3, dist, tmp_path_factory):
    """Both ways of shipping lakejobs, run side by side on one cluster (one core each)."""
    s3["client"].create_bucket(Bucket=BUCKET)
    assert s3local.upload_sales_raw(BUCKET, SAMPLE_RAW) == 3
    work = tmp_path_factory.mktemp("cluster")
    (work / "zip-driver").mkdir()
    zip_way = cluster.zip_shipping(dist["lib_zip"], runtime_python(), work / "zip-driver")
    shippings = [zip_way, cluster.env_shipping(dist["env"], work / "env-driver")]
    steps = {step[0]: step for step in cluster.pipeline_submissions(f"s3a://{BUCKET}/rawData", LAKE, dist["jobs"])}
    conf = cluster.s3a_submit_conf()
    with cluster.standalone_cluster(work / "spark") as running, ThreadPoolExecutor(len(shippings)) as pool:
        futures = {
            way.name: pool.submit(run_lane, running, way, [steps[LANES[way.name]]], conf, work / way.name)
            for way in shippings
        }
        runs = {name: future.result() for name, future in futures.items()}
        # Alone on the cluster now, with both cores.
        runs["zip"]["results"] += [submit_step(running, zip_way, steps[label], conf, work / "zip", 2) for label in THEN]
    return runs


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
    assert result_counts(cluster_runs["env"]) == [("csv_to_parquet", "SUCCEEDED", 18, 18, 0)]
    assert result_counts(cluster_runs["zip"]) == [
        ("csv_to_parquet", "SUCCEEDED", 40, 40, 0),
        ("csv_to_parquet", "SUCCEEDED", 300, 300, 0),
        ("sales_mart", "SUCCEEDED", 300, 300, 0),
    ]
    for table in TABLES:
        on_cluster = spark.read.parquet(f"{LAKE}/{table}")
        local = spark.read.parquet(str(sample_lake / table))
        assert_df_equality(on_cluster, local, ignore_row_order=True)
