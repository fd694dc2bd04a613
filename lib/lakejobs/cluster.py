"""A Spark standalone cluster on loopback, and ``spark-submit`` of the packaged jobs to it.

Development only (the integration tests and ``make cluster-demo``): the master and one worker
come from the pip-installed PySpark (``spark-class``), bound to 127.0.0.1 on free ports. The
jobs are submitted from ``dist/`` the way EMR runs them, with lakejobs either on
``--py-files`` (the library zip) or inside a packed environment shipped with ``--archives``.
"""

import dataclasses
import importlib.util
import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from lakejobs.errors import LakejobsError
from lakejobs.s3local import free_port
from lakejobs.session import local_jars, s3a_conf

LOG = logging.getLogger(__name__)

#: Sizes for a laptop-sized cluster; the jobs' data is small.
WORKER_CORES = 2
WORKER_MEMORY = "2g"
EXECUTOR_MEMORY = "768m"
DRIVER_MEMORY = "1g"
DAEMON_MEMORY = "256m"
#: Short-lived JVMs on a small machine start faster with the client compiler and serial GC; UTC
#: as the local driver (``session.driver_java_options``).
JVM_OPTIONS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Duser.timezone=UTC"

#: Environment variables a cluster process must not inherit from the caller.
_NOT_INHERITED = ("PYTHONPATH", "PYTHONHOME", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV", "SPARK_HOME")


@dataclasses.dataclass(frozen=True)
class Cluster:
    """A running standalone cluster."""

    master_url: str
    ui_url: str
    worker_ui_url: str
    work_dir: Path


@dataclasses.dataclass(frozen=True)
class LibraryShipping:
    """How a submitted job finds lakejobs: extra ``spark-submit`` options and the driver's folder."""

    name: str
    options: Tuple[str, ...]
    cwd: Path


def spark_home() -> Path:
    """The pip-installed PySpark's folder, which holds ``bin/spark-class`` and the Spark jars."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise LakejobsError("pyspark is not installed: run make setup")
    return Path(list(spec.submodule_search_locations)[0])


def clean_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment for cluster processes: this one less Python paths, AWS settings and the venv.

    Cluster processes and submitted jobs get nothing a real cluster node would not have: they
    must find lakejobs through what is shipped with the job.
    """
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _NOT_INHERITED and not key.startswith(("AWS_", "LAKEJOBS_"))
    }
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if part != venv_bin)
    env["SPARK_HOME"] = str(spark_home())
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env.update(extra or {})
    return env


@contextmanager
def standalone_cluster(work_dir: Path, timeout_s: float = 120.0) -> Iterator[Cluster]:
    """Start a master and one worker on 127.0.0.1; stop both when done, also on failure."""
    work_dir.mkdir(parents=True, exist_ok=True)
    env = clean_env(
        {"SPARK_DAEMON_MEMORY": DAEMON_MEMORY, "SPARK_DAEMON_JAVA_OPTS": JVM_OPTIONS, "SPARK_LOG_DIR": str(work_dir)}
    )
    master_port, master_ui_port, worker_ui_port = free_port(), free_port(), free_port()
    master_url = f"spark://127.0.0.1:{master_port}"
    ui_url = f"http://127.0.0.1:{master_ui_port}"
    processes: List[subprocess.Popen] = []
    try:
        processes.append(
            _start_daemon(
                "master",
                ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(master_port)]
                + ["--webui-port", str(master_ui_port)],
                env,
                work_dir,
            )
        )
        _wait_until(lambda: _master_state(ui_url) is not None, timeout_s, "the master to start", processes, work_dir)
        worker_args = ["org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1"]
        worker_args += ["--webui-port", str(worker_ui_port), "--cores", str(WORKER_CORES)]
        worker_args += ["--memory", WORKER_MEMORY, "--work-dir", str(work_dir / "worker")]
        processes.append(_start_daemon("worker", worker_args, env, work_dir))
        _wait_until(lambda: _alive_workers(ui_url) >= 1, timeout_s, "the worker to register", processes, work_dir)
        LOG.info("standalone cluster up: %s (master UI %s)", master_url, ui_url)
        yield Cluster(master_url, ui_url, f"http://127.0.0.1:{worker_ui_port}", work_dir)
    finally:
        for process in reversed(processes):
            _stop(process)


def _start_daemon(name: str, args: List[str], env: Dict[str, str], work_dir: Path) -> subprocess.Popen:
    log = open(work_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process in _stop
    command = [str(spark_home() / "bin" / "spark-class"), *args]
    process = subprocess.Popen(command, env=env, cwd=work_dir, stdout=log, stderr=subprocess.STDOUT)
    process.log = log  # type: ignore[attr-defined]
    return process


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    process.log.close()  # type: ignore[attr-defined]


def _master_state(ui_url: str) -> Optional[dict]:
    try:
        with urllib.request.urlopen(f"{ui_url}/json/", timeout=2) as response:
            return json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError):
        return None


def _alive_workers(ui_url: str) -> int:
    state = _master_state(ui_url) or {}
    return sum(1 for worker in state.get("workers", []) if worker.get("state") == "ALIVE")


def _wait_until(condition, timeout_s: float, what: str, processes, work_dir: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        dead = [process for process in processes if process.poll() is not None]
        if dead or time.monotonic() > deadline:
            reason = f"exited with code {dead[0].returncode}" if dead else f"not done after {timeout_s:.0f} s"
            raise LakejobsError(f"standalone cluster: waiting for {what}: {reason} (logs in {work_dir})")
        time.sleep(0.5)


def zip_shipping(lib_zip: Path, python: str, cwd: Path) -> LibraryShipping:
    """Ship the library zip on ``--py-files``; ``python`` is a bare runtime interpreter."""
    options = ("--py-files", str(lib_zip), "--conf", f"spark.pyspark.python={python}")
    return LibraryShipping("zip", options + ("--conf", f"spark.pyspark.driver.python={python}"), cwd)


def env_shipping(env_archive: Path, driver_dir: Path) -> LibraryShipping:
    """Ship the packed environment, lakejobs inside, with ``--archives ...#environment``.

    Executors unpack the archive into their working folder as ``environment/``. In client mode
    the driver runs here, so the same archive is unpacked into ``driver_dir/environment`` (what
    EMR Serverless does for its driver) and the job is submitted from ``driver_dir``: driver and
    executors both run ``./environment/bin/python``.
    """
    target = driver_dir / "environment"
    target.mkdir(parents=True, exist_ok=True)
    # tar, like Spark's own unpacking: keeps bin/python as a link to the runtime's interpreter.
    subprocess.run(["tar", "-xzf", str(env_archive), "-C", str(target)], check=True)
    python = "./environment/bin/python"
    options = ("--archives", f"{env_archive}#environment", "--conf", f"spark.pyspark.python={python}")
    return LibraryShipping("env", options + ("--conf", f"spark.pyspark.driver.python={python}"), driver_dir)


def s3a_submit_conf(environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The s3a settings as ``spark.hadoop.*`` for ``spark-submit``, credentials included.

    On EMR and Glue the instance or job role provides credentials; a local S3 server needs them
    passed (moto's are test values).
    """
    env = dict(os.environ if environ is None else environ)
    conf = s3a_conf(env)
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        conf["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        conf["fs.s3a.access.key"] = env["AWS_ACCESS_KEY_ID"]
        conf["fs.s3a.secret.key"] = env["AWS_SECRET_ACCESS_KEY"]
    return {f"spark.hadoop.{key}": value for key, value in conf.items()}


def submit_command(
    cluster: Cluster,
    script: Path,
    argv: Sequence[str],
    shipping: LibraryShipping,
    conf: Optional[Mapping[str, str]] = None,
    name: Optional[str] = None,
    cores: int = 1,
) -> List[str]:
    """The ``spark-submit`` command line running ``script argv`` on ``cluster`` with ``cores`` cores.

    The JVM jars of ``.jars/`` (s3a, Delta) go on the driver's and the executors' class path,
    as EMR installs its connectors on every node, rather than being copied to each executor.
    """
    settings = {
        "spark.executor.memory": EXECUTOR_MEMORY,
        "spark.driver.memory": DRIVER_MEMORY,
        "spark.cores.max": str(cores),
        "spark.driver.extraJavaOptions": JVM_OPTIONS,
        "spark.executor.extraJavaOptions": JVM_OPTIONS,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
        **(conf or {}),
    }
    jars = local_jars()
    if jars:
        settings.setdefault("spark.driver.extraClassPath", os.pathsep.join(jars))
        settings.setdefault("spark.executor.extraClassPath", os.pathsep.join(jars))
    command = [str(spark_home() / "bin" / "spark-submit"), "--master", cluster.master_url]
    command += ["--deploy-mode", "client", "--name", name or script.stem]
    command += list(shipping.options)
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    return command + [str(script), *argv]


def run_submit(command: Sequence[str], shipping: LibraryShipping, log_path: Path, timeout_s: float = 600) -> dict:
    """Run a ``spark-submit``; return the job's result (its last stdout line, JSON).

    Standard error (Spark's log) goes to ``log_path``. A non-zero exit, or no end after
    ``timeout_s`` seconds, raises ``LakejobsError`` with the job's own error line.
    """
    with open(log_path, "wb") as log:
        try:
            completed = subprocess.run(
                list(command),
                cwd=shipping.cwd,
                env=clean_env(),
                stdout=subprocess.PIPE,
                stderr=log,
                check=False,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            raise LakejobsError(f"spark-submit still running after {timeout_s:.0f} s (log: {log_path})") from None
    stdout = completed.stdout.decode("utf-8", "replace").strip().splitlines()
    if completed.returncode != 0:
        # spark-submit's Python runner sends the job's stderr to stdout: its error line may be in either.
        lines = stdout + log_path.read_text(errors="replace").splitlines()
        errors = [line for line in lines if ": error: " in line]
        detail = errors[-1] if errors else f"see {log_path}"
        raise LakejobsError(f"spark-submit exited with {completed.returncode}: {detail}")
    if not stdout:
        raise LakejobsError(f"spark-submit printed no result line (log: {log_path})")
    return json.loads(stdout[-1])


def pipeline_submissions(raw: str, lake: str, jobs_dir: Path, output_format: str = "parquet") -> List[tuple]:
    """(label, script in ``jobs_dir``, argv) of every pipeline step, as ``lakejobs.pipeline`` runs them."""
    from lakejobs.pipeline import pipeline_steps

    submissions = []
    for label, module, argv in pipeline_steps(raw, lake, output_format):
        script = jobs_dir / (module.__name__.rsplit(".", 1)[1] + ".py")
        submissions.append((label, script, argv))
    return submissions
