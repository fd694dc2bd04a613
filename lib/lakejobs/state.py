"""Portable bookmarks and run locks, kept in the lake itself (a folder or s3a:// alike).

A job's state file records which input files it has processed. It is written only after the
output commit, so a crash leaves the old state and the rerun processes the same batch again;
each output format makes that replay harmless (Delta: MERGE or an idempotent append; Parquet:
the interrupted append is rolled back first, see ``pending``).

A lock file next to the state refuses a second concurrent run of the same job on the same
output. A lock left by a process that no longer exists on this host is taken over.
"""

import dataclasses
import datetime as dt
import json
import logging
import os
import socket
from typing import TYPE_CHECKING, Dict, List, Optional

from lakejobs import fs
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.fs import FileInfo
from lakejobs.io.reports import close_report_of_dead_run

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

LOG = logging.getLogger(__name__)


def reset_command(state_path: str) -> str:
    """The command that resets the state at ``state_path``, for a refusal to name (a pipeline's user gave no path)."""
    return f"lakejobs state reset csv_to_parquet --state_path {state_path}"


class ConcurrentRunError(LakejobsError):
    """Another run holds the lock on the same output."""

    exit_code = 3


@dataclasses.dataclass
class JobState:
    """What a job has processed from one input into one output."""

    job: str
    input_path: str
    output_path: str
    processed: Dict[str, List[int]] = dataclasses.field(default_factory=dict)  # path -> [size, mtime]
    batches: List[Dict[str, object]] = dataclasses.field(default_factory=list)
    pending: Optional[Dict[str, object]] = None  # the batch being written, until it commits
    #: Written by ``lakejobs state reset``: the next run converts every input file and replaces the output.
    reset: bool = False

    @property
    def series(self) -> str:
        """The run that converted the first batch since the output was last replaced ("" before one).

        A reset state has no batches, so the runs after a reset are a new series.
        """
        return str(self.batches[0].get("run_id", "")) if self.batches else ""

    def new_files(self, files: List[FileInfo]) -> List[FileInfo]:
        """Files not processed before (a file whose size or time changed counts as new)."""
        return [info for info in files if self.processed.get(info.path) != [info.size, info.modified_ms]]

    def changed_files(self, files: List[FileInfo]) -> List[FileInfo]:
        """Files processed before whose size or time has changed since."""
        return [
            info
            for info in files
            if info.path in self.processed and self.processed[info.path] != [info.size, info.modified_ms]
        ]

    def record_batch(self, files: List[FileInfo], run_id: str, batch_fingerprint: str) -> None:
        """Mark ``files`` processed by ``run_id`` and clear the pending batch."""
        for info in files:
            self.processed[info.path] = [info.size, info.modified_ms]
        self.batches.append(
            {
                "run_id": run_id,
                "files": len(files),
                "fingerprint": batch_fingerprint,
                "committed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            }
        )
        self.pending = None
        self.reset = False


def load_state(spark: "SparkSession", path: str, job: str, input_path: str, output_path: str) -> JobState:
    """Read the state at ``path``, or a fresh one when there is none.

    Raises
    ------
    LakejobsError
        When the file exists but holds no state (empty, cut short, not JSON). Starting afresh
        would append every input file again; ``lakejobs state reset`` starts afresh on purpose.
    """
    text = fs.read_text(spark, path)
    if text is None:
        return JobState(job=job, input_path=input_path, output_path=output_path)
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not well_formed(data):
        raise LakejobsError(
            f"the incremental state {path} is damaged (empty, cut short, not JSON or missing a field): restore it, "
            f"or run {reset_command(path)} to read every input file again"
        )
    state = JobState(
        **{field.name: data.get(field.name) for field in dataclasses.fields(JobState) if field.name in data}
    )
    _refuse_other_paths(spark, state, path, {"--input_path": input_path, "--output_path": output_path})
    state.input_path, state.output_path = state.input_path or input_path, state.output_path or output_path
    return state


def well_formed(data: Dict[str, object]) -> bool:
    """Tell whether a state file's JSON object holds each field a run reads, of its type.

    ``{}`` or an object without its paths made the run fail with ``TypeError: JobState.__init__()
    missing ... arguments`` (exit 1), and ``state reset`` refused to replace it.
    """
    batches, pending = data.get("batches", []), data.get("pending")
    return (
        all(isinstance(data.get(name), str) for name in ("job", "input_path", "output_path"))
        and isinstance(data.get("processed"), dict)
        and all(_file_mark(mark) for mark in data["processed"].values())
        and isinstance(batches, list)
        and all(isinstance(batch, dict) for batch in batches)
        and (pending is None or isinstance(pending, dict))
        and isinstance(data.get("reset", False), bool)
    )


def _file_mark(mark: object) -> bool:
    """A processed file's ``[size, modified_ms]``."""
    return isinstance(mark, list) and len(mark) == 2 and all(isinstance(number, int) for number in mark)


def _refuse_other_paths(spark: "SparkSession", state: JobState, path: str, given: Dict[str, str]) -> None:
    """Refuse a state written for another input or output (a reset state names none).

    Its files are recorded by their path as listed under its input: read under another
    spelling (``s3://`` for ``s3a://``, a moved prefix) every file would count as new and its
    rows be published again; into another output, the files it lists would be missing there.
    """
    stored = {"--input_path": state.input_path, "--output_path": state.output_path}
    for option, value in given.items():
        if stored[option] and not _same_location(spark, stored[option], value):
            raise StateOfOtherPathsError(path, option, stored[option], value)


class StateOfOtherPathsError(UsageError):
    """A state written for another input or output than the run's (``_refuse_other_paths``)."""

    def __init__(self, path: str, option: str, stored: str, given: str) -> None:
        self.path = path
        #: What the state is for, and what the run gives instead (``--input_path s3://b/x, not s3a://b/x``).
        self.mismatch = f"{option} {stored}, not {given}"
        super().__init__(
            f"the incremental state {path} is for {self.mismatch}: pass the same {option}, another --state_path, "
            f"or run {reset_command(path)} to convert every input file again"
        )


def _same_location(spark: "SparkSession", first: str, second: str) -> bool:
    """Tell whether two spellings name one location (``hdfs:///x`` and ``hdfs://nn:8020/x``; not ``s3://`` and ``s3a://``)."""
    if first.rstrip("/") == second.rstrip("/"):
        return True
    return fs.qualified(spark, first).rstrip("/") == fs.qualified(spark, second).rstrip("/")


#: The fields of a state file.
STATE_FIELDS = frozenset(field.name for field in dataclasses.fields(JobState))


def save_state(spark: "SparkSession", path: str, state: JobState) -> None:
    """Write the state (replacing the previous one)."""
    fs.write_text(spark, path, json.dumps(dataclasses.asdict(state), indent=1, sort_keys=True) + "\n")


def reset_state(spark: "SparkSession", path: str, job: str) -> bool:
    """Start the state afresh; tell whether one existed.

    The state is replaced by an empty one marked ``reset`` (not deleted): the next incremental
    run then converts every input file and replaces the output, as asked. A run that finds no
    state at all next to an output holding data refuses instead (see ``csv_to_parquet``).
    A file that is not this job's state is refused (``check_state_file``), not overwritten.
    """
    text = fs.read_text(spark, path)
    if text is not None:
        check_state_file(path, text, job)
    save_state(spark, path, JobState(job=job, input_path="", output_path="", reset=True))
    return text is not None


def refuse_unknown_state(spark: "SparkSession", lake: str, job: str, dataset: str, path: str, action: str) -> None:
    """Refuse ``state show|reset --lake --dataset`` naming no lake, or a dataset it has neither state nor table of.

    ``reset`` with a mistyped ``--dataset Orders`` said "no state was at .../Orders.json" and
    exit 0, leaving ``orders``' state as it was; with a table folder as ``--lake`` it wrote a
    state inside that table, which every later run then refused.
    """
    if not any(fs.exists(spark, f"{lake}/{name}") for name in ("processedData", "_lakejobs")):
        raise UsageError(f"--lake {lake} holds neither processedData/ nor _lakejobs/: give the lake folder")
    if fs.exists(spark, path):
        return
    table = f"{lake}/processedData/{dataset}"
    if action == "reset" and fs.exists(spark, table):
        return  # a table converted in full so far: the reset lets incremental runs start on it
    folder = f"{lake}/_lakejobs/state/{job}"
    names = sorted(
        info.path.rsplit("/", 1)[-1][: -len(".json")]
        for info in fs.list_data_files(spark, folder)
        if info.path.endswith(".json")
    )
    kept = f"the {job} states here are of {', '.join(names)}" if names else f"this lake holds no {job} state"
    if action == "reset":
        raise UsageError(f"no state at {path}, and no table at {table}: check --dataset ({kept})")
    raise UsageError(f"no state at {path} ({kept})")


def check_state_file(path: str, text: str, job: str) -> bool:
    """Tell whether ``text`` (the file at ``path``) is a damaged state; raise ``UsageError`` for another file.

    A mistyped ``--state_path`` (``README.md``) was overwritten by ``state reset``. A state's
    file is a JSON object naming its job and the files it processed; a damaged one (empty, an
    object cut short, JSON that is no object, an object of a state's fields missing some or of
    another type: what ``state reset`` is there to replace) returns True; ``job``'s state
    returns False; anything else, another job's state included, is refused.
    """
    try:
        data = json.loads(text)
    except ValueError:
        data = None
        damaged = not text.strip() or text.lstrip().startswith("{")
    else:
        damaged = not isinstance(data, dict)
    # A run report or a run lock names its job too: a state lists its files, or holds no other field.
    if isinstance(data, dict) and ("processed" in data or set(data) <= STATE_FIELDS):
        if "job" in data and data["job"] != job:
            raise UsageError(f"{path} is the state of {data['job']}, not of {job}: give {job}'s state file")
        return not well_formed(data)
    if damaged:
        return True
    raise UsageError(
        f"{path} holds no lakejobs state (a JSON object naming its job and the files it processed): "
        "give the state file (<lake>/_lakejobs/state/<job>/<name>.json)"
    )


def _holder_is_dead(holder: Dict[str, object]) -> bool:
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder.get("pid", 0)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


class RunLock:
    """An exclusive lock file for one output; use as a context manager.

    Taking over the lock of a dead run (``report_root`` given) marks that run's report, left
    RUNNING by a killed process, FAILED (``reports.close_report_of_dead_run``).
    """

    def __init__(
        self, spark: "SparkSession", path: str, job: str, run_id: str, report_root: Optional[str] = None
    ) -> None:
        self.spark, self.path, self.job, self.run_id = spark, path, job, run_id
        self.report_root = report_root

    def __enter__(self) -> "RunLock":
        me = {
            "job": self.job,
            "run_id": self.run_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": dt.datetime.now(dt.timezone.utc).isoformat(),
        }
        if fs.create_exclusive(self.spark, self.path, json.dumps(me)):
            return self
        holder = self._holder()
        if holder and _holder_is_dead(holder):
            LOG.warning("taking over the lock of run %s (process %s is gone)", holder.get("run_id"), holder.get("pid"))
            fs.delete(self.spark, self.path)
            if fs.create_exclusive(self.spark, self.path, json.dumps(me)):
                close_report_of_dead_run(self.spark, self.report_root, holder, self.run_id)
                return self
            holder = self._holder()
        if not holder:
            raise ConcurrentRunError(
                f"another run holds the lock {self.path} (what it says of that run is not readable, or not written "
                "yet); wait for it, or delete the lock if no run is writing the same output"
            )
        raise ConcurrentRunError(
            f"another {holder.get('job', 'lakejobs')} run ({holder.get('run_id')}, pid {holder.get('pid')} on "
            f"{holder.get('host')}, since {holder.get('since')}) is writing the same output; wait for it, or "
            f"delete {self.path} if that run is dead"
        )

    def _holder(self) -> Dict[str, object]:
        """What the lock file says of the run holding it (empty when not readable as such)."""
        try:
            holder = json.loads(fs.read_text(self.spark, self.path) or "{}")
        except ValueError:  # half written by a run killed while creating it
            return {}
        return holder if isinstance(holder, dict) else {}

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        try:
            fs.delete(self.spark, self.path)
        except Exception:  # noqa: BLE001 - keep the run's own error; a dead holder's lock is taken over
            if exc_type is None:
                raise
            LOG.warning("could not release the lock %s after the run failed", self.path)
