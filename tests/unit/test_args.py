import argparse
import importlib
import os
import zoneinfo

import pytest

from lakejobs.args import strip_glue_arguments
from lakejobs.errors import UsageError
from lakejobs.jobs import csv_to_parquet

# What the Glue service passes to a job script (names from Glue's job-parameter reference).
GLUE_ARGV = [
    "--JOB_ID",
    "j_0123",
    "--JOB_RUN_ID",
    "jr_4567",
    "--job-bookmark-option",
    "job-bookmark-disable",
    "--TempDir",
    "s3://bucket/tmp/",
    "--enable-metrics",
    "--enable-continuous-cloudwatch-log",
    "true",
    "--job-language",
    "python",
    "--python-virtual-env-storage-prefix",
    "s3://bucket/envs/",
    "--JOB_NAME",
    "convert-orders",
]


def test_strip_glue_arguments_keeps_the_jobs_own_and_returns_glue_values():
    own, glue = strip_glue_arguments(GLUE_ARGV + ["--input_path", "in", "--dataset=orders"])
    assert own == ["--input_path", "in", "--dataset=orders"]
    assert glue == {
        "--JOB_ID": "j_0123",
        "--JOB_RUN_ID": "jr_4567",
        "--job-bookmark-option": "job-bookmark-disable",
        "--TempDir": "s3://bucket/tmp/",
        "--enable-metrics": "",
        "--enable-continuous-cloudwatch-log": "true",
        "--job-language": "python",
        "--python-virtual-env-storage-prefix": "s3://bucket/envs/",
        "--JOB_NAME": "convert-orders",
    }


def test_glue_run_identifiers_and_pip_options_are_glues_not_the_jobs():
    """A security configuration or a workflow adds upper-case names; a pip option's value starts with --."""
    glue_argv = [
        "--SECURITY_CONFIGURATION", "sc", "--WORKFLOW_NAME", "wf", "--WORKFLOW_RUN_ID", "wr_1",
        "--python-modules-installer-option", "--upgrade", "--RedshiftTempDir", "s3://b/r/",
        "--continuation-option", "continuation-disabled", "--enable-glue-datacatalog",
    ]  # fmt: skip
    own, glue = strip_glue_arguments([*glue_argv, "--input_path", "x"])
    assert own == ["--input_path", "x"]
    assert glue == {
        "--SECURITY_CONFIGURATION": "sc",
        "--WORKFLOW_NAME": "wf",
        "--WORKFLOW_RUN_ID": "wr_1",
        "--python-modules-installer-option": "--upgrade",
        "--RedshiftTempDir": "s3://b/r/",
        "--continuation-option": "continuation-disabled",
        "--enable-glue-datacatalog": "",
    }


def test_key_and_partition_columns_are_matched_in_any_case_and_kept_as_the_schema_spells_them(tmp_path):
    """Until session 46 ``--partition_by year`` on a column ``Year`` was refused; the rules match names in any case."""
    argv = ["--schema", "ID INT, name STRING, Year INT", "--primary_key", "id", "--partition_by", "YEAR"]
    args = csv_to_parquet.parse_args(argv + ["--input_path", "a", "--output_path", str(tmp_path / "o")])
    assert (args.dataset.primary_key, args.partition_by) == (("ID",), ("Year",))


def test_job_parses_the_argv_glue_passes(tmp_path):
    args = csv_to_parquet.parse_args(
        GLUE_ARGV + ["--dataset", "orders", "--input_path", "raw/orders", "--output_path", str(tmp_path / "o")]
    )
    assert (args.dataset.name, args.partition_by, args.max_bad_fraction) == ("orders", ("order_year",), 0.05)
    assert args.quarantine_path == str(tmp_path / "o") + "_quarantine"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "orders", "--input_path", "a"], "the following arguments are required: --output_path"),
        (["--dataset", "nope", "--input_path", "a", "--output_path", "b"], "unknown dataset 'nope'"),
        (["--input_path", "a", "--output_path", "b"], "give exactly one of --dataset, --schema, --schema_file"),
        (["--dataset", "orders", "--schema", "a INT", "--input_path", "a", "--output_path", "b"], "exactly one"),
        (
            ["--dataset", "orders", "--input_path", "a", "--output_path", "b", "--max_bad_fraction", "2"],
            "expected a number between 0 and 1",
        ),
        (
            ["--dataset", "orders", "--input_path", "a", "--output_path", "b", "--bogus", "1"],
            "unrecognized arguments: --bogus 1",
        ),
        (
            ["--dataset", "orders", "--input_path", "a", "--output_path", "b", "--partition_by", "nope"],
            "orders does not have: nope",
        ),
        (
            [
                "--dataset",
                "orders",
                "--input_path",
                "a",
                "--output_path",
                "b",
                "--partition_by",
                "order_year,order_year",
            ],
            "argument --partition_by: a column is named twice: order_year",
        ),
        (
            ["--schema", "id INT, v INT", "--primary_key", "id, id", "--input_path", "a", "--output_path", "b"],
            "argument --primary_key: a column is named twice: id",
        ),
        (
            ["--schema", "Year INT, v INT", "--partition_by", "year,YEAR", "--input_path", "a", "--output_path", "b"],
            "--partition_by names the column Year twice \\(column names match in any case\\)",
        ),
        (
            ["--schema", "d DATE, v INT", "--partition_by", "v,d", "--input_path", "a", "--output_path", "b"],
            "--partition_by names every column: a partitioned table needs a column that is not one",
        ),
        (
            ["--schema", "`_yr` INT, v INT", "--partition_by", "_yr", "--input_path", "a", "--output_path", "b"],
            "--partition_by _yr: its folders would be named _yr=..., and a name starting with _ or . marks a table's "
            "bookkeeping \\(_delta_log, _staging\\) or a hidden file, which the jobs and Hadoop's input formats skip; "
            "partition by a column whose name does not",
        ),
        (
            ["--dataset", "orders", "--input_path", "a", "--output_path", "a"],
            "--output_path .*/a is the same as --input_path",
        ),
        (
            ["--schema", "id INT, _reason STRING", "--input_path", "a", "--output_path", "b"],
            "schema column\\(s\\) _reason: the jobs use these names for their bookkeeping; rename them",
        ),
        (
            ["--schema", "`a.b` INT, v INT", "--primary_key", "a.b", "--input_path", "a", "--output_path", "b"],
            "column 'a.b': a name with a dot is not supported",
        ),
        (
            ["--schema", "`order date` DATE, v INT", "--format", "delta", "--input_path", "a", "--output_path", "b"],
            "--format delta cannot write column\\(s\\) 'order date': Delta refuses",
        ),
        (
            ["--schema", "id INT, __raw_1 STRING", "--input_path", "a", "--output_path", "b"],
            "schema column\\(s\\) __raw_1: the jobs use these names for their bookkeeping; rename them",
        ),
        (
            ["--schema", "id INT", "--primary_key", "nope", "--input_path", "a", "--output_path", "b"],
            "primary key column\\(s\\) not in the schema: nope",
        ),
    ],
)
def test_bad_arguments_raise_one_clear_usage_error(argv, message):
    with pytest.raises(UsageError, match=message):
        csv_to_parquet.parse_args(argv)


def q(path: str) -> str:
    return os.path.abspath(path)


@pytest.mark.parametrize(
    "paths, message",
    [
        # The commit replaces the output's children: an input below it would be deleted.
        (
            ["--input_path", "out/raw/a.csv", "--output_path", "out"],
            f"--input_path {q('out/raw/a.csv')} is inside --output_path {q('out')}",
        ),
        # ... and so would a quarantine below it.
        (
            ["--input_path", "in", "--output_path", "out", "--quarantine_path", "out/_q"],
            f"--quarantine_path {q('out/_q')} is inside --output_path",
        ),
        # An output, or its default reports and state (<output>_lakejobs), below the input would be read as data.
        (
            ["--input_path", "data", "--output_path", "data/table"],
            f"--output_path {q('data/table')} is inside --input_path {q('data')}",
        ),
        (
            ["--input_path", "data", "--output_path", "t", "--report_path", "data/runs"],
            "--report_path .* is inside --input_path",
        ),
        (
            ["--input_path", "s3a://b/raw", "--output_path", "s3://b/raw/t"],
            "--output_path s3://b/raw/t is inside --input_path s3a://b/raw",
        ),
    ],
)
def test_paths_inside_one_another_are_refused_before_anything_runs(paths, message):
    with pytest.raises(UsageError, match=message) as raised:
        csv_to_parquet.parse_args(["--dataset", "orders", *paths])
    rules = (
        "--input_path, --output_path, --quarantine_path must each lie outside the others",
        "--report_path must lie outside --input_path, --output_path, --quarantine_path",
    )
    assert str(raised.value).endswith(rules)


def test_reports_and_state_may_hold_the_input_but_not_lie_inside_it():
    """A report folder only receives <job>/<run_id>.json: around the input it harms nothing."""
    argv = ["--dataset", "orders", "--input_path", "lake/raw/orders", "--output_path", "lake/orders"]
    args = csv_to_parquet.parse_args([*argv, "--report_path", "lake", "--state_path", "lake/_lakejobs/s.json"])
    assert args.report_path == q("lake")


def test_the_mart_refuses_a_quarantine_or_report_inside_a_table_it_replaces():
    from lakejobs.jobs import sales_mart

    argv = ["--processed_path", "p", "--mart_path", "m"]
    with pytest.raises(
        UsageError, match=f"--quarantine_path {q('m/sales/q')} is inside mart table sales {q('m/sales')}"
    ):
        sales_mart.parse_args([*argv, "--quarantine_path", "m/sales/q"])
    with pytest.raises(UsageError, match="--report_path .* is inside processed table orders"):
        sales_mart.parse_args([*argv, "--report_path", "p/orders/runs"])
    assert sales_mart.parse_args(["--processed_path", "lake/processedData", "--mart_path", "lake"]).mart_path == q(
        "lake"
    )


def test_siblings_sharing_a_name_prefix_are_apart():
    args = csv_to_parquet.parse_args(["--dataset", "orders", "--input_path", "out_raw", "--output_path", "out"])
    assert (args.input_path, args.output_path) == (q("out_raw"), q("out"))


def test_a_field_job_refuses_a_quarantine_inside_its_input():
    from lakejobs.jobs import taxi_trips

    with pytest.raises(UsageError, match="--quarantine_path .* is inside --input_path"):
        taxi_trips.parse_args(["--input_path", "trips", "--output_path", "t", "--quarantine_path", "trips/bad"])


def test_a_time_zone_naming_a_folder_of_tzdata_is_a_usage_error(monkeypatch):
    """With the ``tzdata`` package, ``ZoneInfo("America")`` opens a folder: IsADirectoryError."""
    from lakejobs.jobs import taxi_trips

    def opens_a_folder(name):
        raise IsADirectoryError(21, "Is a directory", f"/tzdata/zoneinfo/{name}")

    monkeypatch.setattr(zoneinfo, "ZoneInfo", opens_a_folder)
    monkeypatch.setattr(zoneinfo, "available_timezones", lambda: {"America/New_York"})
    argv = ["--input_path", "in", "--output_path", "out", "--timezone", "America"]
    with pytest.raises(
        UsageError, match="argument --timezone: expected a time zone like America/New_York, got 'America'"
    ):
        taxi_trips.parse_args(argv)


@pytest.mark.parametrize("value, enabled", [("1", True), ("true", True), ("0", False), ("false", False), ("", False)])
def test_lakejobs_debug_zero_or_false_keeps_tracebacks_off(monkeypatch, value, enabled):
    from lakejobs.errors import debug_enabled

    monkeypatch.setenv("LAKEJOBS_DEBUG", value)
    assert debug_enabled() is enabled


def test_optimize_zorder_columns_are_trimmed():
    from lakejobs.cli import build_parser

    args = build_parser().parse_args(["optimize", "lake/orders", "--zorder_by", "customerid, orderdate ,"])
    assert args.zorder_by == ("customerid", "orderdate")


def test_glue_5_custom_logging_arguments_are_set_aside():
    own, glue = strip_glue_arguments(["--custom-logGroup-prefix", "/team/etl", "--custom-logStream-prefix", "x", "--a"])
    assert (own, glue) == (["--a"], {"--custom-logGroup-prefix": "/team/etl", "--custom-logStream-prefix": "x"})


@pytest.mark.parametrize("spelled", ["--FORMAT", "--INCREMENTAL", "--MAX_BAD_FRACTION"])
def test_a_jobs_own_option_spelled_upper_case_is_refused_not_dropped(tmp_path, spelled):
    """Set aside as Glue's, ``--FORMAT delta`` wrote Parquet and ``--INCREMENTAL true`` ran in full."""
    argv = ["--dataset", "orders", "--input_path", "in", "--output_path", str(tmp_path / "o"), spelled, "true"]
    own = "--" + spelled[2:].lower().replace("-", "_")
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.parse_args(argv)
    assert str(refused.value) == f"{spelled} is not an option of this job; did you mean {own}? (see --help)"


def test_an_empty_true_or_false_is_refused_not_read_as_false(tmp_path):
    argv = ["--dataset", "orders", "--input_path", "in", "--output_path", str(tmp_path / "o"), "--incremental", ""]
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.parse_args(argv)
    assert str(refused.value) == "argument --incremental: expected true or false, got '' (see --help)"


@pytest.mark.parametrize(
    "job, option, pattern, zones",
    [
        ("taxi_trips", "--timestamp_format", "yyyy-MM-dd'T'HH:mm:ssXXX", "X"),
        ("fx_rates", "--date_format", "yyyy-MM-ddZ", "Z"),
        ("stock_prices", "--date_format", "yyyy-MM-dd VV", "V"),
    ],
)
def test_a_field_jobs_wall_clock_format_with_a_zone_is_refused(job, option, pattern, zones):
    """Parsed with its offset a value is an instant, which the job shifted again (taxi: by --timezone)."""
    module = importlib.import_module(f"lakejobs.jobs.{job}")
    with pytest.raises(UsageError) as refused:
        module.parse_args(["--input_path", "in", "--output_path", "out", option, pattern])
    assert str(refused.value) == (
        f"argument {option}: {pattern!r} reads a zone or offset ({zones}); this job reads wall-clock values: "
        "leave it out (see --help)"
    )


def test_a_zone_letter_in_quoted_text_is_literal_not_a_zone():
    from lakejobs.jobs import taxi_trips

    args = taxi_trips.parse_args(
        ["--input_path", "in", "--output_path", "out", "--timestamp_format", "yyyy-MM-dd'Z'HH"]
    )
    assert args.timestamp_format == "yyyy-MM-dd'Z'HH"


def test_a_spark_submit_conf_after_the_script_is_refused_off_glue(tmp_path):
    """Under spark-submit it reached the job and was set aside as Glue's: the setting never applied."""
    argv = ["--dataset", "orders", "--input_path", "in", "--output_path", str(tmp_path / "o")]
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.parse_args([*argv, "--conf", "spark.sql.shuffle.partitions=400"])
    assert str(refused.value) == (
        "--conf is a spark-submit option, given after the script: it reached the job, not spark-submit; "
        "put it before the script"
    )


def test_a_glue_run_without_awsglue_takes_glues_conf_and_new_flags():
    """A Glue run with a packed environment (``--python-virtual-env``) may lack awsglue: its
    ``--JOB_RUN_ID`` still says Glue started it, so Glue's ``--conf`` is not refused."""
    glue = ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--conf", "spark.sql.extensions=x", "--new-flag", "on"]
    args = csv_to_parquet.parse_args([*glue, "--dataset", "orders", "--input_path", "in", "--output_path", "o"])
    assert (args.dataset.name, args.output_format) == ("orders", "parquet")


@pytest.mark.parametrize(
    "job, argv, option",
    [
        ("csv_to_parquet", ["--dataset", "orders", "--input_path", "in", "--output_path", "o"], "--rules"),
        ("csv_to_parquet", ["--input_path", "in", "--output_path", "o", "--schema_file", "s.ddl"], "--dataset_name"),
        (
            "warehouse_load",
            ["--lake", "l", "--table", "sales", "--jdbc_url", "jdbc:postgresql://h/d"],
            "--target_table",
        ),
        (
            "warehouse_extract",
            ["--table", "t", "--output_path", "o", "--jdbc_url", "jdbc:postgresql://h/d"],
            "--secret_id",
        ),
        (
            "warehouse_extract",
            ["--table", "t", "--output_path", "o", "--jdbc_url", "jdbc:postgresql://h/d"],
            "--partition_column",
        ),
    ],
)
def test_an_option_given_an_empty_value_is_refused_not_read_as_left_out(job, argv, option):
    """``--rules "$RULES"`` with RULES unset ran the dataset's own rules; a --schema dataset has none."""
    module = importlib.import_module(f"lakejobs.jobs.{job}")
    with pytest.raises(UsageError) as refused:
        module.parse_args([*argv, option, " "])
    assert str(refused.value) == f"{option} is empty: give a value, or leave the option out"


@pytest.mark.parametrize("second", ["--dataset", "--dataset=employees"])
def test_an_option_given_twice_is_refused_not_silently_the_last(second):
    """``--dataset customers ... --dataset employees`` converted employees."""
    argv = ["--dataset", "customers", "--input_path", "in", "--output_path", "o"]
    argv += [second] if "=" in second else [second, "employees"]
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.parse_args(argv)
    assert str(refused.value) == "--dataset is given twice: give it once (argparse would keep only the last)"


@pytest.mark.parametrize(
    "given, spelled",
    [("--enable-incremental", "--incremental"), ("--job-format", "--format"), ("--JOB_FORMAT", "--format")],
)
def test_a_job_option_behind_a_glue_prefix_is_refused_not_dropped(given, spelled):
    """Set aside as Glue's, it was dropped: a full run for an incremental one, Parquet for Delta."""
    argv = ["--dataset", "orders", "--input_path", "in", "--output_path", "o", given, "true"]
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.parse_args(argv)
    assert str(refused.value) == f"{given} is not an option of this job; did you mean {spelled}? (see --help)"


def test_glues_own_prefixed_arguments_still_pass_and_bookmarks_get_a_warning(caplog):
    glue = ["--job-language", "python", "--enable-metrics", "true", "--JOB_NAME", "n", "--JOB_RUN_ID", "jr_1"]
    glue += ["--job-bookmark-option", "job-bookmark-enable", "--continuous-log-logGroup", "g"]
    with caplog.at_level("WARNING", logger="lakejobs.args"):
        args = csv_to_parquet.parse_args([*glue, "--dataset", "orders", "--input_path", "in", "--output_path", "o"])
    assert (args.incremental, args.output_format) == (False, "parquet")
    assert caplog.messages == [
        "--job-bookmark-option job-bookmark-enable is ignored: lakejobs keeps its own incremental state "
        "(--incremental true)"
    ]


@pytest.mark.parametrize("path", ["S3://b/raw", "s3:/b/raw", "s3:///raw", "S3A://b/raw", "s3a:b/raw"])
def test_a_malformed_s3_uri_is_refused_in_one_line(path):
    with pytest.raises(UsageError) as refused:
        csv_to_parquet.parse_args(["--dataset", "orders", "--input_path", path, "--output_path", "o"])
    scheme = path.split(":")[0].lower()
    assert str(refused.value) == (
        f"--input_path {path} is not an S3 URI as Hadoop reads one: write {scheme}://bucket/key "
        "(a lower-case scheme, two slashes, then the bucket)"
    )


@pytest.mark.parametrize(
    "path, kept",
    [
        ("s3://b/raw", "s3://b/raw"),
        ("s3a://b", "s3a://b"),
        ("s3n://b/k/", "s3n://b/k/"),
        ("s3_exports/raw", os.path.abspath("s3_exports/raw")),
        ("data/s3:x", os.path.abspath("data/s3:x")),
    ],
)
def test_s3_uris_and_local_paths_pass(path, kept):
    args = csv_to_parquet.parse_args(["--dataset", "orders", "--input_path", path, "--output_path", "o"])
    assert args.input_path == kept


def test_help_states_each_default_once_and_none_for_options_without_one():
    from lakejobs.args import DefaultsHelpFormatter
    from lakejobs.jobs.csv_to_parquet_args import build_parser

    parser = build_parser()
    parser.formatter_class = lambda prog: DefaultsHelpFormatter(prog, max_help_position=99, width=400)  # a line each
    options = [line.split() for line in parser.format_help().splitlines()[1:] if line.startswith("  --")]
    lines = {words[0]: " ".join(words[2:]) for words in options}
    assert lines["--max_bad_fraction"] == "default: 0.05"
    assert lines["--compression"] == "default: snappy"
    assert lines["--quarantine_path"] == "bad rows go here (default: <output_path>_quarantine)"  # said once
    assert lines["--primary_key"] == "key columns: c1,c2"  # none: the dataset's key
    assert lines["--input_path"] == "raw CSV file or folder"
    assert lines["--incremental"] == "read only new input files (default: false)"  # False is a default too


def _help_lines(parser) -> dict:
    """Each option's help text, on one line, by option."""
    from lakejobs.args import DefaultsHelpFormatter

    parser.formatter_class = lambda prog: DefaultsHelpFormatter(prog, max_help_position=99, width=400)  # a line each
    options = [line.split() for line in parser.format_help().splitlines()[1:] if line.startswith("  --")]
    return {words[0]: " ".join(words[2:]) for words in options}


def _parser_of(name: str):
    """The parser of a job (``warehouse_load``) or of a ``lakejobs`` command (``history``)."""
    from lakejobs import cli
    from lakejobs.jobs import JOBS

    if name in JOBS:
        return importlib.import_module(JOBS[name]).build_parser()
    (commands,) = [action for action in cli.build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    return commands.choices[name]


@pytest.mark.parametrize(
    "name, option, text",
    [
        ("history", "--limit", "newest commits to show (default: all)"),
        ("optimize", "--zorder_by", "columns to Z-order by: c1,c2 (default: none, compaction only)"),
        ("warehouse_extract", "--table", "[schema.]table to extract (default: none; give it or --query)"),
        (
            "warehouse_extract",
            "--query",
            "a SELECT to extract instead of a table (default: none; give it or --table)",
        ),
        (
            "warehouse_extract",
            "--partition_column",
            "integer, date or timestamp column to split the reads on (default: none, one read)",
        ),
        (
            "warehouse_extract",
            "--partition_by",
            "output partition columns: c1,c2 (default: none, an unpartitioned table)",
        ),
        (
            "warehouse_load",
            "--table",
            "a table of --lake: sales, sales_by_employee_month, customer_summary, customers, employees, orders "
            "(sets path and key; default: none, give it or --input_path)",
        ),
        ("warehouse_load", "--key", "primary key columns: c1,c2 (default: --table's key; --input_path needs it)"),
        (
            "deploy",
            "--role-arn",
            "IAM role the jobs run as (Glue job role, EMR step runtime role, EMR Serverless runtime role; default: "
            "none, which only --target emr takes: its steps run as the cluster's instance profile)",
        ),
        (
            "deploy",
            "--cluster-id",
            "running EMR cluster receiving the steps (j-...; default: none, --target emr then needs --transient)",
        ),
    ],
)
def test_help_states_the_default_of_an_option_without_a_value_by_default(name, option, text):
    """Until session 48 these said nothing of what leaving them out does, although the README said every help did."""
    assert _help_lines(_parser_of(name))[option] == text


def test_warehouse_load_refuses_lake_beside_input_path_which_it_would_ignore():
    """``--lake lake --input_path lake/mart/sales`` loaded the folder and silently dropped ``--lake``."""
    from lakejobs.jobs import warehouse_load

    argv = ["--lake", "l", "--input_path", "l/mart/sales", "--key", "id", "--jdbc_url", "jdbc:postgresql://h/d"]
    with pytest.raises(UsageError) as refused:
        warehouse_load.parse_args(argv)
    assert str(refused.value) == (
        "--lake goes with --table; --input_path names the table's folder itself: give one of them"
    )


@pytest.mark.parametrize(
    "job, argv, option, value, found",
    [
        ("transactions", ["--output_path", "o"], "--input_path", "in/tx[1]", "[ ]"),
        ("fx_rates", ["--output_path", "o"], "--input_path", "in/fx{eu}", "{ }"),
        ("csv_to_parquet", ["--dataset", "orders", "--input_path", "in[1]"], "--output_path", "lake/t*", "*"),
        ("taxi_trips", ["--input_path", "i", "--output_path", "o"], "--quarantine_path", "q?", "?"),
        ("warehouse_load", ["--table", "sales", "--jdbc_url", "jdbc:postgresql://h/d"], "--lake", "l[1]", "[ ]"),
    ],
)
def test_a_path_holding_glob_characters_is_refused_not_read_as_a_pattern(job, argv, option, value, found):
    """``--input_path in/tx[1]`` loaded the folder ``in/tx1`` and said SUCCEEDED."""
    module = importlib.import_module(f"lakejobs.jobs.{job}")
    with pytest.raises(UsageError) as refused:
        module.parse_args([*argv, option, value])
    assert str(refused.value) == (
        f"{option} {value!r} holds {found}, which Spark reads as a pattern matching other paths: rename it without "
        "{ } [ ] * ? \\ (a file below a folder may hold them)"
    )


def test_an_output_reached_through_a_link_to_the_input_is_refused(tmp_path):
    """Until session 47 the run read its own lock file as a row, and the next run its output, as CSV."""
    (tmp_path / "in").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "in")
    output = str(tmp_path / "link" / "out")
    with pytest.raises(UsageError) as raised:
        csv_to_parquet.parse_args(
            ["--dataset", "orders", "--input_path", str(tmp_path / "in"), "--output_path", output]
        )
    assert str(raised.value) == (
        f"--output_path {output} is inside --input_path {tmp_path / 'in'}: "
        "--input_path, --output_path, --quarantine_path must each lie outside the others"
    )
