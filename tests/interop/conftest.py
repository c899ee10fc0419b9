"""twilio-video.js in headless Chromium against confab-server and confab-bot, all inside a
network namespace with only ``lo`` (see docs/research/chromium-interop.md for why and how).

Needs root (``ip netns``), Debian's ``chromium`` (/usr/lib/chromium/chromium) and npm. Without
them the tests skip, except in CI (``CI=true``), where a missing prerequisite is a failure so
the suite cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interoplab import CHROMIUM, Lab, npm_install


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "interop: twilio-video.js in headless Chromium in a network namespace")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"interop prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _prerequisites() -> None:
    if sys.platform != "linux" or not hasattr(os, "geteuid"):
        unavailable("interop tests need Linux network namespaces")
    if os.geteuid() != 0:
        unavailable("interop tests need root for `ip netns`")
    if shutil.which("ip") is None:
        unavailable("`ip` (iproute2) is not installed")
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        unavailable(f"`ip netns` is unavailable: {probe.stderr.strip()}")
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    if shutil.which("npm") is None:
        unavailable("npm is missing")
    why = npm_install()
    if why is not None:
        unavailable(why)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The namespace, confab-server and the harness, shared by all cases; deleted at the end."""
    _prerequisites()
    lab = Lab(tmp_path_factory.mktemp("interop"))
    try:
        try:
            lab.start()
        except subprocess.CalledProcessError as exc:
            unavailable(f"cannot create a network namespace: {exc.stderr.strip()}")
        yield lab
    finally:
        lab.close()


@pytest.fixture
def case(lab: Lab) -> Iterator[Lab]:
    """The lab for one case: its pages and bots are stopped afterwards, even on failure."""
    lab.ns.assert_loopback_only()
    try:
        yield lab
    finally:
        lab.close_participants()
