"""A private PostgreSQL server on loopback, for tests and ``make warehouse-demo``.

Development only. ``initdb`` makes a cluster in a temporary folder with password
(SCRAM) authentication for one known user, ``postgres`` listens on a free 127.0.0.1 port with
its socket in that folder, and everything is stopped and removed when the context ends.

PostgreSQL refuses to run as root, so when this process is root the server's programs run as
the unprivileged ``nobody`` user (``LAKEJOBS_PG_OS_USER`` picks another), which then owns the
temporary folder.

Examples
--------
::

    with postgres_server() as server:
        print(server.jdbc_url)   # jdbc:postgresql://127.0.0.1:54321/warehouse
"""

import dataclasses
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

from lakejobs.s3local import free_port

INSTALL_HINT = "install PostgreSQL (Debian: apt-get install -y postgresql) or set LAKEJOBS_PG_BIN"


@dataclasses.dataclass(frozen=True)
class PgServer:
    """A running private server: where it listens and who may log in."""

    host: str
    port: int
    database: str
    user: str
    password: str = dataclasses.field(repr=False)
    data_dir: str = ""

    @property
    def jdbc_url(self) -> str:
        """The JDBC URL of the database (no credentials in it)."""
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"

    def env(self) -> Dict[str, str]:
        """The environment variables ``warehouse_load`` reads credentials from."""
        return {"LAKEJOBS_DB_USER": self.user, "LAKEJOBS_DB_PASSWORD": self.password}


def find_bin_dir() -> str:
    """The folder holding ``initdb``, ``pg_ctl`` and ``createdb``.

    ``LAKEJOBS_PG_BIN`` first, then ``initdb`` on the PATH, then the newest
    ``/usr/lib/postgresql/*/bin`` (where Debian puts the server programs).
    """
    candidates: List[str] = []
    if os.environ.get("LAKEJOBS_PG_BIN"):
        candidates.append(os.environ["LAKEJOBS_PG_BIN"])
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(os.path.dirname(os.path.realpath(on_path)))  # Debian links only a few programs
    candidates.extend(sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major_version, reverse=True))
    for folder in candidates:
        if os.access(os.path.join(folder, "initdb"), os.X_OK):
            return folder
    raise RuntimeError(f"PostgreSQL's initdb was not found: {INSTALL_HINT}")


def _major_version(bin_dir: str) -> int:
    version = bin_dir.rstrip("/").split("/")[-2]
    return int(version) if version.isdigit() else 0


def _os_user() -> Optional[str]:
    """The user to run the server as: None (this process's) unless this process is root."""
    if os.geteuid() != 0:
        return None
    return os.environ.get("LAKEJOBS_PG_OS_USER", "nobody")


class _Runner:
    """Runs the server's programs, as ``os_user`` when given, with clear errors."""

    def __init__(self, bin_dir: str, os_user: Optional[str]) -> None:
        self.bin_dir = bin_dir
        self.os_user = os_user

    def __call__(self, program: str, *args: str, env: Optional[Dict[str, str]] = None) -> None:
        command = [os.path.join(self.bin_dir, program), *args]
        kwargs = {"user": self.os_user} if self.os_user else {}
        full_env = {**os.environ, "LC_ALL": "C", **(env or {})}
        completed = subprocess.run(
            command, capture_output=True, text=True, env=full_env, timeout=120, check=False, **kwargs
        )
        if completed.returncode != 0:
            detail = (completed.stderr or completed.stdout).strip().splitlines()
            raise RuntimeError(f"{program} failed (exit {completed.returncode}): {detail[-1] if detail else ''}")

    def own(self, path: str) -> None:
        """Give ``path`` to the server's user (when it is not this process's)."""
        if self.os_user:
            shutil.chown(path, user=self.os_user, group=_primary_group(self.os_user))


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


SERVER_SETTINGS = (
    "listen_addresses=127.0.0.1",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=30",
    "shared_buffers=32MB",
)


#: Starts tried when the port picked was taken before the server bound it.
START_ATTEMPTS = 3


def _start(run: "_Runner", data_dir: str, log_file: str, socket_dir: str) -> int:
    """Start the server on a free port and return it; another port when the one picked was taken meanwhile."""
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_port()
        options = " ".join([f"-p {port}", f"-k {socket_dir}", *[f"-c {setting}" for setting in SERVER_SETTINGS]])
        logged = os.path.getsize(log_file) if os.path.exists(log_file) else 0
        try:
            run("pg_ctl", "-D", data_dir, "-l", log_file, "-o", options, "-w", "-t", "60", "start")
            return port
        except RuntimeError:
            if attempt == START_ATTEMPTS or not _port_was_taken(log_file, logged):
                raise
    raise AssertionError("unreachable")


def _port_was_taken(log_file: str, since: int) -> bool:
    """Whether this attempt's part of the log (past byte ``since``) says its port was in use."""
    try:
        with open(log_file, "rb") as handle:
            handle.seek(since)
            return b"Address already in use" in handle.read()
    except OSError:
        return False


@contextmanager
def postgres_server(
    database: str = "warehouse", user: str = "lakejobs", password: Optional[str] = None
) -> Iterator[PgServer]:
    """Start a private PostgreSQL server; yield its ``PgServer``; stop it and delete its files.

    Parameters
    ----------
    database : str
        A database created for the caller (owned by ``user``).
    user : str
        The superuser, who logs in with ``password`` (SCRAM-SHA-256).
    password : str, optional
        Default: a new random one (``PgServer.password``), so tests can check it never leaks.
    """
    password = password or secrets.token_urlsafe(18)
    run = _Runner(find_bin_dir(), _os_user())
    root = tempfile.mkdtemp(prefix="lakejobs-pg-")
    data_dir, log_file = os.path.join(root, "data"), os.path.join(root, "server.log")
    started = False
    try:
        run.own(root)
        pwfile = os.path.join(root, "pwfile")
        with open(pwfile, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        run.own(pwfile)
        os.chmod(pwfile, 0o600)
        run(
            "initdb",
            "-D",
            data_dir,
            "-U",
            user,
            "--pwfile",
            pwfile,
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        os.remove(pwfile)
        started = True  # a start that times out may leave a postmaster running: stop it below
        port = _start(run, data_dir, log_file, root)
        login = {"PGPASSWORD": password}
        run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", user, database, env=login)
        yield PgServer("127.0.0.1", port, database, user, password, data_dir)
    finally:
        try:
            if started and os.path.exists(os.path.join(data_dir, "postmaster.pid")):
                run("pg_ctl", "-D", data_dir, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)
