"""The ``stepfunctions`` deploy target: create or update one state machine per runtime.

``lakejobs deploy --target stepfunctions --bucket B --role-arn ARN`` uploads ``dist/`` to
``artifacts/`` (what the three runtimes' runs load: the library, the scripts, the catalog
step's script, the packed environment of each runtime using one), then sends, for the Glue,
EMR and EMR Serverless machines, ``CreateStateMachine`` or, when ``DescribeStateMachine``
finds it, ``UpdateStateMachine``. ``--role-arn`` keeps its meaning (the role the Glue jobs
run as): the Glue machine's catalog step is one more Glue job, created or updated here with
it. The state machines run as ``<account>:role/lakejobs-stepfunctions`` (same account as
``--role-arn``; its policies are ``stepfunctions/<runtime>.iam.json``). The bucket is not
part of any definition: it goes in the execution input (``lakejobs pipeline start``).
"""

import json
from typing import List

from lakejobs.deploy import glue
from lakejobs.deploy.description import DeployConfig, Pipeline
from lakejobs.deploy.requests import Request, upload_requests
from lakejobs.errors import UsageError
from lakejobs.orchestrate.machines import MACHINES, RUNTIMES, catalog_job, state_machine_name


def account_of(role_arn: str) -> str:
    """The account id in an IAM role ARN (``arn:aws:iam::123456789012:role/x``)."""
    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or not parts[4].isdigit():
        raise UsageError(f"--role-arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got {role_arn!r}")
    return parts[4]


def state_machine_arn(config: DeployConfig, runtime: str) -> str:
    """The ARN the state machine of ``runtime`` has (or will have)."""
    partition = config.role_arn.split(":")[1]
    name = state_machine_name(config, runtime)
    return f"arn:{partition}:states:{config.region}:{account_of(config.role_arn)}:stateMachine:{name}"


def state_machine_role_arn(config: DeployConfig) -> str:
    """The role every state machine runs as: ``<name_prefix>stepfunctions`` in ``--role-arn``'s account."""
    partition = config.role_arn.split(":")[1]
    return f"arn:{partition}:iam::{account_of(config.role_arn)}:role/{config.name_prefix}stepfunctions"


def state_machine_request(pipeline: Pipeline, config: DeployConfig, runtime: str) -> Request:
    """Create the machine of ``runtime``, or update it when it exists."""
    arn = state_machine_arn(config, runtime)
    definition = json.dumps(MACHINES[runtime](pipeline, config), indent=2)
    create = {
        "name": state_machine_name(config, runtime),
        "definition": definition,
        "roleArn": state_machine_role_arn(config),
        "type": "STANDARD",
        "tags": [{"key": "project", "value": "lakejobs"}],
    }
    update = {"stateMachineArn": arn, "definition": definition, "roleArn": state_machine_role_arn(config)}
    probe = Request("stepfunctions", "DescribeStateMachine", {"stateMachineArn": arn})
    return Request(
        "stepfunctions",
        "CreateStateMachine",
        create,
        probe=probe,
        otherwise=Request("stepfunctions", "UpdateStateMachine", update),
    )


def catalog_job_request(config: DeployConfig) -> Request:
    """Create or update the Glue job of the catalog step (``jobs/catalog_sync.py``)."""
    definition = glue.glue_job_definition(catalog_job(config.output_format, config.region), config)
    probe = Request("glue", "GetJob", {"JobName": definition["Name"]})
    update = Request("glue", "UpdateJob", glue.glue_update_request(definition))
    return Request("glue", "CreateJob", definition, probe=probe, otherwise=update)


def stepfunctions_requests(pipeline: Pipeline, config: DeployConfig) -> List[Request]:
    """The requests of ``--target stepfunctions``."""
    config.require("stepfunctions", "role_arn")
    account_of(config.role_arn)
    uploads = upload_requests(config, pipeline, RUNTIMES, [catalog_job(config.output_format, config.region)])
    machines = [state_machine_request(pipeline, config, runtime) for runtime in MACHINES]
    return uploads + [catalog_job_request(config)] + machines
