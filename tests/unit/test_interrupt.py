"""Ctrl-C's handling ends with its run: the next run in the same process is not interrupted."""

import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from lakejobs import interrupt
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.io.reports import raise_failed_run
from lakejobs.result import JobResult


class Context:
    """What the handler calls of a SparkContext: it counts the cancels."""

    def __init__(self):
        self.cancels = 0

    def cancelAllJobs(self):  # noqa: N802 - SparkContext's name
        self.cancels += 1


def wait_until(condition, limit_s=10):
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_ctrl_c_cancels_until_its_run_ends_then_the_handler_before_it_is_back():
    previous, context = signal.getsignal(signal.SIGINT), Context()
    interrupt.install(context)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        wait_until(lambda: context.cancels >= 2)  # again every CANCEL_EVERY_S
        assert interrupt.interrupted()
    finally:
        interrupt.ended(previous)
    assert (interrupt.interrupted(), signal.getsignal(signal.SIGINT)) == (False, previous)
    time.sleep(2 * interrupt.CANCEL_EVERY_S)
    cancels = context.cancels
    time.sleep(3 * interrupt.CANCEL_EVERY_S)
    assert context.cancels == cancels


def test_a_sigint_ignored_before_the_session_stays_ignored():
    previous = signal.getsignal(signal.SIGINT)
    interrupt.install(Context(), ignored=True)
    try:
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        interrupt.ended(previous)


def test_after_ctrl_c_a_spark_error_is_the_interruption_and_a_lakejobs_error_keeps_its_line():
    interrupt._interrupted.set()  # noqa: SLF001 - as the handler leaves it
    try:
        with pytest.raises(interrupt.Interrupted) as stopped:
            raise_failed_run(None, None, JobResult(job="j", run_id="r"), "orders", RuntimeError("Job 3 cancelled"))
        assert (str(stopped.value), stopped.value.exit_code) == (
            "orders: the run was interrupted (Ctrl-C) in stage start",
            130,
        )
        wrapped = LakejobsError(
            "cannot write to staging: SparkException: Job 7 cancelled as part of cancellation of all jobs"
        )
        with pytest.raises(interrupt.Interrupted):  # a database write's error wraps the cancelled job
            raise_failed_run(None, None, JobResult(job="j", run_id="r"), "sales", wrapped)
        with pytest.raises(UsageError, match="^moving the staged rows stopped part-way$"):
            raise_failed_run(
                None, None, JobResult(job="j", run_id="r"), "", UsageError("moving the staged rows stopped part-way")
            )
    finally:
        interrupt.ended(None)


def test_a_ctrl_c_switches_off_the_killed_tasks_logger_until_the_next_run_starts(spark):
    """Switched off for the rest of the process, it hid a later run's genuine task errors."""
    log4j = spark.sparkContext._jvm.org.apache.logging.log4j

    def level():
        return str(log4j.LogManager.getLogger(interrupt.TASK_LOGGER).getLevel().name())

    before, previous = level(), signal.getsignal(signal.SIGINT)
    assert before != "OFF"
    interrupt.install(spark.sparkContext)
    try:
        os.kill(os.getpid(), signal.SIGINT)  # the cancelling thread switches the logger off
        wait_until(lambda: level() == "OFF")
    finally:
        interrupt.ended(previous)
    assert level() == "OFF"  # the cancelled tasks may outlive their run
    interrupt.install(spark.sparkContext)  # the next run
    interrupt.ended(previous)
    assert level() == before


def test_a_ctrl_c_while_the_session_starts_kills_the_jvm_being_started_and_nothing_else():
    """Left running, that JVM printed a Java stack trace after the run's line (until session 46).

    In a process of its own: this test process's session has a JVM of its own.
    """
    script = (
        "import subprocess, sys\n"
        "import pyspark  # a session was starting\n"
        "from lakejobs import interrupt\n"
        "sleep = [sys.executable, '-c', 'import time; time.sleep(60)']\n"
        "gateway, other = subprocess.Popen(sleep + ['pyspark-shell']), subprocess.Popen(sleep + ['other'])\n"
        "interrupt.stop_gateway_being_started()\n"
        "print(gateway.wait(timeout=10), other.poll())\n"
        "other.kill()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert completed.stdout.split() == [str(-signal.SIGKILL), "None"], completed.stderr


def test_py4js_traceback_of_a_ctrl_c_is_dropped_also_before_the_runs_handling_starts():
    def record(path, error):
        exc_info = (type(error), error, None) if error else None
        return logging.LogRecord(
            "root", logging.ERROR, path, 1, "KeyboardInterrupt while sending command.", (), exc_info
        )

    py4j = os.path.join("", "site-packages", "py4j", "java_gateway.py")
    assert not interrupt.not_py4j_after_ctrl_c(record(py4j, KeyboardInterrupt()))
    assert interrupt.not_py4j_after_ctrl_c(record(py4j, None))
    assert interrupt.not_py4j_after_ctrl_c(record(os.path.join("", "lakejobs", "x.py"), KeyboardInterrupt()))
