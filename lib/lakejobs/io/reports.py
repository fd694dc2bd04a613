"""Run reports: each run's ``JobResult`` saved under ``<root>/<job>/<run_id>.json``, and read back.

The pipeline's root is ``<lake>/_lakejobs/runs``; a job run alone defaults to
``<output_path>_lakejobs/runs``. ``lakejobs report`` (``lakejobs.runs_report``) lists them.
"""

import json
import logging
from typing import TYPE_CHECKING, Dict, List, NoReturn, Optional
from urllib.parse import urlparse

from lakejobs import fs
from lakejobs.errors import LakejobsError, UsageError, root_cause, stopped_context_cause
from lakejobs.interrupt import Interrupted, interrupted
from lakejobs.result import JobResult

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

LOG = logging.getLogger(__name__)


def save_run_report(spark: "SparkSession", report_root: Optional[str], result: JobResult) -> Optional[str]:
    """Write ``result`` as JSON below ``report_root`` (nothing when it is None); return the path."""
    if not report_root:
        return None
    path = f"{report_root.rstrip('/')}/{result.job}/{result.run_id}.json"
    fs.write_text(spark, path, result.to_json() + "\n")
    return path


def close_report_of_dead_run(
    spark: "SparkSession", report_root: Optional[str], holder: Dict[str, object], taken_by: str
) -> None:
    """Mark FAILED the report a dead run left RUNNING, once ``taken_by`` has taken over its lock.

    A run writes its report RUNNING when it takes its lock, and rewrites it when it ends; a
    killed process (``kill -9``, a lost container) leaves it RUNNING, and until session 48 left
    no report at all. ``holder`` is what the dead run's lock said of it (``state.RunLock``). A
    report elsewhere (another ``--report_path``), missing or not RUNNING is left as it is.
    """
    job, run_id = holder.get("job"), holder.get("run_id")
    if not report_root or not isinstance(job, str) or not isinstance(run_id, str) or "/" in job + run_id:
        return
    path = f"{report_root.rstrip('/')}/{job}/{run_id}.json"
    try:
        report = json.loads(fs.read_text(spark, path) or "{}")
        if not isinstance(report, dict) or report.get("status") != "RUNNING":
            return
        report["status"] = "FAILED"
        report["error"] = (
            f"the run ended without a result: its process (pid {holder.get('pid')} on {holder.get('host')}) was gone "
            f"when run {taken_by} took over its lock (killed, or its machine stopped)"
        )
        fs.write_text(spark, path, json.dumps(report) + "\n")
    except Exception as error:  # noqa: BLE001 - the new run goes on; the old report stays as it was
        LOG.warning("could not mark the report %s of a dead run FAILED: %s", path, root_cause(error))


class ReportBucketMissing(UsageError):
    """The bucket of ``--report_path`` does not exist (no report can be left there either)."""

    def leaves_report_at(self, report_root: Optional[str]) -> bool:
        """Never: the report would go to that bucket (a warning with nothing else to say)."""
        return False


def refuse_missing_report_bucket(spark: "SparkSession", report_root: Optional[str]) -> None:
    """Raise ``ReportBucketMissing`` before the run when ``report_root``'s bucket does not exist.

    Until session 47 such a run succeeded with a warning and left no report, while a missing
    bucket for the output, quarantine or state was refused before anything was written.
    """
    if not report_root or fs.is_local(report_root):
        return
    try:
        fs.exists(spark, report_root)
    except UsageError as error:
        raise ReportBucketMissing(f"--report_path {error}") from None


def save_run_report_quietly(spark: "SparkSession", report_root: Optional[str], result: JobResult) -> None:
    """``save_run_report`` for a run whose outcome is decided: a report that cannot be written is logged.

    A failed run's own error is the one to report; a run that published its output and state
    stays SUCCEEDED (until session 32 a report write failing after the commit turned such a run
    into a FAILED one, exit 1, although its rows were published).
    """
    try:
        save_run_report(spark, report_root, result)
    except Exception as error:  # noqa: BLE001 - the run's own error is the one to report
        why = root_cause(error)
        if fs.no_such_bucket(error):  # S3's whole text (request ids, "Proxy: null") said no more
            why = f"the bucket {urlparse(str(report_root)).netloc} does not exist"
        LOG.warning("could not write the run report to %s: %s", report_root, why)


def raise_failed_run(
    spark: "SparkSession", report_root: Optional[str], result: JobResult, subject: str, error: Exception
) -> NoReturn:
    """Record a run that failed on ``error`` and raise its one-line error.

    A ``LakejobsError`` is raised again as it is, once the result it carries (or ``result``)
    is saved as FAILED. Any other error becomes a ``LakejobsError`` reading ``[<subject>: ]the
    run failed in stage <stage>: <root cause>``, naming the innermost cause (the Java one for
    a failure inside Spark; a stopped Spark context said so, with ``spark.master``:
    ``errors.stopped_context_cause``), chained to ``error`` for ``LAKEJOBS_DEBUG``.
    """
    stage = next(reversed(result.stages_s), "start")
    if interrupted() and _cancelled(error):  # a Spark job Ctrl-C cancelled
        message = save_interrupted_report(spark, report_root, result, subject)
        raise Interrupted(message, result=result) from error
    if isinstance(error, LakejobsError):
        failed = error.result if error.result is not None else result.finish("FAILED", str(error))
        if error.leaves_report_at(report_root):
            save_run_report_quietly(spark, report_root, failed)
        if not isinstance(error, UsageError):  # a failed run prints its result (exit 1); a refused one does not
            error.result = failed
        raise error
    master = getattr(getattr(spark, "sparkContext", None), "master", None)  # a Python attribute: no JVM call
    cause = stopped_context_cause(root_cause(error), master)
    message = f"{subject + ': ' if subject else ''}the run failed in stage {stage}: {cause}"
    save_run_report_quietly(spark, report_root, result.finish("FAILED", message))
    raise LakejobsError(message, result=result) from error


def save_interrupted_report(spark: "SparkSession", report_root: Optional[str], result: JobResult, subject: str) -> str:
    """Save ``result`` FAILED as interrupted (Ctrl-C) in its last stage; return that line.

    Also for a second Ctrl-C, a ``KeyboardInterrupt`` raised past the job's error handling: the
    report written RUNNING when the run took its lock would otherwise stay RUNNING.
    """
    stage = next(reversed(result.stages_s), "start")
    message = f"{subject + ': ' if subject else ''}the run was interrupted (Ctrl-C) in stage {stage}"
    save_run_report_quietly(spark, report_root, result.finish("FAILED", message))
    return message


#: What Spark says of a job ``cancelAllJobs`` stopped (``lakejobs.interrupt``).
CANCELLED = "cancelled as part of cancellation of all jobs"


def _cancelled(error: Exception) -> bool:
    """Tell whether ``error`` came of Ctrl-C's cancels, not of the run's own checks.

    Any error but a ``LakejobsError`` does (a Spark job's). A ``LakejobsError`` keeps its own
    line (a commit stopped part-way says how it is repaired) unless it wraps a cancelled job,
    as a database write's error does.
    """
    return not isinstance(error, LakejobsError) or CANCELLED in root_cause(error) or CANCELLED in str(error)


def run_reports(spark: "SparkSession", report_root: str, job: str) -> List[str]:
    """Paths of ``job``'s run reports below ``report_root``, newest first (run ids sort by time)."""
    files = fs.list_data_files(spark, f"{report_root.rstrip('/')}/{job}")
    return sorted((info.path for info in files if info.path.endswith(".json")), reverse=True)


def previous_rows_written(
    spark: "SparkSession", report_root: Optional[str], job: str, dataset: str, output_path: str
) -> Optional[int]:
    """Rows the latest successful run of ``job`` that wrote any wrote for ``dataset`` to ``output_path``.

    None when there is no such run. A run that wrote no rows (an empty export, an incremental run
    without new files) is passed over: against 0 rows no change can be measured, so a
    RowCountChange rule was skipped after it, whatever the next batch held.
    """
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
            and int(report.get("rows_written") or 0) > 0
        ):
            return int(report["rows_written"])
    return None
