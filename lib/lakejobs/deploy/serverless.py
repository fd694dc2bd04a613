"""EMR Serverless job runs (``StartJobRun``) of a job."""

from typing import Dict

from lakejobs.deploy.description import DeployConfig, Job
from lakejobs.deploy.emr import DELTA_JARS, DELTA_SPARK_JAR, VENV_PYTHON, common_conf, conf_args, sizing_conf


def serverless_conf(job: Job, config: DeployConfig) -> Dict[str, str]:
    """The Spark settings of ``job`` on EMR Serverless."""
    # delta-spark.jar holds Delta's Python API too (delta.tables), which the jobs import.
    conf = {"spark.jars": DELTA_JARS, "spark.submit.pyFiles": f"{config.lib_zip_uri},{DELTA_SPARK_JAR}"}
    if config.library_for("emr-serverless") == "venv":
        conf["spark.archives"] = config.env_uri_for("emr-serverless") + "#environment"
        conf["spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON"] = VENV_PYTHON
        conf["spark.emr-serverless.driverEnv.PYSPARK_PYTHON"] = VENV_PYTHON
        conf["spark.executorEnv.PYSPARK_PYTHON"] = VENV_PYTHON
    conf.update(sizing_conf(job))
    conf.update(common_conf())
    return conf


def serverless_job_driver(job: Job, config: DeployConfig) -> Dict[str, object]:
    """The ``jobDriver`` of ``job``: its script, its arguments and ``spark-submit`` settings."""
    return {
        "sparkSubmit": {
            "entryPoint": config.script_uri(job),
            "entryPointArguments": job.argv(config.layout.root),
            "sparkSubmitParameters": " ".join(conf_args(serverless_conf(job, config))),
        }
    }


def serverless_start_job_run(job: Job, config: DeployConfig) -> Dict[str, object]:
    """The ``StartJobRun`` request of ``job``; ``clientToken`` is ``<run_token>-<job key>``."""
    config.require("emr-serverless", "application_id", "role_arn")
    return {
        "applicationId": config.application_id,
        "clientToken": f"{config.run_token}-{job.key}"[:64],
        "executionRoleArn": config.role_arn,
        "name": config.job_name(job),
        "jobDriver": serverless_job_driver(job, config),
        "configurationOverrides": {
            "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": config.log_uri("emr-serverless")}}
        },
        "executionTimeoutMinutes": job.sizes.timeout_minutes,
        "tags": {"project": "lakejobs", "lakejobs:job": job.key},
    }
