"""The two paths a clean Parquet run does not take: a dirty orders batch, and Delta output.

A clean conversion to Parquet reads its CSV once. A batch with bad lines reads it a second
time to keep them for the quarantine (``csv_to_parquet``'s step 3), and a Delta output takes
the persisted passes instead of the single pass. Session 19 found both running code the JVM
could not compile, which the clean bench could not see; ``make bench`` now times both:

- ``dirty_orders``: the orders conversion alone, to Parquet, on a copy of the orders files in
  which every ``BAD_EVERY``-th line's ``orderqty`` is ``x`` (one line in 100,000); it must
  quarantine exactly those lines and write every other one;
- ``delta``: the whole pipeline with ``--format delta``; its mart must agree with DuckDB's like
  the Parquet pipeline's (read through the table's log: the files it adds and does not remove).
"""

import json
import sys
import urllib.parse
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from measure import job_times, median_of, month_totals, most_files_in_a_folder, result_cpu_s, run_measured

from lakejobs.generate import HEADERS

BAD_EVERY = 100_000
ORDERQTY_FIELD = HEADERS["orders"].index("orderqty")


def dirty_orders(raw: Path) -> Tuple[Path, int]:
    """A copy of ``raw/orders`` with every ``BAD_EVERY``-th line's orderqty set to ``x``.

    Written once next to the raw zone and reused. Returns the folder and its bad line count.
    """
    folder, marker = raw.parent / "dirtyOrders", raw.parent / "dirtyOrders.bad_lines"
    if marker.exists():
        return folder, int(marker.read_text())
    folder.mkdir(exist_ok=True)
    line_number, bad = 0, 0
    for source in sorted((raw / "orders").glob("*.csv")):
        with source.open() as lines, (folder / source.name).open("w") as out:
            for line in lines:
                line_number += 1
                if line_number % BAD_EVERY == 0:
                    fields = line.rstrip("\n").split(",")
                    fields[ORDERQTY_FIELD] = "x"
                    line, bad = ",".join(fields) + "\n", bad + 1
                out.write(line)
    marker.write_text(f"{bad}\n")
    return folder, bad


def lakejobs_cli(*argv: str) -> List[str]:
    """The command line of ``lakejobs ARGV`` with this Python."""
    return [sys.executable, "-m", "lakejobs.cli", *argv]


def run_dirty_orders(dirty: Path, bad_lines: int, references: Path, work: Path) -> dict:
    """Convert the dirty orders to Parquet alone (its own JVM); check the quarantine; time it."""
    out = work / "dirty_orders"
    out_text, _wall, _peak, trace = run_measured(
        lakejobs_cli(
            "run", "csv_to_parquet", "--dataset", "orders", "--input_path", str(dirty),
            "--output_path", str(out / "orders"), "--references_path", str(references),
        )
    )  # fmt: skip
    result = json.loads(out_text.strip().splitlines()[-1])
    read, written, quarantined = result["rows_read"], result["rows_written"], result["rows_quarantined"]
    if quarantined != bad_lines or written + quarantined != read:
        raise SystemExit(
            f"bench: the dirty orders run read {read} lines, wrote {written} and quarantined {quarantined};"
            f" {bad_lines} were bad; no times reported"
        )
    return {
        "dirty_orders_s": result["duration_s"],
        "dirty_orders_cpu_s": result_cpu_s(result, trace),
        "dirty_orders_stages_s": result["stages_s"],
        "dirty_orders_quarantined": quarantined,
    }


def run_delta_pipeline(raw: Path, work: Path) -> dict:
    """Run the whole pipeline with Delta output (its own JVM); seconds per stage."""
    lake = work / "delta"
    _out, _wall, _peak, trace = run_measured(
        lakejobs_cli("pipeline", "--raw", str(raw), "--lake", str(lake), "--format", "delta")
    )
    stage_s, stage_cpu_s = job_times(lake / "_lakejobs" / "runs", trace)
    return {
        "delta_s": sum(stage_s.values()),
        "delta_cpu_s": sum(stage_cpu_s.values()),
        "delta_stage_s": stage_s,
    }


def delta_files(table: Path) -> List[str]:
    """The data files of a Delta table's latest version: those its log adds and does not remove.

    Reads the JSON commits only; a table with a checkpoint is refused (the bench writes new
    tables of a few commits, which have none).
    """
    log = table / "_delta_log"
    if list(log.glob("*.checkpoint*.parquet")):
        raise SystemExit(f"bench: {table} has a checkpoint; this reader only follows JSON commits")
    live = {}
    for commit in sorted(log.glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                live[action["add"]["path"]] = True
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    return [str(table / urllib.parse.unquote(path)) for path in live]


def delta_files_per_partition(table: Path) -> int:
    """The most live data files any one partition of a Delta table holds."""
    return most_files_in_a_folder(delta_files(table))


def dirty_summary(samples: Sequence[dict], bad_lines: int, clean_orders_s: float, floor_s: float) -> Dict:
    """Medians of the dirty orders runs, against the clean conversion and Spark's floor."""
    seconds = median_of(samples, "dirty_orders_s")
    stages = samples[0]["dirty_orders_stages_s"]
    return {
        "bad_lines": bad_lines,
        "bad_every": BAD_EVERY,
        "lakejobs_s": round(seconds, 3),
        "lakejobs_cpu_s": round(median_of(samples, "dirty_orders_cpu_s"), 1),
        "ratio_to_clean": round(seconds / clean_orders_s, 2),
        "ratio_to_floor": round(seconds / floor_s, 2),
        "stages_s": {name: round(median_of(samples, "dirty_orders_stages_s", name), 3) for name in stages},
    }


def delta_summary(samples: Sequence[dict], lake: Path, duckdb_totals: list, parquet_s: float, duckdb_s: float) -> Dict:
    """Medians of the Delta pipeline runs, after checking its mart against DuckDB's."""
    if month_totals(delta_files(lake / "mart" / "sales")) != duckdb_totals:
        raise SystemExit("bench: the Delta pipeline's mart and DuckDB's disagree; no times reported")
    seconds = median_of(samples, "delta_s")
    return {
        "lakejobs_s": round(seconds, 2),
        "lakejobs_cpu_s": round(median_of(samples, "delta_cpu_s"), 1),
        "ratio_to_parquet": round(seconds / parquet_s, 2),
        "ratio_to_duckdb": round(seconds / duckdb_s, 2),
        "stages_s": {name: round(median_of(samples, "delta_stage_s", name), 3) for name in samples[0]["delta_stage_s"]},
        "processed_orders_max_files_per_partition": delta_files_per_partition(lake / "processedData" / "orders"),
        "mart_sales_max_files_per_partition": delta_files_per_partition(lake / "mart" / "sales"),
    }
