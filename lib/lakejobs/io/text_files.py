"""Read a small text file named by a job argument (a schema, a ruleset) before Spark starts."""

import os
from urllib.parse import urlparse

from lakejobs import fs
from lakejobs.errors import UsageError

#: S3 error codes that mean the object is not there.
MISSING_OBJECT_CODES = ("NoSuchKey", "NoSuchBucket", "404")


def read_text_file(path: str, what: str) -> str:
    """Read a UTF-8 text file: a local path, or ``s3://``/``s3a://`` through boto3.

    A leading byte order mark (as some Windows editors save UTF-8) is dropped.

    Parameters
    ----------
    path : str
        The file, as the user gave it.
    what : str
        What it is, for errors (``"schema file"``, ``"rules file"``).

    Raises
    ------
    UsageError
        One line naming ``path``: the file is missing, cannot be read, or is not UTF-8 text.
    """
    try:
        data = _read_s3(path, what) if urlparse(path).scheme in ("s3", "s3a", "s3n") else _read_local(path, what)
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte {error.start})") from error


def _read_local(path: str, what: str) -> bytes:
    local = fs.local_path(path)
    if os.path.isdir(local):
        raise UsageError(f"{what} {path} is a folder, not a file")
    if not os.path.exists(local):  # a pipe (``--rules <(...)``, /dev/stdin) is read as a file is
        raise UsageError(f"{what} does not exist: {path}")
    try:
        with open(local, "rb") as handle:
            return handle.read()
    except OSError as error:  # no permission, an I/O error
        raise UsageError(f"cannot read {what} {path}: {error.strerror or error}") from error


def _read_s3(path: str, what: str) -> bytes:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    parsed = urlparse(path)
    try:
        response = boto3.client("s3").get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
        return response["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in MISSING_OBJECT_CODES:
            raise UsageError(f"{what} does not exist: {path}") from error
        raise UsageError(f"cannot read {what} {path}: {code or type(error).__name__}") from error
    except BotoCoreError as error:
        raise UsageError(f"cannot read {what} {path}: {type(error).__name__}: {error}") from error
