"""``lakejobs report``: exact text of the runs table and a self-contained HTML page."""

import json
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from lakejobs import cli, runs_report
from tests.conftest import ROOT, VENV_BIN, job_env

RUNS = [
    {
        "job": "csv_to_parquet",
        "run_id": "20261123T100000Z-aaaa0001",
        "status": "SUCCEEDED",
        "rows_read": 27,
        "rows_written": 20,
        "rows_quarantined": 7,
        "quarantine_reasons": {"malformed_record": 2, 'ColumnValues "orderqty" > 0': 5},
        "duration_s": 3.5,
        "inputs": {"orders": "/raw/orders"},
        "started_at": "2026-11-23T10:00:00.120000+00:00",
        "details": {
            "dataset": "orders",
            "rules": [
                {"rule": 'ColumnValues "orderqty" > 0', "outcome": "quarantined", "measured": 0.814815},
                {"rule": "RowCount > 0", "outcome": "passed", "measured": 20.0},
                {
                    "rule": 'ReferentialIntegrity "customerid" "c.customerid" >= 0.99',
                    "outcome": "warned",
                    "measured": None,
                    "note": "reference table not found: /c",
                },
            ],
        },
    },
    {
        "job": "csv_to_parquet",
        "run_id": "20261123T110000Z-aaaa0002",
        "status": "FAILED",
        "rows_read": 100,
        "rows_written": 0,
        "rows_quarantined": 0,
        "quarantine_reasons": {},
        "duration_s": 12.25,
        "inputs": {"orders": "/raw/orders"},
        "started_at": "2026-11-23T11:00:00.000000+00:00",
        "details": {"dataset": "orders", "rules": [{"rule": "RowCount > 200", "outcome": "failed", "measured": 100}]},
        "error": "orders: quality rule failed: RowCount > 200 (measured 100); nothing was published",
    },
    {
        "job": "sales_mart",
        "run_id": "20261123T120000Z-aaaa0003",
        "status": "SUCCEEDED",
        "rows_read": 20,
        "rows_written": 20,
        "rows_quarantined": 0,
        "quarantine_reasons": {},
        "duration_s": 7.0,
        "inputs": {"orders": "o", "customers": "c", "employees": "e"},
        "started_at": "2026-11-23T12:00:00+00:00",
        "details": {},
    },
]

TABLE = """\
started             job             dataset    status      rows in      out quarantined  seconds  rules
-------------------------------------------------------------------------------------------------------
2026-11-23 12:00:00 sales_mart      -          SUCCEEDED        20       20           0     7.00  -
2026-11-23 11:00:00 csv_to_parquet  orders     FAILED          100        0           0    12.25  1 failed
                    failed: RowCount > 200 (measured 100)
                    error: orders: quality rule failed: RowCount > 200 (measured 100); nothing was published
2026-11-23 10:00:00 csv_to_parquet  orders     SUCCEEDED        27       20           7     3.50  1 warned, 1 quarantined, 1 passed
                    quarantined: ColumnValues "orderqty" > 0=5, malformed_record=2
                    quarantined: ColumnValues "orderqty" > 0 (measured 0.814815)
                    warned: ReferentialIntegrity "customerid" "c.customerid" >= 0.99 (reference table not found: /c)"""  # noqa: E501


@pytest.fixture
def lake(tmp_path):
    for run in RUNS:
        folder = tmp_path / "_lakejobs" / "runs" / run["job"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{run['run_id']}.json").write_text(json.dumps(run))
    (tmp_path / "_lakejobs" / "runs" / "sales_mart" / "broken.json").write_text("{not json")
    return tmp_path


@pytest.mark.parametrize(
    "odd",
    [
        {"duration_s": "n/a"},
        {"quarantine_reasons": ["x"]},
        {"details": {"rules": [{"outcome": "failed"}]}},
        {"rows_read": float("inf")},  # 1e999 in the JSON
        {"started_at": 5},  # shown, and sorted as the newest run, until session 46
        {"started_at": "5"},
        {"status": 5},
        {"rows_read": "28"},
        {"rows_written": True},
    ],
)
def test_a_report_of_another_shape_is_skipped_and_said_not_the_end_of_the_command(lake, capsys, odd):
    """One such report failed the command (exit 1: ``could not convert string to float: 'n/a'``), listing no run."""
    path = lake / "_lakejobs" / "runs" / "old_job" / "r.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"run_id": "r", "started_at": "2026-11-24T00:00:00", **odd}))
    assert cli.main(["report", "--lake", str(lake)]) == 0
    captured = capsys.readouterr()
    assert captured.out == TABLE + "\n"
    broken = lake / "_lakejobs" / "runs" / "sales_mart" / "broken.json"
    assert captured.err == f"lakejobs: warning: skipped 2 file(s) that are no run report: {path}, {broken}\n"


@pytest.mark.parametrize("folder", ["csv_to_parquet/x.json", "x.json"])
def test_a_folder_named_like_a_report_is_passed_over(lake, capsys, folder):
    """Until session 48 the command failed on it: ``IsADirectoryError``, exit 1."""
    (lake / "_lakejobs" / "runs" / folder).mkdir()
    assert cli.main(["report", "--lake", str(lake)]) == 0
    captured = capsys.readouterr()
    assert captured.out == TABLE + "\n"
    broken = lake / "_lakejobs" / "runs" / "sales_mart" / "broken.json"
    assert captured.err == f"lakejobs: warning: skipped 1 file(s) that are no run report: {broken}\n"


def test_the_page_is_written_when_the_reader_of_the_table_leaves_early(tmp_path):
    """``lakejobs report --html F | head``: the table's write failed first, and no page was written."""
    folder = tmp_path / "runs" / "csv_to_parquet"
    folder.mkdir(parents=True)
    for number in range(40):  # a table longer than the 8 KiB Python buffers before its first write
        (folder / f"r{number}.json").write_text(json.dumps({**RUNS[0], "run_id": f"r{number}"}))
    page = tmp_path / "runs.html"
    process = subprocess.Popen(
        [
            str(VENV_BIN / "python"),
            "-m",
            "lakejobs.cli",
            "report",
            "--runs",
            str(tmp_path / "runs"),
            "--html",
            str(page),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={name: value for name, value in job_env().items() if name != "PYTHONUNBUFFERED"},
    )
    process.stdout.close()  # gone before the first write
    assert (process.wait(timeout=60), process.stderr.read()) == (141, b"")
    assert page.read_text().count('<tr class="succeeded">') == 20  # report's default --limit


def test_reasons_counted_zero_times_draw_no_bar(tmp_path, capsys):
    """A page of runs whose reasons all counted 0 failed the command: ZeroDivisionError, exit 1, no table."""
    folder = tmp_path / "runs" / "csv_to_parquet"
    folder.mkdir(parents=True)
    (folder / "r.json").write_text(json.dumps({**RUNS[2], "quarantine_reasons": {"x": 0}}))
    page = tmp_path / "runs.html"
    assert cli.main(["report", "--runs", str(tmp_path / "runs"), "--html", str(page)]) == 0
    assert "<p>No quarantined rows in these runs.</p>" in page.read_text()


def test_a_runs_folder_named_like_a_glob_pattern_is_read_as_named(lake, tmp_path, capsys):
    """``--runs runs[1]`` listed the reports of a folder ``runs1`` beside it."""
    shutil.copytree(lake / "_lakejobs" / "runs", tmp_path / "runs1")
    (tmp_path / "runs[1]").mkdir()
    assert cli.main(["report", "--runs", str(tmp_path / "runs[1]")]) == 2
    assert capsys.readouterr().err.startswith(f"lakejobs: error: no run reports at {tmp_path / 'runs[1]'} ")


def test_report_prints_the_runs_newest_first_with_reasons_rules_and_errors(lake, capsys):
    assert cli.main(["report", "--lake", str(lake)]) == 0
    captured = capsys.readouterr()
    assert captured.out == TABLE + "\n"
    broken = lake / "_lakejobs" / "runs" / "sales_mart" / "broken.json"  # skipped, and said so
    assert captured.err == f"lakejobs: warning: skipped 1 file(s) that are no run report: {broken}\n"
    assert f"```\n{TABLE}\n```" in (ROOT / "README.md").read_text()  # the README shows this very output


def test_a_long_dataset_name_widens_its_column_instead_of_running_into_the_status():
    run = {"run_id": "r1", "job": "transactions", "status": "SUCCEEDED", "details": {"dataset": "transactions_eu"}}
    header, _rule, row = runs_report.format_table([run]).splitlines()
    assert header.index("status") == row.index("SUCCEEDED") == header.index("dataset") + len("transactions_eu ")


def test_report_limit_keeps_the_newest_runs(lake):
    assert [run["run_id"][-4:] for run in runs_report.load_runs(str(lake / "_lakejobs" / "runs"), 2)] == [
        "0003",
        "0002",
    ]


@pytest.mark.parametrize("runs_folder", ["missing", "empty", "of other files", "of states"])
def test_a_lake_without_runs_is_one_clear_error(tmp_path, capsys, runs_folder):
    """An existing folder without reports printed an empty table and exited 0 (S3 already refused it)."""
    runs = tmp_path / "_lakejobs" / "runs"
    if runs_folder != "missing":
        (runs / "csv_to_parquet").mkdir(parents=True)
    if runs_folder == "of other files":
        (runs / "csv_to_parquet" / "notes.txt").write_text("not a report")
    if runs_folder == "of states":  # JSON, but no run_id
        (runs / "csv_to_parquet" / "orders.json").write_text('{"job": "csv_to_parquet", "processed": {}}')
    assert cli.main(["report", "--lake", str(tmp_path)]) == 2
    states = f"lakejobs: warning: skipped 1 file(s) that are no run report: {runs}/csv_to_parquet/orders.json\n"
    assert capsys.readouterr().err == (
        (states if runs_folder == "of states" else "")
        + f"lakejobs: error: no run reports at {tmp_path}/_lakejobs/runs "
        "(run a job with --report_path, or the pipeline)\n"
    )


def test_a_runs_folder_whose_only_report_is_damaged_names_it_beside_the_error(tmp_path, capsys):
    """Until session 48 only "no run reports at ...": the cut-short report was named only beside a good one."""
    report = tmp_path / "csv_to_parquet" / "20261123T100000Z-aaaa0001.json"
    report.parent.mkdir()
    report.write_text(json.dumps(RUNS[0])[:40])
    assert cli.main(["report", "--runs", str(tmp_path)]) == 2
    assert capsys.readouterr() == (
        "",
        f"lakejobs: warning: skipped 1 file(s) that are no run report: {report}\n"
        f"lakejobs: error: no run reports at {tmp_path} (run a job with --report_path, or the pipeline)\n",
    )


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.texts, self.attributes = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(value or "" for _name, value in attrs)

    def handle_data(self, data):
        self.texts.append(data)


def test_html_page_is_self_contained_with_the_table_and_two_svg_charts(lake, tmp_path, capsys):
    page = tmp_path / "runs.html"
    assert cli.main(["report", "--lake", str(lake), "--html", str(page)]) == 0
    assert capsys.readouterr().out.endswith(f"wrote {page}\n")
    parsed = _Collector()
    parsed.feed(page.read_text())
    assert parsed.tags.count("svg") == 2 and parsed.tags.count("tr") == 1 + 3 + 2
    assert not {"script", "link", "img", "iframe"} & set(parsed.tags)
    assert not [
        value for value in parsed.attributes if value.startswith(("http:", "https:", "//")) and "w3.org" not in value
    ]
    texts = [text.strip() for text in parsed.texts if text.strip()]
    assert {"rows read", "rows written", "rows quarantined", "rows in"} <= set(texts)
    reasons = texts[texts.index("Quarantined rows by reason") + 1 :]
    assert reasons == ['ColumnValues "orderqty" > 0', "5", "malformed_record", "2"]
    assert "read: 100" in texts and "quarantined: 7" in texts


#: The machine's chromium, else the one ``make test`` unpacks (``tests/tools/fetch_chromium.sh``).
FETCHED_CHROMIUM = ROOT / ".jars" / "tools" / "chromium" / "chromium"
CHROMIUM = (
    shutil.which("chromium")
    or shutil.which("chromium-browser")
    or (str(FETCHED_CHROMIUM) if FETCHED_CHROMIUM.exists() else None)
)


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium: not installed, and make test could not fetch it (tests/tools/fetch_chromium.sh)",
)
def test_html_page_renders_in_headless_chromium(lake, tmp_path):
    page, shot = tmp_path / "runs.html", tmp_path / "runs.png"
    page.write_text(runs_report.render_html(runs_report.load_runs(str(lake / "_lakejobs" / "runs")), "runs"))
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}"]
    completed = subprocess.run(
        [*command, "--window-size=1200,900", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_a_share_just_below_one_is_not_shown_as_one():
    assert [runs_report._measured({"measured": value}) for value in (0.9999996, 0.81481, 1.0, 100)] == [
        "measured 0.9999996",
        "measured 0.81481",
        "measured 1",
        "measured 100",
    ]


def test_the_pipelines_own_run_is_not_counted_again_in_the_reason_totals():
    """Its reasons are its conversions', each listed as a run: counted too, every row was counted twice."""
    from lakejobs.runs_report import reason_totals

    runs = [
        {"job": "pipeline", "run_id": "p", "quarantine_reasons": {"invalid_date:orderdate": 3}},
        {"job": "csv_to_parquet", "run_id": "o", "quarantine_reasons": {"invalid_date:orderdate": 3}},
        {"job": "sales_mart", "run_id": "m", "quarantine_reasons": {"unknown_customer": 1}},
    ]
    assert reason_totals(runs) == {"invalid_date:orderdate": 3, "unknown_customer": 1}
