"""Ctrl-C during a run: Spark's jobs are cancelled and the run fails in one line, exit code 130.

PySpark's own SIGINT handler calls ``cancelAllJobs`` through Py4J from inside the signal
handler, on the connection the main thread is waiting on. Py4J then logs about 50 lines of
tracebacks (``reentrant call``), and the run fails with ``Py4JError: An error occurred while
calling o1892.save``. ``install`` replaces that handler:

- The first Ctrl-C marks the process interrupted and cancels Spark's jobs from a thread of its
  own, which has its own Py4J connection. It cancels again every ``CANCEL_EVERY_S`` while the
  process lives, so a job started after the first cancel does not run to its end either.
- The job in flight fails; the run's failure path sees ``interrupted()`` and reports the run
  as interrupted (``Interrupted``, exit code 130, the shell's code for SIGINT).
- What is not a Spark job (a file system call, a commit's renames) finishes; a run that ends
  without starting another Spark job succeeds. The handler raises nothing in the main thread:
  a commit moves its staged folders one by one from Python, and an exception between two
  moves would leave it part-way (which the next run repairs, but need not).
- A second Ctrl-C raises ``KeyboardInterrupt`` at once, as Python's default handler does.
  Py4J logs the connection it then closes with a traceback; ``not_py4j_after_ctrl_c`` keeps
  such records off the job's log.
"""

import logging
import os
import signal
import threading
import time

from lakejobs.errors import LakejobsError

#: Seconds between two cancels of Spark's jobs once the run is interrupted.
CANCEL_EVERY_S = 0.5
#: The process's exit code for an interrupted run (128 + SIGINT).
EXIT_CODE = 130

_interrupted = threading.Event()


class Interrupted(LakejobsError):
    """The run was stopped with Ctrl-C; its Spark jobs were cancelled."""

    exit_code = EXIT_CODE


def install(spark_context: object) -> None:
    """Handle Ctrl-C for the session of ``spark_context`` (a ``pyspark.SparkContext``).

    Signal handlers can be set from the main thread only; elsewhere nothing changes (PySpark
    skips its own handler there too).
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, lambda _signum, _frame: _on_ctrl_c(spark_context))


def interrupted() -> bool:
    """Tell whether Ctrl-C was pressed during this process's run."""
    return _interrupted.is_set()


def not_py4j_after_ctrl_c(record: logging.LogRecord) -> bool:
    """A logging filter: drop Py4J's records once Ctrl-C was pressed (it cut the connections itself)."""
    return not (_interrupted.is_set() and f"{os.sep}py4j{os.sep}" in record.pathname)


def _on_ctrl_c(spark_context: object) -> None:
    if _interrupted.is_set():
        raise KeyboardInterrupt
    _interrupted.set()
    # os.write, not print: the main thread may be inside a write to sys.stderr, which a signal
    # handler must not enter again.
    os.write(2, b"interrupted: cancelling Spark's jobs (Ctrl-C again stops at once)\n")
    threading.Thread(target=_keep_cancelling, args=(spark_context,), name="lakejobs-cancel", daemon=True).start()


def _keep_cancelling(spark_context: object) -> None:
    while True:
        try:
            spark_context.cancelAllJobs()
        except Exception:  # noqa: BLE001 - the session or its JVM is gone: no job runs any more
            return
        time.sleep(CANCEL_EVERY_S)
