"""``make package``: the artifacts' names and exact contents, checked by opening them.

The packed environment is checked the way a runtime would see it: its interpreter link, its
``pyvenv.cfg``, lakejobs inside, and every installed wheel's tags (``*.dist-info/WHEEL``) fit
for the chosen Python and CPU. Third-party packages come from small wheels this test writes
into a local ``--find-links`` folder, so pip's real platform selection is exercised offline.
"""

import base64
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from lakejobs import packaging
from lakejobs.errors import LakejobsError, UsageError
from tests.conftest import ROOT

pytestmark = pytest.mark.subprocess

SITE = "lib/python{}/site-packages"
# Tags a wheel may carry to load on Amazon Linux 2023 (glibc 2.34) with at most manylinux_2_28.
WHEEL_TAG = re.compile(
    r"^(?P<python>py3|py2\.py3|cp3\d+)-(?P<abi>none|abi3|cp3\d+)-"
    r"(?P<platform>any|manylinux(?:1|2010|2014|_2_(?P<glibc>\d+))_(?P<machine>x86_64|aarch64))$"
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """``python -m lakejobs.packaging`` run as ``make package`` runs it (default: 3.9 and 3.11, x86_64)."""
    folder = tmp_path_factory.mktemp("dist")
    completed = subprocess.run(
        [sys.executable, "-m", "lakejobs.packaging", "--dist", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return folder


def members(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        return {member.name: member for member in tar.getmembers()}


def read_member(archive: Path, name: str) -> str:
    with tarfile.open(archive) as tar:
        return tar.extractfile(name).read().decode("utf-8")


def wheel_tags(archive: Path, python_version: str) -> dict:
    """``{dist-info folder: [tags]}`` from every ``WHEEL`` file in the archive's site-packages."""
    site = SITE.format(python_version)
    tags = {}
    for name in members(archive):
        if name.startswith(site) and name.endswith(".dist-info/WHEEL"):
            text = read_member(archive, name)
            tags[name.split("/")[-2]] = [
                line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")
            ]
    return tags


def assert_fits(tag: str, python_version: str, machine: str) -> None:
    match = WHEEL_TAG.match(tag)
    assert match, f"{tag} is neither pure nor manylinux"
    if match["python"].startswith("cp"):
        assert match["python"] == "cp" + python_version.replace(".", ""), tag
    if match["platform"] != "any":
        assert match["machine"] == machine, tag
        assert match["glibc"] is None or int(match["glibc"]) <= 28, tag


def make_wheel(folder: Path, name: str, version: str, tag: str, requires=()) -> Path:
    """Write a minimal valid wheel ``name`` whose module records the tag it was built for."""
    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    files = {
        f"{name}/__init__.py": f"TAG = {tag!r}\n",
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: {str(tag.endswith('any')).lower()}\n"
        f"Tag: {tag}\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    target = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(target, "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return target


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory):
    """A local index: ``native`` for four platforms, a pure ``needs_spark`` that requires pyspark."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    for tag in (
        "cp39-cp39-manylinux2014_x86_64",
        "cp39-cp39-manylinux_2_28_aarch64",
        "cp311-cp311-manylinux_2_28_aarch64",
        "cp311-cp311-macosx_11_0_arm64",
        "cp311-cp311-manylinux_2_34_x86_64",
    ):
        make_wheel(folder, "native", "1.0", tag)
    make_wheel(folder, "muslonly", "1.0", "cp311-cp311-musllinux_1_2_x86_64")
    make_wheel(folder, "glibc224", "1.0", "cp311-cp311-manylinux_2_24_x86_64")
    make_wheel(folder, "needs_spark", "1.0", "py3-none-any", requires=["pyspark"])
    # No pyspark wheel: PyPI has none either (source only); the build's placeholder stands in.
    return folder


def requirements(tmp_path: Path, wheelhouse: Path, *names: str) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("\n".join(["--no-index", f"--find-links {wheelhouse}", *names]) + "\n")
    return path


def test_artifact_names_are_what_deploy_expects():
    assert packaging.wheel_name() == "lakejobs-0.1.0-py3-none-any.whl"
    assert packaging.LIB_ZIP == "lakejobs-lib.zip"
    assert packaging.env_archive_name() == "lakejobs-env-py3.11-x86_64.tar.gz"
    assert packaging.env_archive_name("3.9", "aarch64") == "lakejobs-env-py3.9-arm64.tar.gz"
    with pytest.raises(UsageError, match="unsupported Python '3.10': expected one of 3.9, 3.11"):
        packaging.env_archive_name("3.10")
    with pytest.raises(UsageError, match="unknown architecture 'ppc64le'"):
        packaging.env_archive_name("3.11", "ppc64le")


def test_make_package_writes_the_four_artifacts(dist):
    scripts = sorted(f"jobs/{path.name}" for path in (ROOT / "jobs").glob("*.py"))
    assert "jobs/sales_mart.py" in scripts and len(scripts) >= 9
    assert sorted(p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()) == [
        *scripts,
        "lakejobs-0.1.0-py3-none-any.whl",
        "lakejobs-env-py3.11-x86_64.tar.gz",
        "lakejobs-env-py3.9-x86_64.tar.gz",
        "lakejobs-lib.zip",
    ]
    assert (dist / "jobs" / "sales_mart.py").read_bytes() == (ROOT / "jobs" / "sales_mart.py").read_bytes()


def test_the_lib_zip_holds_the_package_and_nothing_else(dist):
    source = ROOT / "lib" / "lakejobs"
    expected = sorted(
        "lakejobs/" + path.relative_to(source).as_posix()
        for path in source.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and (path.suffix == ".py" or (path.parent.name == "conf" and path.suffix == ".properties"))
    )
    with zipfile.ZipFile(dist / "lakejobs-lib.zip") as lib:
        names = lib.namelist()
    assert names == expected
    assert {"lakejobs/__init__.py", "lakejobs/conf/log4j2.properties", "lakejobs/jobs/sales_mart.py"} <= set(names)


IMPORT_EVERY_MODULE = """
import importlib, pkgutil, sys
sys.path.insert(0, sys.argv[1])  # the zip, first
sys.path.append(sys.argv[2])  # then pyspark's folder, which the runtime provides
import lakejobs
names = sorted(m.name for m in pkgutil.walk_packages(lakejobs.__path__, "lakejobs."))
modules = [importlib.import_module(name) for name in names]
print(lakejobs.__file__)
print(len(modules), sum(m.__file__.startswith(sys.argv[1] + "/lakejobs/") for m in modules))
"""


def test_a_python_with_only_the_zip_on_its_path_imports_every_module_from_it(dist):
    import pyspark

    lib_zip = dist / "lakejobs-lib.zip"
    pyspark_parent = str(Path(pyspark.__file__).parents[1])
    # -I -S: no PYTHONPATH, no current folder, no site-packages processing (so this venv's
    # editable lakejobs stays invisible even though pyspark's folder is on the path).
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", IMPORT_EVERY_MODULE, str(lib_zip), pyspark_parent],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert completed.returncode == 0, completed.stderr
    first, imported, from_zip = completed.stdout.split()
    assert first == f"{lib_zip}/lakejobs/__init__.py"
    modules = [path for path in (ROOT / "lib" / "lakejobs").rglob("*.py") if path.parent.name != "__pycache__"]
    assert int(imported) == len(modules) - 1  # every module and subpackage below lakejobs/__init__.py
    assert from_zip == imported


def test_the_packed_environment_links_to_the_runtime_interpreter(dist):
    archive = dist / "lakejobs-env-py3.11-x86_64.tar.gz"
    entries = members(archive)
    assert entries["bin/python"].issym() and entries["bin/python"].linkname == "/usr/bin/python3.11"
    assert entries["bin/python3"].linkname == "python"
    assert entries["bin/python3.11"].linkname == "python"
    assert read_member(archive, "pyvenv.cfg") == (
        "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11\nexecutable = /usr/bin/python3.11\n"
    )
    assert "lib/python3.11/site-packages/lakejobs/__init__.py" in entries
    assert "lib/python3.11/site-packages/lakejobs/conf/log4j2.properties" in entries
    # lakejobs, and env/requirements-py3.11.txt exactly: boto3 for the catalog step, pinned.
    assert wheel_tags(archive, "3.11") == {
        "lakejobs-0.1.0.dist-info": ["py3-none-any"],
        "boto3-1.44.5.dist-info": ["py3-none-any"],
        "botocore-1.44.5.dist-info": ["py3-none-any"],
        "jmespath-1.1.0.dist-info": ["py3-none-any"],
        "python_dateutil-2.9.0.post0.dist-info": ["py2-none-any", "py3-none-any"],
        "s3transfer-0.19.3.dist-info": ["py3-none-any"],
        "six-1.17.0.dist-info": ["py2-none-any", "py3-none-any"],
        "urllib3-2.8.0.dist-info": ["py3-none-any"],
    }
    assert not any("pyspark" in name or "py4j" in name for name in entries)


def test_nothing_in_the_environment_names_this_machine(dist):
    archive = dist / "lakejobs-env-py3.11-x86_64.tar.gz"
    here = {sys.prefix, sys.base_prefix, str(ROOT), os.path.dirname(sys.executable), str(dist)}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            text = member.linkname if member.issym() else ""
            if member.isfile():
                text = tar.extractfile(member).read().decode("utf-8", "replace")
            assert not any(path in text for path in here), member.name
    assert read_member(archive, "bin/lakejobs").startswith("#!/bin/sh\n'''exec' \"$(dirname -- \"$0\")/python\"")


@pytest.mark.skipif(not os.path.exists("/usr/bin/python3.11"), reason="needs the runtime's /usr/bin/python3.11")
def test_the_unpacked_environment_runs_with_lakejobs_from_its_own_site_packages(dist, tmp_path):
    subprocess.run(["tar", "-xzf", str(dist / "lakejobs-env-py3.11-x86_64.tar.gz"), "-C", str(tmp_path)], check=True)
    completed = subprocess.run(
        [str(tmp_path / "bin" / "python"), "-c", "import sys, lakejobs; print(sys.prefix, lakejobs.__file__)"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
        cwd="/",
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == [
        str(tmp_path),
        str(tmp_path / "lib" / "python3.11" / "site-packages" / "lakejobs" / "__init__.py"),
    ]


@pytest.mark.parametrize(
    "python_version, arch, machine, native_tag",
    [
        ("3.9", "arm64", "aarch64", "cp39-cp39-manylinux_2_28_aarch64"),
        ("3.9", "x86_64", "x86_64", "cp39-cp39-manylinux2014_x86_64"),
        ("3.11", "aarch64", "aarch64", "cp311-cp311-manylinux_2_28_aarch64"),
    ],
)
def test_extra_requirements_get_the_wheel_for_the_target_python_and_cpu(
    dist, wheelhouse, tmp_path, python_version, arch, machine, native_tag
):
    extra = requirements(tmp_path, wheelhouse, "native==1.0", "needs_spark")
    out = tmp_path / "out"
    archive = packaging.build_env(out, dist / "lakejobs-0.1.0-py3-none-any.whl", python_version, arch, extra)
    assert archive == out / f"lakejobs-env-py{python_version}-{packaging.normalize_arch(arch)}.tar.gz"
    assert members(archive)["bin/python"].linkname == f"/usr/bin/python{python_version}"
    tags = wheel_tags(archive, python_version)
    assert tags == {
        "lakejobs-0.1.0.dist-info": ["py3-none-any"],
        "native-1.0.dist-info": [native_tag],
        "needs_spark-1.0.dist-info": ["py3-none-any"],
    }
    for tag in (tag for values in tags.values() for tag in values):
        assert_fits(tag, python_version, machine)
    site = SITE.format(python_version)
    assert read_member(archive, f"{site}/native/__init__.py") == f"TAG = {native_tag!r}\n"
    # pyspark came in as a dependency of needs_spark and was left out: the runtime has its own.
    assert not [name for name in members(archive) if name.startswith(f"{site}/pyspark")]


def test_a_wheel_for_a_glibc_between_2_17_and_2_28_is_taken(dist, wheelhouse, tmp_path):
    """pip takes --platform tags as given: manylinux_2_24 alone was refused."""
    wheel = dist / "lakejobs-0.1.0-py3-none-any.whl"
    extra = requirements(tmp_path, wheelhouse, "glibc224==1.0")
    archive = packaging.build_env(tmp_path / "out", wheel, "3.11", "x86_64", extra)
    assert wheel_tags(archive, "3.11")["glibc224-1.0.dist-info"] == ["cp311-cp311-manylinux_2_24_x86_64"]


def test_a_shell_script_keeps_its_shell_and_a_python_one_starts_the_environments_python(tmp_path):
    """Every first ``#!`` line was replaced by the Python launcher: a bash script ran as Python."""
    site_packages = tmp_path / "lib" / "python3.11" / "site-packages"
    (site_packages / "bin").mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    (site_packages / "bin" / "run-tool").write_text("#!/bin/bash\necho tool\n")
    (site_packages / "bin" / "py-tool").write_text("#!/build/venv/bin/python3.11\nprint('tool')\n")
    # pip's launcher when the interpreter's path is long or has a space: no "python" on line 1.
    launcher = "#!/bin/sh\n'''exec' \"/build dir/venv/bin/python3.11\" \"$0\" \"$@\"\n' '''\n"
    (site_packages / "bin" / "long-tool").write_text(launcher + "print('tool')\n")
    packaging._make_relocatable(tmp_path, site_packages)
    assert (tmp_path / "bin" / "run-tool").read_text() == "#!/bin/bash\necho tool\n"
    assert (tmp_path / "bin" / "py-tool").read_text() == packaging._RELOCATABLE_SHEBANG + "print('tool')\n"
    assert (tmp_path / "bin" / "long-tool").read_text() == packaging._RELOCATABLE_SHEBANG + "print('tool')\n"


def test_a_package_without_a_loadable_linux_wheel_fails_the_build(dist, wheelhouse, tmp_path):
    wheel = dist / "lakejobs-0.1.0-py3-none-any.whl"
    with pytest.raises(LakejobsError, match=r"could not install .* on x86_64 .*: ERROR: .*muslonly"):
        packaging.build_env(tmp_path, wheel, "3.11", "x86_64", requirements(tmp_path, wheelhouse, "muslonly"))
    # Only macOS and glibc 2.34 builds of native exist for 3.11 on x86_64: neither is taken.
    with pytest.raises(LakejobsError, match="ERROR: .*native"):
        packaging.build_env(tmp_path, wheel, "3.11", "x86_64", requirements(tmp_path, wheelhouse, "native"))
    assert not list(tmp_path.glob("*.tar.gz"))


@pytest.mark.parametrize(
    "options, message",
    [
        (["--extra-requirements", "{tmp}/nope.txt"], "extra requirements file does not exist: {tmp}/nope.txt"),
        (["--pyver", "3.12"], "unsupported Python '3.12': expected one of 3.9, 3.11"),
        (
            ["--interpreter", "/opt/py/bin/python3"],
            "--interpreter links bin/python of every environment to it: give one --pyver",
        ),
    ],
)
def test_bad_options_are_one_clear_line(tmp_path, options, message):
    argv = [option.format(tmp=tmp_path) for option in options]
    completed = subprocess.run(
        [sys.executable, "-m", "lakejobs.packaging", "--dist", str(tmp_path), *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (completed.returncode, completed.stderr) == (
        2,
        f"lakejobs.packaging: error: {message.format(tmp=tmp_path)}\n",
    )
    assert not list(tmp_path.iterdir())


def test_the_archives_are_reproducible(dist, tmp_path):
    """The same bytes from another build: the wheel's entries had the build's times, and the env's
    RECORD listed ``direct_url.json`` (dropped) with the hash of the wheel's path."""
    wheel = packaging.build_wheel(tmp_path / "wheel")
    assert wheel.read_bytes() == (dist / wheel.name).read_bytes()
    pinned = packaging.runtime_requirements("3.11")
    again = packaging.build_env(tmp_path / "env", wheel, pinned_requirements=pinned)
    assert again.read_bytes() == (dist / again.name).read_bytes()
    assert io.BytesIO(again.read_bytes()).read(2) == b"\x1f\x8b"


def pins(path: Path) -> dict:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return dict(line.split("==") for line in lines)


def test_the_runtime_requirements_pin_what_the_dev_environment_pins_and_python_39_can_install(dist):
    """3.11: the lock's versions. 3.9: boto3's last release for it, installable for that Python."""
    locked = pins(ROOT / "requirements.lock")
    for name, version in pins(packaging.runtime_requirements("3.11")).items():
        assert locked[name] == version, name
    archive = dist / "lakejobs-env-py3.9-x86_64.tar.gz"  # make package's environment for EMR 7
    assert members(archive)["bin/python"].linkname == "/usr/bin/python3.9"
    tags = wheel_tags(archive, "3.9")
    assert sorted(tags) == sorted(
        [
            f"{name.replace('-', '_')}-{version}.dist-info"
            for name, version in pins(packaging.runtime_requirements("3.9")).items()
        ]
        + ["lakejobs-0.1.0.dist-info"]
    )
