"""Amazon EMR on EC2: ``spark-submit`` steps (``AddJobFlowSteps``) and a transient cluster (``RunJobFlow``)."""

from typing import Dict, List

from lakejobs.deploy.description import DeployConfig, Job, Pipeline
from lakejobs.session import DELTA_CONF

#: Steps on a cluster that outlives them: a failed step cancels the pending ones, the cluster stays.
ON_FAILURE_KEEP_CLUSTER = "CANCEL_AND_WAIT"
#: Steps of a transient cluster: a failed step ends the cluster (and the pending steps).
ON_FAILURE_TRANSIENT = "TERMINATE_CLUSTER"
#: EMRFS (``s3://`` on EMR) sends SSE-S3 on every write when this is set.
EMRFS_SSE = {"fs.s3.enableServerSideEncryption": "true"}
#: The tag AmazonEMRServicePolicy_v2 requires on clusters (and on the subnet and security groups).
MANAGED_POLICY_TAG = "for-use-with-amazon-emr-managed-policies"
VENV_PYTHON = "./environment/bin/python"
#: A transient cluster's core nodes, which run YARN's containers (the primary node runs none).
CORE_NODES = 2
#: What YARN offers containers on one node of an instance type (``yarn.nodemanager.resource.memory-mb``
#: and ``.cpu-vcores``, EMR's defaults: 12288 MB of a 16 GiB xlarge, as in EMR's "Task configuration"
#: table, and its 4 vCPUs), and the size YARN rounds each request up to (``minimum-allocation-mb``).
#: The jobs' sizes are chosen so that a driver and ``max_executors`` executors fit on the core nodes
#: (a test computes it): until session 49, 10g executors (11264 MB with overhead) fit one a node,
#: and beside the 4g driver only one ran of the three the orders and mart jobs asked for.
YARN_NODE_MEMORY_MB = {"m6i.xlarge": 12288}
YARN_NODE_VCORES = {"m6i.xlarge": 4}
YARN_MIN_ALLOCATION_MB = 32


def sizing_conf(job: Job) -> Dict[str, str]:
    """Driver and executor sizes of ``job`` as Spark settings."""
    sizes = job.sizes
    return {
        "spark.driver.cores": str(sizes.driver_cores),
        "spark.driver.memory": sizes.driver_memory,
        "spark.executor.cores": str(sizes.executor_cores),
        "spark.executor.memory": sizes.executor_memory,
        "spark.dynamicAllocation.maxExecutors": str(sizes.max_executors),
    }


#: EMR 7 keeps Delta's jars here (on EMR Serverless too); a job gets them only when asked.
DELTA_SPARK_JAR = "/usr/share/aws/delta/lib/delta-spark.jar"
DELTA_JARS = f"{DELTA_SPARK_JAR},/usr/share/aws/delta/lib/delta-storage.jar"


def common_conf() -> Dict[str, str]:
    """Settings every EMR and EMR Serverless run gets: Delta's session, encrypted writes."""
    conf = dict(DELTA_CONF)
    conf.update({f"spark.hadoop.{key}": value for key, value in EMRFS_SSE.items()})
    return conf


def conf_args(conf: Dict[str, str]) -> List[str]:
    """``--conf key=value`` tokens, in order."""
    return [token for key, value in conf.items() for token in ("--conf", f"{key}={value}")]


def spark_submit_args(job: Job, config: DeployConfig) -> List[str]:
    """The ``spark-submit`` command line of ``job`` on an EMR cluster (YARN, cluster mode).

    Delta's Python API (``delta.tables``, inside ``delta-spark.jar``) is put on the Python path
    (``--py-files``), as ``--packages`` would put it. Its jars come from the cluster's
    ``delta-defaults`` classification (a ``--jars`` here would replace any ``spark.jars`` the
    cluster sets for other jobs).
    """
    args = [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--name",
        config.job_name(job),
        "--py-files",
        f"{config.lib_zip_uri},{DELTA_SPARK_JAR}",
    ]
    conf = sizing_conf(job)
    # One attempt: in cluster mode YARN starts a failed driver again (2 attempts by default), so
    # a failed run (a quality gate, a usage error) ran twice before its step failed.
    conf["spark.yarn.maxAppAttempts"] = "1"
    if config.library_for("emr") == "venv":
        args += ["--archives", config.env_uri_for("emr") + "#environment"]
        conf["spark.yarn.appMasterEnv.PYSPARK_PYTHON"] = VENV_PYTHON
        conf["spark.executorEnv.PYSPARK_PYTHON"] = VENV_PYTHON
    conf.update(common_conf())
    return args + conf_args(conf) + [config.script_uri(job)] + job.argv(config.layout.root)


def emr_step(job: Job, config: DeployConfig, action_on_failure: str = ON_FAILURE_KEEP_CLUSTER) -> Dict[str, object]:
    """One EMR step running ``job`` through ``command-runner.jar``."""
    return {
        "Name": config.job_name(job),
        "ActionOnFailure": action_on_failure,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": spark_submit_args(job, config)},
    }


def emr_steps(pipeline: Pipeline, config: DeployConfig, action_on_failure: str) -> List[Dict[str, object]]:
    """Every job as a step, stage after stage (EMR runs steps one at a time by default)."""
    return [emr_step(job, config, action_on_failure) for job in pipeline.ordered_jobs()]


def add_steps_request(pipeline: Pipeline, config: DeployConfig) -> Dict[str, object]:
    """The ``AddJobFlowSteps`` request for a running cluster (``--cluster-id``).

    With ``role_arn`` the steps run as that runtime role (EMR 6.7+, on a cluster whose security
    configuration enables runtime roles) instead of the cluster's instance profile.
    """
    config.require("emr", "cluster_id")
    request = {"JobFlowId": config.cluster_id, "Steps": emr_steps(pipeline, config, ON_FAILURE_KEEP_CLUSTER)}
    if config.role_arn:
        request["ExecutionRoleArn"] = config.role_arn
    return request


def cluster_configurations() -> List[Dict[str, object]]:
    """Cluster classifications: Delta on the classpath and in the session, EMRFS encryption."""
    return [
        {"Classification": "delta-defaults", "Properties": {"delta.enabled": "true"}},
        {"Classification": "spark-defaults", "Properties": dict(DELTA_CONF)},
        {"Classification": "emrfs-site", "Properties": dict(EMRFS_SSE)},
    ]


def run_job_flow_request(pipeline: Pipeline, config: DeployConfig, with_steps: bool = True) -> Dict[str, object]:
    """The ``RunJobFlow`` request of a transient cluster that runs the pipeline and terminates."""
    request = {
        "Name": f"{config.name_prefix}pipeline",
        "LogUri": config.log_uri("emr"),
        "ReleaseLabel": config.release_label,
        "Applications": [{"Name": "Spark"}],
        "Configurations": cluster_configurations(),
        "Instances": {
            "InstanceGroups": [
                {
                    "Name": "primary",
                    "InstanceRole": "MASTER",
                    "InstanceType": config.emr_instance_type,
                    "InstanceCount": 1,
                },
                {
                    "Name": "core",
                    "InstanceRole": "CORE",
                    "InstanceType": config.emr_instance_type,
                    "InstanceCount": CORE_NODES,
                },
            ],
            "KeepJobFlowAliveWhenNoSteps": False,
            "TerminationProtected": False,
            **({"Ec2SubnetId": config.subnet_id} if config.subnet_id else {}),
        },
        "Steps": emr_steps(pipeline, config, ON_FAILURE_TRANSIENT) if with_steps else [],
        # A safety net when steps are added later (Step Functions): idle for 1 hour -> terminated.
        "AutoTerminationPolicy": {"IdleTimeout": 3600},
        "JobFlowRole": config.emr_instance_profile,
        "ServiceRole": config.emr_service_role,
        "VisibleToAllUsers": True,
        # The service role's managed policy (AmazonEMRServicePolicy_v2) acts only on resources
        # carrying this tag; EMR propagates the cluster's tags to what it provisions.
        "Tags": [{"Key": "project", "Value": "lakejobs"}, {"Key": MANAGED_POLICY_TAG, "Value": "true"}],
    }
    return request
