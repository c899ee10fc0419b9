"""Media recovery after an outage: every RTP packet of a publisher dropped for ``--outage`` s.

Two Confab participants on an in-process confab-server (peer-to-peer and group rooms), the
publisher's camera at each size in turn; the publisher's outgoing RTP is dropped with the
project's own fault injection (``core.media.faults``), then let through again. Measured:
seconds from the end of the outage to the viewer's next decoded frame, and the keyframe
requests (PLI/FIR) that reached the publisher's sender meanwhile; and what the media
watchdog made of it (``core.media.watchdog``): seconds from the start of the outage to each
Room's ``reconnecting`` (53405) and to the viewer's video marked frozen, how many times the
publisher rebuilt its connection, and seconds from the end of the outage to each Room's
``reconnected``. Prints one JSON object.

    .venv/bin/python bench/recovery.py [--outage 10] [--sizes 160x120@10 320x240@15 640x480@30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import LocalVideoTrack, connect
from core.media.faults import outgoing_loss
from core.media.loopback import loopback_only
from core.media.sources import SyntheticVideoSource
from server.app import start_server


async def until(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.01)


async def one(server: Any, room: str, size: tuple[int, int, float], outage: float) -> dict[str, Any]:
    width, height, fps = size
    camera = LocalVideoTrack(SyntheticVideoSource(width, height, fps, label="recovery"))
    publisher = await connect(server.token("pub", room), url=server.url, name=room, tracks=[camera])
    viewer = await connect(server.token("view", room), url=server.url, name=room, tracks=[])
    arrivals: list[float] = []
    requests: list[float] = []
    events: dict[str, float] = {}
    for who, party in (("viewer", viewer), ("publisher", publisher)):
        for event in ("reconnecting", "reconnected"):
            party.on(event, lambda *_, key=f"{who}_{event}": events.setdefault(key, time.monotonic()))
    try:
        def publication() -> Any:
            return next((pub for p in viewer.participants.values() for pub in p.video_tracks.values()
                         if pub.is_subscribed), None)

        await until(publication, 10)
        publication().track.add_sink(lambda frame: arrivals.append(time.monotonic()))
        await until(lambda: len(arrivals) >= 5, 10)
        for session in publisher._signaling.media.mesh.sessions().values():
            transceiver = session.transceivers.get(camera.id)
            if transceiver is not None:
                sender, original = transceiver.sender, transceiver.sender._send_keyframe

                def counted(original: Any = original) -> None:
                    requests.append(time.monotonic())
                    original()

                sender._send_keyframe = counted
        video = publication().track
        video.on("frozen", lambda *_: events.setdefault("viewer_frozen", time.monotonic()))
        pcs = {s.id: s.pc for s in publisher._signaling.media.mesh.sessions().values()}
        rebuilt: set[int] = set()
        loss = outgoing_loss(publisher)
        loss.set_fraction(1.0)
        stopped = time.monotonic()
        while time.monotonic() < stopped + outage:
            await asyncio.sleep(0.05)
            rebuilt |= {id(s.pc) for s in publisher._signaling.media.mesh.sessions().values()
                        if s.id in pcs and s.pc is not pcs[s.id]}
        loss.set_fraction(0.0)
        restored = time.monotonic()
        await until(lambda: arrivals[-1] >= restored, outage + 60)
        first = next(t for t in arrivals if t >= restored)
        await until(lambda: "viewer_reconnected" in events and "publisher_reconnected" in events, 10)

        def since(key: str, t0: float) -> float | None:
            return round(events[key] - t0, 3) if key in events else None

        return {"recovery_s": round(first - restored, 3),
                "keyframe_requests": sum(1 for t in requests if restored <= t <= first),
                "reconnecting_s": {w: since(f"{w}_reconnecting", stopped) for w in ("viewer", "publisher")},
                "frozen_s": since("viewer_frozen", stopped), "rebuilds": len(rebuilt),
                "reconnected_s": {w: since(f"{w}_reconnected", restored) for w in ("viewer", "publisher")}}
    except TimeoutError:
        return {"recovery_s": None, "keyframe_requests": len(requests)}
    finally:
        viewer.disconnect()
        publisher.disconnect()
        await asyncio.sleep(0.3)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--sizes", nargs="+", default=["160x120@10", "320x240@15", "640x480@30"])
    args = parser.parse_args()
    sizes = [(int(s.split("x")[0]), int(s.split("x")[1].split("@")[0]), float(s.split("@")[1])) for s in args.sizes]
    out: dict[str, Any] = {"outage_s": args.outage}
    with loopback_only(), tempfile.TemporaryDirectory() as tmp:
        for kind in ("peer-to-peer", "group"):
            server = await start_server(port=0, data_dir=Path(tmp) / kind, dev=True, default_room_type=kind)
            try:
                for n, size in enumerate(sizes):
                    out[f"{kind} {args.sizes[n]}"] = await one(server, f"r{n}", size, args.outage)
            finally:
                await server.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
