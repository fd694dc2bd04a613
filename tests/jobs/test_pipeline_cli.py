"""``lakejobs pipeline`` still runs the local pipeline (``make run``) next to ``pipeline start``."""

from lakejobs import cli
from tests.conftest import SAMPLE_RAW


def test_lakejobs_pipeline_without_an_action_runs_the_local_pipeline(spark, tmp_path, capsys):
    lake = tmp_path / "lake"
    assert cli.main(["pipeline", "--raw", str(SAMPLE_RAW), "--lake", str(lake)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0:2] for line in out[2:6]] == [
        ["csv_to_parquet", "customers"],
        ["csv_to_parquet", "employees"],
        ["csv_to_parquet", "orders"],
        ["sales_mart", "300"],
    ]
    assert spark.read.parquet(str(lake / "mart" / "sales")).count() == 300
