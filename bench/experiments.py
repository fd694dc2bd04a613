"""``make bench-experiments``: one tuning knob at a time, measured on the whole pipeline.

Each variant runs the lakejobs sales pipeline (the same steps as ``lakejobs pipeline``) in a
fresh process and JVM, on the same generated raw zone, and reports seconds per step, session
start-up and the bytes of the processed orders. Variants change one thing against the
baseline (the project's settings): the Parquet codec, AQE's coalescing goal, file sizing,
input split size, how partitioned writes are arranged, or what the sales mart keeps.

The committed 2026-11-23 figures were measured when the cached join was the project's setting,
so there ``baseline`` is cached and ``mart_no_cache`` is today's setting. Writes
``bench/results/<date>-experiments.json``.
"""

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

#: name -> (what changes, Spark settings, job arguments added to every step)
VARIANTS = {
    "baseline": ("project settings (snappy, parallelismFirst=false)", {}, []),
    "zstd": ("Parquet codec zstd instead of snappy", {}, ["--compression", "zstd"]),
    "parallelism_first": (
        "AQE coalescePartitions.parallelismFirst=true",
        {"spark.sql.adaptive.coalescePartitions.parallelismFirst": "true"},
        [],
    ),
    "max_records_1m": (
        "spark.sql.files.maxRecordsPerFile=1000000",
        {"spark.sql.files.maxRecordsPerFile": "1000000"},
        [],
    ),
    "split_256m": (
        "spark.sql.files.maxPartitionBytes=256m (fewer, larger input splits)",
        {"spark.sql.files.maxPartitionBytes": "256m"},
        [],
    ),
    "mart_cache": ("sales_mart persisting the joined lines for its three outputs", {}, []),
    "mart_persist_orders": ("sales_mart persisting its one-row-per-order frame for both summaries", {}, []),
    "repartition_writes": (
        "partitioned writes shuffled by partition column and sorted (one file per value)",
        {"spark.sql.optimizer.plannedWrite.enabled": "true", "spark.sql.maxConcurrentOutputFileWriters": "0"},
        [],
    ),
}


def worker(variant: str, raw: str, lake: str) -> None:
    """Run the pipeline once under ``variant``; print one JSON line."""
    from lakejobs import pipeline, runtime
    from lakejobs.session import build_session

    _what, conf, extra_args = VARIANTS[variant]
    from lakejobs.io import writer
    from lakejobs.jobs import sales_mart

    sales_mart.CACHE_JOINED_LINES = variant == "mart_cache"
    sales_mart.PERSIST_SALES_ORDERS = variant == "mart_persist_orders"
    if variant == "repartition_writes":
        writer.PARTITIONED_WRITE = "repartition"
    runtime.configure_logging()
    started = time.monotonic()
    spark = build_session(f"bench-{variant}", "local", conf)
    for key, value in conf.items():
        spark.conf.set(key, value)  # over the runtime settings the session re-applies
    startup_s = time.monotonic() - started
    steps = {}
    for label, module, argv in pipeline.pipeline_steps(raw, lake):
        result = module.run(spark, module.parse_args([*argv, *extra_args]))
        steps[label] = round(result.duration_s, 2)
    orders = Path(lake) / "processedData" / "orders"
    print(
        json.dumps(
            {
                "variant": variant,
                "startup_s": round(startup_s, 2),
                "steps_s": steps,
                "pipeline_s": round(sum(steps.values()), 2),
                "orders_parquet_bytes": sum(p.stat().st_size for p in orders.rglob("*.parquet")),
                "orders_files": sum(1 for _ in orders.rglob("*.parquet")),
            }
        )
    )


def main() -> int:
    """Run every variant once, then write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=2000000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--raw", help=argparse.SUPPRESS)
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.raw, args.lake)
        return 0
    sys.path.insert(0, str(BENCH))
    from run import raw_zone

    raw = raw_zone(args.scale, args.seed)
    results = []
    for variant in args.variants.split(","):
        lake = BENCH / "work" / f"experiment-{variant}"
        subprocess.run(["rm", "-rf", str(lake)], check=True)
        argv = [sys.executable, __file__, "--worker", variant, "--raw", str(raw), "--lake", str(lake)]
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
        result = {"scale_rows": args.scale, "change": VARIANTS[variant][0], **json.loads(out.strip().splitlines()[-1])}
        results.append(result)
        print(json.dumps(result), flush=True)
    base = next((r for r in results if r["variant"] == "baseline"), results[0])
    for result in results:
        result["ratio_to_baseline"] = round(result["pipeline_s"] / base["pipeline_s"], 3)
        print(
            f"{result['variant']:<20}{result['pipeline_s']:>9.2f} s  x{result['ratio_to_baseline']:<6}"
            f"{result['orders_parquet_bytes'] / 2**20:>8.1f} MiB  {result['change']}"
        )
    path = BENCH / "results" / f"{dt.date.today().isoformat()}-experiments.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"bench: wrote {path.relative_to(BENCH.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
