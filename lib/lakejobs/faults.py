"""Fault injection for fault-tolerance tests; every hook is off unless its variable is set.

``LAKEJOBS_KILL_AT=<point>`` kills the job there. Points: ``before_write`` (input validated,
nothing written), ``during_write`` (the first output file has appeared, the commit has not
happened), ``before_state`` (output committed, state not yet updated). The process dies with
SIGKILL, as an out-of-memory kill or a lost node would.

``LAKEJOBS_PAUSE_AT=<point>`` with ``LAKEJOBS_PAUSE_FILE=<path>``: at the point the job creates
that file and waits until it is deleted (a test does something meanwhile, e.g. stops S3).

``LAKEJOBS_PAUSE_TASK=<path>``: partition 0 of the read creates that file and waits until it
is deleted, inside a Spark task (a test presses Ctrl-C while a Spark job runs).

``LAKEJOBS_FAIL_TASK=first_attempt``: the first attempt of partition 0 of the read fails
inside a Python worker, as a lost executor or a flaky node would make it; Spark's retry
(``spark.task.maxFailures``, ``local[N,F]``) must then give the same output.
"""

import logging
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator, Set

from lakejobs import fs

LOG = logging.getLogger(__name__)
ENV = "LAKEJOBS_KILL_AT"
PAUSE_ENV, PAUSE_FILE_ENV = "LAKEJOBS_PAUSE_AT", "LAKEJOBS_PAUSE_FILE"
FAIL_TASK_ENV = "LAKEJOBS_FAIL_TASK"
PAUSE_TASK_ENV = "LAKEJOBS_PAUSE_TASK"
PAUSE_LIMIT_S = 300


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def point(name: str) -> None:
    """Kill the process (``LAKEJOBS_KILL_AT``) or pause it (``LAKEJOBS_PAUSE_AT``) at this point."""
    if os.environ.get(ENV) == name:
        LOG.warning("fault injection: killing the job at %s", name)
        _kill()
    if os.environ.get(PAUSE_ENV) == name and os.environ.get(PAUSE_FILE_ENV):
        marker = os.environ[PAUSE_FILE_ENV]
        LOG.warning("fault injection: pausing at %s until %s is deleted", name, marker)
        with open(marker, "w", encoding="utf-8") as handle:
            handle.write(name)
        deadline = time.time() + PAUSE_LIMIT_S
        while os.path.exists(marker) and time.time() < deadline:
            time.sleep(0.05)


def _fail_first_attempt(value):
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is not None and context.partitionId() == 0 and context.attemptNumber() == 0:
        # Said on the worker's stderr too: local runs keep Spark's "Lost task" warnings quiet.
        print("fault injection: the first attempt of partition 0 fails", file=sys.stderr, flush=True)
        raise RuntimeError("fault injection: the first attempt of partition 0 fails")
    return value


def with_failing_first_attempt():
    """A transform that makes the first attempt of partition 0 fail (``LAKEJOBS_FAIL_TASK``).

    Identity unless ``LAKEJOBS_FAIL_TASK=first_attempt``; then a Python UDF checks Spark's
    ``TaskContext`` on every row (so it is for tests only).
    """
    if os.environ.get(FAIL_TASK_ENV) != "first_attempt":
        return lambda df: df
    return _through_each_row(_fail_first_attempt)


def _through_each_row(hook):
    """A transform passing every row through ``hook`` (a Python UDF, called once per row)."""

    def _(df):
        from pyspark.sql import functions as F

        check = F.udf(hook, "boolean").asNondeterministic()
        return df.filter(check(F.lit(True)))

    return _


def _pause_first_partition(marker: str):
    def pause(value):
        from pyspark import TaskContext

        context = TaskContext.get()
        if context is not None and context.partitionId() == 0 and not os.path.exists(marker + ".done"):
            with open(marker, "w", encoding="utf-8") as handle:
                handle.write("paused")
            deadline = time.time() + PAUSE_LIMIT_S
            while os.path.exists(marker) and time.time() < deadline:
                time.sleep(0.05)
            open(marker + ".done", "w", encoding="utf-8").close()  # pause once, not on every row
        return value

    return pause


def with_paused_task():
    """A transform that pauses partition 0's task once (``LAKEJOBS_PAUSE_TASK=<path>``).

    Identity unless the variable is set; then a Python UDF on every row (for tests only).
    """
    marker = os.environ.get(PAUSE_TASK_ENV)
    if not marker:
        return lambda df: df
    return _through_each_row(_pause_first_partition(marker))


def _data_files(folder: str) -> Set[str]:
    """The Parquet files below ``folder`` (a table's, its staging's), by path."""
    found = set()
    for root, _dirs, files in os.walk(folder):
        found.update(os.path.join(root, name) for name in files if name.endswith(".parquet"))
    return found


@contextmanager
def killed_during_write(output_path: str) -> Iterator[None]:
    """Kill the process as soon as a data file appears below a local ``output_path`` at a new path.

    By path, not by time: a commit moves staged files in, which keeps their times (until
    session 46 a Parquet run, which stages first, was never killed). The files already there
    when the write starts, staged ones included, do not count. ``staging.commit_parquet`` also
    kills at ``during_write`` after its first move, so a Parquet commit dies part-way however
    fast it moves; the watch stops when the write ends.
    """
    if os.environ.get(ENV) != "during_write" or not fs.is_local(output_path):
        yield
        return
    folder = fs.local_path(output_path)
    before, done = _data_files(folder), threading.Event()

    def watch() -> None:
        while not done.is_set():
            if _data_files(folder) - before:
                _kill()
            time.sleep(0.005)

    threading.Thread(target=watch, daemon=True).start()
    try:
        yield
    finally:
        done.set()  # a kill after the write would be another point (before_state)
