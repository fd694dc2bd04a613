"""The two paths a clean Parquet run does not take: a dirty orders batch, and Delta output.

A clean conversion to Parquet reads its CSV once. A batch with bad lines reads it a second
time to keep them for the quarantine (``csv_to_parquet``'s step 3), and a Delta output takes
the persisted passes instead of the single pass. Session 19 found both running code the JVM
could not compile, which the clean bench could not see; ``make bench`` now times both:

- ``dirty_orders``: the orders conversion alone, to Parquet, on a copy of the orders files in
  which every ``BAD_EVERY``-th line's ``orderqty`` is ``x`` (one line in 100,000); it must
  quarantine exactly those lines and write every other one. The clean orders are converted
  alone the same way, as its reference;
- ``delta``: the whole pipeline with ``--format delta``, then again into the same lake (a rerun:
  every table takes a MERGE of the same rows); both marts must agree with DuckDB's like the
  Parquet pipeline's (read through the table's log: the files it adds and does not remove).
"""

import json
import shutil
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from measure import job_times, median_of, month_totals, most_files_in_a_folder, result_cpu_s, run_measured

from lakejobs.generate import HEADERS

BAD_EVERY = 100_000
#: The table each pipeline step writes; a Delta commit's rows (a MERGE's inserted plus updated)
#: must equal the rows the step read, on a rerun too.
TABLES = {
    "csv_to_parquet customers": "customers",
    "csv_to_parquet employees": "employees",
    "csv_to_parquet orders": "orders",
    "sales_mart": "sales",
}
ORDERQTY_FIELD = HEADERS["orders"].index("orderqty")


def dirty_orders(raw: Path) -> Tuple[Path, int]:
    """A copy of ``raw/orders`` with every ``BAD_EVERY``-th line's orderqty set to ``x``.

    Written next to the raw zone and reused while the raw zone and ``BAD_EVERY`` stay the same
    (the raw zone's marker, ``done.json``, changes when its generator does). Returns the folder
    and its bad line count.
    """
    folder, marker = raw.parent / "dirtyOrders", raw.parent / "dirtyOrders.json"
    made_from = {"raw_zone": (raw.parent / "done.json").read_text(), "bad_every": BAD_EVERY}
    if marker.exists() and json.loads(marker.read_text()).get("made_from") == made_from:
        return folder, int(json.loads(marker.read_text())["bad_lines"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
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
    marker.write_text(json.dumps({"made_from": made_from, "bad_lines": bad}))
    return folder, bad


def lakejobs_cli(*argv: str) -> List[str]:
    """The command line of ``lakejobs ARGV`` with this Python."""
    return [sys.executable, "-m", "lakejobs.cli", *argv]


def orders_alone(orders: Path, references: Path, out: Path) -> Tuple[dict, float]:
    """Convert ``orders`` to Parquet in its own JVM, as the dirty run does; (result, CPU seconds)."""
    out_text, _wall, _peak, trace = run_measured(
        lakejobs_cli(
            "run", "csv_to_parquet", "--dataset", "orders", "--input_path", str(orders),
            "--output_path", str(out / "orders"), "--references_path", str(references),
        )
    )  # fmt: skip
    result = json.loads(out_text.strip().splitlines()[-1])
    return result, result_cpu_s(result, trace)


def run_dirty_orders(dirty: Path, bad_lines: int, raw: Path, references: Path, work: Path) -> dict:
    """The dirty orders, then the clean ones, each converted alone; check the quarantine; time both.

    The clean run alone is the dirty run's like-for-like reference (a fresh JVM each), where the
    pipeline's orders conversion runs in a JVM the dimensions warmed.
    """
    result, cpu_s = orders_alone(dirty, references, work / "dirty_orders")
    read, written, quarantined = result["rows_read"], result["rows_written"], result["rows_quarantined"]
    if quarantined != bad_lines or written + quarantined != read:
        raise SystemExit(
            f"bench: the dirty orders run read {read} lines, wrote {written} and quarantined {quarantined};"
            f" {bad_lines} were bad; no times reported"
        )
    clean, clean_cpu_s = orders_alone(raw / "orders", references, work / "clean_orders")
    if clean["rows_written"] != read or clean["rows_quarantined"] != 0:
        raise SystemExit(
            f"bench: the clean orders run alone wrote {clean['rows_written']} of {read} rows and quarantined"
            f" {clean['rows_quarantined']}; no times reported"
        )
    return {
        "dirty_orders_s": result["duration_s"],
        "dirty_orders_cpu_s": cpu_s,
        "dirty_orders_stages_s": result["stages_s"],
        "dirty_orders_quarantined": quarantined,
        "clean_orders_alone_s": clean["duration_s"],
        "clean_orders_alone_cpu_s": clean_cpu_s,
        "clean_orders_alone_stages_s": clean["stages_s"],
    }


def run_delta_pipeline(raw: Path, work: Path, prefix: str = "delta") -> dict:
    """Run the whole pipeline with Delta output into ``work/delta`` (its own JVM); seconds per stage.

    The first run (``prefix`` ``delta``) creates the tables; a second one (``delta_rerun``) MERGEs
    the same rows into them, as a rerun of a day's batch does. Every row must be written.
    """
    lake = work / "delta"
    started = time.time()
    out, _wall, _peak, trace = run_measured(
        lakejobs_cli("pipeline", "--raw", str(raw), "--lake", str(lake), "--format", "delta")
    )
    result = json.loads(out.strip().splitlines()[-1])
    written = {output["name"]: output["rows"] for output in result["outputs"] if output["name"] in TABLES.values()}
    expected = {TABLES[step["step"]]: step["rows_read"] for step in result["details"]["steps"]}
    if written != expected or result["rows_quarantined"]:
        raise SystemExit(f"bench: the {prefix} pipeline's commits wrote {written} rows, not {expected}")
    stage_s, stage_cpu_s = job_times(lake / "_lakejobs" / "runs", trace, since=started)
    orders, sales = delta_files(lake / "processedData" / "orders"), delta_files(lake / "mart" / "sales")
    return {
        f"{prefix}_s": result["duration_s"],  # as the Parquet pipeline is timed: its jobs and between them
        f"{prefix}_cpu_s": sum(stage_cpu_s.values()),
        f"{prefix}_stage_s": stage_s,
        f"{prefix}_month_totals": month_totals(sales),
        f"{prefix}_orders_bytes": sum(Path(name).stat().st_size for name in orders),
        f"{prefix}_files_per_partition": {
            "processed_orders": most_files_in_a_folder(orders),
            "mart_sales": most_files_in_a_folder(sales),
        },
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


def stage_medians(samples: Sequence[dict], key: str) -> Dict[str, float]:
    """The median of each stage's seconds under ``key`` over the samples."""
    return {name: round(median_of(samples, key, name), 3) for name in samples[0][key]}


def dirty_summary(samples: Sequence[dict], bad_lines: int, floor_s: float) -> Dict:
    """Medians of the dirty orders runs, against the clean orders run alone and Spark's floor."""
    seconds, clean_s = median_of(samples, "dirty_orders_s"), median_of(samples, "clean_orders_alone_s")
    return {
        "bad_lines": bad_lines,
        "bad_every": BAD_EVERY,
        "lakejobs_s": round(seconds, 3),
        "lakejobs_cpu_s": round(median_of(samples, "dirty_orders_cpu_s"), 1),
        "clean_alone_s": round(clean_s, 3),
        "clean_alone_cpu_s": round(median_of(samples, "clean_orders_alone_cpu_s"), 1),
        "ratio_to_clean": round(seconds / clean_s, 2),
        "ratio_to_floor": round(seconds / floor_s, 2),
        "stages_s": stage_medians(samples, "dirty_orders_stages_s"),
        "clean_alone_stages_s": stage_medians(samples, "clean_orders_alone_stages_s"),
    }


def delta_summary(samples: Sequence[dict], duckdb_totals: list, parquet_s: float, duckdb_s: float) -> Dict:
    """Medians of the Delta pipeline runs and their reruns, after checking every mart against DuckDB's."""
    for sample in samples:
        if sample["delta_month_totals"] != duckdb_totals or sample["delta_rerun_month_totals"] != duckdb_totals:
            raise SystemExit("bench: a Delta pipeline's mart and DuckDB's disagree; no times reported")
    seconds, rerun_s = median_of(samples, "delta_s"), median_of(samples, "delta_rerun_s")
    return {
        "lakejobs_s": round(seconds, 2),
        "lakejobs_cpu_s": round(median_of(samples, "delta_cpu_s"), 1),
        "ratio_to_parquet": round(seconds / parquet_s, 2),
        "ratio_to_duckdb": round(seconds / duckdb_s, 2),
        "stages_s": stage_medians(samples, "delta_stage_s"),
        "processed_orders_max_files_per_partition": samples[-1]["delta_files_per_partition"]["processed_orders"],
        "mart_sales_max_files_per_partition": samples[-1]["delta_files_per_partition"]["mart_sales"],
        "rerun": {
            "lakejobs_s": round(rerun_s, 2),
            "lakejobs_cpu_s": round(median_of(samples, "delta_rerun_cpu_s"), 1),
            "ratio_to_first_run": round(rerun_s / seconds, 2),
            "stages_s": stage_medians(samples, "delta_rerun_stage_s"),
            "processed_orders_max_files_per_partition": samples[-1]["delta_rerun_files_per_partition"][
                "processed_orders"
            ],
            "mart_sales_max_files_per_partition": samples[-1]["delta_rerun_files_per_partition"]["mart_sales"],
            "orders_bytes_to_first_run": round(
                samples[-1]["delta_rerun_orders_bytes"] / samples[-1]["delta_orders_bytes"], 3
            ),
        },
    }
