"""Amazon States Language building blocks: run-time S3 locations, retries, catches, notify.

Definitions are rendered with a deployment whose bucket is ``BUCKET_TOKEN``; every string
holding the token's root becomes a ``States.Format`` over the execution input's ``bucket``
and ``prefix``, so no bucket (and no account id) is written into a definition.
"""

from typing import Dict, List, Optional

#: Stands for the bucket while rendering; never reaches a definition.
BUCKET_TOKEN = "lakejobs-run-bucket"
ROOT_TOKEN = f"s3://{BUCKET_TOKEN}/"
#: What the execution input must hold (see ``lakejobs pipeline start``).
INPUT_ROOT = "s3://{}/{}"
INPUT_ROOT_ARGS = "$.bucket, $.prefix"

NOTIFY_FAILURE = "Notify failure"
#: The Choice in front of each notification: what every failure goes to (see ``notify_states``).
ON_FAILURE = f"{NOTIFY_FAILURE}?"
PIPELINE_FAILED = "Pipeline failed"
SUCCEEDED = "Succeeded"
#: The error a branch raises after it has notified, so the enclosing Parallel does not notify again.
NOTIFIED_ERROR = "lakejobs.JobFailedAndNotified"


def _escape(text: str) -> str:
    """Escape a literal for a ``States.Format`` template (``'``, ``{``, ``}`` and ``\\``)."""
    for char in ("\\", "'", "{", "}"):
        text = text.replace(char, "\\" + char)
    return text


def run_time(text: str) -> Optional[str]:
    """The ``States.Format`` expression of a string holding ``ROOT_TOKEN``; None for a constant."""
    parts = text.split(ROOT_TOKEN)
    if len(parts) == 1:
        return None
    template = INPUT_ROOT.join(_escape(part) for part in parts)
    return f"States.Format('{template}', {', '.join([INPUT_ROOT_ARGS] * (len(parts) - 1))})"


def parameters(value):
    """Task ``Parameters`` from rendered request parameters: run-time strings get ``.$`` keys.

    A list holding a run-time string becomes one ``States.Array(...)`` expression.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            expression = _expression(item)
            if expression is None:
                out[key] = parameters(item)
            else:
                out[f"{key}.$"] = expression
        return out
    return value


def _expression(value) -> Optional[str]:
    if isinstance(value, str):
        return run_time(value)
    if isinstance(value, list) and any(isinstance(item, str) and ROOT_TOKEN in item for item in value):
        items = [run_time(item) or f"'{_escape(item)}'" for item in value]
        return f"States.Array({', '.join(items)})"
    return None


def retry(errors: List[str], interval_s: int = 30, attempts: int = 4, backoff: float = 2.0) -> List[Dict]:
    """Retry ``errors`` with exponential backoff (30 s, 60 s, 120 s, 240 s by default)."""
    return [{"ErrorEquals": errors, "IntervalSeconds": interval_s, "MaxAttempts": attempts, "BackoffRate": backoff}]


def catch(next_state: str) -> List[Dict]:
    """Catch every error into ``$.error`` (the input is kept) and go to ``next_state``."""
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": next_state}]


SNS_RETRY_ERRORS = ["SNS.ThrottledException", "SNS.InternalErrorException", "States.Timeout"]


#: SNS refuses a subject of 100 characters or more; the notification's is fixed, well below.
SNS_SUBJECT_MAX = 99
#: The notification's text: the execution's name, then its error and input as one JSON document.
NOTIFY_MESSAGE = (
    "States.Format('lakejobs pipeline execution {} failed; its error and input: {}', "
    "$$.Execution.Name, States.JsonToString($))"
)


def notify_state(next_state: str, what: str = "the pipeline", subject: str = "lakejobs pipeline failed") -> Dict:
    """SNS publish of the execution's name, the error and the state's data (the execution input), then ``next_state``.

    The subject is fixed: with the execution's name (up to 80 characters) it could pass SNS's
    limit, and the publish failed, caught: no one was told. Its own failure is caught too: the
    execution then fails without a notification.
    """
    if len(subject) > SNS_SUBJECT_MAX:
        raise ValueError(f"an SNS subject holds at most {SNS_SUBJECT_MAX} characters: {subject!r}")
    return {
        "Type": "Task",
        "Comment": f"Tell the operators that {what} failed: the execution, the error and the execution input.",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {
            "TopicArn.$": "$.notify_topic_arn",
            "Subject": subject,
            "Message.$": NOTIFY_MESSAGE,
        },
        "ResultPath": None,
        "TimeoutSeconds": 60,
        "Retry": retry(SNS_RETRY_ERRORS, interval_s=5, attempts=3),
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.notify_error", "Next": next_state}],
        "Next": next_state,
    }


def topic_choice(notify: str, failed: str) -> Dict:
    """Go to ``notify`` when the input names a topic, else straight to ``failed``.

    ``pipeline start`` sends ``notify_topic_arn`` "" without ``--notify-topic-arn``, and SNS
    refuses a publish to an empty TopicArn (InvalidParameter): until session 49 every failed
    execution without a topic recorded that spurious error on its way to ``failed``. The rules
    are tried in order, so the empty-string test never reads a missing key.
    """
    return {
        "Type": "Choice",
        "Comment": "Notify only when the execution input names a topic (notify_topic_arn).",
        "Choices": [
            {"Variable": "$.notify_topic_arn", "IsPresent": False, "Next": failed},
            {"Variable": "$.notify_topic_arn", "StringEquals": "", "Next": failed},
        ],
        "Default": notify,
    }


def notify_states(notify: str, failed: str, what: str = "the pipeline", subject: str = "lakejobs pipeline failed"):
    """``<notify>?`` (``topic_choice``), then ``notify`` (``notify_state``): a failure goes to ``<notify>?``."""
    return {f"{notify}?": topic_choice(notify, failed), notify: notify_state(failed, what, subject)}


def fail_state(error: str, cause: str) -> Dict:
    """A ``Fail`` state."""
    return {"Type": "Fail", "Error": error, "Cause": cause}


def task(resource: str, params: Dict, retry_errors: List[str], timeout_s: int, on_error: str, **extra) -> Dict:
    """A Task with run-time parameters, a timeout, Retry on ``retry_errors`` and Catch to ``on_error``."""
    state = {
        "Type": "Task",
        "Resource": resource,
        "Parameters": parameters(params),
        "ResultPath": None,
        "TimeoutSeconds": timeout_s,
        "Retry": retry(retry_errors),
        "Catch": catch(on_error),
    }
    state.update(extra)
    return state


def chain(states: List[tuple], last_next: Optional[str]) -> Dict[str, Dict]:
    """``[(name, state), ...]`` linked in order; the last goes to ``last_next`` (or ends)."""
    out = {}
    for index, (name, state) in enumerate(states):
        following = states[index + 1][0] if index + 1 < len(states) else last_next
        state = dict(state)
        if following is None:
            state["End"] = True
        else:
            state["Next"] = following
        out[name] = state
    return out
