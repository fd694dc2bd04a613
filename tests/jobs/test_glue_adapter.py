"""A job script run the way the Glue service runs it, with a stand-in ``awsglue`` (tests/glue_stub).

The argv is built like Glue's: the script (copied by Glue to a local temporary folder), the
run's own ``--JOB_ID``/``--JOB_RUN_ID``/``--JOB_NAME``, and every ``DefaultArguments`` entry of
the rendered job definition (flags such as ``--enable-metrics`` arrive without a value).
The lake locations are moved from ``s3://`` to a local folder (S3 itself is covered by
test_s3.py); everything else is the definition's.
"""

import json
import logging
import os
import random
import runpy
import shutil
import sys

import pytest
from chispa import assert_df_equality

from lakejobs.args import strip_glue_arguments
from lakejobs.deploy.description import DeployConfig, sales_pipeline
from lakejobs.deploy.glue import glue_job_definition
from lakejobs.errors import UsageError
from lakejobs.jobs import csv_to_parquet_args
from lakejobs.schemas import CUSTOMERS
from tests.conftest import ROOT, SAMPLE_RAW, read_raw_rows

STUB = ROOT / "tests" / "glue_stub"
JOB_ID = "j_" + "7e08" * 16
JOB_RUN_ID = "jr_" + "ff24" * 16


@pytest.fixture
def glue_runtime(monkeypatch):
    """``awsglue`` importable for one test, forgotten afterwards (runtime.on_glue() looks it up)."""
    monkeypatch.syspath_prepend(str(STUB))
    yield sys.modules
    for name in [name for name in sys.modules if name == "awsglue" or name.startswith("awsglue.")]:
        del sys.modules[name]


def glue_argv(script, definition):
    """Glue's argv for one run of ``definition``."""
    service = ["--JOB_ID", JOB_ID, "--JOB_RUN_ID", JOB_RUN_ID, "--JOB_NAME", definition["Name"]]
    service += ["--scriptLocation", definition["Command"]["ScriptLocation"]]
    defaults = []
    for name, value in definition["DefaultArguments"].items():
        defaults += [name] if name == "--enable-metrics" else [name, value]
    return [str(script)] + service[:2] + defaults + service[2:]


def on_disk(definition, s3_root, local_root):
    """Point the definition's lake locations at a local folder (the test's lake) instead of S3."""
    arguments = definition["DefaultArguments"]
    for name, value in arguments.items():
        arguments[name] = value.replace(s3_root, local_root)


class RecordedLog(logging.Handler):
    """A log handler keeping its lines (``LEVEL name: message``)."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


def run_as_glue(monkeypatch, script, argv):
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    return exit_info.value.code


def test_job_script_runs_through_job_init_and_commit_with_glues_argv(
    spark, tmp_path, monkeypatch, capsys, glue_runtime
):
    config = DeployConfig(bucket="lake-bucket", prefix="lake", role_arn="arn:aws:iam::123456789012:role/glue")
    definition = glue_job_definition(sales_pipeline("parquet").job("convert_customers"), config)
    lake = tmp_path / "lake"
    shutil.copytree(SAMPLE_RAW / "customers", lake / "rawData" / "customers")
    on_disk(definition, config.layout.root, f"{lake}/")
    script = tmp_path / "glue-python-scripts" / "csv_to_parquet.py"
    script.parent.mkdir()
    shutil.copy(ROOT / "jobs" / "csv_to_parquet.py", script)

    code = run_as_glue(monkeypatch, script, glue_argv(script, definition))

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    result = json.loads(out[-1])
    assert (result["status"], result["rows_read"], result["rows_written"]) == ("SUCCEEDED", 40, 40)
    calls = glue_runtime["awsglue.job"].CALLS
    assert [call[0] for call in calls] == ["init", "commit"]
    assert calls[0][1] == "lakejobs-convert-customers"
    assert calls[0][2]["JOB_RUN_ID"] == JOB_RUN_ID and calls[0][2]["TempDir"] == f"{lake}/tmp/glue/"
    # Keyed as awsglue's getResolvedOptions keys them, which Job.init reads (not "job-bookmark-option").
    assert calls[0][2]["job_bookmark_option"] == "job-bookmark-disable"
    rows = [(int(r[0]), r[1] or None, r[2] or None, r[3] or None) for r in read_raw_rows(SAMPLE_RAW / "customers")]
    expected = spark.createDataFrame(rows, CUSTOMERS)
    written = spark.read.parquet(str(lake / "processedData" / "customers"))
    assert_df_equality(written, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_failed_run_exits_1_in_one_line_after_init_and_never_commits(monkeypatch, capsys, tmp_path, glue_runtime):
    config = DeployConfig(bucket="unused", role_arn="arn:aws:iam::123456789012:role/glue")
    definition = glue_job_definition(sales_pipeline("parquet").job("convert_orders"), config)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "orders.csv").write_text("1,2,3\n")
    for name, folder in (
        ("input_path", raw),
        ("output_path", "out"),
        ("quarantine_path", "q"),
        ("state_path", "s.json"),
    ):
        definition["DefaultArguments"][f"--{name}"] = str(tmp_path / folder)
    definition["DefaultArguments"]["--report_path"] = str(tmp_path / "runs")
    script = ROOT / "jobs" / "csv_to_parquet.py"

    # Glue's own logging (left alone by the job): a handler of its own, whatever earlier tests configured.
    glue_log = RecordedLog()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers[:] = [glue_log]
    root.setLevel(logging.INFO)
    try:
        code = run_as_glue(monkeypatch, script, glue_argv(script, definition))
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)

    captured = capsys.readouterr()
    run_id = json.loads(captured.out.strip().splitlines()[-1])["run_id"]
    assert code == 1
    assert captured.err.splitlines() == [
        "csv_to_parquet: error: orders: 1 of 1 rows (100.00%) are bad, above --max_bad_fraction 0.05; nothing was "
        f"published (reasons: malformed_record=1; rows kept in {tmp_path / 'q'}_rejected)"
    ]
    assert glue_log.lines == [
        f"INFO lakejobs.io.writer: wrote orders: 0 rows in 0 files to {tmp_path / 'out'}/_staging/run_id={run_id}",
        f"INFO lakejobs.io.writer: wrote rejected: 1 rows in 1 files to {tmp_path / 'q'}_rejected/run_id={run_id}",
    ]
    assert [call[0] for call in glue_runtime["awsglue.job"].CALLS] == ["init"]


def test_glue_arguments_are_set_aside_in_any_order():
    definition = glue_job_definition(
        sales_pipeline().job("sales_mart"), DeployConfig(bucket="b", role_arn="arn:aws:iam::1:role/r")
    )
    argv = glue_argv("script.py", definition)[1:]
    pairs = []
    index = 0
    while index < len(argv):
        takes_value = index + 1 < len(argv) and not argv[index + 1].startswith("--")
        pairs.append(argv[index : index + (2 if takes_value else 1)])
        index += 2 if takes_value else 1
    own = sales_pipeline().job("sales_mart").argv("s3://b/")
    for seed in range(5):
        random.Random(seed).shuffle(pairs)
        shuffled = [token for pair in pairs for token in pair]
        kept, glue = strip_glue_arguments(shuffled)
        assert dict(zip(kept[::2], kept[1::2])) == dict(zip(own[::2], own[1::2]))
        assert glue["--enable-metrics"] == "" and glue["--JOB_RUN_ID"] == JOB_RUN_ID


def test_on_glue_an_unknown_kebab_case_argument_is_set_aside_with_a_warning(glue_runtime, caplog):
    argv = ["--dataset", "orders", "--input_path", "in", "--output_path", "out"]
    # A Glue argument this project does not list yet, as a pair and as a flag before another option.
    with caplog.at_level(logging.WARNING, logger="lakejobs.args"):
        parsed = csv_to_parquet_args.parse_args(["--new-service-flag", "on", *argv, "--glue-flag", "--format", "delta"])
    assert (parsed.dataset.name, parsed.output_format) == ("orders", "delta")
    assert (parsed.input_path, parsed.output_path) == (os.path.abspath("in"), os.path.abspath("out"))
    assert caplog.messages == [
        "--new-service-flag is not an argument this job knows: set aside as one of Glue's",
        "--glue-flag is not an argument this job knows: set aside as one of Glue's",
    ]
    with pytest.raises(UsageError, match=r"^--output-path is not an option of this job; did you mean --output_path\?"):
        csv_to_parquet_args.parse_args(["--dataset", "orders", "--input_path", "in", "--output-path", "out"])


def test_off_glue_an_unknown_kebab_case_argument_is_refused():
    argv = ["--dataset", "orders", "--input_path", "in", "--output_path", "out", "--new-service-flag", "on"]
    with pytest.raises(UsageError, match="unrecognized arguments: --new-service-flag on"):
        csv_to_parquet_args.parse_args(argv)
