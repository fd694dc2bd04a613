"""Job code must run on EMR 7's default Python 3.9: vermin checks every construct's minimum version."""

import re
import subprocess

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
    sources = [path for folder in ("lib", "jobs") for path in (ROOT / folder).rglob("*.py")]
    lines = [re.sub(r" using \d+ processes\.\.$", "..", line) for line in completed.stdout.splitlines()]
    minimum = re.fullmatch(r"Minimum required versions: (3\.\d+)", lines[2]) if len(lines) > 2 else None
    assert minimum is not None, completed.stdout
    assert lines == [
        "Detecting python files..",
        f"Analyzing {len(sources)} files..",  # every module of the library and every job script
        f"Minimum required versions: {minimum.group(1)}",
        "Incompatible versions:     2.x",
    ]
    assert (3, 0) <= tuple(int(part) for part in minimum.group(1).split(".")) <= (3, 9)


def test_vermin_would_catch_a_python_3_10_construct(tmp_path):
    (tmp_path / "newer.py").write_text("def f(x):\n    match x:\n        case 1:\n            return x\n")
    completed = subprocess.run(
        [str(VENV_BIN / "vermin"), "--target=3.9-", "--no-tips", "--violations", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    lines = [line.strip() for line in completed.stdout.splitlines()]
    assert f"!2, 3.10     {tmp_path / 'newer.py'}" in lines
    assert "pattern matching requires !2, 3.10" in lines
    assert lines[-1] == "Target versions not met:   3.9-"
