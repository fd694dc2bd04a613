"""A real S3 API server on loopback (moto's), for tests and ``make run-s3``.

Development only: moto is a dev dependency and is imported when a server is started.
"""

import os
import socket
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator

#: The variables set while a server runs. Those the machine may set that would send a request
#: elsewhere (``AWS_ENDPOINT_URL_S3`` wins over ``AWS_ENDPOINT_URL``) or fail it (an
#: ``AWS_PROFILE`` without its profile) are cleared, and no config file is read.
ENV_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
#: Seconds a server may take to listen before starting it counts as failed.
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def s3_server() -> Iterator[Dict[str, str]]:
    """Run moto's server on a free loopback port and point the AWS variables at it.

    Yields the environment it set (endpoint, region, test credentials); restores the previous
    values when done.
    """
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    no_config = tempfile.TemporaryDirectory(prefix="lakejobs-aws-")
    empty = os.path.join(no_config.name, "empty")  # a file, as the Java SDK wants (not /dev/null)
    open(empty, "w").close()
    server = start_moto_server()
    port = server.get_host_and_port()[1]
    saved = {key: os.environ.get(key) for key in ENV_KEYS}
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_CONFIG_FILE": empty,
        "AWS_SHARED_CREDENTIALS_FILE": empty,
    }
    for key in ENV_KEYS:
        os.environ.pop(key, None)
    os.environ.update(env)
    try:
        yield env
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        no_config.cleanup()


def start_moto_server(port: int = 0):
    """Start moto's server on 127.0.0.1 (``port`` 0: one the system picks as it binds) and return it.

    moto's own ``start`` waits forever when the port cannot be bound (the error ends its
    thread); here that fails after ``START_TIMEOUT_S``.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    starter = threading.Thread(target=server.start, daemon=True)
    starter.start()
    starter.join(START_TIMEOUT_S)
    if starter.is_alive():
        raise RuntimeError(f"the S3 API server (moto) did not listen on 127.0.0.1:{port} within {START_TIMEOUT_S:g} s")
    return server


def upload_folder(bucket: str, prefix: str, folder: Path) -> int:
    """Upload every file below ``folder`` to ``s3://bucket/prefix/...`` with boto3; return the count."""
    import boto3

    client = boto3.client("s3")
    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        client.upload_file(str(path), bucket, f"{prefix.strip('/')}/{path.relative_to(folder).as_posix()}")
        count += 1
    return count


def upload_sales_raw(bucket: str, raw: Path, prefix: str = "rawData") -> int:
    """Upload the sales pipeline's raw datasets (customers, employees, orders) below ``raw``; return the count.

    Other samples next to them (taxi, fx, ...) are left out: the sales pipeline does not read them.
    """
    from lakejobs.pipeline import DATASETS

    return sum(upload_folder(bucket, f"{prefix}/{name}", Path(raw) / name) for name in DATASETS)
