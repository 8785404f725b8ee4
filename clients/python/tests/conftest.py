"""The suite runs against a real broker's JSON-lines gateway at SWITCHBOARD_JSONLINES ("host:port"); the .NET test
PythonPackageTests starts one and sets it. Without it the suite fails at once rather than skipping every test."""

import os

import pytest

from switchboard_client import Client


def _address():
    value = os.environ.get("SWITCHBOARD_JSONLINES")
    if not value:
        raise pytest.UsageError("set SWITCHBOARD_JSONLINES=host:port to a broker's JSON-lines gateway")
    host, _, port = value.rpartition(":")
    return host, int(port)


@pytest.fixture
def connect():
    """Opens clients to the broker and closes every one at the end of the test."""
    opened = []

    def open_client(**kwargs):
        host, port = _address()
        client = Client(host, port, **kwargs)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()
