"""The AWS API requests of a deployment, per target, and how they are sent.

A target is a function ``(pipeline, config) -> [Request, ...]`` registered in ``TARGETS``;
``lakejobs deploy --dry-run`` prints the requests, a real deploy sends them with boto3.
Adding a target (Step Functions) is one line in ``TARGETS``.
"""

import dataclasses
import json
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from lakejobs.deploy import emr, glue, serverless
from lakejobs.deploy.description import ARTIFACTS, LIB_ZIP, SCRIPTS_FOLDER, DeployConfig, Job, Pipeline
from lakejobs.errors import UsageError


class LocalFile(str):
    """A request ``Body`` that is a local file: printed as its path, sent as its bytes."""


@dataclasses.dataclass
class Request:
    """One AWS API call: ``service`` (boto3's client name), ``operation`` (API name), ``params``.

    ``probe``/``otherwise`` make an upsert: when the ``probe`` request succeeds (the resource
    exists) ``otherwise`` is sent instead of this request. ``stage`` orders runs that must
    finish before the next stage starts.
    """

    service: str
    operation: str
    params: Dict[str, object]
    probe: Optional["Request"] = None
    otherwise: Optional["Request"] = None
    stage: int = 0

    def as_dict(self) -> Dict[str, object]:
        """``{"service": ..., "operation": ..., "params": ...}``."""
        return {"service": self.service, "operation": self.operation, "params": self.params}

    def to_json(self) -> str:
        """The request as one JSON line."""
        return json.dumps(self.as_dict())


def planned(requests: List[Request]) -> List[Request]:
    """Every request a deployment may send, in order: probes, then the request and its alternative."""
    flat = []
    for request in requests:
        flat += [request.probe] if request.probe else []
        flat.append(request)
        flat += [request.otherwise] if request.otherwise else []
    return flat


def dist_files(config: DeployConfig) -> List[Path]:
    """The files of ``dist/`` to upload, sorted; a clear error when ``dist/`` is missing or incomplete."""
    dist = Path(config.dist)
    if dist.exists() and not dist.is_dir():
        raise UsageError(f"--dist {dist} is a file, not the folder make package writes")
    if not dist.is_dir():
        raise UsageError(f"{dist}/ does not exist: run make package first")
    return sorted(path for path in dist.rglob("*") if path.is_file())


def upload_requests(
    config: DeployConfig, pipeline: Pipeline, targets: Sequence[str], extra_jobs: Sequence[Job] = ()
) -> List[Request]:
    """``PutObject`` (SSE-S3) of every ``dist/`` file to ``artifacts/``.

    ``dist/`` must hold what the runs on ``targets`` load: the library zip, the scripts of the
    pipeline's jobs and of ``extra_jobs``, and the packed environment of each target using one.
    """
    files = dist_files(config)
    dist = Path(config.dist)
    relative = {path.relative_to(dist).as_posix() for path in files}
    scripts = [f"{SCRIPTS_FOLDER}/{job.script}" for job in [*pipeline.jobs, *extra_jobs]]
    needed = {name: "make package" for name in [LIB_ZIP, *scripts]}
    for target in targets:
        if config.library_for(target) == "venv":
            command = f"make package PYVER={config.python_for(target)} ARCH={config.arch}"
            needed[config.env_archive_for(target)] = command
    for name, command in needed.items():
        if name not in relative:
            raise UsageError(f"{dist / name} is missing: run {command} first")
    return [
        Request(
            "s3",
            "PutObject",
            {
                "Bucket": config.bucket,
                "Key": config.layout.key(f"{ARTIFACTS}/{path.relative_to(dist).as_posix()}"),
                "Body": LocalFile(path.as_posix()),
                "ServerSideEncryption": "AES256",
            },
        )
        for path in files
    ]


def glue_requests(pipeline: Pipeline, config: DeployConfig) -> List[Request]:
    """Upload, then create each Glue job, or update it when ``GetJob`` finds it."""
    config.require("glue", "role_arn")
    requests = upload_requests(config, pipeline, ("glue",))
    for job in pipeline.ordered_jobs():
        definition = glue.glue_job_definition(job, config)
        probe = Request("glue", "GetJob", {"JobName": definition["Name"]})
        update = Request("glue", "UpdateJob", glue.glue_update_request(definition))
        requests.append(Request("glue", "CreateJob", definition, probe=probe, otherwise=update))
    return requests


def emr_requests(pipeline: Pipeline, config: DeployConfig) -> List[Request]:
    """Upload, then add the steps to the cluster ``--cluster-id``, or (``--transient``) start a cluster running them."""
    if not (config.cluster_id or config.transient):
        raise UsageError("--target emr needs --cluster-id (or --transient: a new cluster that runs the steps and ends)")
    if config.transient and config.cluster_id:
        raise UsageError("--transient starts a new cluster, --cluster-id names a running one: give one or the other")
    if config.transient and config.role_arn:
        raise UsageError(
            "--role-arn is the steps' runtime role, which only steps added to a running cluster take (--cluster-id); "
            f"a --transient cluster's steps run as its instance profile ({config.emr_instance_profile})"
        )
    if config.cluster_id and config.subnet_id:
        raise UsageError("--subnet-id places a --transient cluster; a running cluster (--cluster-id) has its own")
    requests = upload_requests(config, pipeline, ("emr",))
    if config.transient:
        requests.append(Request("emr", "RunJobFlow", emr.run_job_flow_request(pipeline, config)))
    else:
        requests.append(Request("emr", "AddJobFlowSteps", emr.add_steps_request(pipeline, config)))
    return requests


def serverless_requests(pipeline: Pipeline, config: DeployConfig) -> List[Request]:
    """Upload, then start one job run per job; a stage's runs must succeed before the next starts."""
    config.require("emr-serverless", "application_id", "role_arn")
    requests = upload_requests(config, pipeline, ("emr-serverless",))
    for stage, keys in enumerate(pipeline.stages):
        for key in keys:
            params = serverless.serverless_start_job_run(pipeline.job(key), config)
            requests.append(Request("emr-serverless", "StartJobRun", params, stage=stage))
    return requests


Target = Callable[[Pipeline, DeployConfig], List[Request]]
#: ``--target`` name -> the function listing its requests.
TARGETS: Dict[str, Target] = {
    "glue": glue_requests,
    "emr": emr_requests,
    "emr-serverless": serverless_requests,
    "stepfunctions": lambda p, c: __import__("lakejobs.orchestrate.requests", fromlist=["_"]).stepfunctions_requests(
        p, c
    ),
}
