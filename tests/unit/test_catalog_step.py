"""``jobs/catalog_sync.py``: a SparkContext only when ``spark-submit`` started it (YARN cluster mode needs one)."""

import importlib.util

import pyspark

from tests.conftest import ROOT


def load_script():
    spec = importlib.util.spec_from_file_location("catalog_sync_script", ROOT / "jobs" / "catalog_sync.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_catalog_step_makes_a_spark_context_under_spark_submit_and_none_otherwise(monkeypatch):
    script, events = load_script(), []

    class Context:
        @staticmethod
        def getOrCreate():
            events.append("context started")
            return Context()

        def stop(self):
            events.append("context stopped")

    monkeypatch.setattr(pyspark, "SparkContext", Context)
    monkeypatch.setattr(script, "main", lambda argv: events.append(argv) or 0)
    argv = ["--JOB_NAME", "lakejobs-catalog-sync", "--lake", "s3://b/lake"]
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "40000")
    assert script.sync(argv) == 0
    assert events == ["context started", ["catalog", "sync", "--lake", "s3://b/lake"], "context stopped"]

    events.clear()
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT")
    assert script.sync(argv) == 0
    assert events == [["catalog", "sync", "--lake", "s3://b/lake"]]
