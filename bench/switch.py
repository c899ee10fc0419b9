"""Device switch during a call: ``LocalTrack.restart`` from the synthetic camera to a recorded
one (red), measured at the remote end, in peer-to-peer and group rooms.

Two Confab participants on an in-process confab-server; alice publishes the synthetic camera,
then restarts the same track on a recording (``file:`` device: the player code path a V4L2
camera takes). Measured: ms from calling ``restart()`` to bob's first decoded red frame, and
that bob's subscription (track sid) never changed. Prints one JSON object.

    .venv/bin/python bench/switch.py [--runs 3] [--size 320x240@15]
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

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import connect
from core.local_tracks import create_local_video_track
from core.media.loopback import loopback_only
from server.app import start_server


def record_red(path: Path, width: int, height: int, fps: float) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        planes = np.empty(width * height * 3 // 2, dtype=np.uint8)
        y, c = width * height, width * height // 4
        planes[:y], planes[y : y + c], planes[y + c :] = 82, 90, 240
        for _ in range(round(fps)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(planes.reshape(-1, width), format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


async def until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.005)


async def one(server: Any, room: str, clip: Path, size: tuple[int, int, float]) -> dict[str, Any]:
    width, height, fps = size
    camera = create_local_video_track("synthetic:camera", width=width, height=height, fps=fps)
    alice = await connect(server.token("alice", room), url=server.url, name=room, tracks=[camera])
    bob = await connect(server.token("bob", room), url=server.url, name=room, tracks=[])
    try:
        def remote() -> Any:
            for p in bob.participants.values():
                for pub in p.video_tracks.values():
                    if pub.track is not None:
                        return pub.track
            return None

        await until(remote)
        track = remote()
        red: list[float] = []
        track.add_sink(lambda f: red.append(time.monotonic())
                       if f.to_ndarray(format="yuv420p")[f.height + f.height // 4 :].mean() > 220 else None)
        await asyncio.sleep(1.0)
        start = time.monotonic()
        await camera.restart({"device": f"file:{clip}"})
        opened = time.monotonic()
        await until(lambda: red)
        return {"switch_ms": round((red[0] - start) * 1000), "open_ms": round((opened - start) * 1000),
                "same_sid": remote() is not None and remote().sid == track.sid}
    finally:
        camera.stop()
        alice.disconnect()
        bob.disconnect()
        await asyncio.sleep(0.3)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", default="320x240@15")
    args = ap.parse_args()
    dims, _, rate = args.size.partition("@")
    w, h = (int(v) for v in dims.split("x"))
    size = (w, h, float(rate or 15))
    results: dict[str, Any] = {"size": args.size}
    with tempfile.TemporaryDirectory() as tmp, loopback_only():
        clip = record_red(Path(tmp) / "red.mp4", w, h, size[2])
        for room_type in ("peer-to-peer", "group"):
            server = await start_server(port=0, data_dir=Path(tmp) / room_type, dev=True,
                                        default_room_type=room_type)
            try:
                runs = [await one(server, f"switch{i}", clip, size) for i in range(args.runs)]
            finally:
                await server.close()
            results[room_type] = {
                "switch_ms_median": statistics.median(r["switch_ms"] for r in runs),
                "switch_ms": [r["switch_ms"] for r in runs],
                "open_ms": [r["open_ms"] for r in runs],
                "same_sid": all(r["same_sid"] for r in runs),
            }
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
