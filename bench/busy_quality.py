"""Network quality of an idle loopback call on a busy machine (issue 14: it read 1 red bar).

Two Confab participants (640×480@30 camera + microphone each) on an in-process confab-server,
peer-to-peer and group rooms in turn, while ``--hogs`` CPU-bound processes run beside them.
Nothing is lost on loopback, so every level should be 4 or 5: a busy event loop delays the
reports round trips are measured on and the arrival times jitter is measured on, and the
scoring must not take that for the network. Prints one JSON object: per room type, how often
each level was seen (once a second, the publisher's own level and the level its peer sees),
and the worst round trip / jitter the scores were given.

    .venv/bin/python bench/busy_quality.py [--hogs 2] [--seconds 20] [--size 640x480@30]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import LocalAudioTrack, LocalVideoTrack, connect
from core.media.loopback import loopback_only
from core.media.sources import SyntheticAudioSource, SyntheticVideoSource
from server.app import start_server


def _worst_latency(stats: Any) -> tuple[float, float]:
    rtt = jitter = 0.0
    for media in (getattr(stats, "audio", None), getattr(stats, "video", None)):
        for direction in (getattr(media, "send_stats", None), getattr(media, "recv_stats", None)):
            latency = getattr(direction, "latency", None)
            if latency is not None:
                rtt = max(rtt, latency.rtt or 0.0)
                jitter = max(jitter, latency.jitter or 0.0)
    return rtt, jitter


async def one(server: Any, size: tuple[int, int, float], seconds: int) -> dict[str, Any]:
    rooms = []
    for name in ("a", "b"):
        tracks = [LocalVideoTrack(SyntheticVideoSource(*size, label=name)),
                  LocalAudioTrack(SyntheticAudioSource("tone", label=name))]
        rooms.append(await connect(server.token(name, "busy"), url=server.url, name="busy", tracks=tracks,
                                   network_quality={"local": 3, "remote": 3}))
    a, b = rooms
    own: collections.Counter[int] = collections.Counter()
    seen: collections.Counter[int] = collections.Counter()
    worst_rtt = worst_jitter = 0.0
    try:
        await asyncio.sleep(4.0)  # subscribed, scores' windows filled
        for _ in range(seconds):
            await asyncio.sleep(1.0)
            remote = next(iter(b.participants.values()), None)
            if a.local_participant.network_quality_level is not None:
                own[int(a.local_participant.network_quality_level)] += 1
            if remote is not None and remote.network_quality_level is not None:
                seen[int(remote.network_quality_level)] += 1
            rtt, jitter = _worst_latency(a.local_participant.network_quality_stats)
            worst_rtt, worst_jitter = max(worst_rtt, rtt), max(worst_jitter, jitter)
    finally:
        for room in rooms:
            room.disconnect()
        await asyncio.sleep(0.3)
    return {"own_levels": dict(sorted(own.items())), "seen_levels": dict(sorted(seen.items())),
            "worst_rtt_s": round(worst_rtt, 3), "worst_jitter_s": round(worst_jitter, 3)}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--size", default="640x480@30")
    args = parser.parse_args()
    w, rest = args.size.split("x")
    h, fps = rest.split("@")
    size = (int(w), int(h), float(fps))
    hogs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(args.hogs)]
    out: dict[str, Any] = {"hogs": args.hogs, "size": args.size}
    try:
        with loopback_only(), tempfile.TemporaryDirectory() as tmp:
            for kind in ("peer-to-peer", "group"):
                server = await start_server(port=0, data_dir=Path(tmp) / kind, dev=True, default_room_type=kind)
                try:
                    out[kind] = await one(server, size, args.seconds)
                finally:
                    await server.close()
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
