"""``make bench-field``: the four field jobs timed on generated data.

``make bench`` times the sales pipeline only. This times the field jobs, each run ``REPEAT``
times in its own JVM (``lakejobs run``, as a user runs it), on inputs generated once per size
and seed under ``bench/data/``:

- ``taxi`` (``field-<trips>-<prices>-<seed>/``): ``TRIPS`` green-taxi trips
  (``lakejobs.generate_field.taxi_trip``) in two files, one per TLC layout (19 columns, and
  2019's with ``congestion_surcharge``); every ``BAD_EVERY``-th trip's distance is ``n/a``;
- ``stocks`` (the same folder): ``PRICES`` daily rows of ``TICKERS`` tickers in one file with a
  ticker column (``price_rows``); every ``BAD_EVERY``-th row's volume is ``many``;
- ``fx`` (``field-fx-<rates>-<seed>/``, since session 30): about ``RATES`` rates, one
  pretty-printed document per base currency (``fx_document``: ``FX_BASES`` bases, ``FX_QUOTES``
  quotes each, whole days); every ``BAD_EVERY``-th rate's close is ``n/a``;
- ``transactions`` (``field-transactions-<events>-<seed>/``, since session 30): ``EVENTS`` card
  events over two days in one JSON-lines batch (``transaction``); every ``BAD_EVERY``-th
  event's amount is ``n/a``.

Each run must read every row and quarantine exactly the bad ones before any time is reported.
Reports per job the median seconds, seconds per million rows, CPU seconds, peak RSS of the
process tree and the job's own stage seconds; writes ``bench/results/<date>-field[-<label>].json``.
"""

import argparse
import datetime as dt
import json
import random
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import result_cpu_s, run_measured, source_digest  # noqa: E402

import lakejobs.generate_field  # noqa: E402
from lakejobs.generate_field import TAXI_COLUMNS, fx_document, price_rows, taxi_trip, transaction  # noqa: E402

BENCH = Path(__file__).resolve().parent
BAD_EVERY = 100_000
TICKERS = 200
DISTANCE_FIELD = TAXI_COLUMNS.index("trip_distance")
PRICE_HEADER = "ticker,date,open,high,low,close,adj_close,volume\n"
FX_BASES = 20
FX_QUOTES = 20


def write_taxi(folder: Path, trips: int, rng: random.Random) -> int:
    """``trips`` trips over January 2019, half in each TLC layout; returns the bad ones' count."""
    folder.mkdir(parents=True, exist_ok=True)
    bad, number = 0, 0
    layouts = [("green_tripdata_2019-01a.csv", False), ("green_tripdata_2019-01b.csv", True)]
    for index, (name, congestion) in enumerate(layouts):
        header = TAXI_COLUMNS + (["congestion_surcharge"] if congestion else [])
        with (folder / name).open("w") as out:
            out.write(",".join(header) + "\n")
            for _ in range(trips // 2 + (trips % 2 if index == 0 else 0)):
                number += 1
                fields = taxi_trip(rng, number % 31, congestion)
                if number % BAD_EVERY == 0:
                    fields[DISTANCE_FIELD], bad = "n/a", bad + 1
                out.write(",".join(fields) + "\n")
    return bad


def write_stocks(folder: Path, prices: int, rng: random.Random) -> int:
    """``prices`` rows of ``TICKERS`` tickers in one file; returns the bad ones' count."""
    folder.mkdir(parents=True, exist_ok=True)
    bad, number = 0, 0
    with (folder / "prices.csv").open("w") as out:
        out.write(PRICE_HEADER)
        for ticker in range(TICKERS):
            days = prices // TICKERS + (1 if ticker < prices % TICKERS else 0)
            for row in price_rows(rng, 10.0 + ticker, days):
                number += 1
                if number % BAD_EVERY == 0:
                    row[-1], bad = "many", bad + 1
                out.write(f"T{ticker:03d}," + ",".join(row) + "\n")
    return bad


def write_fx(folder: Path, rates: int, rng: random.Random) -> Tuple[int, int]:
    """About ``rates`` rates, one document per base (whole days); returns the rates' and the bad ones' count."""
    folder.mkdir(parents=True, exist_ok=True)
    days = max(1, rates // (FX_BASES * FX_QUOTES))
    quotes = {f"Q{quote:02d}": 1.0 + quote for quote in range(FX_QUOTES)}
    bad, number = 0, 0
    for base in range(FX_BASES):
        document = fx_document(rng, f"B{base:02d}", quotes, days)
        for series in document[f"B{base:02d}"].values():
            for rate in series.values():
                number += 1
                if number % BAD_EVERY == 0:
                    rate["close"], bad = "n/a", bad + 1
        with (folder / f"B{base:02d}.json").open("w") as out:
            json.dump(document, out, indent=1)
    return number, bad


def write_transactions(folder: Path, events: int, rng: random.Random) -> int:
    """``events`` events over two days in one JSON-lines batch; returns the bad ones' count."""
    folder.mkdir(parents=True, exist_ok=True)
    bad = 0
    with (folder / "events.jsonl").open("w") as out:
        for number in range(1, events + 1):
            event = transaction(rng, number, dt.date(2024, 3, 1 + number % 2))
            if number % BAD_EVERY == 0:
                event["amount"], bad = "n/a", bad + 1
            out.write(json.dumps(event) + "\n")
    return bad


WRITERS = (write_taxi, write_stocks, write_fx, write_transactions)


def generated(root: Path, write: Callable[[random.Random], Dict[str, dict]], seed: int) -> Dict[str, dict]:
    """``write``'s inputs below ``root``, made once per generator code (``done.json``): job -> folder, counts."""
    marker = root / "done.json"
    generator = source_digest(lakejobs.generate_field, *WRITERS)
    if not marker.exists() or json.loads(marker.read_text()).get("generator") != generator:
        shutil.rmtree(root, ignore_errors=True)  # a changed generator may write fewer files
        root.mkdir(parents=True)
        marker.write_text(json.dumps({"generator": generator, "jobs": write(random.Random(seed))}))
    counts = json.loads(marker.read_text())["jobs"]
    for job in counts.values():
        job["folder"] = str(root / job["folder"])
    return counts


def inputs(trips: int, prices: int, rates: int, events: int, seed: int) -> Dict[str, dict]:
    """Every job's input, generated once per size and seed: job -> folder and counts."""
    data = BENCH / "data"
    root = data / f"field-{trips}-{prices}-{seed}"

    def csv_inputs(rng: random.Random) -> Dict[str, dict]:
        return {
            "taxi_trips": {"rows": trips, "bad": write_taxi(root / "taxi", trips, rng), "folder": "taxi"},
            "stock_prices": {"rows": prices, "bad": write_stocks(root / "stocks", prices, rng), "folder": "stocks"},
        }

    fx_root = data / f"field-fx-{rates}-{seed}"

    def fx_inputs(rng: random.Random) -> Dict[str, dict]:
        rows, bad = write_fx(fx_root / "fx", rates, rng)
        return {"fx_rates": {"rows": rows, "bad": bad, "folder": "fx"}}

    events_root = data / f"field-transactions-{events}-{seed}"

    def event_inputs(rng: random.Random) -> Dict[str, dict]:
        bad = write_transactions(events_root / "transactions", events, rng)
        return {"transactions": {"rows": events, "bad": bad, "folder": "transactions"}}

    return {
        **generated(root, csv_inputs, seed),
        **generated(fx_root, fx_inputs, seed),
        **generated(events_root, event_inputs, seed),
    }


def run_job(job: str, expected: dict, work: Path) -> dict:
    """Run ``job`` once in its own JVM on fresh outputs; check its counts; its measures."""
    shutil.rmtree(work, ignore_errors=True)
    argv = [sys.executable, "-m", "lakejobs.cli", "run", job, "--input_path", expected["folder"]]
    argv += ["--output_path", str(work / "table"), "--quarantine_path", str(work / "quarantine")]
    out, wall, peak_mib, trace = run_measured(argv)
    result = json.loads(out.strip().splitlines()[-1])
    counts = (result["rows_read"], result["rows_written"], result["rows_quarantined"])
    if counts != (expected["rows"], expected["rows"] - expected["bad"], expected["bad"]):
        raise SystemExit(
            f"bench: {job} read, wrote and quarantined {counts}; expected {expected['rows']} rows,"
            f" {expected['bad']} bad; no times reported"
        )
    return {
        "s": result["duration_s"],
        "process_s": round(wall, 2),
        "cpu_s": round(result_cpu_s(result, trace), 2),
        "peak_rss_mib": round(peak_mib),
        "stages_s": result["stages_s"],
    }


def summary(job: str, expected: dict, samples: List[dict]) -> dict:
    """The job's samples and their medians."""
    median_s = statistics.median(sample["s"] for sample in samples)
    return {
        "job": job,
        "rows": expected["rows"],
        "bad_rows": expected["bad"],
        "median_s": median_s,
        "s_per_million_rows": round(median_s / (expected["rows"] / 1e6), 2),
        "median_cpu_s": statistics.median(sample["cpu_s"] for sample in samples),
        "peak_rss_mib": max(sample["peak_rss_mib"] for sample in samples),
        "samples": samples,
    }


def git_commit() -> str:
    """The commit the bench ran at (``+dirty`` when the tree has changes)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BENCH)
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=BENCH)
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def main() -> int:
    """Generate (once), run each job ``--repeat`` times, alternating, then write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trips", type=int, default=3_000_000)
    parser.add_argument("--prices", type=int, default=2_000_000)
    parser.add_argument("--rates", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=3, help="runs per job, alternating; medians are reported")
    parser.add_argument("--label", help="results are written as <date>-field-<label>.json")
    args = parser.parse_args()
    jobs = inputs(args.trips, args.prices, args.rates, args.events, args.seed)
    samples: Dict[str, List[dict]] = {job: [] for job in jobs}
    for round_number in range(args.repeat):
        for job, expected in jobs.items():
            samples[job].append(run_job(job, expected, BENCH / "work" / "field" / job))
            print(f"bench-field: round {round_number + 1} {job} {samples[job][-1]['s']:.1f} s", flush=True)
    results = {
        "date": dt.date.today().isoformat(),
        "commit": git_commit(),
        "jobs": [summary(job, jobs[job], samples[job]) for job in jobs],
    }
    stamp = dt.date.today().isoformat() + "-field" + (f"-{args.label}" if args.label else "")
    (BENCH / "results" / f"{stamp}.json").write_text(json.dumps(results, indent=1) + "\n")
    for job in results["jobs"]:
        print(f"bench-field: {job['job']} {job['rows']} rows: median {job['median_s']:.1f} s", flush=True)
    print(f"bench-field: wrote bench/results/{stamp}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
