"""``Job``: Glue's run bookkeeping (bookmarks, metrics); here it records the calls made to it."""

CALLS = []


class Job:
    """Like ``awsglue.job.Job(glue_context)``."""

    def __init__(self, glue_context):
        self.glue_context = glue_context
        self.initialised = False

    def init(self, job_name, args=None):
        if self.initialised:
            raise RuntimeError("Job.init called twice")
        self.initialised = True
        CALLS.append(("init", job_name, dict(args or {})))

    def commit(self):
        if not self.initialised:
            raise RuntimeError("Job.commit called before Job.init")
        CALLS.append(("commit",))
