"""The remembered demo choice and the theme in the settings file (no version bump needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.storage.settings.file import load_config, save_config
from core.storage.settings.model import CONFIG_VERSION, THEMES, AppConfig, Profile


@pytest.mark.parametrize("theme", THEMES)
def test_the_demo_choice_and_theme_round_trip(tmp_path: Path, theme: str) -> None:
    path = tmp_path / "config.json"
    config = AppConfig(profile=Profile("eu_central_1", "cid"), demo_chosen=True, theme=theme)
    save_config(path, config)
    loaded = load_config(path)
    assert loaded.problem is None and loaded.config == config
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["demo_chosen"] is True and data["theme"] == theme
    assert data["version"] == CONFIG_VERSION


def test_a_file_from_before_the_settings_gets_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"version": CONFIG_VERSION, "rules": []}), encoding="utf-8")
    loaded = load_config(path)
    assert loaded.problem is None
    assert loaded.config.demo_chosen is False and loaded.config.theme == "system"


@pytest.mark.parametrize(("key", "value"), [("theme", "sepia"), ("demo_chosen", "yes")])
def test_an_unreadable_choice_is_repaired_and_the_original_kept(
    tmp_path: Path, key: str, value: object
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"version": CONFIG_VERSION, key: value}), encoding="utf-8")
    loaded = load_config(path)
    assert loaded.config == AppConfig()
    assert loaded.problem is not None and key in loaded.problem
    assert loaded.kept_aside is not None and json.loads(loaded.kept_aside.read_text())[key] == value
    assert load_config(path).problem is None  # the repaired file was written in its place
