"""The settings file: round trip, broken and newer files kept aside, migration, nothing lost."""

from __future__ import annotations

import dataclasses
import json
import stat
import tempfile
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.alerts.model import Condition, Rule, Severity
from core.alerts.presets import demo_rules
from core.feed import entry as feed
from core.storage.settings.codec import profile_to_json, rule_from_json, rule_to_json
from core.storage.settings.file import ConfigError, config_path, load_config, save_config
from core.storage.settings.model import (
    CONFIG_VERSION,
    FEED_KINDS,
    AppConfig,
    NotificationSettings,
    Profile,
    QuietHours,
    WatchSettings,
    default_config,
    org_key,
)

NOW = datetime(2026, 11, 27, 9, 30, 15, tzinfo=UTC)
STAMP = NOW.astimezone().strftime("%Y%m%d-%H%M%S")


def now() -> datetime:
    return NOW


def every_kind_of_rule() -> list[Rule]:
    return [
        Rule("w", "Calls waiting", Condition.QUEUE_WAITING_ABOVE, subjects=("q1",), threshold=3,
             for_s=10, cooldown_s=120, hysteresis=2, actions=("notify", "sound")),
        Rule("lw", "Long wait", Condition.QUEUE_LONGEST_WAIT_ABOVE, threshold=90.5,
             media="chat"),
        Rule("oq", "Staffing", Condition.QUEUE_ON_QUEUE_BELOW, threshold=2, enabled=False),
        Rule("nr", "Not responding", Condition.AGENT_NOT_RESPONDING, severity=Severity.CRITICAL),
        Rule("p", "Lunch", Condition.AGENT_PRESENCE_IS, presence="lunch-id", subjects=("u1",)),
        Rule("pl", "Long lunch", Condition.AGENT_PRESENCE_LONGER_THAN, presence="MEAL",
             threshold=45, severity=Severity.INFO),
        Rule("c", "Offline", Condition.CHANNEL_NOT_LIVE_FOR, threshold=120),
    ]  # fmt: skip


def write(path: Path, document: Any) -> None:
    path.write_text(document if isinstance(document, str) else json.dumps(document))


def asides(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.broken-*"))


# ------------------------------------------------------------------------------ basics
def test_a_missing_file_gives_defaults(tmp_path: Path) -> None:
    result = load_config(tmp_path / "config.json")
    assert result.problem is None and result.config == AppConfig()
    assert result.config.feed_kinds == list(FEED_KINDS)
    demo = load_config(tmp_path / "config.json", demo=True).config
    assert demo.rules == demo_rules() and all(rule.enabled for rule in demo.rules)
    assert not (tmp_path / "config.json").exists()  # loading alone writes nothing


def test_the_feed_kinds_are_the_feeds_own() -> None:
    # Every kind of the feed, in its order, but the app's plumbing (issue 16, defect 6).
    assert tuple(k for k in feed.KINDS if k not in feed.ENGINEERING_KINDS) == FEED_KINDS
    assert {"gap", "budget"} == feed.ENGINEERING_KINDS and "alert" in FEED_KINDS


def test_the_file_lives_in_the_user_config_dir() -> None:
    path = config_path()
    assert (path.parent.name, path.name) == ("genesys-tray", "config.json")


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.json"
    config = AppConfig(
        rules=every_kind_of_rule(),
        feed_kinds=["presence", "routing"],
        feed_subjects=["q1", "u1"],
        notifications=NotificationSettings(
            enabled=False,
            sound_by_severity={"info": True, "warning": False, "critical": True},
            coalesce_window_s=2.5,
            mute_when_busy=True,
            quiet_hours=QuietHours("21:30", "06:45"),
        ),
        snooze_until=1_800_000_000.5,
        journal_retention_days=7,
        start_minimized=True,
        profile=Profile("eu_central_1", "a-client-id", "client_credentials"),
        watches={
            org_key(Profile("eu_central_1", "a-client-id")): WatchSettings(("q1",), ("u1",)),
            org_key(Profile("mypurecloud.de", "b")): WatchSettings("Sales*", "members"),
        },
    )
    save_config(path, config)
    result = load_config(path)
    assert result.problem is None
    assert result.config == config
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temporary left over
    text = path.read_text()
    assert text.startswith(f'{{\n  "version": {CONFIG_VERSION},')
    assert json.loads(text)["rules"][0] == rule_to_json(config.rules[0])


def test_the_saved_file_holds_no_secrets(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    save_config(path, AppConfig(rules=every_kind_of_rule()))
    text = path.read_text().lower()
    for word in ("token", "secret", "password", "authorization", "client_id"):
        assert word not in text


def test_saving_where_it_cannot_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="could not be saved"):
        save_config(blocker / "config.json", AppConfig())


# ---------------------------------------------------------------------- broken files
def test_a_broken_file_is_kept_aside_and_defaults_are_used(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b'{"version": 1, "rules": [')
    result = load_config(path, demo=True, now=now)
    assert result.config.rules == demo_rules()
    assert result.kept_aside == tmp_path / f"config.json.broken-{STAMP}"
    assert result.kept_aside.read_bytes() == b'{"version": 1, "rules": ['
    assert not path.exists()
    assert result.problem is not None
    assert "is damaged (it is not valid JSON)" in result.problem
    assert f"kept as config.json.broken-{STAMP}" in result.problem
    # a second broken file in the same second does not overwrite the first
    path.write_bytes(b"\xff\xfe garbage")
    second = load_config(path, now=now)
    assert second.kept_aside == tmp_path / f"config.json.broken-{STAMP}-2"
    assert len(asides(path)) == 2


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ([1, 2, 3], "does not hold this app's settings"),
        ({"version": "1", "rules": []}, "version is unreadable"),
        ({"version": 1, "rules": {"a": 1}}, "rules are not a list"),
        ({"version": CONFIG_VERSION + 1, "rules": []}, "written by a newer version"),
        ("", "not valid JSON"),
    ],
)
def test_files_this_version_cannot_read_are_kept_aside(
    tmp_path: Path, document: Any, words: str
) -> None:
    path = tmp_path / "config.json"
    write(path, document)
    original = path.read_bytes()
    result = load_config(path, now=now)
    assert result.config == AppConfig()
    assert result.problem is not None and words in result.problem
    assert result.kept_aside is not None and result.kept_aside.read_bytes() == original


def test_a_file_that_cannot_be_read_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.mkdir()
    result = load_config(path, now=now)
    assert result.config == AppConfig()
    assert result.problem is not None and "could not be read" in result.problem
    assert path.is_dir() and asides(path) == []


# ------------------------------------------------------------------------- migration
def test_an_older_version_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write(
        path,
        {
            "version": 0,
            "rules": [
                {"id": "a", "name": "Calls", "condition": "queue_waiting_above", "threshold": "3"},
                {"id": "b", "name": "Wait", "condition": "queue_longest_wait_above",
                 "threshold": " 90.5 "},
            ],
            "journal_retention_days": 14,
        },
    )  # fmt: skip
    result = load_config(path, now=now)
    assert result.problem is None
    assert [rule.threshold for rule in result.config.rules] == [3, 90.5]
    assert result.config.journal_retention_days == 14
    save_config(path, result.config)
    assert json.loads(path.read_text())["version"] == CONFIG_VERSION


ORG_A = Profile("mypurecloud.de", "client-a")
ORG_B = Profile("https://api.usw2.pure.cloud", "client-b", "client_credentials")
PICKED_IN_A = {"queues": ["q-a1", "q-a2"], "users": ["u-a1"]}


def test_a_v1_watch_moves_to_the_org_it_was_chosen_in(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write(
        path,
        {
            "version": 1,
            "rules": [],
            "profile": profile_to_json(ORG_A),
            "profiles": [profile_to_json(ORG_A), profile_to_json(ORG_B)],
            "watch": PICKED_IN_A,
        },
    )
    result = load_config(path, now=now)
    assert result.problem is None and asides(path) == []
    picked = WatchSettings(("q-a1", "q-a2"), ("u-a1",))
    assert result.config.watches == {org_key(ORG_A): picked}
    assert result.config.watch == picked
    # The other org does not get org A's ids: it watches the default until it chooses.
    assert dataclasses.replace(result.config, profile=ORG_B).watch is None
    save_config(path, result.config)
    data = json.loads(path.read_text())
    assert data["version"] == CONFIG_VERSION and "watch" not in data
    assert data["watches"] == {"mypurecloud.de client-a": PICKED_IN_A}
    assert load_config(path, now=now).config == result.config


@pytest.mark.parametrize(
    "profile",
    [None, {"environment": "mypurecloud.de", "grant": "magic"}],
    ids=["no profile (the demo org's file)", "an unreadable profile"],
)
def test_a_v1_watch_without_a_readable_profile_stays_with_the_files_own_org(
    tmp_path: Path, profile: Any
) -> None:
    path = tmp_path / "config-demo.json"
    write(path, {"version": 1, "rules": [], "profile": profile, "watch": PICKED_IN_A})
    result = load_config(path, now=now)
    assert result.config.profile is None
    assert result.config.watches == {"": WatchSettings(("q-a1", "q-a2"), ("u-a1",))}
    assert result.config.watch == WatchSettings(("q-a1", "q-a2"), ("u-a1",))
    assert (result.problem is None) == (profile is None)  # the bad profile is repaired


def test_two_profiles_keep_their_own_selections(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    in_a = WatchSettings(("q-a1",), ("u-a1", "u-a2"))
    in_b = WatchSettings("all", "none")
    config = AppConfig(profile=ORG_A, profiles=[ORG_A, ORG_B]).with_watch(in_a)
    config = dataclasses.replace(config, profile=ORG_B).with_watch(in_b)
    save_config(path, config)
    loaded = load_config(path, now=now).config
    assert loaded.watch == in_b
    assert dataclasses.replace(loaded, profile=ORG_A).watch == in_a
    assert dataclasses.replace(loaded, profile=None).watch is None  # the demo org: its own
    # Going back to the default in one org leaves the other's choice alone.
    cleared = dataclasses.replace(loaded, profile=ORG_A).with_watch(None)
    assert cleared.watch is None and cleared.watches == {org_key(ORG_B): in_b}
    assert loaded.watches == {org_key(ORG_A): in_a, org_key(ORG_B): in_b}  # not changed


def test_an_unreadable_watch_loses_only_its_own_org(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    good = {"queues": "Sales*", "users": "members"}
    watches = {org_key(ORG_A): {"queues": "Sa*les"}, org_key(ORG_B): good}
    write(path, {"version": CONFIG_VERSION, "profile": profile_to_json(ORG_A), "watches": watches})
    result = load_config(path, now=now)
    assert result.config.watch is None  # org A: the default
    assert result.config.watches == {org_key(ORG_B): WatchSettings("Sales*", "members")}
    assert result.problem is not None and "watches" in result.problem
    assert result.kept_aside is not None
    assert json.loads(result.kept_aside.read_text())["watches"] == watches
    assert load_config(path, now=now).problem is None  # the repaired file was written


def test_a_file_without_a_version_is_the_first_format(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write(path, {"rules": [{"id": "a", "name": "A", "condition": "queue_waiting_above",
                            "threshold": "4"}]})  # fmt: skip
    result = load_config(path, now=now)
    assert result.problem is None and result.config.rules[0].threshold == 4


def test_a_rules_media_filter_round_trips_and_old_rules_watch_all_media(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    chat = dataclasses.replace(every_kind_of_rule()[0], media="chat")
    assert rule_to_json(chat)["media"] == "chat"
    old = {k: v for k, v in rule_to_json(chat).items() if k != "media"}  # before the filter
    write(path, {"version": CONFIG_VERSION, "rules": [rule_to_json(chat), {**old, "id": "o"}]})
    result = load_config(path, now=now)
    assert result.problem is None
    assert [(r.id, r.media) for r in result.config.rules] == [("w", "chat"), ("o", "")]
    assert rule_from_json({**old, "media": "calls"})[0] == dataclasses.replace(chat, media="voice")
    rule, reasons = rule_from_json({**old, "media": "pigeon"})
    assert rule is None and any("'pigeon'" in reason for reason in reasons)


# ----------------------------------------------------------------------- nothing lost
def test_an_invalid_rule_is_skipped_but_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    good = rule_to_json(every_kind_of_rule()[0])
    bad = {"id": "x", "name": "Broken one", "condition": "queue_waiting_above", "threshold": "a"}
    alien = {"id": "y", "name": "From the future", "condition": "queue_on_fire"}
    write(path, {"version": 1, "rules": [good, bad, alien, 42]})
    result = load_config(path, now=now)
    config = result.config
    assert [rule.id for rule in config.rules] == ["w"]
    assert config.skipped == [bad, alien, 42]
    assert result.problem is not None and result.kept_aside is None
    assert "3 alert rules in" in result.problem
    assert '"Broken one" (its threshold is not a number)' in result.problem
    assert "'queue_on_fire'" in result.problem and "rule 4 (it is not a rule)" in result.problem
    assert "nothing is lost" in result.problem
    save_config(path, config)  # saving keeps them
    again = load_config(path, now=now)
    assert again.config == config
    assert json.loads(path.read_text())["rules"] == [good, bad, alien, 42]


def test_a_rule_that_can_never_fire_is_skipped_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    never = {"id": "z", "name": "Nobody", "condition": "queue_on_queue_below", "threshold": 0}
    write(path, {"version": 1, "rules": [never]})
    result = load_config(path, now=now)
    assert result.config.rules == [] and result.config.skipped == [never]
    assert result.problem is not None and "can never fire" in result.problem


def test_a_second_rule_with_the_same_id_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    first = rule_to_json(every_kind_of_rule()[0])
    twin = {**first, "name": "Twin"}
    write(path, {"version": 1, "rules": [first, twin]})
    result = load_config(path, now=now)
    assert [rule.name for rule in result.config.rules] == ["Calls waiting"]
    assert result.config.skipped == [twin]
    assert result.problem is not None and "already has the id 'w'" in result.problem


def test_unreadable_settings_fall_back_and_the_original_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    document = {
        "version": 1,
        "rules": [rule_to_json(every_kind_of_rule()[0])],
        "notifications": {"quiet_hours": {"start": "25:00", "end": "07:00"}, "enabled": False},
        "journal_retention_days": "forever",
    }
    write(path, document)
    original = path.read_bytes()
    result = load_config(path, now=now)
    config = result.config
    assert [rule.id for rule in config.rules] == ["w"]
    assert config.notifications.enabled is False  # what could be read is kept
    assert config.notifications.quiet_hours is None
    assert config.journal_retention_days == 30
    assert result.problem is not None
    assert "(journal_retention_days, notifications.quiet_hours)" in result.problem
    assert result.kept_aside is not None and result.kept_aside.read_bytes() == original
    repaired = load_config(path, now=now)  # the repaired file was written in its place
    assert repaired.problem is None and repaired.config == config


def test_an_unreadable_profile_is_repaired_to_none(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write(path, {"version": 1, "profile": {"environment": "mypurecloud.de", "grant": "magic"}})
    result = load_config(path, now=now)
    assert result.config.profile is None
    assert result.problem is not None and "(profile)" in result.problem


def test_a_profile_names_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    save_config(path, AppConfig(profile=Profile("mypurecloud.de", "cid", "client_credentials")))
    document = json.loads(path.read_text())
    assert document["profile"] == {
        "environment": "mypurecloud.de",
        "client_id": "cid",
        "grant": "client_credentials",
    }
    assert "secret" not in path.read_text().lower()


def test_unknown_settings_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write(path, {"version": 1, "rules": [], "layout": {"accent": "teal"}})
    result = load_config(path, now=now)
    assert result.problem is None and result.config.extra == {"layout": {"accent": "teal"}}
    save_config(path, result.config)
    assert json.loads(path.read_text())["layout"] == {"accent": "teal"}


def test_missing_settings_take_their_defaults_quietly(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write(path, {"version": 1, "notifications": {"sound_by_severity": {"info": True}}})
    result = load_config(path, now=now)
    assert result.problem is None
    assert result.config.notifications.sound_by_severity == {
        "info": True,
        "warning": False,
        "critical": True,
    }
    assert result.config.notifications.sound_for(Severity.CRITICAL)


# ----------------------------------------------------------------------- quiet + snooze
@pytest.mark.parametrize(
    ("start", "end", "moment", "quiet"),
    [
        ("22:00", "07:00", time(23, 15), True),
        ("22:00", "07:00", time(6, 59), True),
        ("22:00", "07:00", time(7, 0), False),
        ("22:00", "07:00", time(12, 0), False),
        ("12:00", "13:30", time(12, 0), True),
        ("12:00", "13:30", time(13, 30), False),
        ("09:00", "09:00", time(9, 0), False),
    ],
)
def test_quiet_hours(start: str, end: str, moment: time, quiet: bool) -> None:
    assert QuietHours(start, end).contains(moment) is quiet


def test_snooze() -> None:
    config = default_config()
    assert not config.snoozed(1000)
    config.snooze_until = 2000
    assert config.snoozed(1999) and not config.snoozed(2000)


# ----------------------------------------------------------------------------- fuzzing
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
RULE_KEYS = list(rule_to_json(every_kind_of_rule()[0]))
NEAR_RULE = st.dictionaries(
    st.sampled_from(RULE_KEYS),
    JSON | st.sampled_from([*Condition, *Severity, "notify", ["notify"], ["q1"], 3, 0, -1]),
)
NEAR_DOCUMENT = st.fixed_dictionaries(
    {"version": st.sampled_from([0, 1, 2]), "rules": st.lists(NEAR_RULE | JSON, max_size=5)},
    optional={
        "profile": JSON | st.just(profile_to_json(ORG_A)),
        "watch": JSON | st.just(PICKED_IN_A),
        "watches": JSON | st.just({org_key(ORG_B): PICKED_IN_A}),
        "notifications": JSON | st.fixed_dictionaries({}, optional={
            "quiet_hours": JSON | st.just({"start": "22:00", "end": "7:00"}),
            "sound_by_severity": JSON,
            "coalesce_window_s": JSON,
        }),
        "feed_kinds": JSON,
        "snooze_until": JSON,
        "journal_retention_days": JSON,
    },
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_load_without_crashing(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.json"
        path.write_bytes(content)
        result = load_config(path, now=now)
        assert isinstance(result.config, AppConfig)
        assert result.problem is None or path.exists() or result.kept_aside is not None


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_any_json_document_loads_without_crashing(document: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.json"
        write(path, json.dumps(document))
        assert isinstance(load_config(path, now=now).config, AppConfig)


@settings(max_examples=200, deadline=None)
@given(NEAR_DOCUMENT)
def test_every_rule_is_either_used_or_kept(document: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.json"
        write(path, document)
        config = load_config(path, now=now).config
        assert len(config.rules) + len(config.skipped) == len(document["rules"])
        save_config(path, config)
        again = load_config(path, now=now)
        assert again.problem is None or config.skipped
        assert again.config == config


@given(JSON)
def test_any_value_reads_as_a_rule_or_as_reasons(raw: Any) -> None:
    rule, reasons = rule_from_json(raw)
    assert (rule is None) == bool(reasons)


def test_absurd_nesting_is_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    result = load_config(path, now=now)
    assert result.problem is not None and result.kept_aside is not None
