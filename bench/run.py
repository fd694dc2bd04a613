"""``make bench``: lakejobs vs DuckDB vs Spark's floor, at several scales, on this machine.

For each scale (order lines; dimensions scale with them), with ``lakejobs generate`` and a
fixed seed: (1) the lakejobs pipeline in its own process, each stage timed; then the paths a
clean Parquet run does not take (``bench/other_paths.py``): the orders conversion of a dirty
batch (and of the clean orders alone, its reference), and the pipeline with Delta output, run
twice into the same lake (the second run MERGEs into existing tables); (2) the same work in DuckDB
(``bench/duckdb_reference.py``); (3) Spark's floor for orders (``bench/spark_floor.py``); (4)
Spark's floor for the whole pipeline (``bench/spark_pipeline_floor.py``). Every sample's outputs
are checked before any time is reported: every table of lakejobs' lake and of the pipeline
floor's against DuckDB's (``bench/agreement.py``: rows, money and keys per partition), nothing
quarantined, the orders floor's row count, the dirty run's quarantine. Writes
``bench/results/<date>.json`` and ``<date>.png``.
"""

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import agreement  # noqa: E402
import duckdb_reference  # noqa: E402
import other_paths  # noqa: E402
from measure import (  # noqa: E402
    files_per_partition,
    folder_bytes,
    job_peaks,
    job_times,
    median_of,
    month_totals,
    result_cpu_s,
    run_measured,
    sales_glob,
    source_digest,
)

import lakejobs.generate  # noqa: E402
from lakejobs.generate import generate  # noqa: E402

BENCH = Path(__file__).resolve().parent
#: The cores this process may run on (what Spark's ``local[*]`` sees), not the machine's.
CORES = len(os.sched_getaffinity(0))
DATASETS = ("customers", "employees", "orders")


def raw_zone(scale: int, seed: int) -> Path:
    """Generate the raw zone once per (scale, seed, generator's code) and reuse it."""
    raw = BENCH / "data" / f"{scale}-{seed}" / "rawData"
    marker = raw.parent / "done.json"
    generator = source_digest(lakejobs.generate)
    if not marker.exists() or json.loads(marker.read_text()).get("generator") != generator:
        started = time.monotonic()
        generate(str(raw), scale, seed=seed)
        marker.write_text(json.dumps({"generator": generator, "seconds": round(time.monotonic() - started, 1)}))
    return raw


def spark_floor(raw: Path, work: Path, encoding: str) -> dict:
    """Run ``spark_floor.py`` on orders in its own JVM; return its JSON result."""
    argv = [sys.executable, str(BENCH / "spark_floor.py"), str(raw / "orders"), str(work / f"floor_{encoding}")]
    out, _wall, _peak, trace = run_measured([*argv, "--encoding", encoding])
    result = json.loads(out.strip().splitlines()[-1])
    result["floor_cpu_s"] = trace.between(result["ready_at"], result["done_at"])
    result["floor_rows"] = agreement.row_count(work / f"floor_{encoding}", "*.parquet")
    return result


def spark_pipeline_floor(raw: Path, work: Path) -> dict:
    """Run ``spark_pipeline_floor.py`` (the whole pipeline in plain Spark) in its own JVM."""
    argv = [sys.executable, str(BENCH / "spark_pipeline_floor.py"), str(raw), str(work / "pipeline_floor")]
    out, _wall, _peak, trace = run_measured(argv)
    result = json.loads(out.strip().splitlines()[-1])
    result["pipeline_floor_cpu_s"] = trace.between(result["ready_at"], result["done_at"])
    return result


def run_once(raw: Path, dirty: Tuple[Path, int], work: Path) -> dict:
    """One sample, one after the other: lakejobs (clean; dirty and clean orders alone; Delta twice), DuckDB, floors."""
    subprocess.run(["rm", "-rf", str(work)], check=True)
    out, wall, peak_mib, trace = run_measured(
        [sys.executable, "-m", "lakejobs.cli", "pipeline", "--raw", str(raw), "--lake", str(work / "lakejobs")]
    )
    pipeline = json.loads(out.strip().splitlines()[-1])
    stage_s, stage_cpu_s = job_times(work / "lakejobs" / "_lakejobs" / "runs", trace)
    stage_peak_mib = job_peaks(work / "lakejobs" / "_lakejobs" / "runs", trace)
    dirty_orders = other_paths.run_dirty_orders(*dirty, raw, work / "lakejobs" / "processedData", work)
    delta = other_paths.run_delta_pipeline(raw, work)
    delta_rerun = other_paths.run_delta_pipeline(raw, work, prefix="delta_rerun")
    ddb_started, ddb_cpu_started = time.monotonic(), time.process_time()
    ddb_stage_s = duckdb_reference.run(str(raw), str(work / "duckdb"), threads=CORES)
    duckdb_s, duckdb_cpu_s = time.monotonic() - ddb_started, time.process_time() - ddb_cpu_started
    floor, floor_default = spark_floor(raw, work, "dataset"), spark_floor(raw, work, "default")
    pipeline_floor = spark_pipeline_floor(raw, work)
    check_sample(work, pipeline, (floor, floor_default))
    return {
        # From the pipeline's start, after the session is up, to its end: the jobs and what runs
        # between them (argument parsing, preflight, run reports). Until session 32 this was the
        # sum of the jobs' own times, which left those out.
        "lakejobs_s": pipeline["duration_s"],
        "lakejobs_stages_s": sum(stage_s.values()),
        "lakejobs_cpu_s": result_cpu_s(pipeline, trace),
        "lakejobs_wall_s": wall,
        "startup_s": wall - pipeline["duration_s"],
        "stage_s": stage_s,
        "stage_cpu_s": stage_cpu_s,
        "stage_peak_mib": stage_peak_mib,
        "peak_mib": peak_mib,
        "rows_read": sum(
            step["rows_read"] for step in pipeline["details"]["steps"] if step["step"].startswith("csv_to_parquet")
        ),
        "duckdb_s": duckdb_s,
        "duckdb_cpu_s": duckdb_cpu_s,
        "duckdb_stage_s": ddb_stage_s,
        "floor_s": floor["floor_s"],
        "floor_cpu_s": floor["floor_cpu_s"],
        "floor_default_encoding_s": floor_default["floor_s"],
        "pipeline_floor_s": pipeline_floor["pipeline_floor_s"],
        "pipeline_floor_cpu_s": pipeline_floor["pipeline_floor_cpu_s"],
        "pipeline_floor_stage_s": pipeline_floor["steps_s"],
        **dirty_orders,
        **delta,
        **delta_rerun,
    }


def check_sample(work: Path, pipeline: dict, floors) -> None:
    """Stop the bench unless this sample's outputs agree (see the module docstring)."""
    problems = [f"lakejobs and DuckDB: {line}" for line in agreement.disagreements(work / "lakejobs", work / "duckdb")]
    problems += [
        f"the pipeline floor and DuckDB: {line}"
        for line in agreement.disagreements(work / "pipeline_floor", work / "duckdb")
    ]
    if pipeline["rows_quarantined"]:
        problems.append(f"the clean pipeline quarantined {pipeline['rows_quarantined']} rows")
    orders = agreement.row_count(work / "duckdb" / "processedData" / "orders", "*/*.parquet")
    problems += [
        f"an orders floor wrote {f['floor_rows']} of {orders} rows" for f in floors if f["floor_rows"] != orders
    ]
    if problems:
        raise SystemExit("bench: outputs disagree; no times reported:\n  " + "\n  ".join(problems))


def bench_scale(scale: int, seed: int, repeat: int):
    """Measure one scale ``repeat`` times, interleaving the engines; report medians."""
    raw = raw_zone(scale, seed)
    work = BENCH / "work" / str(scale)
    csv_bytes = folder_bytes(raw)
    orders_csv = folder_bytes(raw / "orders")
    dirty = other_paths.dirty_orders(raw)
    samples = [run_once(raw, dirty, work) for _ in range(repeat)]
    theirs = month_totals([sales_glob(work / "duckdb")])
    lakejobs_s, duckdb_s = median_of(samples, "lakejobs_s"), median_of(samples, "duckdb_s")
    floor_s, floor_default_s = median_of(samples, "floor_s"), median_of(samples, "floor_default_encoding_s")
    wall_s = median_of(samples, "lakejobs_wall_s")
    stage_s = {name: median_of(samples, "stage_s", name) for name in samples[0]["stage_s"]}
    stage_cpu_s = {name: median_of(samples, "stage_cpu_s", name) for name in samples[0]["stage_cpu_s"]}
    pipeline_floor_s = median_of(samples, "pipeline_floor_s")
    cpu_keys = ("lakejobs_cpu_s", "duckdb_cpu_s", "floor_cpu_s", "pipeline_floor_cpu_s")
    cpu_s = {key: median_of(samples, key) for key in cpu_keys}
    floor_stage_s = {name: median_of(samples, "pipeline_floor_stage_s", name) for name in stage_s}
    ddb_stage_s = {name: median_of(samples, "duckdb_stage_s", name) for name in samples[0]["duckdb_stage_s"]}
    stage_bytes = stage_input_output_bytes(raw, work / "lakejobs")
    return {
        "scale_rows": scale,
        "samples": repeat,
        "csv_bytes": csv_bytes,
        "lakejobs_s": round(lakejobs_s, 2),
        "lakejobs_wall_s": round(wall_s, 2),
        "lakejobs_startup_s": round(median_of(samples, "startup_s"), 2),
        "duckdb_s": round(duckdb_s, 2),
        "floor_s": round(floor_s, 3),
        "floor_default_encoding_s": round(floor_default_s, 3),
        "pipeline_floor_s": round(pipeline_floor_s, 2),
        "cpu_s": {key[: -len("_cpu_s")]: round(value, 1) for key, value in cpu_s.items()},
        "stages": {
            name: {
                "lakejobs_s": round(stage_s[name], 3) if name in stage_s else None,
                "lakejobs_cpu_s": round(stage_cpu_s[name], 1) if name in stage_cpu_s else None,
                "duckdb_s": round(ddb_stage_s[name], 2),
                "pipeline_floor_s": round(floor_stage_s[name], 3) if name in floor_stage_s else None,
                "ratio_to_duckdb": round(stage_s[name] / ddb_stage_s[name], 2) if stage_s.get(name) else None,
                "ratio_to_pipeline_floor": round(stage_s[name] / floor_stage_s[name], 2),
                "input_mib_per_s_per_core": round(stage_bytes[name][0] / 2**20 / stage_s[name] / CORES, 2),
                "output_to_input_bytes": round(stage_bytes[name][1] / stage_bytes[name][0], 3),
                "peak_driver_rss_mib": round(max(sample["stage_peak_mib"][name] for sample in samples)),
            }
            for name in ddb_stage_s
        },
        # The pipeline's conversion runs in a JVM the dimensions warmed; the floors start cold.
        "orders_conversion_ratio_to_floor": round(stage_s["convert_orders"] / floor_s, 2),
        "orders_conversion_ratio_to_default_encoding_floor": round(stage_s["convert_orders"] / floor_default_s, 2),
        # Like for like: the same conversion alone in a fresh JVM, as each floor runs (since session 34).
        "orders_alone_ratio_to_floor": round(median_of(samples, "clean_orders_alone_s") / floor_s, 2),
        "orders_alone_ratio_to_default_encoding_floor": round(
            median_of(samples, "clean_orders_alone_s") / floor_default_s, 2
        ),
        "ratio_to_duckdb": round(lakejobs_s / duckdb_s, 2),
        "pipeline_floor_ratio_to_duckdb": round(pipeline_floor_s / duckdb_s, 2),
        "ratio_to_pipeline_floor": round(lakejobs_s / pipeline_floor_s, 2),
        "orders_conversion_cpu_ratio_to_floor": round(stage_cpu_s["convert_orders"] / cpu_s["floor_cpu_s"], 2),
        "cpu_ratio_to_duckdb": round(cpu_s["lakejobs_cpu_s"] / cpu_s["duckdb_cpu_s"], 2),
        "mb_per_s_per_core": round(csv_bytes / 2**20 / lakejobs_s / CORES, 2),  # MiB of raw CSV
        "cores": CORES,
        "s_per_million_rows": round(lakejobs_s / (scale / 1e6), 2),
        "orders_parquet_to_csv_bytes": round(
            folder_bytes(work / "lakejobs" / "processedData" / "orders", ".parquet") / orders_csv, 3
        ),
        "mart_sales_max_files_per_partition": files_per_partition(work / "lakejobs" / "mart" / "sales"),
        "processed_orders_max_files_per_partition": files_per_partition(work / "lakejobs" / "processedData" / "orders"),
        "peak_driver_rss_mib": round(max(sample["peak_mib"] for sample in samples)),
        "rows": {"converted": samples[-1]["rows_read"], "sales_month_partitions": len(theirs)},
        "tables_checked": sorted(agreement.CHECKS),
        "dirty_orders": other_paths.dirty_summary(samples, dirty[1], floor_s),
        "delta": other_paths.delta_summary(samples, theirs, lakejobs_s, duckdb_s),
        "per_sample": [
            {
                "lakejobs_s": round(sample["lakejobs_s"], 2),
                "duckdb_s": round(sample["duckdb_s"], 2),
                "floor_s": sample["floor_s"],
                "floor_default_encoding_s": sample["floor_default_encoding_s"],
                "pipeline_floor_s": sample["pipeline_floor_s"],
                "stages_s": sample["stage_s"],
                "pipeline_floor_stages_s": sample["pipeline_floor_stage_s"],
                "dirty_orders_s": sample["dirty_orders_s"],
                "dirty_orders_stages_s": sample["dirty_orders_stages_s"],
                "clean_orders_alone_s": sample["clean_orders_alone_s"],
                "delta_s": round(sample["delta_s"], 2),
                "delta_stages_s": sample["delta_stage_s"],
                "delta_rerun_s": round(sample["delta_rerun_s"], 2),
                "delta_rerun_stages_s": sample["delta_rerun_stage_s"],
                "cpu_s": {
                    "lakejobs": round(sample["lakejobs_cpu_s"], 1),
                    "duckdb": round(sample["duckdb_cpu_s"], 1),
                    "floor": round(sample["floor_cpu_s"], 1),
                    "pipeline_floor": round(sample["pipeline_floor_cpu_s"], 1),
                    "dirty_orders": round(sample["dirty_orders_cpu_s"], 1),
                    "delta": round(sample["delta_cpu_s"], 1),
                    "delta_rerun": round(sample["delta_rerun_cpu_s"], 1),
                    "clean_orders_alone": round(sample["clean_orders_alone_cpu_s"], 1),
                    **{name: round(value, 1) for name, value in sample["stage_cpu_s"].items()},
                },
            }
            for sample in samples
        ],
    }


def stage_input_output_bytes(raw: Path, lake: Path) -> dict:
    """Per stage: (bytes read, bytes written).

    A conversion reads its CSV and writes its table; the mart reads the three tables and writes
    mart/ (sales and both summaries).
    """
    tables = {name: folder_bytes(lake / "processedData" / name, ".parquet") for name in DATASETS}
    result = {f"convert_{name}": (folder_bytes(raw / name), tables[name]) for name in DATASETS}
    result["sales_mart"] = (sum(tables.values()), folder_bytes(lake / "mart", ".parquet"))
    return result


def chart(results, path: Path) -> None:
    """Seconds vs rows, log-log: lakejobs (Parquet and Delta output), DuckDB and the floors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = [r["scale_rows"] for r in results]
    figure, axes = plt.subplots(figsize=(6, 4))
    series = (
        ("lakejobs (Spark)", lambda result: result["lakejobs_s"]),
        ("lakejobs, Delta output", lambda result: result["delta"]["lakejobs_s"]),
        ("Spark floor (whole pipeline)", lambda result: result["pipeline_floor_s"]),
        ("DuckDB", lambda result: result["duckdb_s"]),
        ("Spark floor (orders)", lambda result: result["floor_s"]),
    )
    for label, seconds in series:
        axes.loglog(scales, [seconds(r) for r in results], marker="o", label=label)
    axes.set_xlabel("order lines")
    axes.set_ylabel("seconds")
    axes.set_title(f"lakejobs pipeline vs DuckDB, {CORES} cores")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    """Run every scale, then write the results and the chart."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default="1000000,5000000,10000000")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--repeat", type=int, default=1, help="samples per scale, engines interleaved; medians are reported"
    )
    parser.add_argument("--label", help="results are written as <date>-<label>.json and .png")
    args = parser.parse_args()
    results = []
    for scale in (int(part) for part in args.scales.split(",")):
        print(f"bench: {scale} order lines ...", flush=True)
        results.append(bench_scale(scale, args.seed, args.repeat))
        print(json.dumps(results[-1]), flush=True)
    stamp = dt.date.today().isoformat() + (f"-{args.label}" if args.label else "")
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / f"{stamp}.json").write_text(json.dumps(results, indent=1) + "\n")
    chart(results, BENCH / "results" / f"{stamp}.png")
    print(f"bench: wrote bench/results/{stamp}.json and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
