"""AWS Glue 5 job definitions (``CreateJob`` / ``UpdateJob``) and run arguments of a job.

Glue passes every ``DefaultArguments`` entry to the script, next to its own (``--JOB_NAME``,
``--JOB_RUN_ID``, ...); ``lakejobs.args`` sets Glue's aside, so the job sees only its own.
"""

from typing import Dict, Optional

from lakejobs.deploy.description import TEMP, DeployConfig, Job
from lakejobs.session import DELTA_CONF


def glue_conf_value(conf: Dict[str, str]) -> str:
    """Several Spark settings as Glue's one ``--conf`` value: ``a=1 --conf b=2``.

    Glue accepts a single ``--conf`` key; AWS's Delta Lake guide gives further settings
    inside its value, each after `` --conf ``.
    """
    return " --conf ".join(f"{key}={value}" for key, value in conf.items())


def glue_job_name(job: Job, config: DeployConfig) -> str:
    """The Glue job's name."""
    return config.job_name(job)


def glue_run_arguments(job: Job, config: DeployConfig) -> Dict[str, str]:
    """The job's own arguments as a ``StartJobRun`` ``Arguments`` map (``{"--input_path": ...}``)."""
    return {f"--{name}": value for name, value in job.resolved_arguments(config.layout.root).items()}


#: Where a job's ``--TempDir`` is under its lake root.
GLUE_TEMP = f"{TEMP}/glue/"


def lake_root(default_arguments: Dict[str, str]) -> Optional[str]:
    """The lake root (``s3://bucket/prefix/``) a deployed job's ``DefaultArguments`` point to; None if not a root's.

    Every job this project deploys has ``--TempDir`` ``<root>tmp/glue/``.
    """
    temp = default_arguments.get("--TempDir", "")
    return temp[: -len(GLUE_TEMP)] if temp.startswith("s3://") and temp.endswith("/" + GLUE_TEMP) else None


def glue_default_arguments(job: Job, config: DeployConfig) -> Dict[str, str]:
    """``DefaultArguments``: the library, Delta, logging and metrics, then the job's own arguments."""
    arguments = {
        "--job-language": "python",
        "--extra-py-files": config.lib_zip_uri,
    }
    if config.library_for("glue") == "venv":
        # Glue 5.0+: a manually built environment replaces Glue's Python packages entirely.
        arguments["--python-virtual-env"] = config.env_uri_for("glue")
    arguments.update(
        {
            "--datalake-formats": "delta",
            "--conf": glue_conf_value(DELTA_CONF),
            "--enable-metrics": "true",
            # No --enable-continuous-cloudwatch-log: a Glue 4.0-and-earlier flag; Glue 5 logs in
            # real time to /aws-glue/jobs/error and /aws-glue/jobs/output anyway.
            # The project keeps its own incremental state (_lakejobs/state/), so no bookmarks.
            "--job-bookmark-option": "job-bookmark-disable",
            "--TempDir": config.layout.uri(GLUE_TEMP),
            "--encryption-type": "sse-s3",
        }
    )
    arguments.update(glue_run_arguments(job, config))
    return arguments


def glue_job_definition(job: Job, config: DeployConfig) -> Dict[str, object]:
    """The ``CreateJob`` request of ``job``."""
    config.require("glue", "role_arn")
    return {
        "Name": glue_job_name(job, config),
        "Description": job.description,
        "Role": config.role_arn,
        "ExecutionProperty": {"MaxConcurrentRuns": 1},
        "Command": {"Name": "glueetl", "ScriptLocation": config.script_uri(job), "PythonVersion": "3"},
        "DefaultArguments": glue_default_arguments(job, config),
        "MaxRetries": 0,
        "Timeout": job.sizes.timeout_minutes,
        "GlueVersion": config.glue_version,
        "WorkerType": job.sizes.worker_type,
        "NumberOfWorkers": job.sizes.workers,
        "ExecutionClass": "STANDARD",
        "Tags": {"project": "lakejobs", "lakejobs:job": job.key},
    }


def glue_update_request(definition: Dict[str, object]) -> Dict[str, object]:
    """The ``UpdateJob`` request that makes an existing job equal to a ``CreateJob`` definition."""
    update = {key: value for key, value in definition.items() if key not in ("Name", "Tags")}
    return {"JobName": definition["Name"], "JobUpdate": update}
