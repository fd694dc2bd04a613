"""``make test``'s two workers: which tests share a worker (``tests/conftest.py``)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, job_env, marked_subprocess, work_unit


def test_tests_starting_servers_or_jvms_are_one_unit_the_in_process_ones_another():
    assert work_unit("tests/integration/test_cluster.py::test_the_pipeline_on_the_cluster_equals_the_local_run") == (
        "servers_and_own_jvms"
    )
    assert work_unit("tests/jobs/test_cli.py::test_python_job_script_with_the_argv_glue_passes") == (
        "servers_and_own_jvms"
    )
    assert work_unit("tests/unit/test_packaging.py::test_bad_options_are_one_clear_line[a-b]") == (
        "servers_and_own_jvms"
    )
    killed = "tests/jobs/test_incremental.py::test_a_job_killed_at_any_point_reruns_to_the_rows_of_a_clean_run[x]"
    assert work_unit(killed) == "servers_and_own_jvms"
    assert work_unit("tests/jobs/test_incremental.py::test_incremental_runs_read_only_new_files[delta]") == "in_process"
    assert work_unit("tests/jobs/test_cli.py::test_lakejobs_jobs_lists_every_job_with_a_description") == "in_process"
    assert work_unit("tests/unit/test_args.py::test_job_parses_the_argv_glue_passes") == "in_process"


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """{node id: marked ``subprocess``} of the whole suite, as pytest collects it (in a process of its own)."""
    folder = tmp_path_factory.mktemp("collected")
    (folder / "marks_plugin.py").write_text(
        "import json, os\n"
        "def pytest_collection_finish(session):\n"
        "    marks = {i.nodeid: i.get_closest_marker('subprocess') is not None for i in session.items}\n"
        "    with open(os.environ['MARKS_OUT'], 'w') as out:\n"
        "        json.dump(marks, out)\n"
    )
    env = {**job_env(), "PYTHONPATH": str(folder), "MARKS_OUT": str(folder / "marks.json")}
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "marks_plugin"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return json.loads((folder / "marks.json").read_text())


def test_the_marks_read_from_the_modules_are_the_marks_pytest_collected(collected):
    assert {nodeid: marked_subprocess(nodeid) for nodeid in collected} == collected
    assert any(collected.values()) and not all(collected.values())


def test_every_test_is_in_one_of_the_two_units(collected):
    # Not counts pinned here: a new test must not have to change this one.
    assert {work_unit(nodeid) for nodeid in collected} == {"in_process", "servers_and_own_jvms"}
