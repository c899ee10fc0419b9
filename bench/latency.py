"""Join and media latency of Confab beside a bare aiortc pair (and Janus when installed), in one run.

* ``join_to_first_frame_ms``: a bare aiortc pair on loopback from ``createOffer()`` to the
  receiver's first decoded frame; Confab from the ``connect()`` call of a participant joining
  a room where one participant has been publishing for ``SETTLE_S`` to its first decoded
  remote video frame (``trackStarted``; ``bench/join.py``'s run), peer-to-peer and group
  (through the forwarder). 320×240@15 VP8 synthetic cameras.
* ``phases_ms``: where that time goes, as medians of when each step first began (``>``) and
  ended (``<``) after the start, for the joining side only (a context variable marks its
  tasks, so the server's and the other participant's peer connections are left out):
  ``ws_open+ice_hello`` (``SignalingTransport.acquire_ice``: WebSocket + ``ice`` reply),
  ``connect->connected`` (``SignalingTransport.connect``), ``create_offer``/``create_answer``,
  ``set_local`` (includes ICE gathering), ``set_remote``, ``ice`` (``RTCIceTransport.start``:
  connectivity checks), ``dtls`` (``RTCDtlsTransport.start``: handshake), ``first_rtp``
  (the first video packet at a receiver), ``first_frame``. Group rooms have two connections
  (publish, subscribe): a step lists each time it began.
* ``glass_to_glass_ms``: ``bench/glass.py``'s paths (bare aiortc pair, aiortc pair with
  ``FrameAssembler``, Confab P2P, Confab group), 640×480@30.
* ``janus``: ``bench/janusref.py``'s figures (Janus VideoRoom with aiortc clients in a netns it
  creates and deletes; same sources and definitions), measured in the same run whenever ``janus``
  is installed and ``ip netns`` works (as root), unless ``--no-janus``; otherwise ``skipped``,
  with issue 12's figures as ``reference_not_measured``. ``group_join_within_janus`` compares
  with the measured median (the reference only when not measured).

Prints one JSON object (``load_avg`` before and after: the machine is shared).

    .venv/bin/python bench/latency.py [--runs 9] [--glass-runs 2] [--glass-seconds 4] [--no-janus]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import glass
import janusref
import join
from aiortc import RTCDtlsTransport, RTCIceTransport, RTCPeerConnection
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from core.media.loopback import loopback_only, rtc_configuration
from core.media.sources import SyntheticVideoSource
from core.signaling_transport import SignalingTransport
from server.app import start_server

#: Only when Janus cannot be measured: issue 12's table (research/janus-probe.md, same machine)
JANUS_JOIN_MS = 76.0
JANUS_REFERENCE = {"subscriber_join_to_first_frame_ms": JANUS_JOIN_MS, "glass_to_glass_ms": 38,
                   "source": "issue 12 table (research/janus-probe.md: 133 ms incl. the subscriber's join request)"}

#: The participant already in the room publishes this long before the timed one joins (in a group
#: room its video then reaches the server before the subscription, as for a Janus subscriber).
SETTLE_S = 0.5

_timed: contextvars.ContextVar[bool] = contextvars.ContextVar("latency_timed", default=False)


class Timeline:
    """When each instrumented step began/ended, relative to ``start()``, for the timed tasks only."""

    def __init__(self) -> None:
        self.t0 = 0.0
        self.marks: dict[str, list[float]] = defaultdict(list)

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.marks.clear()

    def mark(self, label: str) -> None:
        if _timed.get():
            self.marks[label].append(round((time.perf_counter() - self.t0) * 1000, 1))

    def wrap(self, cls: type, name: str, label: str) -> None:
        original = getattr(cls, name)
        timeline = self

        async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            timeline.mark(label + ">")
            try:
                return await original(self, *args, **kwargs)
            finally:
                timeline.mark(label + "<")

        setattr(cls, name, timed)

    def first_rtp(self) -> None:
        original = RTCRtpReceiver._handle_rtp_packet
        timeline = self

        async def handle(self: RTCRtpReceiver, packet: Any, arrival_time_ms: int) -> None:
            if self.track is not None and self.track.kind == "video" and not self.__dict__.get("_latency_seen"):
                self.__dict__["_latency_seen"] = True
                timeline.mark("first_rtp")
            await original(self, packet, arrival_time_ms)

        RTCRtpReceiver._handle_rtp_packet = handle  # type: ignore[method-assign]  # this bench process only


TIMELINE = Timeline()


def instrument() -> None:
    for cls, name, label in ((SignalingTransport, "acquire_ice", "ws_open+ice_hello"),
                             (SignalingTransport, "connect", "connect->connected"),
                             (RTCPeerConnection, "createOffer", "create_offer"),
                             (RTCPeerConnection, "createAnswer", "create_answer"),
                             (RTCPeerConnection, "setLocalDescription", "set_local"),
                             (RTCPeerConnection, "setRemoteDescription", "set_remote"),
                             (RTCIceTransport, "start", "ice"),
                             (RTCDtlsTransport, "start", "dtls")):
        TIMELINE.wrap(cls, name, label)
    TIMELINE.first_rtp()


async def timed(run: Callable[[], Awaitable[float]]) -> tuple[float, dict[str, list[float]]]:
    """Run ``run()`` (it returns the first-frame time in ms after ``TIMELINE.start()``) in a timed context."""

    async def inside() -> float:
        _timed.set(True)
        return await run()

    total = await asyncio.create_task(inside(), context=contextvars.copy_context())
    marks = dict(TIMELINE.marks)
    marks["first_frame"] = [round(total, 1)]
    return total, marks


async def aiortc_pair() -> float:
    """A bare pair: ``createOffer()`` → the receiver's first decoded frame (ms)."""
    sender, receiver = RTCPeerConnection(rtc_configuration()), RTCPeerConnection(rtc_configuration())
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    readers: list[asyncio.Task[None]] = []

    @receiver.on("track")
    def on_track(track: Any) -> None:
        async def first() -> None:
            await track.recv()
            if not got.done():
                got.set_result(time.perf_counter())
        readers.append(asyncio.ensure_future(first()))

    sender.addTrack(SyntheticVideoSource(320, 240, 15, label="latency"))
    try:
        TIMELINE.start()
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        first = await asyncio.wait_for(got, 20)
    finally:
        await sender.close()
        await receiver.close()
    return (first - TIMELINE.t0) * 1000


def confab_join(server: Any, room: str) -> Callable[[], Awaitable[float]]:
    def begin() -> None:  # just before the joining participant's connect(): its tasks are the timed ones
        TIMELINE.start()
        _timed.set(True)

    async def run() -> float:
        _timed.set(False)  # the participant already there is not timed
        to_connected, to_frame = await join.one_run(server, room, on_start=begin, settle=SETTLE_S)
        return to_connected + to_frame

    return run


def summary(values: list[float]) -> dict[str, float]:
    return join.summary(values) | {"n": len(values)}


def phase_medians(runs: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Per step, the median over runs of its i-th time (only as many as every run has)."""
    out: dict[str, list[float]] = {}
    for label in sorted({k for r in runs for k in r}, key=lambda k: statistics.median(
            r[k][0] for r in runs if k in r)):
        counts = [len(r.get(label, [])) for r in runs]
        out[label] = [round(statistics.median(r[label][i] for r in runs), 1) for i in range(min(counts))]
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    instrument()
    result: dict[str, Any] = {"bench": "latency", "load_avg_before": [round(x, 2) for x in os.getloadavg()],
                              "cores": os.cpu_count()}
    joins: dict[str, list[float]] = {"aiortc_pair": [], "confab_p2p": [], "confab_group": []}
    phases: dict[str, list[dict[str, list[float]]]] = {k: [] for k in joins}
    glasses: dict[str, list[int]] = {"aiortc": [], "assembler": [], "confab-p2p": [], "confab-group": []}
    size = (args.glass_seconds, 640, 480, 30.0)
    with loopback_only(), tempfile.TemporaryDirectory() as tmp:
        servers = {kind: await start_server(port=0, data_dir=Path(tmp) / kind, dev=True, default_room_type=kind)
                   for kind in ("peer-to-peer", "group")}
        try:
            await join.one_run(servers["peer-to-peer"], "warm-up")
            await join.one_run(servers["group"], "warm-up")
            for i in range(args.runs):  # interleaved, so machine noise hits every path alike
                for name, run in (("aiortc_pair", aiortc_pair),
                                  ("confab_p2p", confab_join(servers["peer-to-peer"], f"p2p-{i}")),
                                  ("confab_group", confab_join(servers["group"], f"group-{i}"))):
                    total, marks = await timed(run)
                    joins[name].append(total)
                    phases[name].append(marks)
            for n in range(args.glass_runs):
                glasses["aiortc"] += await glass.one_run(False, *size)
                glasses["assembler"] += await glass.one_run(True, *size)
                glasses["confab-p2p"] += await glass.confab_run(servers["peer-to-peer"], "p2p", n, *size)
                glasses["confab-group"] += await glass.confab_run(servers["group"], "group", n, *size)
        finally:
            for server in servers.values():
                await server.close()
    first = {name: summary(values) for name, values in joins.items()}
    base = first["aiortc_pair"]["median"]
    result["join_to_first_frame_ms"] = first
    result["join_ratio_to_aiortc_pair"] = {name: round(first[name]["median"] / base, 2) for name in first}
    result["phases_ms"] = {name: phase_medians(runs) for name, runs in phases.items()}
    g = {name: glass.summary(values) for name, values in glasses.items()}
    result["glass_to_glass_ms"] = g
    result["glass_group_minus_p2p_ms"] = (g["confab-group"]["median_ms"] - g["confab-p2p"]["median_ms"]
                                          if g["confab-group"]["median_ms"] is not None
                                          and g["confab-p2p"]["median_ms"] is not None else None)
    why = janusref.available()
    if why is None and not args.no_janus:  # after Confab's runs, in the same process run
        result["janus"] = janusref.measure(args.runs, args.glass_runs, args.glass_seconds)
    else:
        result["janus"] = {"skipped": why or "--no-janus given"}
    measured = result["janus"].get("subscriber_join_to_first_frame_ms", {}).get("median")
    if measured is None:
        result["janus"]["reference_not_measured"] = JANUS_REFERENCE
    janus_join = measured if measured is not None else JANUS_JOIN_MS
    result["goals"] = {"p2p_join_within_1.2x_aiortc_pair": first["confab_p2p"]["median"] <= 1.2 * base,
                       "group_join_within_janus": first["confab_group"]["median"] <= janus_join,
                       "janus_join_ms_compared": janus_join,
                       "janus_join_source": "measured in this run" if measured is not None
                       else "reference (issue 12 table), not measured"}
    result["setup"] = {"join_video": "320x240@15 VP8", "glass_video": "640x480@30 VP8", "runs": args.runs,
                       "glass_runs": args.glass_runs, "glass_seconds": args.glass_seconds}
    result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--glass-runs", type=int, default=2)
    ap.add_argument("--glass-seconds", type=float, default=4.0)
    ap.add_argument("--no-janus", action="store_true", help="do not measure Janus even when it is installed")
    print(json.dumps(asyncio.run(main(ap.parse_args()))))
