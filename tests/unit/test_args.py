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
        "--JOB_NAME": "convert-orders",
    }


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
        (["--dataset", "orders", "--input_path", "a", "--output_path", "a"], "must differ"),
        (
            ["--schema", "id INT", "--primary_key", "nope", "--input_path", "a", "--output_path", "b"],
            "primary key column\\(s\\) not in the schema: nope",
        ),
    ],
)
def test_bad_arguments_raise_one_clear_usage_error(argv, message):
    with pytest.raises(UsageError, match=message):
        csv_to_parquet.parse_args(argv)
