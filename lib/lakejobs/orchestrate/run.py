"""Start a pipeline execution and follow its states as they pass (``lakejobs pipeline start``)."""

import dataclasses
import json
import re
import time
import uuid
from typing import Callable, Dict, Iterator, List, Optional

from lakejobs.deploy.description import check_application_id, check_bucket, check_prefix, check_role_arn
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.orchestrate.machines import RUNTIMES

#: An SNS topic's ARN (``arn:aws:sns:us-east-1:123456789012:lakejobs-alerts``).
TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")
DONE = {"SUCCEEDED": 0, "FAILED": 1, "TIMED_OUT": 1, "ABORTED": 1}
#: History event type -> how the progress view shows it (others are not shown).
SHOWN = {
    "StateEntered": "started",
    "StateExited": "done",
    "TaskFailed": "task failed",
    "ExecutionFailed": "execution failed",
    "ExecutionSucceeded": "execution succeeded",
    "ExecutionTimedOut": "execution timed out",
    "ExecutionAborted": "execution aborted",
}


@dataclasses.dataclass(frozen=True)
class RunInput:
    """The execution input every state machine reads."""

    bucket: str
    prefix: str = ""
    run_date: str = ""
    notify_topic_arn: str = ""
    application_id: Optional[str] = None
    execution_role_arn: Optional[str] = None

    def document(self, runtime: str) -> Dict[str, str]:
        """The input as JSON data; ``prefix`` ends with ``/`` (or is empty)."""
        check_bucket(self.bucket)
        check_prefix(self.prefix)
        if self.notify_topic_arn and not TOPIC_ARN.fullmatch(self.notify_topic_arn):
            raise UsageError(
                "--notify-topic-arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), "
                f"got {self.notify_topic_arn!r}"
            )
        if runtime == "emr-serverless" and not (self.application_id and self.execution_role_arn):
            raise UsageError("--runtime emr-serverless needs --application-id and --execution-role-arn")
        given = {"--application-id": self.application_id, "--execution-role-arn": self.execution_role_arn}
        stray = [option for option, value in given.items() if value and runtime != "emr-serverless"]
        if stray:  # the machine of another runtime reads neither: they were dropped without a word
            raise UsageError(f"{', '.join(stray)}: not an option of --runtime {runtime}, which would ignore it")
        check_application_id(self.application_id)
        check_role_arn(self.execution_role_arn, "--execution-role-arn")
        prefix = self.prefix.strip("/")
        document = {
            "bucket": self.bucket,
            "prefix": f"{prefix}/" if prefix else "",
            "run_date": self.run_date or time.strftime("%Y-%m-%d", time.gmtime()),
            "notify_topic_arn": self.notify_topic_arn,
        }
        if runtime == "emr-serverless":
            document.update(application_id=self.application_id, execution_role_arn=self.execution_role_arn)
        return document


def state_machine_arn(sts, region: str, name: str) -> str:
    """The ARN of the state machine ``name`` in the caller's account and ``region``.

    Built from ``GetCallerIdentity`` (which needs no permission) rather than found by listing
    the machines: ``ListStateMachines`` can only be allowed on every machine of the account.
    """
    identity = sts.get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    return f"arn:{partition}:states:{region}:{identity['Account']}:stateMachine:{name}"


def find_state_machine(sfn, name: str) -> str:
    """The ARN of the state machine called ``name`` found by listing them, or a clear error."""
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    raise LakejobsError(f"no state machine {name!r}: run lakejobs deploy --target stepfunctions first")


def find_machine_arn(client_for: Callable[[str], object], region: str, name: str) -> str:
    """The ARN of ``name``: built from the caller's account, else (no STS, as in Step Functions Local) listed."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return state_machine_arn(client_for("sts"), region, name)
    except (BotoCoreError, ClientError):
        return find_state_machine(client_for("stepfunctions"), name)


def start(sfn, machine_arn: str, document: Dict[str, str], name: Optional[str] = None) -> str:
    """Start an execution; return its ARN (a clear error when the machine is not deployed)."""
    params = {"stateMachineArn": machine_arn, "input": json.dumps(document)}
    if name:
        params["name"] = name
    try:
        return sfn.start_execution(**params)["executionArn"]
    except sfn.exceptions.StateMachineDoesNotExist:
        machine = machine_arn.rsplit(":", 1)[-1]
        raise LakejobsError(
            f"no state machine {machine!r} at {machine_arn}: run lakejobs deploy --target stepfunctions first"
        ) from None


def _history(sfn, execution_arn: str) -> List[Dict]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def describe_event(event: Dict) -> Optional[str]:
    """One progress line for a history event, or None for an event not shown."""
    kind = next((suffix for suffix in SHOWN if event["type"].endswith(suffix)), None)
    if kind is None:
        return None
    details = next((value for key, value in event.items() if key.endswith("EventDetails")), {}) or {}
    error, cause = str(details.get("error") or ""), str(details.get("cause") or "")[:300]
    said = f"{error}: {cause}" if error and cause else error or cause  # an abort may give neither
    subject = f"{details.get('name', '')} {said}".strip()
    return f"{SHOWN[kind]:<20} {subject}".rstrip()


#: The history event that ends an execution -> the execution's status.
ENDED = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


def follow(sfn, execution_arn: str, poll_s: float = 5.0) -> Iterator[str]:
    """Yield a line per shown history event as the execution runs, then the final status.

    The execution has ended when ``DescribeExecution`` says so or its history holds the ending
    event (moto's server may report ``RUNNING`` after ``ExecutionSucceeded``: it was followed forever).
    """
    seen = 0
    while True:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        events = _history(sfn, execution_arn)
        for event in events[seen:]:
            line = describe_event(event)
            if line:
                yield line
            status = ENDED.get(event["type"], status)
        seen = len(events)
        if status in DONE:
            yield f"status: {status}"
            return
        time.sleep(poll_s)


def run(
    sfn,
    runtime: str,
    run_input: RunInput,
    machine_arn: str,
    wait: bool,
    emit: Callable[[str], None] = print,
    poll_s=5.0,
) -> int:
    """Start the ``runtime`` machine with ``run_input``; with ``wait``, show progress and return its exit code."""
    if runtime not in RUNTIMES:
        raise UsageError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    document = run_input.document(runtime)
    name = f"{runtime}-{document['run_date']}-{uuid.uuid4().hex[:8]}"
    execution_arn = start(sfn, machine_arn, document, name)
    emit(f"started {execution_arn}")
    if not wait:
        return 0
    final = "status: FAILED"
    for line in follow(sfn, execution_arn, poll_s):
        emit(line)
        final = line
    return DONE[final.split(": ", 1)[1]]
