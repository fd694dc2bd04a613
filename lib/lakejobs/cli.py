"""The ``lakejobs`` command: list and run jobs, run the local pipeline, generate data."""

import argparse
import importlib
import json
import logging
import os
import signal
import stat
import sys
import traceback
from typing import List, Optional, Sequence

from lakejobs import args as job_args
from lakejobs import fs, interrupt, report_cli, runtime
from lakejobs.errors import LakejobsError, UsageError, debug_enabled, joined_lines, root_cause
from lakejobs.jobs import JOBS
from lakejobs.result import JobResult, new_run_id

LOG = logging.getLogger(__name__)
#: The jobs that keep an incremental state (``lakejobs state``).
STATE_JOBS = ("csv_to_parquet",)
#: Delta's own safety floor for VACUUM (``retentionDurationCheck``): 7 days.
SAFE_RETENTION_HOURS = 168


def _job_module(name: str):
    if name not in JOBS:
        raise UsageError(f"unknown job {name!r}: known jobs are {', '.join(JOBS)}")
    return importlib.import_module(JOBS[name])


def cmd_jobs(_args) -> int:
    """Print each job with its one-line description."""
    for name in JOBS:
        print(f"{name:<18}{_job_module(name).DESCRIPTION}")
    return 0


def cmd_run(args) -> int:
    """Run one job with its own (Glue-style) arguments."""
    return _job_module(args.job).main(args.job_args)


def cmd_generate(args) -> int:
    """Write a deterministic sales raw zone."""
    from lakejobs.generate import HEADERS, generate

    if not fs.is_local(args.out):
        raise UsageError(f"--out {args.out}: generate writes to a local folder (copy it to S3 afterwards)")
    out = fs.local_path(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {args.out} is a file, not a folder")
    if os.path.basename(os.path.normpath(out)) in HEADERS:  # the folders it writes below --out
        raise UsageError(
            f"--out {args.out} names a dataset's folder: generate writes {', '.join(HEADERS)} "
            "below --out, so give the raw zone that holds them (e.g. lake/rawData)"
        )
    counts = generate(out, args.orders, seed=args.seed, header=args.header)
    print(" ".join(f"{name}={count}" for name, count in counts.items()) + f" -> {args.out}")
    return 0


def _order_lines(text: str) -> int:
    """``generate --orders``: a whole number of at least ``MIN_ORDER_LINES`` (fewer were written as that many)."""
    from lakejobs.generate import MIN_ORDER_LINES

    lines = job_args.parse_positive(text)
    if lines < MIN_ORDER_LINES:
        raise argparse.ArgumentTypeError(
            f"expected {MIN_ORDER_LINES} or more order lines (the course's lines come first), got {text!r}"
        )
    return lines


def cmd_pipeline(args) -> int:
    """Run the whole local sales pipeline and print a summary table."""
    from lakejobs import pipeline

    args.raw = args.raw or pipeline.default_raw(args.lake)

    def run(spark, options) -> JobResult:
        from lakejobs.io.reports import save_run_report_quietly

        total, results = JobResult(job="pipeline", run_id=new_run_id(), inputs=pipeline.raw_inputs(options.raw)), []
        report_root = pipeline.report_root(fs.qualify(options.lake))
        try:
            pipeline.run_pipeline(spark, options.raw, options.lake, options.format, options.incremental, results)
        except LakejobsError as error:  # the last line is the pipeline's result: the steps that ran, the failed one
            failed = pipeline.failed_pipeline_result(total, results, error)
            if error.leaves_report_at(report_root):  # not inside a table the lake lies in
                save_run_report_quietly(spark, report_root, failed)
            # A refused run (exit 2) prints no result, as a job's does (until session 48 the pipeline printed one).
            error.result = None if isinstance(error, UsageError) else failed
            raise
        labels = pipeline.step_labels()
        print(pipeline.summary_table(results, labels))
        print(pipeline.lake_line(spark, options.lake))
        result = pipeline.pipeline_result(total, results, labels)
        save_run_report_quietly(spark, report_root, result)
        return result

    def preflight(options) -> None:
        pipeline.preflight_conversions(options.raw, options.lake, options.format, options.incremental)

    return runtime.run_main("pipeline", [], lambda _argv: args, run, preflight, shown_as="lakejobs")


def _session(name: str):
    runtime.configure_logging()
    return runtime.session_handling_ctrl_c(f"lakejobs-{name}", runtime.current_profile())


def cmd_history(args) -> int:
    """Print a Delta table's commits, newest first, one JSON object a line."""
    import json

    from lakejobs.io.delta import table_history

    for row in table_history(_session("history"), fs.qualify(args.table), args.limit).collect():
        print(json.dumps(row.asDict(recursive=True), default=str))
    return 0


def cmd_optimize(args) -> int:
    """Compact a Delta table's small files (optionally Z-ordered)."""
    from lakejobs.io.delta import optimize_table

    zorder = list(args.zorder_by or ())
    print(json.dumps(optimize_table(_session("optimize"), fs.qualify(args.table), zorder)))
    return 0


def cmd_vacuum(args) -> int:
    """Delete files that no recent version of a Delta table references."""
    from lakejobs.io.delta import vacuum_table

    short = args.retain_hours is not None and args.retain_hours < SAFE_RETENTION_HOURS
    if short and not args.allow_short_retention:
        raise UsageError(
            f"--retain-hours {args.retain_hours:g} is below Delta's {SAFE_RETENTION_HOURS} hours: a reader or writer "
            "still on an older version would lose its files; add --allow-short-retention if none is"
        )
    kept = vacuum_table(_session("vacuum"), fs.qualify(args.table), args.retain_hours, args.allow_short_retention)
    print(f"vacuumed {args.table} (kept {kept})")
    return 0


def cmd_state(args) -> int:
    """Show or reset the incremental state of a job's output."""
    from lakejobs import state as job_state

    if args.state_path and (args.lake or args.dataset):
        given = " and ".join(option for option, value in (("--lake", args.lake), ("--dataset", args.dataset)) if value)
        verb = "name" if " and " in given else "names"
        raise UsageError(f"{given} {verb} a lake's state; --state_path names the file itself: give one or the other")
    lake, dataset = (args.lake or "lake").rstrip("/"), args.dataset or "orders"
    if "/" in dataset or "\\" in dataset or dataset.startswith("."):
        raise UsageError(f"--dataset {dataset!r} is no dataset name: give one such as orders (no / or leading .)")
    path = fs.qualify(args.state_path or f"{lake}/_lakejobs/state/{args.job}/{dataset}.json")
    if fs.is_local(path) and os.path.isdir(fs.local_path(path)):
        raise UsageError(
            f"--state_path {path} is a folder: give the state file (<lake>/_lakejobs/state/<job>/<name>.json)"
        )
    if not args.state_path and fs.is_local(lake) and not os.path.isdir(fs.local_path(lake)):
        missing = "is not a folder" if os.path.exists(fs.local_path(lake)) else "does not exist"
        raise UsageError(f"--lake {lake} {missing}: give the lake folder (the one holding processedData/)")
    if args.action == "reset":
        fs.require_writable({}, {"--state_path" if args.state_path else f"--lake {lake}: its state file": path})
    spark = _session("state")
    if not args.state_path:
        job_state.refuse_unknown_state(spark, lake, args.job, dataset, path, args.action)
    if args.action == "reset":
        existed = job_state.reset_state(spark, path, args.job)
        print(
            f"{'reset' if existed else 'no state was at'} {path}: the next incremental run converts every input "
            "file and writes them as a full run does (an unpartitioned Parquet table or a keyless Delta table is "
            "replaced, a partitioned Parquet table gets the partitions the files hold replaced, a keyed Delta table "
            "is merged)"
        )
        return 0
    text = fs.read_text(spark, path)
    if text is None:
        raise UsageError(f"no state at {path}")
    if job_state.check_state_file(path, text, args.job):
        print(
            f"lakejobs: warning: {path} is a damaged state (empty, cut short, JSON that is no object, or missing a "
            "field): a run "
            f"refuses it; restore it, or run {job_state.reset_command(path)} to read every input file again",
            file=sys.stderr,
        )
    print(text.rstrip())
    return 0


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block), exit 2.

    Options are matched whole, as the jobs match theirs: with argparse's abbreviations
    ``--retain`` was ambiguous and ``--lim`` was ``--limit``, so an option added later could
    change what a script's short spelling meant.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", job_args.DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # noqa: D102 - argparse hook
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_known_args(self, args=None, namespace=None):  # noqa: D102 - argparse hook
        # A command's parser refuses what it does not know itself, so that the line names the
        # command (``lakejobs report: error: ...``): argparse left that to the top parser.
        has_commands = any(isinstance(action, argparse._SubParsersAction) for action in self._actions)  # noqa: SLF001
        if args is not None and not has_commands:
            self._refuse_repeated_options(args)
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and not has_commands:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def _refuse_repeated_options(self, tokens: Sequence[str]) -> None:
        """An option given twice is refused, as the jobs refuse theirs (argparse kept the last)."""
        try:
            job_args.refuse_repeated_options(self, tokens)
        except UsageError as error:
            self.error(str(error))


def build_parser() -> argparse.ArgumentParser:
    """The CLI's parser (its subcommands' parsers are ``OneLineParser`` too)."""
    parser = OneLineParser(prog="lakejobs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("jobs", help="list the jobs").set_defaults(func=cmd_jobs)
    run = commands.add_parser("run", help="run a job: lakejobs run JOB --name value ...")
    run.add_argument("job", help=f"one of: {', '.join(JOBS)}")
    run.add_argument("job_args", nargs=argparse.REMAINDER, help="the job's arguments (see lakejobs run JOB --help)")
    run.set_defaults(func=cmd_run)
    generate = commands.add_parser("generate", help="write a deterministic sales raw zone of any size")
    generate.add_argument(
        "--orders",
        type=_order_lines,
        required=True,
        help="order lines to write, 10 or more (the course's lines come first)",
    )
    generate.add_argument("--out", required=True, help="output folder (receives customers/, employees/, orders/)")
    generate.add_argument("--seed", type=job_args.parse_seed, default=42, help="0 or more (default 42)")
    generate.add_argument(
        "--header",
        action="store_true",
        help="a header row in every file (for jobs run with --header true; lakejobs pipeline reads files without)",
    )
    generate.set_defaults(func=cmd_generate)
    pipe = commands.add_parser("pipeline", help="run the local sales pipeline: raw -> processed -> mart")
    pipe.add_argument(
        "--raw",
        default=None,
        help="raw zone folder (default: the lake's rawData/; for a local lake without one, data/sample/rawData)",
    )
    pipe.add_argument("--lake", default="lake", help="lake folder")
    pipe.add_argument("--format", default="parquet", choices=("parquet", "delta"))
    job_args.add_incremental_option(pipe, "convert only raw files not processed before")
    pipe.set_defaults(func=cmd_pipeline)
    history = commands.add_parser("history", help="a Delta table's commits")
    history.add_argument("table", help="table path")
    history.add_argument(
        "--limit", type=job_args.parse_positive, default=None, help="newest commits to show (default: all)"
    )
    history.set_defaults(func=cmd_history)
    optimize = commands.add_parser("optimize", help="compact a Delta table's small files")
    optimize.add_argument("table", help="table path")
    optimize.add_argument(
        "--zorder_by", type=job_args.parse_columns, help="columns to Z-order by: c1,c2 (default: none, compaction only)"
    )
    optimize.set_defaults(func=cmd_optimize)
    vacuum = commands.add_parser("vacuum", help="delete files no recent version of a Delta table uses")
    vacuum.add_argument("table", help="table path")
    vacuum.add_argument(
        "--retain-hours",
        "--retain_hours",
        dest="retain_hours",
        type=job_args.parse_hours,
        help="hours of history to keep (default: the table's delta.deletedFileRetentionDuration, a week unless set)",
    )
    vacuum.add_argument(
        "--allow-short-retention", action="store_true", help=f"allow --retain-hours below {SAFE_RETENTION_HOURS}"
    )
    vacuum.set_defaults(func=cmd_vacuum)
    state = commands.add_parser("state", help="show or reset a job's incremental state")
    state.add_argument("action", choices=("show", "reset"))
    state.add_argument("job", choices=STATE_JOBS, metavar="JOB", help="a job that keeps a state: csv_to_parquet")
    state.add_argument("--dataset", help="dataset of the state (csv_to_parquet; default orders)")
    state.add_argument("--lake", help="lake folder holding _lakejobs/state/ (default lake)")
    state.add_argument("--state_path", help="an explicit state file instead of --lake/--dataset")
    state.set_defaults(func=cmd_state)
    importlib.import_module("lakejobs.deploy.commands").register(commands)
    importlib.import_module("lakejobs.catalog_cli").register(commands)
    importlib.import_module("lakejobs.orchestrate.cli").register(commands)

    report_cli.register(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``lakejobs`` console script."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    previous_handler = signal.getsignal(signal.SIGINT)
    try:
        refuse_empty_command_paths(args)
        job_args.refuse_empty_values(_every_action(parser), args)
        code = args.func(args)
        sys.stdout.flush()  # a pipe's buffered output is written here, where a gone reader is handled
        return code
    except LakejobsError as error:
        print(f"lakejobs: error: {joined_lines(error)}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError as error:
        if not _stdout_is_a_pipe():  # another pipe or socket broke: a failure like any other
            return _failed(error)
        # `lakejobs ... | head`: the reader has gone, as with any command in a pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit would fail too
        return 141  # 128 + SIGPIPE: what a shell reports for a command whose reader left
    except KeyboardInterrupt:  # Ctrl-C (pipeline start --wait): the work goes on or stops, no traceback
        interrupt.stop_gateway_being_started()  # Ctrl-C while a command's session was starting
        print("lakejobs: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - any failure is one line (LAKEJOBS_DEBUG=1: the traceback too)
        if interrupt.interrupted():  # Ctrl-C cancelled the command's Spark job
            print("lakejobs: interrupted (Ctrl-C)", file=sys.stderr)
            return interrupt.EXIT_CODE
        return _failed(error)
    finally:
        interrupt.ended(previous_handler)


#: The commands' path arguments: ``table`` is positional (history, optimize, vacuum), ``out`` and ``html`` local.
COMMAND_PATHS = ("out", "raw", "lake", "table", "runs", "html")
LOCAL_PATHS = ("out", "html")


def refuse_empty_command_paths(args) -> None:
    """Refuse an empty path (an unset shell variable) naming it as the command takes it.

    Until session 48 ``history ''`` said "--table is empty" of its positional table, and
    ``generate --out ''`` and ``report --html ''`` offered s3://, which both refuse.
    """
    for name, value in job_args.path_options(args, COMMAND_PATHS):
        if value.strip():
            continue
        if name == "table":
            raise UsageError("the table path is empty: give the Delta table's folder (local, s3://, s3a://)")
        if name in LOCAL_PATHS:
            raise UsageError(f"--{name} is empty: give a local {'folder' if name == 'out' else 'file'}")
    job_args.refuse_empty_paths(args, also=COMMAND_PATHS)


def _failed(error: Exception) -> int:
    """Say why the command failed in one line (with ``LAKEJOBS_DEBUG=1`` the traceback too); exit 1."""
    if debug_enabled():
        traceback.print_exc()
    cause = f"{type(error).__name__}: {joined_lines(error)}" if is_aws_error(error) else root_cause(error)
    print(f"lakejobs: error: {cause}", file=sys.stderr)
    return 1


def _stdout_is_a_pipe() -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError):  # no file descriptor (a test's capture)
        return False


def _every_action(parser: argparse.ArgumentParser) -> List[argparse.Action]:
    """The actions of ``parser`` and of its subcommands' parsers, recursively."""
    actions = list(parser._actions)  # noqa: SLF001 - argparse keeps them there
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in dict.fromkeys(action.choices.values()):
                actions += _every_action(sub)
    return actions


def is_aws_error(error: BaseException) -> bool:
    """An error of boto3/botocore: no region or credentials, an unreachable endpoint, a refused call."""
    return type(error).__module__.split(".")[0] in ("botocore", "boto3")


if __name__ == "__main__":
    sys.exit(main())
