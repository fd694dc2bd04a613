"""A documented patch of moto's Glue emulator: ``UpdateJob``, which moto 5.2.5 does not implement.

moto answers ``UpdateJob`` with "The update_job action has not been implemented". AWS's API
reference says the previous job definition is completely overwritten by ``JobUpdate``;
this adds exactly that to moto's in-process backend (the server runs in this process), so a
second ``lakejobs deploy --target glue`` can be tested to update jobs in place. Name,
creation time, tags and runs are kept; every other field takes the ``JobUpdate`` value or
its absence.
"""

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.glue.models import GlueBackend
from moto.glue.responses import GlueResponse

#: JobUpdate field -> (FakeJob attribute, value when the field is absent).
FIELDS = {
    "Description": ("description", None),
    "LogUri": ("log_uri", None),
    "Role": ("role", None),
    "ExecutionProperty": ("execution_property", {}),
    "Command": ("command", None),
    "DefaultArguments": ("default_arguments", {}),
    "NonOverridableArguments": ("non_overridable_arguments", None),
    "Connections": ("connections", None),
    "MaxRetries": ("max_retries", None),
    "AllocatedCapacity": ("allocated_capacity", None),
    "Timeout": ("timeout", None),
    "MaxCapacity": ("max_capacity", None),
    "WorkerType": ("worker_type", None),
    "NumberOfWorkers": ("number_of_workers", None),
    "SecurityConfiguration": ("security_configuration", None),
    "NotificationProperty": ("notification_property", None),
    "GlueVersion": ("glue_version", None),
    "CodeGenConfigurationNodes": ("code_gen_configuration_nodes", None),
    "ExecutionClass": ("execution_class", "STANDARD"),
    "SourceControlDetails": ("source_control_details", None),
}


def _backend_update_job(self, name, job_update):
    job = self.get_job(name)  # EntityNotFoundException when there is no such job, as on AWS
    for field, (attribute, absent) in FIELDS.items():
        setattr(job, attribute, job_update.get(field, absent))
    job.last_modified_on = utcnow()
    return name


def _response_update_job(self):
    name = self._get_param("JobName")
    return ActionResult({"JobName": self.glue_backend.update_job(name, self._get_param("JobUpdate"))})


def add_update_job() -> None:
    """Teach moto's Glue backend and responses ``UpdateJob`` (idempotent)."""
    if not hasattr(GlueBackend, "update_job"):
        GlueBackend.update_job = _backend_update_job
    if not hasattr(GlueResponse, "update_job"):
        GlueResponse.update_job = _response_update_job
