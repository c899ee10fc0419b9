"""Rejoin after a server restart, and resume after a WebSocket cut: how long until calls are back.

For each room type, two participants (``core.connect``, 160×120@10 video + a data track) call
through a real ``confab-server`` process; the server is SIGKILLed and started again on the
same port and data directory. Measured from the moment the new process accepts connections:
``reconnected_s`` (the later of the two Rooms' ``reconnected``) and ``media_s`` (the later of
the two clients' third video frame from the other). Then one client's signaling WebSocket is
cut (aborted, no close handshake) and ``ws_cut_reconnected_s`` is the time to its
``reconnected``. Prints one JSON object; ``goal_met``: every median media time ≤ 5 s.

    .venv/bin/python bench/restart.py [--runs 3] [--types peer-to-peer,group]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

from core.media.loopback import loopback_only  # noqa: E402
from restartkit import Caller, Restartable, create_room, cut_signaling, leave  # noqa: E402

GOAL_S = 5.0


async def rejoin(server: Restartable, room_type: str) -> dict[str, float]:
    name = await create_room(server, room_type)
    alice = await Caller.join(server, "alice", name)
    bob = await Caller.join(server, "bob", name)
    await alice.media_from("bob", 0)
    await bob.media_from("alice", 0)
    server.stop(signal.SIGKILL)
    await asyncio.sleep(1.0)
    back = server.restart()
    reconnected = [await c.reconnected(back, timeout=30) - back for c in (alice, bob)]
    media = [await a.media_from(b.room.local_participant.identity, back, timeout=30) - back
             for a, b in ((alice, bob), (bob, alice))]
    result = {"reconnected_s": max(reconnected), "media_s": max(media)}
    cut = time.monotonic()
    cut_signaling(alice.room)
    result["ws_cut_reconnected_s"] = await alice.reconnected(cut) - cut
    await leave(alice, bob)
    return result


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--types", default="peer-to-peer,group")
    args = ap.parse_args()
    report: dict[str, Any] = {"bench": "restart", "runs": args.runs, "goal_s": GOAL_S, "types": {}}
    with tempfile.TemporaryDirectory() as tmp, loopback_only():
        for room_type in args.types.split(","):
            server = Restartable(Path(tmp) / room_type, "--session-timeout", "30").start()
            try:
                runs = [await rejoin(server, room_type) for _ in range(args.runs)]
            finally:
                server.stop(signal.SIGTERM)
            report["types"][room_type] = {
                key: {"median": round(statistics.median(r[key] for r in runs), 3),
                      "all": [round(r[key], 3) for r in runs]} for key in runs[0]}
    report["goal_met"] = all(t["media_s"]["median"] <= GOAL_S for t in report["types"].values())
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
