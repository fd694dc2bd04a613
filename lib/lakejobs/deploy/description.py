"""The one description of the pipeline that every runtime's definitions are rendered from.

The description is Python data (frozen dataclasses) rather than YAML: the job arguments are
the same names the jobs' parsers declare, a typo fails in a test instead of on AWS, and the
Step Functions renderer can import it. It holds:

- the jobs (``Job``): a key (``convert_orders``), the entry-point script in ``jobs/``, the
  Glue-style arguments, and sizes (Glue workers, Spark executors);
- the stages (``Pipeline.stages``): an ordered list of groups of job keys; the jobs of a
  group may run in parallel, a group starts when the previous one has succeeded;
- where things live on S3 (``Layout``): one root ``s3://bucket/prefix/`` holding the lake
  (``rawData/``, ``processedData/``, ``quarantine/``, ``mart/``, ``_lakejobs/``) and the
  deployment's ``artifacts/``, ``tmp/`` and ``logs/``.

Arguments that are lake locations are ``LakePath`` values (relative to the root), so one job
renders to any bucket and prefix, or to a template root such as ``s3://{bucket}/{prefix}``.
``DeployConfig`` holds one deployment's settings (bucket, roles, versions, library form).
"""

import dataclasses
import re
from typing import Dict, Optional, Tuple, Union

from lakejobs.errors import UsageError
from lakejobs.packaging import PYTHON_VERSIONS

#: Folders under the root (see the module docstring).
RAW, PROCESSED, QUARANTINE, MART, STATE = "rawData", "processedData", "quarantine", "mart", "_lakejobs"
ARTIFACTS, TEMP, LOGS = "artifacts", "tmp", "logs"
#: Folders the jobs read, and folders they write (IAM policies are scoped to these).
READ_FOLDERS = (ARTIFACTS, RAW)
WRITE_FOLDERS = (PROCESSED, QUARANTINE, MART, STATE, TEMP, LOGS)

#: What ``make package`` puts in ``dist/`` (see the README's packaging section).
LIB_ZIP = "lakejobs-lib.zip"
SCRIPTS_FOLDER = "jobs"
LIBRARY_FORMS = ("zip", "venv")
GLUE_VERSIONS = ("5.0", "5.1")
#: EMR 7.12 ships Spark 3.5 and Delta 3.3.2, the versions this project pins.
EMR_RELEASE = "emr-7.12.0"
DATASETS = ("customers", "employees", "orders")
#: The Python each runtime runs, which a packed environment must match: Glue 5.0/5.1 run Python
#: 3.11; EMR 7 (on EC2 and Serverless) runs Amazon Linux 2023, whose ``python3`` is 3.9.
RUNTIME_PYTHON = {"glue": "3.11", "emr": "3.9", "emr-serverless": "3.9"}


def env_archive_name(python_version: str = "3.11", arch: str = "x86_64") -> str:
    """The packed Python environment's file name in ``dist/``."""
    return f"lakejobs-env-py{python_version}-{arch}.tar.gz"


#: S3's bucket naming rules (general purpose buckets): 3-63 characters, lower case, digits, dots, hyphens.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: Names that fit ``BUCKET_NAME`` but S3's naming rules refuse: adjacent periods, an IP address's
#: form, reserved prefixes and suffixes.
BUCKET_NAME_REFUSED = (
    re.compile(r"\.\."),
    re.compile(r"^\d{1,3}(\.\d{1,3}){3}$"),
    re.compile(r"^(xn--|sthree-|amzn-s3-demo-)"),
    re.compile(r"(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$"),
)
#: An AWS region's name: ``us-east-1``, ``ap-southeast-2``, ``us-gov-west-1``, ``cn-north-1``.
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
#: An IAM role's ARN in the ``aws`` partition (the policies the deploy writes name ``arn:aws:``; China
#: and GovCloud are not supported); a path may precede the name, of at most 64 of IAM's name
#: characters (``role/a*b``, ``role/svc/`` and longer names passed, and AWS refused them at the call).
ROLE_ARN = re.compile(r"arn:aws:iam::\d{12}:role/(?:[\x21-\x7e]+/)?[\w+=,.@-]{1,64}")


#: A ``--name-prefix``: characters every name it starts may hold (Glue job, state machine, IAM role, EMR
#: step), short enough for the longest (``<prefix>pipeline-emr-serverless``, ``<prefix>stepfunctions``).
NAME_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
#: An EMR Serverless application id (``CreateApplication`` returns it: lower-case letters and digits).
APPLICATION_ID = re.compile(r"[0-9a-z]{1,64}")


def check_bucket(bucket: Optional[str]) -> None:
    """Raise ``UsageError`` unless ``bucket`` is an S3 bucket name."""
    if not bucket or "/" in bucket:
        raise UsageError(f"--bucket must be a bucket name (no s3:// and no /), got {bucket!r}")
    if not BUCKET_NAME.fullmatch(bucket) or any(rule.search(bucket) for rule in BUCKET_NAME_REFUSED):
        raise UsageError(
            f"--bucket {bucket!r} is not an S3 bucket name (3 to 63 lower-case letters, digits, dots, hyphens; no "
            "'..', not an IP address, no reserved prefix such as xn-- or suffix such as -s3alias)"
        )


def check_prefix(prefix: Optional[str]) -> None:
    """Raise ``UsageError`` when ``prefix`` would put objects or grants elsewhere than it names.

    That is whitespace (spark-submit lines split at it), ``//``, a character of ``PREFIX_REFUSED``
    (since session 46 also those a URI holds only escaped, ``%`` first), or a ``.``/``..`` folder.
    """
    if re.search(r"\s", prefix or ""):
        raise UsageError(
            f"--prefix {prefix!r} holds whitespace: EMR Serverless' sparkSubmitParameters and spark-submit "
            "lines split at it; choose a prefix without spaces"
        )
    if "//" in (prefix or "").strip("/"):
        raise UsageError(
            f"--prefix {prefix!r} holds an empty folder name (//): the jobs (Hadoop) write under the prefix without "
            "it, and the catalog step refuses it, after every job has run; choose a prefix without //"
        )
    for characters, why in PREFIX_REFUSED.items():
        found = sorted({char for char in prefix or "" if char in characters})
        if found:
            raise UsageError(f"--prefix {prefix!r} holds {' '.join(found)}: {why}; choose a prefix without them")
    if any(part in (".", "..") for part in (prefix or "").strip("/").split("/")):
        raise UsageError(
            f"--prefix {prefix!r} holds a . or .. folder: Hadoop resolves it, so the jobs would load code and write "
            "tables at other keys than those uploaded and catalogued; choose a prefix without it"
        )


#: Characters a ``--prefix`` cannot hold, and why.
PREFIX_REFUSED = {
    "*?$": "the IAM policies the deploy writes would read them as wildcards or a variable, granting more than the "
    "prefix",
    ",#": "spark-submit's and Glue's lists of files (--py-files, --extra-py-files) split at ',', and '#' names an "
    "archive's alias",
    '%"<>[\\]^`{|}': "spark-submit reads --py-files and --archives as URIs: it decodes %41 to A (loading another key) "
    "and takes a URI it cannot parse for a local file",
}


def check_role_arn(arn: Optional[str], option: str = "--role-arn") -> None:
    """Raise ``UsageError`` when ``arn`` is given and is not an IAM role ARN."""
    if arn and not ROLE_ARN.fullmatch(arn):
        raise UsageError(f"{option} must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got {arn!r}")


def check_application_id(application_id: Optional[str]) -> None:
    """Raise ``UsageError`` when ``application_id`` is given and is not an EMR Serverless application id."""
    if application_id and not APPLICATION_ID.fullmatch(application_id):
        raise UsageError(
            f"--application-id must be an EMR Serverless application id (lower-case letters and digits, "
            f"e.g. 00fexample0app01), got {application_id!r}"
        )


@dataclasses.dataclass(frozen=True)
class LakePath:
    """A location relative to the deployment's root, e.g. ``LakePath("rawData/orders")``."""

    relative: str

    def resolve(self, root: str) -> str:
        """The full location under ``root`` (which ends with ``/``)."""
        return root + self.relative


ArgumentValue = Union[str, LakePath]


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big a job's compute is, on each runtime.

    ``worker_type``/``workers`` are Glue's (``G.1X`` = 4 vCPU, 16 GB; the count includes the
    driver); the executor and driver figures go to ``spark-submit`` on EMR and EMR
    Serverless, with ``max_executors`` capping dynamic allocation.
    """

    worker_type: str = "G.1X"
    workers: int = 2
    executor_cores: int = 4
    executor_memory: str = "10g"
    driver_cores: int = 2
    driver_memory: str = "4g"
    max_executors: int = 2
    timeout_minutes: int = 60


@dataclasses.dataclass(frozen=True)
class Job:
    """One job of the pipeline: which script runs, with which arguments, how big."""

    key: str
    script: str
    arguments: Tuple[Tuple[str, ArgumentValue], ...]
    sizes: Sizes = Sizes()
    description: str = ""

    def resolved_arguments(self, root: str) -> Dict[str, str]:
        """``{"input_path": "s3://...", ...}`` with lake locations under ``root``."""
        return {name: value.resolve(root) if isinstance(value, LakePath) else value for name, value in self.arguments}

    def argv(self, root: str) -> list:
        """The arguments as the script receives them: ``["--input_path", "s3://...", ...]``."""
        return [token for name, value in self.resolved_arguments(root).items() for token in (f"--{name}", value)]


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """The jobs and the order they run in (stages of jobs that may run in parallel)."""

    name: str
    jobs: Tuple[Job, ...]
    stages: Tuple[Tuple[str, ...], ...]

    def job(self, key: str) -> Job:
        """The job called ``key``."""
        for job in self.jobs:
            if job.key == key:
                return job
        raise UsageError(f"unknown job {key!r}: the pipeline has {', '.join(j.key for j in self.jobs)}")

    def ordered_jobs(self) -> Tuple[Job, ...]:
        """Every job, stage after stage."""
        return tuple(self.job(key) for stage in self.stages for key in stage)


def _convert_job(dataset: str, output_format: str, incremental: bool, sizes: Sizes) -> Job:
    arguments = (
        ("dataset", dataset),
        ("input_path", LakePath(f"{RAW}/{dataset}")),
        ("output_path", LakePath(f"{PROCESSED}/{dataset}")),
        ("quarantine_path", LakePath(f"{QUARANTINE}/{dataset}")),
        ("state_path", LakePath(f"{STATE}/state/csv_to_parquet/{dataset}.json")),
        ("incremental", str(incremental).lower()),
        ("format", output_format),
        ("report_path", LakePath(f"{STATE}/runs")),
    )
    return Job(f"convert_{dataset}", "csv_to_parquet.py", arguments, sizes, f"raw CSV -> typed {dataset} table")


def _mart_job(output_format: str, sizes: Sizes) -> Job:
    arguments = (
        ("processed_path", LakePath(PROCESSED)),
        ("mart_path", LakePath(MART)),
        ("quarantine_path", LakePath(f"{QUARANTINE}/sales")),
        ("format", output_format),
        ("report_path", LakePath(f"{STATE}/runs")),
    )
    return Job("sales_mart", "sales_mart.py", arguments, sizes, "processed tables -> sales mart")


def sales_pipeline(output_format: str = "delta", incremental: bool = False) -> Pipeline:
    """The sales pipeline: customers and employees in parallel, then orders, then the mart.

    Orders wait for both: their ReferentialIntegrity rules measure the order lines' keys against
    this run's customers and employees tables (in parallel with them, a rule would read the
    previous run's table, none on a first run, or a Parquet table while it is replaced).

    The arguments are those of ``lakejobs.pipeline.pipeline_steps`` (a test keeps them equal),
    with the raw zone at ``<root>rawData/``.
    """
    small = Sizes(workers=2, max_executors=1)
    # Three executors of 2 cores and 4g (4505 MB with overhead) fit two xlarge core nodes beside
    # the 4g driver; three of 10g did not (``lakejobs.deploy.emr.YARN_NODE_MEMORY_MB``).
    large = Sizes(workers=4, executor_cores=2, executor_memory="4g", max_executors=3)
    sizes = {"customers": small, "employees": small, "orders": large}
    converts = tuple(_convert_job(name, output_format, incremental, sizes[name]) for name in DATASETS)
    jobs = converts + (_mart_job(output_format, large),)
    stages = (("convert_customers", "convert_employees"), ("convert_orders",), ("sales_mart",))
    return Pipeline("lakejobs", jobs, stages)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a deployment lives on S3: ``s3://bucket/prefix/``."""

    bucket: str
    prefix: str = ""

    @property
    def key_prefix(self) -> str:
        """The prefix as an S3 key prefix: empty, or ``prefix/``."""
        stripped = self.prefix.strip("/")
        return f"{stripped}/" if stripped else ""

    @property
    def root(self) -> str:
        """``s3://bucket/prefix/`` (always ending with ``/``)."""
        return f"s3://{self.bucket}/{self.key_prefix}"

    def key(self, relative: str) -> str:
        """The S3 key of ``relative`` under the root."""
        return self.key_prefix + relative

    def uri(self, relative: str) -> str:
        """The ``s3://`` URI of ``relative`` under the root."""
        return self.root + relative


@dataclasses.dataclass(frozen=True)
class DeployConfig:
    """One deployment's settings; every renderer takes the pipeline and one of these.

    ``library`` chooses how the library reaches the runtime: ``zip`` (``--py-files`` /
    ``--extra-py-files``) or ``venv`` (the packed environment, plus the zip); ``None`` picks
    per target (``zip`` for Glue and EMR, ``venv`` for EMR Serverless). ``python_version`` is
    the packed environment's Python; ``None`` picks the runtime's (``RUNTIME_PYTHON``).
    """

    bucket: str
    prefix: str = ""
    region: str = "us-east-1"
    role_arn: Optional[str] = None
    cluster_id: Optional[str] = None
    transient: bool = False
    application_id: Optional[str] = None
    glue_version: str = "5.0"
    library: Optional[str] = None
    python_version: Optional[str] = None
    arch: str = "x86_64"
    release_label: str = EMR_RELEASE
    emr_service_role: str = "lakejobs-emr-service"
    emr_instance_profile: str = "lakejobs-emr-ec2"
    #: The role EMR steps may run as (``AddJobFlowSteps`` ``ExecutionRoleArn``, ``--role-arn``):
    #: the instance profile's policy lets the cluster assume it.
    emr_step_role: str = "lakejobs-emr-step"
    emr_instance_type: str = "m6i.xlarge"
    #: The subnet of a transient EMR cluster (``Ec2SubnetId``); None: the default VPC's. With
    #: ``AmazonEMRServicePolicy_v2`` it must carry the tag ``for-use-with-amazon-emr-managed-policies=true``.
    subnet_id: Optional[str] = None
    name_prefix: str = "lakejobs-"
    #: The deploying account, which holds the EMR clusters and roles (``deploy policy --target emr``);
    #: None: ``role_arn``'s (an EMR step's runtime role may be of another account).
    account_id: Optional[str] = None
    dist: str = "dist"
    output_format: str = "delta"
    incremental: bool = False
    #: Makes the idempotency tokens of one deployment's job runs (a new one per ``lakejobs deploy``).
    run_token: str = "example"

    @property
    def layout(self) -> Layout:
        """The S3 layout of this deployment."""
        return Layout(self.bucket, self.prefix)

    def library_for(self, target: str) -> str:
        """The library form used on ``target``."""
        if self.library:
            return self.library
        return "venv" if target == "emr-serverless" else "zip"

    def artifact_uri(self, name: str) -> str:
        """The S3 URI of a ``dist/`` file once uploaded (``artifacts/<name>``)."""
        return self.layout.uri(f"{ARTIFACTS}/{name}")

    @property
    def lib_zip_uri(self) -> str:
        """The library zip on S3."""
        return self.artifact_uri(LIB_ZIP)

    def python_for(self, target: str) -> str:
        """The Python of the packed environment used on ``target``: ``--python-version``, else the runtime's.

        Glue 5 runs Python 3.11 only: an environment for another links an interpreter it lacks.
        """
        if target == "glue" and self.python_version not in (None, RUNTIME_PYTHON["glue"]):
            raise UsageError(
                f"--target glue runs Python {RUNTIME_PYTHON['glue']}: a --python-version {self.python_version} "
                "environment would not start there"
            )
        return self.python_version or RUNTIME_PYTHON[target]

    def env_archive_for(self, target: str) -> str:
        """The file name of the packed environment used on ``target``.

        Glue 5 runs on x86_64 only: an arm64 environment's compiled packages would not load there.
        """
        if target == "glue" and self.arch != "x86_64":
            raise UsageError(
                f"Glue runs on x86_64: an --arch {self.arch} environment's compiled packages would not load there"
            )
        return env_archive_name(self.python_for(target), self.arch)

    def env_uri_for(self, target: str) -> str:
        """The packed environment used on ``target``, on S3."""
        return self.artifact_uri(self.env_archive_for(target))

    def script_uri(self, job: Job) -> str:
        """The job's entry-point script on S3."""
        return self.artifact_uri(f"{SCRIPTS_FOLDER}/{job.script}")

    def log_uri(self, runtime: str) -> str:
        """Where ``runtime``'s logs go (``logs/<runtime>/``)."""
        return self.layout.uri(f"{LOGS}/{runtime}/")

    def job_name(self, job: Job) -> str:
        """The job's name on AWS: ``lakejobs-convert-orders``."""
        return self.name_prefix + job.key.replace("_", "-")

    def require(self, target: str, *fields: str) -> None:
        """Raise ``UsageError`` naming the first of ``fields`` (attribute names) left unset."""
        for field in fields:
            if not getattr(self, field):
                option = "--" + field.replace("_", "-")
                raise UsageError(f"--target {target} needs {option}")

    def validate(self) -> "DeployConfig":
        """Check the choices; return self."""
        if self.glue_version not in GLUE_VERSIONS:
            raise UsageError(f"--glue-version must be one of {', '.join(GLUE_VERSIONS)}, got {self.glue_version!r}")
        if self.python_version not in (None,) + PYTHON_VERSIONS:
            raise UsageError(
                f"--python-version must be one of {', '.join(PYTHON_VERSIONS)}, got {self.python_version!r}"
            )
        if self.library not in (None,) + LIBRARY_FORMS:
            raise UsageError(f"--library must be one of {', '.join(LIBRARY_FORMS)}, got {self.library!r}")
        check_bucket(self.bucket)
        check_prefix(self.prefix)
        if not REGION_NAME.fullmatch(self.region or ""):
            raise UsageError(f"--region {self.region!r} is not an AWS region name (e.g. us-east-1, eu-west-1)")
        check_role_arn(self.role_arn)
        check_application_id(self.application_id)
        if not NAME_PREFIX.fullmatch(self.name_prefix or ""):
            raise UsageError(
                f"--name-prefix must be 1 to 40 letters, digits, hyphens or underscores (e.g. lakejobs-dev-), "
                f"got {self.name_prefix!r}"
            )
        if self.account_id is not None and not re.fullmatch(r"\d{12}", self.account_id):
            raise UsageError(f"--account-id must be an AWS account id (12 digits), got {self.account_id!r}")
        if self.subnet_id is not None and not re.fullmatch(r"subnet-[0-9a-f]{8,17}", self.subnet_id):
            raise UsageError(f"--subnet-id must be a subnet id (subnet-0123abcd...), got {self.subnet_id!r}")
        return self
