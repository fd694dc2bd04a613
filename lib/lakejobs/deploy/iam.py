"""Least-privilege IAM policy documents for the roles the jobs run as.

Each role may read ``artifacts/`` and ``rawData/`` and read/write the folders the jobs write
(``processedData/``, ``quarantine/``, ``mart/``, ``_lakejobs/``, ``tmp/``, ``logs/``) under
the deployment's root, list the bucket only under those prefixes, and nothing else in S3.

Every role also gets the Glue Data Catalog calls of the pipeline's catalog step
(``jobs/catalog_sync.py``, run as one more job of the same runtime), on the lake's two
databases only (``catalog_statement``).

Encrypted writes: every runtime is configured to send SSE-S3 (Glue ``--encryption-type
sse-s3``, EMRFS ``fs.s3.enableServerSideEncryption``, s3a ``AES256``), and the policies deny
a ``PutObject`` that asks for anything but SSE-S3 or SSE-KMS. They do not deny a request
without the header: S3 authorizes each part of a multipart upload (``UploadPart``) as
``s3:PutObject`` and a part carries no encryption header, so such a rule would refuse every
large file Spark writes; the object's encryption is set by ``CreateMultipartUpload``.

Keys beside the folders (since session 49): on EMR and Glue ``s3://`` goes through EMRFS,
which writes an empty ``<dir>_$folder$`` marker beside each folder it creates (and each
missing ancestor, the deployment's prefix and its parents too) and asks for a folder's own key
(``HEAD <prefix>processedData``) before listing it. Those keys are outside ``<folder>/*``, so
until session 49 a first run's ``mkdirs`` was refused (AccessDenied). Each role may write the
marker of each folder it writes (``processedData_$folder$``) and of the prefix and its parents
(``lakejobs_$folder$``), and read the key of each folder, the prefix and its parents; nothing
else outside the folders. (``$`` not followed by ``{`` is no IAM policy variable.)

Missing keys (since session 49): S3 answers a request for a key that does not exist with 404
only to a caller allowed ``s3:ListBucket`` on the bucket, else 403, which Hadoop raises as
AccessDenied. That ``GetObject``/``HEAD`` carries no ``s3:prefix``, so the listing grant's
``StringLike`` on it (until session 49) never held there: every probe of a missing path (a
first run's state file, ``fs.exists``) would have been refused. ``StringLikeIfExists`` holds
when the key is absent and still limits a listing with a prefix to the lake's prefixes: the
narrowest condition that keeps 404s (an unconditioned ``ListBucket`` would list anything; the
evaluator here takes a listing without a prefix to carry no ``s3:prefix`` either, as a read's
404 check carries none: such a listing of the whole bucket's key names is allowed, the price of
the 404s, said in the README). Not testable here:
moto enforces no IAM; ``tests/integration/iam_eval.py`` evaluates it.
"""

from typing import Dict, List

from lakejobs.catalog import PROCESSED_DATABASE, RAW_DATABASE
from lakejobs.deploy.description import READ_FOLDERS, WRITE_FOLDERS, DeployConfig

VERSION = "2012-10-17"
OBJECT_READ = ["s3:GetObject"]
OBJECT_WRITE = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
ENCRYPTIONS = ["AES256", "aws:kms", "aws:kms:dsse"]
#: What ``lakejobs.catalog_sync`` calls: databases and tables created or (when changed) updated
#: in place, partitions listed, added, re-pointed to this lake, and removed once no file is left.
CATALOG_ACTIONS = [
    "glue:GetDatabase",
    "glue:CreateDatabase",
    "glue:GetTable",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:GetPartitions",
    "glue:BatchCreatePartition",
    "glue:BatchDeletePartition",
    "glue:BatchUpdatePartition",
]


#: What EMRFS puts beside a folder it creates (``rawData/orders`` -> ``rawData/orders_$folder$``).
FOLDER_MARKER = "_$folder$"


def _objects(config: DeployConfig, folders) -> List[str]:
    return [f"arn:aws:s3:::{config.bucket}/{config.layout.key(folder)}/*" for folder in folders]


def _prefix_keys(config: DeployConfig) -> List[str]:
    """The deployment's key prefix and its ancestors as keys of their own (``team``, ``team/lake``)."""
    parts = config.layout.key_prefix.rstrip("/").split("/") if config.layout.key_prefix else []
    return ["/".join(parts[: depth + 1]) for depth in range(len(parts))]


def _folder_markers(config: DeployConfig) -> List[str]:
    """EMRFS's markers of the written folders and of the prefix (see the module docstring)."""
    keys = [config.layout.key(folder) for folder in WRITE_FOLDERS] + _prefix_keys(config)
    return [f"arn:aws:s3:::{config.bucket}/{key}{FOLDER_MARKER}" for key in keys]


def _folder_keys(config: DeployConfig) -> List[str]:
    """The folders' and the prefix's own keys, which EMRFS asks for before it lists them."""
    keys = [config.layout.key(folder) for folder in READ_FOLDERS + WRITE_FOLDERS] + _prefix_keys(config)
    return [f"arn:aws:s3:::{config.bucket}/{key}" for key in keys]


def _listable_prefixes(config: DeployConfig) -> List[str]:
    prefixes = [config.layout.key_prefix] if config.layout.key_prefix else []
    for folder in READ_FOLDERS + WRITE_FOLDERS:
        prefixes += [config.layout.key(folder), config.layout.key(f"{folder}/*")]
    return prefixes


def s3_statements(config: DeployConfig) -> List[Dict[str, object]]:
    """The S3 statements every job role needs (see the module docstring)."""
    bucket_arn = f"arn:aws:s3:::{config.bucket}"
    return [
        {
            "Sid": "ReadCodeAndRawData",
            "Effect": "Allow",
            "Action": OBJECT_READ,
            "Resource": _objects(config, READ_FOLDERS),
        },
        {
            "Sid": "ReadWriteLakeOutputs",
            "Effect": "Allow",
            "Action": OBJECT_WRITE,
            "Resource": _objects(config, WRITE_FOLDERS),
        },
        {
            "Sid": "WriteFolderMarkers",
            "Effect": "Allow",
            "Action": OBJECT_WRITE,
            "Resource": _folder_markers(config),
        },
        {"Sid": "ReadFolderKeys", "Effect": "Allow", "Action": OBJECT_READ, "Resource": _folder_keys(config)},
        {
            "Sid": "ListLakePrefixes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket_arn],
            "Condition": {"StringLikeIfExists": {"s3:prefix": _listable_prefixes(config)}},
        },
        {"Sid": "LocateBucket", "Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [bucket_arn]},
        deny_unencrypted_writes(config),
    ]


def deny_unencrypted_writes(config: DeployConfig) -> Dict[str, object]:
    """Deny a ``PutObject`` into the bucket asking for anything but SSE-S3 or SSE-KMS.

    Only a request that carries the header is judged (``Null`` false: the key is present; the
    conditions of a statement must all hold). ``StringNotEquals`` alone, or
    ``StringNotEqualsIfExists``, is true when the key is absent, so it would deny every part
    of a multipart upload (see the module docstring).
    """
    return {
        "Sid": "DenyWritesWithoutServerSideEncryption",
        "Effect": "Deny",
        "Action": ["s3:PutObject"],
        "Resource": [f"arn:aws:s3:::{config.bucket}/*"],
        "Condition": {
            "Null": {"s3:x-amz-server-side-encryption": "false"},
            "StringNotEquals": {"s3:x-amz-server-side-encryption": ENCRYPTIONS},
        },
    }


def account(config: DeployConfig) -> str:
    """The deployment's account: ``account_id``, else that of ``--role-arn`` (``*`` without either)."""
    if config.account_id:
        return config.account_id
    parts = (config.role_arn or "").split(":")
    return parts[4] if len(parts) > 4 and parts[4] else "*"


def role_arn(config: DeployConfig, name: str) -> str:
    """The ARN of role ``name`` in the deployment's account."""
    return f"arn:aws:iam::{account(config)}:role/{name}"


def catalog_statement(config: DeployConfig) -> Dict[str, object]:
    """The catalog step's Glue Data Catalog calls, on the lake's databases and their tables.

    Glue authorizes a database call on the catalog and the database, and a table or partition
    call on the catalog, the database and the table.
    """
    glue = f"arn:aws:glue:{config.region}:{account(config)}"
    resources = [f"{glue}:catalog"]
    for database in (PROCESSED_DATABASE, RAW_DATABASE):
        resources += [f"{glue}:database/{database}", f"{glue}:table/{database}/*"]
    return {"Sid": "SyncLakeCatalog", "Effect": "Allow", "Action": CATALOG_ACTIONS, "Resource": resources}


def _logs_statement(config: DeployConfig, log_group: str) -> Dict[str, object]:
    region, account_id = config.region, account(config)
    return {
        "Sid": "WriteLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [
            f"arn:aws:logs:{region}:{account_id}:log-group:{log_group}",
            f"arn:aws:logs:{region}:{account_id}:log-group:{log_group}:*",
        ],
    }


def _metrics_statement(namespace: str) -> Dict[str, object]:
    # PutMetricData has no resource type: it is scoped by its namespace instead.
    return {
        "Sid": "PutMetrics",
        "Effect": "Allow",
        "Action": ["cloudwatch:PutMetricData"],
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
    }


def policy(statements: List[Dict[str, object]]) -> Dict[str, object]:
    """A policy document of ``statements``."""
    return {"Version": VERSION, "Statement": statements}


def glue_job_role_policy(config: DeployConfig) -> Dict[str, object]:
    """The Glue job role: lake S3 access, continuous logs under ``/aws-glue/*``, Glue metrics."""
    return policy(
        s3_statements(config)
        + [catalog_statement(config), _logs_statement(config, "/aws-glue/*"), _metrics_statement("Glue")]
    )


def serverless_execution_role_policy(config: DeployConfig) -> Dict[str, object]:
    """The EMR Serverless job runtime role: lake S3 access (logs go to ``logs/`` in S3), the catalog."""
    return policy(s3_statements(config) + [catalog_statement(config)])


def emr_instance_profile_policy(config: DeployConfig) -> Dict[str, object]:
    """The EC2 instance profile role of EMR clusters: what steps run as without a runtime role.

    A step with a runtime role (``ExecutionRoleArn``) runs as that role, which the cluster
    assumes with this role, tagging the session: both must be allowed here as well as in the
    runtime role's trust policy (EMR's "Runtime roles for Amazon EMR steps").
    """
    runtime_role = {
        "Sid": "AllowRuntimeRoleUsage",
        "Effect": "Allow",
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Resource": [role_arn(config, config.emr_step_role)],
    }
    return policy(s3_statements(config) + [catalog_statement(config), runtime_role])


def emr_step_runtime_role_policy(config: DeployConfig) -> Dict[str, object]:
    """The runtime role EMR steps run as (``AddJobFlowSteps`` ``ExecutionRoleArn``): lake S3, the catalog."""
    return policy(s3_statements(config) + [catalog_statement(config)])


def emr_cleanup_role_statement(account_id: str) -> Dict[str, object]:
    """Let ``RunJobFlow`` create EMR's cleanup service-linked role, in an account that lacks it."""
    role = (
        f"arn:aws:iam::{account_id}:role/aws-service-role/elasticmapreduce.amazonaws.com*/AWSServiceRoleForEMRCleanup*"
    )
    return {
        "Sid": "CreateEmrCleanupRole",
        "Effect": "Allow",
        "Action": ["iam:CreateServiceLinkedRole"],
        "Resource": [role],
        "Condition": {"StringLike": {"iam:AWSServiceName": "elasticmapreduce.amazonaws.com*"}},
    }


def emr_service_role_policy(config: DeployConfig) -> Dict[str, object]:
    """The EMR service role's inline policy, beside the managed ``AmazonEMRServicePolicy_v2``.

    The managed policy lets EMR pass only ``EMR_EC2_DefaultRole`` to the cluster's instances;
    this lets it pass the lakejobs instance profile's role, to EC2 only.
    """
    statement = {
        "Sid": "PassInstanceProfileRole",
        "Effect": "Allow",
        "Action": ["iam:PassRole"],
        "Resource": [role_arn(config, config.emr_instance_profile)],
        "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
    }
    return policy([statement])


def trust_policy(service: str) -> Dict[str, object]:
    """A role trust policy letting ``service`` (``glue.amazonaws.com``...) assume the role."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return policy([statement])


def step_runtime_role_trust(config: DeployConfig) -> Dict[str, object]:
    """Only the cluster's instance profile role may assume a step runtime role (and tag the session)."""
    profile_role = role_arn(config, config.emr_instance_profile)
    statement = {"Effect": "Allow", "Principal": {"AWS": profile_role}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
    return policy([statement])


#: File name (under ``glue/iam/`` or ``emr/iam/``) -> document builder.
POLICIES = {
    "glue/iam/glue-job-role-policy.json": glue_job_role_policy,
    "glue/iam/glue-job-role-trust.json": lambda _config: trust_policy("glue.amazonaws.com"),
    "emr/iam/emr-serverless-execution-role-policy.json": serverless_execution_role_policy,
    "emr/iam/emr-serverless-execution-role-trust.json": lambda _config: trust_policy("emr-serverless.amazonaws.com"),
    "emr/iam/emr-service-role-policy.json": emr_service_role_policy,
    "emr/iam/emr-service-role-trust.json": lambda _config: trust_policy("elasticmapreduce.amazonaws.com"),
    "emr/iam/emr-ec2-instance-profile-policy.json": emr_instance_profile_policy,
    "emr/iam/emr-ec2-instance-profile-trust.json": lambda _config: trust_policy("ec2.amazonaws.com"),
    "emr/iam/emr-step-runtime-role-policy.json": emr_step_runtime_role_policy,
    "emr/iam/emr-step-runtime-role-trust.json": step_runtime_role_trust,
}
