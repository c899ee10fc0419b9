"""Glass-to-glass latency: a bare aiortc pair (aiortc's jitter buffer, and ``FrameAssembler``)
and Confab calls through an in-process confab-server (peer-to-peer and group rooms).

A stamped synthetic source (capture time written into the pixels, ``core.media.stamp``) is
sent; the receiver decodes it and reads the stamp back. Each run goes through every path in
turn, so machine noise hits all alike. Prints one JSON object: median and p90 latency per
path, frames read, and the ratios of the medians to the bare aiortc pair's.

    .venv/bin/python bench/glass.py [--seconds 6] [--runs 3] [--width 640 --height 480 --fps 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import LocalVideoTrack, connect
from core.media import frames
from core.media.loopback import loopback_only, rtc_configuration
from core.media.sources import SyntheticVideoSource
from core.media.stamp import read_stamp
from server.app import start_server


async def one_run(assembler: bool, seconds: float, width: int, height: int, fps: float) -> list[int]:
    sender, receiver = RTCPeerConnection(rtc_configuration()), RTCPeerConnection(rtc_configuration())
    latencies: list[int] = []
    remote: list[Any] = []

    @receiver.on("track")
    def on_track(track: Any) -> None:
        remote.append(track)
        if assembler:
            frames.install(receiver.getTransceivers()[0].receiver)

    sender.addTrack(SyntheticVideoSource(width, height, fps, label="glass"))
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    deadline = time.monotonic() + seconds
    try:
        while not remote:
            await asyncio.sleep(0.01)
        while time.monotonic() < deadline:
            frame = await asyncio.wait_for(remote[0].recv(), 5)
            stamp = read_stamp(frame)
            if stamp is not None:
                latencies.append(int(time.time() * 1000) - stamp.timestamp_ms)
    finally:
        await sender.close()
        await receiver.close()
    return latencies[int(fps):]  # the first second warms the encoder up


async def confab_run(server: Any, room_type: str, n: int, seconds: float, width: int, height: int,
                     fps: float) -> list[int]:
    room_name = f"glass-{room_type}-{n}"  # an ad-hoc room of the server's default type
    publisher = await connect(server.token("pub", room_name), url=server.url, name=room_name,
                              tracks=[LocalVideoTrack(SyntheticVideoSource(width, height, fps, label="glass"))])
    viewer = await connect(server.token("view", room_name), url=server.url, name=room_name, tracks=[])
    latencies: list[int] = []

    def sink(frame: Any) -> None:
        stamp = read_stamp(frame)
        if stamp is not None:
            latencies.append(int(time.time() * 1000) - stamp.timestamp_ms)

    try:
        deadline = time.monotonic() + 10
        while not any(pub.is_subscribed for p in viewer.participants.values() for pub in p.video_tracks.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("no subscription")
            await asyncio.sleep(0.01)
        track = next(pub.track for p in viewer.participants.values() for pub in p.video_tracks.values())
        track.add_sink(sink)
        await asyncio.sleep(seconds)
    finally:
        viewer.disconnect()
        publisher.disconnect()
        await asyncio.sleep(0.3)
    return latencies[int(fps):]


def summary(values: list[int]) -> dict[str, Any]:
    values = sorted(values)
    return {"frames": len(values), "median_ms": statistics.median(values) if values else None,
            "p90_ms": values[int(0.9 * (len(values) - 1))] if values else None}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    results: dict[str, list[int]] = {"aiortc": [], "assembler": [], "confab-p2p": [], "confab-group": []}
    size = (args.seconds, args.width, args.height, args.fps)
    with loopback_only(), tempfile.TemporaryDirectory() as tmp:
        servers = {kind: await start_server(port=0, data_dir=Path(tmp) / kind, dev=True, default_room_type=kind)
                   for kind in ("peer-to-peer", "group")}
        try:
            for n in range(args.runs):
                results["aiortc"] += await one_run(False, *size)
                results["assembler"] += await one_run(True, *size)
                results["confab-p2p"] += await confab_run(servers["peer-to-peer"], "p2p", n, *size)
                results["confab-group"] += await confab_run(servers["group"], "group", n, *size)
        finally:
            for server in servers.values():
                await server.close()
    out: dict[str, Any] = {name: summary(values) for name, values in results.items()}
    base = out["aiortc"]["median_ms"]
    out["median_ratio_to_aiortc"] = {name: round(out[name]["median_ms"] / base, 3) if base and out[name]["median_ms"]
                                     else None for name in results}
    out["setup"] = {"width": args.width, "height": args.height, "fps": args.fps, "codec": "VP8",
                    "seconds_per_run": args.seconds, "runs": args.runs}
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
