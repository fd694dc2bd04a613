"""Recent runs of a lake, from the results every run leaves under ``_lakejobs/runs/``.

``load_runs`` reads them (a local folder directly, ``s3://``/``s3a://`` through boto3, so no
JVM starts), ``format_table`` prints them for a terminal and ``render_html`` makes one
self-contained page: the same table plus inline SVG charts of the rows per run and stage and of
the quarantine reasons (no scripts, no external styles or fonts).
"""

import glob
import html
import json
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlparse

from lakejobs.errors import UsageError

Run = Dict[str, object]
COLUMNS = (
    ("started", 20, "<"),
    ("job", 16, "<"),
    ("dataset", 11, "<"),
    ("status", 10, "<"),
    ("rows in", 9, ">"),
    ("out", 9, ">"),
    ("quarantined", 12, ">"),
    ("seconds", 9, ">"),
    ("  rules", 0, "<"),
)
OUTCOMES = ("failed", "warned", "quarantined", "passed", "skipped")
STAGE_COLORS = {"read": "#4e79a7", "written": "#59a14f", "quarantined": "#e15759"}


def _read_local(root: str) -> List[Tuple[str, str]]:
    """(path, text) of the reports of ``root`` (``<job>/<run_id>.json``), or of one job's folder (``<run_id>.json``).

    A folder named like a report (``x.json/``) is no report: opening it failed the command
    (``IsADirectoryError``, exit 1) until session 48.
    """
    texts = []
    folder = glob.escape(root)  # a folder named lake[1] matched lake1's reports
    paths = glob.glob(os.path.join(folder, "*", "*.json")) + glob.glob(os.path.join(folder, "*.json"))
    for path in sorted(path for path in paths if not os.path.isdir(path)):
        with open(path, encoding="utf-8", errors="replace") as handle:  # not UTF-8: not JSON, skipped
            texts.append((path, handle.read()))
    return texts


def _read_s3(root: str) -> List[Tuple[str, str]]:
    import boto3

    parsed = urlparse(root)
    client = boto3.client("s3")
    try:
        return _read_s3_reports(client, parsed.netloc, parsed.path.strip("/") + "/")
    except client.exceptions.NoSuchBucket:
        raise UsageError(f"there is no bucket {parsed.netloc!r} ({root})") from None


def _read_s3_reports(client, bucket: str, prefix: str) -> List[Tuple[str, str]]:
    texts = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".json"):
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                texts.append((f"s3://{bucket}/{item['Key']}", body.decode("utf-8", "replace")))
    return texts


def load_runs(runs_root: str, limit: Optional[int] = None, skipped: Optional[List[str]] = None) -> List[Run]:
    """The run results below ``runs_root`` (``<root>/<job>/<run_id>.json``), newest first.

    Files that are not run reports (JSON objects with a ``run_id``: a report cut short, another
    file), and reports whose fields the table or page cannot show (``_showable``), are skipped,
    their paths added to ``skipped`` for the caller to say so. Raises
    ``UsageError`` when the root holds no report (a local root that does not exist, an empty
    one or one of other files, an S3 prefix alike).
    """
    scheme = urlparse(runs_root).scheme
    if scheme in ("s3", "s3a"):
        texts = _read_s3(runs_root)
    else:
        local = urlparse(runs_root).path if scheme == "file" else runs_root
        texts = _read_local(local) if os.path.isdir(local) else []
    runs = []
    for path, text in texts:
        try:
            run = json.loads(text)
        except ValueError:
            run = None
        if isinstance(run, dict) and "run_id" in run and _showable(run):
            runs.append(run)
        elif skipped is not None:
            skipped.append(path)
    if not runs:  # a mistyped lake, or a folder of something else (states), is not "no runs"
        raise UsageError(f"no run reports at {runs_root} (run a job with --report_path, or the pipeline)")
    runs.sort(key=lambda run: (str(run.get("started_at", "")), str(run["run_id"])), reverse=True)
    return runs[:limit] if limit else runs


def _showable(run: Run) -> bool:
    """Tell whether the table and the page can show ``run``, a report of a known shape.

    One report whose ``duration_s`` was ``"n/a"`` or whose ``quarantine_reasons`` was a list
    failed the whole command (``ValueError``, exit 1), listing no run.
    """
    try:
        _cells(run), detail_lines(run), _reason_chart([run]), _bar_chart([run])
    except Exception:  # noqa: BLE001 - any field of another type or size (1e999 is infinite: OverflowError)
        return False
    return _well_typed(run)


#: Fields a report holds as text, and as whole numbers: shown as they are, so their type is checked.
_TEXT_FIELDS = ("job", "run_id", "status", "started_at")
_COUNT_FIELDS = ("rows_read", "rows_written", "rows_quarantined")
#: How a report's ``started_at`` starts (an ISO date and time): the table sorts runs by it.
_STARTED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _well_typed(run: Run) -> bool:
    """Text fields are text, counts whole numbers, ``started_at`` a date and time (each may be missing).

    Until session 46 a ``status`` or ``started_at`` of ``5`` was shown as is (the run sorted as the
    newest), and a count of ``"28"`` too.
    """
    texts = all(isinstance(run.get(name, ""), str) for name in _TEXT_FIELDS)
    counts = all(type(run.get(name, 0)) is int for name in _COUNT_FIELDS)
    started = "started_at" not in run or bool(_STARTED_AT.match(str(run["started_at"])))
    return texts and counts and started


def dataset_of(run: Run) -> str:
    """The dataset a run worked on (``details.dataset``, or its only input), else ``-``."""
    details = run.get("details") or {}
    if isinstance(details, dict) and details.get("dataset"):
        return str(details["dataset"])
    inputs = run.get("inputs") or {}
    return str(next(iter(inputs))) if len(inputs) == 1 else "-"


def rule_results(run: Run) -> List[Dict[str, object]]:
    """The run's rule results (``details.rules``), empty for runs without rules."""
    details = run.get("details") or {}
    return list(details.get("rules") or []) if isinstance(details, dict) else []


def rules_summary(run: Run) -> str:
    """Rule outcomes counted, worst first: ``1 failed, 4 passed`` (``-`` without rules)."""
    counts: Dict[str, int] = {}
    for result in rule_results(run):
        counts[str(result.get("outcome"))] = counts.get(str(result.get("outcome")), 0) + 1
    parts = [f"{counts[outcome]} {outcome}" for outcome in OUTCOMES if counts.get(outcome)]
    return ", ".join(parts) or "-"


def format_measured(value: Optional[float]) -> str:
    """A measured value for people, as the run report holds it (``nothing`` for none).

    Whole numbers without decimals, fractions with up to 6 (the report rounds to 6 unless that
    changes the verdict, ``quality_gate``), more when the value needs them: a value is never
    shown rounded, since 0.989996 shown as 0.99 would seem to meet ``>= 0.99``.
    """
    if value is None:
        return "nothing"
    number = float(value)
    if number.is_integer():
        return str(int(number))
    shown = f"{number:.6f}".rstrip("0").rstrip(".")
    return shown if float(shown) == number else repr(number)


def one_line(text: str) -> str:
    """``text`` with its line breaks written as ``\\n`` (a rule's quoted SQL may span lines)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _measured(result: Dict[str, object]) -> str:
    value = result.get("measured")
    if value is None:
        return str(result.get("note") or "not measured")
    return f"measured {format_measured(value)}"


def _cells(run: Run) -> List[str]:
    started = str(run.get("started_at", ""))[:19].replace("T", " ")
    return [
        started,
        str(run.get("job", "")),
        dataset_of(run),
        str(run.get("status", "")),
        str(run.get("rows_read", 0)),
        str(run.get("rows_written", 0)),
        str(run.get("rows_quarantined", 0)),
        f"{float(run.get('duration_s') or 0):.2f}",
        "  " + rules_summary(run),
    ]


def detail_lines(run: Run) -> List[str]:
    """The lines under a run's row: quarantine reasons, rules that did not simply pass, the error."""
    lines = []
    reasons = run.get("quarantine_reasons") or {}
    if reasons:
        counts = ", ".join(f"{one_line(reason)}={count}" for reason, count in sorted(reasons.items()))
        lines.append("quarantined: " + counts)
    for result in rule_results(run):
        if result.get("outcome") in ("failed", "warned", "quarantined"):
            lines.append(f"{result['outcome']}: {one_line(str(result['rule']))} ({_measured(result)})")
    if run.get("error"):
        lines.append(f"error: {one_line(str(run['error']))}")
    return lines


def format_table(runs: Sequence[Run]) -> str:
    """Runs as a fixed-width table, newest first, with their detail lines indented below.

    A column is widened to its longest cell plus a space (a 12-letter dataset ran into the status).
    """
    rows = [_cells(run) for run in runs]
    widths = [
        max([width] + [len(row[index]) + 1 for row in rows]) if width else 0
        for index, (_name, width, _align) in enumerate(COLUMNS)
    ]
    columns = [(name, width, align) for (name, _w, align), width in zip(COLUMNS, widths)]
    header = "".join(f"{name:{align}{width}}" if width else name for name, width, align in columns)
    lines = [header.rstrip(), "-" * len(header)]
    indent = " " * columns[0][1]
    for run, cells in zip(runs, rows):
        lines.append(
            "".join(f"{cell:{align}{width}}" if width else cell for cell, (_n, width, align) in zip(cells, columns))
        )
        lines.extend(indent + line for line in detail_lines(run))
    if not runs:
        lines.append("(no runs)")
    return "\n".join(lines)


def _bar_chart(runs: Sequence[Run]) -> str:
    """Grouped bars: rows read, written and quarantined per run, oldest on the left."""
    chronological = list(reversed(runs))
    top = max([int(run.get("rows_read") or 0) for run in chronological] + [1])
    group, bar, height, base = 66, 18, 160, 190
    width = max(60 + group * len(chronological), 420)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="260" role="img">']
    parts.append(f'<line x1="50" y1="{base}" x2="{width - 5}" y2="{base}" stroke="#333"/>')
    parts.append(f'<text x="5" y="{base - height + 4}" font-size="11">{top}</text>')
    for index, run in enumerate(chronological):
        x = 56 + index * group
        values = {
            "read": run.get("rows_read"),
            "written": run.get("rows_written"),
            "quarantined": run.get("rows_quarantined"),
        }
        for offset, (stage, value) in enumerate(values.items()):
            bar_height = round(height * int(value or 0) / top, 1)
            parts.append(
                f'<rect x="{x + offset * bar}" y="{base - bar_height}" width="{bar - 2}" height="{bar_height}" '
                f'fill="{STAGE_COLORS[stage]}"><title>{html.escape(stage)}: {int(value or 0)}</title></rect>'
            )
        name = dataset_of(run) if dataset_of(run) != "-" else str(run.get("job", ""))
        label = html.escape(f"{name} {str(run.get('started_at', ''))[11:19]}")
        parts.append(
            f'<text x="{x}" y="{base + 14}" font-size="10" transform="rotate(30 {x} {base + 14})">{label}</text>'
        )
    for offset, (stage, color) in enumerate(STAGE_COLORS.items()):
        parts.append(f'<rect x="{60 + offset * 110}" y="8" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{76 + offset * 110}" y="18" font-size="12">rows {stage}</text>')
    parts.append("</svg>")
    return "".join(parts)


def reason_totals(runs: Sequence[Run]) -> Dict[str, int]:
    """Quarantined rows per reason over ``runs``, largest first.

    A ``pipeline`` run's reasons are its conversion steps' (``pipeline.pipeline_result``), each
    listed as a run of its own: counted too, every row was counted twice.
    """
    totals: Dict[str, int] = {}
    for run in runs:
        if run.get("job") == "pipeline":
            continue
        for reason, count in (run.get("quarantine_reasons") or {}).items():
            totals[reason] = totals.get(reason, 0) + int(count)
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def _reason_chart(runs: Sequence[Run]) -> str:
    """Horizontal bars: quarantined rows per reason over the listed runs."""
    totals = {reason: count for reason, count in reason_totals(runs).items() if count > 0}
    if not totals:
        return "<p>No quarantined rows in these runs.</p>"
    top, row_height = max(totals.values()), 22
    height = 10 + row_height * len(totals)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="760" height="{height}" role="img">']
    for index, (reason, count) in enumerate(totals.items()):
        y = 5 + index * row_height
        length = round(300 * count / top, 1)
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(reason[:60])}</text>')
        parts.append(f'<rect x="420" y="{y + 2}" width="{length}" height="16" fill="#e15759"/>')
        parts.append(f'<text x="{425 + length}" y="{y + 14}" font-size="12">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _html_table(runs: Sequence[Run]) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _width, _align in COLUMNS)
    rows = []
    for run in runs:
        status = html.escape(str(run.get("status", "")).lower())
        cells = "".join(f"<td>{html.escape(cell)}</td>" for cell in _cells(run))
        rows.append(f'<tr class="{status}">{cells}</tr>')
        details = "<br>".join(html.escape(line) for line in detail_lines(run))
        if details:
            rows.append(f'<tr class="detail"><td></td><td colspan="{len(COLUMNS) - 1}">{details}</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


STYLE = (
    "body{font-family:sans-serif;margin:24px;color:#222}"
    "table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}"
    "tr.failed td{background:#fde2e2}tr.detail td{color:#555;font-size:12px;border-bottom:1px solid #eee}"
)


def render_html(runs: Sequence[Run], title: str) -> str:
    """One self-contained HTML page: the runs table and two inline SVG charts."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<h2>Runs ({len(runs)}, newest first)</h2>{_html_table(runs)}"
        f"<h2>Rows per run and stage</h2>{_bar_chart(runs)}"
        f"<h2>Quarantined rows by reason</h2>{_reason_chart(runs)}"
        "</body></html>\n"
    )
