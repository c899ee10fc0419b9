"""app.settings: where the file lives, round trip, tolerance of broken files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.settings import Settings, config_dir, load_settings, save_settings, settings_path

pytestmark = pytest.mark.ui


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONFAB_CONFIG_DIR", str(tmp_path / "cfg"))


def test_config_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert config_dir() == tmp_path / "cfg" and settings_path() == tmp_path / "cfg" / "settings.json"
    monkeypatch.delenv("CONFAB_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "confab"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir() == tmp_path / "home" / ".config" / "confab"


def test_round_trip(tmp_path: Path) -> None:
    assert load_settings() == Settings()  # no file yet
    saved = Settings(server="http://127.0.0.1:7880", room="standup", name="Ada",
                     camera_id="synthetic:camera", mic_id="synthetic:speech", speaker_id=None)
    assert save_settings(saved)
    assert load_settings() == saved
    on_disk = json.loads((tmp_path / "cfg" / "settings.json").read_text())
    assert on_disk["name"] == "Ada" and "speaker_id" not in on_disk
    assert [p.name for p in (tmp_path / "cfg").iterdir()] == ["settings.json"]  # no temp files left


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"name": 3, "room": "", "server": "http://x"}'])
def test_broken_files_give_defaults(tmp_path: Path, text: str) -> None:
    path = tmp_path / "cfg" / "settings.json"
    path.parent.mkdir()
    path.write_text(text)
    settings = load_settings()
    assert settings.name is None and settings.room is None
    assert settings.server in (None, "http://x")


def test_unwritable_directory_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert not save_settings(Settings(name="Ada"), blocker / "settings.json")
