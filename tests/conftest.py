"""Shared fixtures: one Spark session for the whole suite, sample data paths, raw-file readers."""

import csv
import datetime as dt
import importlib
import logging
import os
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import types as T

from lakejobs.pipeline import run_pipeline
from lakejobs.runtime import CurrentStderrHandler
from lakejobs.schemas import ORDERS
from lakejobs.session import build_session

# Jobs run in-process by the tests join the suite's session with the test profile's settings.
os.environ["LAKEJOBS_PROFILE"] = "test"

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RAW = ROOT / "data" / "sample" / "rawData"
VENV_BIN = Path(sys.executable).parent


#: True in pytest-xdist's controller, the process that starts the workers (``pytest_configure``).
_starts_workers = False


def _interrupt(signum, _frame):
    # pytest-xdist tears a worker down by interrupting it (SIGINT) 5 s after asking it to stop,
    # then kills it 5 s later: a second interrupt would cut its fixtures' teardown short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _starts_workers:
        _pass_on_to_workers(signum)
    raise KeyboardInterrupt(f"signal {signum}")


def _pass_on_to_workers(signum):
    """Send ``signum`` to this process's children: pytest-xdist's workers, under ``make test``."""
    try:
        children = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return
    for pid in children.stdout.split():
        try:
            os.kill(int(pid), signum)
        except ProcessLookupError:
            pass


def pytest_configure(config):
    """Turn SIGTERM and SIGHUP (a CI timeout, a cancelled job) into an interrupt.

    Python's default for them ends the process without running ``finally`` blocks, so the
    fixtures' servers (PostgreSQL, whose postmaster is in a session of its own, the Spark
    master and worker) were left running; an interrupt unwinds the fixtures, which stop them.
    pytest-xdist's controller passes the signal on to its workers at once: otherwise a signal
    to the controller alone reached a worker as xdist's own interrupt 5 s later, and a worker
    not done unwinding 5 s after that was killed, its PostgreSQL server left running.
    """
    global _starts_workers
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    _starts_workers = bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


#: What Spark leaves in its working directory when a plan reaches its catalog; the tests run jobs
#: from the checkout, so a test session that makes one fails (``pytest_sessionfinish``).
CHECKOUT_LITTER = ("spark-warehouse", "metastore_db", "derby.log")
_litter_before = pytest.StashKey[set]()


def pytest_sessionstart(session):
    """Note the litter the checkout already holds (a developer's own runs)."""
    session.config.stash[_litter_before] = {name for name in CHECKOUT_LITTER if (ROOT / name).exists()}


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if a test left Spark's catalog folders in the checkout (not in xdist's workers)."""
    if hasattr(session.config, "workerinput"):
        return
    before = session.config.stash.get(_litter_before, set())
    left = [name for name in CHECKOUT_LITTER if (ROOT / name).exists() and name not in before]
    if left:
        print(f"\nerror: a test left {', '.join(left)} in the checkout {ROOT}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup``: tests that start servers or JVMs on one worker, the rest on the other.

    ``make test`` runs two pytest-xdist workers. The tests under ``tests/integration`` (S3,
    PostgreSQL, a Spark cluster) and those marked ``subprocess`` (spark-submit, a killed job)
    spend much of their time starting processes, leaving a core idle; the others run in their
    worker's SparkSession, whose JIT warm-up a second worker running them would pay again.
    So each group is one work unit, and each worker gets one; a few in-process files that
    share nothing with the others join the first group to even the two out (``BALANCING_FILES``).

    (pytest-xdist's own ``loadgroup`` reads ``xdist_group`` marks through node ids that
    pytest 9.2 no longer lets it change: pytest-xdist issue 1386.)
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class TwoWorkers(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return work_unit(nodeid)

    return TwoWorkers(config, log)


# In-process test files that make no use of the shared sample lakes, run beside the servers'
# tests so that the two units take about as long (``--durations=0`` of a clean-clone run:
# 1,337 s against 860 s of summed test time before these moved).
BALANCING_FILES = ("tests/jobs/test_field_reloads.py", "tests/jobs/test_user_mistakes.py")


def work_unit(nodeid: str) -> str:
    """The work unit of a test under ``make test``'s two workers (``pytest_xdist_make_scheduler``)."""
    path = nodeid.split("::", 1)[0]
    apart = path.startswith("tests/integration/") or path in BALANCING_FILES or marked_subprocess(nodeid)
    return "servers_and_own_jvms" if apart else "in_process"


def marked_subprocess(nodeid: str) -> bool:
    """Whether the test of this node id (``path::[Class::]name[params]``) is marked ``subprocess``.

    Read from the test module's own marks (module ``pytestmark``, class and function
    decorators): the controller of pytest-xdist collects no items to ask.
    """
    path, *names = nodeid.split("[", 1)[0].split("::")
    node = importlib.import_module(path[: -len(".py")].replace("/", "."))
    marks = list(_marks_of(node))
    for name in names:
        node = getattr(node, name)
        marks.extend(_marks_of(node))
    return any(mark.name == "subprocess" for mark in marks)


def _marks_of(node):
    marks = getattr(node, "pytestmark", [])
    return [getattr(mark, "mark", mark) for mark in (marks if isinstance(marks, list) else [marks])]


@pytest.fixture(autouse=True)
def job_logging_reset():
    """Undo a job's ``main()`` logging setup after each test, so no test sees another's log lines.

    ``runtime.configure_logging`` puts an INFO handler on stderr, which ``capsys`` would then
    show to every later test that asserts stderr exactly.
    """
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if isinstance(h, CurrentStderrHandler)]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def spark():
    """The suite's only SparkSession: local[2], 4 shuffle partitions, no UI."""
    session = build_session("lakejobs-tests", profile="test")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sample_lake(spark, tmp_path_factory):
    """The sample pipeline's Parquet lake, built once for the suite: tests only read it."""
    lake = tmp_path_factory.mktemp("sample_lake")
    run_pipeline(spark, str(SAMPLE_RAW), str(lake), "parquet")
    return lake


@pytest.fixture(scope="session")
def sample_delta_lake(spark, tmp_path_factory):
    """The sample pipeline's Delta lake and the first run's results, built once for the suite.

    Tests may run the pipeline into it again (its data stays the same) but change nothing else.
    """
    lake = tmp_path_factory.mktemp("sample_delta_lake")
    return lake, run_pipeline(spark, str(SAMPLE_RAW), str(lake), "delta")


def read_raw_rows(folder: Path):
    """Every row of every CSV file below ``folder``, with Python's csv module."""
    rows = []
    for path in sorted(folder.rglob("*.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            rows.extend(csv.reader(handle))
    return rows


def money(text: str):
    """A raw money string as the Decimal Spark's decimal(17,4) holds."""
    return Decimal(text).quantize(Decimal("0.0001")) if text else None


def us_date(text: str):
    """A raw M/d/yyyy string as a date."""
    return dt.datetime.strptime(text, "%m/%d/%Y").date() if text else None


def typed_order(row):
    """One raw order line typed independently of the project's code (orders schema order)."""
    ints = {0, 1, 5, 6, 11, 12}
    dates = {2, 3, 4}
    out = []
    for index, value in enumerate(row):
        if index in ints:
            out.append(int(value) if value else None)
        elif index in dates:
            out.append(us_date(value))
        else:
            out.append(money(value))
    return tuple(out)


def expected_orders(spark, lines):
    """The orders table a conversion of these raw lines publishes (with ``order_year``), typed independently.

    ``lines`` are raw CSV lines, as bytes or text, in any order.
    """
    texts = [line.decode("utf-8") if isinstance(line, bytes) else line for line in lines]
    return expected_orders_of_rows(spark, csv.reader(texts))


def expected_orders_of_rows(spark, rows):
    """``expected_orders`` of raw rows already split into fields (``read_raw_rows``)."""
    typed_rows = [typed + (typed[2].year,) for typed in map(typed_order, rows)]
    schema = T.StructType(ORDERS.fields + [T.StructField("order_year", T.IntegerType())])
    return spark.createDataFrame(typed_rows, schema)


def job_env():
    """Environment for a job run in a subprocess of this venv."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYSPARK_PYTHON"] = sys.executable
    env["LAKEJOBS_PROFILE"] = "test"
    return env


LOG_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def stderr_lines(err: str):
    """Every line a job wrote to stderr, a log line without its timestamp (``INFO name: message``)."""
    return [LOG_TIME.sub("", line) for line in err.splitlines()]
