"""What a deploy checks on AWS before it uploads anything, per ``--target``.

A check reads (``GetJob``...), never writes; it refuses in one line (``UsageError``) what would
deploy somewhere the user did not mean, or something that would fail only later:

- Glue (and the catalog step's Glue job of ``stepfunctions``): a job of the same name that
  exists for another lake root would be repointed by its ``UpdateJob`` (job names are fixed);
  the ``GetJob`` probes of the upserts are answered here, once, before the uploads.

- EMR ``--cluster-id``: the cluster exists, still takes steps, and runs one step at a time
  (``DescribeCluster``): the steps' ``CANCEL_AND_WAIT`` is refused by a cluster with a
  ``StepConcurrencyLevel`` above 1 (EMR's ``StepConfig``), and each step needs the previous
  one's tables; since session 49 it also runs EMR 7 (the steps load EMR 7's ``delta-spark.jar``)
  and, with ``--format delta``, has Delta's jars (``delta-defaults`` ``delta.enabled``), which
  the steps do not pass themselves;
- EMR Serverless ``--application-id``: the application exists and is not terminated
  (``GetApplication``): a wrong id uploaded every artifact, then failed at ``StartJobRun``;
  since session 49 it is also a Spark application of EMR 7 (the packed environment's
  ``bin/python`` is EMR 7's interpreter, Delta's jar path is EMR 7's) of the deploy's
  ``--arch`` when the packed environment travels (its compiled packages load on that one only);
- Step Functions: the Glue machine starts the pipeline's Glue jobs, which ``--target glue``
  deploys: a machine created without them failed only when it ran
  (``Glue.EntityNotFoundException``).

A check returns the requests to send (an answered upsert becomes its ``CreateJob`` or
``UpdateJob``) and how many of each call it sent.
"""

import collections
import dataclasses
from typing import Callable, Dict, List, Optional, Tuple

from lakejobs.deploy import emr, glue
from lakejobs.deploy.description import DeployConfig, Pipeline
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


def answer_glue_upserts(
    _pipeline: Pipeline, requests: List[Request], config: DeployConfig, client_for: Callable[[str], object]
) -> Checked:
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


def refuse_missing_glue_jobs(pipeline: Pipeline, config: DeployConfig, client_for: Callable[[str], object]) -> int:
    """Refuse in one line when a Glue job the Glue state machine starts does not exist; return the calls sent."""
    names = [glue.glue_job_name(job, config) for job in pipeline.ordered_jobs()]
    missing = [name for name in names if found(Request("glue", "GetJob", {"JobName": name}), client_for) is None]
    if missing:
        raise UsageError(
            f"the Glue state machine starts the Glue jobs {', '.join(missing)}, which do not exist: run lakejobs "
            f"deploy --target glue first (same --name-prefix)"
        )
    return len(names)


def stepfunctions_checks(
    pipeline: Pipeline, requests: List[Request], config: DeployConfig, client_for: Callable[[str], object]
) -> Checked:
    """The Glue jobs the Glue machine starts exist; the catalog step's job is not another lake's."""
    sent = collections.Counter(GetJob=refuse_missing_glue_jobs(pipeline, config, client_for))
    answered, probed = answer_glue_upserts(pipeline, requests, config, client_for)
    return answered, sent + probed


#: Cluster states in which ``AddJobFlowSteps`` is refused (the cluster is ending or gone).
CLUSTER_ENDED = ("TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS")


def describe_cluster(config: DeployConfig, client_for: Callable[[str], object]) -> Dict[str, object]:
    """The cluster ``--cluster-id``; a one-line refusal when EMR knows no such cluster."""
    from botocore.exceptions import ClientError

    try:
        return client_for("emr").describe_cluster(ClusterId=config.cluster_id)["Cluster"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "InvalidRequestException":
            raise
        message = error.response["Error"].get("Message", "")
        raise UsageError(
            f"--cluster-id {config.cluster_id}: no such cluster in {config.region} ({message}); give a running "
            "cluster's id (aws emr list-clusters --active), or --transient"
        ) from None


def refuse_unusable_cluster(
    _pipeline: Pipeline, requests: List[Request], config: DeployConfig, client_for: Callable[[str], object]
) -> Checked:
    """Refuse in one line a cluster that is missing, ended or ending, runs steps at once, or lacks EMR 7 or Delta."""
    if not config.cluster_id:  # --transient: the cluster is made by the deploy
        return requests, collections.Counter()
    cluster = describe_cluster(config, client_for)
    state = cluster.get("Status", {}).get("State")
    if state in CLUSTER_ENDED:
        raise UsageError(
            f"--cluster-id {config.cluster_id} is {state}: it takes no more steps; give a running cluster's id, "
            "or --transient"
        )
    level = cluster.get("StepConcurrencyLevel", 1)
    if level > 1:
        raise UsageError(
            f"--cluster-id {config.cluster_id} runs {level} steps at once (StepConcurrencyLevel): EMR refuses the "
            f"steps' ActionOnFailure {emr.ON_FAILURE_KEEP_CLUSTER} there, and each step needs the previous one's "
            "tables; set it to 1 (aws emr modify-cluster --step-concurrency-level 1), or use --transient"
        )
    refuse_cluster_without_emr7_or_delta(cluster, config)
    return requests, collections.Counter(DescribeCluster=1)


#: The EMR releases the deploy's paths are those of (``emr.DELTA_SPARK_JAR``, the environment's Python).
EMR_RELEASE_FAMILY = "emr-7."


def _delta_enabled(cluster: Dict[str, object]) -> bool:
    """Tell whether the cluster's own configurations put Delta's jars on Spark's classpath.

    EMR's ``delta-defaults`` ``delta.enabled``, or ``spark-defaults`` ``spark.jars`` naming
    Delta's jar (``/usr/share/aws/delta/lib/delta-spark.jar``). Configurations given per
    instance group are not in ``DescribeCluster``'s answer: such a cluster is refused, and
    ``--transient`` is the way round.
    """
    for configuration in cluster.get("Configurations", []):
        properties = configuration.get("Properties", {})
        if (
            configuration.get("Classification") == "delta-defaults"
            and str(properties.get("delta.enabled", "")).lower() == "true"
        ):
            return True
        if configuration.get("Classification") == "spark-defaults" and "delta-spark" in str(
            properties.get("spark.jars", "")
        ):
            return True
    return False


def refuse_cluster_without_emr7_or_delta(cluster: Dict[str, object], config: DeployConfig) -> None:
    """Refuse a cluster of another release than EMR 7, or one without Delta's jars for ``--format delta``."""
    label = cluster.get("ReleaseLabel") or "(none)"
    if not label.startswith(EMR_RELEASE_FAMILY):
        raise UsageError(
            f"--cluster-id {config.cluster_id} runs {label}, not emr-7.x: the steps load EMR 7's "
            f"{emr.DELTA_SPARK_JAR} and the library is built for its Python 3.9; give an emr-7 cluster's id, "
            "or --transient"
        )
    if config.output_format == "delta" and not _delta_enabled(cluster):
        raise UsageError(
            f"--cluster-id {config.cluster_id} has no delta-defaults classification with delta.enabled true (nor "
            "Delta's jar in spark-defaults spark.jars): "
            "Delta's jars are not on its classpath, and the steps (--format delta) do not bring them; give a "
            "cluster made with it (as --transient makes its own), or --transient"
        )


def refuse_unusable_application(
    _pipeline: Pipeline, requests: List[Request], config: DeployConfig, client_for: Callable[[str], object]
) -> Checked:
    """Refuse in one line an EMR Serverless application that does not exist, is terminated, or cannot run the jobs."""
    from botocore.exceptions import ClientError

    try:
        application = client_for("emr-serverless").get_application(applicationId=config.application_id)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        raise UsageError(
            f"--application-id {config.application_id}: no such EMR Serverless application in {config.region}; "
            "give an existing application's id (aws emr-serverless list-applications)"
        ) from None
    if application["application"].get("state") == "TERMINATED":
        raise UsageError(
            f"--application-id {config.application_id} is TERMINATED: it runs no more jobs; give another "
            "application's id (aws emr-serverless list-applications)"
        )
    refuse_application_of_another_kind(application["application"], config)
    return requests, collections.Counter(GetApplication=1)


#: ``--arch`` -> EMR Serverless' ``architecture``; GetApplication leaves it out of an application
#: created without one, which runs on the default, X86_64.
APPLICATION_ARCH = {"x86_64": "X86_64", "arm64": "ARM64"}
DEFAULT_APPLICATION_ARCH = "X86_64"


def refuse_application_of_another_kind(application: Dict[str, object], config: DeployConfig) -> None:
    """Refuse an application that is not Spark, not EMR 7, or (with the packed environment) of another arch."""
    where, choose = f"--application-id {config.application_id}", "(aws emr-serverless list-applications)"
    kind = application.get("type") or "(none)"
    if kind.upper() != "SPARK":
        raise UsageError(f"{where} is a {kind} application: the jobs need a SPARK one; give its id {choose}")
    label = application.get("releaseLabel") or "(none)"
    if not label.startswith(EMR_RELEASE_FAMILY):
        raise UsageError(
            f"{where} runs {label}, not emr-7.x: the packed environment's bin/python is EMR 7's interpreter and the "
            f"runs load EMR 7's {emr.DELTA_SPARK_JAR}; give an emr-7 application's id {choose}"
        )
    arch = application.get("architecture") or DEFAULT_APPLICATION_ARCH
    wanted = APPLICATION_ARCH[config.arch]
    if config.library_for("emr-serverless") == "venv" and arch != wanted:
        raise UsageError(
            f"{where} runs on {arch}, but --arch {config.arch} packs the environment for {wanted}: its compiled "
            f"packages would not load there; deploy with --arch {_arch_option(arch)}, or give an {wanted} "
            f"application's id {choose}"
        )


def _arch_option(application_arch: str) -> str:
    return {value: key for key, value in APPLICATION_ARCH.items()}.get(application_arch, application_arch)


#: ``--target`` -> its check (targets without one send their requests as planned).
CHECKS = {
    "glue": answer_glue_upserts,
    "emr": refuse_unusable_cluster,
    "emr-serverless": refuse_unusable_application,
    "stepfunctions": stepfunctions_checks,
}


def check(
    target: str,
    pipeline: Pipeline,
    requests: List[Request],
    config: DeployConfig,
    client_for: Callable[[str], object],
) -> Checked:
    """The requests ``target`` will send, after its checks, and the calls the checks sent."""
    if target not in CHECKS:
        return requests, collections.Counter()
    return CHECKS[target](pipeline, requests, config, client_for)
