"""Janus VideoRoom beside Confab: aiortc clients against a Janus 1.x started here, loopback only.

The host side creates a network namespace holding ``lo`` and a veth pair whose end ``jva``
carries 127.0.0.1/32 (Janus skips IFF_LOOPBACK interfaces when it gathers; research/janus-probe.md
§2), starts ``janus`` in it (own config: HTTP on 127.0.0.1 only, videoroom plugin and http
transport only, no STUN), re-executes this file inside it for the clients, then stops Janus and
deletes the namespace (also on errors).

Same sources and definitions as bench/latency.py's Confab figures:

* ``subscriber_join_to_first_frame_ms``: a publisher (320×240@15 synthetic camera) has published
  for ``SETTLE_S``; from sending the subscriber's ``join`` (its session and handle already exist,
  timed apart as ``session_attach_ms``) to its first decoded frame. ``phases_ms``: offer
  received, answer set, ``start`` acknowledged, ICE/DTLS done, first video RTP.
* ``glass_to_glass_ms``: bench/glass.py's 640×480@30 capture-time-in-pixels source and reader
  (the first second dropped).

Subscribers use ``FrameAssembler`` as Confab's receivers do (``core.media.negotiation``).

    (as root) .venv/bin/python bench/janusref.py [--runs 9] [--glass-runs 2] [--glass-seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from aiortc import RTCDtlsTransport, RTCIceTransport, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from core.media import frames
from core.media.loopback import enable_loopback_only, rtc_configuration
from core.media.sources import SyntheticVideoSource
from core.media.stamp import read_stamp

JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
PORT = 8088
URL = f"http://127.0.0.1:{PORT}/janus"
SETTLE_S = 0.5  # as bench/latency.py
FRAME_ASSEMBLER = "subscribers install core.media.frames.FrameAssembler (as Confab's receivers do)"


# -- host side: the namespace and the Janus process ---------------------------------------------


def _run(*cmd: str) -> None:
    subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=30)


def available() -> str | None:
    """Why Janus cannot be measured here, or None."""
    if shutil.which("janus") is None:
        return "janus not installed"
    if shutil.which("ip") is None or os.geteuid() != 0:
        return "needs `ip netns` (root)"
    if not JANUS_LIB.is_dir():
        return f"no {JANUS_LIB}"
    return None


def _disable(kind: str, keep: str) -> str:
    return ",".join(sorted(p.name for p in (JANUS_LIB / kind).glob("*.so") if p.name != keep))


def write_config(folder: Path) -> None:
    """janus.jcfg and the http transport's config, nothing else enabled."""
    (folder / "janus.jcfg").write_text(f"""
general: {{ configs_folder = "{folder}" plugins_folder = "{JANUS_LIB}/plugins"
  transports_folder = "{JANUS_LIB}/transports" events_folder = "{JANUS_LIB}/events"
  loggers_folder = "{JANUS_LIB}/loggers" debug_level = 3 session_timeout = 60 }}
media: {{ rtp_port_range = "20000-20400" }}
nat: {{ nice_debug = false ice_enforce_list = "jva" ignore_mdns = true }}
plugins: {{ disable = "{_disable('plugins', 'libjanus_videoroom.so')}" }}
transports: {{ disable = "{_disable('transports', 'libjanus_http.so')}" }}
loggers: {{ disable = "{_disable('loggers', '')}" }}
events: {{ broadcast = false disable = "{_disable('events', '')}" }}
""")
    (folder / "janus.transport.http.jcfg").write_text(f"""
general: {{ json = "compact" base_path = "/janus" http = true port = {PORT} ip = "127.0.0.1" https = false }}
admin: {{ admin_http = false }}
""")
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: { events = false }\n")


def measure(runs: int, glass_runs: int, glass_seconds: float) -> dict[str, Any]:
    """The Janus figures (or ``skipped``); always stops Janus and deletes the namespace."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))
    # the interop lab's netns and process helpers (not on mypy's path for bench/)
    from interoplab import Netns, spawn, stop_process  # type: ignore[import-not-found]

    why = available()
    if why is not None:
        return {"skipped": why}
    ns = Netns(f"confab-janus-{os.getpid()}")
    janus: subprocess.Popen[Any] | None = None
    with tempfile.TemporaryDirectory(prefix="janusref-") as tmp:
        try:
            ns.create()
            ex = ns.exec_prefix()
            _run(*ex, "ip", "link", "add", "jva", "type", "veth", "peer", "name", "jvb")
            _run(*ex, "sysctl", "-qw", "net.ipv6.conf.jva.disable_ipv6=1", "net.ipv6.conf.jvb.disable_ipv6=1")
            _run(*ex, "ip", "addr", "add", "127.0.0.1/32", "dev", "jva")
            _run(*ex, "ip", "link", "set", "jvb", "up")
            _run(*ex, "ip", "link", "set", "jva", "up")
            write_config(Path(tmp))
            log = Path(tmp) / "janus.log"
            janus = spawn([*ex, "janus", "-F", tmp, "-C", f"{tmp}/janus.jcfg", "-o"], log,
                          stdout=subprocess.DEVNULL)
            inner = subprocess.run(
                [*ex, sys.executable, str(Path(__file__).resolve()), "--inside", "--runs", str(runs),
                 "--glass-runs", str(glass_runs), "--glass-seconds", str(glass_seconds)],
                capture_output=True, text=True, timeout=120 + runs * 10 + glass_runs * (glass_seconds + 10))
            if inner.returncode != 0:
                return {"error": f"clients exited {inner.returncode}: {inner.stderr[-1500:]}",
                        "janus_log_tail": log.read_text(errors="replace")[-1500:]}
            result: dict[str, Any] = json.loads(inner.stdout.strip().splitlines()[-1])
            return result
        finally:
            stop_process(janus)
            ns.delete()


# -- inside the namespace: the clients -------------------------------------------------------------


class Session:
    """A Janus session over HTTP long-poll, replies matched by ``transaction`` (research §3)."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.url = URL
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.poller: asyncio.Task[None] | None = None

    async def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(url, json=body) as resp:
            data: dict[str, Any] = await resp.json()
        if data.get("janus") == "error":
            raise RuntimeError(f"janus error: {data}")
        return data

    async def create(self) -> None:
        data = await self.post(self.url, {"janus": "create", "transaction": uuid.uuid4().hex})
        self.url = f"{URL}/{data['data']['id']}"
        self.poller = asyncio.ensure_future(self._poll())

    async def _poll(self) -> None:
        while True:
            async with self.http.get(self.url, params={"maxev": "5"}) as resp:
                batch = await resp.json()
            for event in batch if isinstance(batch, list) else [batch]:
                future = self.waiting.pop(event.get("transaction", ""), None)
                if future is not None and not future.done():
                    future.set_result(event)
                else:
                    self.events.append(event)

    async def attach(self) -> str:
        data = await self.post(self.url, {"janus": "attach", "plugin": "janus.plugin.videoroom",
                                          "transaction": uuid.uuid4().hex})
        return f"{self.url}/{data['data']['id']}"

    async def request(self, handle: str, body: dict[str, Any], jsep: dict[str, Any] | None = None) -> dict[str, Any]:
        """A plugin request; for asynchronous ones (``ack``) the event that answers it."""
        transaction = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[transaction] = future
        message: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            message["jsep"] = jsep
        data = await self.post(handle, message)
        if data.get("janus") == "ack":
            data = await asyncio.wait_for(future, 10)
        else:
            self.waiting.pop(transaction, None)
        plugin = data.get("plugindata", {}).get("data", {})
        if "error" in plugin:
            raise RuntimeError(f"videoroom error: {plugin}")
        return data

    async def destroy(self) -> None:
        if self.poller is not None:
            self.poller.cancel()
        if self.url != URL:
            await self.post(self.url, {"janus": "destroy", "transaction": uuid.uuid4().hex})


def jsep_of(pc: RTCPeerConnection) -> dict[str, Any]:
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp, "trickle": False}


class Publisher:
    """Creates the room, joins it as a publisher and publishes ``source``."""

    def __init__(self, http: aiohttp.ClientSession, room: int, source: SyntheticVideoSource) -> None:
        self.session = Session(http)
        self.room = room
        self.pc = RTCPeerConnection(rtc_configuration())
        self.pc.addTrack(source)
        self.feed = 0

    async def start(self) -> None:
        await self.session.create()
        handle = await self.session.attach()
        await self.session.request(handle, {"request": "create", "room": self.room, "publishers": 4,
                                            "bitrate": 2_000_000, "videocodec": "vp8"})
        joined = await self.session.request(handle, {"request": "join", "ptype": "publisher", "room": self.room})
        self.feed = joined["plugindata"]["data"]["id"]
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await self.session.request(handle, {"request": "publish"}, jsep_of(self.pc))
        await self.pc.setRemoteDescription(RTCSessionDescription(**{k: answer["jsep"][k] for k in ("sdp", "type")}))

    async def close(self) -> None:
        await self.pc.close()
        await self.session.destroy()


class Marks:
    """Milliseconds after ``t0`` of the subscriber's steps (first time each)."""

    def __init__(self) -> None:
        self.t0 = 0.0
        self.at: dict[str, float] = {}
        self.on = False

    def mark(self, label: str) -> None:
        if self.on and label not in self.at:
            self.at[label] = round((time.perf_counter() - self.t0) * 1000, 1)


MARKS = Marks()


def instrument() -> None:
    """ICE/DTLS done and the first video RTP of the subscriber (the publisher's are already past)."""
    for cls, name, label in ((RTCIceTransport, "start", "ice<"), (RTCDtlsTransport, "start", "dtls<")):
        original = getattr(cls, name)

        def wrapped(original: Any = original, label: str = label) -> Any:
            async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
                result = await original(self, *args, **kwargs)
                MARKS.mark(label)
                return result
            return timed

        setattr(cls, name, wrapped())
    handle_rtp = RTCRtpReceiver._handle_rtp_packet

    async def first_rtp(self: RTCRtpReceiver, packet: Any, arrival_time_ms: int) -> None:
        if self.track is not None and self.track.kind == "video":
            MARKS.mark("first_rtp")
        await handle_rtp(self, packet, arrival_time_ms)

    RTCRtpReceiver._handle_rtp_packet = first_rtp  # type: ignore[method-assign]  # this bench process only


async def subscribe(http: aiohttp.ClientSession, room: int, feed: int) -> tuple[Session, RTCPeerConnection, Any, float]:
    """Subscribe to ``feed``: (session, pc, the remote track, session+attach ms); MARKS from the join."""
    session = Session(http)
    t = time.perf_counter()
    await session.create()
    handle = await session.attach()
    attach_ms = (time.perf_counter() - t) * 1000
    pc = RTCPeerConnection(rtc_configuration())
    tracks: asyncio.Queue[Any] = asyncio.Queue()
    frames.assemble_remote_video(pc)  # as Confab's receivers (core.media.negotiation)

    @pc.on("track")
    def on_track(track: Any) -> None:
        if track.kind == "video":
            tracks.put_nowait(track)

    MARKS.t0, MARKS.at, MARKS.on = time.perf_counter(), {}, True
    attached = await session.request(handle, {"request": "join", "ptype": "subscriber", "room": room,
                                              "streams": [{"feed": feed}]})
    MARKS.mark("offer_received")
    await pc.setRemoteDescription(RTCSessionDescription(**{k: attached["jsep"][k] for k in ("sdp", "type")}))
    await pc.setLocalDescription(await pc.createAnswer())
    MARKS.mark("answer_set")
    await session.request(handle, {"request": "start"}, jsep_of(pc))
    MARKS.mark("start_acked")
    track = await asyncio.wait_for(tracks.get(), 10)
    return session, pc, track, attach_ms


@contextlib.asynccontextmanager
async def subscribed(http: aiohttp.ClientSession, room: int, source: Any) -> AsyncIterator[tuple[Any, float]]:
    """A publisher of ``source``, settled for SETTLE_S, and a subscriber to it: (its remote
    video track, session+attach ms); everything closed on the way out."""
    publisher = Publisher(http, room, source)
    sub: Session | None = None
    pc: RTCPeerConnection | None = None
    try:
        await publisher.start()
        await asyncio.sleep(SETTLE_S)  # a feed can be subscribed once its media is up
        sub, pc, track, attach_ms = await subscribe(http, room, publisher.feed)
        yield track, attach_ms
    finally:
        MARKS.on = False
        if pc is not None:
            await pc.close()
        if sub is not None:
            await sub.destroy()
        await publisher.close()
        await asyncio.sleep(0.3)


async def join_run(http: aiohttp.ClientSession, room: int) -> tuple[float, float, dict[str, float]]:
    """(join → first decoded frame ms, session+attach ms, phases) of one subscriber."""
    async with subscribed(http, room, SyntheticVideoSource(320, 240, 15, label="first")) as (track, attach_ms):
        await asyncio.wait_for(track.recv(), 20)
        MARKS.mark("first_frame")
        MARKS.on = False
        return MARKS.at["first_frame"], attach_ms, dict(MARKS.at)


async def glass_run(http: aiohttp.ClientSession, room: int, seconds: float) -> list[int]:
    """bench/glass.py's reader on a Janus subscriber of its 640×480@30 stamped source."""
    fps = 30.0
    latencies: list[int] = []
    async with subscribed(http, room, SyntheticVideoSource(640, 480, fps, label="glass")) as (track, _):
        MARKS.on = False
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            frame = await asyncio.wait_for(track.recv(), 5)
            stamp = read_stamp(frame)
            if stamp is not None:
                latencies.append(int(time.time() * 1000) - stamp.timestamp_ms)
    return latencies[int(fps):]


async def wait_ready(http: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            async with http.get(f"{URL}/info") as resp:
                info = await resp.json()
                if info.get("janus") == "server_info":
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("janus did not answer on /janus/info")
        await asyncio.sleep(0.1)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(ordered), 2), "p90": round(p90, 2), "max": round(ordered[-1], 2),
            "n": len(ordered)}


async def inside(args: argparse.Namespace) -> dict[str, Any]:
    enable_loopback_only()
    instrument()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        await wait_ready(http)
        async with http.get(f"{URL}/info") as resp:
            version = (await resp.json()).get("version_string")
        await join_run(http, 1000)  # warm-up, as latency.py's
        joins, attach, phases = [], [], []
        for i in range(args.runs):
            total, attach_ms, marks = await join_run(http, 1001 + i)
            joins.append(total)
            attach.append(attach_ms)
            phases.append(marks)
        glass: list[int] = []
        for n in range(args.glass_runs):
            glass += await glass_run(http, 2000 + n, args.glass_seconds)
    labels = sorted({k for p in phases for k in p}, key=lambda k: statistics.median(p[k] for p in phases if k in p))
    ordered = sorted(glass)
    return {
        "janus": version,
        "subscriber_join_to_first_frame_ms": summary(joins),
        "session_attach_ms": summary(attach),
        "phases_ms": {k: round(statistics.median(p[k] for p in phases if k in p), 1) for k in labels},
        "glass_to_glass_ms": {"frames": len(ordered), "median_ms": statistics.median(ordered) if ordered else None,
                              "p90_ms": ordered[int(0.9 * (len(ordered) - 1))] if ordered else None},
        "setup": {"join_video": "320x240@15 VP8", "glass_video": "640x480@30 VP8", "settle_s": SETTLE_S,
                  "receiver": FRAME_ASSEMBLER, "transport": "HTTP long-poll, 127.0.0.1 in a netns (veth jva)"},
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--glass-runs", type=int, default=2)
    ap.add_argument("--glass-seconds", type=float, default=4.0)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    print(json.dumps(asyncio.run(inside(a)) if a.inside else measure(a.runs, a.glass_runs, a.glass_seconds)))
