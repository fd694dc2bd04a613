"""Database logins for JDBC: from the environment or AWS Secrets Manager, never from arguments.

A ``DbLogin`` holds the JDBC URL (without secrets), the user and the password. The password
is kept out of ``repr`` and out of every message, so logs and errors cannot leak it.

Sources, in order:

1. ``--secret_id``: a Secrets Manager secret holding JSON as RDS and Redshift write it,
   ``{"username", "password", "host", "port", "dbname", "engine"}``; ``--jdbc_url`` (optional)
   wins over the secret's host, port and database.
2. Otherwise ``--jdbc_url`` with ``LAKEJOBS_DB_USER`` / ``LAKEJOBS_DB_PASSWORD`` (or a
   ``user=`` parameter in the URL and no password, for trust or IAM setups).

A URL that holds a password is refused: it would end up in process lists and job logs.
"""

import dataclasses
import json
import os
import re
from typing import Dict, Mapping, Optional

from lakejobs.errors import UsageError

USER_ENV = "LAKEJOBS_DB_USER"
PASSWORD_ENV = "LAKEJOBS_DB_PASSWORD"
URL_PREFIX = "jdbc:postgresql:"
_PASSWORD_IN_URL = re.compile(r"[?&;][a-z_]*password=|//[^/@]*:[^/@]*@", re.IGNORECASE)  # password=, sslpassword=


@dataclasses.dataclass(frozen=True)
class DbLogin:
    """Where to connect and as whom; ``password`` never shows in ``repr``."""

    url: str
    user: Optional[str] = None
    password: Optional[str] = dataclasses.field(default=None, repr=False)

    def properties(self) -> Dict[str, str]:
        """JDBC connection properties: the login, plus batched inserts for PostgreSQL."""
        props = {"reWriteBatchedInserts": "true"}
        if self.user:
            props["user"] = self.user
        if self.password:
            props["password"] = self.password
        return props


def check_jdbc_url(url: str) -> str:
    """Return ``url`` when it is a PostgreSQL JDBC URL without a password; else raise ``UsageError``.

    The message never repeats the URL (it might hold a secret).
    """
    if not url.startswith(URL_PREFIX + "//"):
        raise UsageError(
            f"--jdbc_url must look like {URL_PREFIX}//host:port/database "
            "(PostgreSQL and RDS PostgreSQL; see the README for Redshift)"
        )
    if _PASSWORD_IN_URL.search(url):
        raise UsageError(f"--jdbc_url must not hold a password: set {PASSWORD_ENV} or use --secret_id")
    return url


def login_from_env(url: str, environ: Optional[Mapping[str, str]] = None) -> DbLogin:
    """The login for ``url`` from ``LAKEJOBS_DB_USER`` / ``LAKEJOBS_DB_PASSWORD`` (both optional)."""
    env = os.environ if environ is None else environ
    return DbLogin(check_jdbc_url(url), env.get(USER_ENV) or None, env.get(PASSWORD_ENV) or None)


def login_from_secret(secret_id: str, url: Optional[str] = None, client=None) -> DbLogin:
    """The login stored in Secrets Manager secret ``secret_id`` (an RDS-style JSON secret).

    Parameters
    ----------
    secret_id : str
        The secret's name or ARN.
    url : str, optional
        A JDBC URL that wins over the secret's ``host``, ``port`` and ``dbname``.
    client : optional
        A boto3 ``secretsmanager`` client (default: one from the environment's settings).
    """
    secret = _secret_json(secret_id, client)
    missing = [key for key in ("username", "password") if not secret.get(key)]
    if not url:
        missing += [key for key in ("host", "dbname") if not secret.get(key)]
    if missing:
        raise UsageError(f"secret {secret_id} lacks {', '.join(missing)} (expected RDS-style JSON)")
    if not url:
        url = f"{URL_PREFIX}//{secret['host']}:{secret.get('port') or 5432}/{secret['dbname']}"
    return DbLogin(check_jdbc_url(url), str(secret["username"]), str(secret["password"]))


def secrets_client():
    """A boto3 ``secretsmanager`` client in ``AWS_REGION`` (which AWS's runtimes set), else boto3's own region."""
    import boto3

    # boto3 reads AWS_DEFAULT_REGION and the config file, not AWS_REGION.
    return boto3.client("secretsmanager", region_name=os.environ.get("AWS_REGION") or None)


def _secret_json(secret_id: str, client) -> Dict[str, object]:
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    try:
        client = client or secrets_client()
        response = client.get_secret_value(SecretId=secret_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise UsageError(f"cannot read secret {secret_id}: {code}") from None
    except NoRegionError:
        raise UsageError(
            f"cannot read secret {secret_id}: NoRegionError: set AWS_REGION (or AWS_DEFAULT_REGION) to the secret's "
            "region"
        ) from None
    except BotoCoreError as error:
        raise UsageError(f"cannot read secret {secret_id}: {type(error).__name__}") from None
    try:
        secret = json.loads(response.get("SecretString") or "")
    except ValueError:
        secret = None
    if not isinstance(secret, dict):
        raise UsageError(f"secret {secret_id} is not a JSON object (expected RDS-style JSON)")
    return secret


def resolve_login(url: Optional[str], secret_id: Optional[str]) -> DbLogin:
    """The login of a job: from ``secret_id`` when given, else from ``url`` and the environment."""
    if secret_id:
        return login_from_secret(secret_id, url)
    if not url:
        raise UsageError("give --jdbc_url (credentials from the environment) or --secret_id")
    return login_from_env(url)
