"""The raw zone ``lakejobs pipeline`` reads when ``--raw`` is not given, and how its steps' refusals read."""

import pytest

from lakejobs import pipeline
from lakejobs.errors import UsageError
from tests.conftest import SAMPLE_RAW


@pytest.mark.parametrize("lake", ["s3://bucket/lake", "s3a://bucket/lake/", "hdfs:///lake"])
def test_a_lake_not_on_this_machine_is_read_from_its_own_raw_zone(lake):
    assert pipeline.default_raw(lake) == f"{lake.rstrip('/')}/rawData"


def test_a_local_lake_holding_a_raw_zone_is_read_from_it_not_from_the_sample(tmp_path, monkeypatch):
    """Until session 49 the sample was read, and the lake's own rawData/ passed over without a word."""
    (tmp_path / "lake" / "rawData").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert pipeline.default_raw("lake") == "lake/rawData"
    assert pipeline.default_raw(f"file://{tmp_path}/lake/") == f"file://{tmp_path}/lake/rawData"


def test_a_local_lake_without_one_reads_the_checkouts_sample_from_any_folder(tmp_path, monkeypatch):
    """Until session 49 the sample was looked for below the working folder."""
    monkeypatch.chdir(tmp_path)
    assert pipeline.default_raw("lake") == str(SAMPLE_RAW.resolve())


def test_without_a_sample_the_missing_raw_zone_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "SAMPLE_RAW", tmp_path / "site-packages" / "data" / "sample" / "rawData")
    with pytest.raises(UsageError) as refused:
        pipeline.default_raw(str(tmp_path / "lake"))
    assert str(refused.value) == (
        f"--raw not given, and neither {tmp_path}/lake/rawData nor the bundled sample "
        f"({tmp_path}/site-packages/data/sample/rawData) exists: give --raw with the raw zone's folder"
    )


def test_a_steps_refusal_before_spark_starts_names_the_step(tmp_path):
    """Until session 49 only refusals after Spark started did: this one named ``--output_path`` alone."""
    (tmp_path / "lake" / "processedData").mkdir(parents=True)
    (tmp_path / "lake" / "processedData" / "customers").write_text("")
    with pytest.raises(UsageError) as refused:
        pipeline.preflight_conversions(str(SAMPLE_RAW), str(tmp_path / "lake"))
    customers = tmp_path / "lake" / "processedData" / "customers"
    assert str(refused.value) == (
        f"step csv_to_parquet customers (its paths come from --raw and --lake): --output_path {customers} "
        f"cannot be written: {customers} is a file, not a folder"
    )
