"""Which AWS keys the EventBridge link uses: dummy ones only for this computer's test queue."""

from __future__ import annotations

import pytest

from core.app.eventbridge_wiring import LOOPBACK_KEY, LoopbackKeys, credentials_for
from core.auth.credentials import MemoryCredentialStore
from core.eventbridge.aws_credentials import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from core.eventbridge.consumer import ConsumerSettings

AWS_QUEUE = "https://sqs.eu-central-1.amazonaws.com/123456789012/genesys"
LOCAL_QUEUE = "http://127.0.0.1:5123/123456789012/genesys"
CHAIN = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE")


@pytest.fixture(autouse=True)
def no_aws_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*CHAIN, "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


async def test_a_local_test_queue_gets_dummy_keys_when_the_chain_has_none() -> None:
    keys = credentials_for(LOCAL_QUEUE, ConsumerSettings(), MemoryCredentialStore())
    assert isinstance(keys, LoopbackKeys)
    assert await keys.get(ACCESS_KEY_ID) == await keys.get(SECRET_ACCESS_KEY) == LOOPBACK_KEY


def test_a_real_aws_queue_never_gets_dummy_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryCredentialStore()
    assert credentials_for(AWS_QUEUE, ConsumerSettings(), store) is store
    assert credentials_for(AWS_QUEUE, ConsumerSettings(), None) is None
    # Not even when the endpoint variable points at AWS's own https endpoint.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "https://sqs.eu-central-1.amazonaws.com")
    assert credentials_for(LOCAL_QUEUE, ConsumerSettings(), store) is store


def test_the_endpoint_variable_decides_where_requests_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:5000")
    assert isinstance(credentials_for(AWS_QUEUE, ConsumerSettings(), None), LoopbackKeys)


def test_keys_or_a_profile_the_person_set_are_used_even_for_a_local_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MemoryCredentialStore()
    assert credentials_for(LOCAL_QUEUE, ConsumerSettings(profile="dev"), store) is store
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA...")
    assert credentials_for(LOCAL_QUEUE, ConsumerSettings(), store) is store


async def test_listen_says_eventbridge_needs_the_demo_or_a_queue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from core.cli.options import ListenOptions
    from core.cli.process import EXIT_USAGE
    from core.cli.run import run_listen

    assert await run_listen(ListenOptions(demo_eventbridge=True)) == EXIT_USAGE
    assert "--eventbridge-queue" in capsys.readouterr().err


def test_listen_prints_the_source_status_as_a_source_record() -> None:
    from core.cli.listen import source_to_json
    from core.eventbridge.events import SourceStatus

    status = SourceStatus("lagging", lag_s=12.3456, backlog=150, detail="EventBridge lag 12 s")
    assert source_to_json(status) == {
        "kind": "source",
        "source": "eventbridge",
        "state": "lagging",
        "lag_s": 12.346,
        "backlog": 150,
        "detail": "EventBridge lag 12 s",
    }
