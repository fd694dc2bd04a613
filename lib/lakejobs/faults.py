"""Fault injection for crash-safety tests: ``LAKEJOBS_KILL_AT=<point>`` kills the job there.

Points: ``before_write`` (input validated, nothing written), ``during_write`` (the first output
file has appeared, the commit has not happened), ``before_state`` (output committed, state not
yet updated). The process dies with SIGKILL, as an out-of-memory kill or a lost node would.
"""

import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from lakejobs import fs

LOG = logging.getLogger(__name__)
ENV = "LAKEJOBS_KILL_AT"


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def point(name: str) -> None:
    """Kill the process here if ``LAKEJOBS_KILL_AT`` names this point."""
    if os.environ.get(ENV) == name:
        LOG.warning("fault injection: killing the job at %s", name)
        _kill()


def _has_new_file(folder: str, since: float) -> bool:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                if os.path.getmtime(os.path.join(root, name)) >= since and name.endswith(".parquet"):
                    return True
            except OSError:
                continue
    return False


@contextmanager
def killed_during_write(output_path: str) -> Iterator[None]:
    """Kill the process as soon as a new data file appears below a local ``output_path``."""
    if os.environ.get(ENV) != "during_write" or not fs.is_local(output_path):
        yield
        return
    started, folder = time.time(), fs.local_path(output_path)

    def watch() -> None:
        while True:
            if _has_new_file(folder, started):
                _kill()
            time.sleep(0.005)

    threading.Thread(target=watch, daemon=True).start()
    yield
