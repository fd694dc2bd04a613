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


def root_cause(error: BaseException) -> str:
    """The innermost cause of an error as ``Type: first line of its message``.

    For errors raised by the JVM (py4j's ``Py4JJavaError``) the Java cause chain is followed,
    so ``An error occurred while calling o87.save`` becomes, e.g.,
    ``ConnectException: Connection refused``.
    """
    java = getattr(error, "java_exception", None)
    if java is not None:
        try:
            cause = java
            while cause.getCause() is not None and cause.getCause() is not cause:
                cause = cause.getCause()
            return _one_line(cause.getClass().getSimpleName(), cause.getMessage())
        except Exception:  # noqa: BLE001 - the JVM may be gone; fall back to Python's view
            pass
    while error.__cause__ is not None:
        error = error.__cause__
    return _one_line(type(error).__name__, str(error))


def _one_line(kind: str, message: object) -> str:
    text = str(message or "").strip()
    return f"{kind}: {text.splitlines()[0]}" if text else kind
