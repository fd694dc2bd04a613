"""Errors a job reports to its caller as one clear line.

Exit codes follow the usual shell convention: 2 for a usage error (bad arguments, a missing
path, an unknown dataset, a bad schema), 1 for a run that failed (a quality gate, an
unexpected error).
"""


class LakejobsError(Exception):
    """Base class for errors that carry their own exit code and a one-line message."""

    exit_code = 1

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        #: The partial ``JobResult`` of the run that failed, when there is one.
        self.result = result


class UsageError(LakejobsError):
    """The caller asked for something that cannot be done: fix the arguments and rerun."""

    exit_code = 2


class QualityGateError(LakejobsError):
    """The input broke a declared rule, so nothing was published."""

    exit_code = 1
