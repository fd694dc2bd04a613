"""``make bench-profile``: where the CPU goes, job by job, sampled with async-profiler.

Runs the pipeline at one scale (``bench/data``, as ``make bench`` generates it) in one JVM, the
way ``lakejobs pipeline`` does, with async-profiler's CPU sampler (every 10 ms, loaded into the
driver JVM through its Java API) on for one job at a time; then Spark's floor for orders
(``spark_floor.py``'s read and write) the same way in a fresh JVM, as the bench runs it.

Each job's samples are written as collapsed stacks to ``bench/work/profile/<job>.collapsed``
(any flame-graph tool reads them) and every sample is put in one component (``COMPONENTS``,
first match wins) to print a table of CPU seconds per component and job, with each job's wall
time and the JVM's user and system CPU time from ``/proc``.

The profiler is ``tools.profiler:async-profiler`` from Maven Central (``make bench-profile``
fetches it into ``.jars/tools/``). A sampler costs a little: timings here are not the bench's.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
INTERVAL = "10ms"
SAMPLE_S = 0.01

#: (component, markers): a sample whose stack holds any marker belongs to the first such component.
COMPONENTS = (
    ("JIT compiler", ("CompileBroker::",)),
    ("garbage collector", ("GangWorker::", "VMThread::", "PSScavenge", "PSParallelCompact")),
    ("kernel: I/O copies, page faults", ("_[k]",)),
    ("CSV read and parse", ("UnivocityParser", "LineRecordReader", "FailureSafeParser", "FileFormat$$anon$1")),
    ("Parquet read", ("VectorizedParquetRecordReader", "VectorizedColumnReader", "ParquetFileFormat")),
    ("Parquet write", ("ParquetOutputWriter", "ParquetFileWriter", "InternalParquetRecordWriter")),
    (
        "shuffle: serialize, spill, fetch",
        ("DiskBlockObjectWriter", "ShuffleExternalSorter", "writePartitionedData", "BlockStoreShuffleReader"),
    ),
    ("hash joins", ("HashedRelation", "LongToUnsafeRowMap")),
    ("aggregation", ("hashAgg_", "UnsafeFixedWidthAggregationMap", "BytesToBytesMap", "SortBasedAggregation")),
    ("observed metrics", ("CollectMetricsExec", "AggregatingAccumulator")),
    ("generated code: typing, checks, projections", ("GeneratedClass",)),
    ("other task work", ("Executor$TaskRunner",)),
    ("driver: planning, commits, Python bridge", ("",)),
)


def native_library(jar: Path) -> Path:
    """async-profiler's native library for this machine, unpacked next to its jar."""
    member = f"linux-{'arm64' if platform.machine() in ('aarch64', 'arm64') else 'x64'}/libasyncProfiler.so"
    target = jar.parent / member
    if not target.exists():
        with zipfile.ZipFile(jar) as archive:
            archive.extract(member, jar.parent)
    return target


def component(stack: str) -> str:
    """The component of one sampled stack (``COMPONENTS``)."""
    return next(name for name, markers in COMPONENTS if any(marker in stack for marker in markers))


def cpu_by_component(collapsed: Path) -> Counter:
    """CPU seconds per component from a collapsed-stack file (``frame;frame;... count`` lines)."""
    seconds = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        seconds[component(stack)] += int(count) * SAMPLE_S
    return seconds


class Profiled:
    """A local Spark session with async-profiler loaded, profiling one job at a time."""

    def __init__(self, jar: Path, out: Path):
        from lakejobs import runtime
        from lakejobs.session import build_session

        runtime.configure_logging()
        self.spark = build_session("bench-profile", "local", {"spark.driver.extraClassPath": str(jar)})
        self.profiler = self.spark._jvm.one.profiler.AsyncProfiler.getInstance(str(native_library(jar)))
        self.pid = self.spark._jvm.ProcessHandle.current().pid()
        self.out = out

    def cpu_times(self):
        """(user, system) CPU seconds of the JVM so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / ticks, int(fields[12]) / ticks

    def run(self, label: str, work) -> dict:
        """Run ``work()`` under the sampler; write its stacks; return its times."""
        collapsed = self.out / f"{label}.collapsed"
        user, system = self.cpu_times()
        started = time.monotonic()
        self.profiler.execute(f"start,event=cpu,interval={INTERVAL}")
        try:
            work()
        finally:
            self.profiler.execute(f"stop,file={collapsed},collapsed")
        wall = time.monotonic() - started
        user_end, system_end = self.cpu_times()
        return {"job": label, "wall_s": wall, "user_s": user_end - user, "system_s": system_end - system}


def profile_pipeline(jar: Path, raw: Path, work: Path, out: Path) -> list:
    """Profile each job of the pipeline on ``raw``, in one JVM."""
    from lakejobs import fs
    from lakejobs.pipeline import pipeline_steps

    profiled = Profiled(jar, out)
    shutil.rmtree(work / "lake", ignore_errors=True)
    times = []
    for label, module, argv in pipeline_steps(fs.qualify(str(raw)), fs.qualify(str(work / "lake"))):
        name = label.split()[-1]
        times.append(profiled.run(name, lambda m=module, a=argv: m.run(profiled.spark, m.parse_args(a))))
    return times


def profile_floor(jar: Path, raw: Path, work: Path, out: Path) -> list:
    """Profile Spark's floor for orders (``spark_floor.write_floor``), in this fresh JVM."""
    from spark_floor import write_floor

    profiled = Profiled(jar, out)
    return [profiled.run("floor", lambda: write_floor(profiled.spark, str(raw / "orders"), str(work / "floor")))]


def table(times: list, out: Path) -> str:
    """CPU seconds per component (rows) and job (columns), then wall, user and system seconds."""
    jobs = [t["job"] for t in times]
    seconds = {job: cpu_by_component(out / f"{job}.collapsed") for job in jobs}
    lines = ["| CPU seconds | " + " | ".join(jobs) + " |", "| --- |" + " ---: |" * len(jobs)]
    for name, _markers in COMPONENTS:
        lines.append(f"| {name} | " + " | ".join(f"{seconds[job][name]:.1f}" for job in jobs) + " |")
    lines.append("| **sampled, total** | " + " | ".join(f"{sum(seconds[j].values()):.1f}" for j in jobs) + " |")
    for key, title in (("wall_s", "wall seconds"), ("user_s", "JVM user CPU"), ("system_s", "JVM system CPU")):
        lines.append(f"| {title} | " + " | ".join(f"{t[key]:.1f}" for t in times) + " |")
    return "\n".join(lines)


def main() -> int:
    """Profile the pipeline and the floor at ``--scale``; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=10_000_000, help="order lines (bench/data/<scale>-42)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profiler", help="async-profiler jar (tools.profiler:async-profiler)")
    parser.add_argument("--floor", action="store_true", help="internal: profile the floor in this process")
    parser.add_argument("--table-only", action="store_true", help="only print the table of the last profile")
    args = parser.parse_args()
    out = BENCH / "work" / "profile"
    times_file = out / "times.json"
    if not args.table_only:
        sys.path.insert(0, str(BENCH))
        from run import raw_zone

        raw, work, jar = raw_zone(args.scale, args.seed), BENCH / "work" / "profile-lake", Path(args.profiler).resolve()
        out.mkdir(parents=True, exist_ok=True)
        if args.floor:
            print(json.dumps(profile_floor(jar, raw, work, out)))
            return 0
        times = profile_pipeline(jar, raw, work, out)
        floor = subprocess.run([sys.executable, *sys.argv, "--floor"], check=True, capture_output=True, text=True)
        times += json.loads(floor.stdout.strip().splitlines()[-1])
        times_file.write_text(json.dumps({"scale_rows": args.scale, "jobs": times}))
    profiled = json.loads(times_file.read_text())
    print(f"CPU by component at {profiled['scale_rows']:,} order lines (collapsed stacks in {out}):")
    print(table(profiled["jobs"], out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
