"""Job code must run on EMR 7's default Python 3.9: vermin checks every construct's minimum version."""

import subprocess
import sys

from tests.conftest import ROOT, VENV_BIN


def test_library_and_job_scripts_need_at_most_python_3_9():
    completed = subprocess.run(
        [str(VENV_BIN / "vermin"), "--target=3.9-", "--no-tips", "--violations", "--eval-annotations", "lib", "jobs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert sys.version_info >= (3, 9)


def test_vermin_would_catch_a_python_3_10_construct(tmp_path):
    (tmp_path / "newer.py").write_text("def f(x):\n    match x:\n        case 1:\n            return x\n")
    completed = subprocess.run(
        [str(VENV_BIN / "vermin"), "--target=3.9-", "--no-tips", "--violations", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode != 0
