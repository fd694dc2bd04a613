"""Measuring a command for the bench: wall time, peak memory and CPU seconds of its process tree."""

import bisect
import datetime as dt
import hashlib
import inspect
import json
import os
import statistics
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple

import duckdb
import psutil


def source_digest(*objects) -> str:
    """A digest of the source code of ``objects`` (modules, functions).

    Generated inputs are cached under it, so a change to their generator makes them anew
    instead of benching the old data.
    """
    text = "".join(inspect.getsource(obj) for obj in objects)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def folder_bytes(folder: Path, suffix: str = "") -> int:
    """Bytes of the files under ``folder`` whose names end with ``suffix``."""
    return sum(p.stat().st_size for p in folder.rglob(f"*{suffix}") if p.is_file())


class CpuTrace:
    """CPU seconds (user + system) and resident memory of a process tree, against the wall clock.

    A piece of work's CPU seconds are read off the trace between its start and end (linear
    between samples, 0.1 s apart); with its wall time they say how busy the cores were. Its
    peak memory is the largest sample taken while it ran.
    """

    def __init__(self) -> None:
        self.times, self.cpu, self.rss = [], [], []  # epoch seconds, CPU seconds used by then, bytes

    def sample(self, parent: "psutil.Process") -> int:
        """Add the tree's CPU seconds and resident bytes now; return the bytes.

        Processes that already ended are not counted. In local mode the tree is the Python
        driver and its JVM, which runs the executors too.
        """
        cpu, rss = 0.0, 0
        for process in [parent, *parent.children(recursive=True)]:
            try:
                times, memory = process.cpu_times(), process.memory_info()
            except psutil.Error:
                continue
            cpu += times.user + times.system
            rss += memory.rss
        self.times.append(time.time())
        self.cpu.append(cpu)
        self.rss.append(rss)
        return rss

    def peak_mib(self, start: float, end: float) -> float:
        """The largest resident memory sampled from ``start`` to ``end`` (epoch seconds), in MiB."""
        low, high = bisect.bisect_left(self.times, start), bisect.bisect_right(self.times, end)
        return max(self.rss[low:high], default=0) / 2**20

    def at(self, epoch_s: float) -> float:
        """CPU seconds used by ``epoch_s`` (the first or last sample outside the trace)."""
        index = bisect.bisect_right(self.times, epoch_s)
        if index == 0 or index == len(self.times):
            return self.cpu[min(index, len(self.cpu) - 1)]
        t0, t1, c0, c1 = self.times[index - 1], self.times[index], self.cpu[index - 1], self.cpu[index]
        return c0 + (c1 - c0) * (epoch_s - t0) / (t1 - t0)

    def between(self, start: float, end: float) -> float:
        """CPU seconds used from ``start`` to ``end`` (epoch seconds)."""
        return self.at(end) - self.at(start)


def run_measured(argv):
    """Run a command; return (stdout, wall seconds, peak RSS in MiB of its process tree, CpuTrace)."""
    started = time.monotonic()
    # Every engine's session as the bench means it: the local profile on local[*], whatever
    # this shell exports (LAKEJOBS_PROFILE=test would give lakejobs 2 cores and 2 GB, not the floors).
    env = {key: value for key, value in os.environ.items() if key not in ("LAKEJOBS_PROFILE", "LAKEJOBS_MASTER")}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    peak, trace = [0], CpuTrace()

    def sample():
        parent = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                peak[0] = max(peak[0], trace.sample(parent))
            except psutil.Error:
                pass
            time.sleep(0.1)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out, _ = process.communicate()
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv[:3])} failed with exit {process.returncode}")
    return out, time.monotonic() - started, peak[0] / 2**20, trace


def job_times(runs: Path, trace: CpuTrace, since: float = 0.0) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Seconds and CPU seconds of each job whose run report is under ``runs``, by stage label.

    A conversion is labelled ``convert_<dataset>``, the mart ``sales_mart``. Only the jobs that
    started at or after ``since`` (epoch seconds) count: a rerun into a lake leaves the first
    run's reports there.
    """
    seconds, cpu = {}, {}
    for label, result in job_reports(runs, since):
        seconds[label] = result["duration_s"]
        cpu[label] = result_cpu_s(result, trace)
    return seconds, cpu


def job_peaks(runs: Path, trace: CpuTrace, since: float = 0.0) -> Dict[str, float]:
    """Peak resident MiB of the process tree while each job under ``runs`` ran, by stage label."""
    return {label: round(trace.peak_mib(*result_span(result)), 1) for label, result in job_reports(runs, since)}


def job_reports(runs: Path, since: float = 0.0) -> Iterable[Tuple[str, dict]]:
    """(stage label, run report) of each job under ``runs`` that started at or after ``since``.

    The pipeline's own report (``pipeline/``, since session 47) is no stage: its steps' are.
    """
    for report in sorted(runs.rglob("*.json")):
        result = json.loads(report.read_text())
        if result["job"] == "pipeline" or result_span(result)[0] < since:
            continue
        yield (result["job"] if result["job"] == "sales_mart" else f"convert_{list(result['inputs'])[0]}"), result


def result_span(result: dict) -> Tuple[float, float]:
    """When a job (or the pipeline) of a run report started and ended, in epoch seconds."""
    started = dt.datetime.fromisoformat(result["started_at"]).timestamp()
    return started, started + result["duration_s"]


def result_cpu_s(result: dict, trace: CpuTrace) -> float:
    """CPU seconds a job used, read off ``trace`` between the start and end of its ``result``."""
    return trace.between(*result_span(result))


def month_totals(files: Sequence[str]):
    """Rows, line money and order money per (order_year, order_month) of the mart's sales files.

    ``files`` are Parquet file paths or globs, read with DuckDB (Hive partition folders).
    """
    listed = ", ".join(f"'{name}'" for name in files)
    rows = duckdb.sql(
        f"SELECT order_year::INT, order_month::INT, count(*), sum(linetotal), sum(totaldue) "
        f"FROM read_parquet([{listed}], hive_partitioning=true) GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return [tuple(row) for row in rows]


def sales_glob(lake: Path) -> str:
    """The Parquet files of ``<lake>/mart/sales`` (partitioned by order_year and order_month)."""
    return str(lake / "mart" / "sales" / "*" / "*" / "*.parquet")


def files_per_partition(folder: Path) -> int:
    """The most Parquet files any one partition folder under ``folder`` holds."""
    return most_files_in_a_folder(folder.rglob("*.parquet"))


def most_files_in_a_folder(files: Iterable[Path]) -> int:
    """The most of ``files`` that share one folder (0 for none)."""
    counts = Counter(Path(path).parent for path in files)
    return max(counts.values()) if counts else 0


def median_of(samples, key: str, stage: Optional[str] = None) -> float:
    """The median of one measure over the samples (of one stage's, when ``stage`` is given)."""
    return statistics.median(sample[key][stage] if stage else sample[key] for sample in samples)
