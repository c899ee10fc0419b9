"""Server CPU of a group room: the forwarder (pass-through) against a decode-and-re-encode relay.

One publisher sends a 640×480 @ 30 fps synthetic camera (VP8, aiortc's encoder); 1, 2, 4
and 8 subscribers receive it. Measured: the CPU of the *middle* process only (seconds of
CPU per second of wall time; 1.0 = one core), over ``--measure`` seconds after
``--warmup`` seconds at each size, in one run:

* ``forwarder``: a ``confab-server`` process (group room; our clients over its signaling);
* ``mediarelay``: a plain aiortc peer process that receives the publisher and sends it on
  to every subscriber through ``aiortc.contrib.media.MediaRelay`` (decode once, one VP8
  encode per subscriber) — the relay the probe measured (tech-probe §2).

Publisher and subscribers live in a separate "edge" process. To keep the edge from
saturating two cores at 8 subscribers, the subscribers **do not decode**: their receivers'
decoder is replaced by a counter of encoded frames (``frames`` below is what each
subscriber received per second). Prints one JSON object.

    .venv/bin/python bench/forwarding.py [--measure 6] [--warmup 2] [--sizes 1,2,4,8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT, FPS = 640, 480, 30


# --- the edge process: publisher + subscribers ------------------------------------------------

class _CountingDecoder:
    """Stands in for a video decoder in the edge process: counts encoded frames, decodes nothing."""

    instances: ClassVar[list[_CountingDecoder]] = []

    def __init__(self) -> None:
        self.frames = 0
        _CountingDecoder.instances.append(self)

    def decode(self, encoded_frame: Any) -> list[Any]:
        self.frames += 1
        return []


def _install_counting_decoders() -> None:
    import aiortc.rtcrtpreceiver as receiver_module

    # aiortc.rtcrtpreceiver imports get_decoder from aiortc.codecs without re-exporting it;
    # the receiver looks it up in its own module, so that is the name to swap.
    original = receiver_module.get_decoder  # not re-exported, see above

    def get_decoder(codec: Any) -> Any:
        return _CountingDecoder() if codec.mimeType.lower().startswith("video/") else original(codec)

    receiver_module.get_decoder = get_decoder  # as above


async def _edge(mode: str, url: str) -> None:
    import aiohttp
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from core import LocalVideoTrack, connect
    from core.media import loopback
    from core.media.sources import SyntheticVideoSource

    loopback.enable_loopback_only()
    _install_counting_decoders()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    closers: list[Any] = []
    http = aiohttp.ClientSession()

    async def exchange(path: str, pc: RTCPeerConnection) -> None:
        await pc.setLocalDescription(await pc.createOffer())
        async with http.post(url + path, json={"sdp": pc.localDescription.sdp}) as resp:
            body = await resp.json()
        await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))

    source = SyntheticVideoSource(WIDTH, HEIGHT, FPS, label="publisher")
    if mode == "forwarder":
        async def token(identity: str) -> str:
            async with http.post(url + "/dev/token", json={"identity": identity, "room": "bench"}) as resp:
                return str((await resp.json())["token"])

        publisher = await connect(await token("publisher"), url=url, name="bench",
                                  tracks=[LocalVideoTrack(source, name="camera")], automatic_subscription=False)
        closers.append(publisher.disconnect)
    else:
        pc = RTCPeerConnection(loopback.rtc_configuration())
        pc.addTransceiver(source, direction="sendonly")
        await exchange("/publish", pc)
        closers.append(pc.close)

    count = 0
    while True:
        line = (await reader.readline()).decode().strip()
        if not line or line == "quit":
            break
        if line.startswith("add "):
            before = len(_CountingDecoder.instances)
            for _ in range(int(line.split()[1])):
                count += 1
                if mode == "forwarder":
                    room = await connect(await token(f"sub-{count}"), url=url, name="bench", tracks=[])
                    closers.append(room.disconnect)
                else:
                    pc = RTCPeerConnection(loopback.rtc_configuration())
                    pc.addTransceiver("video", direction="recvonly")
                    await exchange("/subscribe", pc)
                    closers.append(pc.close)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and (len(_CountingDecoder.instances) < count or any(
                    d.frames == 0 for d in _CountingDecoder.instances[before:])):
                await asyncio.sleep(0.05)
        elif line == "stats":
            pass
        print(json.dumps({"subscribers": count, "frames": [d.frames for d in _CountingDecoder.instances]}),
              flush=True)
    for close in reversed(closers):
        result = close()
        if asyncio.iscoroutine(result):
            await result
    await http.close()
    await asyncio.sleep(0.3)


# --- the relay process: a plain aiortc peer with MediaRelay -----------------------------------

async def _relay(port_file: str) -> None:
    from aiohttp import web
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRelay

    from core.media import loopback

    loopback.enable_loopback_only()
    relay = MediaRelay()
    source: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    pcs: list[RTCPeerConnection] = []

    async def answer(pc: RTCPeerConnection, request: web.Request) -> web.Response:
        body = await request.json()
        await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp})

    async def publish(request: web.Request) -> web.Response:
        pc = RTCPeerConnection(loopback.rtc_configuration())
        pcs.append(pc)

        @pc.on("track")
        def on_track(track: Any) -> None:
            if not source.done():
                source.set_result(track)

        return await answer(pc, request)

    async def subscribe(request: web.Request) -> web.Response:
        pc = RTCPeerConnection(loopback.rtc_configuration())
        pcs.append(pc)
        pc.addTrack(relay.subscribe(await source, buffered=False))
        return await answer(pc, request)

    app = web.Application()
    app.router.add_post("/publish", publish)
    app.router.add_post("/subscribe", subscribe)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    Path(port_file).write_text(str(runner.addresses[0][1]))
    try:
        await asyncio.Event().wait()
    finally:
        for pc in pcs:
            await pc.close()
        await runner.cleanup()


# --- the orchestrator ------------------------------------------------------------------------

def _cpu(proc: Any) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _series(mode: str, middle: subprocess.Popen[Any], url: str, sizes: list[int], warmup: float,
            measure: float) -> dict[str, Any]:
    import psutil

    edge = subprocess.Popen([sys.executable, __file__, "--role", "edge", "--mode", mode, "--url", url],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert edge.stdin is not None and edge.stdout is not None
    stdin, stdout = edge.stdin, edge.stdout
    middle_ps = psutil.Process(middle.pid)
    edge_ps = psutil.Process(edge.pid)
    cpu, edge_cpu, fps, median_fps = [], [], [], []
    have = 0

    def command(text: str) -> dict[str, Any]:
        stdin.write(text + "\n")
        stdin.flush()
        if text == "quit":
            return {}
        reply: dict[str, Any] = json.loads(stdout.readline())
        return reply

    try:
        for size in sizes:
            command(f"add {size - have}")
            have = size
            time.sleep(warmup)
            start = command("stats")
            t0, c0, e0 = time.monotonic(), _cpu(middle_ps), _cpu(edge_ps)
            time.sleep(measure)
            end = command("stats")
            dt = time.monotonic() - t0
            cpu.append(round((_cpu(middle_ps) - c0) / dt, 3))
            edge_cpu.append(round((_cpu(edge_ps) - e0) / dt, 3))
            per_sub = [(b - a) / dt for a, b in zip(start["frames"], end["frames"], strict=True)]
            fps.append(round(min(per_sub), 1) if per_sub else 0.0)
            median_fps.append(round(sorted(per_sub)[len(per_sub) // 2], 1) if per_sub else 0.0)
        command("quit")
    finally:
        try:
            edge.wait(timeout=15)
        except subprocess.TimeoutExpired:
            edge.kill()
    return {"server_cpu": cpu, "min_subscriber_fps": fps, "median_subscriber_fps": median_fps,
            "edge_cpu": edge_cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", default="main", choices=["main", "edge", "relay"])
    ap.add_argument("--mode", default="forwarder")
    ap.add_argument("--url", default="")
    ap.add_argument("--port-file", default="")
    ap.add_argument("--sizes", default="1,2,4,8")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--measure", type=float, default=6.0)
    args = ap.parse_args()
    if args.role == "edge":
        asyncio.run(_edge(args.mode, args.url))
        return
    if args.role == "relay":
        asyncio.run(_relay(args.port_file))
        return

    sizes = [int(x) for x in args.sizes.split(",")]
    result: dict[str, Any] = {
        "publisher": f"{WIDTH}x{HEIGHT}@{FPS} synthetic camera, VP8 (aiortc encoder)",
        "subscribers": sizes, "cores": os.cpu_count(), "warmup_s": args.warmup, "measure_s": args.measure,
        "unit": "server_cpu: CPU seconds per second of the middle process (1.0 = one core)",
        "subscriber_side": "no decoding: subscribers count encoded frames (min_subscriber_fps)",
    }
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONUNBUFFERED="1", CONFAB_CODEC_AUDIT="1")
        server = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", "0", "--dev", "--data-dir", str(Path(tmp) / "data"),
             "--default-room-type", "group", "--log-level", "WARNING"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().split()[-1]
            result["forwarder"] = _series("forwarder", server, url, sizes, args.warmup, args.measure)
            import urllib.request

            with urllib.request.urlopen(url + "/dev/media", timeout=5) as resp:
                codecs = json.loads(resp.read())["codecs"]
            result["forwarder"]["codec_calls"] = {"video": codecs["video_codec_calls"],
                                                  "audio": codecs["audio_codec_calls"]}
        finally:
            server.terminate()
            server.wait(timeout=10)
        port_file = Path(tmp) / "relay.port"
        relay = subprocess.Popen([sys.executable, __file__, "--role", "relay", "--port-file", str(port_file)],
                                 cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 15
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline:
                    raise SystemExit("relay did not start")
                time.sleep(0.05)
            url = f"http://127.0.0.1:{port_file.read_text()}"
            result["mediarelay"] = _series("mediarelay", relay, url, sizes, args.warmup, args.measure)
        finally:
            relay.terminate()
            relay.wait(timeout=10)
    result["ratio_mediarelay_over_forwarder"] = [
        round(r / f, 1) if f > 0 else None
        for r, f in zip(result["mediarelay"]["server_cpu"], result["forwarder"]["server_cpu"], strict=True)]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
