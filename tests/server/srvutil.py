"""Helpers of the server tests: the ``confab-server`` subprocess, unique names."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from core.token import AccessToken

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"confab-server listening on (http://\S+)")

#: Fast timers for tests: session timeout 2 s, minute = 0.2 s, heartbeats down to 100 ms.
FAST = ["--session-timeout", "2", "--heartbeat-min-ms", "100", "--timeout-unit-seconds", "0.2"]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("confab-server")
    return [str(script)] if script.exists() else [sys.executable, "-m", "server"]


@dataclass
class ServerProcess:
    data_dir: Path
    args: list[str]
    url: str = ""
    proc: subprocess.Popen[str] | None = None
    stderr_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.stderr_path = self.data_dir.parent / f"{self.data_dir.name}.stderr.log"

    def start(self) -> ServerProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for name in ("CONFAB_ACCOUNT_SID", "CONFAB_API_KEY_SID", "CONFAB_API_KEY_SECRET"):
            env.pop(name, None)
        stderr = open(self.stderr_path, "a", encoding="utf-8")  # noqa: SIM115  (closed once Popen has dup'ed it)
        self.proc = subprocess.Popen(
            [*_command(), "--port", "0", "--data-dir", str(self.data_dir), *self.args],
            stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT, env=env)
        stderr.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = LISTENING.match(line)
        assert match, f"unexpected first line {line!r}; stderr: {self.stderr()}"
        self.url = match.group(1)
        return self

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def credentials(self) -> dict[str, str]:
        return json.loads((self.data_dir / "credentials.json").read_text())

    def token(self, identity: str, room: str | None = None, ttl: int = 3600, **kw: object) -> str:
        c = self.credentials()
        return AccessToken(c["account_sid"], c["api_key_sid"], c["api_key_secret"], identity=identity,
                           ttl=ttl, room=room, **kw).to_jwt()  # type: ignore[arg-type]  # extra AccessToken keywords passed through from the test

    def twilio_client(self, secret: str | None = None) -> Any:
        """The official ``twilio`` helper library's client, pointed at this server (only the Video
        domain's base URL changes); ``secret`` replaces the API key secret (a wrong one: 20003)."""
        from twilio.rest import Client

        c = self.credentials()
        client = Client(c["api_key_sid"], secret if secret is not None else c["api_key_secret"], c["account_sid"])
        client.video.base_url = self.url
        return client

    @property
    def auth_headers(self) -> dict[str, str]:
        c = self.credentials()
        return {"Authorization": aiohttp.encode_basic_auth(c["api_key_sid"], c["api_key_secret"])}

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8") if self.stderr_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        code = self.proc.returncode
        self.proc = None
        return code

    def assert_clean(self) -> None:
        """The process never logged a traceback or an ERROR."""
        text = self.stderr()
        assert "Traceback" not in text, text[-4000:]
        assert " ERROR " not in text, text[-4000:]


def unique(prefix: str = "room") -> str:
    return f"{prefix}-{time.monotonic_ns()}"

