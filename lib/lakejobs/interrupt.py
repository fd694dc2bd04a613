"""Ctrl-C during a run: Spark's jobs are cancelled and the run fails in one line, exit code 130.

PySpark's own SIGINT handler calls ``cancelAllJobs`` through Py4J from inside the signal
handler, on the connection the main thread is waiting on. Py4J then logs about 50 lines of
tracebacks (``reentrant call``), and the run fails with ``Py4JError: An error occurred while
calling o1892.save``. ``install`` replaces that handler:

- The first Ctrl-C marks the run interrupted and cancels Spark's jobs from a thread of its
  own, which has its own Py4J connection. It cancels again every ``CANCEL_EVERY_S`` until the
  run ends (``ended``), so a job started after the first cancel does not run to its end either.
  Each run has its own handling (``install`` .. ``ended``): one run's Ctrl-C is not the next's.
- The job in flight fails; the run's failure path sees ``interrupted()`` and reports the run
  as interrupted (``Interrupted``, exit code 130, the shell's code for SIGINT).
- What is not a Spark job (a file system call, a commit's renames) finishes; a run that ends
  without starting another Spark job succeeds. The handler raises nothing in the main thread:
  a commit moves its staged folders one by one from Python, and an exception between two
  moves would leave it part-way (which the next run repairs, but need not).
- A Ctrl-C while the session starts (before ``install``) raises ``KeyboardInterrupt`` in
  PySpark's wait for its JVM, which it starts ignoring SIGINT: ``stop_gateway_being_started``
  stops that JVM, which otherwise went on and printed a Java stack trace after the run's line.
- A second Ctrl-C raises ``KeyboardInterrupt`` at once, as Python's default handler does.
  Py4J logs the connection it then closes with a traceback; ``not_py4j_after_ctrl_c`` keeps
  such records off the job's log.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Optional

from lakejobs.errors import LakejobsError

#: Seconds between two cancels of Spark's jobs once the run is interrupted.
CANCEL_EVERY_S = 0.5
#: The process's exit code for an interrupted run (128 + SIGINT).
EXIT_CODE = 130

_interrupted = threading.Event()


class Interrupted(LakejobsError):
    """The run was stopped with Ctrl-C; its Spark jobs were cancelled."""

    exit_code = EXIT_CODE


class _Run:
    """One run's Ctrl-C handling: its session, and its cancelling thread once Ctrl-C came."""

    def __init__(self, spark_context: object) -> None:
        self.spark_context = spark_context
        self.ended = threading.Event()
        self.canceller: Optional[threading.Thread] = None


_current: Optional[_Run] = None


def install(spark_context: object, ignored: bool = False) -> None:
    """Handle Ctrl-C for a run in the session of ``spark_context`` (a ``pyspark.SparkContext``).

    ``ignored``: SIGINT was ignored before the session started (a job started with ``&`` by a
    script); it stays ignored (PySpark sets its own handler whatever came before). Signal
    handlers can be set from the main thread only; elsewhere nothing changes (PySpark skips its
    own handler there too).
    """
    global _current
    if threading.current_thread() is not threading.main_thread():
        return
    _interrupted.clear()
    try:
        _restore_task_logger(spark_context)
    except Exception:  # noqa: BLE001 - no log4j 2 here: nothing was switched off
        pass
    run = _current = _Run(spark_context)
    signal.signal(signal.SIGINT, signal.SIG_IGN if ignored else lambda _signum, _frame: _on_ctrl_c(run))


def ended(previous_handler: object) -> None:
    """End the run's Ctrl-C handling: ``previous_handler`` back, its cancels stopped, the flag cleared.

    For a process that runs more than one job (a test session, a notebook, an orchestrator
    calling ``main``): a Ctrl-C of one run does not fail the next ones. The handler comes back
    first (a Ctrl-C from then on is the caller's), then the cancelling thread is stopped and
    waited for, so that no cancel of this run reaches the next one's jobs. Only the main thread,
    which owns the handling, ends it.
    """
    global _current
    if threading.current_thread() is not threading.main_thread():
        return
    if previous_handler is not None:
        signal.signal(signal.SIGINT, previous_handler)
    run, _current = _current, None
    if run is not None:
        run.ended.set()
        if run.canceller is not None:
            run.canceller.join(timeout=10)
    _interrupted.clear()


def interrupted() -> bool:
    """Tell whether Ctrl-C was pressed during this run."""
    return _interrupted.is_set()


def not_py4j_after_ctrl_c(record: logging.LogRecord) -> bool:
    """A logging filter: drop Py4J's records once Ctrl-C was pressed (it cut the connections itself).

    Also before the run's handling is installed: a Ctrl-C while the session starts interrupts
    a Py4J call, which Py4J logs with its traceback (``KeyboardInterrupt while sending command``).
    """
    ctrl_c = record.exc_info is not None and isinstance(record.exc_info[1], KeyboardInterrupt)
    return not ((_interrupted.is_set() or ctrl_c) and f"{os.sep}py4j{os.sep}" in record.pathname)


#: What the command line of the JVM PySpark starts for a session holds (``pyspark.java_gateway``).
GATEWAY_MARK = "pyspark-shell"


def stop_gateway_being_started() -> None:
    """Kill the JVM PySpark was starting for this process's session, when there is no session yet.

    PySpark waits for that JVM to write a connection file into a temporary folder; a Ctrl-C
    ends the wait and the folder is removed, but the JVM (started ignoring SIGINT) ran on and
    printed ``NoSuchFileException: .../connection....info`` and its stack after the run's one
    line. Nothing is done once a session exists: its JVM ends with Python. Found with
    ``pgrep`` (Linux, macOS); where it is missing nothing is done.
    """
    if "pyspark" not in sys.modules:  # a command that starts no session (pipeline start --wait)
        return
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        return
    try:
        found = subprocess.run(
            ["pgrep", "-P", str(os.getpid()), "-f", GATEWAY_MARK], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return
    for pid in found.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):  # already gone
            pass


def _on_ctrl_c(run: _Run) -> None:
    if _interrupted.is_set():
        raise KeyboardInterrupt
    _interrupted.set()
    # os.write, not print: the main thread may be inside a write to sys.stderr, which a signal
    # handler must not enter again.
    os.write(2, b"interrupted: cancelling Spark's jobs (Ctrl-C again stops at once)\n")
    run.canceller = threading.Thread(target=_keep_cancelling, args=(run,), name="lakejobs-cancel", daemon=True)
    run.canceller.start()


def _keep_cancelling(run: _Run) -> None:
    quieted = False
    while not run.ended.is_set():
        try:
            run.spark_context.cancelAllJobs()
        except Exception:  # noqa: BLE001 - the session or its JVM is gone: no job runs any more
            return
        if not quieted:  # after the first cancel, which must not wait for it
            quieted = True
            try:
                _quiet_killed_tasks(run.spark_context)
            except Exception:  # noqa: BLE001 - no log4j 2 here, or the JVM is gone: the cancels tell
                pass
        run.ended.wait(CANCEL_EVERY_S)


#: The logger a killed task's end is logged by, and its level before a Ctrl-C switched it off.
TASK_LOGGER = "org.apache.spark.TaskContextImpl"
_task_logger_level: Optional[str] = None


def _quiet_killed_tasks(spark_context: object) -> None:
    """Keep the cancelled tasks' end off the log: the run's one line says what happened.

    A cancelled job fails at once, but its tasks stop later (a Python worker only after
    ``spark.python.task.killTimeout``). When the process exits first, Spark stops under them
    and each logs ``ERROR TaskContextImpl: Error in TaskCompletionListener (... Block
    broadcast_0 does not exist)`` after the run's line. The logger stays off until the next run
    of the process starts (``install``): those tasks may outlive the run, and the process exit
    is what makes them fail.
    """
    global _task_logger_level
    log4j = spark_context._jvm.org.apache.logging.log4j
    if _task_logger_level is None:
        _task_logger_level = str(log4j.LogManager.getLogger(TASK_LOGGER).getLevel().name())
    log4j.core.config.Configurator.setLevel(TASK_LOGGER, log4j.Level.OFF)


def _restore_task_logger(spark_context: object) -> None:
    """Put back the level ``_quiet_killed_tasks`` switched off, if it did (a new run starts)."""
    global _task_logger_level
    if _task_logger_level is None:
        return
    log4j = spark_context._jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel(TASK_LOGGER, log4j.Level.toLevel(_task_logger_level))
    _task_logger_level = None
