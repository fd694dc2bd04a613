"""Run reports: each run's ``JobResult`` saved under ``<root>/<job>/<run_id>.json``, and read back.

The pipeline's root is ``<lake>/_lakejobs/runs``; a job run alone defaults to
``<output_path>_lakejobs/runs``. ``lakejobs report`` (``lakejobs.runs_report``) lists them.
"""

import json
import os
from typing import TYPE_CHECKING, List, Optional
from urllib.parse import urlparse

from lakejobs import fs
from lakejobs.errors import UsageError
from lakejobs.result import JobResult

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession


def save_run_report(spark: "SparkSession", report_root: Optional[str], result: JobResult) -> Optional[str]:
    """Write ``result`` as JSON below ``report_root`` (nothing when it is None); return the path."""
    if not report_root:
        return None
    path = f"{report_root.rstrip('/')}/{result.job}/{result.run_id}.json"
    fs.write_text(spark, path, result.to_json() + "\n")
    return path


def run_reports(spark: "SparkSession", report_root: str, job: str) -> List[str]:
    """Paths of ``job``'s run reports below ``report_root``, newest first (run ids sort by time)."""
    files = fs.list_data_files(spark, f"{report_root.rstrip('/')}/{job}")
    return sorted((info.path for info in files if info.path.endswith(".json")), reverse=True)


def previous_rows_written(
    spark: "SparkSession", report_root: Optional[str], job: str, dataset: str, output_path: str
) -> Optional[int]:
    """Rows the latest successful run of ``job`` wrote for ``dataset`` to ``output_path`` (None: no such run)."""
    if not report_root:
        return None
    for path in run_reports(spark, report_root, job):
        try:
            report = json.loads(fs.read_text(spark, path) or "{}")
        except ValueError:
            continue
        outputs = report.get("outputs") or [{}]
        if (
            report.get("status") == "SUCCEEDED"
            and dataset in report.get("inputs", {})
            and any(output.get("path") == output_path for output in outputs)
        ):
            return int(report.get("rows_written", 0))
    return None


def read_rules_text(path: str) -> str:
    """Read a ruleset file before Spark starts: a local file, or ``s3://``/``s3a://`` through boto3."""
    parsed = urlparse(path)
    if parsed.scheme in ("s3", "s3a"):
        import boto3

        body = boto3.client("s3").get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"]
        return body.read().decode("utf-8")
    local = fs.local_path(path)
    if not os.path.isfile(local):
        raise UsageError(f"rules file does not exist: {path}")
    with open(local, encoding="utf-8") as handle:
        return handle.read()
