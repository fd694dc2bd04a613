"""Deterministic samples of the field pipelines' raw inputs: taxi, fx, stocks, transactions.

``generate_field_samples(out_dir, seed)`` writes small raw zones (a few hundred records each,
under 100 KB) with a few impossible records among good ones, so every job has something to
quarantine. The same seed always gives the same bytes. Run as
``python -m lakejobs.generate_field --out data/sample/rawData`` (``make sample-field``).
"""

import csv
import datetime as dt
import json
import os
import random
import sys
from typing import Dict, List, Sequence

from lakejobs.args import parse_seed
from lakejobs.schemas_field import TAXI_TRIPS

#: The columns of the 2019-01 files written before congestion_surcharge was added.
TAXI_COLUMNS = [field.name for field in TAXI_TRIPS.fields if field.name != "congestion_surcharge"]
TAXI_START = dt.datetime(2019, 1, 1)
STAMP = "%Y-%m-%d %H:%M:%S"


def _write_csv(path: str, rows: Sequence[Sequence[object]]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def _cents(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}" if value >= 0 else "-" + _cents(-value)


def taxi_trip(rng: random.Random, day: int, congestion: bool) -> List[str]:
    """One plausible green-taxi trip on day ``day`` of January 2019."""
    pickup = TAXI_START + dt.timedelta(days=day, seconds=rng.randrange(86400))
    distance_hundredths = rng.randrange(30, 1200)
    speed_mph = rng.uniform(6.0, 28.0)
    dropoff = pickup + dt.timedelta(seconds=max(60, int(distance_hundredths / 100 / speed_mph * 3600)))
    fare = 250 + distance_hundredths * 250 // 100
    tip = rng.choice([0, 0, fare // 5, fare // 10])
    surcharge = 275 if congestion and rng.random() < 0.3 else 0
    total = fare + 50 + 50 + tip + 30 + surcharge
    row = [
        rng.choice(["1", "2"]),
        pickup.strftime(STAMP),
        dropoff.strftime(STAMP),
        "N",
        "1",
        str(rng.randrange(1, 266)),
        str(rng.randrange(1, 266)),
        str(rng.choice([1, 1, 1, 2, 3, 5])),
        f"{distance_hundredths / 100:.2f}",
        _cents(fare),
        "0.5",
        "0.5",
        _cents(tip),
        "0",
        "",
        "0.3",
        _cents(total),
        rng.choice(["1", "2"]),
        "1",
    ]
    return row + ([_cents(surcharge)] if congestion else [])


def _impossible_trips(rng: random.Random, congestion: bool) -> List[List[str]]:
    """Trips the job must quarantine, one or two per reason."""
    trips = [taxi_trip(rng, 2, congestion) for _ in range(7)]
    trips[0][1], trips[0][2] = trips[0][2], trips[0][1]  # drop-off before pick-up
    trips[1][2] = trips[1][1]  # zero duration
    trips[2][9] = "-" + trips[2][9]  # negative fare (a void)
    pickup = dt.datetime.strptime(trips[3][1], STAMP)
    trips[3][2], trips[3][8] = (pickup + dt.timedelta(minutes=10)).strftime(STAMP), "95.00"  # 570 mph
    trips[4][1] = "2019-01-03 25:61:00"  # unparsable timestamp
    trips[5][8] = "n/a"  # unparsable distance
    trips[6] = trips[6][:5]  # truncated line
    return trips


def write_taxi(out_dir: str, rng: random.Random) -> int:
    """Two TLC-style files: the 19 issue columns, and 2019's layout with congestion_surcharge."""
    older = [taxi_trip(rng, day, False) for day in range(3) for _ in range(60)] + _impossible_trips(rng, False)
    newer = [taxi_trip(rng, day, True) for day in range(3, 7) for _ in range(30)] + _impossible_trips(rng, True)[:3]
    rng.shuffle(older)
    rng.shuffle(newer)
    _write_csv(os.path.join(out_dir, "taxi", "green_tripdata_2019-01a.csv"), [TAXI_COLUMNS] + older)
    header = TAXI_COLUMNS + ["congestion_surcharge"]
    _write_csv(os.path.join(out_dir, "taxi", "green_tripdata_2019-01b.csv"), [header] + newer)
    return len(older) + len(newer)


def _ohlc(rng: random.Random, previous: float) -> Dict[str, float]:
    close = previous * (1 + rng.gauss(0, 0.01))
    open_ = previous * (1 + rng.gauss(0, 0.003))
    high = max(open_, close) * (1 + abs(rng.gauss(0, 0.004)))
    low = min(open_, close) * (1 - abs(rng.gauss(0, 0.004)))
    return {"open": open_, "high": high, "low": low, "close": close}


def fx_document(rng: random.Random, base: str, quotes: Dict[str, float], days: int) -> Dict[str, object]:
    """A currency API's answer for one base: quote -> date -> OHLC (rounded to 6 significant digits)."""
    document: Dict[str, Dict[str, object]] = {}
    for quote, start in quotes.items():
        level, series = start, {}
        for day in range(days):
            values = _ohlc(rng, level)
            level = values["close"]
            date = (dt.date(2010, 1, 1) + dt.timedelta(days=day)).isoformat()
            series[date] = {name: float(f"{value:.6g}") for name, value in values.items()}
        document[quote] = series
    return {base: document}


def write_fx(out_dir: str, rng: random.Random) -> int:
    """Pretty-printed documents per base, four bad rates among them and one broken file."""
    usd = fx_document(rng, "USD", {"GBP": 0.62, "EUR": 0.70, "BTC": 0.00025}, 30)
    inr = fx_document(rng, "INR", {"USD": 0.0215, "JPY": 1.98}, 30)
    usd["USD"]["GBP"]["2010-01-05"]["high"] = 0.5  # high below low
    usd["USD"]["EUR"]["2010-01-07"]["low"] = -0.69  # negative price
    usd["USD"]["BTC"]["2010-01-09"]["close"] = "n/a"  # not a number
    inr["INR"]["JPY"]["2010-02-30"] = {"open": 1.9, "high": 2.0, "low": 1.8, "close": 1.9}  # no such date
    folder = os.path.join(out_dir, "fx")
    os.makedirs(folder, exist_ok=True)
    for name, document in (("usd.json", usd), ("inr.json", inr)):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1)
            handle.write("\n")
    with open(os.path.join(folder, "broken.json"), "w", encoding="utf-8") as handle:
        handle.write('{"EUR": {"USD": {"2010-01-01": {"open": 1.43, "high": 1.44,\n')
    return 3 * 30 + 2 * 30 + 1 + 1


def business_days(start: dt.date, count: int) -> List[dt.date]:
    """The first ``count`` weekdays from ``start``."""
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def price_rows(rng: random.Random, start_price: float, days: int) -> List[List[str]]:
    """Yahoo-style rows: Date, Open, High, Low, Close, Adj Close, Volume."""
    rows, level = [], start_price
    for day in business_days(dt.date(2024, 1, 2), days):
        values = _ohlc(rng, level)
        level = values["close"]
        prices = [f"{values[name]:.6f}" for name in ("open", "high", "low", "close")]
        rows.append([day.isoformat(), *prices, f"{values['close'] * 0.99:.6f}", str(rng.randrange(10**6, 10**8))])
    return rows


def write_stocks(out_dir: str, rng: random.Random) -> int:
    """Two per-ticker Yahoo files and one file with a ticker column, four bad rows in all."""
    folder = os.path.join(out_dir, "stocks")
    aapl, msft = price_rows(rng, 185.0, 60), price_rows(rng, 370.0, 60)
    aapl[20][1:7] = ["null"] * 6  # Yahoo's missing day
    msft[30][2], msft[30][3] = msft[30][3], msft[30][2]  # high below low
    header = ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]
    _write_csv(os.path.join(folder, "AAPL.csv"), [header] + aapl)
    _write_csv(os.path.join(folder, "MSFT.csv"), [header] + msft)
    watch = [["ACME", *row] for row in price_rows(rng, 12.5, 40)] + [["ZETA", *row] for row in price_rows(rng, 3.2, 40)]
    watch[10][7] = "-5"  # negative volume
    watch.append(list(watch[50]))  # the same ticker and day twice
    columns = ["ticker", "date", "open", "high", "low", "close", "adj_close", "volume"]
    _write_csv(os.path.join(folder, "watchlist.csv"), [columns] + watch)
    return len(aapl) + len(msft) + len(watch)


def transaction(rng: random.Random, number: int, day: dt.date) -> Dict[str, object]:
    """One card transaction event."""
    stamp = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=rng.randrange(86400))
    cents = rng.randrange(-3000, 25000) if rng.random() < 0.1 else rng.randrange(100, 25000)
    return {
        "transaction_id": f"tx-{number:06d}",
        "account_id": f"acct-{rng.randrange(1, 40):03d}",
        "amount": _cents(cents) if number % 3 else cents / 100,  # APIs send both strings and numbers
        "currency": rng.choice(["EUR", "EUR", "USD", "GBP"]),
        "event_time": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "merchant": rng.choice(["Corner Cafe", "Metro", "Bookshop", "Grocer", "Cinema"]),
        "category": rng.choice(["food", "transport", "leisure", "groceries"]),
    }


def write_transactions(out_dir: str, rng: random.Random) -> int:
    """Two JSON-lines batches; the second repeats 15 events of the first."""
    first = [transaction(rng, n, dt.date(2024, 3, 1 + n % 2)) for n in range(96)]
    second = first[-15:] + [transaction(rng, n, dt.date(2024, 3, 2 + n % 2)) for n in range(96, 140)]
    lines = [json.dumps(event) for event in first]
    lines += [
        '{"transaction_id": "tx-900001", "account_id": "acct-001", "amount": ',  # cut off
        json.dumps({**first[3], "transaction_id": "tx-900002", "account_id": None}),
        json.dumps({**first[4], "transaction_id": "tx-900003", "amount": "12,50"}),
        json.dumps(first[5]),  # the same id twice in one batch
    ]
    second_lines = [json.dumps(event) for event in second]
    second_lines.append(json.dumps({**second[-1], "transaction_id": "tx-900004", "event_time": "yesterday"}))
    for batch, batch_lines in (("batch=2024-03-02", lines), ("batch=2024-03-03", second_lines)):
        folder = os.path.join(out_dir, "transactions", batch)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "events.jsonl"), "w", encoding="utf-8") as handle:
            handle.write("\n".join(batch_lines) + "\n")
    return len(lines) + len(second_lines)


def generate_field_samples(out_dir: str, seed: int = 7) -> Dict[str, int]:
    """Write all four samples below ``out_dir``; return records written per sample."""
    rng = random.Random(seed)
    return {
        "taxi": write_taxi(out_dir, rng),
        "fx": write_fx(out_dir, rng),
        "stocks": write_stocks(out_dir, rng),
        "transactions": write_transactions(out_dir, rng),
    }


def main(argv=None) -> int:
    """``python -m lakejobs.generate_field --out DIR [--seed N]``."""
    from lakejobs.cli import OneLineParser

    parser = OneLineParser(prog="lakejobs.generate_field", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="raw zone folder (receives taxi/, fx/, stocks/, transactions/)")
    parser.add_argument("--seed", type=parse_seed, default=7)
    options = parser.parse_args(argv)
    if os.path.exists(options.out) and not os.path.isdir(options.out):
        print(f"lakejobs.generate_field: error: --out {options.out} is a file, not a folder", file=sys.stderr)
        return 2
    try:
        counts = generate_field_samples(options.out, options.seed)
    except OSError as error:
        print(f"lakejobs.generate_field: error: cannot write {options.out}: {error}", file=sys.stderr)
        return 1
    print(" ".join(f"{name}={count}" for name, count in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
