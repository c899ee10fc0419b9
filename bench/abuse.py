"""Bystanders under signaling abuse: does anyone else's call notice? (issue 14, part 5)

One ``confab-server`` process (``--dev --default-room-type group``: data goes through the
server). Two bystanders (real SDK clients, ``core.connect``) talk in their room: alice sends a
numbered, timestamped reliable data message every 20 ms, bob receives them; halfway through
each scenario a newcomer joins the room (``join_s``). Meanwhile an abuser process does one of:

* ``flood``: joins a room and sends ``update`` messages as fast as the socket takes them —
  the server cuts it off with RSP ``error 53004`` beyond ``--max-messages-per-second``;
* ``noread``: joins a room and never reads its WebSocket (a tiny receive buffer, heartbeats
  only) while a second client in that room publishes changes 40 times a second (each sent to
  the reader-who-does-not-read) — the server cuts its socket after ``--send-timeout``;
* ``half-open``: ``--half-open`` TCP connections that never finish an HTTP request (half send
  part of the headers) — the server closes each after ``--idle-timeout``.

Per scenario: ``sent``/``received``/``in_order`` of the bystanders' messages, their delay
(ms: median, p99, max), the newcomer's ``join_s``, the server's open file descriptors (before,
peak, after), and what the abuser saw (``code``, ``cut_after_s``, ``closed_by_server``).
``baseline`` is the same call without an abuser.
Prints one JSON object.

    .venv/bin/python bench/abuse.py [--seconds 8] [--half-open 1000] [--scenarios baseline,flood,noread,half-open]
                                    [--send-timeout 3] [--idle-timeout 3] [--server-args '--flag value ...']
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCENARIOS = ("baseline", "flood", "noread", "half-open")
SEND_EVERY_S = 0.02


# --- the abusers (run in their own process: ``--abuser MODE``) ---------------------------------


def _hello(body: dict[str, Any]) -> str:
    return json.dumps({"type": "hello", "id": str(uuid.uuid4()), "version": 2, "timeout": 5000, "body": body})


def _connect(token: str, room: str) -> dict[str, Any]:
    return {"type": "connect", "version": 2, "token": token, "name": room,
            "participant": {"revision": 1, "tracks": []}}


def _update(session: str, revision: int, tracks: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "msg", "body": {"type": "update", "version": 2, "session": session,
                                               "participant": {"revision": revision, "tracks": tracks}}})


async def _join(http: Any, url: str, token: str, room: str) -> tuple[Any, str]:
    """A signaling WebSocket joined to ``room``: (ws, session)."""
    ws = await http.ws_connect(url.replace("http", "ws", 1) + "/signaling")
    await ws.send_str(_hello(_connect(token, room)))
    while True:
        frame = json.loads((await ws.receive(timeout=10)).data)
        body = frame.get("body") or {}
        if body.get("type") == "connected":
            return ws, body["session"]
        if body.get("type") == "error":
            raise RuntimeError(f"join refused: {body}")


def _tracks(n: int, enabled: bool) -> list[dict[str, Any]]:
    return [{"id": f"{i:032x}", "kind": "audio", "name": f"track-{i}-" + "x" * 100, "enabled": enabled,
             "priority": "standard"} for i in range(n)]


async def flood(url: str, tokens: list[str], room: str, seconds: float) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        ws, session = await _join(http, url, tokens[0], room)
        result: dict[str, Any] = {"sent": 0, "code": None, "cut_after_s": None}
        started = time.monotonic()

        async def read() -> None:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    body = json.loads(message.data).get("body") or {}
                    if body.get("type") == "error" and result["code"] is None:
                        result["code"] = body.get("code")
                        result["cut_after_s"] = round(time.monotonic() - started, 3)

        reader = asyncio.create_task(read())
        revision = 1
        with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
            while time.monotonic() - started < seconds and not ws.closed:
                revision += 1
                await ws.send_str(_update(session, revision, _tracks(1, revision % 2 == 0)))
                result["sent"] += 1
                # Let the reader see the server's answer: read before the server's close, which
                # resets the connection on a client still sending, can drop it.
                await asyncio.sleep(0.001 if result["sent"] % 20 == 0 else 0)
        result["closed_after_s"] = round(time.monotonic() - started, 3) if ws.closed else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader, 5)
        result["rate_per_s"] = round(result["sent"] / max(0.001, time.monotonic() - started))
        await ws.close()
        return result


def _ws_frame(text: str) -> bytes:
    """One masked client text frame (RFC 6455), written by hand: this client never reads."""
    payload = text.encode()
    mask = os.urandom(4)
    size = len(payload)
    header = bytes([0x81]) + (bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + size.to_bytes(2, "big")
                              if size < 65536 else bytes([0x80 | 127]) + size.to_bytes(8, "big"))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def noread(url: str, tokens: list[str], room: str, seconds: float) -> dict[str, Any]:
    import aiohttp

    host, port = url.split("//", 1)[1].rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET /signaling HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")  # the 101; nothing is read after it
    writer.write(_ws_frame(_hello(_connect(tokens[0], room))))
    result: dict[str, Any] = {"churn_updates": 0, "cut_after_s": None}
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        churner, session = await _join(http, url, tokens[1], room)

        async def churn() -> None:
            revision = 1
            while True:
                revision += 1
                await churner.send_str(_update(session, revision, _tracks(30, revision % 2 == 0)))
                result["churn_updates"] += 1
                await asyncio.sleep(0.025)

        async def drain() -> None:
            async for _ in churner:
                pass

        tasks = [asyncio.create_task(churn()), asyncio.create_task(drain())]
        try:
            while time.monotonic() - started < seconds + 30:
                await asyncio.sleep(0.25)
                try:
                    writer.write(_ws_frame('{"type":"heartbeat"}'))
                    await asyncio.wait_for(writer.drain(), 1)
                except (ConnectionError, TimeoutError):
                    pass
                if writer.transport.is_closing() or reader.at_eof() or reader.exception() is not None:
                    result["cut_after_s"] = round(time.monotonic() - started, 3)
                    break
        finally:
            for task in tasks:
                task.cancel()
            await churner.close()
    writer.transport.abort()
    return result


async def half_open(url: str, tokens: list[str], room: str, seconds: float, count: int) -> dict[str, Any]:
    from server.cli import raise_fd_limit

    if raise_fd_limit() < count + 64:
        raise SystemExit(f"bench/abuse.py: {count} sockets need more open files than this process may have")
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    started = time.monotonic()
    closed_at: list[float] = []

    async def one(i: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        if i % 2:
            writer.write(f"GET /signaling HTTP/1.1\r\nHost: {host}\r\n".encode())  # never finished
        with contextlib.suppress(ConnectionError):
            await reader.read()  # b"" once the server closes it
        closed_at.append(time.monotonic() - started)
        writer.close()

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    # A few connects the client thinks done never reach the server (its accept queue overflowed):
    # they are never closed, and never held by the server either (see server_fds_*).
    done, pending = await asyncio.wait(tasks, timeout=seconds + 10)
    for task in pending:
        task.cancel()
    errors = sum(1 for t in done if t.exception() is not None)
    return {"opened": count - errors, "closed_by_server": len(closed_at),
            "closed_after_s_min": round(min(closed_at), 3) if closed_at else None,
            "closed_after_s_max": round(max(closed_at), 3) if closed_at else None}


def abuser_main(args: argparse.Namespace) -> None:
    tokens = args.tokens.split(",")
    runs = {"flood": lambda: flood(args.url, tokens, args.room, args.seconds),
            "noread": lambda: noread(args.url, tokens, args.room, args.seconds),
            "half-open": lambda: half_open(args.url, tokens, args.room, args.seconds, args.half_open)}
    print(json.dumps(asyncio.run(runs[args.abuser]())), flush=True)


# --- the bystanders -------------------------------------------------------------------------


def _ms(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def scenario(url: str, server_pid: int, name: str, args: argparse.Namespace) -> dict[str, Any]:
    from core import LocalDataTrack, connect
    from core.dev_token import fetch_dev_token

    room = f"bystanders-{name}"
    chat = LocalDataTrack("chat")
    alice = await connect(await fetch_dev_token(url, "alice", room), url=url, name=room, tracks=[chat])
    bob = await connect(await fetch_dev_token(url, "bob", room), url=url, name=room, tracks=[])
    arrivals: list[tuple[int, float]] = []
    abuser: asyncio.subprocess.Process | None = None
    result: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 15
        while not any(pub.track for p in bob.participants.values() for pub in p.data_tracks.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("bob never subscribed to alice's data track")
            await asyncio.sleep(0.05)
        track = next(pub.track for p in bob.participants.values() for pub in p.data_tracks.values() if pub.track)

        def received(data: Any, *_: Any) -> None:
            message = json.loads(data)
            arrivals.append((message["seq"], time.monotonic() - message["t"]))

        track.on("message", received)
        fds = {"server_fds_before": _fds(server_pid), "server_fds_peak": 0}

        async def sample_fds() -> None:
            while True:
                fds["server_fds_peak"] = max(fds["server_fds_peak"], _fds(server_pid))
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(sample_fds())
        if name != "baseline":
            tokens = [await fetch_dev_token(url, f"abuser-{i}", "abusers") for i in range(2)]
            abuser = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--abuser", name, "--url", url, "--room", "abusers",
                "--tokens", ",".join(tokens), "--seconds", str(args.seconds), "--half-open", str(args.half_open),
                stdout=subprocess.PIPE, cwd=ROOT)
            await asyncio.sleep(0.5)  # it is at it by now
        sent = 0
        started = time.monotonic()
        join_s: float | None = None
        while time.monotonic() - started < args.seconds:
            chat.send(json.dumps({"seq": sent, "t": time.monotonic()}))
            sent += 1
            if join_s is None and time.monotonic() - started >= args.seconds / 2:
                t0 = time.monotonic()
                newcomer = await connect(await fetch_dev_token(url, "carol", room), url=url, name=room, tracks=[])
                join_s = round(time.monotonic() - t0, 3)
                newcomer.disconnect()
            await asyncio.sleep(SEND_EVERY_S)
        await asyncio.sleep(1.0)  # the last ones in flight
        seqs = [seq for seq, _ in arrivals]
        delays = [delay for _, delay in arrivals]
        result = {"sent": sent, "received": len(arrivals), "in_order": seqs == list(range(len(seqs))),
                  "delay_ms_median": round(1000 * statistics.median(delays), 1) if delays else None,
                  "delay_ms_p99": _ms(delays, 0.99), "delay_ms_max": _ms(delays, 1.0), "join_s": join_s}
        if abuser is not None:
            assert abuser.stdout is not None
            line = await asyncio.wait_for(abuser.stdout.readline(), args.seconds + 40)
            result["abuser"] = json.loads(line) if line else None
        await asyncio.sleep(0.5)
        sampler.cancel()
        result.update(fds, server_fds_after=_fds(server_pid))
    finally:
        if abuser is not None and abuser.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                abuser.kill()
            await abuser.wait()
        alice.disconnect()
        bob.disconnect()
        await asyncio.sleep(0.3)
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"bench": "abuse", "seconds": args.seconds, "half_open": args.half_open,
                           "server_args": args.server_args,
                           "units": "delay_ms: bystander data message, send to receive; *_s: seconds",
                           "scenarios": {}}
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", "0", "--dev", "--data-dir", str(Path(tmp) / "data"),
             "--default-room-type", "group", "--log-level", "ERROR", "--send-timeout", str(args.send_timeout),
             "--idle-timeout", str(args.idle_timeout), *args.server_args.split()],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().split()[-1]
            for name in args.scenarios.split(","):
                out["scenarios"][name] = await scenario(url, server.pid, name, args)
        finally:
            server.terminate()
            server.wait(10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each scenario")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}")
    ap.add_argument("--half-open", type=int, default=1000, help="sockets of the half-open scenario")
    ap.add_argument("--send-timeout", type=float, default=3.0, help="the server's --send-timeout")
    ap.add_argument("--idle-timeout", type=float, default=3.0, help="the server's --idle-timeout")
    ap.add_argument("--server-args", default="", metavar="ARGS",
                    help="more confab-server flags, e.g. '--max-messages-per-second 1e9' (no caps, to compare)")
    ap.add_argument("--abuser", choices=SCENARIOS[1:], help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--room", help=argparse.SUPPRESS)
    ap.add_argument("--tokens", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.abuser:
        abuser_main(args)
        return
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    print(json.dumps(asyncio.run(run(args)), indent=1))


if __name__ == "__main__":
    main()
