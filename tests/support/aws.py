"""A moto server for the test session, reset before each test, with the template's resources."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from chalicelib.jobs.template import load_template
from infra.emulator import AwsEmulator
from infra.local.resources import LocalResources, create_resources

REGION = "eu-north-1"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """Run moto on a free loopback port; yields its endpoint URL."""
    server = AwsEmulator(port=0)  # bound here and kept: a probed free port could be taken before use
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def fresh_resources(endpoint: str) -> LocalResources:
    """Forget everything in moto and create the template's resources again."""
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    return create_resources(load_template("template.yaml"), REGION)
