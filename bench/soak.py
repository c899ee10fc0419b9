"""Soak: N bots churn in one group room for M seconds; then views, data and server resources are checked.

Bots are ``core.connect`` clients in this process against a real ``confab-server --dev``
process. Two *anchors* stay connected throughout and send each other numbered messages on a
reliable, ordered data track every 100 ms; the other bots churn at random: leave and join
again, publish / unpublish a tone (one of them also 160×120@5 video), mute / unmute, send
data. After the churn every connected client's view (participants, their tracks, enabled)
must equal the server's REST view, and no anchor message may be lost or reordered. After
everyone left, the server's open file descriptors, asyncio tasks and threads must be back at
their baseline (taken after a short warm-up call) and its live Python objects (after a
garbage collection) within ``OBJECT_SLACK`` of it (``GET /dev/stats?trim=1``). RSS growth
is reported, not judged: the native heap (codecs, OpenSSL) keeps some of what it was given
even after ``malloc_trim`` — ``rss_per_join_kb`` tells how much. Prints one JSON object.

    .venv/bin/python bench/soak.py [--bots 8] [--seconds 60] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

from core import LocalAudioTrack, LocalDataTrack, LocalVideoTrack, Room, connect  # noqa: E402
from core.media.loopback import loopback_only  # noqa: E402
from core.media.sources import SyntheticAudioSource, SyntheticVideoSource  # noqa: E402
from restartkit import Restartable  # noqa: E402

ANCHORS = 2
SEND_EVERY_S = 0.1
#: Python objects the server may hold more after everyone left than at the baseline (caches).
OBJECT_SLACK = 2000


class Bot:
    """One participant; ``room`` is None while it is away."""

    def __init__(self, server: Restartable, room: str, identity: str, video: bool) -> None:
        self.server, self.room_name, self.identity, self.video = server, room, identity, video
        self.room: Room | None = None
        self.data = LocalDataTrack(name="data")
        self.media: LocalAudioTrack | LocalVideoTrack | None = None
        self.received: dict[str, list[int]] = collections.defaultdict(list)  # anchor identity → numbers

    async def join(self) -> None:
        self.room = await connect(self.server.token(self.identity, self.room_name), url=self.server.url,
                                  name=self.room_name, tracks=[self.data])
        self.room.on("trackMessage", self._message)

    def _message(self, data: Any, *rest: Any) -> None:
        sender, _, number = str(data).partition(":")
        if number.isdigit():
            self.received[sender].append(int(number))

    def leave(self) -> None:
        if self.room is not None:
            self.room.disconnect()
            self.room = None
            self.media = None

    async def publish(self) -> None:
        assert self.room is not None
        if self.video:
            self.media = LocalVideoTrack(SyntheticVideoSource(160, 120, 5, label=self.identity), name="cam")
        else:
            self.media = LocalAudioTrack(SyntheticAudioSource("tone", label=self.identity), name="mic")
        await self.room.local_participant.publish_track(self.media)

    def unpublish(self) -> None:
        if self.room is not None and self.media is not None:
            self.room.local_participant.unpublish_track(self.media)
            self.media.stop()
            self.media = None

    def view(self) -> dict[str, dict[str, bool]]:
        """identity → {track name: enabled} of everyone, as this client sees it."""
        assert self.room is not None
        seen = {p.identity: {pub.track_name: pub.is_track_enabled for pub in p.tracks.values()}
                for p in self.room.participants.values()}
        me = self.room.local_participant
        seen[self.identity] = {pub.track_name: pub.is_track_enabled for pub in me.tracks.values()}
        return seen


async def churn(bot: Bot, until: float, rng: random.Random, counts: collections.Counter[str]) -> None:
    while time.monotonic() < until:
        await asyncio.sleep(rng.uniform(0.3, 1.2))
        if bot.room is None:
            await bot.join()
            counts["join"] += 1
            continue
        action = rng.choice(["leave", "media", "media", "mute", "data", "data"])
        if action == "leave":
            bot.leave()
        elif action == "media":
            if bot.media is None:
                await bot.publish()
                action = "publish"
            else:
                bot.unpublish()
                action = "unpublish"
        elif action == "mute" and bot.media is not None:
            (bot.media.disable if bot.media.is_enabled else bot.media.enable)()
        elif action == "data":
            bot.data.send(f"{bot.identity}:chatter")
        counts[action] += 1


async def anchor_sender(bot: Bot, until: float) -> int:
    n = 0
    while time.monotonic() < until:
        bot.data.send(f"{bot.identity}:{n}")
        n += 1
        await asyncio.sleep(SEND_EVERY_S)
    return n


async def rest_view(http: aiohttp.ClientSession, room: str) -> dict[str, dict[str, bool]]:
    async with http.get(f"/v1/Rooms/{room}/Participants", params={"Status": "connected", "PageSize": 100}) as r:
        people = (await r.json())["participants"]
    view = {}
    for person in people:
        async with http.get(f"/v1/Rooms/{room}/Participants/{person['sid']}/PublishedTracks") as r:
            tracks = (await r.json())["published_tracks"]
        view[person["identity"]] = {t["name"]: t["enabled"] for t in tracks}
    return view


async def stats(http: aiohttp.ClientSession, trim: bool = False) -> dict[str, int]:
    async with http.get("/dev/stats", params={"trim": "1"} if trim else {}) as r:
        return dict(await r.json())


async def settled(http: aiohttp.ClientSession, baseline: dict[str, int], timeout: float) -> dict[str, int]:
    """The server's stats once fds, tasks and threads are back at the baseline (or at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        now = await stats(http, trim=True)
        back = all(now[k] <= baseline.get(k, 0) for k in ("fds", "tasks", "threads")) and \
            now["objects"] - baseline.get("objects", 0) <= OBJECT_SLACK
        if back or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.5)


async def warm_up(server: Restartable, http: aiohttp.ClientSession) -> None:
    """One short call with every kind of track first: the baseline then holds what the server
    loads once (codecs, ICE, the forwarder) and the soak measures what it keeps per churn."""
    pair = [Bot(server, "soak-warm-up", f"warm-{i}", video=(i == 0)) for i in range(2)]
    for bot in pair:
        await bot.join()
        await bot.publish()
    await asyncio.sleep(2.0)
    for bot in pair:
        bot.leave()
    await settled(http, {"fds": 0, "tasks": 0, "threads": 0}, 3.0)


async def soak(bots: int, seconds: float, seed: int, data_dir: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    server = Restartable(data_dir, "--session-timeout", "5", "--default-room-type", "group").start()
    room = f"soak-{seed}"  # ad hoc: a group room (--default-room-type), ended as soon as it is empty
    try:
        async with aiohttp.ClientSession(server.url, headers=server.process.auth_headers) as http:
            await warm_up(server, http)
            baseline = await stats(http, trim=True)
            team = [Bot(server, room, f"bot-{i}", video=(i == ANCHORS)) for i in range(max(bots, ANCHORS))]
            anchors, churners = team[:ANCHORS], team[ANCHORS:]
            for bot in team:
                await bot.join()
            await asyncio.sleep(1.0)  # the anchors' data tracks are subscribed both ways
            until = time.monotonic() + seconds
            counts: collections.Counter[str] = collections.Counter()
            peak: dict[str, int] = {}

            async def watch() -> None:
                while time.monotonic() < until:
                    now = await stats(http)
                    for k, v in now.items():
                        if k != "objects":  # counted only after a collection (trim)
                            peak[k] = max(peak.get(k, 0), v)
                    await asyncio.sleep(1.0)

            senders = asyncio.gather(*(anchor_sender(a, until) for a in anchors))
            await asyncio.gather(senders, *(churn(b, until, random.Random(rng.random()), counts) for b in churners),
                                 watch())
            sent = dict(zip((a.identity for a in anchors), senders.result(), strict=True))
            for n, bot in enumerate(churners):  # a last change of each kind, so that every run has some
                if bot.room is None:
                    await bot.join()
                if bot.media is None:
                    await bot.publish()
                if n % 2 == 0:
                    bot.media.disable()  # type: ignore[union-attr]  # the bot is connected here: its media is set
            await asyncio.sleep(2.0)  # the last messages and updates arrive
            server_view = await rest_view(http, room)
            mismatches = []
            for bot in team:
                if bot.room is not None and bot.view() != server_view:
                    mismatches.append({"bot": bot.identity, "client": bot.view(), "server": server_view})
            lost = reordered = 0
            for receiver in anchors:
                for sender in anchors:
                    if sender is receiver:
                        continue
                    got = receiver.received[sender.identity]
                    lost += sent[sender.identity] - len(set(got))
                    reordered += sum(1 for a, b in itertools.pairwise(got) if b <= a)
            for bot in team:
                bot.leave()
            after = await settled(http, baseline, 20.0)
    finally:
        server.stop(signal.SIGTERM)
    growth_mb = (after["rss_kb"] - baseline["rss_kb"]) / 1024
    returned = all(after[k] <= baseline[k] for k in ("fds", "tasks", "threads")) and \
        after["objects"] - baseline["objects"] <= OBJECT_SLACK
    return {
        "bench": "soak", "bots": len(team), "seconds": seconds, "seed": seed, "actions": dict(counts),
        "views_match": not mismatches, "mismatches": mismatches[:3],
        "data": {"sent": sum(sent.values()), "lost": lost, "reordered": reordered},
        "server": {"baseline": baseline, "peak": peak, "after": after,
                   "rss_growth_mb": round(growth_mb, 1),
                   "rss_per_join_kb": round(growth_mb * 1024 / max(1, counts["join"] + len(team))),
                   "objects_growth": after["objects"] - baseline["objects"], "object_slack": OBJECT_SLACK},
        "returned_to_baseline": returned,
        "ok": not mismatches and lost == 0 and reordered == 0 and returned,
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bots", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, loopback_only():
        print(json.dumps(await soak(args.bots, args.seconds, args.seed, Path(tmp) / "data")))


if __name__ == "__main__":
    asyncio.run(main())
