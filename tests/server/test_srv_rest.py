"""REST Rooms API: shapes, every parameter error, lookups, paging, room timeouts, /dev/token, /dev/stats."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest

from core import protocol as p
from rspclient import track
from srvutil import unique

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ROOM_FIELDS = {"sid", "account_sid", "status", "unique_name", "type", "max_participants", "date_created",
               "date_updated", "end_time", "duration", "empty_room_timeout", "unused_room_timeout",
               "status_callback", "status_callback_method", "media_region",
               "record_participants_on_connect", "video_codecs", "max_concurrent_published_tracks",
               "url", "links"}


async def _error(response: aiohttp.ClientResponse) -> tuple[int, int]:
    body = await response.json()
    assert set(body) == {"code", "message", "more_info", "status"}, body
    assert body["status"] == response.status and body["message"]
    assert body["more_info"].endswith(str(body["code"]))
    return response.status, body["code"]


async def test_auth_required(server) -> None:
    async with aiohttp.ClientSession(server.url) as anon:
        async with anon.get("/v1/Rooms") as r:
            assert await _error(r) == (401, 20003)
            assert r.headers["WWW-Authenticate"].startswith("Basic")
        c = server.credentials()
        bad = {"Authorization": aiohttp.encode_basic_auth(c["api_key_sid"], "nope")}
        async with anon.get("/v1/Rooms", headers=bad) as r:
            assert await _error(r) == (401, 20003)
        async with anon.get("/v1/Rooms", headers={"Authorization": "Basic !!!"}) as r:
            assert await _error(r) == (401, 20003)


async def test_create_defaults_and_shape(server, http) -> None:
    name = unique()
    async with http.post("/v1/Rooms", data={"UniqueName": name}) as r:
        assert r.status == 201
        room = await r.json()
    assert set(room) >= ROOM_FIELDS
    assert room["sid"].startswith("RM") and room["account_sid"] == server.credentials()["account_sid"]
    assert (room["status"], room["type"], room["max_participants"], room["unique_name"]) == (
        "in-progress", "group", 50, name)
    assert (room["empty_room_timeout"], room["unused_room_timeout"]) == (5, 5)
    assert room["status_callback_method"] == "POST" and room["status_callback"] is None
    assert ISO.match(room["date_created"]) and room["end_time"] is None and room["duration"] is None
    assert room["url"] == f"{server.url}/v1/Rooms/{room['sid']}"
    assert room["links"]["participants"] == room["url"] + "/Participants"
    assert room["links"]["recordings"] == room["url"] + "/Recordings"
    # Fetch by SID and by unique name.
    for key in (room["sid"], name):
        async with http.get(f"/v1/Rooms/{key}") as r:
            assert r.status == 200 and (await r.json())["sid"] == room["sid"]
    async with http.post("/v1/Rooms", data={"UniqueName": name}) as r:
        assert await _error(r) == (400, 53113)


@pytest.mark.parametrize("params, code", [
    ({"Type": "huge"}, 53108),
    ({"UniqueName": "   "}, 53100),
    ({"UniqueName": "RM" + "a" * 32}, 53100),
    ({"UniqueName": "n" * 129}, 53101),
    ({"UniqueName": "bad\x01"}, 53102),
    ({"Type": "go", "MaxParticipants": "3"}, 53107),
    ({"Type": "peer-to-peer", "MaxParticipants": "11"}, 53107),
    ({"Type": "group-small", "MaxParticipants": "5"}, 53107),
    ({"Type": "group", "MaxParticipants": "101"}, 53107),  # 51..100 is a large room
    ({"MaxParticipants": "0"}, 53107),
    ({"MaxParticipants": "many"}, 53107),
    ({"StatusCallback": "ftp://example.invalid/cb"}, 53111),
    ({"StatusCallback": "not a url"}, 53111),
    ({"StatusCallback": "http://127.0.0.1/" + "x" * 2100}, 53111),
    ({"StatusCallbackMethod": "PUT"}, 53110),
    ({"EmptyRoomTimeout": "0"}, 53109),
    ({"EmptyRoomTimeout": "61"}, 53109),
    ({"UnusedRoomTimeout": "-1"}, 53109),
    ({"UnusedRoomTimeout": "five"}, 53109),
    ({"MaxParticipantDuration": "10"}, 53109),
    ({"MediaRegion": "mars1"}, 53115),
    ({"RecordParticipantsOnConnect": "maybe"}, 53114),
    ({"Type": "peer-to-peer", "RecordParticipantsOnConnect": "true"}, 53114),
    ({"VideoCodecs": "VP9"}, 53114),
    ({"Type": "go", "AudioOnly": "true"}, 53124),
])
async def test_create_parameter_errors(http, params, code) -> None:
    async with http.post("/v1/Rooms", data=params) as r:
        assert await _error(r) == (400, code)


async def test_create_every_parameter(server, http) -> None:
    params = {"UniqueName": unique(), "Type": "group-small", "MaxParticipants": "3",
              "StatusCallback": "http://127.0.0.1:9/cb", "StatusCallbackMethod": "get",
              "EmptyRoomTimeout": "7", "UnusedRoomTimeout": "60", "MediaRegion": "ie1",
              "RecordParticipantsOnConnect": "true", "AudioOnly": "false"}
    async with http.post("/v1/Rooms", data=[*params.items(), ("VideoCodecs", "H264")]) as r:
        room = await r.json()
        assert r.status == 201, room
    assert (room["type"], room["max_participants"], room["status_callback"], room["status_callback_method"],
            room["empty_room_timeout"], room["unused_room_timeout"], room["media_region"],
            room["record_participants_on_connect"], room["video_codecs"]) == (
        "group-small", 3, "http://127.0.0.1:9/cb", "GET", 7, 60, "ie1", True, ["H264"])
    async with http.post(f"/v1/Rooms/{room['sid']}", data={"Status": "completed"}) as r:
        assert r.status == 200


async def test_unknown_room_and_participant(http) -> None:
    async with http.get("/v1/Rooms/RM" + "0" * 32) as r:
        assert await _error(r) == (404, 53106)
    async with http.get("/v1/Rooms/no-such-room/Participants") as r:
        assert await _error(r) == (404, 53106)
    async with http.post("/v1/Rooms", data={"UniqueName": unique()}) as r:
        sid = (await r.json())["sid"]
    async with http.get(f"/v1/Rooms/{sid}/Participants/PA" + "0" * 32) as r:
        assert await _error(r) == (404, 53204)
    async with http.post(f"/v1/Rooms/{sid}/Participants/nobody", data={"Status": "disconnected"}) as r:
        assert await _error(r) == (404, 53204)
    async with http.get("/v1/Nothing") as r:
        assert (await _error(r))[0] == 404


async def test_update_status_errors(http) -> None:
    async with http.post("/v1/Rooms", data={"UniqueName": unique()}) as r:
        sid = (await r.json())["sid"]
    async with http.post(f"/v1/Rooms/{sid}", data={"Status": "paused"}) as r:
        assert await _error(r) == (400, 53112)
    async with http.post(f"/v1/Rooms/{sid}", data={"Status": "completed"}) as r:
        done = await r.json()
        assert done["status"] == "completed" and ISO.match(done["end_time"]) and done["duration"] >= 0
    async with http.post(f"/v1/Rooms/{sid}", data={"Status": "completed"}) as r:
        assert await _error(r) == (400, 53112)
    async with http.get("/v1/Rooms", params={"Status": "sleeping"}) as r:
        assert await _error(r) == (400, 53112)
    async with http.get("/v1/Rooms", params={"PageSize": "zero"}) as r:
        assert await _error(r) == (400, 20001)
    async with http.get("/v1/Rooms", params={"DateCreatedAfter": "yesterday"}) as r:
        assert await _error(r) == (400, 20001)


async def test_list_filters_and_paging(server, http) -> None:
    tag = unique("list")
    sids = []
    for i in range(3):
        async with http.post("/v1/Rooms", data={"UniqueName": f"{tag}-{i}"}) as r:
            sids.append((await r.json())["sid"])
    async with http.post(f"/v1/Rooms/{sids[0]}", data={"Status": "completed"}) as r:
        assert r.status == 200
    async with http.get("/v1/Rooms", params={"UniqueName": f"{tag}-1"}) as r:
        body = await r.json()
    assert [room["sid"] for room in body["rooms"]] == [sids[1]]
    assert set(body["meta"]) == {"page", "page_size", "first_page_url", "previous_page_url",
                                 "next_page_url", "url", "key"} and body["meta"]["key"] == "rooms"
    async with http.get("/v1/Rooms", params={"Status": "completed", "UniqueName": f"{tag}-0"}) as r:
        assert [room["sid"] for room in (await r.json())["rooms"]] == [sids[0]]
    # Default status is in-progress (as Twilio's), newest first; page through with PageSize=1.
    seen: list[str] = []
    url = f"{server.url}/v1/Rooms?PageSize=1"
    while url and len(seen) < 500:
        async with http.get(url) as r:
            body = await r.json()
        seen += [room["sid"] for room in body["rooms"]]
        url = body["meta"]["next_page_url"]
    assert sids[2] in seen and sids[1] in seen and sids[0] not in seen
    assert seen.index(sids[2]) < seen.index(sids[1])


async def test_participants_and_published_tracks(server, http, clients) -> None:
    name = unique()
    a, b = await clients(), await clients()
    ca = await a.connect(server.token("alice"), name, tracks=[track("mic", "audio"), track("cam", "video")])
    await b.connect(server.token("bob"), name)
    await a.expect(p.ServerUpdate)
    async with http.get(f"/v1/Rooms/{name}/Participants") as r:
        body = await r.json()
    assert body["meta"]["key"] == "participants"
    assert [(x["identity"], x["status"]) for x in body["participants"]] == [
        ("alice", "connected"), ("bob", "connected")]
    alice = body["participants"][0]
    assert alice["sid"] == ca.participant.sid and alice["room_sid"] == ca.sid
    assert ISO.match(alice["start_time"]) and alice["end_time"] is None
    assert set(alice["links"]) >= {"published_tracks", "subscribe_rules"}
    async with http.get(f"/v1/Rooms/{ca.sid}/Participants/alice") as r:
        assert (await r.json())["sid"] == alice["sid"]
    async with http.get(f"/v1/Rooms/{ca.sid}/Participants/alice/PublishedTracks") as r:
        tracks = (await r.json())["published_tracks"]
    assert [(t["name"], t["kind"], t["enabled"]) for t in tracks] == [("mic", "audio", True), ("cam", "video", True)]
    assert {t["sid"] for t in tracks} == {t.sid for t in ca.published.tracks}
    async with http.get(f"/v1/Rooms/{ca.sid}/Participants/alice/PublishedTracks/{tracks[0]['sid']}") as r:
        assert (await r.json())["name"] == "mic"
    await b.disconnect()
    async with http.get(f"/v1/Rooms/{ca.sid}/Participants", params={"Status": "disconnected"}) as r:
        gone = (await r.json())["participants"]
    assert [x["identity"] for x in gone] == ["bob"] and gone[0]["duration"] >= 0 and gone[0]["end_time"]
    async with http.get(f"/v1/Rooms/{ca.sid}/Participants", params={"Identity": "bob", "Status": "disconnected"}) as r:
        assert len((await r.json())["participants"]) == 1
    async with http.get(f"/v1/Rooms/{ca.sid}/Participants", params={"Status": "gone"}) as r:
        assert await _error(r) == (400, 53112)
    await a.disconnect()


async def test_subscribe_rules(server, http, clients) -> None:
    # Peer-to-peer: not supported.
    p2p = unique("p2p")
    async with http.post("/v1/Rooms", data={"UniqueName": p2p, "Type": "peer-to-peer"}) as r:
        assert r.status == 201
    a = await clients()
    await a.connect(server.token("a"), p2p)
    async with http.post(f"/v1/Rooms/{p2p}/Participants/a/SubscribeRules",
                         data={"Rules": '[{"type":"include","all":true}]'}) as r:
        assert await _error(r) == (400, 53117)
    await a.disconnect()
    # Group: applied to the participant's subscribed list.
    group = unique("group")
    pub, sub = await clients(), await clients()
    await pub.connect(server.token("pub"), group, tracks=[track("mic", "audio"), track("cam", "video")])
    cs = await sub.connect(server.token("sub"), group)
    assert len(cs.subscribed.tracks) == 2
    rules = '[{"type":"include","kind":"audio"}]'
    async with http.post(f"/v1/Rooms/{group}/Participants/sub/SubscribeRules", data={"Rules": rules}) as r:
        body = await r.json()
        assert r.status == 202, body
        assert body["rules"] == [{"type": "include", "kind": "audio"}] and body["participant_sid"] == cs.participant.sid
    up = await sub.expect(lambda m: isinstance(m, p.ServerUpdate) and m.subscribed)
    assert [t.id for t in up.subscribed.tracks] == ["mic"] and up.subscribed.revision > cs.subscribed.revision
    async with http.get(f"/v1/Rooms/{group}/Participants/sub/SubscribeRules") as r:
        assert (await r.json())["rules"] == [{"type": "include", "kind": "audio"}]
    for bad in ("not json", '{"x":1}', '[{"type":"maybe","all":true}]', '[{"type":"include"}]',
                '[{"type":"include","kind":"smell"}]'):
        async with http.post(f"/v1/Rooms/{group}/Participants/sub/SubscribeRules", data={"Rules": bad}) as r:
            assert await _error(r) == (400, 20001)
    await pub.disconnect()
    await sub.disconnect()


async def test_unused_and_empty_room_timeouts(server, http, clients) -> None:
    # A minute is 0.2 s on the test server.
    async with http.post("/v1/Rooms", data={"UniqueName": unique(), "UnusedRoomTimeout": "1"}) as r:
        unused = (await r.json())["sid"]
    async with http.post("/v1/Rooms", data={"UniqueName": unique(), "EmptyRoomTimeout": "2",
                                            "UnusedRoomTimeout": "1"}) as r:
        used = await r.json()
    c = await clients()
    await c.connect(server.token("x"), used["unique_name"])
    await asyncio.sleep(0.6)
    async with http.get(f"/v1/Rooms/{unused}") as r:
        assert (await r.json())["status"] == "completed"
    async with http.get(f"/v1/Rooms/{used['sid']}") as r:
        assert (await r.json())["status"] == "in-progress"  # someone joined: no unused timeout
    await c.disconnect()
    left = time.monotonic()
    status = "in-progress"
    while status == "in-progress" and time.monotonic() - left < 3:
        await asyncio.sleep(0.05)
        async with http.get(f"/v1/Rooms/{used['sid']}") as r:
            status = (await r.json())["status"]
    assert status == "completed" and 0.3 < time.monotonic() - left < 1.5  # 2 × 0.2 s


async def test_ad_hoc_room_ends_when_empty(server, http, clients) -> None:
    c = await clients()
    connected = await c.connect(server.token("x"), unique("adhoc"))
    async with http.get(f"/v1/Rooms/{connected.sid}") as r:
        room = await r.json()
    assert (room["status"], room["empty_room_timeout"], room["unused_room_timeout"]) == ("in-progress", 0, 0)
    await c.disconnect()
    await asyncio.sleep(0.2)
    async with http.get(f"/v1/Rooms/{connected.sid}") as r:
        assert (await r.json())["status"] == "completed"


async def test_dev_token(server, clients) -> None:
    async with aiohttp.ClientSession(server.url) as anon:
        async with anon.post("/dev/token", json={"identity": "demo", "room": "demo-room"}) as r:
            body = await r.json()
            assert r.status == 200, body
        assert body["identity"] == "demo" and body["room"] == "demo-room"
        assert body["signaling_url"] == server.url.replace("http", "ws") + "/signaling"
        async with anon.post("/dev/token", data={"identity": "form"}) as r:
            assert r.status == 200 and (await r.json())["room"] is None
        async with anon.post("/dev/token", json={"identity": "x" * 200}) as r:
            assert await _error(r) == (400, 53201)
        async with anon.post("/dev/token", json={}) as r:
            assert await _error(r) == (400, 53200)
    c = await clients()
    connected = await c.connect(body["token"])
    assert connected.name == "demo-room" and connected.participant.identity == "demo"
    await c.disconnect()


async def test_dev_stats(server) -> None:
    async with aiohttp.ClientSession(server.url) as anon:
        async with anon.get("/dev/stats", params={"trim": "1", "types": "3"}) as r:
            body = await r.json()
            assert r.status == 200 and body["fds"] > 0 and len(body["types"]) == 3, body
        async with anon.get("/dev/stats", params={"types": "many"}) as r:
            assert r.status == 400
    server.assert_clean()


async def test_garbage_http_and_unreadable_forms(server, http) -> None:
    for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                b"\x00\xff" * 200):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(raw)
        assert (await reader.read(12)).startswith(b"HTTP/1.")
        writer.close()
    for body, ctype in ((b"UniqueName=%zz&Type=\xff\xfe", "application/x-www-form-urlencoded"),
                        (b"--xx\r\nbroken", "multipart/form-data; boundary=xx")):
        async with http.post("/v1/Rooms", data=body, headers={"Content-Type": ctype}) as r:
            assert await _error(r) == (400, 20001)
    async with aiohttp.ClientSession(server.url) as anon, anon.post("/dev/token", data=b"identity=\xff",
                         headers={"Content-Type": "application/x-www-form-urlencoded"}) as r:
        assert (await _error(r))[0] == 400
    await asyncio.sleep(0.1)
    server.assert_clean()
