"""``bench/measure.py`` reads the stages of a timed pipeline from the lake's run reports."""

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import measure  # noqa: E402


def test_the_pipelines_own_report_is_no_stage(tmp_path):
    """Since session 47 the pipeline saves its own report beside its steps'; ``make bench`` failed on it."""
    reports = {
        "csv_to_parquet/r1.json": {"job": "csv_to_parquet", "inputs": {"orders": "raw/orders"}},
        "sales_mart/r2.json": {"job": "sales_mart", "inputs": {"orders": "p/orders", "customers": "p/customers"}},
        "pipeline/r0.json": {"job": "pipeline", "inputs": {}},
    }
    for name, report in reports.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(json.dumps({**report, "started_at": "2026-12-07T12:00:00", "duration_s": 1.0}))
    assert [label for label, _report in measure.job_reports(tmp_path)] == ["convert_orders", "sales_mart"]
