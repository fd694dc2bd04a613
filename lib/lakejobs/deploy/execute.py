"""Send a deployment's requests with boto3 (imported here, lazily)."""

import collections
import logging
import os
import time
from typing import Callable, Dict, List, Optional

from lakejobs.deploy.requests import LocalFile, Request
from lakejobs.errors import LakejobsError, UsageError

LOG = logging.getLogger(__name__)
#: Error codes meaning "absent" to an upsert probe (Glue GetJob, Step Functions DescribeStateMachine, ...).
NOT_FOUND = frozenset(
    {
        "EntityNotFoundException",
        "ResourceNotFoundException",
        "NoSuchEntity",
        "NotFoundException",
        "StateMachineDoesNotExist",
    }
)
RUN_DONE = {"SUCCESS": True, "FAILED": False, "CANCELLED": False}


def aws_region(explicit: Optional[str] = None) -> str:
    """The region to call: ``explicit``, else AWS_REGION, AWS_DEFAULT_REGION, else us-east-1."""
    return explicit or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def client_factory(region: str, endpoint_url: Optional[str] = None) -> Callable[[str], object]:
    """A function ``service -> boto3 client`` (one client per service)."""
    import boto3

    clients: Dict[str, object] = {}

    def client_for(service: str):
        if service not in clients:
            clients[service] = boto3.client(service, region_name=region, endpoint_url=endpoint_url)
        return clients[service]

    return client_for


def _boto_method(operation: str) -> str:
    """``CreateJob`` -> ``create_job`` (boto3's method name)."""
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in operation).lstrip("_")


def send(request: Request, client_for: Callable[[str], object]) -> Dict[str, object]:
    """Send one request; a ``PutObject`` of a ``LocalFile`` streams the file (multipart when large)."""
    params = dict(request.params)
    client = client_for(request.service)
    body = params.pop("Body", None)
    if request.operation == "PutObject" and isinstance(body, LocalFile):
        bucket, key = params.pop("Bucket"), params.pop("Key")
        client.upload_file(str(body), bucket, key, ExtraArgs=params)
        return {}
    if body is not None:
        params["Body"] = body
    return getattr(client, _boto_method(request.operation))(**params)


def found(probe: Request, client_for) -> Optional[Dict[str, object]]:
    """The response to ``probe`` (``GetJob``...), or None when AWS answers that the resource does not exist."""
    from botocore.exceptions import ClientError

    try:
        return send(probe, client_for)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in NOT_FOUND:
            return None
        raise


def _exists(probe: Request, client_for) -> bool:
    return found(probe, client_for) is not None


def wait_for_serverless_run(request: Request, response: Dict[str, object], client_for, poll_s: float, timeout_s: float):
    """Wait until an EMR Serverless run ends; raise ``LakejobsError`` unless it succeeded."""
    client = client_for("emr-serverless")
    application_id, run_id = request.params["applicationId"], response["jobRunId"]
    deadline = time.monotonic() + timeout_s
    while True:
        run = client.get_job_run(applicationId=application_id, jobRunId=run_id)["jobRun"]
        state = run["state"]
        if state in RUN_DONE:
            if not RUN_DONE[state]:
                raise LakejobsError(f"EMR Serverless run {run_id} ({request.params['name']}) ended {state}")
            return
        if time.monotonic() > deadline:
            raise LakejobsError(
                f"EMR Serverless run {run_id} ({request.params['name']}) still {state} after {timeout_s:.0f} s"
            )
        time.sleep(poll_s)


def refuse_another_accounts_role(
    role_arn: Optional[str], client_for: Callable[[str], object], option: str = "--role-arn"
) -> None:
    """Refuse a role (given as ``option``) of another account than the credentials', in one line, before any request.

    AWS passes a role only to services of the role's own account: every Glue job, EMR
    Serverless run and state machine would be refused at its request, after the artifacts were
    uploaded (a deploy), or each job run of the execution (``pipeline start
    --execution-role-arn``). Not for EMR steps: their runtime role may be of another account. The caller's
    account comes from ``GetCallerIdentity``, which needs no permission; an endpoint without STS
    leaves the check to AWS.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if not role_arn:
        return
    try:
        caller = client_for("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError):
        return
    role_account = role_arn.split(":")[4]
    if role_account != caller:
        raise UsageError(
            f"{option} {role_arn} is a role of account {role_account}, but these credentials are of account "
            f"{caller}: AWS passes a role only to services of its own account; give a role of {caller}, "
            f"or use credentials of {role_account}"
        )


#: (service, operation) -> how to wait for what the request started, before the next stage.
WAITERS = {("emr-serverless", "StartJobRun"): wait_for_serverless_run}
#: (service, operation) -> the line naming what the request started (request, response -> line).
STARTED = {
    ("emr", "RunJobFlow"): lambda request, response: (
        f"started cluster {response['JobFlowId']}: it runs {len(request.params['Steps'])} steps, then terminates"
    ),
    ("emr", "AddJobFlowSteps"): lambda request, response: (
        f"added steps {', '.join(response['StepIds'])} to cluster {request.params['JobFlowId']}"
    ),
    ("emr-serverless", "StartJobRun"): lambda request, response: (
        f"started job run {response['jobRunId']} ({request.params['name']}) on application "
        f"{request.params['applicationId']}"
    ),
}


def execute(
    requests: List[Request],
    client_for: Callable[[str], object],
    emit: Callable[[str], None] = print,
    poll_s: float = 10.0,
    timeout_s: float = 6 * 3600.0,
) -> collections.Counter:
    """Send ``requests`` in order, printing each as sent; return how many of each operation were sent.

    What a request starts (a cluster, steps, a job run) is named in a line of its own as it starts.

    A request with a ``probe`` is an upsert (its ``otherwise`` goes when the probe finds the
    resource). Before a request of a later ``stage``, what the earlier stage started is waited for;
    what the last stage started is waited for before returning.
    """
    sent: collections.Counter = collections.Counter()
    pending = []
    stage = 0

    def wait_for_pending() -> None:
        for started, response in pending:
            WAITERS[(started.service, started.operation)](started, response, client_for, poll_s, timeout_s)

    for request in requests:
        if request.stage != stage:
            wait_for_pending()
            pending, stage = [], request.stage
        chosen = request
        if request.probe is not None:
            sent[request.probe.operation] += 1
            if _exists(request.probe, client_for):
                chosen = request.otherwise
        emit(chosen.to_json())
        response = send(chosen, client_for)
        sent[chosen.operation] += 1
        if (chosen.service, chosen.operation) in STARTED:  # its id, before any wait
            emit(STARTED[(chosen.service, chosen.operation)](chosen, response))
        if (chosen.service, chosen.operation) in WAITERS:
            pending.append((chosen, response))
    wait_for_pending()  # the last stage's runs too: a deploy that ends is one whose runs all succeeded
    return sent
