"""Per-org EventBridge settings in the settings file (issue 15): round trip, old files untouched."""

from __future__ import annotations

import json
from pathlib import Path

from core.storage.settings.file import load_config, save_config
from core.storage.settings.model import AppConfig, EventBridgeSettings, Profile, org_key

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/genesys-tray-events"
OLD_FILE = {
    "version": 2,
    "rules": [],
    "theme": "dark",
    "profile": {"environment": "mypurecloud.ie", "client_id": "abc", "grant": "pkce"},
    "watches": {"mypurecloud.ie abc": {"queues": "all", "users": "members"}},
}


def test_round_trip_per_org(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    here = Profile("mypurecloud.ie", "abc")
    there = Profile("mypurecloud.de", "xyz")
    config = AppConfig(profile=there).with_eventbridge(EventBridgeSettings(aws_profile="ops"))
    config = AppConfig(profile=here, eventbridge=config.eventbridge).with_eventbridge(
        EventBridgeSettings(QUEUE, aws_profile="tray", aws_region="eu-west-1", org_wide=True)
    )
    save_config(path, config)
    loaded = load_config(path)
    assert loaded.problem is None
    assert loaded.config.eventbridge_settings == EventBridgeSettings(
        QUEUE, "tray", "eu-west-1", org_wide=True
    )
    assert loaded.config.eventbridge[org_key(there)] == EventBridgeSettings(aws_profile="ops")
    on_disk = json.loads(path.read_text())["eventbridge"]
    assert on_disk[org_key(there)] == {"aws_profile": "ops"}  # only what is set
    assert "eventbridge" not in loaded.config.extra


def test_an_old_file_reads_and_writes_back_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(OLD_FILE))
    loaded = load_config(path)
    assert loaded.problem is None
    assert loaded.config.eventbridge == {}
    assert not loaded.config.eventbridge_settings.configured
    save_config(path, loaded.config)
    assert "eventbridge" not in json.loads(path.read_text())


def test_clearing_the_queue_removes_the_org_entry() -> None:
    config = AppConfig().with_eventbridge(EventBridgeSettings(QUEUE))
    assert config.eventbridge_settings.configured
    assert config.with_eventbridge(EventBridgeSettings()).eventbridge == {}


def test_an_unreadable_entry_is_repaired_and_named(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    document = dict(OLD_FILE)
    document["eventbridge"] = {"a": {"queue_url": 5}, "b": {"queue_url": QUEUE}}
    path.write_text(json.dumps(document))
    loaded = load_config(path)
    assert loaded.config.eventbridge == {"b": EventBridgeSettings(QUEUE)}
    assert loaded.problem is not None
