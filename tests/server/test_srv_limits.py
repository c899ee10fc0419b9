"""Every token failure and every signaling limit answers with its documented code."""

from __future__ import annotations

import asyncio
import itertools
import time

import jwt
import pytest

from core import protocol as p
from core.token import AccessToken
from rspclient import RspClient, track
from srvutil import unique


def _claims(server, **over):
    c = server.credentials()
    now = int(time.time())
    claims = {"jti": f"{c['api_key_sid']}-{now}", "iss": c["api_key_sid"], "sub": c["account_sid"],
              "iat": now, "exp": now + 600, "grants": {"identity": "x", "video": {}}}
    claims.update(over)
    return claims


def _sign(server, claims, headers=None, secret=None) -> str:
    c = server.credentials()
    return jwt.encode(claims, secret or c["api_key_secret"], algorithm="HS256",
                      headers=headers if headers is not None else {"cty": "twilio-fpa;v=1"})


@pytest.fixture
def bad_tokens(server):
    c = server.credentials()
    now = time.time()
    return {
        20101: "not-a-jwt",
        20102: _sign(server, _claims(server), headers={"cty": "something-else"}),
        20103: AccessToken(c["account_sid"], "SK" + "0" * 32, "whatever", identity="x").to_jwt(),
        20104: AccessToken(c["account_sid"], c["api_key_sid"], c["api_key_secret"], identity="x",
                           ttl=10).to_jwt(now=now - 100),
        20105: AccessToken(c["account_sid"], c["api_key_sid"], c["api_key_secret"], identity="x",
                           nbf=now + 3600).to_jwt(),
        20106: _sign(server, _claims(server, grants={"identity": "x"})),
        20107: AccessToken(c["account_sid"], c["api_key_sid"], "wrong-secret", identity="x").to_jwt(),
    }


@pytest.mark.parametrize("code", [20101, 20102, 20103, 20104, 20105, 20106, 20107])
async def test_token_failures_on_connect(server, clients, bad_tokens, code) -> None:
    c = await clients()
    err = await c.connect_error(bad_tokens[code], unique())
    assert err.code == code
    await c.wait_closed()


async def test_token_failure_on_ice_and_sync(server, clients, bad_tokens) -> None:
    c = await clients()
    await c.hello(p.IceRequest(token=bad_tokens[20107]))
    assert (await c.expect_error()).code == 20107
    c = await clients()
    await c.hello(p.Sync(session="0" * 32, token=bad_tokens[20104]))
    assert (await c.expect_error()).code == 20104


async def test_room_grant_mismatch_is_20106(server, clients) -> None:
    c = await clients()
    err = await c.connect_error(server.token("x", room="granted-room"), unique("other"))
    assert err.code == 20106
    # With no name, the granted room is joined.
    c = await clients()
    granted = unique("granted")
    connected = await c.connect(server.token("x", room=granted))
    assert connected.name == granted
    await c.disconnect()


@pytest.mark.parametrize("name, code", [
    ("   ", 53100),
    ("n" * 129, 53101),
    ("bad\x00name", 53102),
    ("bell\x07", 53102),
    ("zero\u200bwidth is fine but U+FFFF is not \uffff", 53102),
])
async def test_room_name_limits(server, clients, name, code) -> None:
    c = await clients()
    assert (await c.connect_error(server.token("x"), name)).code == code


async def test_lone_surrogate_is_malformed_json(server, clients) -> None:
    c = await clients()
    await c.hello()
    token = server.token("x")
    await c.send_raw('{"type":"msg","body":{"type":"connect","token":"' + token + '","name":"a\\udc80b"}}')
    assert (await c.expect_error()).code == 53004


async def test_room_name_of_128_unicode_chars_is_fine(server, clients) -> None:
    c = await clients()
    name = unique("ü")[:20] + "é" * 108
    connected = await c.connect(server.token("x"), name)
    assert connected.name == name
    await c.disconnect()


@pytest.mark.parametrize("identity, code", [(" ", 53200), ("i" * 129, 53201), ("tab\tid", 53202)])
async def test_identity_limits(server, clients, identity, code) -> None:
    c = await clients()
    assert (await c.connect_error(server.token(identity), unique())).code == code


async def test_track_name_failures_are_per_track(server, clients) -> None:
    c = await clients()
    tracks = [track("ok", name="mic"), track("t1", name=" "), track("t2", name="x" * 129),
              track("t3", name="nul\x00"), track("t4", name="mic"), track("t5", "video", name="cam")]
    connected = await c.connect(server.token("x"), unique(), tracks=tracks)
    result = {t.id: (t.state, t.error.code if t.error else None) for t in connected.published.tracks}
    assert result == {"ok": ("ready", None), "t1": ("failed", 53301), "t2": ("failed", 53302),
                      "t3": ("failed", 53303), "t4": ("failed", 53304), "t5": ("ready", None)}
    # The connection lives on: a later update with a fixed name publishes it.
    await c.publish([track("ok", name="mic"), track("t5", "video", name="cam"), track("t2", name="short")])
    up = await c.expect(lambda m: isinstance(m, p.ServerUpdate) and m.published)
    assert [(t.id, t.state) for t in up.published.tracks] == [("ok", "ready"), ("t5", "ready"), ("t2", "ready")]
    await c.disconnect()


async def test_room_full_from_rest_max_participants(server, http, clients) -> None:
    name = unique()
    async with http.post("/v1/Rooms", data={"UniqueName": name, "MaxParticipants": "1"}) as r:
        assert r.status == 201
    a, b = await clients(), await clients()
    await a.connect(server.token("a"), name)
    assert (await b.connect_error(server.token("b"), name)).code == 53105
    # The same identity may still replace itself (duplicate identity), even when full.
    a2 = await clients()
    await a2.connect(server.token("a"), name)
    assert (await a.expect_error()).code == 53205
    await a2.disconnect()


async def test_completed_or_missing_room_by_sid(server, http, clients) -> None:
    async with http.post("/v1/Rooms", data={"UniqueName": unique()}) as r:
        sid = (await r.json())["sid"]
    async with http.post(f"/v1/Rooms/{sid}", data={"Status": "completed"}) as r:
        assert r.status == 200
    c = await clients()
    assert (await c.connect_error(server.token("x"), sid)).code == 53118
    c = await clients()
    assert (await c.connect_error(server.token("x"), "RM" + "0" * 32)).code == 53106


async def test_duplicate_identity_disconnects_the_older(server, clients) -> None:
    name = unique()
    watcher, old, new = await clients(), await clients(), await clients()
    await watcher.connect(server.token("watcher"), name)
    c_old = await old.connect(server.token("dup"), name, tracks=[track("t")])
    await watcher.expect(p.ServerUpdate)
    c_new = await new.connect(server.token("dup"), name)
    err = await old.expect_error()
    assert err.code == 53205
    await old.wait_closed()
    assert c_new.participant.sid != c_old.participant.sid
    gone = await watcher.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants
                                and m.participants[0].state == "disconnected")
    assert gone.participants[0].sid == c_old.participant.sid
    came = await watcher.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants
                                and m.participants[0].state == "connected")
    assert came.participants[0].sid == c_new.participant.sid
    for c in (watcher, new):
        await c.disconnect()


async def test_rest_complete_disconnects_everyone_with_completed(server, http, clients) -> None:
    name = unique()
    a, b = await clients(), await clients()
    ca = await a.connect(server.token("a"), name)
    await b.connect(server.token("b"), name)
    async with http.post(f"/v1/Rooms/{ca.sid}", data={"Status": "completed"}) as r:
        body = await r.json()
        assert r.status == 200 and body["status"] == "completed" and body["end_time"]
    for c in (a, b):
        done = await c.expect(p.Disconnected)
        assert done.status == "completed"
        await c.wait_closed()


async def test_rest_kick(server, http, clients) -> None:
    name = unique()
    a, b = await clients(), await clients()
    ca = await a.connect(server.token("a"), name)
    cb = await b.connect(server.token("b"), name)
    async with http.post(f"/v1/Rooms/{ca.sid}/Participants/b", data={"Status": "disconnected"}) as r:
        body = await r.json()
        assert r.status == 200, body
        assert body["status"] == "disconnected" and body["sid"] == cb.participant.sid
    done = await b.expect(p.Disconnected)
    assert done.status is None
    gone = await a.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants
                          and m.participants[0].state != "connected")
    assert gone.participants[0].state == "disconnected"
    await a.disconnect()


async def test_heartbeat_timeout_drops_silent_client(server, clients) -> None:
    name = unique()
    watcher, silent = await clients(), await clients()
    await watcher.connect(server.token("watcher"), name)
    await silent.hello(silent.connect_body(server.token("silent"), name), timeout=150, heartbeats=False)
    assert silent.welcome.negotiated_timeout == 150
    assert isinstance(await silent.recv(), p.Connected)
    started = time.monotonic()
    err = await silent.expect_error(timeout=3)
    assert err.code == 53002
    assert time.monotonic() - started < 2
    await silent.wait_closed()
    assert silent.heartbeats >= 1  # the server heartbeats on the negotiated interval
    seen = await watcher.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants
                                and m.participants[0].state == "reconnecting")
    assert seen.participants[0].identity == "silent"
    await watcher.disconnect()


async def test_track_caps(server_factory) -> None:
    s = server_factory("--max-tracks-per-participant", "2", "--max-tracks-per-room", "3",
                       "--max-server-tracks", "4", "--no-ad-hoc-rooms")
    a, b, c = (await RspClient.open(s.url) for _ in range(3)) if False else (
        await RspClient.open(s.url), await RspClient.open(s.url), await RspClient.open(s.url))
    try:
        # Without ad-hoc rooms, unknown names are 53106.
        assert (await a.connect_error(s.token("a"), "nope")).code == 53106
        a = await RspClient.open(s.url)
        import aiohttp
        async with aiohttp.ClientSession(s.url, headers=s.auth_headers) as http:
            for n in ("r1", "r2"):
                async with http.post("/v1/Rooms", data={"UniqueName": n}) as r:
                    assert r.status == 201
        ca = await a.connect(s.token("a"), "r1", tracks=[track("1"), track("2"), track("3")])
        assert ca.published is not None
        assert [(t.state, t.error.code if t.error else None) for t in ca.published.tracks] == [
            ("ready", None), ("ready", None), ("failed", 53203)]
        cb = await b.connect(s.token("b"), "r1", tracks=[track("4"), track("5")])
        assert cb.published is not None
        assert [(t.state, t.error.code if t.error else None) for t in cb.published.tracks] == [
            ("ready", None), ("failed", 53203)]  # room holds 3
        cc = await c.connect(s.token("c"), "r2", tracks=[track("6"), track("7")])
        assert cc.published is not None
        assert [(t.state, t.error.code if t.error else None) for t in cc.published.tracks] == [
            ("ready", None), ("failed", 53305)]  # server holds 4
        for cl in (a, b, c):
            await cl.disconnect()
    finally:
        for cl in (a, b, c):
            await cl.close()
        s.stop()
        s.assert_clean()


async def test_reconnect_with_sync(server, clients, http) -> None:
    name = unique()
    # Peer-to-peer: synced carries the mesh pair's two connections (a group room's forwarder
    # has its own publish/subscribe pair, see tests/group).
    async with http.post("/v1/Rooms", data={"UniqueName": name, "Type": "peer-to-peer"}) as r:
        assert r.status == 201, await r.text()
    watcher, mover = await clients(), await clients()
    await watcher.connect(server.token("watcher"), name)
    cm = await mover.connect(server.token("mover"), name, tracks=[track("m")])
    await watcher.expect(p.ServerUpdate)
    # The socket drops without disconnect.
    mover.stop_heartbeats()
    await mover.ws.close()
    seen = await watcher.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants)
    assert seen.participants[0].state == "reconnecting"
    assert [t.sid for t in seen.participants[0].tracks] == [cm.published.tracks[0].sid]
    # A new socket resumes the session.
    again = await clients()
    await again.hello(p.Sync(session=cm.session, token=server.token("mover"),
                             participant=p.LocalParticipantState(revision=2, tracks=[track("m")])))
    synced = await again.recv()
    assert isinstance(synced, p.Synced) and synced.session == cm.session
    assert [q.identity for q in synced.participants] == ["watcher"]
    assert len(synced.peer_connections) == 2  # both connections of the pair, still open
    assert synced.published is not None and cm.published is not None
    assert [t.sid for t in synced.published.tracks] == [cm.published.tracks[0].sid]
    back = await watcher.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants)
    assert back.participants[0].state == "connected" and back.participants[0].sid == cm.participant.sid
    assert back.participants[0].revision > seen.participants[0].revision
    # Unknown session: 53002.
    stranger = await clients()
    await stranger.hello(p.Sync(session="f" * 32, token=server.token("mover")))
    assert (await stranger.expect_error()).code == 53002
    # Another identity cannot take the session over.
    thief = await clients()
    await thief.hello(p.Sync(session=cm.session, token=server.token("thief")))
    assert (await thief.expect_error()).code == 20106
    again.session = cm.session
    await again.disconnect()
    await watcher.disconnect()


async def test_session_timeout_disconnects(server, clients) -> None:
    name = unique()
    watcher, gone = await clients(), await clients()
    await watcher.connect(server.token("watcher"), name)
    cg = await gone.connect(server.token("gone"), name)
    await watcher.expect(p.ServerUpdate)
    gone.stop_heartbeats()
    await gone.ws.close()
    await watcher.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants
                         and m.participants[0].state == "reconnecting")
    started = time.monotonic()
    final = await watcher.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants
                                 and m.participants[0].state == "disconnected", timeout=5)
    assert 1.5 < time.monotonic() - started < 4  # session timeout is 2 s
    assert final.participants[0].sid == cg.participant.sid
    late = await clients()
    await late.hello(p.Sync(session=cg.session, token=server.token("gone")))
    assert (await late.expect_error()).code == 53002
    await watcher.disconnect()


BAD_FRAMES = [
    "not json",
    "{",
    "[]",
    '{"type":"hello"}',                                                   # missing id
    '{"type":"hello","id":"x","version":"2"}',                            # wrong type
    '{"type":"hello","id":"x","version":1}',                              # old TCMP
    '{"type":"welcome","negotiatedTimeout":5}',                           # a server frame
    '{"type":"msg","body":{"type":"connect"}}',                           # msg before hello
    '{"type":"nope"}',
]


@pytest.mark.parametrize("frame", BAD_FRAMES)
async def test_malformed_first_frames(server, clients, frame) -> None:
    c = await clients()
    await c.send_raw(frame)
    assert (await c.expect_error()).code == 53004
    await c.wait_closed()


BAD_BODIES = [
    {"type": "connect"},                                                  # no token
    {"type": "connect", "token": 5},
    {"type": "connect", "token": "t", "participant": {"revision": "1"}},
    {"type": "connect", "token": "t",
     "participant": {"revision": 1, "tracks": [{"id": "a", "kind": "smell", "name": "a"}]}},
    {"type": "update", "session": "x"},                                   # update before connect
    {"type": "teleport"},
    "just a string",
]


@pytest.mark.parametrize("body", BAD_BODIES)
async def test_malformed_bodies(server, clients, body) -> None:
    c = await clients()
    await c.hello()
    await c.send_frame({"type": "msg", "body": body})
    assert (await c.expect_error()).code == 53004
    await c.wait_closed()


async def test_oversize_and_binary_frames(server, clients) -> None:
    c = await clients()
    await c.connect(server.token("big"), unique())
    await c.send_raw('{"type":"heartbeat","pad":"' + "x" * p.MAX_MESSAGE_BYTES + '"}')
    assert (await c.expect_error()).code == 53004
    await c.wait_closed()
    c = await clients()
    await c.connect(server.token("bin"), unique())
    await c.send_raw(b"\x00\x01binary")
    assert (await c.expect_error()).code == 53004


async def test_violations_after_connect(server, clients) -> None:
    name = unique()
    watcher, bad = await clients(), await clients()
    await watcher.connect(server.token("watcher"), name)
    cb = await bad.connect(server.token("bad"), name)
    await bad.send(p.Update(session="not-mine"))
    assert (await bad.expect_error()).code == 53004
    await bad.wait_closed()
    # An error ends the session: the others see the participant leave (not reconnect).
    left = await watcher.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants
                                and m.participants[0].state != "connected")
    assert left.participants[0].state == "disconnected" and left.participants[0].sid == cb.participant.sid
    await watcher.disconnect()


async def test_second_connect_is_rejected(server, clients) -> None:
    c = await clients()
    await c.connect(server.token("twice"), unique())
    await c.send(c.connect_body(server.token("twice"), unique()))
    assert (await c.expect_error()).code == 53004


async def test_server_heartbeats_and_answers_pings(server, clients) -> None:
    c = await clients()
    welcome = await c.hello(timeout=200)
    assert welcome.negotiated_timeout == 200
    await asyncio.sleep(1.5)
    # twilio-video.js counts a heartbeat missed when none came within the negotiated timeout
    # (+100 ms): the server's must come faster than that, not merely "a few per second".
    gaps = sorted(b - a for a, b in itertools.pairwise(c.heartbeat_times))
    assert len(gaps) >= 5 and gaps[len(gaps) // 2] < 0.200, gaps
