"""Least-privilege IAM policies for whoever runs ``lakejobs deploy --target ...``.

One policy per target, allowing exactly the requests that target sends (``requests.TARGETS``)
and nothing else:

- every target uploads ``dist/`` to ``artifacts/`` (``s3:PutObject``, which
  also covers a multipart upload's parts, and ``s3:AbortMultipartUpload``), encrypted (the same
  deny as the job roles', ``iam.deny_unencrypted_writes``);
- Glue: ``GetJob``, ``CreateJob``, ``UpdateJob`` and tagging of the ``lakejobs-*`` jobs; the job
  role may be passed to Glue only;
- EMR ``--cluster-id``: ``DescribeCluster`` (the deploy's check) and ``AddJobFlowSteps`` on
  the cluster, of the deploying account (``account_id``: the step runtime role may be of
  another); the step runtime role may be passed to EMR only. ``--transient``: ``RunJobFlow``
  (no resource-level permission exists for it) with the cluster's tags; the service role may be
  passed to EMR only, the instance profile's role to EC2 only (the cluster's instances take
  it); EMR's cleanup service-linked role may be created (a new account lacks it). Neither
  given: both, on any cluster;
- EMR Serverless: ``GetApplication`` (the deploy's check), ``StartJobRun``, ``GetJobRun`` (the
  deploy waits stage by stage) and tagging on the application and its runs; the runtime role
  may be passed to EMR Serverless only;
- Step Functions: the catalog step's Glue job as for Glue, and ``DescribeStateMachine``,
  ``CreateStateMachine``, ``UpdateStateMachine`` and tagging of the ``lakejobs-*`` machines;
  their role may be passed to Step Functions only.

Creating the roles themselves (``glue/iam``, ``emr/iam``, ``stepfunctions/*.iam.json``) is
left to whoever administers IAM: the deployer only passes them.
"""

from typing import Callable, Dict, List

from lakejobs.deploy.description import ARTIFACTS, DeployConfig
from lakejobs.deploy.iam import account, deny_unencrypted_writes, emr_cleanup_role_statement, policy, role_arn

Statement = Dict[str, object]
EMR_SERVICE = "elasticmapreduce.amazonaws.com"


def pass_role(sid: str, roles: List[str], service: str) -> Statement:
    """Allow passing ``roles`` to ``service`` (``glue.amazonaws.com``...) and to nothing else."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["iam:PassRole"],
        "Resource": roles,
        "Condition": {"StringEquals": {"iam:PassedToService": service}},
    }


def upload_statements(config: DeployConfig) -> List[Statement]:
    """Put ``dist/`` under ``artifacts/``, encrypted."""
    artifacts = f"arn:aws:s3:::{config.bucket}/{config.layout.key(ARTIFACTS)}/*"
    upload = {
        "Sid": "UploadArtifacts",
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
        "Resource": [artifacts],
    }
    return [upload, deny_unencrypted_writes(config)]


def glue_job_statements(config: DeployConfig) -> List[Statement]:
    """Create, update and tag the deployment's Glue jobs; pass the job role to Glue."""
    jobs = f"arn:aws:glue:{config.region}:{account(config)}:job/{config.name_prefix}*"
    manage = {
        "Sid": "CreateAndUpdateGlueJobs",
        "Effect": "Allow",
        "Action": ["glue:GetJob", "glue:CreateJob", "glue:UpdateJob", "glue:TagResource"],
        "Resource": [jobs],
    }
    return [manage, pass_role("PassJobRoleToGlue", [config.role_arn], "glue.amazonaws.com")]


def glue_deployer_policy(config: DeployConfig) -> Dict[str, object]:
    """``lakejobs deploy --target glue``."""
    return policy(upload_statements(config) + glue_job_statements(config))


def emr_cluster_statements(config: DeployConfig) -> List[Statement]:
    """Check the cluster and add the steps to it (any cluster when none is given); pass the step role to EMR."""
    clusters = f"arn:aws:elasticmapreduce:{config.region}:{account(config)}:cluster/"
    add_steps = {
        "Sid": "AddStepsToTheCluster",
        "Effect": "Allow",
        "Action": ["elasticmapreduce:DescribeCluster", "elasticmapreduce:AddJobFlowSteps"],
        "Resource": [clusters + (config.cluster_id or "*")],
    }
    step_role = [pass_role("PassStepRoleToEmr", [config.role_arn], EMR_SERVICE)] if config.role_arn else []
    return [add_steps] + step_role


def emr_transient_statements(config: DeployConfig) -> List[Statement]:
    """Start a tagged transient cluster: its service role to EMR, its instance profile's role to EC2."""
    clusters = f"arn:aws:elasticmapreduce:{config.region}:{account(config)}:cluster/"
    run_job_flow = {
        "Sid": "StartTransientClusters",
        "Effect": "Allow",
        "Action": ["elasticmapreduce:RunJobFlow"],
        "Resource": "*",
    }
    tag = {  # a new cluster's tags and idle timeout (AutoTerminationPolicy) are set as it is created
        "Sid": "TagNewClusters",
        "Effect": "Allow",
        "Action": ["elasticmapreduce:AddTags", "elasticmapreduce:PutAutoTerminationPolicy"],
        "Resource": [clusters + "*"],
    }
    return [
        run_job_flow,
        tag,
        pass_role("PassServiceRoleToEmr", [role_arn(config, config.emr_service_role)], EMR_SERVICE),
        pass_role("PassInstanceRoleToEc2", [role_arn(config, config.emr_instance_profile)], "ec2.amazonaws.com"),
        emr_cleanup_role_statement(account(config)),
    ]


def emr_deployer_policy(config: DeployConfig) -> Dict[str, object]:
    """``lakejobs deploy --target emr``: steps to ``--cluster-id``, or ``--transient``; both when neither is given.

    The cluster and the EMR roles are of the deploying account (``config.account_id``); the
    step runtime role (``--role-arn``) may be of another.
    """
    statements = upload_statements(config)
    if not config.transient:
        statements += emr_cluster_statements(config)
    if not config.cluster_id:
        statements += emr_transient_statements(config)
    return policy(statements)


def serverless_deployer_policy(config: DeployConfig) -> Dict[str, object]:
    """``lakejobs deploy --target emr-serverless``."""
    application = f"arn:aws:emr-serverless:{config.region}:{account(config)}:/applications/{config.application_id}"
    runs = {
        "Sid": "StartAndWatchJobRuns",
        "Effect": "Allow",
        "Action": [
            "emr-serverless:GetApplication",
            "emr-serverless:StartJobRun",
            "emr-serverless:GetJobRun",
            "emr-serverless:TagResource",
        ],
        "Resource": [application, f"{application}/jobruns/*"],
    }
    passing = pass_role("PassRuntimeRoleToEmrServerless", [config.role_arn], "emr-serverless.amazonaws.com")
    return policy(upload_statements(config) + [runs, passing])


def stepfunctions_deployer_policy(config: DeployConfig) -> Dict[str, object]:
    """``lakejobs deploy --target stepfunctions``: the catalog job and the state machines."""
    from lakejobs.orchestrate.requests import state_machine_role_arn

    machines = f"arn:aws:states:{config.region}:{account(config)}:stateMachine:{config.name_prefix}*"
    manage = {
        "Sid": "CreateAndUpdateStateMachines",
        "Effect": "Allow",
        "Action": [
            "states:DescribeStateMachine",
            "states:CreateStateMachine",
            "states:UpdateStateMachine",
            "states:TagResource",
        ],
        "Resource": [machines],
    }
    machine_role = state_machine_role_arn(config)
    passing = pass_role("PassMachineRoleToStepFunctions", [machine_role], "states.amazonaws.com")
    return policy(upload_statements(config) + glue_job_statements(config) + [manage, passing])


#: ``--target`` -> the options its policy is built from (beyond ``--bucket``).
REQUIRED = {
    "glue": ("role_arn",),
    "emr": (),
    "emr-serverless": ("application_id", "role_arn"),
    "stepfunctions": ("role_arn",),
}
#: ``--target`` -> its deployer policy.
DEPLOYER_POLICIES: Dict[str, Callable[[DeployConfig], Dict[str, object]]] = {
    "glue": glue_deployer_policy,
    "emr": emr_deployer_policy,
    "emr-serverless": serverless_deployer_policy,
    "stepfunctions": stepfunctions_deployer_policy,
}
