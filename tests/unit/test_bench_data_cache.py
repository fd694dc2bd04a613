"""``bench/field_jobs.py``'s cache of generated inputs: reused while the generator's code is the same."""

import json
import random
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import field_jobs  # noqa: E402


def test_inputs_are_made_once_and_anew_when_the_generator_changed(tmp_path):
    root = tmp_path / "inputs"
    made = []

    def write(rng: random.Random):
        made.append(rng.random())
        (root / "trips").mkdir()
        (root / "trips" / f"part-{len(made)}.csv").write_text("x\n")
        return {"taxi_trips": {"rows": 1, "bad": 0, "folder": "trips"}}

    expected = {"taxi_trips": {"rows": 1, "bad": 0, "folder": str(root / "trips")}}
    assert field_jobs.generated(root, write, seed=5) == expected
    assert field_jobs.generated(root, write, seed=5) == expected
    assert len(made) == 1
    marker = root / "done.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "generator": "an older generator"}))
    assert field_jobs.generated(root, write, seed=5) == expected
    assert made == [random.Random(5).random()] * 2
    assert sorted(path.name for path in (root / "trips").iterdir()) == ["part-2.csv"]  # the old files went


def test_the_dirty_orders_are_made_again_when_their_raw_zone_was(tmp_path, monkeypatch):
    """Their marker held only a count: a raw zone generated again kept the old dirty copy."""
    import other_paths

    monkeypatch.setattr(other_paths, "BAD_EVERY", 2)
    raw = tmp_path / "rawData"
    (raw / "orders").mkdir(parents=True)
    fields = len(other_paths.HEADERS["orders"])

    def land(version):
        (tmp_path / "done.json").write_text(json.dumps({"generator": version}))
        lines = [",".join([f"{version}{row}"] * fields) for row in range(4)]
        (raw / "orders" / "orders-00000.csv").write_text("\n".join(lines) + "\n")

    land("a")
    folder, bad = other_paths.dirty_orders(raw)
    assert bad == 2 and (folder / "orders-00000.csv").read_text().startswith("a0,")
    land("b")
    folder, bad = other_paths.dirty_orders(raw)
    assert bad == 2 and (folder / "orders-00000.csv").read_text().startswith("b0,")
    monkeypatch.setattr(other_paths, "BAD_EVERY", 4)
    assert other_paths.dirty_orders(raw)[1] == 1
