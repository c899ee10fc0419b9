"""Track switch-off in a group room: how fast the forwarder switches a video off when a
subscriber's downlink budget is cut, and how fast it is back (to the first decoded frame).

An in-process confab-server, two publishers (alice low priority, carol high, 320x240@15
synthetic cameras) and a viewer (bob) connected with a bandwidth profile. Each run cuts
bob's downlink to 1.4x one camera (``Forwarder.limit_downlink``: the injected cap), waits
for ``trackSwitchedOff``, lifts it, waits for ``trackSwitchedOn`` and alice's next frame.
Measured per run: ms from the cut to ``trackSwitchedOff`` at bob, frames of alice bob still
decoded after it, ms from the lift to ``trackSwitchedOn`` and to the first frame after it,
and that carol (high priority) was never switched off. Prints one JSON object. (The cut acts
at once, so ``off_ms`` is the MSP path; a cut the receiver reports show takes the loss
window, 1-2 s: tests/group/test_group_switch_off.py's congested case.)

    .venv/bin/python bench/switch_off.py [--runs 5]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import LocalVideoTrack, connect
from core.media.loopback import loopback_only
from core.media.sources import SyntheticVideoSource
from server.app import start_server
from server.forwarder import Forwarder


async def until(predicate: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(str(predicate))
        await asyncio.sleep(0.005)
    return value


def video_of(room: Any, identity: str) -> Any:
    for participant in room.participants.values():
        if participant.identity == identity:
            for pub in participant.tracks.values():
                if pub.kind == "video" and pub.is_subscribed:
                    return pub.track
    return None


async def main(runs: int) -> dict[str, Any]:
    results: dict[str, list[float]] = {"off_ms": [], "frames_after_off": [], "on_ms": [], "first_frame_after_on_ms": []}
    carol_off = 0
    with loopback_only(), tempfile.TemporaryDirectory() as tmp:
        server = await start_server(port=0, data_dir=Path(tmp), dev=True, default_room_type="group")
        rooms, cameras = [], []
        try:
            for name, priority in (("alice", "low"), ("carol", "high")):
                track = LocalVideoTrack(SyntheticVideoSource(320, 240, 15, label=name), name="camera")
                cameras.append(track)
                room = await connect(server.token(name, "bench"), url=server.url, name="bench", tracks=[track])
                next(iter(room.local_participant.video_tracks.values())).set_priority(priority)
                rooms.append(room)
            bob = await connect(server.token("bob", "bench"), url=server.url, name="bench", tracks=[],
                                bandwidth_profile={"video": {"mode": "presentation"}})
            rooms.append(bob)
            events: list[tuple[str, Any, float]] = []
            for event in ("trackSwitchedOff", "trackSwitchedOn"):
                bob.on(event, lambda track, *_, event=event: events.append((event, track, time.monotonic())))
            alice = await until(lambda: video_of(bob, "alice"))
            carol = await until(lambda: video_of(bob, "carol"))
            frames: list[float] = []
            alice.add_sink(lambda frame: frames.append(time.monotonic()))
            carol.add_sink(lambda frame: None)
            room_state = server.registry.find_room("bench")
            assert room_state is not None and isinstance(room_state.media, Forwarder)
            forwarder = room_state.media
            sid = bob.local_participant.sid

            def rate() -> float:
                rates = [i["bitrate"] or 0 for p in forwarder.stats()["peers"].values()
                         for i in p["inbound"].values() if i["kind"] == "video"]
                return max(rates) if len(rates) == 2 and min(rates) > 0 else 0.0

            await until(lambda: len(frames) > 10 and rate())
            await asyncio.sleep(1.0)
            for _ in range(runs):
                events.clear()
                cut = time.monotonic()
                forwarder.limit_downlink(sid, rate() * 1.4)
                await until(lambda: any(e[0] == "trackSwitchedOff" for e in events))
                off_at = next(e[2] for e in events if e[0] == "trackSwitchedOff")
                carol_off += sum(1 for e in events if e[0] == "trackSwitchedOff" and e[1] is carol)
                await asyncio.sleep(1.5)
                results["off_ms"].append((off_at - cut) * 1000)
                results["frames_after_off"].append(sum(1 for t in frames if t > off_at + 0.2))
                lift = time.monotonic()
                forwarder.limit_downlink(sid, None)
                await until(lambda: any(e[0] == "trackSwitchedOn" for e in events))
                on_at = next(e[2] for e in events if e[0] == "trackSwitchedOn")
                await until(lambda on_at=on_at: frames[-1] > on_at)
                results["on_ms"].append((on_at - lift) * 1000)
                results["first_frame_after_on_ms"].append((next(t for t in frames if t > on_at) - lift) * 1000)
                await asyncio.sleep(1.5)
        finally:
            for room in rooms:
                room.disconnect()
            for camera in cameras:
                camera.stop()
            await asyncio.sleep(0.3)
            await server.close()
    out: dict[str, Any] = {"runs": runs, "carol_switched_off": carol_off}
    for key, values in results.items():
        out[key] = {"median": round(statistics.median(values), 1), "max": round(max(values), 1)}
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.runs))))
