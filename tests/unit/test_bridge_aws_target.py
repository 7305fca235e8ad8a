"""Where the SQS client sends requests: region from the queue address, AWS_ENDPOINT_URL_SQS,
plain http for loopback only (signed AWS requests must not travel unprotected)."""

from __future__ import annotations

import pytest

from core.auth.credentials import MemoryCredentialStore
from core.eventbridge.aws_credentials import (
    AwsSetupError,
    SqsTarget,
    is_loopback,
    resolve_target,
    stored_keys,
)

AWS_QUEUE = "https://sqs.eu-central-1.amazonaws.com/123456789012/genesys-events"


def test_region_comes_from_an_aws_queue_address() -> None:
    assert resolve_target(AWS_QUEUE, environ={}) == SqsTarget(AWS_QUEUE, "eu-central-1", None)
    assert resolve_target(AWS_QUEUE, region="us-west-2", environ={}).region == "us-west-2"


def test_endpoint_from_the_environment_or_the_queue_address() -> None:
    env = {"AWS_ENDPOINT_URL_SQS": "https://vpce-1.sqs.eu-central-1.vpce.amazonaws.com"}
    target = resolve_target(AWS_QUEUE, environ=env)
    assert target.endpoint_url == env["AWS_ENDPOINT_URL_SQS"]
    assert target.region == "eu-central-1"
    general = resolve_target(AWS_QUEUE, environ={"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"})
    assert general.endpoint_url == "http://127.0.0.1:4566"
    local = resolve_target("http://127.0.0.1:5000/123456789012/q", environ={})
    assert local == SqsTarget(
        "http://127.0.0.1:5000/123456789012/q", "us-east-1", "http://127.0.0.1:5000"
    )


@pytest.mark.parametrize(
    ("queue", "env"),
    [
        ("http://sqs.eu-central-1.amazonaws.com/123456789012/q", {}),
        (AWS_QUEUE, {"AWS_ENDPOINT_URL_SQS": "http://10.0.0.5:4566"}),
        ("http://localhost.example.com/1/q", {}),
    ],
)
def test_plain_http_is_refused_off_loopback(queue: str, env: dict[str, str]) -> None:
    with pytest.raises(AwsSetupError, match="plain http"):
        resolve_target(queue, environ=env)


@pytest.mark.parametrize("address", ["", "sqs", "ftp://host/q"])
def test_not_an_address(address: str) -> None:
    with pytest.raises(AwsSetupError, match="not a web address"):
        resolve_target(address, environ={})


def test_loopback_hosts() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.8.9.1", "[::1]", "::1", "localhost"]))
    assert not any(map(is_loopback, ["10.0.0.1", "example.com", "localhost.example.com"]))


async def test_a_stored_key_is_used_only_when_complete() -> None:
    store = MemoryCredentialStore()
    assert await stored_keys(None) == {}
    await store.set("aws_access_key_id", "AKIAEXAMPLE")
    assert await stored_keys(store) == {}
    await store.set("aws_secret_access_key", "s3cr3t")
    assert await stored_keys(store) == {
        "aws_access_key_id": "AKIAEXAMPLE",
        "aws_secret_access_key": "s3cr3t",
    }
