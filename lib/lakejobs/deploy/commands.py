"""``lakejobs deploy``: upload ``dist/`` and create the jobs, steps or runs; ``lakejobs deploy render``."""

import argparse
import dataclasses
import uuid
from pathlib import Path

from lakejobs import args as job_args
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.packaging import normalize_arch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``lakejobs deploy``."""
    parser.add_argument(
        "action",
        nargs="?",
        choices=("render", "policy"),
        help="render: rewrite the committed glue/ and emr/ files; policy: print the IAM policy --target's deploy needs",
    )
    parser.add_argument("--target", help="glue, emr, emr-serverless or stepfunctions")
    parser.add_argument("--bucket", help="S3 bucket holding the lake and the artifacts")
    parser.add_argument("--prefix", default="", help="key prefix of everything under the bucket (default: none)")
    parser.add_argument(
        "--role-arn",
        help="IAM role the jobs run as (Glue job role, EMR step runtime role, EMR Serverless runtime role; default: "
        "none, which only --target emr takes: its steps run as the cluster's instance profile)",
    )
    parser.add_argument(
        "--name-prefix",
        default="lakejobs-",
        help="prefix of the Glue jobs', state machines' and steps' names (default lakejobs-): another deploys beside",
    )
    parser.add_argument(
        "--cluster-id",
        help="running EMR cluster receiving the steps (j-...; default: none, --target emr then needs --transient)",
    )
    parser.add_argument(
        "--account-id",
        help="policy --target emr: the account of the cluster and EMR roles (default: these credentials', from STS)",
    )
    parser.add_argument("--transient", action="store_true", help="emr: start a cluster that runs the steps and ends")
    parser.add_argument("--application-id", help="EMR Serverless application running the jobs")
    parser.add_argument(
        "--subnet-id", help="emr --transient, stepfunctions: the cluster's subnet (default: the default VPC's)"
    )
    parser.add_argument(
        "--endpoint-url",
        type=job_args.parse_endpoint_url,
        help="an AWS-compatible endpoint (default: AWS, or AWS_ENDPOINT_URL)",
    )
    parser.add_argument("--region", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or us-east-1)")
    parser.add_argument("--dry-run", action="store_true", help="print every request as one JSON line; send nothing")
    parser.add_argument("--glue-version", default="5.0", help="5.0 (default) or 5.1")
    parser.add_argument("--library", help="zip or venv (default: zip on Glue and EMR, venv on EMR Serverless)")
    parser.add_argument(
        "--python-version", help="Python of the packed environment (default: 3.11 on Glue, 3.9 on EMR/EMR Serverless)"
    )
    parser.add_argument("--arch", default="x86_64", help="architecture of the packed environment: x86_64 or arm64")
    parser.add_argument("--format", default="delta", choices=("parquet", "delta"), help="table format (default delta)")
    job_args.add_incremental_option(parser, "jobs convert only raw files not seen before")
    parser.add_argument("--dist", default="dist", help="folder made by make package (default dist)")
    parser.add_argument("--root", help="render: the checkout to write into (default: this one)")
    parser.add_argument("--check", action="store_true", help="render: only report differences (exit 1 if any)")


#: Options only some targets read (attribute -> those targets): any other target would ignore them.
TARGET_ONLY_OPTIONS = {
    "cluster_id": ("emr",),
    "account_id": ("emr",),
    "transient": ("emr",),
    "application_id": ("emr-serverless",),
    "subnet_id": ("emr", "stepfunctions"),
}


def refuse_ignored_options(args) -> None:
    """One line naming the given options that ``--target`` would ignore (``--cluster-id`` on Glue...)."""
    stray = [name for name, only in TARGET_ONLY_OPTIONS.items() if getattr(args, name) and args.target not in only]
    if stray:
        options = ", ".join("--" + name.replace("_", "-") for name in stray)
        raise UsageError(f"{options}: not an option of --target {args.target}, which would ignore it")
    arch = normalize_arch(args.arch)
    if args.target == "glue" and arch != "x86_64":  # with --library zip it was ignored without a word
        raise UsageError(f"Glue runs on x86_64: an --arch {arch} environment's compiled packages would not load there")


#: The options ``deploy render`` reads: it renders fixed example values, so it would ignore any other.
RENDER_OPTIONS = ("action", "root", "check")


def refuse_options_render_ignores(args) -> None:
    """One line naming the given options ``deploy render`` would ignore, or render's own given without it.

    ``deploy render --check --format parquet`` said "0 file(s) differ": the committed files are
    rendered from example values (bucket, account, a Delta pipeline), whatever options come with it.
    """
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    given = [
        action
        for action in parser._actions  # noqa: SLF001 - argparse keeps them there
        if action.option_strings and getattr(args, action.dest) != action.default
    ]
    if args.action == "render":
        stray = [action.option_strings[0] for action in given if action.dest not in RENDER_OPTIONS]
        if stray:
            raise UsageError(
                f"{', '.join(stray)}: not an option of deploy render, which renders the committed example values "
                "(glue/README.md names them) and would ignore it"
            )
        return
    own = [action.option_strings[0] for action in given if action.dest in RENDER_OPTIONS]
    if own:
        raise UsageError(f"{', '.join(own)}: an option of deploy render only, which this deploy would ignore")


def _config(args):
    from lakejobs.deploy.description import DeployConfig
    from lakejobs.deploy.execute import aws_region

    return DeployConfig(
        bucket=args.bucket,
        prefix=args.prefix,
        region=aws_region(args.region),
        role_arn=args.role_arn,
        cluster_id=args.cluster_id,
        transient=args.transient,
        application_id=args.application_id,
        subnet_id=args.subnet_id,
        name_prefix=args.name_prefix,
        account_id=args.account_id,
        glue_version=args.glue_version,
        library=args.library,
        python_version=args.python_version,
        arch=normalize_arch(args.arch),  # aarch64 names the arm64 archive make package writes
        dist=args.dist,
        output_format=args.format,
        incremental=args.incremental,
        run_token=uuid.uuid4().hex,
    ).validate()


def cmd_render(args) -> int:
    """Rewrite (or with ``--check`` compare) the committed definitions."""
    from lakejobs.deploy.render import differences, write_rendered
    from lakejobs.session import project_root

    root = Path(args.root) if args.root else project_root()
    if not (root / "setup.py").is_file():  # a mistyped --root got the whole glue/, emr/ tree written there
        raise UsageError(
            f"--root {root} is not a lakejobs checkout (no setup.py): give the folder holding glue/ and emr/"
        )
    changed = differences(root) if args.check else write_rendered(root)
    for path in changed:
        print(f"{'differs' if args.check else 'rendered'}: {path}")
    if args.check and changed:
        print("run: lakejobs deploy render (or make render)")
        return 1
    print(f"{len(changed)} file(s) {'differ' if args.check else 'changed'} under {root}")
    return 0


def _callers_account(config, endpoint_url) -> str:
    """These credentials' account (``sts:GetCallerIdentity``, which needs no permission); one line if unreadable."""
    from botocore.exceptions import BotoCoreError, ClientError

    from lakejobs.deploy.execute import client_factory

    try:
        return client_factory(config.region, endpoint_url)("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        raise UsageError(
            f"deploy policy --target emr names the cluster and the EMR roles in the deploying account, which "
            f"these credentials do not tell ({error}): give --account-id"
        ) from None


def cmd_policy(args, config) -> int:
    """Print the IAM policy allowing exactly what ``lakejobs deploy --target`` sends, for these values."""
    import json

    from lakejobs.deploy.deployer_iam import DEPLOYER_POLICIES, REQUIRED

    config.require(args.target, *REQUIRED[args.target])
    if args.target == "emr" and not config.account_id:
        config = dataclasses.replace(config, account_id=_callers_account(config, args.endpoint_url))
    print(json.dumps(DEPLOYER_POLICIES[args.target](config), indent=2))
    return 0


def cmd_deploy(args) -> int:
    """Print (``--dry-run``) or send the requests of ``--target``; or print its deployer policy."""
    refuse_options_render_ignores(args)
    if args.action == "render":
        return cmd_render(args)
    from lakejobs.deploy.description import sales_pipeline
    from lakejobs.deploy.requests import TARGETS, planned

    if not args.target:
        raise UsageError(f"deploy needs --target ({', '.join(TARGETS)})")
    if args.target not in TARGETS:
        raise UsageError(f"unknown --target {args.target!r}: expected one of {', '.join(TARGETS)}")
    if not args.bucket:
        raise UsageError(f"--target {args.target} needs --bucket")
    refuse_ignored_options(args)
    if args.account_id and args.action != "policy":
        raise UsageError("--account-id is an option of deploy policy: a deploy's account is its credentials'")
    config = _config(args)
    if args.action == "policy":
        return cmd_policy(args, config)
    pipeline = sales_pipeline(config.output_format, config.incremental)
    requests = TARGETS[args.target](pipeline, config)
    if args.dry_run:
        for request in planned(requests):
            print(request.to_json())
        return 0
    return _send(pipeline, requests, config, args)


def _send(pipeline, requests, config, args) -> int:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    from lakejobs.deploy import preflight
    from lakejobs.deploy.execute import client_factory, execute, refuse_another_accounts_role

    client_for = client_factory(config.region, args.endpoint_url)
    if args.target != "emr":  # an EMR step's runtime role may be of another account (AddJobFlowSteps)
        refuse_another_accounts_role(config.role_arn, client_for)
    try:
        requests, sent = preflight.check(args.target, pipeline, requests, config, client_for)  # before any upload
        sent += execute(requests, client_for)
    except (Boto3Error, BotoCoreError, ClientError) as error:
        raise LakejobsError(f"deploy to {args.target} failed: {error}") from None
    done = ", ".join(f"{operation} x{count}" for operation, count in sorted(sent.items()))
    print(f"deployed to {args.target} under {config.layout.root}: {done}")
    return 0


def register(commands) -> None:
    """Add ``deploy`` to the CLI's subcommands."""
    deploy = commands.add_parser("deploy", help="deploy to Glue, EMR or EMR Serverless; render the definitions")
    add_arguments(deploy)
    deploy.set_defaults(func=cmd_deploy)
