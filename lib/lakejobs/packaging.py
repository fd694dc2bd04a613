"""Build ``dist/``: the wheel, the library zip, the job scripts and a packed Python environment.

Build time only: no job imports this module. ``make package`` runs ``python -m lakejobs.packaging``.

Artifacts (the deploy step relies on these names)
--------------------------------------------------
``lakejobs-<version>-py3-none-any.whl``
    The wheel, built from ``setup.py`` (which holds the version).
``lakejobs-lib.zip``
    The ``lakejobs`` package and nothing else (the wheel's contents without its metadata), for
    ``spark-submit --py-files`` and Glue's ``--extra-py-files``.
``jobs/<job>.py``
    The entry-point scripts Glue, EMR and ``spark-submit`` run.
``lakejobs-env-py<X.Y>-<arch>.tar.gz``
    One per runtime Python by default (3.9 for EMR 7, 3.11 for Glue 5). A packed virtual
    environment: ``bin/python`` links to the runtime's interpreter (not this
    machine's), ``pyvenv.cfg``, and ``lib/pythonX.Y/site-packages`` with lakejobs, boto3
    (pinned in ``env/requirements-pyX.Y.txt``, for the catalog step) and the extra
    requirements, installed by pip for the target Python and CPU from manylinux2014 /
    manylinux_2_28 (or pure) wheels only. PySpark and py4j are left out: the runtime provides
    them. Use it as EMR Serverless ``spark.archives=<s3 uri>#environment`` with
    ``./environment/bin/python`` for the driver and the executors, or as Glue 5's
    ``--python-virtual-env <s3 uri>``.
"""

import base64
import gzip
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from lakejobs.errors import LakejobsError, UsageError

LOG = logging.getLogger(__name__)

PACKAGE = "lakejobs"
LIB_ZIP = "lakejobs-lib.zip"
JOBS_DIR = "jobs"
PYTHON_VERSIONS = ("3.9", "3.11")
ARCHITECTURES = ("x86_64", "arm64")
DEFAULT_PYTHON_VERSION = "3.11"
DEFAULT_ARCH = "x86_64"

#: The interpreter ``bin/python`` links to, per Python version. Glue 5.0/5.1 run Python 3.11 on
#: Amazon Linux 2023 and EMR 7 runs Amazon Linux 2023 with Python 3.9 as ``python3``; AL2023's
#: ``python3.9`` and ``python3.11`` packages install ``/usr/bin/python3.9`` and ``/usr/bin/python3.11``.
RUNTIME_INTERPRETERS: Dict[str, str] = {"3.9": "/usr/bin/python3.9", "3.11": "/usr/bin/python3.11"}

#: Packages the Spark runtime provides; never packed (a requirement may pull them in).
PROVIDED_BY_RUNTIME = ("pyspark", "py4j")

_MANYLINUX_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}
_ARCH_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_FIXED_TAR_MTIME = 315532800  # 1980-01-01, like the zip
#: A first line that runs the script with the ``python`` next to it (sh, then Python).
_RELOCATABLE_SHEBANG = "#!/bin/sh\n'''exec' \"$(dirname -- \"$0\")/python\" \"$0\" \"$@\"\n' '''\n"


def project_root() -> Path:
    """The checkout this module belongs to (``lib/lakejobs/..``)."""
    return Path(__file__).resolve().parents[2]


def runtime_requirements(python_version: str, root: Optional[Path] = None) -> Path:
    """The pinned packages every packed environment for ``python_version`` gets (``env/``)."""
    return (root or project_root()) / "env" / f"requirements-py{check_python_version(python_version)}.txt"


def project_version(root: Optional[Path] = None) -> str:
    """The version declared in ``setup.py``."""
    text = ((root or project_root()) / "setup.py").read_text(encoding="utf-8")
    match = re.search(r"""version\s*=\s*["']([^"']+)["']""", text)
    if not match:
        raise LakejobsError("setup.py declares no version")
    return match.group(1)


def wheel_name(version: Optional[str] = None) -> str:
    """The wheel's file name, e.g. ``lakejobs-0.1.0-py3-none-any.whl``."""
    return f"{PACKAGE}-{version or project_version()}-py3-none-any.whl"


def normalize_arch(arch: str) -> str:
    """``x86_64`` or ``arm64`` (``aarch64`` and ``amd64`` are accepted as aliases)."""
    try:
        return _ARCH_ALIASES[arch.lower()]
    except KeyError:
        raise UsageError(f"unknown architecture {arch!r}: expected x86_64 or arm64 (aarch64)") from None


def check_python_version(python_version: str) -> str:
    """Return ``python_version`` if a runtime uses it, else raise ``UsageError``."""
    if python_version not in PYTHON_VERSIONS:
        raise UsageError(f"unsupported Python {python_version!r}: expected one of {', '.join(PYTHON_VERSIONS)}")
    return python_version


def env_archive_name(python_version: str = DEFAULT_PYTHON_VERSION, arch: str = DEFAULT_ARCH) -> str:
    """The packed environment's file name, e.g. ``lakejobs-env-py3.11-x86_64.tar.gz``."""
    return f"{PACKAGE}-env-py{check_python_version(python_version)}-{normalize_arch(arch)}.tar.gz"


def platform_tags(arch: str) -> List[str]:
    """The pip ``--platform`` values for ``arch``: manylinux2014 and manylinux_2_17 to _2_28.

    Each glibc level is named: pip takes ``--platform`` tags as they are (it adds only
    manylinux2010 and manylinux1 for manylinux2014), so a wheel tagged ``manylinux_2_24`` alone
    was refused and an older release (or none) taken instead. Amazon Linux 2023 has glibc 2.34,
    so every such wheel loads there.
    """
    machine = _MANYLINUX_ARCH[normalize_arch(arch)]
    return [f"manylinux2014_{machine}"] + [f"manylinux_2_{minor}_{machine}" for minor in range(17, 29)]


def _require_requirements_file(path: Optional[Path]) -> None:
    """Raise ``UsageError`` unless ``path`` (when given) is a file."""
    if path is not None and Path(path).is_dir():
        raise UsageError(f"extra requirements file is a folder: {path}")
    if path is not None and not Path(path).is_file():
        raise UsageError(f"extra requirements file does not exist: {path}")


def build_wheel(dist: Path, root: Optional[Path] = None) -> Path:
    """Build the wheel into ``dist`` from a copy of ``setup.py`` and ``lib/`` (the tree stays clean)."""
    root = root or project_root()
    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lakejobs-wheel-") as tmp:
        source = Path(tmp) / "src"
        source.mkdir()
        shutil.copy2(root / "setup.py", source / "setup.py")
        shutil.copytree(root / "lib", source / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        _run_pip(
            ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(Path(tmp) / "out")],
            [str(source)],
            "build the lakejobs wheel",
            environ={"SOURCE_DATE_EPOCH": str(_FIXED_TAR_MTIME)},  # the wheel's entries get fixed times
        )
        built = Path(tmp) / "out" / wheel_name(project_version(root))
        if not built.exists():
            raise LakejobsError(f"pip built no {built.name}")
        target = dist / built.name
        shutil.copy2(built, target)
    return target


def build_lib_zip(dist: Path, wheel: Path) -> Path:
    """Write ``lakejobs-lib.zip``: the wheel's ``lakejobs/`` files, nothing else, reproducibly."""
    target = dist / LIB_ZIP
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for name in sorted(n for n in source.namelist() if n.startswith(f"{PACKAGE}/") and not n.endswith("/")):
            info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, source.read(name))
    return target


def copy_job_scripts(dist: Path, root: Optional[Path] = None) -> List[Path]:
    """Copy every ``jobs/*.py`` to ``dist/jobs/`` (the folder is replaced)."""
    target = dist / JOBS_DIR
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    scripts = sorted(((root or project_root()) / JOBS_DIR).glob("*.py"))
    return [Path(shutil.copy2(script, target / script.name)) for script in scripts]


def build_env(
    dist: Path,
    wheel: Path,
    python_version: str = DEFAULT_PYTHON_VERSION,
    arch: str = DEFAULT_ARCH,
    extra_requirements: Optional[Path] = None,
    interpreter: Optional[str] = None,
    pinned_requirements: Optional[Path] = None,
) -> Path:
    """Pack a virtual environment for the runtime's Python into ``dist``; see the module docstring.

    Parameters
    ----------
    python_version : str
        ``3.9`` or ``3.11``: the runtime's Python.
    arch : str
        ``x86_64`` or ``arm64`` (Graviton).
    extra_requirements : Path, optional
        A pip requirements file of third-party packages to add (pip options such as
        ``--find-links`` inside it work too).
    interpreter : str, optional
        What ``bin/python`` links to; default ``RUNTIME_INTERPRETERS[python_version]``.
    pinned_requirements : Path, optional
        A requirements file pinning every package it needs (installed without resolving
        dependencies): ``runtime_requirements`` for ``build_all``.
    """
    check_python_version(python_version)
    arch = normalize_arch(arch)
    interpreter = interpreter or RUNTIME_INTERPRETERS[python_version]
    if not os.path.isabs(interpreter):
        raise UsageError(f"--interpreter must be an absolute path, got {interpreter!r}")
    _require_requirements_file(extra_requirements)
    with tempfile.TemporaryDirectory(prefix="lakejobs-env-") as tmp:
        env = Path(tmp) / "env"
        site_packages = _make_venv_layout(env, python_version, interpreter)
        target_options = _target_options(site_packages, python_version, arch)
        _run_pip(["install", "--no-deps", "--no-index", *target_options], [str(wheel)], "install the lakejobs wheel")
        if pinned_requirements is not None:
            _run_pip(
                ["install", "--no-deps", *target_options],
                ["-r", str(pinned_requirements)],
                f"install {pinned_requirements} for Python {python_version} on {arch}",
            )
        if extra_requirements is not None:
            # Resolved against the pins: an extra needing another boto3 fails instead of being
            # skipped by pip --target, which leaves a package folder that already exists alone.
            constraints = ["-c", str(pinned_requirements)] if pinned_requirements is not None else []
            placeholders = _runtime_placeholders(Path(tmp) / "placeholders")
            _run_pip(
                ["install", *target_options, "--find-links", str(placeholders)],
                [*constraints, "-r", str(extra_requirements)],
                f"install {extra_requirements} for Python {python_version} on {arch} "
                "(manylinux2014/manylinux_2_28 or pure wheels only)",
            )
        _remove_runtime_packages(site_packages)
        _make_relocatable(env, site_packages)
        target = dist / env_archive_name(python_version, arch)
        dist.mkdir(parents=True, exist_ok=True)
        _write_tar_gz(env, target)
    return target


def _make_venv_layout(env: Path, python_version: str, interpreter: str) -> Path:
    """``bin/python*`` links, ``pyvenv.cfg`` and an empty site-packages; returns site-packages."""
    bin_dir = env / "bin"
    bin_dir.mkdir(parents=True)
    os.symlink(interpreter, bin_dir / "python")
    os.symlink("python", bin_dir / "python3")
    os.symlink("python", bin_dir / f"python{python_version}")
    (env / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(interpreter)}\n"
        "include-system-site-packages = false\n"
        f"version = {python_version}\n"
        f"executable = {interpreter}\n",
        encoding="utf-8",
    )
    site_packages = env / "lib" / f"python{python_version}" / "site-packages"
    site_packages.mkdir(parents=True)
    return site_packages


def _target_options(site_packages: Path, python_version: str, arch: str) -> List[str]:
    options = ["--target", str(site_packages), "--no-compile", "--only-binary=:all:"]
    options += ["--python-version", python_version, "--implementation", "cp"]
    for tag in platform_tags(arch):
        options += ["--platform", tag]
    return options


#: The PySpark version a placeholder stands for (the runtime brings its own; see ``_runtime_placeholders``).
PYSPARK_PLACEHOLDER_VERSION = "3.5.6"


def _runtime_placeholders(folder: Path) -> Path:
    """A folder holding an empty ``pyspark`` wheel, for extras that require PySpark.

    PyPI has PySpark only as source, which ``--only-binary=:all:`` refuses: an extra requiring
    it (``delta-spark``) could not be installed at all. The placeholder satisfies the
    requirement and is removed with the runtime's packages (``_remove_runtime_packages``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    name, version = "pyspark", PYSPARK_PLACEHOLDER_VERSION
    info = f"{name}-{version}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: lakejobs\nRoot-Is-Purelib: true\nTag: py2.py3-none-any\n",
    }
    record = [f"{path},sha256={_record_digest(text)},{len(text.encode())}" for path, text in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    with zipfile.ZipFile(folder / f"{name}-{version}-py2.py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return folder


def _record_digest(text: str) -> str:
    """A wheel RECORD's hash of ``text``: urlsafe base64 of its SHA-256, without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def _remove_runtime_packages(site_packages: Path) -> None:
    """Drop PySpark and py4j if a requirement pulled them in: the runtime has its own."""
    for entry in sorted(site_packages.iterdir()):
        distribution = entry.name.split("-")[0].lower()
        if entry.name.lower() in PROVIDED_BY_RUNTIME or (
            entry.name.endswith(".dist-info") and distribution in PROVIDED_BY_RUNTIME
        ):
            LOG.info("leaving out %s: the Spark runtime provides it", entry.name)
            shutil.rmtree(entry)


def _make_relocatable(env: Path, site_packages: Path) -> None:
    """Move console scripts to ``bin/`` and drop what names this machine's paths.

    ``pip install --target`` leaves scripts in ``site-packages/bin`` with this machine's
    interpreter in their first line; in the archive they start the environment's own
    ``bin/python``, wherever the archive is unpacked. ``direct_url.json`` names the build folder.
    """
    scripts = site_packages / "bin"
    if scripts.is_dir():
        for script in sorted(scripts.iterdir()):
            lines = script.read_text(encoding="utf-8").splitlines(keepends=True)
            if lines[1:2] and lines[0].startswith("#!/bin/sh") and lines[1].startswith("'''exec'"):
                lines[:3] = [_RELOCATABLE_SHEBANG]  # pip's launcher for a long or spaced interpreter path
            elif lines and lines[0].startswith("#!") and "python" in lines[0]:  # a shell script keeps its own
                lines[0] = _RELOCATABLE_SHEBANG
            target = env / "bin" / script.name
            target.write_text("".join(lines), encoding="utf-8")
            target.chmod(0o755)
        shutil.rmtree(scripts)
    for direct_url in site_packages.glob("*.dist-info/direct_url.json"):
        direct_url.unlink()
        record = direct_url.parent / "RECORD"  # it listed the file, with the hash of this build's path
        lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
        record.write_text(
            "".join(line for line in lines if not line.startswith(f"{direct_url.parent.name}/direct_url.json,")),
            encoding="utf-8",
        )


def _write_tar_gz(source: Path, target: Path) -> None:
    """Tar ``source``'s contents (links kept as links) with fixed owners and times, gzipped."""
    with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in _walk_sorted(source):
                info = tar.gettarinfo(str(path), arcname=path.relative_to(source).as_posix())
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = _FIXED_TAR_MTIME
                if info.isreg():
                    info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
                    with open(path, "rb") as handle:
                        tar.addfile(info, handle)
                else:
                    info.mode = 0o755 if info.isdir() else 0o777
                    tar.addfile(info)


def _walk_sorted(root: Path) -> List[Path]:
    paths = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        paths.extend(Path(folder) / name for name in dirs)
        paths.extend(Path(folder) / name for name in sorted(files))
    return sorted(paths, key=lambda path: path.relative_to(root).as_posix())


def _run_pip(args: Sequence[str], targets: Sequence[str], what: str, environ: Optional[Dict[str, str]] = None) -> None:
    command = [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check", *targets]
    env = {**os.environ, **(environ or {})}
    completed = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if completed.returncode != 0:
        lines = [line.strip() for line in (completed.stderr + completed.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")] or lines[-1:] or ["no output"]
        raise LakejobsError(f"could not {what}: {errors[0]}")


def build_all(
    dist: Path,
    python_versions: Sequence[str] = PYTHON_VERSIONS,
    arch: str = DEFAULT_ARCH,
    extra_requirements: Optional[Path] = None,
    interpreter: Optional[str] = None,
    root: Optional[Path] = None,
    with_runtime_requirements: bool = True,
) -> Dict[str, Path]:
    """Build every artifact into ``dist``: ``{"wheel", "lib_zip", "jobs"}`` -> path, ``"envs"`` -> paths.

    One packed environment per Python of ``python_versions``; each gets
    ``runtime_requirements(python_version)`` (boto3, which the catalog step needs) unless
    ``with_runtime_requirements`` is false.
    """
    for python_version in python_versions:
        check_python_version(python_version)
    if interpreter and len(python_versions) != 1:
        raise UsageError("--interpreter links bin/python of every environment to it: give one --pyver")
    normalize_arch(arch)
    _require_requirements_file(extra_requirements)
    wheel = build_wheel(dist, root)
    lib_zip = build_lib_zip(dist, wheel)
    copy_job_scripts(dist, root)
    envs = [
        build_env(
            dist,
            wheel,
            python_version,
            arch,
            extra_requirements,
            interpreter,
            runtime_requirements(python_version, root) if with_runtime_requirements else None,
        )
        for python_version in python_versions
    ]
    return {"wheel": wheel, "lib_zip": lib_zip, "jobs": dist / JOBS_DIR, "envs": envs}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m lakejobs.packaging``: build ``dist/`` and list what was written."""
    from lakejobs.cli import OneLineParser

    parser = OneLineParser(prog="python -m lakejobs.packaging", description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default="dist", help="output folder (default dist)")
    parser.add_argument(
        "--pyver",
        default=",".join(PYTHON_VERSIONS),
        help="the runtimes' Pythons, comma-separated (default 3.9,3.11: one environment each)",
    )
    parser.add_argument("--arch", default=DEFAULT_ARCH, help="x86_64 or arm64 (aarch64)")
    parser.add_argument("--extra-requirements", type=Path, help="pip requirements file of third-party packages")
    parser.add_argument("--interpreter", help="what bin/python links to (default: the runtime's, see docs)")
    parser.add_argument(
        "--no-runtime-requirements", action="store_true", help="leave out env/requirements-pyX.Y.txt (boto3)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if Path(args.dist).exists() and not Path(args.dist).is_dir():
        print(f"lakejobs.packaging: error: --dist {args.dist} is a file, not a folder", file=sys.stderr)
        return 2
    try:
        built = build_all(
            Path(args.dist),
            [version.strip() for version in args.pyver.split(",")],
            args.arch,
            args.extra_requirements,
            args.interpreter,
            with_runtime_requirements=not args.no_runtime_requirements,
        )
    except LakejobsError as error:
        print(f"lakejobs.packaging: error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # --dist not writable, disk full
        print(f"lakejobs.packaging: error: cannot build {args.dist}: {error}", file=sys.stderr)
        return 1
    for path in (built["wheel"], built["lib_zip"], *sorted(built["jobs"].glob("*.py")), *built["envs"]):
        print(f"{path.stat().st_size:>12,}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
