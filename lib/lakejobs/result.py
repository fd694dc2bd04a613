"""``JobResult``: what a run did, as one JSON object for people, tests and Step Functions."""

import dataclasses
import datetime as dt
import json
import time
import uuid
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

from lakejobs.errors import LakejobsError


def new_run_id() -> str:
    """A sortable, unique run id: UTC timestamp plus a random suffix."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


@dataclasses.dataclass
class OutputInfo:
    """One table a job wrote."""

    name: str
    path: str
    format: str
    rows: int
    files: int
    bytes: int
    partition_by: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class JobResult:
    """The outcome of one job run.

    ``rows_read == rows_written + rows_quarantined`` holds for conversion jobs, where every
    input line lands in the output or the quarantine.
    """

    job: str
    run_id: str
    status: str = "RUNNING"
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: Dict[str, int] = dataclasses.field(default_factory=dict)
    outputs: List[OutputInfo] = dataclasses.field(default_factory=list)
    inputs: Dict[str, str] = dataclasses.field(default_factory=dict)
    stages_s: Dict[str, float] = dataclasses.field(default_factory=dict)
    details: Dict[str, Any] = dataclasses.field(default_factory=dict)
    started_at: str = dataclasses.field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat())
    duration_s: float = 0.0
    error: Optional[str] = None
    _started: float = dataclasses.field(default_factory=time.monotonic, repr=False)

    @property
    def files_written(self) -> int:
        """Data files written by this run, over all outputs."""
        return sum(output.files for output in self.outputs)

    @property
    def bytes_written(self) -> int:
        """Bytes of data files written by this run, over all outputs."""
        return sum(output.bytes for output in self.outputs)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage of the job into ``stages_s``."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.stages_s[name] = round(self.stages_s.get(name, 0.0) + time.monotonic() - start, 3)

    def check_rows_add_up(self, written: int, where: str) -> None:
        """Raise ``LakejobsError`` unless ``written`` (counted by the write) is read minus quarantined.

        ``rows_read`` and ``rows_quarantined`` come from the checks; ``written`` is what the
        write itself counted into ``where``, so a row lost or repeated between them is caught.
        """
        expected = self.rows_read - self.rows_quarantined
        if written != expected:
            raise LakejobsError(
                f"{self.rows_read} rows read and {self.rows_quarantined} quarantined, but {written} written to "
                f"{where} instead of {expected}: the counts do not add up, so this run is not complete"
            )

    def finish(self, status: str, error: Optional[str] = None) -> "JobResult":
        """Set the final status and the duration; returns ``self``."""
        self.status = status
        self.error = error
        self.duration_s = round(time.monotonic() - self._started, 3)
        return self

    def to_dict(self) -> Dict[str, Any]:
        """The result as plain JSON-ready data (stable key order)."""
        data = {
            "job": self.job,
            "run_id": self.run_id,
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "rows_quarantined": self.rows_quarantined,
            "quarantine_reasons": dict(sorted(self.quarantine_reasons.items())),
            "outputs": [dataclasses.asdict(output) for output in self.outputs],
            "files_written": self.files_written,
            "bytes_written": self.bytes_written,
            "duration_s": self.duration_s,
            "stages_s": self.stages_s,
            "inputs": self.inputs,
            "started_at": self.started_at,
            "details": self.details,
        }
        if self.error:
            data["error"] = self.error
        return data

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(self.to_dict(), sort_keys=False, default=str)
