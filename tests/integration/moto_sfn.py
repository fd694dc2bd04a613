"""moto's Step Functions engine, enabled, with one documented patch for ``glue:startJobRun.sync`` (moto 5.2.5).

The patch is applied in this process before the server starts (``ThreadedMotoServer`` runs
in-process, so the class patched is the one serving). Without it every
``glue:startJobRun.sync`` Task fails at its end with "'NoneType' object has no attribute
'interrupt_all'": moto's callback base class always calls ``interrupt_all()`` on the
waitForTaskToken endpoint, which only services declaring that pattern get. Declaring it for
Glue gives the sync Task that endpoint; nothing else changes (the Task's resource is still
``.sync``, so no token is ever waited for). The test without the patch fails exactly so.

moto's second known trap, ``DescribeExecution`` failing to serialise a Glue JobRun's
datetimes, does not arise: every Task of the machines has ``ResultPath: null`` (the state
data stays the execution input), so no JobRun reaches the execution's output.

The engine calls the other services at ``localhost:$MOTO_PORT``; ``enable`` sets it.
"""

import json
import os
import urllib.request


def patch_glue_sync() -> None:
    """Give moto's Glue sync Tasks the callback endpoint their clean-up expects (idempotent)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_glue as glue
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition

    glue._SUPPORTED_INTEGRATION_PATTERNS.add(ResourceCondition.WaitForTaskToken)


def _configure(endpoint_url: str, execute: bool) -> None:
    body = json.dumps({"stepfunctions": {"execute_state_machine": execute}}).encode()
    request = urllib.request.Request(f"{endpoint_url}/moto-api/config", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request, timeout=10).read()


def enable(endpoint_url: str) -> None:
    """Turn on state machine execution in the running server and point the engine at it."""
    os.environ["MOTO_PORT"] = endpoint_url.rsplit(":", 1)[1]
    _configure(endpoint_url, True)


def disable(endpoint_url: str) -> None:
    """Back to moto's default (executions not run) and no ``MOTO_PORT``."""
    _configure(endpoint_url, False)
    os.environ.pop("MOTO_PORT", None)
