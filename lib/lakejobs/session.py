"""Build the SparkSession for a profile. The only place where Spark configuration lives.

Profiles
--------
``local``
    ``local[*]`` (or ``LAKEJOBS_MASTER``), the project's jars from ``.jars/``, quiet logs.
``test``
    ``local`` sized for a test suite: 2 cores, few shuffle partitions, no UI.
``emr`` / ``emr-serverless``
    No master and no jars: ``spark-submit`` and the platform provide both.
On Glue the session comes from ``GlueContext`` (see ``lakejobs.runtime``) and only
``RUNTIME_CONF`` is applied.
"""

import glob
import logging
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional

from lakejobs.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

LOG = logging.getLogger(__name__)

PROFILES = ("local", "test", "emr", "emr-serverless")

#: The master URLs Spark accepts (``SparkContext.createTaskScheduler``): local[0] is refused by it too.
_MASTER = re.compile(
    r"local(\[([1-9]\d*|\*)(\s*,\s*\d+)?\])?|local-cluster\[\s*\d+\s*,\s*\d+\s*,\s*\d+\s*\]"
    r"|spark://(\[[0-9A-Fa-f:.]+\]|[^\s,/:\[\]]+):\d+(,(\[[0-9A-Fa-f:.]+\]|[^\s,/:\[\]]+):\d+)*|yarn|(k8s|mesos)://\S+"
)
#: A JVM heap size (``-Xmx``): bytes, or k, m, g or t of them. Spark passes it to ``-Xmx`` as it is.
_JVM_SIZE = re.compile(r"\d+[kKmMgGtT]?")

#: SQL settings every run needs, on every runtime (set at runtime, so Glue gets them too).
RUNTIME_CONF: Dict[str, str] = {
    # Impossible dates such as 2/30/2014 become null (then quarantined) instead of failing
    # the job with Spark 3's "different result after the upgrade" error.
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.parallelismFirst": "false",
    # Let AQE coalesce the shuffles inside cached (persisted) plans too: small inputs then
    # write one file instead of one per shuffle partition.
    "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true",
    # Persisted frames are stored without the columnar cache's encodings. The large ones are
    # DISK_ONLY (the field jobs' validated rows, a Delta conversion's typed rows): 10-20 % more
    # disk, and the pass that fills the cache 2-5 s faster per 2-3M rows (bench/HISTORY.md,
    # "Session 29"). Those kept in memory (repeated keys; the mart's lines when a key repeats)
    # take more of it, and spill sooner.
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    "spark.sql.parquet.compression.codec": "snappy",
    # Every field of a CSV line is parsed, whichever columns a query reads: with pruning, a line
    # of a file whose header names a column the job ignores had its field count unchecked, so a
    # line cut short (or with extra fields) was published as a good row (taxi_trips,
    # stock_prices). The jobs read every column of their schema anyway: nothing to prune.
    "spark.sql.csv.parser.columnPruning.enabled": "false",
    # Dates before 1582-10-15 and timestamps before 1900 (``0001-01-01``, a common "no date")
    # are written as they are (proleptic Gregorian, as Spark 3, Trino and Athena read them);
    # Spark's default refuses them, so one such value failed every run of its table.
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    # Timestamps as Parquet's INT64 microseconds, not Spark's legacy INT96: pyarrow (pandas,
    # Polars) reads INT96 as nanoseconds and wrapped any value outside 1677-2262 silently
    # (2500-01-01 read as 1915-06-14, 9999-12-31 as 1816-03-30). Spark, Athena, Trino, Redshift
    # Spectrum and DuckDB read both; a table keeps older INT96 files readable beside new ones.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # Partitioned writes keep up to 32 files open per task instead of sorting every row by its
    # partition first (past 32, the rest is sorted); the planned write would add that sort to
    # the plan, so it is off. See lakejobs.io.writer.PARTITIONED_WRITE.
    "spark.sql.optimizer.plannedWrite.enabled": "false",
    "spark.sql.maxConcurrentOutputFileWriters": "32",
    # Row counts are observed while tables are written (Observation). When AQE finds a shuffle
    # empty, this rule swaps the rest of the plan for an empty relation, the observing node
    # disappears, and Observation.get would wait forever: an empty partitioned write hung.
    "spark.sql.adaptive.optimizer.excludedRules": "org.apache.spark.sql.execution.adaptive.AQEPropagateEmptyRelation",
}

#: JVM classes PySpark names by their short name on every call: each ``functions.col``, ``lit``,
#: ``when``... looks up ``functions`` again. Py4J tries the bare name, then the name under each
#: package PySpark imports with a wildcard, before ``org.apache.spark.sql.`` finds it, and every
#: miss searches all 250-odd jars of the class path: 0.27 ms a lookup (0.49 ms an ``F.col``),
#: 9 s of the 105 s of the field jobs' reload tests (31,790 lookups). Imported by their full names, a lookup takes
#: 0.07 ms (``F.col`` 0.24 ms).
JVM_IMPORTS = ("org.apache.spark.sql.functions", "org.apache.spark.api.python.PythonUtils")

#: Delta Lake's session extension and catalog, shared with the Glue and EMR definitions.
DELTA_CONF: Dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

_PROFILE_CONF: Dict[str, Dict[str, str]] = {
    "local": {
        "spark.sql.shuffle.partitions": "8",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.debug.maxToStringFields": "200",
        # Tasks of a parallel file listing; Delta's VACUUM lists the table with this many. Spark's
        # default (10000) is sized for a cluster: vacuuming the sample orders table took 39-47 s
        # with it and 7 s with 4 tasks (measured, test profile).
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
        # Partitions of a Delta table's state (its log replayed), 50 by default. The sample's
        # Delta pipeline in a warm test session: 25-27 s with 50, 19-22 s with 4; a rerun
        # (MERGE into every table) 35-38 s against 23-24 s.
        "spark.databricks.delta.snapshotPartitions": "8",
    },
    "test": {
        "spark.sql.shuffle.partitions": "4",
        "spark.default.parallelism": "4",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": "2g",
        "spark.sql.sources.parallelPartitionDiscovery.threshold": "1024",
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": "4",
        "spark.databricks.delta.snapshotPartitions": "4",
        # Spark makes its catalog's empty ``spark-warehouse/`` in the working directory the first
        # time a plan resolves through the catalog (SQL on a Delta path does); the tests run jobs
        # from the checkout, which must stay as it was.
        "spark.sql.warehouse.dir": os.path.join(tempfile.gettempdir(), f"lakejobs-test-spark-warehouse-{os.getuid()}"),
    },
}


def local_master(profile: str) -> str:
    """The master of a ``local`` or ``test`` session: ``LAKEJOBS_MASTER``, or ``local[*]`` (``local[2]`` for tests).

    A value Spark would refuse is a ``UsageError`` here, before the JVM starts: until session 47
    ``LAKEJOBS_MASTER=bogus`` printed the JVM's stack trace, then "Java gateway process exited
    before sending its port number", exit 1.
    """
    master = os.environ.get("LAKEJOBS_MASTER", "local[2]" if profile == "test" else "local[*]")
    if not _MASTER.fullmatch(master):
        raise UsageError(
            f"LAKEJOBS_MASTER={master} is not a Spark master URL: use local, local[N], local[*], local[N,F], "
            "local-cluster[N,C,M], spark://host:port[,host:port...], yarn, k8s://... or mesos://..."
        )
    return master


def local_driver_memory() -> str:
    """The driver's heap of a ``local`` session: ``LAKEJOBS_DRIVER_MEMORY``, or ``4g``.

    A value the JVM would refuse is a ``UsageError`` here: until session 47
    ``LAKEJOBS_DRIVER_MEMORY=lots`` printed "Invalid maximum heap size: -Xmxlots" and the gateway's
    error, exit 1.
    """
    memory = os.environ.get("LAKEJOBS_DRIVER_MEMORY", "4g")
    if not _JVM_SIZE.fullmatch(memory):
        raise UsageError(
            f"LAKEJOBS_DRIVER_MEMORY={memory} is not a JVM memory size: "
            "use digits with an optional k, m, g or t suffix, such as 512m or 4g"
        )
    return memory


def check_environment(profile: str) -> None:
    """Refuse (``UsageError``) a malformed ``LAKEJOBS_*`` setting that a session of ``profile`` would use.

    ``test`` sessions have a heap of their own (2g), so only ``local`` reads ``LAKEJOBS_DRIVER_MEMORY``;
    ``emr`` and ``emr-serverless`` read neither.
    """
    if profile in ("local", "test"):
        local_master(profile)
    if profile == "local":
        local_driver_memory()


def project_root() -> Path:
    """The checkout this package was installed from (``lib/lakejobs/..``)."""
    return Path(__file__).resolve().parents[2]


def jars_dir() -> Path:
    """Where ``make setup`` put the JVM dependencies (``LAKEJOBS_JARS_DIR`` overrides)."""
    return Path(os.environ.get("LAKEJOBS_JARS_DIR", project_root() / ".jars"))


def local_jars() -> List[str]:
    """The jar files of ``jars_dir()``, sorted; empty when none were fetched."""
    return sorted(glob.glob(str(jars_dir() / "*.jar")))


def class_archive() -> Path:
    """The JVM class-data-sharing archive local sessions start from (``lakejobs.jvm_archive``)."""
    return jars_dir() / "spark-classes.jsa"


def driver_java_options(dump_to: Optional[Path] = None) -> str:
    """The local driver JVM's options.

    - ParallelGC: batch work wants throughput, not short pauses. Measured, Spark's plain
      CSV -> Parquet of 10M order lines in a warm JVM: 51.6-54.3 s with the default G1,
      41.4-44.9 s with ParallelGC.
    - The project's log4j settings (quiet logs).
    - The JVM's own warnings go to stderr, not stdout: a job's last stdout line is its result.
    - The JVM's time zone is UTC, as Glue's and EMR's are: JDBC reads a database's ``timestamp``
      (without time zone) in it, so a laptop in New York would shift every such value 5 hours.
    - Start from ``class_archive()`` when it exists, or write one to ``dump_to`` at exit.
    """
    log4j = Path(__file__).with_name("conf") / "log4j2.properties"
    options = ["-XX:+UseParallelGC", f"-Dlog4j2.configurationFile={log4j.as_uri()}", "-Duser.timezone=UTC"]
    options.append("-Xlog:disable")
    if dump_to is not None:
        # Writing an archive warns once per class it skips: keep errors only.
        options += ["-Xlog:all=error:stderr", f"-XX:ArchiveClassesAtExit={dump_to}"]
        return " ".join(options)
    # An archive the JVM cannot use (another JDK build, other jars) is only slower: no warning line.
    options += ["-Xlog:all=warning:stderr", "-Xlog:cds*=off:stderr"]
    if class_archive().is_file():
        options.append(f"-XX:SharedArchiveFile={class_archive()}")
    return " ".join(options)


def delta_available(jars: Optional[List[str]] = None) -> bool:
    """Tell whether the Delta Lake jar is among ``jars`` (default: the local jars)."""
    return any("delta-spark" in os.path.basename(jar) for jar in (local_jars() if jars is None else jars))


def s3a_conf(environ: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Hadoop settings for ``s3a://`` (and ``s3://`` mapped to it) from the environment.

    Uses the AWS SDK's own variables, so boto3 and Spark agree: ``AWS_ENDPOINT_URL_S3`` or
    ``AWS_ENDPOINT_URL`` (an S3-compatible endpoint; path-style access is then used),
    ``AWS_REGION``, and credentials from the default provider chain (``AWS_ACCESS_KEY_ID``...).
    Writes are encrypted: SSE-S3 by default, SSE-KMS when ``LAKEJOBS_SSE_KMS_KEY_ID`` is set.
    Keys are Hadoop names (``fs.s3a.*``); the session builder prefixes them with ``spark.hadoop.``.
    """
    env = os.environ if environ is None else environ
    conf = {
        "fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.aws.credentials.provider": "com.amazonaws.auth.DefaultAWSCredentialsProviderChain",
        "fs.s3a.server-side-encryption-algorithm": "AES256",
        # Fail within seconds when the store is unreachable instead of retrying for minutes
        # (defaults: 20 SDK attempts x 7 S3A retries, 200 s socket timeout), while still riding
        # out a transient error. Throttling (503 SlowDown) keeps its own, longer retry budget
        # (fs.s3a.retry.throttle.*).
        "fs.s3a.attempts.maximum": "3",
        "fs.s3a.retry.limit": "3",
        "fs.s3a.retry.interval": "250ms",
        "fs.s3a.connection.establish.timeout": "5000",
        "fs.s3a.connection.timeout": "30000",
    }
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        conf.update(
            {
                "fs.s3a.endpoint": endpoint,
                "fs.s3a.path.style.access": "true",
                "fs.s3a.connection.ssl.enabled": str(endpoint.startswith("https")).lower(),
                "fs.s3a.change.detection.mode": "none",
            }
        )
    if env.get("AWS_REGION"):
        conf["fs.s3a.endpoint.region"] = env["AWS_REGION"]
    if env.get("LAKEJOBS_SSE_KMS_KEY_ID"):
        conf["fs.s3a.server-side-encryption-algorithm"] = "SSE-KMS"
        conf["fs.s3a.server-side-encryption.key"] = env["LAKEJOBS_SSE_KMS_KEY_ID"]
    return conf


def configure_s3a(spark: "SparkSession", environ: Optional[Dict[str, str]] = None, keep_given: bool = False) -> None:
    """Apply ``s3a_conf`` to a running session (before its first ``s3a://`` access).

    The JVM read its environment when it started, so credentials set since then are passed
    as s3a keys (Spark redacts them from its UI and logs). With ``keep_given`` (a session
    ``spark-submit`` made), a key given as ``--conf spark.hadoop.<key>`` keeps its value, and so
    does an ``fs.s3.impl`` the cluster's own configuration sets (EMRFS).
    """
    env = os.environ if environ is None else environ
    conf = s3a_conf(env)
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        conf["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        conf["fs.s3a.access.key"] = env["AWS_ACCESS_KEY_ID"]
        conf["fs.s3a.secret.key"] = env["AWS_SECRET_ACCESS_KEY"]
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    given = spark.sparkContext.getConf()
    for key, value in conf.items():
        if keep_given and (given.contains(f"spark.hadoop.{key}") or (key == "fs.s3.impl" and hadoop_conf.get(key))):
            continue
        hadoop_conf.set(key, value)


def session_conf(profile: str) -> Dict[str, str]:
    """All configuration a session of ``profile`` is built with (before extra overrides)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}")
    conf = dict(RUNTIME_CONF)
    if profile in ("local", "test"):
        conf.update(_PROFILE_CONF["local"])
        if profile == "local":
            conf["spark.driver.memory"] = local_driver_memory()
        conf.update(_PROFILE_CONF.get(profile, {}))
        conf["spark.pyspark.python"] = sys.executable  # workers use this interpreter, not PATH's
        conf["spark.driver.extraJavaOptions"] = driver_java_options()
        jars = local_jars()
        if jars:
            conf["spark.jars"] = ",".join(jars)
        if delta_available(jars):
            conf.update(DELTA_CONF)
        conf.update({f"spark.hadoop.{key}": value for key, value in s3a_conf().items()})
    return conf


def build_session(app_name: str, profile: str = "local", extra_conf: Optional[Dict[str, str]] = None) -> "SparkSession":
    """Create (or return the active) SparkSession for ``profile``.

    Parameters
    ----------
    app_name : str
        Shown in the Spark UI and the logs.
    profile : str
        One of ``PROFILES``.
    extra_conf : dict, optional
        Settings that win over the profile's.
    """
    from pyspark.sql import SparkSession

    check_environment(profile)
    builder = SparkSession.builder.appName(app_name)
    if profile in ("local", "test"):
        builder = builder.master(local_master(profile))
    for key, value in {**session_conf(profile), **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    apply_runtime_conf(spark)
    import_jvm_classes(spark)
    LOG.debug("spark session %s ready (profile %s)", spark.version, profile)
    return spark


def apply_runtime_conf(spark: "SparkSession") -> None:
    """Set ``RUNTIME_CONF`` on an existing session (Glue's, or one made by spark-submit)."""
    for key, value in RUNTIME_CONF.items():
        spark.conf.set(key, value)


def import_jvm_classes(spark: "SparkSession") -> None:
    """Import ``JVM_IMPORTS`` by their full names into the session's JVM view (Py4J's ``java_import``)."""
    from py4j.java_gateway import java_import

    for name in JVM_IMPORTS:
        java_import(spark.sparkContext._jvm, name)
