"""``make cluster-demo`` keeps its logs and removes what it unpacked and shipped."""

from lakejobs.clusterdemo import remove_all_but_logs


def test_only_the_logs_of_a_demo_run_are_kept(tmp_path):
    files = [
        "spark/master.log",
        "spark/worker/app-1/0/stderr",
        "spark/worker/app-1/0/stdout",
        "spark/worker/app-1/0/lakejobs-lib.zip",
        "env-driver/environment/bin/python3.11",
        "zip-driver/lakejobs-lib.zip",
        "zip: convert-orders.log",
    ]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "env-driver" / "environment" / "bin" / "python").symlink_to("/usr/bin/python3")
    remove_all_but_logs(tmp_path)
    kept = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    assert kept == [
        "spark/master.log",
        "spark/worker/app-1/0/stderr",
        "spark/worker/app-1/0/stdout",
        "zip: convert-orders.log",
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["spark", "zip: convert-orders.log"]
