"""Glass-to-glass latency over a bare aiortc pair: aiortc's jitter buffer vs ``FrameAssembler``.

A stamped synthetic source (capture time written into the pixels, ``core.media.stamp``) is
sent over a loopback aiortc pair; the receiver decodes it and reads the stamp back. Each run
alternates the two receive paths, so machine noise hits both alike. Prints one JSON object:
median and p90 latency per path, frames read, and the ratio of the medians.

    .venv/bin/python bench/glass.py [--seconds 6] [--runs 3] [--width 640 --height 480 --fps 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.media import frames  # noqa: E402
from core.media.loopback import loopback_only, rtc_configuration  # noqa: E402
from core.media.sources import SyntheticVideoSource  # noqa: E402
from core.media.stamp import read_stamp  # noqa: E402


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
    results: dict[str, list[int]] = {"aiortc": [], "assembler": []}
    with loopback_only():
        for _ in range(args.runs):
            for name in results:
                results[name] += await one_run(name == "assembler", args.seconds, args.width, args.height, args.fps)
    out = {name: summary(values) for name, values in results.items()}
    a, b = out["aiortc"]["median_ms"], out["assembler"]["median_ms"]
    out["median_ratio"] = round(b / a, 3) if a and b else None
    out["setup"] = {"width": args.width, "height": args.height, "fps": args.fps, "codec": "VP8",
                    "seconds_per_run": args.seconds, "runs": args.runs}
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
