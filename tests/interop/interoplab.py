"""The interop lab: a network namespace with only ``lo`` holding confab-server, the harness
(page server, report sink, signaling proxy), headless Chromium pages and confab-bots.

Everything that talks to the browser runs inside the namespace (``ip netns exec``); the test
process stays in the host's namespace and reaches the harness through a Unix socket, the
processes through their pipes and the page reports through files.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/lib/chromium/chromium")
SDK_VERSION = "2.36.0"
SDK_PACKAGE = HERE / "node_modules" / "twilio-video" / "package.json"
#: Run confab-server and confab-bot from another checkout (``python -m`` with that cwd), e.g.
#: ``git archive HEAD | tar -x -C /tmp/head`` to measure the committed code beside a dirty tree.
SOURCE = os.environ.get("CONFAB_INTEROP_SOURCE")


def confab_command(entry: str, module: str) -> tuple[list[str], Path]:
    """The command (and cwd) of ``confab-server`` / ``confab-bot``."""
    if SOURCE:
        return [sys.executable, "-m", module], Path(SOURCE)
    return [str(BIN / entry)], ROOT

#: The flags of docs/research/chromium-interop.md: fake devices, loopback ICE, and every guard
#: against Chromium's own background traffic (which the namespace stops anyway).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-features=NetworkTimeServiceQuerying",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
    "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0",
]


class Regression(Exception):
    """A check of something that already works against the committed code (joining, Confab ->
    browser media, data to the browser, resume). Raised instead of AssertionError, so the issue-9
    ``xfail(raises=AssertionError)`` markers on the cases cannot hide a broken harness or a
    regression."""


def require(condition: object, message: str) -> None:
    if not condition:
        raise Regression(message)


def spawn(cmd: list[str], log: Path, **kw: Any) -> subprocess.Popen[Any]:
    """A process in its own session (so its whole group can be stopped), stderr to ``log``."""
    with open(log, "w") as stderr:
        return subprocess.Popen(cmd, stderr=stderr, start_new_session=True, **kw)


def run(*cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout)


def stop_process(proc: subprocess.Popen[Any] | None, timeout: float = 5) -> None:
    """SIGTERM the process group this test started (``start_new_session``), then SIGKILL it.
    Chromium's zygote and renderers are in that group too."""
    if proc is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader, else the group looks alive
            if not _group_alive(proc.pid):
                break
            time.sleep(0.05)
        if not _group_alive(proc.pid):
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 10) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """The predicate's first truthy value, or None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# -- the namespace ---------------------------------------------------------------------------


class Netns:
    """``ip netns add`` a namespace, bring ``lo`` up, check it holds nothing else."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.created = False

    def create(self) -> Netns:
        run("ip", "netns", "add", self.name)
        self.created = True
        run("ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        self.assert_loopback_only()
        return self

    def links(self) -> list[str]:
        out = run("ip", "netns", "exec", self.name, "ip", "-o", "link", "show").stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if line.strip()]

    def assert_loopback_only(self) -> None:
        links = self.links()
        if links != ["lo"]:
            raise RuntimeError(f"netns {self.name} has links {links}, not only lo: refusing to run Chromium")

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def delete(self) -> None:
        if self.created:
            run("ip", "netns", "del", self.name, check=False)
            self.created = False


# -- processes ---------------------------------------------------------------------------------


class LineReader:
    """Collects a process's stdout lines (JSON where they parse) on a thread."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[Any] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in iter(stream.readline, ""):
            line = line.strip()
            if not line:
                continue
            try:
                item: Any = json.loads(line)
            except ValueError:
                item = line
            with self._lock:
                self.lines.append(item)

    def snapshot(self) -> list[Any]:
        with self._lock:
            return list(self.lines)

    def join(self, timeout: float = 5) -> None:
        self._thread.join(timeout)


@dataclass
class Bot:
    identity: str
    proc: subprocess.Popen[Any]
    stderr_path: Path
    reader: LineReader = field(init=False)
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.reader = LineReader(self.proc.stdout)

    def events(self, name: str | None = None, **match: Any) -> list[dict[str, Any]]:
        out = [e for e in self.reader.snapshot() if isinstance(e, dict)]
        if name is not None:
            out = [e for e in out if e.get("event") == name]
        return [e for e in out if all(e.get(k) == v for k, v in match.items())]

    def wait_event(self, name: str, timeout: float, **match: Any) -> dict[str, Any] | None:
        found = wait_for(lambda: self.events(name, **match), timeout)
        return found[0] if found else None

    def wait_exit(self, timeout: float) -> int | None:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.reader.join()
        return code

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def video_from(self, participant: str) -> dict[str, dict[str, Any]]:
        """Per track sid: the bot's last videoStats line (cumulative frames) and its fps samples."""
        out: dict[str, dict[str, Any]] = {}
        for e in self.events("videoStats", participant=participant):
            rec = out.setdefault(e["track_sid"], {"frames": 0, "fps": [], "size": None, "lines": []})
            rec["frames"] = e["frames"]
            rec["fps"].append(e["fps"])
            rec["lines"].append((e["wall"], e["frames"]))
            if e.get("width"):
                rec["size"] = f"{e['width']}x{e['height']}"
        return out

    def close(self) -> None:
        stop_process(self.proc)
        if self.proc.stdout is not None:
            self.reader.join(2)
            self.proc.stdout.close()


@dataclass
class Page:
    """One headless Chromium showing page.html, and the reports it POSTed."""

    page: str
    identity: str
    proc: subprocess.Popen[Any]
    report_path: Path
    log_path: Path
    lab: Lab

    def reports(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.report_path.exists():
            return []
        out = []
        for line in self.report_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line being written
        return [r for r in out if kind is None or r.get("report") == kind]

    def events(self, name: str | None = None, **match: Any) -> list[dict[str, Any]]:
        out = self.reports("event")
        if name is not None:
            out = [e for e in out if e.get("event") == name]
        return [e for e in out if all(e.get(k) == v for k, v in match.items())]

    def wait_event(self, name: str, timeout: float, **match: Any) -> dict[str, Any] | None:
        found = wait_for(lambda: self.events(name, **match) or self._dead(), timeout, 0.05)
        return found[0] if isinstance(found, list) and found else None

    def _dead(self) -> bool:
        return self.proc.poll() is not None

    def wait_connected(self, timeout: float = 30) -> dict[str, Any]:
        found = wait_for(lambda: self.events("connected") or self.events("connectError") or self._dead(), timeout)
        if not isinstance(found, list):
            raise Regression(f"page {self.page} did not connect in {timeout} s; "
                                 f"events {[e.get('event') for e in self.events()]}; "
                                 f"chromium log tail: {self.log_tail()}")
        if found[0]["event"] != "connected":
            raise Regression(f"page {self.page} failed to connect: {found[0]}")
        event: dict[str, Any] = found[0]
        return event

    def cmd(self, do: str, **fields: Any) -> None:
        self.lab.ctl("/ctl/cmd", {"page": self.page, "do": do, **fields})

    def finish(self, timeout: float = 15) -> dict[str, Any]:
        """Ask the page for its final report (stats, frame counts, messages); it then disconnects."""
        if not self.reports("final"):
            self.cmd("finish")
        found = wait_for(lambda: self.reports("final") or self._dead(), timeout)
        if not isinstance(found, list):
            raise Regression(f"page {self.page} sent no final report; log tail: {self.log_tail()}")
        final: dict[str, Any] = found[0]
        return final

    def snapshot(self, timeout: float = 10) -> list[dict[str, Any]]:
        """The page's raw getStats now (per RTCPeerConnection: inbound-rtp, outbound-rtp)."""
        before = len(self.reports("stats"))
        self.cmd("stats")
        found = wait_for(lambda: len(self.reports("stats")) > before and self.reports("stats"), timeout)
        require(found, f"page {self.page} sent no stats")
        stats: list[dict[str, Any]] = found[-1]["stats"]
        return stats

    def frames_at(self, wall: float) -> dict[str, int]:
        """Per remote video track: the frames counted by the last tick before ``wall``."""
        frames: dict[str, int] = {}
        for tick in self.reports("tick"):
            if tick["wall"] <= wall:
                frames = tick["frames"]
        return frames

    def log_tail(self, n: int = 15) -> str:
        if not self.log_path.exists():
            return ""
        lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines()
                 if "CONSOLE" in ln or "ERROR" in ln]
        return "\n".join(lines[-n:])

    def close(self) -> None:
        stop_process(self.proc)


class Lab:
    """The namespace, confab-server and the harness, shared by the cases of a session."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ns = Netns(f"confab-interop-{os.getpid()}")
        self.data_dir = tmp / "server"
        self.reports = tmp / "reports"
        self.ctl_path = str(tmp / "harness.sock")
        self.server: subprocess.Popen[Any] | None = None
        self.harness: subprocess.Popen[Any] | None = None
        self.server_url = ""
        self.harness_url = ""
        self._counter = 0
        self._owned: list[Any] = []
        self.downlink_faults = tmp / "downlink-faults.json"

    # -- lifetime --------------------------------------------------------------------------

    def start(self) -> Lab:
        self.ns.create()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name in ("CONFAB_ACCOUNT_SID", "CONFAB_API_KEY_SID", "CONFAB_API_KEY_SECRET"):
            env.pop(name, None)
        env["CONFAB_DOWNLINK_FAULTS"] = str(self.downlink_faults)  # server.forwarder.faults
        command, cwd = confab_command("confab-server", "server")
        self.server, self.server_url = self._daemon(
            "confab-server", [*command, "--port", "0", "--dev", "--data-dir", str(self.data_dir)], cwd, env)
        self.harness, self.harness_url = self._daemon(
            "harness", [sys.executable, str(HERE / "harness.py"), "--upstream", self.server_url,
                        "--data-dir", str(self.data_dir), "--reports", str(self.reports), "--unix", self.ctl_path],
            ROOT, env)
        return self

    def _daemon(self, name: str, command: list[str], cwd: Path,
                env: dict[str, str]) -> tuple[subprocess.Popen[Any], str]:
        """Start ``command`` in the namespace; its first line is ``NAME listening on URL``."""
        log = self.tmp / f"{name}.log"
        proc = spawn([*self.ns.exec_prefix(), *command], log, stdout=subprocess.PIPE, text=True, cwd=cwd, env=env)
        # Stopped by close() even if the first line is wrong.
        setattr(self, "server" if name == "confab-server" else "harness", proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith(f"{name} listening on "):
            raise RuntimeError(f"{name} did not start: {line!r}: {log.read_text(errors='replace')[-3000:]}")
        return proc, line.split()[-1]

    def close(self) -> None:
        for item in reversed(self._owned):
            item.close()
        self._owned.clear()
        stop_process(self.harness)
        stop_process(self.server, timeout=10)
        for proc in (self.harness, self.server):
            if proc is not None and proc.stdout is not None:
                proc.stdout.close()
        self.ns.delete()

    def close_participants(self) -> None:
        """Stop this case's pages and bots (the server and harness stay for the next case)."""
        for item in reversed(self._owned):
            item.close()
        self._owned.clear()

    def server_log(self) -> str:
        path = self.tmp / "confab-server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- control ---------------------------------------------------------------------------

    def ctl(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        conn = UnixHTTPConnection(self.ctl_path)
        try:
            conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"harness {path}: {resp.status} {data!r}")
            answer: dict[str, Any] = json.loads(data)
            return answer
        finally:
            conn.close()

    def cap_downlink(self, participant_sid: str, bps: float | None) -> None:
        """The server caps ``participant_sid``'s downlink estimate at ``bps`` (None: lifts it)."""
        caps: dict[str, float] = json.loads(self.downlink_faults.read_text()) if self.downlink_faults.exists() else {}
        if bps is None:
            caps.pop(participant_sid, None)
        else:
            caps[participant_sid] = bps
        tmp = self.downlink_faults.with_suffix(".tmp")
        tmp.write_text(json.dumps(caps))
        tmp.replace(self.downlink_faults)

    def unique(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter}-{time.monotonic_ns() % 10**6}"

    def room(self, room_type: str, prefix: str = "interop") -> str:
        name = self.unique(prefix)
        result = self.ctl("/ctl/rooms", {"UniqueName": name, "Type": room_type})
        if result["status"] != 201 or result["body"].get("type") != room_type:
            raise RuntimeError(f"creating a {room_type} room failed: {result}")
        return name

    def token(self, identity: str, room: str) -> str:
        from core.token import AccessToken

        c = json.loads((self.data_dir / "credentials.json").read_text())
        return AccessToken(c["account_sid"], c["api_key_sid"], c["api_key_secret"], identity=identity,
                           ttl=3600, room=room).to_jwt()

    # -- participants ------------------------------------------------------------------------

    def page(self, identity: str, room: str, **params: Any) -> Page:
        """Chromium, inside the namespace, showing the page that joins ``room`` as ``identity``."""
        self.ns.assert_loopback_only()
        page_id = self.unique(identity)
        port = self.harness_url.rsplit(":", 1)[1]
        query = {"page": page_id, "ws": f"ws://127.0.0.1:{port}/ws/{page_id}", "token": self.token(identity, room),
                 "room": room}
        for key, value in params.items():
            query[key] = json.dumps(value) if isinstance(value, list) else (
                ("1" if value else "0") if isinstance(value, bool) else str(value))
        url = f"{self.harness_url}/?{urllib.parse.urlencode(query)}"
        profile = self.tmp / f"chromium-{page_id}"
        profile.mkdir()
        log_path = self.tmp / f"chromium-{page_id}.log"
        proc = spawn([*self.ns.exec_prefix(), str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url],
                     log_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     env={**os.environ, "HOME": str(profile)})
        page = Page(page_id, identity, proc, self.reports / f"{page_id}.jsonl", log_path, self)
        self._owned.append(page)
        return page

    def bot(self, identity: str, room: str, duration: float, script: list[dict[str, Any]] | None = None,
            *extra: str) -> Bot:
        """confab-bot, inside the namespace: 320x240@15 video, a tone, a data track."""
        stderr_path = self.tmp / f"bot-{self.unique(identity)}.stderr"
        command, cwd = confab_command("confab-bot", "app.bot")
        cmd = [*self.ns.exec_prefix(), *command, "--url", self.server_url, "--room", room,
               "--identity", identity, "--duration", str(duration), "--width", "320", "--height", "240",
               "--fps", "15", "--audio-kind", "tone", *extra]
        if script:
            cmd += ["--script", json.dumps(script)]
        proc = spawn(cmd, stderr_path, stdout=subprocess.PIPE, text=True, cwd=cwd,
                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        bot = Bot(identity, proc, stderr_path)
        self._owned.append(bot)
        return bot


def npm_install() -> str | None:
    """``npm ci`` twilio-video into tests/interop/node_modules unless it is there already;
    returns why it could not, or None."""
    try:
        if json.loads(SDK_PACKAGE.read_text()).get("version") == SDK_VERSION:
            return None
    except (OSError, ValueError):
        pass
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed"
    try:
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True,
                                text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "npm ci timed out"
    if result.returncode != 0:
        return f"npm ci failed: {result.stderr[-2000:]}"
    try:
        version = json.loads(SDK_PACKAGE.read_text()).get("version")
    except (OSError, ValueError):
        version = None
    return None if version == SDK_VERSION else f"npm installed twilio-video {version}, not {SDK_VERSION}"
