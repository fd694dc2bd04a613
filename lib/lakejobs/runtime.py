"""Where a job runs: the thin layer between a job's ``run(spark, args)`` and its runtime.

On AWS Glue the session comes from ``GlueContext`` and the run is wrapped in
``Job.init``/``Job.commit``; ``awsglue`` is imported here and nowhere else, and only when it
is importable (it exists only inside Glue's runtime). Everywhere else (EMR steps, EMR
Serverless, ``spark-submit``, plain ``python``) a ``SparkSession`` is built for the profile in
``LAKEJOBS_PROFILE`` (default ``local``).
"""

import importlib.util
import logging
import os
import signal
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Dict, Iterator, Optional, Sequence

from lakejobs import interrupt, session
from lakejobs.args import strip_glue_arguments
from lakejobs.errors import LakejobsError, UsageError, debug_enabled, joined_lines, root_cause, stopped_context_cause
from lakejobs.result import JobResult

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

LOG = logging.getLogger(__name__)


def on_glue() -> bool:
    """Tell whether the AWS Glue ETL runtime (``awsglue``) is importable here."""
    return importlib.util.find_spec("awsglue") is not None


def launched_by_spark_submit() -> bool:
    """Tell whether ``spark-submit`` started this Python process (its JVM is already up)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def current_profile() -> str:
    """The session profile: ``LAKEJOBS_PROFILE``, or ``local``; another value is a ``UsageError``."""
    profile = os.environ.get("LAKEJOBS_PROFILE", "local")
    if profile not in session.PROFILES:
        raise UsageError(f"LAKEJOBS_PROFILE={profile} is not a profile: use one of {', '.join(session.PROFILES)}")
    return profile


def session_profile() -> str:
    """The profile a session is built with off Glue: ``current_profile()``, but ``emr`` under ``spark-submit``."""
    profile = current_profile()
    if launched_by_spark_submit() and profile in ("local", "test"):
        profile = "emr"  # spark-submit already chose the master, memory and jars
    return profile


def check_session_environment() -> None:
    """Refuse a mistyped profile, master or driver memory (``UsageError``, exit 2) before anything runs.

    Glue builds its own session, so only the profile's spelling is checked there.
    """
    profile = session_profile()
    if not on_glue():
        session.check_environment(profile)


@contextmanager
def glue_session(app_name: str, glue_args: Dict[str, str]) -> Iterator["SparkSession"]:
    """A session inside AWS Glue: ``GlueContext``, ``Job.init`` before, ``Job.commit`` after."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from pyspark.context import SparkContext

    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    session.apply_runtime_conf(spark)
    session.import_jvm_classes(spark)
    job = Job(glue_context)
    # Keyed as awsglue.utils.getResolvedOptions keys them (argparse's names: job_bookmark_option).
    job_args = {name.lstrip("-").replace("-", "_"): value for name, value in glue_args.items()}
    job.init(job_args.get("JOB_NAME", app_name), job_args)
    yield spark
    job.commit()


@contextmanager
def spark_session(app_name: str) -> Iterator["SparkSession"]:
    """A session off Glue. It is left running: the process ends soon, and tests share it."""
    spark = session_handling_ctrl_c(app_name, session_profile())
    if launched_by_spark_submit() and spark.sparkContext.master.startswith("local"):
        # spark-submit on a laptop: S3 as the local profile reaches it (s3:// mapped to s3a, the
        # AWS SDK's endpoint and region, short retries), not left to EMR's defaults, which hung
        # for minutes against a local S3 server. A cluster's master keeps its own S3 settings.
        session.configure_s3a(spark, keep_given=True)
    yield spark


def session_handling_ctrl_c(app_name: str, profile: str) -> "SparkSession":
    """``session.build_session``, then Ctrl-C handled for the run (``lakejobs.interrupt``).

    A SIGINT ignored before is seen before the session exists: PySpark sets its own handler
    whatever came before.
    """
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    spark = session.build_session(app_name, profile)
    interrupt.install(spark.sparkContext, ignored)
    return spark


def job_session(app_name: str, argv: Sequence[str]):
    """The right session context for this runtime (see the module docstring)."""
    if on_glue():
        _own, glue_args = strip_glue_arguments(argv)
        return glue_session(app_name, glue_args)
    return spark_session(app_name)


class CurrentStderrHandler(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a record is emitted.

    A plain ``StreamHandler`` keeps the stream it was made with; if ``sys.stderr`` is swapped
    later (a test's capture, an embedding tool), it would write to a closed file.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _stderr_handler() -> logging.Handler:
    handler = CurrentStderrHandler()
    handler.addFilter(interrupt.not_py4j_after_ctrl_c)
    return handler


#: The values ``LAKEJOBS_LOG_LEVEL`` takes (any case).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def configure_logging() -> None:
    """Log INFO lines to stderr, keeping stdout for the job's result line.

    Off Glue the root logger is reset (``spark-submit`` may have left a handler writing to
    stdout); Glue's own logging configuration is left alone.
    """
    level = os.environ.get("LAKEJOBS_LOG_LEVEL", "INFO").strip().upper()
    if level not in LOG_LEVELS:
        raise UsageError(f"LAKEJOBS_LOG_LEVEL={level.lower()} is not a log level: use one of {', '.join(LOG_LEVELS)}")
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[_stderr_handler()],
        force=not on_glue(),
    )
    # py4j logs at INFO when the gateway closes, after the result line; under spark-submit
    # Python's stderr is merged into stdout, so that line would become the last one.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    # AWS SDK chatter ("Found endpoint for s3 via ...", one line per client) is not the job's story.
    for name in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


def active_master() -> Optional[str]:
    """``spark.master`` of this process's SparkContext, None when there is none (or PySpark is missing)."""
    context = getattr(sys.modules.get("pyspark"), "SparkContext", None)
    active = getattr(context, "_active_spark_context", None)
    return getattr(active, "master", None)


def refuse_local_paths_on_a_cluster(spark: "SparkSession", args: object) -> None:
    """Raise ``UsageError`` for a local path when the cluster's default filesystem is not local.

    On EMR (``fs.defaultFS`` is ``hdfs://...``) Spark writes a path without a scheme to HDFS,
    while lakejobs' own listing, state and commit read the driver's disk (``fs.is_local``): a
    full run's old files were never deleted, and every rerun doubled the rows. A local folder
    is not shared by a cluster's nodes anyway. The paths are the ``args`` fields named
    ``*_path`` (and ``lake``).
    """
    import dataclasses

    from lakejobs import fs

    default_fs = spark.sparkContext._jsc.hadoopConfiguration().get("fs.defaultFS") or "file:///"
    if default_fs.startswith("file:") or not dataclasses.is_dataclass(args):
        return
    for field in dataclasses.fields(args):
        value = getattr(args, field.name)
        if (field.name.endswith("_path") or field.name == "lake") and isinstance(value, str) and fs.is_local(value):
            option = f"--{field.name}"
            raise UsageError(
                f"{option} {value} is a local path, but this cluster's default filesystem is {default_fs}: "
                f"give an s3:// (or {default_fs.split(':')[0]}://) location the cluster's nodes share"
            )


def run_main(
    job_name: str,
    argv: Optional[Sequence[str]],
    parse: Callable[[Sequence[str]], object],
    run: Callable[["SparkSession", object], JobResult],
    preflight: Optional[Callable[[object], None]] = None,
    shown_as: Optional[str] = None,
) -> int:
    """Run a job the way every entry point does, and return its exit code.

    Parses the arguments (Glue's own are accepted and set aside), checks what can be checked
    before a JVM starts, opens the session for this runtime, runs the job and prints its
    result as the last line of stdout. A ``LakejobsError`` becomes one line on stderr, headed
    ``<shown_as or job_name>: error:``, and its exit code (2 for usage, 1 for a failed run);
    any other error one line and exit 1 (set ``LAKEJOBS_DEBUG=1`` for the traceback).
    """
    label = shown_as or job_name
    argv = list(sys.argv[1:] if argv is None else argv)
    previous_handler = signal.getsignal(signal.SIGINT)
    try:
        configure_logging()
        check_session_environment()  # a mistyped profile or master is a usage error (exit 2), before anything runs
        args = parse(argv)
        if preflight:
            preflight(args)
        with job_session(job_name, argv) as spark:
            refuse_local_paths_on_a_cluster(spark, args)
            result = run(spark, args)
        print(result.to_json(), flush=True)
        return 0
    except LakejobsError as error:
        # The error line first: spark-submit's Python runner merges stderr into stdout, where the
        # result must stay the last line.
        print(f"{label}: error: {joined_lines(error)}", file=sys.stderr, flush=True)
        result = getattr(error, "result", None)
        if result is not None:
            print(result.to_json(), flush=True)
        return error.exit_code
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the session's handler was set
        interrupt.stop_gateway_being_started()
        print(f"{label}: interrupted", file=sys.stderr, flush=True)
        return interrupt.EXIT_CODE
    except Exception as error:  # noqa: BLE001 - the one place that turns any failure into one line
        if debug_enabled():
            LOG.exception("unexpected failure")
        if interrupt.interrupted():  # a cancelled Spark job's error, outside a job's failure path
            print(f"{label}: interrupted (Ctrl-C)", file=sys.stderr, flush=True)
            return interrupt.EXIT_CODE
        print(
            f"{label}: error: {stopped_context_cause(root_cause(error), active_master())}", file=sys.stderr, flush=True
        )
        return 1
    finally:
        interrupt.ended(previous_handler)
