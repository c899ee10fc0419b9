"""Fuzz ``/signaling`` while two participants keep exchanging messages through the server.

Each hypothesis example opens a fresh WebSocket (before hello, after hello, or after joining
the pair's very room) and sends one generated frame: random JSON, TCMP/RSP shapes with wrong
types, huge or exotic unicode strings, binary frames, truncated valid frames. The batch fuzz
(``mutated_frames``: a few hundred frames by default, 10,000 under ``-m long``) mutates a
valid frame of *every* TCMP and RSP message type — client and server ones — field by field
and sends each on its own socket, eight sockets at a time. Whatever the server answers must be a known error
code; after every example or burst the pair must still relay an ICE update, and the server
must never log a traceback.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from core import protocol as p
from core.errors import ERRORS_BY_CODE
from rspclient import Closed, RspClient
from srvutil import unique

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
WEIRD_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)

VALID = [
    '{"type":"hello","id":"1","version":2,"timeout":5000,"body":{"type":"ice","token":"t"}}',
    '{"type":"msg","body":{"type":"connect","token":"t","name":"room","participant":{"revision":1,'
    '"tracks":[{"id":"a","kind":"audio","name":"a","enabled":true,"priority":"standard"}]}}}',
    '{"type":"msg","body":{"type":"update","session":"s","participant":{"revision":2,"tracks":[]},'
    '"peer_connections":[{"id":"pc","ice":{"revision":1,"candidates":[{"candidate":"c"}]}}]}}',
    '{"type":"msg","body":{"type":"sync","session":"s","token":"t"}}',
    '{"type":"heartbeat"}',
]

frames = st.one_of(
    JSON.map(json.dumps),
    st.fixed_dictionaries({"type": st.sampled_from(["hello", "msg", "heartbeat", "bye", "welcome", "bad", "busy"])},
                          optional={"id": JSON, "version": JSON, "timeout": JSON, "body": JSON}).map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.just("msg"),
         "body": st.fixed_dictionaries(
             {"type": st.sampled_from(["connect", "update", "sync", "disconnect", "ice", "connected", "x"])},
             optional={"token": JSON | WEIRD_TEXT, "session": JSON | WEIRD_TEXT, "name": WEIRD_TEXT | JSON,
                       "version": JSON, "participant": JSON, "peer_connections": JSON, "subscribe": JSON})}
    ).map(json.dumps),
    st.builds(lambda name, kind: json.dumps({"type": "msg", "body": {
        "type": "update", "session": "s", "participant": {"revision": 9, "tracks": [
            {"id": name, "kind": kind, "name": name}]}}}),
        WEIRD_TEXT, st.sampled_from(["audio", "video", "data", "x"])),
    st.integers(1, 400_000).map(lambda n: '{"type":"msg","body":{"type":"connect","token":"' + "x" * n + '"}}'),
    st.binary(max_size=200),
    st.tuples(st.sampled_from(VALID), st.floats(0, 1)).map(lambda t: t[0][:int(len(t[0]) * t[1])]),
    WEIRD_TEXT,
)

KNOWN_CODES = set(ERRORS_BY_CODE)


def test_fuzz_signaling_while_a_pair_keeps_talking(server) -> None:
    loop = asyncio.new_event_loop()
    run = loop.run_until_complete

    room, a, b, pc_id = run(_anchored_room(server))
    revision = [0]
    errors: list[int] = []

    async def exchange() -> None:
        revision[0] += 1
        await _relays(a, b, pc_id, revision[0])

    counter = [0]

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(frame=frames, mode=st.integers(0, 2))
    def check(frame: str | bytes, mode: int) -> None:
        counter[0] += 1
        errors.extend(run(_burst(server, room, [frame], mode, counter[0])))
        run(exchange())

    try:
        check()
        assert 53004 in errors
        print('fuzz errors:', __import__('collections').Counter(errors))
        run(exchange())
    finally:
        run(a.close())
        run(b.close())
        loop.close()
    assert server.alive()
    text = server.stderr()
    assert "Traceback" not in text and " ERROR " not in text, text[-3000:]


# --- batch fuzz: every message type, mutated ----------------------------------------------------

_TRACKS = [{"id": "a", "kind": "audio", "name": "a", "enabled": True, "priority": "standard"}]
_PC = {"id": "pc", "description": {"type": "offer", "revision": 1, "sdp": "v=0\r\n"},
       "ice": {"revision": 1, "ufrag": "u", "candidates": [{"candidate": "c"}], "complete": False}}
#: One well-formed body of every RSP message type (client → server and server → client).
BODIES: dict[str, dict[str, Any]] = {
    "ice": {"type": "ice", "version": 1, "token": "t", "edge": "roaming"},
    "connect": {"type": "connect", "version": 2, "token": "t", "name": "room", "format": "unified",
                "ice_servers": "acquire", "participant": {"revision": 1, "tracks": _TRACKS},
                "peer_connections": [_PC], "subscribe": {"revision": 1, "rules": [{"type": "include", "all": True}]},
                "media_signaling": {"active_speaker": {"transports": [{"type": "data-channel"}]}},
                "publisher": {"name": "x", "sdk_version": "1", "user_agent": "y"}},
    "update": {"type": "update", "version": 2, "session": "s", "participant": {"revision": 2, "tracks": _TRACKS},
               "peer_connections": [_PC], "subscribe": {"revision": 2, "rules": [{"type": "exclude", "all": True}]}},
    "sync": {"type": "sync", "version": 2, "session": "s", "token": "t", "name": "room",
             "participant": {"revision": 3, "tracks": []}, "peer_connections": [_PC]},
    "disconnect": {"type": "disconnect", "version": 2, "session": "s"},
    "connected": {"type": "connected", "session": "s", "sid": "RM1", "participant": {"sid": "PA1", "identity": "i"},
                  "participants": [], "options": {"session_timeout": 30}},
    "synced": {"type": "synced", "session": "s", "participants": []},
    "error": {"type": "error", "code": 53000, "message": "m"},
    "disconnected": {"type": "disconnected", "status": "completed"},
    "iced": {"type": "iced", "ice_servers": []},
    "warning": {"type": "warning", "states": {"revision": 1, "tracks": {}}},
}
#: One well-formed frame of every TCMP type (client → server and server → client).
FRAMES: dict[str, dict[str, Any]] = {
    "hello": {"type": "hello", "id": "1", "version": 2, "timeout": 5000, "body": None},
    "msg": {"type": "msg", "body": None},
    "heartbeat": {"type": "heartbeat"},
    "bye": {"type": "bye"},
    "welcome": {"type": "welcome", "negotiatedTimeout": 5000},
    "bad": {"type": "bad", "reason": "r"},
    "busy": {"type": "busy", "retryAfter": 100, "keepAlive": True},
}
_ODD_VALUES: list[Any] = [None, True, 0, -1, 2**63, 1.5, "", "x" * 300, "\u0000\ud7ff\U0001f600", [], {}, [None],
                          {"type": None}, "connected", -2**70]


def _mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """``value`` with one random change somewhere inside (drop, retype, add, or duplicate)."""
    if isinstance(value, dict) and value and depth < 4 and rng.random() < 0.7:
        key = rng.choice(list(value))
        out = dict(value)
        roll = rng.random()
        if roll < 0.2:
            del out[key]
        elif roll < 0.3:
            out[rng.choice(["extra", "type", key + "_", ""])] = rng.choice(_ODD_VALUES)
        else:
            out[key] = _mutate(value[key], rng, depth + 1)
        return out
    if isinstance(value, list) and value and depth < 4 and rng.random() < 0.7:
        out_list = list(value)
        i = rng.randrange(len(out_list))
        out_list[i] = _mutate(out_list[i], rng, depth + 1)
        if rng.random() < 0.2:
            out_list *= rng.randint(2, 50)
        return out_list
    return rng.choice(_ODD_VALUES)


def mutated_frames(seed: int, count: int) -> Iterator[tuple[str, str | bytes]]:
    """``count`` frames (message type, frame), cycling over every TCMP and RSP type, each mutated."""
    rng = random.Random(seed)
    kinds = [f"tcmp:{t}" for t in FRAMES] + [f"rsp:{t}" for t in BODIES]
    for n in range(count):
        kind = kinds[n % len(kinds)]
        name = kind.split(":", 1)[1]
        if kind.startswith("rsp:"):
            body = BODIES[name] if rng.random() < 0.1 else _mutate(BODIES[name], rng)
            frame: Any = {"type": "msg", "body": body}
            if rng.random() < 0.3:  # or as the hello's body
                frame = dict(FRAMES["hello"], body=body)
        else:
            frame = FRAMES[name] if rng.random() < 0.1 else _mutate(FRAMES[name], rng)
        text = json.dumps(frame)
        roll = rng.random()
        if roll < 0.05:
            yield kind, text[: rng.randrange(len(text))]  # truncated
        elif roll < 0.08:
            yield kind, text.encode()  # binary
        else:
            yield kind, text


async def _anchored_room(server: Any) -> tuple[str, RspClient, RspClient, str]:
    room = unique("fuzzb")
    async with aiohttp.ClientSession(base_url=server.url, headers=server.auth_headers) as http:
        async with http.post("/v1/Rooms", data={"UniqueName": room, "Type": "peer-to-peer"}) as r:
            assert r.status == 201, await r.text()
    a = await RspClient.open(server.url)
    await a.connect(server.token("anchor-a"), room)
    b = await RspClient.open(server.url)
    cb = await b.connect(server.token("anchor-b"), room)
    await a.expect(p.ServerUpdate)
    return room, a, b, cb.peer_connections[0].id


async def _relays(a: RspClient, b: RspClient, pc_id: str, revision: int) -> None:
    """The bystanders' call still works: an ICE update from b reaches a through the server."""
    entry = p.PeerConnectionMessage(id=pc_id, ice=p.IceState(revision=revision, ufrag="f", candidates=[
        p.IceCandidate(candidate=f"candidate:{revision} 1 udp 1 127.0.0.1 9 typ host")]))
    await b.send_pcs([entry])
    assert await a.expect(lambda m: isinstance(m, p.ServerUpdate) and any(
        (e.id, e.ice) == (entry.id, entry.ice) for e in m.peer_connections))


async def _burst(server: Any, room: str, frames: list[str | bytes], mode: int, n: int) -> list[int]:
    """Send ``frames`` on one socket (raw, after hello, or joined); the error codes it got."""
    c = await RspClient.open(server.url)
    codes: list[int] = []
    try:
        if mode == 1:
            await c.hello(heartbeats=False)
        elif mode == 2:
            await c.connect(server.token(f"burst-{n}"), room)
        for frame in frames:
            if c.closed.is_set():
                break
            await c.send_raw(frame)
        if mode == 2 and not c.closed.is_set():
            await c.send_raw(json.dumps({"type": "msg", "body": {"type": "disconnect", "session": c.session}}))
        try:
            while True:
                got = await c.next_frame(timeout=0.15)
                if isinstance(got, p.Msg):
                    body = p.decode_server_body(got.body)
                    if isinstance(body, p.Error):
                        assert body.code in KNOWN_CODES, body
                        codes.append(body.code)
        except (TimeoutError, Closed):
            pass
    except (Closed, aiohttp.ClientError, ConnectionError):
        pass  # the server may close mid-burst (after its error)
    finally:
        await c.close()
    return codes


def _batch_fuzz(server: Any, count: int, burst: int = 1, parallel: int = 8) -> None:
    """``count`` mutated frames, ``burst`` per socket, ``parallel`` sockets at a time; after
    each round the bystanders' call must still relay."""
    loop = asyncio.new_event_loop()
    try:
        room, a, b, pc_id = loop.run_until_complete(_anchored_room(server))
        frames = list(mutated_frames(seed=count, count=count))
        kinds = collections.Counter(kind for kind, _ in frames)
        assert set(kinds) == {f"tcmp:{t}" for t in FRAMES} | {f"rsp:{t}" for t in BODIES}
        codes: collections.Counter[int] = collections.Counter()
        bursts = [[frame for _, frame in frames[i:i + burst]] for i in range(0, len(frames), burst)]
        for r, first in enumerate(range(0, len(bursts), parallel)):
            batch = bursts[first:first + parallel]
            async def round_of(batch: list[list[str | bytes]] = batch, first: int = first) -> list[list[int]]:
                return await asyncio.gather(*(_burst(server, room, chunk, (first + k) % 3, first + k)
                                              for k, chunk in enumerate(batch)))

            for got in loop.run_until_complete(round_of()):
                codes.update(got)
            loop.run_until_complete(_relays(a, b, pc_id, r + 1))
        assert codes[53004] > 0, codes
        print(f"batch fuzz: {len(frames)} frames, types {dict(kinds)}, error codes {dict(codes)}")
        loop.run_until_complete(a.close())
        loop.run_until_complete(b.close())
    finally:
        loop.close()
    assert server.alive()
    text = server.stderr()
    assert "Traceback" not in text and " ERROR " not in text, text[-3000:]


def test_fuzz_every_message_type(server) -> None:
    _batch_fuzz(server, count=360)


@pytest.mark.long
@pytest.mark.timeout(1200)
def test_fuzz_ten_thousand_frames(server) -> None:
    _batch_fuzz(server, count=10_080)
