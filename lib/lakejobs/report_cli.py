"""``lakejobs report``: recent runs of a lake as a table, and optionally as an HTML page."""

import os
import sys

from lakejobs import args as job_args
from lakejobs import fs, runs_report
from lakejobs.errors import UsageError, listed


def cmd_report(args) -> int:
    """Print the recent runs; with ``--html`` also write the page."""
    if args.runs and args.lake:
        raise UsageError("--lake names a lake's runs folder; --runs names the folder itself: give one or the other")
    root = args.runs or f"{(args.lake or 'lake').rstrip('/')}/_lakejobs/runs"
    page = _page_path(args.html) if args.html else None
    skipped = []
    try:
        runs = runs_report.load_runs(root, args.limit, skipped)
    except UsageError:  # "no run reports at ...": a damaged one is named too
        _warn_skipped(skipped)
        raise
    if page:  # before the table: `lakejobs report --html F | head` stopped at the table, writing no page
        os.makedirs(os.path.dirname(os.path.abspath(page)), exist_ok=True)
        with open(page, "w", encoding="utf-8") as handle:
            handle.write(runs_report.render_html(runs, f"lakejobs runs: {root}"))
    print(runs_report.format_table(runs))
    _warn_skipped(skipped)
    if page:
        print(f"wrote {page}")
    return 0


def _warn_skipped(skipped) -> None:
    """Name (the first three of) the files that are no run report, if any."""
    if skipped:
        shown = listed(skipped)
        print(f"lakejobs: warning: skipped {len(skipped)} file(s) that are no run report: {shown}", file=sys.stderr)


def _page_path(html: str) -> str:
    """The local file ``--html`` names, checked before anything prints (a usage error otherwise).

    A page is written locally: ``s3://...`` would have made a folder named ``s3:`` here.
    """
    if not fs.is_local(html):
        raise UsageError(f"--html {html}: the page is written to a local file (copy it to S3 afterwards)")
    page = fs.local_path(html)
    if os.path.isdir(page):
        raise UsageError(f"--html {html} is a folder: give the page's file name")
    if not page.lower().endswith((".html", ".htm")):  # --html README.md replaced the README
        raise UsageError(f"--html {html}: give the page a name ending in .html (an existing file there is replaced)")
    fs.require_writable({}, {"--html": page})
    return page


def register(commands) -> None:
    """Add the ``report`` command to the CLI's subparsers."""
    report = commands.add_parser("report", help="recent runs: rows, quarantine reasons, rule results, seconds")
    report.add_argument("--lake", help="lake folder or s3:// URI holding _lakejobs/runs/ (default lake)")
    report.add_argument("--runs", help="a runs folder instead (e.g. a job's <output_path>_lakejobs/runs)")
    report.add_argument("--limit", type=job_args.parse_positive, default=20, help="newest runs to show (default 20)")
    report.add_argument("--html", help="also write a self-contained HTML page here")
    report.set_defaults(func=cmd_report)
