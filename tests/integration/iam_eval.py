"""What IAM authorizes for an AWS API call, and a small policy evaluator, for the deployer policy tests.

``authorizations`` turns one call (as boto3 sends it) into the IAM checks AWS makes for it:
(action, resource ARN, condition context), following AWS's Service Authorization Reference:
a multipart upload's calls are ``s3:PutObject``; tags given to a create call are authorized as
the service's tagging action; a listing is ``s3:ListBucket`` on the bucket with ``s3:prefix``;
a Glue Data Catalog call is checked on the catalog, the database and (table and partition
calls) the table; a role handed to a service (Glue ``Role``, EMR ``ExecutionRoleArn`` and
``ServiceRole``, ...) is ``iam:PassRole`` with ``iam:PassedToService``, the role of an EMR
cluster's instance profile (``JobFlowRole``) being passed to EC2; ``RunJobFlow`` may create
EMR's cleanup service-linked role, and one with an ``AutoTerminationPolicy`` needs
``PutAutoTerminationPolicy`` on the new cluster (EMR's guide, "Using an auto-termination policy").

``allowed`` evaluates one identity policy: an explicit Deny wins, then any Allow; every
condition of a statement must hold. Operators ``StringEquals``, ``StringLike``,
``StringLikeIfExists`` (true when the key is absent), ``StringNotEquals`` and
``StringNotEqualsIfExists`` (both true when the key is absent, as AWS evaluates negated
operators) and ``Null``; any other raises, so a policy is never passed by an operator this does
not know.

``missing_key`` is the check S3 makes before it answers a read of a key that does not exist:
404 to a caller allowed ``s3:ListBucket`` on the bucket (the request carries no ``s3:prefix``),
else 403.
"""

from fnmatch import fnmatchcase
from typing import Dict, List, Optional, Tuple

Check = Tuple[str, str, Dict[str, str]]
PREFIX = {
    "s3": "s3",
    "glue": "glue",
    "emr": "elasticmapreduce",
    "emr-serverless": "emr-serverless",
    "stepfunctions": "states",
}
S3_PUT = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
SSE = "s3:x-amz-server-side-encryption"
#: RunJobFlow creates EMR's cleanup service-linked role when the account lacks it.
CREATE_LINKED_ROLE, SERVICE_NAME = "iam:CreateServiceLinkedRole", "iam:AWSServiceName"
EMR_CLEANUP_ROLE = "arn:aws:iam::{}:role/aws-service-role/elasticmapreduce.amazonaws.com/AWSServiceRoleForEMRCleanup"


def role(account: str, name_or_arn: str) -> str:
    """A role's ARN from its ARN or name (an EMR instance profile is named as its role)."""
    return name_or_arn if name_or_arn.startswith("arn:") else f"arn:aws:iam::{account}:role/{name_or_arn}"


def passes(account: str, name_or_arn: Optional[str], service: str) -> List[Check]:
    """The PassRole check of handing a role to ``service`` (none without a role)."""
    if not name_or_arn:
        return []
    return [("iam:PassRole", role(account, name_or_arn), {"iam:PassedToService": service})]


def _s3(operation: str, params: dict) -> List[Check]:
    if operation in ("ListObjectsV2", "ListObjects"):
        # A listing without a prefix is taken to carry no s3:prefix, as a read's 404 check carries none.
        context = {"s3:prefix": params["Prefix"]} if params.get("Prefix") else {}
        return [("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}", context)]
    arn = f"arn:aws:s3:::{params.get('Bucket')}/{params.get('Key', '')}"
    context = {SSE: params["ServerSideEncryption"]} if "ServerSideEncryption" in params else {}
    return [("s3:PutObject" if operation in S3_PUT else f"s3:{operation}", arn, context)]


def missing_key(bucket: str) -> Check:
    """What S3 checks to answer a ``GetObject``/``HeadObject`` of a missing key with 404 rather than 403."""
    return ("s3:ListBucket", f"arn:aws:s3:::{bucket}", {})


CATALOG_DATABASE_CALLS = {"GetDatabase", "CreateDatabase"}
CATALOG_TABLE_CALLS = {
    "GetTable",
    "CreateTable",
    "UpdateTable",
    "GetPartitions",
    "BatchCreatePartition",
    "BatchDeletePartition",
    "BatchUpdatePartition",
}


def _glue_catalog(action: str, params: dict, account: str, region: str) -> List[Check]:
    glue = f"arn:aws:glue:{region}:{account}"
    database = params.get("DatabaseName") or params.get("Name") or params["DatabaseInput"]["Name"]
    resources = [f"{glue}:catalog", f"{glue}:database/{database}"]
    if action.split(":")[1] in CATALOG_TABLE_CALLS:
        table = params.get("TableName") or params.get("Name") or params["TableInput"]["Name"]
        resources.append(f"{glue}:table/{database}/{table}")
    return [(action, resource, {}) for resource in resources]


def _glue(action: str, params: dict, account: str, region: str) -> List[Check]:
    if action.split(":")[1] in CATALOG_DATABASE_CALLS | CATALOG_TABLE_CALLS:
        return _glue_catalog(action, params, account, region)
    arn = f"arn:aws:glue:{region}:{account}:job/{params.get('JobName') or params.get('Name')}"
    checks = [(action, arn, {})] + ([("glue:TagResource", arn, {})] if params.get("Tags") else [])
    job_role = params.get("Role") or params.get("JobUpdate", {}).get("Role")
    return checks + passes(account, job_role, "glue.amazonaws.com")


def _emr(action: str, params: dict, account: str, region: str) -> List[Check]:
    clusters = f"arn:aws:elasticmapreduce:{region}:{account}:cluster/"
    to_emr = "elasticmapreduce.amazonaws.com"
    if action.endswith(":RunJobFlow"):
        checks = [(action, "*", {})]
        checks += [("elasticmapreduce:AddTags", clusters + "j-NEW", {})] if params.get("Tags") else []
        if params.get("AutoTerminationPolicy"):  # EMR's guide: applying one needs this permission
            checks += [("elasticmapreduce:PutAutoTerminationPolicy", clusters + "j-NEW", {})]
        checks += passes(account, params.get("ServiceRole"), to_emr)
        checks += passes(account, params.get("JobFlowRole"), "ec2.amazonaws.com")
        return checks + [(CREATE_LINKED_ROLE, EMR_CLEANUP_ROLE.format(account), {SERVICE_NAME: to_emr})]
    cluster = params.get("JobFlowId") or params["ClusterId"]  # AddJobFlowSteps, DescribeCluster
    return [(action, clusters + cluster, {})] + passes(account, params.get("ExecutionRoleArn"), to_emr)


def _serverless(action: str, params: dict, account: str, region: str) -> List[Check]:
    application = f"arn:aws:emr-serverless:{region}:{account}:/applications/{params['applicationId']}"
    if action.endswith(":GetJobRun"):
        return [(action, f"{application}/jobruns/{params['jobRunId']}", {})]
    tags = [("emr-serverless:TagResource", f"{application}/jobruns/NEW", {})] if params.get("tags") else []
    runtime_role = params.get("executionRoleArn")
    return [(action, application, {})] + tags + passes(account, runtime_role, "emr-serverless.amazonaws.com")


def _states(action: str, params: dict, account: str, region: str) -> List[Check]:
    arn = params.get("stateMachineArn") or f"arn:aws:states:{region}:{account}:stateMachine:{params['name']}"
    tags = [("states:TagResource", arn, {})] if params.get("tags") else []
    return [(action, arn, {})] + tags + passes(account, params.get("roleArn"), "states.amazonaws.com")


def authorizations(service: str, operation: str, params: dict, account: str, region: str) -> List[Check]:
    """The IAM checks of one call."""
    if service == "s3":
        return _s3(operation, params)
    if (service, operation) == ("sts", "GetCallerIdentity"):
        return []  # STS: "No permissions are required"; a policy denying it does not stop it either
    builders = {"glue": _glue, "emr": _emr, "emr-serverless": _serverless, "stepfunctions": _states}
    if service not in builders:
        raise AssertionError(f"no IAM mapping for {service}.{operation}")
    return builders[service](f"{PREFIX[service]}:{operation}", params, account, region)


def _listed(value) -> List[str]:
    return [value] if isinstance(value, str) else list(value)


def _holds(operator: str, found: Optional[str], values: List[str]) -> bool:
    if operator == "StringEquals":
        return found is not None and found in values
    if operator == "StringLike":
        return found is not None and any(fnmatchcase(found, pattern) for pattern in values)
    if operator == "StringLikeIfExists":
        return found is None or any(fnmatchcase(found, pattern) for pattern in values)
    if operator in ("StringNotEquals", "StringNotEqualsIfExists"):  # both true when the key is absent
        return found is None or found not in values
    if operator == "Null":  # "true": the key is absent; "false": it is present
        return (found is None) == (values == ["true"])
    raise AssertionError(f"condition operator {operator} is not evaluated here")


def _applies(statement: dict, check: Check) -> bool:
    action, resource, context = check
    if not any(fnmatchcase(action.lower(), pattern.lower()) for pattern in _listed(statement["Action"])):
        return False
    if not any(fnmatchcase(resource, pattern) for pattern in _listed(statement["Resource"])):
        return False
    condition = statement.get("Condition", {})
    return all(
        _holds(operator, context.get(key), _listed(values))
        for operator, tests in condition.items()
        for key, values in tests.items()
    )


def allowed(policy: dict, check: Check) -> bool:
    """Whether ``policy`` allows ``check``: no Deny applies and an Allow does."""
    applying = [statement["Effect"] for statement in policy["Statement"] if _applies(statement, check)]
    return "Deny" not in applying and "Allow" in applying
