"""Join latency on loopback: ``connect()`` → connected, and connected → first remote frame decoded.

Two participants per run, each publishing a 320×240 @ 15 fps synthetic camera, in a fresh
peer-to-peer room on an in-process server. Prints one JSON object (milliseconds).

    .venv/bin/python bench/join.py [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import LocalVideoTrack, connect
from core.media import loopback
from core.media.sources import SyntheticVideoSource
from server.app import start_server


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(ordered), 2), "p90": round(p90, 2), "max": round(ordered[-1], 2)}


async def one_run(server, room: str, on_start: Callable[[], None] | None = None,
                  settle: float = 0.0) -> tuple[float, float]:
    """(``connect()`` → connected, connected → first remote frame) in ms of the second participant,
    which joins ``settle`` s after the first; ``on_start()`` is called just before its ``connect()``
    (bench/latency.py starts its timeline there)."""
    def camera(label: str) -> LocalVideoTrack:
        return LocalVideoTrack(SyntheticVideoSource(320, 240, 15, label=label))

    first = await connect(server.token("first", room), url=server.url, name=room, tracks=[camera("first")])
    started = asyncio.get_running_loop().create_future()

    await asyncio.sleep(settle)
    if on_start is not None:
        on_start()
    t0 = time.perf_counter()
    second = await connect(server.token("second", room), url=server.url, name=room, tracks=[camera("second")])
    connected = time.perf_counter()

    def on_started(track, participant) -> None:
        if track.kind == "video" and not started.done():
            started.set_result(time.perf_counter())

    second.on("trackStarted", on_started)
    first_frame = await asyncio.wait_for(started, 20)
    first.disconnect()
    second.disconnect()
    await asyncio.sleep(0.3)
    return (connected - t0) * 1000, (first_frame - connected) * 1000


async def main(runs: int) -> dict[str, object]:
    loopback.enable_loopback_only()
    with tempfile.TemporaryDirectory() as data:
        server = await start_server(port=0, data_dir=data, dev=False, default_room_type="peer-to-peer")
        try:
            await one_run(server, "warm-up")
            results = [await one_run(server, f"bench-{i}") for i in range(runs)]
        finally:
            await server.close()
    return {
        "bench": "join",
        "runs": runs,
        "participants": 2,
        "video": "320x240@15 VP8",
        "connect_to_connected_ms": summary([r[0] for r in results]),
        "connected_to_first_remote_frame_ms": summary([r[1] for r in results]),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    print(json.dumps(asyncio.run(main(ap.parse_args().runs))))
