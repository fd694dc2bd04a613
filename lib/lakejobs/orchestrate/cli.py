"""``lakejobs pipeline start``: run the deployed pipeline on Step Functions.

``lakejobs pipeline`` without an action still runs the local pipeline (``make run``); this
module adds the optional ``start`` action and its options to that command.
"""

import sys
from typing import List, Optional

from lakejobs import args as job_args


def cmd_start(args) -> int:
    """Start the state machine of ``--runtime``; with ``--wait`` follow it to the end."""
    from botocore.exceptions import BotoCoreError, ClientError

    from lakejobs.deploy.execute import aws_region, client_factory, refuse_another_accounts_role
    from lakejobs.errors import LakejobsError, UsageError
    from lakejobs.orchestrate.run import RunInput, find_machine_arn, run

    if not args.runtime or not args.bucket:
        raise UsageError("pipeline start needs --runtime (glue, emr or emr-serverless) and --bucket")
    region = aws_region(args.region)
    client_for = client_factory(region, args.endpoint_url)
    run_input = RunInput(
        bucket=args.bucket,
        prefix=args.prefix,
        run_date=args.run_date or "",
        notify_topic_arn=args.notify_topic_arn,
        application_id=args.application_id,
        execution_role_arn=args.execution_role_arn,
    )
    run_input.document(args.runtime)  # a usage error before any request
    if not args.notify_topic_arn:
        print(
            "lakejobs: warning: no --notify-topic-arn: a failed execution tells no one (it skips its Notify "
            "failure states); only the execution's status shows it",
            file=sys.stderr,
        )
    for warning in outside_the_machine_role(args.runtime, args.notify_topic_arn, args.execution_role_arn):
        print(f"lakejobs: warning: {warning}", file=sys.stderr)
    refuse_another_accounts_role(args.execution_role_arn, client_for, "--execution-role-arn")
    try:
        machine = find_machine_arn(client_for, region, f"{args.name_prefix}pipeline-{args.runtime}")
        return run(client_for("stepfunctions"), args.runtime, run_input, machine, args.wait, poll_s=args.poll_seconds)
    except (BotoCoreError, ClientError) as error:
        raise LakejobsError(f"pipeline start failed: {error}") from None


def register(commands) -> None:
    """Add the ``start`` action and its options to the existing ``pipeline`` command."""
    pipe = commands.choices["pipeline"]
    run_local = pipe.get_default("func")
    pipe.add_argument(
        "action", nargs="?", choices=("run", "start"), default="run", help="run (local, default) or start"
    )
    group = pipe.add_argument_group("start: run the deployed pipeline on Step Functions")
    group.add_argument("--runtime", choices=("glue", "emr", "emr-serverless"), help="which state machine")
    group.add_argument("--bucket", help="bucket of the lake and the artifacts (execution input)")
    group.add_argument("--prefix", default="", help="key prefix under the bucket (default: none)")
    group.add_argument(
        "--run-date",
        dest="run_date",
        type=job_args.parse_iso_date,
        default=None,
        help="run date YYYY-MM-DD, naming the execution and (EMR) the cluster; no job reads it (default: today, UTC)",
    )
    group.add_argument("--notify-topic-arn", dest="notify_topic_arn", default="", help="SNS topic told of failures")
    group.add_argument("--application-id", dest="application_id", help="EMR Serverless application")
    group.add_argument("--execution-role-arn", dest="execution_role_arn", help="EMR Serverless job runtime role")
    group.add_argument("--name-prefix", dest="name_prefix", default="lakejobs-", help="state machine name prefix")
    group.add_argument("--wait", action="store_true", help="show the states as they pass; exit 1 if it fails")
    group.add_argument("--poll-seconds", dest="poll_seconds", type=job_args.parse_positive_number, default=5.0)
    group.add_argument(
        "--endpoint-url",
        dest="endpoint_url",
        type=job_args.parse_endpoint_url,
        help="an AWS-compatible endpoint (e.g. moto)",
    )
    group.add_argument("--region", help="AWS region (default: AWS_REGION or us-east-1)")
    pipe.set_defaults(func=lambda args: cmd_start(args) if own_action(args, pipe) == "start" else run_local(args))


#: Options of each action of ``lakejobs pipeline``; the other action would ignore them.
ACTION_OPTIONS = {
    "start": (
        "runtime",
        "bucket",
        "prefix",
        "run_date",
        "notify_topic_arn",
        "application_id",
        "execution_role_arn",
        "name_prefix",
        "wait",
        "poll_seconds",
        "endpoint_url",
        "region",
    ),
    "run": ("raw", "lake", "format", "incremental"),
}


def own_action(args, parser) -> str:
    """The action of ``args``; refuses an option of the other action, which it would ignore.

    ``lakejobs pipeline --runtime glue --bucket b`` (``start`` forgotten) would run the local
    pipeline on the sample; ``start --raw x`` would start the deployed one on its own input.
    An option counts as given when its value is not the default.
    """
    from lakejobs.errors import UsageError

    other = "run" if args.action == "start" else "start"
    stray = [name for name in ACTION_OPTIONS[other] if getattr(args, name) != parser.get_default(name)]
    if stray:
        options = ", ".join("--" + name.replace("_", "-") for name in stray)
        raise UsageError(f"{options}: not an option of `lakejobs pipeline {args.action}` (of `{other}`)")
    return args.action


#: The names the deployed machines' roles may publish to and pass (``stepfunctions/<runtime>.iam.json``).
GRANTED_NAME_PREFIX = "lakejobs-"


def outside_the_machine_role(runtime: str, topic_arn: str, execution_role_arn: Optional[str]) -> List[str]:
    """What the deployed machine's role would be denied: a topic or runtime role not named ``lakejobs-*``.

    Both started, exit 0, and on AWS every failure notification was denied (caught: no one told),
    and every EMR Serverless run failed with AccessDenied passing its role.
    """
    policy = f"stepfunctions/{runtime}.iam.json"
    warnings = []
    if topic_arn and not topic_arn.rsplit(":", 1)[-1].startswith(GRANTED_NAME_PREFIX):
        warnings.append(
            f"--notify-topic-arn {topic_arn}: the machine's role may publish only to topics named "
            f"{GRANTED_NAME_PREFIX}* ({policy}), so a failure would tell no one; name the topic so, or widen that "
            "policy"
        )
    role_name = (execution_role_arn or "").rsplit("/", 1)[-1]
    if runtime == "emr-serverless" and execution_role_arn and not role_name.startswith(GRANTED_NAME_PREFIX):
        warnings.append(
            f"--execution-role-arn {execution_role_arn}: the machine's role may pass only roles named "
            f"{GRANTED_NAME_PREFIX}* ({policy}), so every job run would be denied; name the role so, or widen that "
            "policy"
        )
    return warnings
