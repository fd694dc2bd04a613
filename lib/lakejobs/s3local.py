"""A real S3 API server on loopback (moto's), for tests and ``make run-s3``.

Development only: moto is a dev dependency and is imported when a server is started.
"""

import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator

ENV_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")


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

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {key: os.environ.get(key) for key in ENV_KEYS}
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
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
