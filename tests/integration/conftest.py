"""Servers for integration tests: moto's S3 API server on loopback, reached through s3a and boto3."""

import urllib.request

import boto3
import pytest

from lakejobs import s3local
from lakejobs.session import configure_s3a


def reset_moto(env):
    """Forget every resource on the shared moto server (its ``/moto-api/reset`` endpoint)."""
    request = urllib.request.Request(f"{env['AWS_ENDPOINT_URL']}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


@pytest.fixture(scope="session")
def s3(spark):
    """A running S3 server; the suite's Spark session is pointed at it."""
    with s3local.s3_server() as env:
        configure_s3a(spark)
        yield {"env": env, "client": boto3.client("s3")}


@pytest.fixture
def bucket(s3, request):
    name = "lake-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    s3["client"].create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL server (initdb in a temp folder, a free loopback port), stopped at the end."""
    from lakejobs import pglocal

    with pglocal.postgres_server() as server:
        yield server
