"""What a deploy checks on AWS before it uploads anything, per ``--target``.

A check reads (``GetJob``...), never writes; it refuses in one line (``UsageError``) what would
deploy somewhere the user did not mean, or something that would fail only later:

- Glue (and the catalog step's Glue job of ``stepfunctions``): a job of the same name that
  exists for another lake root would be repointed by its ``UpdateJob`` (job names are fixed);
  the ``GetJob`` probes of the upserts are answered here, once, before the uploads.

A check returns the requests to send (an answered upsert becomes its ``CreateJob`` or
``UpdateJob``) and how many of each call it sent.
"""

import collections
import dataclasses
from typing import Callable, List, Optional, Tuple

from lakejobs.deploy import glue
from lakejobs.deploy.description import DeployConfig
from lakejobs.deploy.execute import found
from lakejobs.deploy.requests import Request
from lakejobs.errors import UsageError

Checked = Tuple[List[Request], collections.Counter]


def _is_glue_upsert(request: Request) -> bool:
    return (request.service, request.operation) == ("glue", "CreateJob") and request.probe is not None


def refuse_another_lakes_jobs(conflicts: List[Tuple[str, Optional[str]]], config: DeployConfig) -> None:
    """One line naming the first Glue job that exists for another lake root (``conflicts``: name, its root)."""
    if not conflicts:
        return
    name, root = conflicts[0]
    more, them = (f" (as do {len(conflicts) - 1} more)", "them") if len(conflicts) > 1 else ("", "it")
    raise UsageError(
        f"Glue job {name} exists for the lake {root or '(none: not a lakejobs job)'}{more}, not "
        f"{config.layout.root}: this deploy would repoint {them}; deploy beside {them} with another --name-prefix "
        f"than {config.name_prefix} (lakejobs-dev-, say), or delete the old jobs first"
    )


def answer_glue_upserts(requests: List[Request], config: DeployConfig, client_for: Callable[[str], object]) -> Checked:
    """Send each Glue job's ``GetJob`` probe; refuse a job of another lake root; choose create or update."""
    sent: collections.Counter = collections.Counter()
    answered, conflicts = [], []
    for request in requests:
        if not _is_glue_upsert(request):
            answered.append(request)
            continue
        sent[request.probe.operation] += 1
        existing = found(request.probe, client_for)
        if existing is None:
            answered.append(dataclasses.replace(request, probe=None, otherwise=None))
            continue
        root = glue.lake_root(existing["Job"].get("DefaultArguments", {}))
        if root != config.layout.root:
            conflicts.append((request.params["Name"], root))
        answered.append(request.otherwise)
    refuse_another_lakes_jobs(conflicts, config)
    return answered, sent


#: ``--target`` -> its check (targets without one send their requests as planned).
CHECKS = {"glue": answer_glue_upserts, "stepfunctions": answer_glue_upserts}


def check(target: str, requests: List[Request], config: DeployConfig, client_for: Callable[[str], object]) -> Checked:
    """The requests ``target`` will send, after its checks, and the calls the checks sent."""
    if target not in CHECKS:
        return requests, collections.Counter()
    return CHECKS[target](requests, config, client_for)
