"""What recording costs, and where (issue 11): the event loop only copies packets; the disk thread muxes.

* ``file``: one :class:`server.recording.trackfile.TrackFile` fed offline-encoded packets (VP8
  640x480 at 30 fps, Opus 20 ms): ms to open it (first packet: Matroska header + PyAV's codec
  context), µs per packet, ms to close it (index, duration), file bytes per second of media.
* ``room``: the server in-process, a group room of ``--publishers`` SDK clients (camera
  640x480@15 + microphone) for ``--seconds``, once with ``RecordParticipantsOnConnect`` and
  once without: the server loop's share of each recorded packet (the tap: µs mean / p99 / max),
  the loop's worst stall (a 10 ms ticker's overshoot, ms: p99 / max) in both runs, and the
  recordings' bytes.

Prints one JSON object.

    .venv/bin/python bench/recording.py [--seconds 5] [--publishers 3]
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
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
from core.media import loopback
from core.media.sources import SyntheticAudioSource, SyntheticVideoSource
from core.track import LocalAudioTrack, LocalVideoTrack
from server.app import start_server
from server.recording.recorder import Recordings
from server.recording.trackfile import TrackFile
from server.rooms import RoomOptions


def _opus_packets(count: int) -> list[tuple[bytes, int, bool]]:
    enc = av.CodecContext.create("libopus", "w")
    assert isinstance(enc, av.AudioCodecContext)
    enc.sample_rate, enc.layout, enc.format = 48000, "stereo", "s16"
    tone = (np.sin(np.arange(960 * 2) / 10) * 3000).astype(np.int16).reshape(1, -1)
    out = []
    for i in range(count):
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48000, i * 960
        out += [(bytes(p), i * 960, True) for p in enc.encode(frame)]
    return out


def _vp8_packets(count: int) -> list[tuple[bytes, int, bool]]:
    enc = av.CodecContext.create("libvpx", "w")
    assert isinstance(enc, av.VideoCodecContext)
    enc.width, enc.height, enc.pix_fmt = 640, 480, "yuv420p"
    enc.time_base = fractions.Fraction(1, 90000)
    out = []
    for i in range(count):
        image = np.random.default_rng(i).integers(0, 255, (480, 640, 3), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts, frame.time_base = i * 3000, fractions.Fraction(1, 90000)
        out += [(bytes(p), i * 3000, p.is_keyframe) for p in enc.encode(frame)]
    return out


def bench_file(directory: Path) -> dict[str, Any]:
    result = {}
    for kind, mime, clock, packets in (("video", "video/vp8", 90000, _vp8_packets(150)),
                                       ("audio", "audio/opus", 48000, _opus_packets(250))):
        file = TrackFile(directory / f"bench.{kind}", kind, mime, clock)
        t0 = time.perf_counter()
        file.write(*packets[0])
        opened = time.perf_counter() - t0
        t1 = time.perf_counter()
        for packet in packets[1:]:
            file.write(*packet)
        per_packet = (time.perf_counter() - t1) / (len(packets) - 1)
        t2 = time.perf_counter()
        seconds, size = file.close()
        result[kind] = {"open_ms": round(opened * 1000, 2), "packet_us": round(per_packet * 1e6, 1),
                        "close_ms": round((time.perf_counter() - t2) * 1000, 2),
                        "bytes_per_s": round(size / seconds)}
    return result


async def _room_run(data_dir: Path, seconds: float, publishers: int, record: bool) -> dict[str, Any]:
    taps: list[float] = []
    original = Recordings._tap

    def timed_tap(self: Recordings, active: Any) -> Any:
        tap = original(self, active)

        def timed(*args: Any) -> None:
            t0 = time.perf_counter()
            tap(*args)
            taps.append(time.perf_counter() - t0)
        return timed

    Recordings._tap = timed_tap  # type: ignore[method-assign]  # the bench's own stopwatch
    server = await start_server(port=0, data_dir=data_dir, dev=True, default_room_type="group")
    rooms = []
    try:
        room = server.registry.create_room(RoomOptions(type="group", unique_name="bench",
                                                       record_participants_on_connect=record))
        for i in range(publishers):
            tracks = [LocalVideoTrack(SyntheticVideoSource(640, 480, 15, label=f"p{i}"), name="camera"),
                      LocalAudioTrack(SyntheticAudioSource("tone", label=f"p{i}"), name="microphone")]
            rooms.append(await connect(server.token(f"p{i}", "bench"), url=server.url, name="bench", tracks=tracks))
        await asyncio.sleep(1.0)
        overshoot: list[float] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            await asyncio.sleep(0.01)
            overshoot.append(time.perf_counter() - t0 - 0.01)
        for joined in rooms:
            joined.disconnect()
        await asyncio.sleep(0.5)
        await server.state.recordings.writer.drain()
        await server.state.store.flush()
        rows = await server.state.store.list_recordings(room_sid=room.sid, offset=0, limit=100)
        overshoot.sort()
        out: dict[str, Any] = {
            "loop_stall_ms": {"p99": round(overshoot[int(len(overshoot) * 0.99)] * 1000, 2),
                              "max": round(overshoot[-1] * 1000, 2)},
            "recordings": len(rows), "bytes": sum(r["size"] or 0 for r in rows)}
        if taps:
            taps.sort()
            out["tap_us"] = {"calls": len(taps), "mean": round(statistics.fmean(taps) * 1e6, 1),
                             "p99": round(taps[int(len(taps) * 0.99)] * 1e6, 1), "max": round(taps[-1] * 1e6, 1)}
        return out
    finally:
        Recordings._tap = original  # type: ignore[method-assign]  # the bench's own spy removed
        for joined in rooms:
            joined.disconnect()
        await server.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--publishers", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result: dict[str, Any] = {"file": bench_file(Path(tmp))}
        with loopback.loopback_only():
            for record in (False, True):
                result["recorded" if record else "not_recorded"] = await _room_run(
                    Path(tmp) / f"data-{record}", args.seconds, args.publishers, record)
    result["publishers"], result["seconds"] = args.publishers, args.seconds
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
