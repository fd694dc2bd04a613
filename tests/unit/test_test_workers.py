"""``make test``'s two workers: which tests share a worker (``tests/conftest.py``)."""

import json
import signal
import subprocess
import sys
import time

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
    moved = "tests/jobs/test_user_mistakes.py::test_the_names_a_table_folder_may_hold"
    assert work_unit(moved) == "servers_and_own_jvms"


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


SLOW_TEARDOWN_TESTS = """
import os, pathlib, time
import pytest

@pytest.fixture(scope="session")
def server():
    marks = pathlib.Path(os.environ["MARKS"])
    (marks / f"started-{os.getpid()}").touch()
    yield
    time.sleep(6.5)  # longer than xdist's 5 s before it interrupts a worker it asked to stop
    (marks / f"stopped-{os.getpid()}").touch()

@pytest.mark.parametrize("n", range(2))
def test_waits(server, n):
    time.sleep(120)
"""


@pytest.mark.subprocess
def test_a_sigterm_to_the_xdist_controller_alone_lets_every_worker_tear_its_fixtures_down(tmp_path):
    """A CI timeout may signal pytest's first process only: each worker's fixtures still stop their servers."""
    tests, marks = tmp_path / "tests", tmp_path / "marks"
    tests.mkdir()
    marks.mkdir()
    (tests / "conftest.py").write_text("from tests.conftest import pytest_configure  # noqa: F401\n")
    (tests / "test_slow_teardown.py").write_text(SLOW_TEARDOWN_TESTS)
    env = {**job_env(), "PYTHONPATH": str(ROOT), "MARKS": str(marks)}
    command = [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider", str(tests)]
    pytest_run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while len(list(marks.glob("started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        started = sorted(path.name.split("-")[1] for path in marks.glob("started-*"))
        assert len(started) == 2
        pytest_run.send_signal(signal.SIGTERM)
        pytest_run.wait(timeout=60)
    finally:
        pytest_run.kill()
        output = pytest_run.communicate()[0].decode()
    assert sorted(path.name.split("-")[1] for path in marks.glob("stopped-*")) == started, output
