"""csv_to_parquet's arguments: parsed and checked once, at the edge, into ``CsvToParquetArgs``."""

import dataclasses
import os
from typing import Dict, Optional, Sequence, Tuple

from lakejobs import args as job_args
from lakejobs import fs, quality_gate
from lakejobs.datasets import Dataset, as_spelled, builtin_dataset, custom_dataset
from lakejobs.dqdl import Rule, parse_ruleset, tokenize
from lakejobs.errors import UsageError
from lakejobs.io.text_files import read_text_file
from lakejobs.io.writer import COMPRESSIONS
from lakejobs.schemas import parse_ddl

JOB = "csv_to_parquet"
DESCRIPTION = "raw CSV -> typed, partitioned Parquet; bad rows quarantined with reasons"


@dataclasses.dataclass(frozen=True)
class CsvToParquetArgs:
    """The job's configuration, built once from its arguments."""

    input_path: str
    output_path: str
    dataset: Dataset
    quarantine_path: str
    partition_by: Tuple[str, ...]
    compression: str
    output_format: str
    max_bad_fraction: float
    report_path: Optional[str]
    incremental: bool = False
    state_path: str = ""
    rules: Tuple[Rule, ...] = ()
    references_path: str = ""
    #: Set by the job when the incremental state records no converted file yet (none, or reset).
    first_batch: bool = False

    @property
    def appends(self) -> bool:
        """Whether the run adds to its output: incremental, once a batch has been converted.

        The first batch of an incremental output (no state, or a reset one) is every input
        file, written as a full run writes it: appended to an output a full run had filled, it
        would publish every row twice.
        """
        return self.incremental and not self.first_batch

    @property
    def lock_path(self) -> str:
        """The lock file guarding the output against a concurrent run: ``<output_path>_lakejobs.lock``.

        Named after the output, as the field jobs' and the mart's are: next to the state (until
        session 41), a pipeline run and a ``lakejobs run`` of the same table took two locks, and
        one deleted the table the other then reported written.
        """
        return f"{self.output_path.rstrip('/')}_lakejobs.lock"


def build_parser():
    """The job's argument parser (Glue-style ``--name value`` options)."""
    parser = job_args.new_parser(JOB, DESCRIPTION)
    parser.add_argument("--input_path", required=True, help="raw CSV file or folder")
    parser.add_argument("--output_path", required=True, help="where the typed table is written")
    parser.add_argument("--dataset", help="a built-in dataset: customers, employees, orders")
    parser.add_argument("--schema", help="Spark DDL of the columns, e.g. 'id BIGINT NOT NULL, name STRING'")
    parser.add_argument("--schema_file", help="a file holding such a DDL string")
    parser.add_argument("--dataset_name", help="name of a --schema dataset (default: output folder name)")
    parser.add_argument("--primary_key", type=job_args.parse_columns, default=(), help="key columns: c1,c2")
    parser.add_argument(
        "--partition_by",
        type=job_args.parse_columns,
        help="partition columns: c1,c2 (default: the dataset's, orders -> order_year; none for --schema)",
    )
    parser.add_argument("--compression", choices=COMPRESSIONS, default="snappy")
    parser.add_argument("--format", dest="output_format", choices=("parquet", "delta"), default="parquet")
    parser.add_argument("--quarantine_path", help="bad rows go here (default: <output_path>_quarantine)")
    parser.add_argument("--max_bad_fraction", type=job_args.parse_fraction, default=0.05)
    parser.add_argument(
        "--report_path", help="folder for run reports, <job>/<run_id>.json (default: <output_path>_lakejobs/runs)"
    )
    parser.add_argument("--rules", help="a DQDL ruleset file replacing the dataset's rules (local or s3://)")
    parser.add_argument(
        "--references_path", help="folder of the tables ReferentialIntegrity rules name (default: the output's parent)"
    )
    parser.add_argument("--incremental", type=job_args.parse_bool, default=False, help="read only new input files")
    parser.add_argument("--state_path", help="state file of --incremental (default: <output_path>_lakejobs/state.json)")
    parser.add_argument(
        "--header", type=job_args.parse_bool, help="first line of each file is a header (default false)"
    )
    parser.add_argument("--delimiter", help="field separator (default ,; \\t for a tab)")
    parser.add_argument("--quote", help='quote character (default ")')
    parser.add_argument("--escape", help="escape character inside quotes (default: the quote, as RFC 4180)")
    parser.add_argument(
        "--encoding",
        help="file encoding (default UTF-8; UTF-16, UTF-32 and EBCDIC files are read whole, as --multiline true)",
    )
    parser.add_argument(
        "--date_format",
        type=job_args.parse_datetime_pattern,
        help="format of DATE columns, e.g. M/d/yyyy (default: an ISO date, 2014-05-01; orders: M/d/yyyy)",
    )
    parser.add_argument(
        "--timestamp_format",
        type=job_args.parse_datetime_pattern,
        help="format of TIMESTAMP columns (default: ISO, 2014-05-01 10:30:00 with an optional zone)",
    )
    parser.add_argument(
        "--multiline", type=job_args.parse_bool, help="quoted fields may hold line breaks (default false)"
    )
    return parser


#: How a character option may name a character a shell or a Glue console makes hard to type.
CHARACTER_ESCAPES = {"\\t": "\t"}


def _csv_overrides(namespace) -> Dict[str, object]:
    names = ("header", "delimiter", "quote", "escape", "encoding", "date_format", "timestamp_format", "multiline")
    overrides = {name: getattr(namespace, name) for name in names if getattr(namespace, name) is not None}
    for name in ("delimiter", "quote", "escape"):
        if name in overrides:
            overrides[name] = CHARACTER_ESCAPES.get(overrides[name], overrides[name])
    return overrides


def _resolve_dataset(namespace) -> Dataset:
    chosen = [name for name in ("dataset", "schema", "schema_file") if getattr(namespace, name)]
    if len(chosen) != 1:
        raise UsageError(f"give exactly one of --dataset, --schema, --schema_file (got {len(chosen)})")
    if namespace.dataset:
        ignored = [f"--{name}" for name in ("primary_key", "dataset_name") if getattr(namespace, name)]
        if ignored:
            raise UsageError(f"{' and '.join(ignored)} go with --schema or --schema_file; --dataset has its own")
        dataset = builtin_dataset(namespace.dataset)
    else:
        ddl = read_text_file(namespace.schema_file, "schema file") if namespace.schema_file else namespace.schema
        name = namespace.dataset_name or os.path.basename(namespace.output_path.rstrip("/")) or "dataset"
        dataset = custom_dataset(name, parse_ddl(ddl), namespace.primary_key)
    overrides = _csv_overrides(namespace)
    if "quote" in overrides and "escape" not in overrides and dataset.csv.escape == dataset.csv.quote:
        overrides["escape"] = overrides["quote"]  # RFC 4180's doubled quote, for the new quote too
    if overrides:
        dataset = dataclasses.replace(dataset, csv=dataclasses.replace(dataset.csv, **overrides))
    for option in ("delimiter", "quote", "escape"):
        if len(getattr(dataset.csv, option)) != 1:
            raise UsageError(f"--{option} must be one character, got {getattr(dataset.csv, option)!r}")
    for option in ("quote", "escape"):
        if getattr(dataset.csv, option) == dataset.csv.delimiter:
            # Spark takes it, and every field starting with it was read as a quoted one.
            raise UsageError(f"--{option} {dataset.csv.delimiter!r} is also the delimiter: give another character")
    return dataset


#: Characters Delta refuses in a column name of a table without column mapping.
DELTA_INVALID_NAME_CHARACTERS = " ,;{}()\n\t="


def refuse_names_delta_cannot_write(dataset) -> None:
    """Raise ``UsageError`` when a column name has a character Delta refuses (before any read)."""
    bad = [field.name for field in dataset.schema.fields if set(field.name) & set(DELTA_INVALID_NAME_CHARACTERS)]
    if bad:
        names = ", ".join(repr(name) for name in bad)
        raise UsageError(f"--format delta cannot write column(s) {names}: Delta refuses ' ,;{{}}()=' in names")


def parse_args(argv: Sequence[str]) -> CsvToParquetArgs:
    """Build the typed configuration from ``argv``; raises ``UsageError`` on any problem."""
    namespace = job_args.parse_job_args(build_parser(), argv, read_as_named=("input_path",))
    dataset = _resolve_dataset(namespace)
    partition_by = tuple(namespace.partition_by) if namespace.partition_by is not None else dataset.partition_by
    known = {field.name for field in dataset.schema.fields} | set(dataset.derived_columns)
    partition_by = as_spelled(partition_by, known, "--partition_by")
    unknown = [column for column in partition_by if column not in known]
    if unknown:
        raise UsageError(f"--partition_by names columns that {dataset.name} does not have: {', '.join(unknown)}")
    if namespace.output_format == "delta":
        refuse_names_delta_cannot_write(dataset)
    if partition_by and set(partition_by) >= {field.name for field in dataset.schema.fields}:
        raise UsageError("--partition_by names every column: a partitioned table needs a column that is not one")
    hidden = [column for column in partition_by if column.startswith(("_", "."))]
    if hidden:  # a first run wrote them; every later run refused the table as holding foreign folders
        raise UsageError(
            f"--partition_by {', '.join(hidden)}: its folders would be named {hidden[0]}=..., and a name starting "
            "with _ or . marks a table's bookkeeping (_delta_log, _staging) or a hidden file, which the jobs and "
            "Hadoop's input formats skip; partition by a column whose name does not"
        )
    output_path = fs.qualify(namespace.output_path)
    input_path = fs.qualify(namespace.input_path)
    rules = parse_ruleset(_rules_text(namespace.rules) if namespace.rules else dataset.rules)
    quality_gate.check_rule_columns(rules, dataset)
    rules = quality_gate.mark_float_columns(rules, dataset)
    if namespace.references_path and not any(
        rule.rule_type == "ReferentialIntegrity" and not quality_gate.refers_to_itself(rule, dataset) for rule in rules
    ):
        raise UsageError(
            "--references_path is read by ReferentialIntegrity rules naming another table, and the rules of "
            f"{dataset.name} have none: leave it out, or give --rules with such a rule"
        )
    default_root = output_path.rstrip("/") + "_lakejobs"
    report_path = fs.qualify(namespace.report_path or default_root + "/runs")
    state_path = fs.qualify(namespace.state_path or default_root + "/state.json")
    quarantine_path = fs.qualify(namespace.quarantine_path or output_path.rstrip("/") + "_quarantine")
    fs.require_apart(
        {"--input_path": input_path, "--output_path": output_path, "--quarantine_path": quarantine_path},
        outside={"--report_path": report_path, "--state_path": state_path},
    )
    return CsvToParquetArgs(
        input_path=input_path,
        output_path=output_path,
        dataset=dataset,
        quarantine_path=quarantine_path,
        partition_by=partition_by,
        compression=namespace.compression,
        output_format=namespace.output_format,
        max_bad_fraction=namespace.max_bad_fraction,
        report_path=report_path,
        incremental=namespace.incremental,
        state_path=state_path,
        rules=rules,
        references_path=fs.qualify(namespace.references_path or fs.parent(output_path)),
    )


def _rules_text(path: str) -> str:
    """The text of ``--rules``; an empty file (``/dev/null``, a failed redirect), or one of comments only, is refused.

    Read as no rules, it dropped the dataset's own rules without a word (a file of comments
    only until session 45).
    """
    text = read_text_file(path, "rules file")
    if not tokenize(text):
        what = "is empty" if not text.strip() else "holds comments only"
        raise UsageError(
            f"rules file {path} {what}: give a DQDL ruleset (Rules = [ ... ]; Rules = [ ] for none), or leave "
            "--rules out for the dataset's own rules"
        )
    return text


def preflight(args: CsvToParquetArgs) -> None:
    """Fail fast, before Spark starts, when a local input is missing or a local target is unwritable."""
    if fs.is_local(args.input_path) and not os.path.exists(fs.local_path(args.input_path)):
        raise UsageError(f"input path does not exist: {args.input_path}")
    folders = {
        "--output_path": args.output_path,
        "--quarantine_path": args.quarantine_path,
        "--report_path": args.report_path,
    }
    fs.require_writable(folders, files={"--state_path": args.state_path})
