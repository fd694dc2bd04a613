"""Run reports: each run's ``JobResult`` saved under ``<root>/<job>/<run_id>.json``."""

from typing import TYPE_CHECKING, Optional

from lakejobs import fs
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
