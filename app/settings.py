"""Small persisted settings: last server, room and name, chosen devices.

One JSON file, ``settings.json``, in ``$CONFAB_CONFIG_DIR`` when set, else
``$XDG_CONFIG_HOME/confab``, else ``~/.config/confab``. Reading never fails (a missing or
broken file gives defaults); writing is atomic (temporary file + rename).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CONFIG_DIR_ENV", "Settings", "config_dir", "load_settings", "save_settings", "settings_path"]

log = logging.getLogger(__name__)

CONFIG_DIR_ENV = "CONFAB_CONFIG_DIR"
FILE_NAME = "settings.json"


@dataclass
class Settings:
    server: str | None = None
    room: str | None = None
    name: str | None = None
    camera_id: str | None = None
    mic_id: str | None = None
    speaker_id: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Settings:
        """Known string fields of a JSON object; anything else is ignored."""
        if not isinstance(data, dict):
            return cls()
        values = {f.name: data[f.name] for f in dataclasses.fields(cls)
                  if isinstance(data.get(f.name), str) and data[f.name]}
        return cls(**values)

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path.home() / ".config"
    return base / "confab"


def settings_path() -> Path:
    return config_dir() / FILE_NAME


def load_settings(path: Path | None = None) -> Settings:
    path = path or settings_path()
    try:
        return Settings.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable settings %s: %s", path, exc)
        return Settings()


def save_settings(settings: Settings, path: Path | None = None) -> bool:
    """Write ``settings``; False (logged) when the directory is not writable."""
    path = path or settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(settings.to_json(), fh, indent=2, sort_keys=True)
                fh.write("\n")
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        log.warning("cannot save settings to %s: %s", path, exc)
        return False
    return True
