from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSize

import ui.resources as res

pytestmark = pytest.mark.ui


def test_every_icon_exists_and_renders(qapp):
    for name in res.ICON_NAMES:
        assert res.icon_path(name).suffix == ".svg"
        assert not res.icon(name).pixmap(QSize(24, 24)).isNull(), name
        pixmap = res.icon_pixmap(name, 24)
        image = pixmap.toImage()
        assert any(image.pixelColor(x, y).alpha() > 0 for x in range(24) for y in range(24))


def test_stylesheet_loads():
    qss = res.load_stylesheet()
    assert "#mic-button" in qss and "#reconnecting-banner" in qss


def test_missing_icon():
    with pytest.raises(FileNotFoundError):
        res.icon_path("no-such-icon")


def test_frozen_bundle_uses_meipass(monkeypatch, tmp_path):
    monkeypatch.delenv("CONFAB_RESOURCES", raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert res.resources_dir() == tmp_path / "resources"
    assert res.load_stylesheet() == ""  # missing file: no crash


def test_source_checkout_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("CONFAB_RESOURCES", raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert res.resources_dir() == Path(res.__file__).resolve().parent.parent / "resources"
    monkeypatch.setenv("CONFAB_RESOURCES", str(tmp_path))
    assert res.resources_dir() == tmp_path
