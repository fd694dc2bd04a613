"""Build the class-data-sharing archive that local Spark sessions start from (``make setup``).

A JVM started with ``-XX:SharedArchiveFile`` maps the classes it finds in the archive instead of
reading, parsing and verifying them from the jars again. Spark loads thousands of classes while
a session starts and while its first queries plan and compile. Measured on this machine, a fresh
JVM each, alternating, 1M-line data: session start 4.5-5.1 s with the archive against
6.4-10.7 s without, the first job (customers, 100k rows) 7.3-8.9 s against 10.6-14.2 s.

The archive is built by running the sales pipeline on the bundled sample with
``-XX:ArchiveClassesAtExit``: the JVM writes it as it exits. It belongs to this JDK and this
classpath; if either changes, the JVM sees the mismatch and starts without it (``make setup``
rebuilds it when the pinned packages change). Only the ``local`` and ``test`` profiles use it:
on Glue and EMR the platform starts the JVM.

Usage::

    python -m lakejobs.jvm_archive
"""

import logging
import os
import sys
import tempfile
from pathlib import Path

from lakejobs import session

LOG = logging.getLogger(__name__)
SAMPLE_RAW = session.project_root() / "data" / "sample" / "rawData"


def build(archive: Path, raw: Path = SAMPLE_RAW) -> None:
    """Run the sample pipeline in a JVM that archives its classes at exit; then publish the archive.

    The archive is written next to ``archive`` and renamed into place only once the JVM has
    exited, so a session starting meanwhile never maps a half-written file.
    """
    from pyspark import SparkContext

    from lakejobs.pipeline import run_pipeline

    partial = archive.with_name(archive.name + ".partial")
    partial.unlink(missing_ok=True)
    options = session.driver_java_options(dump_to=partial)
    spark = session.build_session("lakejobs-class-archive", "local", {"spark.driver.extraJavaOptions": options})
    try:
        with tempfile.TemporaryDirectory() as lake:
            run_pipeline(spark, str(raw), lake)
    finally:
        gateway = SparkContext._gateway
        spark.stop()
        gateway.shutdown()
        process = gateway.proc
        process.stdin.close()
        process.wait(timeout=300)
    if not partial.exists():
        raise RuntimeError(f"the JVM exited without writing {partial}")
    os.replace(partial, archive)


def main() -> int:
    """Build ``session.class_archive()``; a failure is a warning (sessions start without it)."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    LOG.setLevel(logging.INFO)
    archive = session.class_archive()
    try:
        build(archive)
    except Exception as error:  # noqa: BLE001 - optional speed-up: say why and go on
        LOG.warning("jvm_archive: no class archive (%s); Spark sessions start without one", error)
        return 0
    LOG.info("jvm_archive: wrote %s (%d MB)", archive, archive.stat().st_size // 2**20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
