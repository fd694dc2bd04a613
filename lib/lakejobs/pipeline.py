"""The local sales pipeline: raw zone -> processedData -> mart, in one Spark session.

This is what ``make run`` runs. Each step is the same job a Glue or EMR run would execute,
called through its ``run(spark, args)``.
"""

import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from lakejobs import fs
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.interrupt import Interrupted, interrupted
from lakejobs.jobs import csv_to_parquet, sales_mart
from lakejobs.result import JobResult
from lakejobs.state import StateOfOtherPathsError, load_state, reset_command

LOG = logging.getLogger(__name__)
DATASETS = ("customers", "employees", "orders")


def as_argv(options: Dict[str, str]) -> List[str]:
    """``{"name": "value"}`` as Glue-style ``["--name", "value", ...]``."""
    return [token for name, value in options.items() for token in (f"--{name}", value)]


#: The bundled sample raw zone, in the checkout the package runs from (``pip install -e .``).
SAMPLE_RAW = Path(__file__).resolve().parents[2] / "data" / "sample" / "rawData"


def default_raw(lake: str) -> str:
    """The raw zone read without ``--raw``: the lake's ``rawData/``, or the sample for a local lake without one.

    Until session 48 it was the sample for every lake: ``--lake s3://lake`` loaded the
    checkout's sample into an S3 lake, and SUCCEEDED, where the README said the lake's own
    ``rawData/`` is read. Until session 49 a local lake's own ``rawData/`` was passed over for
    the sample too, and the sample was looked for below the working folder (from any other
    folder the pipeline failed on a missing ``data/sample/rawData/customers``).
    """
    own = f"{lake.rstrip('/')}/rawData"
    if not fs.is_local(lake) or Path(fs.local_path(own)).is_dir():
        return own
    if not SAMPLE_RAW.is_dir():  # an installed package carries no sample
        raise UsageError(
            f"--raw not given, and neither {fs.local_path(own)} nor the bundled sample ({SAMPLE_RAW}) exists: "
            "give --raw with the raw zone's folder"
        )
    return str(SAMPLE_RAW)


def raw_inputs(raw: str) -> Dict[str, str]:
    """Each dataset's raw folder, as the pipeline's own result names its inputs."""
    return {dataset: f"{fs.qualify(raw).rstrip('/')}/{dataset}" for dataset in DATASETS}


def report_root(lake: str) -> str:
    """Where the pipeline's steps, and the pipeline itself (``pipeline/<run_id>.json``), leave their run reports."""
    return f"{lake.rstrip('/')}/_lakejobs/runs"


def pipeline_steps(raw: str, lake: str, output_format: str = "parquet", incremental: bool = False) -> List[tuple]:
    """(label, job module, argv) of every step, in order."""
    raw, lake = raw.rstrip("/"), lake.rstrip("/")
    common = {"format": output_format, "report_path": report_root(lake)}
    steps = []
    for dataset in DATASETS:
        options = {
            "dataset": dataset,
            "input_path": f"{raw}/{dataset}",
            "output_path": f"{lake}/processedData/{dataset}",
            "quarantine_path": f"{lake}/quarantine/{dataset}",
            "state_path": f"{lake}/_lakejobs/state/csv_to_parquet/{dataset}.json",
            "incremental": str(incremental).lower(),
            **common,
        }
        steps.append((f"csv_to_parquet {dataset}", csv_to_parquet, as_argv(options)))
    options = {
        "processed_path": f"{lake}/processedData",
        "mart_path": f"{lake}/mart",
        "quarantine_path": f"{lake}/quarantine/sales",
        **common,
    }
    steps.append(("sales_mart", sales_mart, as_argv(options)))
    return steps


def preflight_conversions(raw: str, lake: str, output_format: str = "parquet", incremental: bool = False) -> None:
    """Parse every step's arguments and run each conversion's preflight, before Spark starts.

    A missing ``rawData/orders`` was found only when its step came, after the dimensions' tables
    had been replaced (until session 46). The mart's own preflight, which needs the tables the
    conversions write, runs before its step (``run_pipeline``).
    """
    for label, module, argv in pipeline_steps(fs.qualify(raw), fs.qualify(lake), output_format, incremental):
        try:
            args = module.parse_args(argv)
            if module is csv_to_parquet:
                module.preflight(args)
        except UsageError as error:
            raise said_of_the_step(error, label, argv) from None


def run_pipeline(
    spark,
    raw: str,
    lake: str,
    output_format: str = "parquet",
    incremental: bool = False,
    results: Optional[List[JobResult]] = None,
) -> List[JobResult]:
    """Run every step; stop at the first failure (its error propagates).

    Each step's result is appended to ``results`` (a new list when not given) as it ends, so a
    caller knows the steps that ran before a failure.
    """
    results = [] if results is None else results
    steps = pipeline_steps(fs.qualify(raw), fs.qualify(lake), output_format, incremental)
    if incremental:
        refuse_states_of_other_paths(spark, steps)
    for label, module, argv in steps:
        if interrupted():  # a step too short for the cancels to reach (lakejobs.interrupt)
            raise Interrupted(f"interrupted (Ctrl-C) before {label}")
        try:
            args = module.parse_args(argv)
            module.preflight(args)
            LOG.info("running %s", label)
            results.append(module.run(spark, args))
        except UsageError as error:
            raise said_of_the_step(error, label, argv) from None
    return results


def refuse_states_of_other_paths(spark, steps: Sequence[tuple]) -> None:
    """Raise ``UsageError`` naming every conversion whose incremental state is for other paths, before any step runs.

    A lake first converted through ``s3://`` and then run as ``s3a://`` (or moved) has such a
    state for each dataset; until session 49 each was named by its own failed run, one after the
    other, with options (``--state_path``) the pipeline does not take.
    """
    refused = []
    for label, module, argv in steps:
        if module is csv_to_parquet:
            args = module.parse_args(argv)
            try:
                load_state(spark, args.state_path, csv_to_parquet.JOB, args.input_path, args.output_path)
            except StateOfOtherPathsError as error:
                refused.append((label, error))
    if refused:
        labels = ", ".join(label for label, _error in refused)
        first = refused[0][1]
        commands = "; ".join(reset_command(error.path) for _label, error in refused)
        raise UsageError(
            f"the incremental states of {labels} are for other paths than this pipeline's (e.g. {first.path} is "
            f"for {first.mismatch}): run the pipeline with the --raw and --lake they were written for, or, to "
            f"convert every input file again, run {commands}"
        )


def said_of_the_step(error: UsageError, label: str, argv: Sequence[str]) -> UsageError:
    """``error``, headed by its step when it names a path option of the step, which the pipeline's user did not give.

    Until session 49 ``lakejobs pipeline --lake lake/processedData/orders/sub`` said ``--output_path
    .../customers lies inside the table ...``, an option of no command the user typed.
    """
    message = str(error)
    if any(token.startswith("--") and token.endswith("_path") and token in message for token in argv):
        error.args = (f"step {label} (its paths come from --raw and --lake): {message}",)
    return error


def summary_table(results: Sequence[JobResult], labels: Sequence[str]) -> str:
    """A fixed-width table: step, rows read / written / quarantined, files, seconds."""
    header = f"{'step':<28}{'read':>10}{'written':>10}{'quarantined':>13}{'files':>7}{'seconds':>9}"
    lines = [header, "-" * len(header)]
    for label, result in zip(labels, results):
        lines.append(
            f"{label:<28}{result.rows_read:>10}{result.rows_written:>10}{result.rows_quarantined:>13}"
            f"{result.files_written:>7}{result.duration_s:>9.2f}"
        )
    return "\n".join(lines)


def lake_line(spark, lake: str) -> str:
    """``lake: <lake> (<its top-level folders>)``, the line ``lakejobs pipeline`` ends with."""
    folders = [child for child in fs.list_children(spark, lake) if fs.is_folder(spark, child)]
    names = [child.rstrip("/").rsplit("/", 1)[-1] + "/" for child in folders]
    return f"lake: {lake} ({', '.join(names)})"


def step_labels() -> List[str]:
    """Each step's label, in order (``csv_to_parquet orders``, ``sales_mart``)."""
    return [label for label, _module, _argv in pipeline_steps("", "")]


def failed_pipeline_result(total: JobResult, done: Sequence[JobResult], error: LakejobsError) -> JobResult:
    """The pipeline's FAILED result: the steps that ended, then the failed step's own (``error.result``)."""
    failed = getattr(error, "result", None)
    steps = list(done) + ([failed] if isinstance(failed, JobResult) else [])
    return pipeline_result(total, steps, step_labels()).finish("FAILED", str(error))


def pipeline_result(total: JobResult, results: Sequence[JobResult], labels: Sequence[str]) -> JobResult:
    """Fill ``total`` (started before the first step) with totals and one short entry per step.

    The totals count the raw lines: the conversions' rows read, written and quarantined, and
    their reasons. The mart reads the lines the orders conversion wrote, so adding its counts
    counted those lines twice (until session 46: 658 rows read for 358 raw lines); its own
    counts are in its step's entry.
    """
    conversions = [result for result in results if result.job == csv_to_parquet.JOB]
    total.rows_read = sum(result.rows_read for result in conversions)
    total.rows_written = sum(result.rows_written for result in conversions)
    total.rows_quarantined = sum(result.rows_quarantined for result in conversions)
    for result in conversions:
        for reason, count in result.quarantine_reasons.items():
            total.quarantine_reasons[reason] = total.quarantine_reasons.get(reason, 0) + count
    for result in results:
        total.outputs.extend(result.outputs)
    total.details = {
        "steps": [
            {
                "step": label,
                "run_id": result.run_id,
                "status": result.status,
                "rows_read": result.rows_read,
                "rows_written": result.rows_written,
                "rows_quarantined": result.rows_quarantined,
                "quarantine_reasons": result.quarantine_reasons,
            }
            for label, result in zip(labels, results)
        ]
    }
    return total.finish("SUCCEEDED")
