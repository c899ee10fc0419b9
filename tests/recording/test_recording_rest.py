"""REST Recordings in Twilio's v1 shape, over a real recorded room: list (with its filters), fetch,
Media (Twilio's 302 + redirect_to, a signed URL that serves the file), delete."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from callutil import JoinFn, camera, microphone, until
from reckit import finished, recorded_room
from server.app import RunningServer


def _auth(server: RunningServer) -> dict[str, str]:
    c = server.credentials
    return {"Authorization": aiohttp.encode_basic_auth(c.api_key_sid, c.api_key_secret)}


async def _get(http: aiohttp.ClientSession, path: str, **params: Any) -> Any:
    async with http.get(path, params=params) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_list_fetch_media_and_delete(server: RunningServer, join: JoinFn) -> None:
    room = recorded_room(server)
    alice = await join("alice", tracks=[camera("alice"), microphone("alice")])
    sid = alice.local_participant.sid
    kinds = {pub.kind: pub.track_sid for pub in alice.local_participant.tracks.values()}
    await until(lambda: room.track_count == 2)
    await asyncio.sleep(2.0)
    alice.disconnect()
    rows = await finished(server, room.sid, 2)
    async with aiohttp.ClientSession(base_url=server.url, headers=_auth(server)) as http:
        listed = (await _get(http, "/v1/Recordings"))["recordings"]
        assert {r["sid"] for r in listed} == {r["sid"] for r in rows}
        video = next(r for r in listed if r["type"] == "video")
        assert video["sid"].startswith("RT") and video["status"] == "completed"
        assert video["container_format"] == "mkv" and video["codec"] == "VP8"
        assert video["source_sid"] == kinds["video"] and video["track_name"] == "camera"
        assert video["grouping_sids"] == {"room_sid": room.sid, "participant_sid": sid}
        assert video["duration"] >= 1 and video["size"] > 1000 and isinstance(video["offset"], int)
        assert video["links"]["media"] == f"{server.url}/v1/Recordings/{video['sid']}/Media"
        for params, expected in (({"MediaType": "audio"}, {kinds["audio"]}),
                                 ({"SourceSid": kinds["video"]}, {kinds["video"]}),
                                 ({"GroupingSid": sid}, set(kinds.values())),
                                 ({"Status": "failed"}, set()),
                                 ({"DateCreatedAfter": "2000-01-01T00:00:00Z", "Status": "completed"},
                                  set(kinds.values()))):
            got = {r["source_sid"] for r in (await _get(http, "/v1/Recordings", **params))["recordings"]}
            assert got == expected, params
        first = await _get(http, "/v1/Recordings", PageSize=1)
        assert len(first["recordings"]) == 1 and first["meta"]["next_page_url"] is not None
        async with http.get(first["meta"]["next_page_url"]) as response:
            second = await response.json()
        assert [r["sid"] for r in first["recordings"] + second["recordings"]] == [r["sid"] for r in listed]
        assert second["meta"]["next_page_url"] is None
        in_room = await _get(http, f"/v1/Rooms/{room.sid}/Recordings")
        assert {r["sid"] for r in in_room["recordings"]} == {r["sid"] for r in rows}
        assert all(r["room_sid"] == room.sid for r in in_room["recordings"])
        assert (await _get(http, f"/v1/Rooms/{room.sid}/Recordings/{video['sid']}"))["sid"] == video["sid"]
        assert await _get(http, f"/v1/Recordings/{video['sid']}") == video
        async with http.get("/v1/Recordings", params={"Status": "recording"}) as bad:
            assert bad.status == 400 and (await bad.json())["code"] == 20001

        path = Path(next(r for r in rows if r["sid"] == video["sid"])["path"])
        async with http.get(f"/v1/Recordings/{video['sid']}/Media", allow_redirects=False) as response:
            assert response.status == 302
            target = (await response.json())["redirect_to"]
            assert response.headers["Location"] == target
        async with aiohttp.ClientSession() as anonymous:  # the signed URL needs no credentials
            async with anonymous.get(target) as media:
                assert media.status == 200 and media.headers["Content-Type"] == "video/x-matroska"
                assert await media.read() == path.read_bytes()
            async with anonymous.get(target.replace("Signature=", "Signature=0")) as forged:
                assert forged.status == 403

        async with http.delete(f"/v1/Recordings/{video['sid']}") as deleted:
            assert deleted.status == 204
        assert (await _get(http, f"/v1/Recordings/{video['sid']}"))["status"] == "deleted"
        assert not path.exists()
        async with http.get(f"/v1/Recordings/{video['sid']}/Media", allow_redirects=False) as gone:
            assert gone.status == 404 and (await gone.json())["code"] == 20404
        async with http.get("/v1/Recordings/RT00000000000000000000000000000000") as unknown:
            assert unknown.status == 404
