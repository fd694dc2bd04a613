"""Incremental runs, crash safety (SIGKILL at three points) and concurrent runs."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from chispa import assert_df_equality

from lakejobs import cli, faults, fs
from lakejobs.datasets import builtin_dataset
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.jobs import csv_to_parquet
from lakejobs.state import ConcurrentRunError, reset_state
from tests.conftest import ROOT, SAMPLE_RAW, expected_orders, job_env

LINES = (SAMPLE_RAW / "orders" / "orders-00000.csv").read_text().splitlines()


def argv(tmp_path, fmt):
    return [
        "--dataset",
        "orders",
        "--format",
        fmt,
        "--incremental",
        "true",
        "--input_path",
        str(tmp_path / "raw"),
        "--output_path",
        str(tmp_path / "orders"),
        "--state_path",
        str(tmp_path / "state" / "orders.json"),
    ]


def read(spark, tmp_path, fmt):
    path = str(tmp_path / "orders")
    return spark.read.format("delta").load(path) if fmt == "delta" else spark.read.parquet(path)


def assert_same_orders(spark, table, lines):
    expected = expected_orders(spark, lines)
    assert_df_equality(table.select(*expected.columns), expected, ignore_row_order=True, ignore_nullable=True)


def land(tmp_path, name, lines):
    (tmp_path / "raw").mkdir(exist_ok=True)
    (tmp_path / "raw" / name).write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_incremental_runs_read_only_new_files(spark, tmp_path, fmt):
    land(tmp_path, "a.csv", LINES[:100])
    first = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, fmt)))
    land(tmp_path, "b.csv", LINES[100:250])
    second = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, fmt)))
    third = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, fmt)))
    assert [(r.details["batch_files"], r.rows_read) for r in (first, second, third)] == [(1, 100), (1, 150), (0, 0)]
    rules = csv_to_parquet.parse_args(argv(tmp_path, fmt)).rules
    assert len(rules) > 0 and [(rule["rule"], rule["outcome"], rule["note"]) for rule in third.details["rules"]] == [
        (rule.text, "skipped", "no new input files: nothing to check") for rule in rules
    ]  # until session 42 no rule was reported: a RowCount > 0 looked met
    assert_same_orders(spark, read(spark, tmp_path, fmt), LINES[:250])
    state = json.loads((tmp_path / "state" / "orders.json").read_text())
    assert (len(state["processed"]), len(state["batches"]), state["pending"]) == (2, 2, None)


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_an_output_without_state_is_refused_and_a_reset_state_replaces_it(spark, tmp_path, fmt):
    """The first incremental batch was appended: after a full run every row went in twice.

    Without a state next to an output holding data the run is refused (appending would repeat
    rows, replacing could drop rows of archived files); after ``state reset`` the first batch
    replaces the output. Delta's orders have a key (MERGE replaces rows), so the Delta case runs
    keyless, where the batch was appended.
    """
    land(tmp_path, "a.csv", LINES[:100])
    options = argv(tmp_path, fmt)
    if fmt == "delta":
        fields = builtin_dataset("orders").schema.fields
        schema = ", ".join(f"{field.name} {field.dataType.simpleString()}" for field in fields)
        options = [*options[2:], "--schema", schema, "--date_format", "M/d/yyyy"]
    full = [option for option in options if option not in ("--incremental", "true")]
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(full))
    state_path = str(tmp_path / "state" / "orders.json")
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(options))
    assert str(refused.value) == (
        f"{tmp_path / 'orders'} already holds data but {state_path} has no incremental state: appending every "
        "input file would publish their rows twice. To replace the output with a conversion of every input file, "
        f"run lakejobs state reset csv_to_parquet --state_path {state_path} (or pass the output's own --state_path)"
    )
    assert read(spark, tmp_path, fmt).count() == 100
    reset_state(spark, state_path, "csv_to_parquet")
    land(tmp_path, "b.csv", LINES[100:150])
    first = csv_to_parquet.run(spark, csv_to_parquet.parse_args(options))
    assert (first.details["batch_files"], first.details["first_batch"], first.rows_read) == (2, True, 150)
    assert_same_lines(spark, read(spark, tmp_path, fmt), LINES[:150])
    land(tmp_path, "c.csv", LINES[150:160])
    last = csv_to_parquet.run(spark, csv_to_parquet.parse_args(options))
    assert ("first_batch" in last.details, last.rows_read) == (False, 10)
    assert_same_lines(spark, read(spark, tmp_path, fmt), LINES[:160])
    assert json.loads((tmp_path / "state" / "orders.json").read_text())["reset"] is False


@pytest.mark.parametrize("killed_before_state", [False, True])
def test_a_full_run_between_incremental_runs_replaces_their_state(spark, tmp_path, monkeypatch, killed_before_state):
    """The state was kept: the next incremental run appended again every file the full run had converted.

    A full run killed after publishing, before its state is saved, leaves a reset state: the
    next incremental run converts every file and replaces the output.
    """
    options = argv(tmp_path, "parquet")
    full = [option for option in options if option not in ("--incremental", "true")]
    land(tmp_path, "a.csv", LINES[:100])
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(options))
    land(tmp_path, "b.csv", LINES[100:150])
    if killed_before_state:
        monkeypatch.setattr(faults, "_kill", _raise_killed)
        monkeypatch.setenv(faults.ENV, "before_state")
        with pytest.raises(Killed):
            csv_to_parquet.run(spark, csv_to_parquet.parse_args(full))
        monkeypatch.delenv(faults.ENV)
    else:
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(full))
    land(tmp_path, "c.csv", LINES[150:160])
    last = csv_to_parquet.run(spark, csv_to_parquet.parse_args(options))
    assert (last.details["batch_files"], last.rows_read) == ((3, 160) if killed_before_state else (1, 10))
    assert_same_orders(spark, read(spark, tmp_path, "parquet"), LINES[:160])
    state = json.loads((tmp_path / "state" / "orders.json").read_text())
    assert (sorted(os.path.basename(path) for path in state["processed"]), state["pending"], state["reset"]) == (
        ["a.csv", "b.csv", "c.csv"],
        None,
        False,
    )


def _raise_killed():
    raise Killed()


def assert_same_lines(spark, table, lines):
    """``assert_same_orders`` over the columns ``table`` has (a table of a user schema has no order_year)."""
    expected = expected_orders(spark, lines)
    columns = [column for column in expected.columns if column in table.columns]
    assert_df_equality(table.select(*columns), expected.select(*columns), ignore_row_order=True, ignore_nullable=True)


def test_file_names_with_glob_characters_are_read_as_named(spark, tmp_path):
    """Spark reads a path as a glob: ``a[1].csv`` would match ``a1.csv``, ``b{eu}.csv`` nothing."""
    land(tmp_path, "a1.csv", LINES[:100])
    first = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    land(tmp_path, "a[1].csv", LINES[100:150])
    land(tmp_path, "b{eu}*?.csv", LINES[150:160])
    second = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    assert [(r.details["batch_files"], r.rows_read) for r in (first, second)] == [(1, 100), (2, 60)]
    assert_same_orders(spark, read(spark, tmp_path, "parquet"), LINES[:160])


@pytest.mark.parametrize(
    "damage", ["", '{"job": "csv_to_par', "[]", "{}", '{"job": "csv_to_parquet", "processed": {}}']
)
def test_a_damaged_state_stops_the_run_instead_of_reading_every_file_again(spark, tmp_path, capsys, damage):
    land(tmp_path, "a.csv", LINES[:100])
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    (tmp_path / "state" / "orders.json").write_text(damage)
    with pytest.raises(LakejobsError, match=r"the incremental state .*orders.json is damaged .*lakejobs state reset"):
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    assert_same_orders(spark, read(spark, tmp_path, "parquet"), LINES[:100])
    # It can be looked at, and what the message says to do works on it: the reset replaces it.
    state_path = str(tmp_path / "state" / "orders.json")
    capsys.readouterr()
    assert cli.main(["state", "show", "csv_to_parquet", "--state_path", state_path]) == 0
    assert capsys.readouterr().err.startswith(f"lakejobs: warning: {state_path} is a damaged state")
    assert cli.main(["state", "reset", "csv_to_parquet", "--state_path", state_path]) == 0
    assert json.loads((tmp_path / "state" / "orders.json").read_text())["reset"] is True


def test_state_reset_and_show_refuse_a_file_that_is_no_state_and_leave_it_as_it_was(tmp_path, capsys):
    """``--state_path README.md`` (a slip of the tab key) was replaced by an empty state."""
    readme, other, lock = tmp_path / "README.md", tmp_path / "package.json", tmp_path / "out_lakejobs.lock"
    readme.write_text("# my project\n")
    other.write_text('{"name": "x"}\n')
    # A run's lock (or report) names its job too: it is no state either.
    lock.write_text('{"job": "csv_to_parquet", "run_id": "r1", "pid": 1, "host": "h", "since": "2026"}\n')
    for path in (readme, other, lock):
        for action in ("reset", "show"):
            assert cli.main(["state", action, "csv_to_parquet", "--state_path", str(path)]) == 2
            assert capsys.readouterr().err == (
                f"lakejobs: error: {path} holds no lakejobs state (a JSON object naming its job and the files it "
                "processed): give the state file (<lake>/_lakejobs/state/<job>/<name>.json)\n"
            )
    assert (readme.read_text(), other.read_text()) == ("# my project\n", '{"name": "x"}\n')
    assert json.loads(lock.read_text())["run_id"] == "r1"


def test_a_state_whose_output_was_deleted_is_refused_instead_of_converting_nothing(spark, tmp_path, capsys):
    """The run counted every file as converted, wrote nothing and succeeded; the mart then found no table."""
    land(tmp_path, "a.csv", LINES[:100])
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    shutil.rmtree(tmp_path / "orders")
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    assert str(refused.value) == (
        f"{tmp_path}/state/orders.json lists 1 converted input file(s), but {tmp_path}/orders does not exist: run "
        f"lakejobs state reset csv_to_parquet --state_path {tmp_path}/state/orders.json to convert every input file "
        "again (or restore the output)"
    )
    assert cli.main(["state", "reset", "csv_to_parquet", "--state_path", str(tmp_path / "state" / "orders.json")]) == 0
    rerun = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    assert (rerun.rows_written, rerun.details["batch_files"]) == (100, 1)
    assert_same_orders(spark, read(spark, tmp_path, "parquet"), LINES[:100])


def test_a_state_of_another_input_is_refused_instead_of_publishing_its_files_again(spark, tmp_path):
    land(tmp_path, "a.csv", LINES[:100])
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    (tmp_path / "raw").rename(tmp_path / "moved")
    raw, moved = str(tmp_path / "raw"), str(tmp_path / "moved")
    moved = [moved if value == raw else value for value in argv(tmp_path, "parquet")]
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(moved))
    assert str(refused.value) == (
        f"the incremental state {tmp_path}/state/orders.json is for --input_path {tmp_path}/raw, not "
        f"{tmp_path}/moved: pass the same --input_path, another --state_path, or run lakejobs state reset "
        f"csv_to_parquet --state_path {tmp_path}/state/orders.json to convert every input file again"
    )
    assert_same_orders(spark, read(spark, tmp_path, "parquet"), LINES[:100])
    # After a reset the state names no paths: the next run takes (and records) its own.
    reset_state(spark, str(tmp_path / "state" / "orders.json"), "csv_to_parquet")
    again = csv_to_parquet.run(spark, csv_to_parquet.parse_args(moved))
    assert (again.rows_read, again.details["first_batch"]) == (100, True)
    assert json.loads((tmp_path / "state" / "orders.json").read_text())["input_path"] == f"{tmp_path}/moved"
    assert_same_orders(spark, read(spark, tmp_path, "parquet"), LINES[:100])
    # Another spelling of the same folder is the same input.
    spelled = [
        (tmp_path / "moved").as_uri() + "/" if value == moved[moved.index("--input_path") + 1] else value
        for value in moved
    ]
    assert csv_to_parquet.run(spark, csv_to_parquet.parse_args(spelled)).details["batch_files"] == 0


def test_a_state_write_that_fails_leaves_the_previous_state(spark, tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    fs.write_text(spark, str(path), '{"old": 1}')

    def disk_full(_descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        fs.write_text(spark, str(path), '{"new": 2}')
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert path.read_text() == '{"old": 1}'


def test_off_object_stores_a_state_is_replaced_by_an_atomic_rename_not_truncated(spark, tmp_path, monkeypatch):
    """HDFS's create truncates the old file as it starts: a killed write left an empty state."""
    path = tmp_path / "state.json"
    path.write_text('{"old": 1}')
    fs.replace_by_rename(spark, path.as_uri(), '{"new": 2}')  # through Hadoop's FileContext, as on HDFS
    assert path.read_text() == '{"new": 2}'
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".crc")) == ["state.json"]
    written = []
    monkeypatch.setattr(fs, "replace_by_rename", lambda spark_, target, text: written.append(("rename", target)))
    monkeypatch.setattr(fs, "_create", lambda spark_, target, text: written.append(("in place", target)))
    for target in ("hdfs://namenode/lake/state.json", "s3a://bucket/lake/state.json"):
        fs.write_text(spark, target, "{}")
    assert written == [("rename", "hdfs://namenode/lake/state.json"), ("in place", "s3a://bucket/lake/state.json")]
    monkeypatch.undo()
    create = fs._create

    def fails_midway(spark_, target, text):
        create(spark_, target, text[:3])
        raise OSError("the datanode went away")

    monkeypatch.setattr(fs, "_create", fails_midway)
    with pytest.raises(OSError, match="datanode"):
        fs.replace_by_rename(spark, path.as_uri(), '{"newer": 3}')
    assert path.read_text() == '{"new": 2}'
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".crc")) == ["state.json"]


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_a_converted_file_that_changed_is_refused_by_an_append_and_merged_by_delta(spark, tmp_path, fmt):
    land(tmp_path, "a.csv", LINES[:100])
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, fmt)))
    land(tmp_path, "a.csv", LINES[:120])  # 20 lines appended to a file converted before
    if fmt == "parquet":
        with pytest.raises(LakejobsError) as refused:
            csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, fmt)))
        assert str(refused.value) == (
            f"orders: file:{tmp_path}/raw/a.csv changed since it was converted (1 such file(s)); an incremental "
            "append would publish its earlier rows twice: land new rows as new files (a changed row needs --format "
            "delta), or reset the state (lakejobs state reset csv_to_parquet --state_path "
            f"{tmp_path}/state/orders.json) and convert in full"
        )
        assert_same_orders(spark, read(spark, tmp_path, fmt), LINES[:100])
    else:  # orders has a primary key: the MERGE replaces the 100 rows and adds the 20
        result = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, fmt)))
        assert result.rows_read == 120
        assert_same_orders(spark, read(spark, tmp_path, fmt), LINES[:120])


class Killed(BaseException):
    """Stands for SIGKILL in-process: no handler of the job catches it."""


def test_a_keyless_delta_append_that_committed_before_a_crash_is_not_appended_again(spark, tmp_path, monkeypatch):
    """The rerun's batch has a file more, hence another transaction id: Delta alone would append b.csv twice."""

    def land_rows(name, ids):
        (tmp_path / "raw").mkdir(exist_ok=True)
        (tmp_path / "raw" / name).write_text("".join(f"{i},v{i}\n" for i in ids))

    argv = ["--schema", "id BIGINT, v STRING", "--format", "delta", "--incremental", "true"]
    argv += ["--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "table")]
    land_rows("a.csv", [1, 2])
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    land_rows("b.csv", [3, 4])

    def killed():
        raise Killed()

    monkeypatch.setattr(faults, "_kill", killed)
    monkeypatch.setenv(faults.ENV, "before_state")  # after the Delta commit, before the state
    with pytest.raises(Killed):
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    monkeypatch.delenv(faults.ENV)
    land_rows("c.csv", [5])
    rerun = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (rerun.details["batch_files"], rerun.rows_read) == (1, 1)
    table = spark.read.format("delta").load(str(tmp_path / "table"))
    assert sorted(row.id for row in table.collect()) == [1, 2, 3, 4, 5]
    again = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv))
    assert (again.details["batch_files"], table.count()) == (0, 5)


@pytest.mark.parametrize(
    "repeated, conversion", [([], "single_pass"), ([LINES[120]], "persisted")], ids=["single_pass", "persisted"]
)
def test_an_interrupted_append_removes_exactly_its_own_files(spark, tmp_path, monkeypatch, repeated, conversion):
    """Not every file newer than its start: on S3 a batch published in the same second, or a store's
    clock behind the driver's, would have had its files removed (and its rows lost) too. A batch
    repeating a key takes the persisted passes, which named no files until session 45."""
    land(tmp_path, "a.csv", LINES[:100])
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    first = sorted(str(p) for p in (tmp_path / "orders").rglob("*.parquet"))
    land(tmp_path, "b.csv", LINES[100:150] + repeated)

    def killed():
        raise Killed()

    monkeypatch.setattr(faults, "_kill", killed)
    monkeypatch.setenv(faults.ENV, "before_state")  # published, state not saved
    with pytest.raises(Killed):
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    monkeypatch.delenv(faults.ENV)
    future = time.time() + 3600  # the first batch's files now look newer than the interrupted run
    for path in first:
        os.utime(path, (future, future))
    rerun = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    rows = 50 + len(repeated)
    assert (rerun.details["conversion"], rerun.details["batch_files"], rerun.rows_read) == (conversion, 1, rows)
    assert rerun.rows_quarantined == len(repeated)
    assert_same_orders(spark, read(spark, tmp_path, "parquet"), LINES[:150])
    assert not (tmp_path / "orders" / "_staging").exists()


def run_killed(tmp_path, fmt, point):
    env = {**job_env(), "LAKEJOBS_KILL_AT": point}
    completed = subprocess.run(
        [sys.executable, "jobs/csv_to_parquet.py", *argv(tmp_path, fmt)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return completed.returncode


@pytest.mark.subprocess
#: Every kill point once, each format at least once: a killed run costs a JVM start (~25 s).
@pytest.mark.parametrize(
    ("point", "fmt"),
    [("before_write", "parquet"), ("during_write", "parquet"), ("during_write", "delta"), ("before_state", "parquet")],
)
def test_a_job_killed_at_any_point_reruns_to_the_rows_of_a_clean_run(spark, tmp_path, fmt, point):
    land(tmp_path, "a.csv", LINES[:100])
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, fmt)))
    land(tmp_path, "b.csv", LINES[100:])
    assert run_killed(tmp_path, fmt, point) == -9
    # The killed run's report says RUNNING (until session 48 it left none); the rerun marks it FAILED.
    holder = json.loads((tmp_path / "orders_lakejobs.lock").read_text())
    killed_report = tmp_path / "orders_lakejobs" / "runs" / "csv_to_parquet" / f"{holder['run_id']}.json"
    assert json.loads(killed_report.read_text())["status"] == "RUNNING"
    rerun = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, fmt)))
    assert rerun.rows_read == 200
    report = json.loads(killed_report.read_text())
    assert (report["status"], report["error"]) == (
        "FAILED",
        f"the run ended without a result: its process (pid {holder['pid']} on {holder['host']}) was gone when run "
        f"{rerun.run_id} took over its lock (killed, or its machine stopped)",
    )
    clean = spark.read.csv(str(SAMPLE_RAW / "orders"), schema=builtin_dataset("orders").schema, dateFormat="M/d/yyyy")
    actual = read(spark, tmp_path, fmt).drop("order_year")
    assert_df_equality(actual.orderBy("salesorderdetailid"), clean.orderBy("salesorderdetailid"), ignore_nullable=True)


@pytest.mark.parametrize("state", ["same", "another"])
def test_a_second_concurrent_run_is_refused_with_a_clear_message(spark, tmp_path, state):
    """The lock is the output's: a run keeping its state elsewhere (the pipeline's lake state, a
    ``lakejobs run`` of the same table) took a lock of its own, and one run deleted the other's table."""
    land(tmp_path, "a.csv", LINES[:10])
    lock = tmp_path / "orders_lakejobs.lock"
    lock.write_text(
        json.dumps(
            {
                "job": "csv_to_parquet",
                "run_id": "r1",
                "pid": os.getpid(),
                "host": os.uname().nodename,
                "since": "2026-11-23T10:00:00+00:00",
            }
        )
    )
    arguments = argv(tmp_path, "parquet")
    if state == "another":
        arguments[arguments.index("--state_path") + 1] = str(tmp_path / "elsewhere" / "orders.json")
    with pytest.raises(ConcurrentRunError, match="another csv_to_parquet run \\(r1, pid .*\\) is writing the same"):
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(arguments))
    assert not (tmp_path / "orders").exists()


def test_state_reset_leaves_a_state_marked_reset_and_says_what_follows(tmp_path, capsys):
    path = tmp_path / "state" / "orders.json"
    argv = ["state", "reset", "csv_to_parquet", "--state_path", str(path)]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"no state was at {path}: the next incremental run converts every input file and writes them as a full "
        "run does (an unpartitioned Parquet table or a keyless Delta table is replaced, a partitioned Parquet "
        "table gets the partitions the files hold replaced, a keyed Delta table is merged)"
    )
    state = json.loads(path.read_text())
    assert (state["job"], state["processed"], state["reset"]) == ("csv_to_parquet", {}, True)


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_a_file_that_grows_while_its_batch_is_converted_stops_the_run(spark, tmp_path, monkeypatch, fmt):
    """A clean batch was not listed again: the file was recorded at the size listed, with the rows
    read after it, and every later run refused it as changed."""
    land(tmp_path, "a.csv", LINES[:100])
    grow = lambda: (tmp_path / "raw" / "a.csv").write_text("\n".join(LINES[:120]) + "\n")  # noqa: E731
    for name in ("_count_bad_rows", "_gate"):  # the single pass, and the persisted passes (Delta)
        real = getattr(csv_to_parquet, name)
        monkeypatch.setattr(csv_to_parquet, name, lambda *a, real=real, **k: (grow(), real(*a, **k))[1])
    with pytest.raises(LakejobsError) as stopped:
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, fmt)))
    assert str(stopped.value).startswith(
        "orders: the input changed while it was converted (1 file(s) changed or landed after the listing: "
    )
    # Nothing published, nothing recorded.
    assert (os.path.exists(tmp_path / "orders"), os.path.exists(tmp_path / "state" / "orders.json")) == (False, False)
    monkeypatch.undo()
    rerun = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, fmt)))
    assert rerun.rows_read == 120
    assert_same_orders(spark, read(spark, tmp_path, fmt), LINES[:120])


def test_a_keyless_delta_file_landed_again_after_a_reset_is_appended_not_taken_for_a_replay(spark, tmp_path):
    """Its Delta transaction id was the batch's files alone: the append before the reset made the
    new one look committed already, and the file was recorded with its rows missing."""
    fields = builtin_dataset("orders").schema.fields
    schema = ", ".join(f"{field.name} {field.dataType.simpleString()}" for field in fields)
    options = [*argv(tmp_path, "delta")[2:], "--schema", schema, "--date_format", "M/d/yyyy"]
    land(tmp_path, "a.csv", LINES[:100])
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(options))
    land(tmp_path, "b.csv", LINES[100:150])
    times = os.stat(tmp_path / "raw" / "b.csv")
    assert csv_to_parquet.run(spark, csv_to_parquet.parse_args(options)).rows_read == 50
    (tmp_path / "raw" / "b.csv").rename(tmp_path / "b.csv")  # archived
    reset_state(spark, str(tmp_path / "state" / "orders.json"), "csv_to_parquet")
    assert csv_to_parquet.run(spark, csv_to_parquet.parse_args(options)).rows_read == 100  # replaces the table
    (tmp_path / "b.csv").rename(tmp_path / "raw" / "b.csv")  # landed again as it was
    os.utime(tmp_path / "raw" / "b.csv", ns=(times.st_atime_ns, times.st_mtime_ns))
    again = csv_to_parquet.run(spark, csv_to_parquet.parse_args(options))
    assert (again.details["batch_files"], again.rows_written) == (1, 50)
    assert_same_lines(spark, read(spark, tmp_path, "delta"), LINES[:150])


def test_a_file_landing_while_a_full_run_replaces_a_state_stops_it(spark, tmp_path, monkeypatch):
    """A full run reads the whole folder: a file landing between the run's listing and Spark's was
    published but not recorded, and the next incremental run appended it again. (Until session 49
    a file with ``%`` in its name was taken for one that landed, in every full run.)"""
    land(tmp_path, "a%20.csv", LINES[:100])
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    full = [option for option in argv(tmp_path, "parquet") if option not in ("--incremental", "true")]
    real = csv_to_parquet.input_data_files
    monkeypatch.setattr(
        csv_to_parquet, "input_data_files", lambda *a: (real(*a), land(tmp_path, "b.csv", LINES[100:150]))[0]
    )
    with pytest.raises(LakejobsError) as stopped:
        csv_to_parquet.run(spark, csv_to_parquet.parse_args(full))
    assert str(stopped.value) == (
        "orders: the input changed while it was converted (1 file(s) changed or landed after the listing: "
        f"file://{tmp_path}/raw/b.csv); nothing was published: run the job again"
    )
    monkeypatch.undo()
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(full))
    last = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    assert last.details["batch_files"] == 0
    assert_same_orders(spark, read(spark, tmp_path, "parquet"), LINES[:150])


def test_a_file_landing_after_spark_listed_the_folder_waits_for_the_next_run(spark, tmp_path, monkeypatch):
    """Not read, it is neither published nor recorded: the next incremental run converts it once."""
    land(tmp_path, "a.csv", LINES[:100])
    csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    full = [option for option in argv(tmp_path, "parquet") if option not in ("--incremental", "true")]
    real = csv_to_parquet._count_bad_rows
    monkeypatch.setattr(
        csv_to_parquet, "_count_bad_rows", lambda *a, **k: (land(tmp_path, "b.csv", LINES[100:150]), real(*a, **k))[1]
    )
    assert csv_to_parquet.run(spark, csv_to_parquet.parse_args(full)).rows_read == 100
    monkeypatch.undo()
    last = csv_to_parquet.run(spark, csv_to_parquet.parse_args(argv(tmp_path, "parquet")))
    assert (last.details["batch_files"], last.rows_read) == (1, 50)
    assert_same_orders(spark, read(spark, tmp_path, "parquet"), LINES[:150])


@pytest.mark.parametrize("text", ['{"job": "cs', "", "[1]"], ids=["half_written", "empty", "not_an_object"])
def test_a_lock_whose_holder_cannot_be_read_is_still_held_and_named(tmp_path, text):
    from lakejobs.state import RunLock

    lock = tmp_path / "orders.lock"
    lock.write_text(text)
    with pytest.raises(ConcurrentRunError) as raised:
        with RunLock(None, str(lock), "csv_to_parquet", "r2"):
            pass
    assert str(raised.value) == (
        f"another run holds the lock {lock} (what it says of that run is not readable, or not written yet); "
        "wait for it, or delete the lock if no run is writing the same output"
    )
    assert lock.read_text() == text


@pytest.mark.parametrize("repeat_inside", [False, True], ids=["single_pass", "persisted"])
def test_a_parquet_append_repeating_keys_of_the_table_is_refused_and_publishes_nothing(spark, tmp_path, repeat_inside):
    """Until session 46 the batch was appended: the table held the keys twice and nothing said so."""
    schema = ["--schema", "id INT NOT NULL, name STRING", "--primary_key", "id", "--incremental", "true"]
    schema += ["--max_bad_fraction", "0.5"]
    paths = ["--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "people")]
    run = lambda: csv_to_parquet.run(spark, csv_to_parquet.parse_args(schema + paths))  # noqa: E731
    land(tmp_path, "a.csv", ["1,Ann", "2,Bob"])
    run()
    land(tmp_path, "b.csv", ["2,Rob", "3,Cy"] + (["3,Cyd"] if repeat_inside else []))
    with pytest.raises(LakejobsError) as refused:
        run()
    assert str(refused.value) == (
        f"people: 1 row repeats a key of {tmp_path / 'people'} (e.g. id=2): a Parquet table cannot replace rows, "
        "and an incremental run appends; nothing was published. To correct rows, convert into a Delta table "
        "(--format delta merges on the key); to load a new snapshot, move the earlier snapshot's files out of the "
        "input, then run without --incremental (a full run reads every file of the input and replaces the table, "
        "or the partitions its rows hold)"
    )
    table = spark.read.parquet(str(tmp_path / "people"))
    assert sorted(tuple(row) for row in table.collect()) == [(1, "Ann"), (2, "Bob")]
    assert not (tmp_path / "people" / "_staging").exists()
    land(tmp_path, "b.csv", ["3,Cy"])  # corrected: only the new key
    assert run().rows_written == 1
    assert sorted(tuple(row) for row in spark.read.parquet(str(tmp_path / "people")).collect()) == [
        (1, "Ann"),
        (2, "Bob"),
        (3, "Cy"),
    ]


def test_a_parquet_appends_key_check_reads_the_tables_own_types_and_takes_an_empty_table(spark, tmp_path):
    """Read with inferred types the check failed on an empty table and took a partition ``code=1`` for ``01``."""
    options = ["--schema", "code STRING NOT NULL, v INT", "--primary_key", "code", "--partition_by", "code"]
    options += ["--incremental", "true", "--max_bad_fraction", "1"]
    paths = ["--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "codes")]
    run = lambda: csv_to_parquet.run(spark, csv_to_parquet.parse_args(options + paths))  # noqa: E731
    land(tmp_path, "a.csv", ["x1,not a number"])
    assert run().rows_quarantined == 1  # the table holds no file yet
    land(tmp_path, "b.csv", ["1,1"])
    assert run().rows_written == 1
    land(tmp_path, "c.csv", ["01,2"])
    assert run().rows_written == 1
    land(tmp_path, "d.csv", ["1,3"])
    with pytest.raises(LakejobsError, match=r"codes: 1 row repeats a key of .*codes \(e.g. code=1\)"):
        run()
    table = spark.read.schema("v INT, code STRING").parquet(str(tmp_path / "codes")).select("code", "v")
    assert sorted(tuple(row) for row in table.collect()) == [("01", 2), ("1", 1)]


def people_by_region(spark, tmp_path):
    table = spark.read.parquet(str(tmp_path / "people")).select("id", "region", "name")
    return sorted(tuple(row) for row in table.collect())


@pytest.mark.parametrize("repeat_inside", [False, True], ids=["single_pass", "persisted"])
def test_a_full_run_moving_a_key_out_of_a_partition_it_keeps_is_refused(spark, tmp_path, repeat_inside):
    """Until session 47 the moved row was written to its new partition and its old copy stayed in the kept one."""
    options = ["--schema", "id INT NOT NULL, region STRING NOT NULL, name STRING", "--primary_key", "id"]
    options += ["--partition_by", "region", "--max_bad_fraction", "0.5"]
    paths = ["--input_path", str(tmp_path / "raw"), "--output_path", str(tmp_path / "people")]
    run = lambda: csv_to_parquet.run(spark, csv_to_parquet.parse_args(options + paths))  # noqa: E731
    land(tmp_path, "a.csv", ["1,east,Ann", "2,west,Bob", "3,west,Cy"])
    run()
    land(tmp_path, "a.csv", ["1,east,Ann", "2,east,Bob"] + (["1,east,Anne"] if repeat_inside else []))
    with pytest.raises(LakejobsError) as refused:
        run()
    assert str(refused.value) == (
        f"people: 1 row of {tmp_path / 'people'}, in partitions this run does not replace, hold keys of this batch "
        "(e.g. id=2 in region=west): a full run replaces only the partitions its rows hold, so the old row would stay "
        "beside the new one; nothing was published. Convert those partitions' rows too (the whole snapshot), or "
        "convert into a Delta table (--format delta merges on the key)"
    )
    assert people_by_region(spark, tmp_path) == [(1, "east", "Ann"), (2, "west", "Bob"), (3, "west", "Cy")]
    assert not (tmp_path / "people" / "_staging").exists()
    land(tmp_path, "a.csv", ["1,east,Ann", "2,east,Bob", "3,west,Cy"])  # the whole snapshot: west is replaced too
    assert run().rows_written == 3
    assert people_by_region(spark, tmp_path) == [(1, "east", "Ann"), (2, "east", "Bob"), (3, "west", "Cy")]
    land(tmp_path, "a.csv", ["1,east,Al", "4,north,Di"])  # west is kept, and holds none of these keys
    assert run().rows_written == 2
    assert people_by_region(spark, tmp_path) == [(1, "east", "Al"), (3, "west", "Cy"), (4, "north", "Di")]
