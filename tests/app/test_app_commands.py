"""Every command as a user meets it: ``--version``, clean errors for bad flags, invites.

Real processes (``python -m …``, the same entry points as the installed scripts) and a real
in-process server; nothing is mocked but the missing ui extra (an import that fails).
"""

from __future__ import annotations

import asyncio
import configparser
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from core.release import __version__
from core.token import verify_access_token
from server.app import start_server
from ui.invite import parse_invite, token_hints

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


def run(*argv: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run([PY, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(("argv", "prog"), [
    (("-m", "app.main"), "confab"),
    (("-m", "app.bot"), "confab-bot"),
    (("-m", "server"), "confab-server"),
    (("-m", "server", "token"), "confab-server"),
    (("-m", "server", "invite"), "confab-server"),
])
def test_version_on_every_command(argv: tuple[str, ...], prog: str, tmp_path: Path) -> None:
    out = run(*argv, "--version", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{prog} {__version__}" and __version__ != "0+unknown"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("argv", "words"), [
    (("--port", "99999"), "99999 is not a port"),
    (("--port", "http"), "not a port number"),
    (("--log-level", "loud"), "unknown level 'loud'"),
    (("--session-timeout", "-1"), "--session-timeout must not be negative"),
    (("--heartbeat-min-ms", "9000", "--heartbeat-max-ms", "100"), "must not be above"),
    (("--api-key", "nocolon"), "--api-key must be SK…:SECRET"),
])
def test_bad_server_flags_are_one_line_and_create_nothing(argv: tuple[str, ...], words: str,
                                                          tmp_path: Path) -> None:
    out = run("-m", "server", *argv, cwd=tmp_path)
    assert out.returncode != 0 and words in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []  # no ./confab-data, no credentials, no database


@pytest.mark.parametrize(("argv", "words"), [
    (("-m", "app.main", "--log-level", "loud", "demo"), "'loud' is not a log level"),
    (("-m", "app.main", "demo", "--bots", "x"), "invalid int value: 'x'"),
    (("-m", "app.bot", "--url", "nope", "--room", "r"), "'nope' is not a server address"),
    (("-m", "app.bot", "--url", "http://h:1", "--room", "r", "--fps", "0"), "--fps: 0 must be above 0"),
    (("-m", "app.bot", "--url", "http://h:1", "--room", "r", "--width", "-3"), "--width: -3 must be above 0"),
    (("-m", "app.bot", "--url", "http://h:1", "--log-level", "zz"), "'zz' is not a log level"),
])
def test_bad_app_and_bot_flags_are_usage_errors(argv: tuple[str, ...], words: str, tmp_path: Path) -> None:
    out = run(*argv, cwd=tmp_path)
    assert out.returncode == 2 and words in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert words in out.stderr.strip().splitlines()[-1] and ": error: " in out.stderr  # usage, then the error


def test_token_without_data_dir_does_not_mint_from_a_new_one(tmp_path: Path) -> None:
    out = run("-m", "server", "token", "--identity", "alice", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert "no server credentials in ./confab-data/" in out.stderr and "--data-dir" in out.stderr
    assert "Traceback" not in out.stderr and list(tmp_path.iterdir()) == []


def test_bot_against_a_server_without_dev_tokens_says_so(tmp_path: Path) -> None:
    async def scenario() -> subprocess.CompletedProcess[str]:
        server = await start_server("127.0.0.1", 0, tmp_path / "strict")  # no --dev
        try:
            proc = await asyncio.create_subprocess_exec(
                PY, "-m", "app.bot", "--url", server.url, "--room", "r", "--identity", "b",
                cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
            return subprocess.CompletedProcess([], proc.returncode or 0, stdout.decode(), stderr.decode())
        finally:
            await server.close()

    out = asyncio.run(scenario())
    assert out.returncode == 2
    assert "does not hand out tokens" in out.stderr and "--token" in out.stderr, out.stderr
    assert "Extra data" not in out.stdout + out.stderr and "Traceback" not in out.stderr


def test_confab_without_the_ui_extra_says_what_to_install(tmp_path: Path) -> None:
    blocked = ("import sys; sys.modules['PySide6'] = None; sys.modules['qasync'] = None; "
               "from app.main import main; sys.exit(main([]))")
    out = run("-c", blocked, cwd=tmp_path)
    assert out.returncode == 1 and "pip install 'confab[ui]'" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_invite_link_from_the_cli_opens_a_page_and_joins_as_a_unique_guest(tmp_path: Path) -> None:
    async def scenario() -> None:
        data = tmp_path / "data"
        server = await start_server("127.0.0.1", 0, data)
        try:
            proc = await asyncio.create_subprocess_exec(
                PY, "-m", "server", "invite", "--data-dir", str(data), "--room", "stand up",
                "--name", "Ada", "--url", server.url.removeprefix("http://"),
                cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, stderr.decode()
            link = stdout.decode().strip()
            assert link.startswith(f"{server.url}/join/stand%20up?token=")
            invite = parse_invite(link)  # what the app's join screen makes of it
            assert (invite.server, invite.room) == (server.url, "stand up")
            hints = token_hints(invite.token or "")
            assert hints is not None and hints.identity is not None and hints.identity.startswith("Ada#")
            c = server.credentials
            verify_access_token(invite.token, c.secrets, account_sid=c.account_sid, room="stand up")
            async with aiohttp.ClientSession() as http:
                async with http.get(link) as resp:
                    assert resp.status == 200 and resp.content_type == "text/html"
                    page = await resp.text()
                async with http.get(f"{server.url}/join/standup?token=not-a-token") as resp:
                    assert resp.status == 400
            assert "You're invited to <span id=\"room\">stand up</span>" in page
            assert 'href="confab://join?server=http%3A%2F%2F127.0.0.1%3A' in page
            assert "pip install" in page
            app_link = page.split('id="open" href="')[1].split('"')[0].replace("&amp;", "&")
            assert parse_invite(app_link) == invite  # the page's button opens the same invite
        finally:
            await server.close()

    asyncio.run(scenario())


def test_desktop_file_and_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # configparser's documented way to keep key case
    entry.read(REPO / "resources" / "confab.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Name"] == "Confab"
    assert desktop["Exec"] == "confab open %u"  # invite links (confab://…) open the app
    assert "x-scheme-handler/confab;" in desktop["MimeType"]
    assert (REPO / "resources" / "icons" / f"{desktop['Icon']}.svg").is_file()
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert "confab-data/" in ignored


def test_confab_open_rejects_what_is_not_an_invite(tmp_path: Path) -> None:
    out = run("-m", "app.main", "open", "https://example.org/some/page", cwd=tmp_path)
    assert out.returncode == 2 and "not an invite link" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.media
def test_remembered_settings_do_not_break_a_token_or_a_server_without_scheme(tmp_path: Path) -> None:
    """Item 5: remembered room 'yesterday' + a token for 'standup'; a server saved as host:port."""
    import json
    import os

    async def scenario() -> dict[str, str]:
        server = await start_server("127.0.0.1", 0, tmp_path / "data")
        host_port = server.url.removeprefix("http://")
        config = tmp_path / "config"
        config.mkdir()
        (config / "settings.json").write_text(json.dumps({"server": host_port, "room": "yesterday",
                                                          "name": "Old"}))
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CONFAB_CONFIG_DIR=str(config))
        try:
            proc = await asyncio.create_subprocess_exec(
                PY, "-m", "app.main", "join", "--url", host_port, "--token", server.token("ada", "standup"),
                "--quit-after", "3", cwd=tmp_path, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, stderr = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0 and "Traceback" not in stderr.decode(), stderr.decode()[-2000:]
        finally:
            await server.close()
        return json.loads((config / "settings.json").read_text())

    saved = asyncio.run(scenario())
    # Saved only once the join worked: it went to the token's room, at the server with a scheme.
    assert saved["room"] == "standup" and saved["server"].startswith("http://127.0.0.1:")
