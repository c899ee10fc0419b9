"""Status callbacks (to a loopback receiver) and SQLite records across a server restart."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from core import protocol as p
from rspclient import RspClient, track
from srvutil import unique


class Receiver:
    """A loopback HTTP server collecting status callbacks."""

    def __init__(self) -> None:
        self.events: list[dict[str, str]] = []
        self.methods: list[str] = []
        self.arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Receiver:
        async def handle(request: web.Request) -> web.Response:
            data = dict(await request.post()) if request.method == "POST" else dict(request.query)
            self.events.append({k: str(v) for k, v in data.items()})
            self.methods.append(request.method)
            self.arrived.set()
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_route("*", "/cb", handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/cb"
        return self

    async def wait_for(self, event: str, timeout: float = 5.0) -> dict[str, str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for e in self.events:
                if e["StatusCallbackEvent"] == event:
                    return e
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), max(0.01, deadline - loop.time()))

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def test_status_callbacks_in_order(server, http, clients) -> None:
    receiver = await Receiver().start()
    try:
        name = unique("cb")
        async with http.post("/v1/Rooms", data={"UniqueName": name, "StatusCallback": receiver.url}) as r:
            room = await r.json()
        a = await clients()
        ca = await a.connect(server.token("alice"), name, tracks=[track("mic", "audio")])
        await a.publish([track("mic", "audio", enabled=False)])
        await a.publish([track("mic", "audio", enabled=True)])
        await a.publish([])
        await a.disconnect()
        async with http.post(f"/v1/Rooms/{room['sid']}", data={"Status": "completed"}) as r:
            assert r.status == 200
        await receiver.wait_for("room-ended")
        events = [e["StatusCallbackEvent"] for e in receiver.events]
        assert events == ["room-created", "participant-connected", "track-added", "track-disabled",
                          "track-enabled", "track-removed", "participant-disconnected", "room-ended"]
        assert [int(e["SequenceNumber"]) for e in receiver.events] == list(range(8))
        assert set(receiver.methods) == {"POST"}
        first = receiver.events[0]
        assert (first["RoomSid"], first["RoomName"], first["RoomType"], first["RoomStatus"]) == (
            room["sid"], name, "group", "in-progress")
        assert first["AccountSid"] == server.credentials()["account_sid"] and first["Timestamp"].endswith("Z")
        joined = receiver.events[1]
        assert (joined["ParticipantSid"], joined["ParticipantIdentity"], joined["ParticipantStatus"]) == (
            ca.participant.sid, "alice", "connected")
        added = receiver.events[2]
        assert (added["TrackSid"], added["TrackKind"], added["TrackName"]) == (
            ca.published.tracks[0].sid, "audio", "mic")
        left = receiver.events[6]
        assert left["ParticipantStatus"] == "disconnected" and int(left["ParticipantDuration"]) >= 0
        assert receiver.events[7]["RoomStatus"] == "completed" and "RoomDuration" in receiver.events[7]
    finally:
        await receiver.close()


async def test_status_callback_get_and_failures_do_not_block(server, http, clients) -> None:
    receiver = await Receiver().start()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/cb"
    try:
        name = unique("cbget")
        async with http.post("/v1/Rooms", data={"UniqueName": name, "StatusCallback": receiver.url,
                                                "StatusCallbackMethod": "GET"}) as r:
            assert r.status == 201
        await receiver.wait_for("room-created")
        assert receiver.methods == ["GET"]
        bad = unique("cbdead")
        async with http.post("/v1/Rooms", data={"UniqueName": bad, "StatusCallback": dead}) as r:
            assert r.status == 201
        a, b = await clients(), await clients()
        await a.connect(server.token("a"), bad)
        await b.connect(server.token("b"), bad)
        assert (await a.expect(p.ServerUpdate)).participants[0].identity == "b"
        await a.disconnect()
        await b.disconnect()
    finally:
        await receiver.close()


async def test_records_survive_restart(server_factory) -> None:
    s = server_factory("--session-timeout", "1")  # no --dev
    data_dir = s.data_dir
    async with aiohttp.ClientSession(s.url, headers=s.auth_headers) as http:
        async with http.post("/dev/token", json={"identity": "x"}) as r:
            assert r.status == 404  # only with --dev
        done_name, live_name = unique("done"), unique("live")
        async with http.post("/v1/Rooms", data={"UniqueName": done_name, "Type": "peer-to-peer"}) as r:
            done = await r.json()
        async with http.post("/v1/Rooms", data={"UniqueName": live_name}) as r:
            live = await r.json()
        a = await RspClient.open(s.url)
        ca = await a.connect(s.token("alice"), done_name, tracks=[track("mic")])
        await a.disconnect()
        async with http.post(f"/v1/Rooms/{done['sid']}", data={"Status": "completed"}) as r:
            assert r.status == 200
        b = await RspClient.open(s.url)
        cb = await b.connect(s.token("bob"), live_name, tracks=[track("cam", "video")])
        await asyncio.sleep(0.3)  # queued writes reach the disk
        killed = time.time()
        s.stop(signal.SIGKILL)  # dies with `live` in progress
        await b.close()

    s2 = server_factory("--session-timeout", "1", data_dir=data_dir)
    assert s2.credentials()["account_sid"] == done["account_sid"]  # same credentials
    async with aiohttp.ClientSession(s2.url, headers=s2.auth_headers) as http:
        async with http.get(f"/v1/Rooms/{done['sid']}") as r:
            again = await r.json()
        assert (again["status"], again["unique_name"], again["type"]) == ("completed", done_name, "peer-to-peer")
        assert again["end_time"] and again["duration"] is not None
        async with http.get(f"/v1/Rooms/{done['sid']}/Participants") as r:
            people = (await r.json())["participants"]
        assert [(x["sid"], x["identity"], x["status"]) for x in people] == [
            (ca.participant.sid, "alice", "disconnected")]
        assert people[0]["duration"] is not None
        # The room that was in progress when the server died is held for the session timeout
        # (bob may come back), then completed, and bob left when the server was last alive.
        async with http.get(f"/v1/Rooms/{live['sid']}") as r:
            assert (await r.json())["status"] == "in-progress"
        async with http.get(f"/v1/Rooms/{live['sid']}/Participants/bob") as r:
            assert (await r.json())["status"] == "reconnecting"
        await asyncio.sleep(1.5)
        async with http.get(f"/v1/Rooms/{live['sid']}") as r:
            assert (await r.json())["status"] == "completed"
        async with http.get(f"/v1/Rooms/{live['sid']}/Participants/bob") as r:
            bob = await r.json()
        assert (bob["sid"], bob["status"]) == (cb.participant.sid, "disconnected") and bob["end_time"]
        ended = datetime.strptime(bob["end_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        assert killed - 3 <= ended <= killed + 1  # not the restart's time
        async with http.get("/v1/Rooms", params={"Status": "completed"}) as r:
            listed = {x["sid"] for x in (await r.json())["rooms"]}
        assert {done["sid"], live["sid"]} <= listed
        # The name is free again: a new room may take it.
        async with http.post("/v1/Rooms", data={"UniqueName": live_name}) as r:
            assert r.status == 201 and (await r.json())["sid"] != live["sid"]
    assert s2.stop() == 0
    s2.assert_clean()
