"""``jobs/catalog_sync.py``: a SparkContext only when ``spark-submit`` started it (YARN cluster mode needs one)."""

import importlib.util
import sys

import pyspark
import pytest

from lakejobs import cli
from lakejobs.errors import UsageError
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


def test_on_glue_a_flag_the_library_does_not_know_is_set_aside_as_in_the_other_jobs(monkeypatch, caplog, capsys):
    script, calls = load_script(), []
    monkeypatch.setattr(script, "main", lambda argv: calls.append(argv) or 0)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    argv = ["--JOB_RUN_ID", "jr_1", "--some-new-glue-flag", "x", "--lake", "s3://b/lake", "--raw-database", "raw"]
    assert script.sync(argv) == 0
    assert calls == [["catalog", "sync", "--lake", "s3://b/lake", "--raw-database", "raw"]]
    assert "--some-new-glue-flag is not an argument this job knows: set aside as one of Glue's" in caplog.text
    # A slip in one of the step's own kebab-case options is not taken for Glue's.
    with pytest.raises(UsageError, match=r"^--raw-databse is not an option of this job; did you mean --raw-database"):
        script.sync(["--JOB_RUN_ID", "jr_1", "--lake", "s3://b/lake", "--raw-databse", "raw"])
    # Off Glue (no --JOB_RUN_ID, no awsglue) nothing is set aside: the command refuses the flag.
    monkeypatch.delitem(sys.modules, "awsglue", raising=False)  # a Glue adapter test's stand-in
    monkeypatch.setattr(script, "main", cli.main)
    with pytest.raises(SystemExit) as refused:
        script.sync(["--some-new-glue-flag", "x", "--lake", "s3://b/lake"])
    assert refused.value.code == 2
    refusal = "lakejobs catalog sync: error: unrecognized arguments: --some-new-glue-flag x (see --help)\n"
    assert capsys.readouterr().err == refusal


def test_a_lake_with_an_empty_folder_name_is_refused_in_one_line(capsys):
    from lakejobs import cli

    assert cli.main(["catalog", "ddl", "--lake", "s3://lake//x"]) == 2
    assert capsys.readouterr().err == (
        "lakejobs: error: --lake 's3://lake//x' holds an empty folder name (//): the jobs write s3://bucket/a/b for "
        "s3://bucket//a//b (Hadoop drops it), so the tables would point at keys no job writes\n"
    )
    assert cli.main(["catalog", "ddl", "--lake", "s3://lake/a/./x"]) == 2  # Hadoop reads s3://lake/a/x
    assert capsys.readouterr().err == (
        "lakejobs: error: --lake 's3://lake/a/./x' holds a . or .. folder: Hadoop resolves it, so the jobs write other "
        "keys than the tables would point at\n"
    )
