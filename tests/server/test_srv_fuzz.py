"""Fuzz ``/signaling`` while two participants keep exchanging messages through the server.

Each example opens a fresh WebSocket (before hello, after hello, or after joining the
pair's very room) and sends one generated frame: random JSON, TCMP/RSP shapes with wrong
types, huge or exotic unicode strings, binary frames, truncated valid frames. Whatever
the server answers must be a known error code; after every example the pair must still
relay an ICE update, and the server must never log a traceback.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
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
    room = unique("fuzz")

    async def setup() -> tuple[RspClient, RspClient, str]:
        # A peer-to-peer room: the pair's ICE entries are relayed by the mesh (a group room's
        # forwarder answers media itself, so there would be nothing to relay).
        async with aiohttp.ClientSession(base_url=server.url, headers=server.auth_headers) as http:
            async with http.post("/v1/Rooms", data={"UniqueName": room, "Type": "peer-to-peer"}) as r:
                assert r.status == 201, await r.text()
        a = await RspClient.open(server.url)
        await a.connect(server.token("anchor-a"), room)
        b = await RspClient.open(server.url)
        cb = await b.connect(server.token("anchor-b"), room)
        await a.expect(p.ServerUpdate)
        return a, b, cb.peer_connections[0].id

    a, b, pc_id = run(setup())
    revision = [0]
    errors: list[int] = []

    async def exchange() -> None:
        revision[0] += 1
        entry = p.PeerConnectionMessage(id=pc_id, ice=p.IceState(revision=revision[0], ufrag="f", candidates=[
            p.IceCandidate(candidate=f"candidate:{revision[0]} 1 udp 1 127.0.0.1 9 typ host")]))
        await b.send_pcs([entry])
        got = await a.expect(lambda m: isinstance(m, p.ServerUpdate) and any(
            (e.id, e.ice) == (entry.id, entry.ice) for e in m.peer_connections))
        assert got

    async def one(frame: str | bytes, mode: int, n: int) -> None:
        c = await RspClient.open(server.url)
        try:
            if mode == 1:
                await c.hello(heartbeats=False)
            elif mode == 2:
                await c.connect(server.token(f"fuzzer-{n}"), room)
            await c.send_raw(frame)
            try:
                while True:
                    frame_in = await c.next_frame(timeout=0.3)
                    if isinstance(frame_in, p.Msg):
                        body = p.decode_server_body(frame_in.body)
                        if isinstance(body, p.Error):
                            assert body.code in KNOWN_CODES, body
                            errors.append(body.code)
                            await c.wait_closed(timeout=3)
                            return
            except (TimeoutError, Closed):
                return
        finally:
            await c.close()

    counter = [0]

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(frame=frames, mode=st.integers(0, 2))
    def check(frame: str | bytes, mode: int) -> None:
        counter[0] += 1
        run(one(frame, mode, counter[0]))
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
