"""csv_to_parquet: raw CSV -> typed, partitioned Parquet, with a quarantine for bad rows.

Every data line read ends up either in the output or in the quarantine with a reason, and
the counts say so. When more than ``--max_bad_fraction`` of the lines are bad the job fails,
publishes nothing, and keeps the rejected run's quarantine under
``<quarantine_path>_rejected/run_id=<id>/`` for inspection (beside the quarantine, whose folders the runs replace).

Parquet outputs are converted in a single pass over the CSV (``convert_batch_single_pass``): the
good rows are staged under ``<output_path>/_staging/`` while every measure is observed, and moved
into the output once the gate has passed. See ``convert_batch`` for when the persisted passes
are used instead.

Examples
--------
::

    python jobs/csv_to_parquet.py --dataset orders \\
        --input_path data/sample/rawData/orders --output_path lake/processedData/orders

    lakejobs run csv_to_parquet --schema "id BIGINT NOT NULL, name STRING, born DATE" \\
        --header true --date_format d.M.yyyy --input_path people.csv --output_path out/people
"""

import dataclasses
import logging
import time
from functools import partial
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Set, Tuple
from urllib.parse import unquote

from pyspark import StorageLevel
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakejobs import faults, fs, quality_gate, runtime
from lakejobs.datasets import Dataset
from lakejobs.errors import LakejobsError, QualityGateError, UsageError, root_cause
from lakejobs.io.compressed import broken_archive
from lakejobs.io.csv_reader import (
    SOURCE_FILE,
    breaks_lines_with_one_byte,
    header_hint,
    header_mismatch,
    read_raw_csv,
    refuse_header_as_data,
    require_known_encoding,
    too_many_fields,
)
from lakejobs.io.delta import (
    append_delta_once,
    batch_app_id,
    committed_transaction,
    merge_delta,
    overwrite_delta,
    require_delta,
    table_schema,
)
from lakejobs.io.input_folder import input_data_files
from lakejobs.io.partitions import folder_values, partition_folders, partition_texts
from lakejobs.io.quarantine import write_quarantine
from lakejobs.io.reports import (
    previous_rows_written,
    raise_failed_run,
    refuse_missing_report_bucket,
    save_interrupted_report,
    save_run_report_quietly,
)
from lakejobs.io.signatures import refuse_compressed_content
from lakejobs.io.staging import (
    clear_staging,
    commit_parquet,
    holds_unfinished_commit,
    staged_files,
    staging_path,
    staging_root,
)
from lakejobs.io.table_folder import (
    holds_delta_commit,
    refuse_foreign_folders,
    refuse_other_delta_layout,
    refuse_other_layout,
    table_files,
)
from lakejobs.io.table_keys import refuse_keys_in_kept_partitions, refuse_keys_in_table
from lakejobs.io.table_schema import (
    refuse_another_key,
    refuse_keyless_write_into_a_merged_table,
    refuse_other_schema,
)
from lakejobs.io.writer import write_table
from lakejobs.jobs.csv_to_parquet_args import (  # noqa: F401 - the job's public face: DESCRIPTION, parse_args
    DESCRIPTION,
    JOB,
    CsvToParquetArgs,
    parse_args,
    preflight,
)
from lakejobs.key_check import repeats_a_key
from lakejobs.result import JobResult, OutputInfo, new_run_id
from lakejobs.state import JobState, RunLock, load_state, reset_command, save_state
from lakejobs.transforms import quality
from lakejobs.transforms.partition_values import folder_name_limit, partition_value_checks
from lakejobs.transforms.quality import Check
from lakejobs.transforms.stages import end_generated_stage
from lakejobs.transforms.validation import (
    DETAIL,
    RAW_LINE,
    REASON,
    few_repeats,
    filter_quarantined,
    filter_valid,
    keep_failing,
    quote_name,
    reason_labels,
    repeated_keys,
    with_derived_columns,
    with_duplicate_keys_flagged,
    with_explanations,
    with_reasons,
    with_row_id,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

LOG = logging.getLogger(__name__)


def _gate_message(args: CsvToParquetArgs, bad: int, total: int, reasons: Dict[str, int]) -> str:
    top = quality_gate.top_reasons(reasons)
    return (
        f"{args.dataset.name}: {bad} of {total} rows ({bad / total:.2%}) are bad, above "
        f"--max_bad_fraction {args.max_bad_fraction}; nothing was published (reasons: {top}; "
        f"rows kept in {quality_gate.rejected_root(args.quarantine_path)})"
    )


def run(spark: "SparkSession", args: CsvToParquetArgs) -> JobResult:
    """Convert ``args.input_path`` to a typed table; see the module docstring.

    Every run, failed ones too, leaves its result in ``args.report_path``. A failure that is
    not a ``LakejobsError`` (storage unreachable, disk full, ...) is reported as one line
    naming the dataset, the stage and the root cause.
    """
    result = JobResult(job=JOB, run_id=new_run_id(), inputs={args.dataset.name: args.input_path})
    result.details = {"dataset": args.dataset.name}
    try:
        return _run(spark, args, result)
    except KeyboardInterrupt:  # a second Ctrl-C: the RUNNING report says FAILED, not RUNNING
        save_interrupted_report(spark, args.report_path, result, args.dataset.name)
        raise
    except Exception as error:  # noqa: BLE001 - one clear line and a FAILED report, cause kept for LAKEJOBS_DEBUG
        raise_failed_run(spark, args.report_path, result, args.dataset.name, error)


def _run(spark: "SparkSession", args: CsvToParquetArgs, result: JobResult) -> JobResult:
    refuse_missing_report_bucket(spark, args.report_path)
    if not fs.exists(spark, args.input_path):
        raise UsageError(f"input path does not exist: {args.input_path}")
    refuse_foreign_folders(spark, {"--output_path": args.output_path}, args.output_format)
    if args.output_format == "parquet":  # unpartitioned into a partitioned table too: it was replaced
        refuse_other_layout(spark, args.output_path, args.partition_by)
    refuse_foreign_folders(spark, {"--quarantine_path": args.quarantine_path}, "json")
    quality_gate.check_rule_patterns(spark, args.rules)
    quality_gate.check_rule_filters(spark, args.rules, args.dataset)
    require_known_encoding(spark, args.dataset.csv.encoding)
    args = _read_whole_files_where_needed(spark, args)
    if args.output_format == "delta":
        require_delta(spark)
        if not replaces_whole(args):  # a whole Delta overwrite sets the partitioning too
            refuse_other_delta_layout(spark, args.output_path, args.partition_by)
    if not replaces_whole(args):  # a write keeping the table's rows (a whole Delta overwrite sets its schema)
        refuse_other_schema(
            spark, args.output_path, table_schema(spark, args.dataset), args.output_format, args.partition_by
        )
    if args.output_format == "delta" and not args.dataset.primary_key:
        refuse_keyless_write_into_a_merged_table(spark, args.output_path)
    elif args.output_format == "delta":
        refuse_another_key(spark, args.output_path, args.dataset.primary_key)
    with RunLock(spark, args.lock_path, JOB, result.run_id, args.report_path):
        save_run_report_quietly(spark, args.report_path, result)  # RUNNING: what a killed run leaves
        clear_staging(spark, args.output_path)  # left by an interrupted run; a commit is finished first
        files = input_data_files(spark, args.input_path)
        if not files and replaces_whole(args) and fs.exists(spark, args.output_path):
            raise UsageError(
                f"no data files below {args.input_path}: "
                f"a full run would replace {args.output_path} with an empty table"
            )
        state_found = fs.exists(spark, args.state_path)
        state = _state_of_run(spark, args, state_found)
        if args.incremental and state.pending:
            roll_back_interrupted_append(spark, args, state)
            save_state(spark, args.state_path, state)  # rolled back once, even if no batch follows
        if args.incremental:
            refuse_changed_files(args, state.changed_files(files))
            refuse_state_without_output(spark, args, state)
        batch = state.new_files(files) if args.incremental else files
        refuse_compressed_content(spark, batch)
        refuse_header_as_data(spark, args.dataset, [info.path for info in batch])
        result.details.update({"input_files": len(files), "batch_files": len(batch), "incremental": args.incremental})
        if args.incremental and not batch:
            LOG.info("no new input files below %s", args.input_path)
            result.details["rules"] = quality_gate.skipped_results(args.rules, "no new input files: nothing to check")
            return _finish(spark, args, result)
        if args.incremental and not state.processed:
            if not state_found:
                refuse_output_without_state(spark, args)
            LOG.warning("no file converted into %s yet: this batch replaces it, as a full run does", args.output_path)
            args = dataclasses.replace(args, first_batch=True)
            result.details["first_batch"] = True
        convert_batch(spark, args, result, batch, state)
    return _finish(spark, args, result)


def _state_of_run(spark: "SparkSession", args: CsvToParquetArgs, state_found: bool) -> Optional[JobState]:
    """The incremental state this run reads and records its batch in.

    An incremental run's is the stored one. A full run has none, unless a state exists at
    ``--state_path``: then the run replaces it (every input file converted, nothing pending),
    since incremental runs go on from what it published; kept, the next incremental run would
    append again every file the full run converted that the state did not list.
    """
    if args.incremental:
        return load_state(spark, args.state_path, JOB, args.input_path, args.output_path)
    return JobState(job=JOB, input_path=args.input_path, output_path=args.output_path) if state_found else None


def refuse_state_without_output(spark: "SparkSession", args: CsvToParquetArgs, state: JobState) -> None:
    """Refuse an incremental run whose state lists converted files when the output does not exist.

    The output was deleted (to rebuild it, or to switch format) and the state kept: every file
    counted as converted, the run wrote nothing and succeeded, and the mart then found no table.
    """
    if state.processed and not fs.exists(spark, args.output_path):
        raise UsageError(
            f"{args.state_path} lists {len(state.processed)} converted input file(s), but {args.output_path} "
            f"does not exist: run {reset_command(args.state_path)} to convert every input file again (or restore the "
            "output)"
        )


def refuse_output_without_state(spark: "SparkSession", args: CsvToParquetArgs) -> None:
    """Refuse a first incremental batch into an output that already holds data but has no state.

    Appended, the batch would publish every row a full run (or a lost state) had published
    again; replacing the output would lose the rows of input files since archived. Which one is
    meant is the user's call: ``lakejobs state reset`` (or the right ``--state_path``).
    """
    if fs.list_data_files(spark, args.output_path):
        raise UsageError(
            f"{args.output_path} already holds data but {args.state_path} has no incremental state: "
            "appending every input file would publish their rows twice. To replace the output with a conversion "
            f"of every input file, run {reset_command(args.state_path)} (or pass the output's own --state_path)"
        )


def _read_whole_files_where_needed(spark: "SparkSession", args: CsvToParquetArgs) -> CsvToParquetArgs:
    """``args`` reading each file whole when its encoding's line break is not the byte ``\\n``."""
    csv = args.dataset.csv
    if csv.multiline or breaks_lines_with_one_byte(spark, csv.encoding):
        return args
    LOG.info("%s files are read whole (as --multiline true): a line break is not one byte there", csv.encoding)
    dataset = dataclasses.replace(args.dataset, csv=dataclasses.replace(csv, multiline=True))
    return dataclasses.replace(args, dataset=dataset)


def refuse_changed_files(args: CsvToParquetArgs, changed) -> None:
    """Refuse an incremental batch holding a file converted before and changed since.

    Its rows are read again whole: a Delta MERGE on the primary key replaces them, but an append
    (Parquet, or Delta without a key) would publish the rows converted before a second time.
    """
    if not changed or (args.output_format == "delta" and args.dataset.primary_key):
        return
    raise LakejobsError(
        f"{args.dataset.name}: {changed[0].path} changed since it was converted ({len(changed)} such file(s)); "
        "an incremental append would publish its earlier rows twice: land new rows as new files (a changed row "
        f"needs --format delta), or reset the state ({reset_command(args.state_path)}) and convert in full"
    )


def _finish(spark: "SparkSession", args: CsvToParquetArgs, result: JobResult) -> JobResult:
    result.finish("SUCCEEDED")
    save_run_report_quietly(spark, args.report_path, result)
    return result


def convert_batch(spark: "SparkSession", args: CsvToParquetArgs, result: JobResult, batch, state) -> None:
    """Read, validate, measure, gate and publish one batch of input files, then record it in ``state``.

    Parquet outputs take the single pass (``convert_batch_single_pass``); Delta outputs and a
    batch that turns out to repeat a key take the passes over a persisted batch
    (``convert_batch_persisted``). Both give the same output, quarantine and counts.
    """
    if takes_single_pass(args):
        if convert_batch_single_pass(spark, args, result, batch, state):
            return
    result.details["conversion"] = "persisted"
    convert_batch_persisted(spark, args, result, batch, state)


def takes_single_pass(args: CsvToParquetArgs) -> bool:
    """Tell whether a batch is converted by the single pass (Parquet outputs) first."""
    return args.output_format == "parquet"


def convert_batch_persisted(spark: "SparkSession", args: CsvToParquetArgs, result: JobResult, batch, state) -> None:
    """Convert one batch in passes over a disk-persisted copy of its typed rows.

    Passes over the batch: reading it into a disk cache (with the row rules), the repeated-key
    aggregate (datasets with a key), one aggregate for the counts per reason and every rule's
    metric (plus one query per CustomSql rule), then the two writes.
    """
    batch_fingerprint = fs.fingerprint(batch)
    row_checks = checks_of_rows(args)
    with result.stage("read_and_validate"):
        checked_df = explained_rows(_checked_rows(spark, args, batch, row_checks), args.dataset, row_checks)
        source_files = checked_df.inputFiles()
        typed_df = checked_df.transform(with_row_id()).persist(StorageLevel.DISK_ONLY)
        repeated_df = None
        try:
            repeated_df = _repeated_keys(typed_df, args.dataset)
            broadcast = repeated_df is None or few_repeats(repeated_df)
            validated_df = typed_df.transform(with_duplicate_keys_flagged(args.dataset, repeated_df, broadcast))
            measurement = _measure(spark, args, validated_df, [label for _bad, label, _detail in row_checks])
        except Exception as error:
            _unpersist(typed_df, repeated_df)
            _raise_explained(error, args.dataset, spark, batch)
    _record_measurement(result, measurement)
    quarantine_df = validated_df.transform(filter_quarantined(args.dataset.name, result.run_id))
    valid_df = validated_df.transform(filter_valid(args.dataset)).transform(
        with_derived_columns(args.dataset.derived_columns)
    )
    try:
        refuse_emptying(spark, args, result, batch)
        _gate(spark, args, result, measurement, quarantine_df, batch)
        if state is not None:
            _refuse_changed_input(spark, args, batch, () if args.incremental else source_files)
        if appends_keyed_parquet(args):
            with result.stage("check_keys"):
                refuse_keys_in_table(spark, valid_df, args.output_path, args.dataset)
        if replaces_keyed_partitions(args):
            with result.stage("check_keys"):
                replaced = partial(partition_texts, valid_df, args.partition_by)
                refuse_keys_in_kept_partitions(
                    spark, valid_df, args.output_path, args.dataset, args.partition_by, replaced
                )
        staged = _stage_append(spark, args, result, valid_df, state)
        written = staged_files(spark, staged.path) if staged is not None else None
        _mark_pending(spark, args, state, result.run_id, batch, written=written)
        with result.stage("write"), faults.killed_during_write(args.output_path):
            # The quarantine first: if it cannot be written, the output stays as it was.
            quarantine = publish_quarantine(quarantine_df, args, source_files, result.rows_quarantined)
            result.outputs = [quarantine]  # published: a failure from here on reports it
            if staged is not None:
                commit_parquet(spark, staged.path, args.output_path, bool(args.partition_by), append=True)
                output = dataclasses.replace(staged, path=args.output_path)
            else:
                output = publish(valid_df, args, batch_fingerprint, state.series if state is not None else "")
            result.outputs = [output, quarantine]  # replaced: a count that does not add up reports it
            _check_published_rows(args, result, output)
    except BaseException:
        if staged_append(args, state):  # an append's output exists (refuse_state_without_output)
            _remove_staging_quietly(spark, args.output_path, output_existed=True)
        raise
    finally:
        _unpersist(typed_df, repeated_df)
    _record_published(spark, args, result, (batch, batch_fingerprint, state), output, quarantine)


def appends_keyed_parquet(args: CsvToParquetArgs) -> bool:
    """Whether the run appends to a Parquet table with a key, which must not hold the batch's keys yet."""
    return args.appends and args.output_format == "parquet" and bool(args.dataset.primary_key)


def replaces_keyed_partitions(args: CsvToParquetArgs) -> bool:
    """Whether a full run replaces partitions of a keyed Parquet table: the kept ones must not hold its keys."""
    return not args.appends and args.output_format == "parquet" and bool(args.dataset.primary_key and args.partition_by)


def staged_partitions(spark: "SparkSession", args: CsvToParquetArgs, staging: str) -> Set[Tuple[str, ...]]:
    """The partitions a staged full run replaces, as their folders spell the values."""
    return {folder_values(folder) for folder in partition_folders(spark, staging, len(args.partition_by))}


def staged_append(args: CsvToParquetArgs, state) -> bool:
    """Tell whether the persisted passes stage their rows: a Parquet append recorded in a state.

    Its files are then named in the state before they are moved in, so a rerun after a crash
    removes exactly those (not the output's files newer than the run's start: on S3 those times
    are whole seconds of the store's clock, so a previous batch could be taken for this one).
    """
    return args.output_format == "parquet" and args.appends and state is not None


def _stage_append(spark: "SparkSession", args: CsvToParquetArgs, result: JobResult, valid_df, state):
    """Write the good rows of a ``staged_append`` to its staging folder; None for other writes."""
    if not staged_append(args, state):
        return None
    with result.stage("stage"):
        return _write_staging(args, valid_df, staging_path(args.output_path, result.run_id))


def _write_staging(args: CsvToParquetArgs, valid_df: "DataFrame", staging: str) -> OutputInfo:
    """Write good rows to ``staging`` in the output's layout (``lakejobs.io.staging``)."""
    return write_table(
        valid_df,
        staging,
        args.dataset.name,
        "parquet",
        args.partition_by,
        args.compression,
        plain_columns=args.dataset.plain_columns,
    )


def convert_batch_single_pass(spark: "SparkSession", args: CsvToParquetArgs, result: JobResult, batch, state) -> bool:
    """Convert one batch reading its CSV once (twice when it has bad rows); False if a key repeats.

    Pass 1 types and checks every row, observes the rows, bad rows and the rules' metrics
    (ReferentialIntegrity keys broadcast-joined) and writes the good rows to a staging folder
    (``lakejobs.io.staging``). Then: the staged key columns are checked for repeats (a repeat
    sends the batch to ``convert_batch_persisted``, which decides which copy stays); the rules
    an observation cannot measure (IsUnique, a ReferentialIntegrity rule on the dataset itself)
    are measured in one aggregate of the staged rows (``quality_gate.staged_metrics``); only when
    pass 1 saw bad rows, the CSV is read again keeping just those (counted per reason, then
    quarantined); the gate; last the staged files are moved into the output.
    """
    batch_fingerprint = fs.fingerprint(batch)
    row_checks = checks_of_rows(args)
    labels = reason_labels(args.dataset, [label for _bad, label, _detail in row_checks])
    staging = staging_path(args.output_path, result.run_id)
    staging_started_ms = int(time.time() * 1000)  # moving keeps the files' times (local, HDFS)
    output_existed = fs.exists(spark, args.output_path)
    bad_df = None
    try:
        with result.stage("read_validate_and_stage"):
            raw_df = _raw_rows(spark, args, batch)
            checked_df = raw_df.transform(with_reasons(args.dataset, row_checks))
            source_files = checked_df.inputFiles()
            staged, metrics, missing = _stage_good_rows(args, checked_df, staging, batch)
        staged_df = spark.read.schema(table_schema(spark, args.dataset)).parquet(staging) if staged.files else None
        with result.stage("check_keys"):
            if args.dataset.primary_key and staged_df is not None and repeats_a_key(staged_df, args.dataset):
                LOG.info("%s: a key repeats in this batch; converting it over a persisted copy", args.dataset.name)
                fs.delete(spark, staging_root(args.output_path), recursive=True)
                return False
            if appends_keyed_parquet(args) and staged_df is not None:
                refuse_keys_in_table(spark, staged_df, args.output_path, args.dataset)
            if replaces_keyed_partitions(args) and staged_df is not None:
                replaced = partial(staged_partitions, spark, args, staging)
                refuse_keys_in_kept_partitions(
                    spark, staged_df, args.output_path, args.dataset, args.partition_by, replaced
                )
        columns = [quote_name(field.name) for field in args.dataset.schema.fields]
        good_df = staged_df.select(*columns) if staged_df else spark.createDataFrame([], args.dataset.schema)
        _measure_after_staging(args, result, good_df, metrics)
        with result.stage("read_bad_rows"):
            reasons_seen = quality_gate.pop_reasons_seen(metrics)
            bad_df = _bad_rows(args, raw_df, row_checks, metrics["bad"], reasons_seen)
            metrics.update(_count_bad_rows(args, bad_df, labels, metrics["bad"]))
            if metrics["bad"] or state is not None:
                read = source_files if state is not None and not args.incremental else ()
                _refuse_changed_input(spark, args, batch, read)
        measurement = quality_gate.judge(metrics, good_df, args.rules, labels, missing, _previous_rows(spark, args))
        _record_measurement(result, measurement)
        result.check_rows_add_up(staged.rows, f"{args.output_path}'s staging folder")
        quarantine_df = bad_df.transform(filter_quarantined(args.dataset.name, result.run_id))
        refuse_emptying(spark, args, result, batch)
        _gate(spark, args, result, measurement, quarantine_df, batch)
        written = staged_files(spark, staging) if state is not None and args.appends else None
        _mark_pending(spark, args, state, result.run_id, batch, staging_started_ms, written)
        with result.stage("write"), faults.killed_during_write(args.output_path):
            quarantine = publish_quarantine(quarantine_df, args, source_files, result.rows_quarantined)
            result.outputs = [quarantine]  # published: a failure from here on reports it
            commit_parquet(spark, staging, args.output_path, bool(args.partition_by), args.appends)
    except BaseException:
        _remove_staging_quietly(spark, args.output_path, output_existed)
        raise
    finally:
        if bad_df is not None:
            bad_df.unpersist()
    result.details["conversion"] = "single_pass"
    output = dataclasses.replace(staged, path=args.output_path)
    _record_published(spark, args, result, (batch, batch_fingerprint, state), output, quarantine)
    return True


def _measure_after_staging(args: CsvToParquetArgs, result: JobResult, good_df: "DataFrame", metrics) -> None:
    """Add to ``metrics`` those of the rules measured over the staged rows (IsUnique, self-references)."""
    if any(quality_gate.measured_after_staging(rule, args.dataset) for rule in args.rules):
        with result.stage("measure_after_staging"):
            metrics.update(quality_gate.staged_metrics(good_df, args.rules, args.dataset))


def _remove_staging_quietly(spark: "SparkSession", output_path: str, output_existed: bool) -> None:
    """Remove a failed run's staging folder (and the output folder, if only staging made it).

    The staging folder of a commit that stopped part-way is kept: the next run finishes it.
    """
    try:
        if output_existed and holds_unfinished_commit(spark, output_path):
            return
        fs.delete(spark, output_path if not output_existed else staging_root(output_path), recursive=True)
    except Exception as error:  # noqa: BLE001 - the run's own error is the one to report
        LOG.warning("could not remove %s (the next run will): %s", staging_root(output_path), root_cause(error))


def observed_good_rows(args: CsvToParquetArgs, checked_df: "DataFrame"):
    """The good rows pass 1 writes, observed: (frame, the observation, rules missing a reference)."""
    # Only what the measures and the output need: a row's detail, line and file are for the
    # quarantine, which reads them again (observing keeps every column of its input alive).
    checked_df = checked_df.select(*[quote_name(field.name) for field in args.dataset.schema.fields], REASON)
    frames, missing = quality_gate.reference_frames(
        checked_df, args.rules, args.dataset, args.references_path, include_self=False
    )
    observed_df, observation = quality_gate.observe_metrics(checked_df, args.rules, frames, args.dataset.primary_key)
    valid_df = observed_df.transform(filter_valid(args.dataset)).transform(
        with_derived_columns(args.dataset.derived_columns)
    )
    return valid_df, observation, missing


def _stage_good_rows(args: CsvToParquetArgs, checked_df: "DataFrame", staging: str, batch: List[fs.FileInfo]):
    """Pass 1: write the good rows to ``staging`` while observing rows, bad rows and rule metrics."""
    valid_df, observation, missing = observed_good_rows(args, checked_df)
    try:
        staged = _write_staging(args, valid_df, staging)
    except Exception as error:
        _raise_explained(error, args.dataset, checked_df.sparkSession, batch)
    return staged, observation.get, missing


def _bad_rows(
    args: CsvToParquetArgs, raw_df: "DataFrame", row_checks, bad_rows: int, reasons_seen: Sequence[str]
) -> "DataFrame":
    """The quarantine pass: the batch's bad rows (``quarantine_rows``), read again and kept on disk.

    They are counted per reason, then written to the quarantine. The batch is planned once, for
    both passes: planning it again took 0.6-0.9 s per batch of 1M or 10M order lines. With no
    bad rows the CSV is not read and the checks are not planned either (``no_bad_rows``).
    """
    if not bad_rows:
        return no_bad_rows(raw_df.sparkSession)
    return quarantine_rows(args, raw_df, row_checks, reasons_seen).persist(StorageLevel.DISK_ONLY)


def no_bad_rows(spark: "SparkSession") -> "DataFrame":
    """An empty frame of the columns a quarantine is made of (``filter_quarantined``).

    A clean batch's quarantine pass: planning the checks and explanations over the batch only to
    keep none of its rows took 0.7 s per orders batch, 1M or 10M lines (``bench/HISTORY.md``).
    """
    columns = (SOURCE_FILE, RAW_LINE, REASON, DETAIL)
    return spark.createDataFrame([], T.StructType([T.StructField(name, T.StringType()) for name in columns]))


def quarantine_rows(args: CsvToParquetArgs, raw_df: "DataFrame", row_checks, reasons_seen: Sequence[str]):
    """The bad rows of ``raw_df`` (``_raw_rows``), typed and explained, given the reasons pass 1 saw.

    When those are a few reasons of single columns (``validation.keep_failing``), the rows
    failing one of them are kept first, typing only those columns; then the kept rows are typed.
    """
    keep = keep_failing(args.dataset, reasons_seen)
    checked_df = (raw_df.transform(keep) if keep else raw_df).transform(with_reasons(args.dataset, row_checks))
    return explained_rows(checked_df, args.dataset, row_checks, bad_only=True)


def explained_rows(checked_df: "DataFrame", dataset: Dataset, row_checks, bad_only: bool = False) -> "DataFrame":
    """The rows of ``_checked_rows`` (``bad_only``: those with a reason) with their details and lines.

    The typing projection computes the reason; then (``bad_only``) a filter keeps the bad rows;
    then ``with_explanations`` gives them a detail and a line. The rows are observed right after
    the typing: an observation is a node Spark's optimizer neither pushes a filter through nor
    merges projections across. Pushed below the typing, the filter repeated every check's
    typing inline, a method too large to compile, and Spark ran the whole read interpreted;
    merged into the typing, the details made its per-row method too large for the JIT
    (``tests/unit/test_generated_code.py``).
    """
    observed_df = end_generated_stage(checked_df, "typed_rows")
    kept_df = observed_df.filter(F.col(REASON).isNotNull()) if bad_only else observed_df
    return kept_df.transform(with_explanations(dataset, row_checks))


def _refuse_changed_input(spark: "SparkSession", args: CsvToParquetArgs, batch, read: Sequence[str] = ()) -> None:
    """Stop the run when a file of the batch changed (size or time) since it was listed.

    Called when a batch with bad rows was read twice: the second read keeps only the rows that
    may fail a reason the first read saw (``quarantine_rows``), so a line turned bad in between
    for another reason would not show in the counts (``_count_bad_rows``). And before a batch
    is recorded in a state: a file still being written when it was listed (a copy to a local
    disk, NFS or HDFS) would be recorded at its listed size with more of its rows read, then
    refused as changed by every later run. ``read``: the files Spark read (a full run, which
    reads the whole folder, replacing a state): one that landed between the listing and Spark's
    own stops the run too, as its rows would be published but not recorded, and appended again
    by the next incremental run.
    """
    now = {info.path: info for info in fs.list_data_files(spark, args.input_path)}
    changed = [info.path for info in batch if now.get(info.path) != info]
    listed = {fs.listed_file_key(info.path) for info in batch}
    changed += sorted(unquote(path) for path in read if fs.spark_file_key(path) not in listed)
    if changed:
        raise LakejobsError(
            f"{args.dataset.name}: the input changed while it was converted ({len(changed)} file(s) changed or "
            f"landed after the listing: {', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''}); nothing was "
            "published: run the job again"
        )


def _count_bad_rows(args: CsvToParquetArgs, bad_df: "DataFrame", labels, bad_rows: int) -> Dict[str, int]:
    """Rows per reason label in the quarantine pass; they must add up to the first pass's bad rows.

    The good rows come from the first read of the CSV, the bad ones from the second: a file
    changed in between would lose rows or repeat them, so the run stops with nothing published.
    """
    counts = quality_gate.count_reasons(bad_df, labels, bad_rows)
    if sum(counts.values()) != bad_rows:
        raise LakejobsError(
            f"{args.dataset.name}: the input changed while it was converted ({bad_rows} bad rows in the first "
            f"read, {sum(counts.values())} in the second); nothing was published: run the job again"
        )
    return counts


def checks_of_rows(args: CsvToParquetArgs) -> List[Check]:
    """The checks after typing: partition values a folder name cannot carry, then the rules' row rules."""
    limit = folder_name_limit(args.output_path)
    return partition_value_checks(args.dataset, args.partition_by, limit) + quality.row_checks(args.rules)


def _checked_rows(spark: "SparkSession", args: CsvToParquetArgs, batch, row_checks) -> "DataFrame":
    """The batch's rows, typed and checked (``_reason`` null for a good row); nothing is read yet.

    Details and lines are not computed yet (``validation.with_explanations``).
    """
    return _raw_rows(spark, args, batch).transform(with_reasons(args.dataset, row_checks))


def _raw_rows(spark: "SparkSession", args: CsvToParquetArgs, batch) -> "DataFrame":
    """The batch's rows as text (``read_raw_csv``); nothing is read yet."""
    paths = [fs.literal(info.path) for info in batch] if args.incremental else fs.literal(args.input_path)
    return (
        read_raw_csv(spark, paths, args.dataset)
        .transform(faults.with_failing_first_attempt())
        .transform(faults.with_paused_task())
    )


def _raise_explained(error: Exception, dataset: Dataset, spark: "SparkSession", batch: List[fs.FileInfo]) -> None:
    """Re-raise ``error``, as one line when Spark's CSV header complaint or a broken archive.

    A broken archive: a file of ``batch`` cannot be decompressed (the task's error does not name it).
    """
    explained = header_mismatch(error, dataset)
    if explained is not None:
        raise explained from error
    too_wide = too_many_fields(error)
    if too_wide is not None:
        raise LakejobsError(f"{dataset.name}: {too_wide}") from error
    broken = broken_archive(spark, error, batch)
    if broken is not None:
        raise LakejobsError(f"{dataset.name}: {broken}") from error
    raise error


def _record_measurement(result: JobResult, measurement: quality_gate.Measurement) -> None:
    result.rows_read = measurement.rows_read
    result.quarantine_reasons = measurement.reasons
    result.rows_quarantined = sum(result.quarantine_reasons.values())
    result.details["rules"] = [rule_result.to_dict() for rule_result in measurement.results]


def refuse_emptying(spark: "SparkSession", args: CsvToParquetArgs, result: JobResult, batch) -> None:
    """Refuse a full run that read no row at all and would replace an existing table whole.

    Header lines, blank lines and empty files give no row: such a batch ("nothing today") emptied
    the table, as a folder without data files is refused for doing (``_run``).
    """
    if result.rows_read == 0 and replaces_whole(args) and _holds_rows(spark, args.output_path, args.output_format):
        raise UsageError(
            f"no data rows in the {len(batch)} file(s) below {args.input_path} (only header lines, blank "
            f"lines or empty files): a full run would replace {args.output_path} with an empty table; "
            "delete the table first if that is what you want"
        )


def _holds_rows(spark: "SparkSession", path: str, output_format: str) -> bool:
    """Tell whether the table at ``path`` holds a row (an empty table may be replaced by another).

    Read only when a batch gave no row; this run's staging folder is skipped (``_staging``).
    """
    holds_files = holds_delta_commit(spark, path) if output_format == "delta" else table_files(spark, path, limit=1)
    return bool(holds_files) and spark.read.format(output_format).load(path).limit(1).count() > 0


def _gate(
    spark: "SparkSession",
    args: CsvToParquetArgs,
    result: JobResult,
    measurement: quality_gate.Measurement,
    quarantine_df: "DataFrame",
    batch: List[fs.FileInfo],
) -> None:
    """Fail the run (publishing nothing) when too many rows are bad or a rule failed.

    When a file of the batch starts with a header line, the message says so (``header_hint``);
    under the gate, a warning does (the line is in the quarantine, but the cause is in no reason).
    """
    hint = header_hint(spark, args.dataset, [info.path for info in batch]) if result.rows_quarantined else ""
    if result.rows_read and result.rows_quarantined / result.rows_read > args.max_bad_fraction:
        message = _gate_message(args, result.rows_quarantined, result.rows_read, result.quarantine_reasons)
        _reject(args, result, quarantine_df, message + hint)
    if hint:
        LOG.warning("%s: %d row(s) quarantined%s", args.dataset.name, result.rows_quarantined, hint)
    if measurement.failed:
        _reject(args, result, quarantine_df, quality_gate.gate_message(args.dataset.name, measurement.failed))


def _mark_pending(
    spark: "SparkSession",
    args: CsvToParquetArgs,
    state,
    run_id: str,
    batch,
    started_ms: int = 0,
    written: Optional[List[str]] = None,
) -> None:
    """Record in ``state`` that this batch is being published (an interrupted append is undone).

    ``written``: the files this run will publish, below the output (known from the staging
    folder of every Parquet append); a rerun deletes exactly those. ``started_ms``: when the
    files this run may publish started to be written (default: now), which a rerun used
    instead for states written before session 45 without ``written`` (the persisted passes
    appended into the output directly). The batch's files are recorded too: a rerun marks them
    converted if their Delta append committed.
    """
    if state is not None and not args.incremental:
        # A full run replacing a state: until the run has recorded its files, the next
        # incremental run converts every input file and replaces the output.
        reset = JobState(job=JOB, input_path=args.input_path, output_path=args.output_path, reset=True)
        save_state(spark, args.state_path, reset)
    elif state is not None:
        started_ms = started_ms or int(time.time() * 1000)
        files = [[info.path, info.size, info.modified_ms] for info in batch]
        state.pending = {
            "run_id": run_id,
            "started_ms": started_ms,
            "fingerprint": fs.fingerprint(batch),
            "files": files,
        }
        if written is not None and args.appends:
            state.pending["written"] = written
        save_state(spark, args.state_path, state)
    faults.point("before_write")


def _check_published_rows(args: CsvToParquetArgs, result: JobResult, output: OutputInfo) -> None:
    """Check the rows the write counted (a replayed Delta append commits none: nothing to check)."""
    replayed = args.output_format == "delta" and args.appends and output.files == 0 and output.rows == 0
    if not replayed:
        result.check_rows_add_up(output.rows, args.output_path)


def _record_published(spark: "SparkSession", args, result: JobResult, batch_info, output, quarantine) -> None:
    batch, batch_fingerprint, state = batch_info
    result.outputs = [output, quarantine]
    result.rows_written = result.rows_read - result.rows_quarantined
    result.details["rows_committed"] = output.rows
    faults.point("before_state")
    if state is not None:
        state.record_batch(batch, result.run_id, batch_fingerprint)
        save_state(spark, args.state_path, state)


def _repeated_keys(typed_df: "DataFrame", dataset: Dataset) -> Optional["DataFrame"]:
    return typed_df.transform(repeated_keys(dataset)).persist() if dataset.primary_key else None


def _unpersist(*frames: Optional["DataFrame"]) -> None:
    for frame in frames:
        if frame is not None:
            frame.unpersist()


def _measure(
    spark: "SparkSession", args: CsvToParquetArgs, validated_df: "DataFrame", rule_labels: Sequence[str]
) -> quality_gate.Measurement:
    """Rows per reason and every rule's result: one aggregate (see ``lakejobs.quality_gate``)."""
    references = quality_gate.reference_frames(validated_df, args.rules, args.dataset, args.references_path)
    labels = reason_labels(args.dataset, rule_labels)
    return quality_gate.measure(validated_df, args.dataset, args.rules, labels, references, _previous_rows(spark, args))


def _previous_rows(spark: "SparkSession", args: CsvToParquetArgs) -> Optional[int]:
    """Good rows of the previous successful run (only read when a RowCountChange rule needs them)."""
    if not any(rule.rule_type == "RowCountChange" for rule in args.rules):
        return None
    return previous_rows_written(spark, args.report_path, JOB, args.dataset.name, args.output_path)


def _reject(args: CsvToParquetArgs, result: JobResult, quarantine_df: "DataFrame", message: str) -> None:
    """Keep the batch's bad rows (``quality_gate.rejected_path``), publish nothing, fail the run."""
    if result.rows_quarantined:
        rejected_path = quality_gate.rejected_path(args.quarantine_path, result.run_id)
        write_table(quarantine_df, rejected_path, "rejected", fmt="json", compression="none")
    raise QualityGateError(message, result=result.finish("FAILED", message))


def publish(valid_df: "DataFrame", args: CsvToParquetArgs, batch_fingerprint: str, series: str = "") -> OutputInfo:
    """Write the good rows the way the format and mode call for.

    Parquet replaces the partitions it rewrites (or appends, when ``args.appends``). Delta merges
    on the primary key; without one it replaces the table, or, when ``args.appends``, appends once
    per batch of input files and ``series`` (``JobState.series``): a replayed batch adds nothing.
    """
    name, partition_by = args.dataset.name, args.partition_by
    if args.output_format == "parquet":
        mode = "append" if args.appends else "overwrite"
        return write_table(
            valid_df,
            args.output_path,
            name,
            "parquet",
            partition_by,
            args.compression,
            mode,
            plain_columns=args.dataset.plain_columns,
        )
    plain = args.dataset.plain_columns
    if args.dataset.primary_key:
        keys = args.dataset.primary_key
        return merge_delta(valid_df, args.output_path, name, keys, partition_by, args.compression, plain_columns=plain)
    if not args.appends:
        return overwrite_delta(valid_df, args.output_path, name, partition_by, args.compression, plain_columns=plain)
    app_id = batch_app_id(JOB, args.output_path, batch_fingerprint, series)
    return append_delta_once(
        valid_df, args.output_path, name, app_id, 0, partition_by, args.compression, plain_columns=plain
    )


def publish_quarantine(quarantine_df: "DataFrame", args: CsvToParquetArgs, source_files, rows: int) -> OutputInfo:
    """Write the quarantine one folder per source file (``lakejobs.io.quarantine``).

    The folders of the files this run read are replaced; the others are kept, as the output
    keeps what other runs published. When the output is replaced whole (a full run into an
    unpartitioned Parquet table, or into a Delta table without a key), so is the quarantine.
    """
    return write_quarantine(quarantine_df, args.quarantine_path, source_files, rows, whole=replaces_whole(args))


def replaces_whole(args: CsvToParquetArgs) -> bool:
    """Tell whether a run replaces its output whole.

    A full run into an unpartitioned Parquet table or a Delta table without a key does; the
    others replace partitions, merge on the key or append.
    """
    keyed = args.output_format == "delta" and bool(args.dataset.primary_key)
    return not args.appends and not keyed and not (args.output_format == "parquet" and args.partition_by)


def roll_back_interrupted_append(spark: "SparkSession", args: CsvToParquetArgs, state) -> None:
    """Undo what an interrupted run wrote before its state was saved.

    A Parquet append is undone by deleting the data files written since the interrupted batch
    started. A Delta commit is atomic: a MERGE on the key replays to the same rows, and an
    append without a key that committed has its files marked converted (a replay would append
    them again if new files joined the batch, since its transaction id is the batch's files).
    """
    pending = state.pending
    LOG.warning("run %s did not finish; its batch is converted again", pending.get("run_id"))
    if args.output_format == "delta" and not args.dataset.primary_key:
        _keep_committed_append(spark, args, state)
    if args.output_format == "parquet":
        stale = _interrupted_files(spark, args.output_path, pending)
        for info in stale:
            fs.delete(spark, info.path)
        fs.delete(spark, f"{args.output_path.rstrip('/')}/_temporary", recursive=True)
        LOG.warning("removed %d files of the interrupted append", len(stale))
    state.pending = None


def _interrupted_files(spark: "SparkSession", output_path: str, pending: dict) -> List[fs.FileInfo]:
    """The output's files an interrupted run may have published.

    Those it named (``written``, its staged files), else (a state pending since before session
    45) those written since it started: a time that S3 rounds down to the second, so a batch published within the same
    second before it, or a driver clock ahead of the store's, could be taken for it or missed.
    """
    files = fs.list_data_files(spark, output_path)
    if pending.get("written") is not None:
        root = fs.qualified(spark, output_path).rstrip("/")
        named = set(pending["written"])
        return [info for info in files if info.path[len(root) :].lstrip("/") in named]
    started = int(pending.get("started_ms", 0))
    started -= started % 1000  # S3 lists modification times in whole seconds, rounded down
    return [info for info in files if info.modified_ms >= started]


def _keep_committed_append(spark: "SparkSession", args: CsvToParquetArgs, state) -> None:
    """Mark the interrupted batch's files converted if its Delta append committed (``append_delta_once``)."""
    pending = state.pending
    files = [fs.FileInfo(path, size, modified_ms) for path, size, modified_ms in pending.get("files") or []]
    app_id = batch_app_id(JOB, args.output_path, str(pending.get("fingerprint")), state.series)
    if files and committed_transaction(spark, args.output_path, app_id):
        state.record_batch(files, str(pending.get("run_id")), str(pending.get("fingerprint")))
        LOG.warning(
            "run %s committed its %d files before it stopped: they count as converted", pending["run_id"], len(files)
        )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for every runtime; returns the exit code."""
    return runtime.run_main(JOB, argv, parse_args, run, preflight)
