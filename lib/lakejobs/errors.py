"""Errors a job reports to its caller as one clear line.

Exit codes follow the usual shell convention: 2 for a usage error (bad arguments, a missing
path, an unknown dataset, a bad schema), 1 for a run that failed (a quality gate, an
unexpected error).
"""

import itertools
import os
import re
from typing import Optional
from urllib.parse import unquote

#: Spark wraps a failure to read an input file in an error naming the file, URL-encoded (3.5's
#: ``cannotReadFilesError``: ``... reading file <path>. Details:``; 4.0 ends at the period).
_FILE_READ = re.compile(r"error while reading file (.+?)\.(?:\s|$)")
#: The line of a Python traceback that names its exception (``ValueError: bad``).
_EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b.*")


class LakejobsError(Exception):
    """Base class for errors that carry their own exit code and a one-line message."""

    exit_code = 1

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        #: The partial ``JobResult`` of the run that failed, when there is one.
        self.result = result

    def leaves_report_at(self, report_root: Optional[str]) -> bool:
        """Tell whether the failed run's report may be written below ``report_root`` (not where it does harm)."""
        return True


class UsageError(LakejobsError):
    """The caller asked for something that cannot be done: fix the arguments and rerun."""

    exit_code = 2


class QualityGateError(LakejobsError):
    """The input broke a declared rule, so nothing was published."""

    exit_code = 1


def debug_enabled() -> bool:
    """Tell whether ``LAKEJOBS_DEBUG`` asks for tracebacks (``1``, ``true``; not ``0``, ``false``, unset)."""
    return os.environ.get("LAKEJOBS_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off")


def root_cause(error: BaseException) -> str:
    """The innermost cause of an error as ``Type: first line of its message``.

    For errors raised by the JVM (py4j's ``Py4JJavaError``) the Java cause chain is followed,
    so ``An error occurred while calling o87.save`` becomes, e.g.,
    ``ConnectException: Connection refused``. When Spark failed to read an input file, the file
    is named: ``IOException: not a gzip file (reading file:/raw/orders/bad.csv.gz)``.
    """
    java = getattr(error, "java_exception", None)
    if java is not None:
        try:
            return _java_root_cause(java)
        except Exception:  # noqa: BLE001 - the JVM may be gone; fall back to Python's view
            pass
    while error.__cause__ is not None:
        error = error.__cause__
    return _one_line(type(error).__name__, str(error))


#: What Spark says of work asked of a SparkContext that has stopped (the JVM stopped it: a cluster
#: manager that gave up on the application, the driver's own failure).
STOPPED_CONTEXT = ("LiveListenerBus is stopped", "Cannot call methods on a stopped SparkContext")


def stopped_context_cause(cause: str, master: Optional[str]) -> str:
    """``cause`` (a ``root_cause`` line), said as the Spark context having stopped when it is that.

    Spark stops the context when a standalone master cannot be reached ("All masters are
    unresponsive! Giving up.", about 70 s in); until session 47 the run's line was then only
    ``IllegalStateException: LiveListenerBus is stopped.``. The line names ``spark.master``
    (``master``) and, for a ``spark://`` master, that it may be unreachable. Any other cause is
    returned as it is.
    """
    if not any(words in cause for words in STOPPED_CONTEXT):
        return cause
    line = f"the Spark context stopped ({cause}); spark.master is {master or 'unknown'}"
    if master and master.startswith("spark://"):
        line += ": the master may be unreachable (Spark gives up when all masters are unresponsive)"
    return line


def _java_root_cause(java: object) -> str:
    cause, file_read = java, None
    while True:
        file_read = file_read or _file_read(cause.getMessage())
        deeper = cause.getCause()
        if deeper is None or deeper is cause:
            break
        cause = deeper
    line = _one_line(cause.getClass().getSimpleName(), cause.getMessage())
    line = f"{line} (reading {file_read})" if file_read else line
    return line + _missing_jar_hint(line)


#: Classes Hadoop loads by name, with the jar that holds them: their absence is a missing jar,
#: not a fault of the run (``spark-submit`` takes jars only from its own options).
_JARS_OF_CLASSES = {
    "org.apache.hadoop.fs.s3a.S3AFileSystem": (
        "the s3a connector is not on Spark's classpath: start Spark with hadoop-aws 3.3.4 and the AWS SDK "
        "bundle ('make setup' fetches them into .jars/), e.g. "
        'spark-submit --jars "$(ls .jars/hadoop-aws-*.jar .jars/aws-java-sdk-bundle-*.jar | paste -sd,)"'
    ),
}


def _missing_jar_hint(line: str) -> str:
    """``; <what to do>`` for a ``ClassNotFoundException`` of a class a known jar holds, else ``""``."""
    if not line.startswith("ClassNotFoundException:"):
        return ""
    hints = [hint for name, hint in _JARS_OF_CLASSES.items() if re.search(rf"\b{re.escape(name)}\b", line)]
    return f"; {hints[0]}" if hints else ""


def _file_read(message: Optional[str]) -> Optional[str]:
    """The file of Spark's ``Encountered error while reading file <path>. Details:``, if any."""
    match = _FILE_READ.search(message or "")
    return unquote(match.group(1)) if match else None


def joined_lines(message: object) -> str:
    """``message`` on one line: its non-blank lines joined by a space (botocore's validation errors span several)."""
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


def listed(items, limit: int = 3) -> str:
    """The first ``limit`` of ``items``, comma-separated, then ``and N more`` when there are more."""
    items = list(items)
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _one_line(kind: str, message: object) -> str:
    """``kind: first line``; for a Python traceback (a Python worker's error), its exception's line."""
    lines = [line for line in str(message or "").strip().splitlines() if line.strip()]
    if not lines:
        return kind
    line = _CONTROL.sub("", lines[0]).strip()
    if line.startswith("Traceback (most recent call last)"):
        named = [text for text in lines[1:] if _EXCEPTION_LINE.fullmatch(text)]
        line = _CONTROL.sub("", named[-1] if named else lines[-1])
    elif line.endswith(":"):  # a list follows, one indented item a line (Spark's "Suspicious paths:")
        items = [_CONTROL.sub("", text).strip() for text in itertools.takewhile(_indented, lines[1:])]
        shown = listed(items, _LISTED)
        line = f"{line} {shown}" if items else line
    return f"{kind}: {line.strip()}"


#: Control characters but the tab (Spark's "Suspicious paths:" ends with a backspace, ``\b``).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: Items of a listed error shown on its one line.
_LISTED = 3


def _indented(text: str) -> bool:
    return text[:1] in ("\t", " ")
