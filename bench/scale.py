"""Scale of a group room: N participants, all publishing and all subscribing to everyone.

One ``confab-server`` process (``--dev --default-room-type group``, so every room goes
through the forwarder) serves a room of N participants, each publishing 320×240@15 VP8
video and Opus audio and subscribing to everyone else: N·(N−1) video and as many audio
streams leave the server. The participants are real SDK clients (``core.connect``) spread
over ``--procs`` load-client processes (``bench/loadclient.py``); so that their own codecs
don't swamp the 2 cores, they **replay pre-encoded packets** (2 s of the synthetic camera and
tone, encoded once at start with PyAV libvpx/libopus, keyframe every 2 s, looped with
rewritten pts) and **count received frames without decoding** (every receiver gets
``server.forwarder.passthrough.pass_through_receiver``). ``bench/loadclient.py``'s docstring
has the details and the one SDK seam it uses (a track's ``_local_source``).

For each N in ``--sizes`` (participants are added to reach N; the room is not rebuilt), after
the new ones' video reaches every subscriber and ``--warmup`` seconds, over ``--measure``
seconds:

* ``server_cpu_pct``: the server process's CPU, % of one core (psutil, user+system);
* ``server_rss_mb`` and ``mb_per_participant`` = (RSS − RSS of the empty server) / N;
* ``min_fps``: the minimum, over every subscriber × publisher pair, of received video
  frames per second (``median_fps`` beside it; ``missing_pairs`` counts pairs with no
  receiver at all, which count as 0 fps); ``min_audio_fps`` likewise (50 is full rate);
* ``server_us_per_frame_out``: server CPU µs per video or audio frame that reached a
  subscriber (the cost of one forwarded frame, the figure least moved by other load);
* ``udp_rcvbuf_errors``: datagrams the kernel dropped for a full socket buffer during the
  measurement (``/proc/net/snmp``, the whole machine); ``keyframe_restarts``: keyframes
  the load clients sent on a PLI meanwhile (``bench/loadclient.py``);
* ``clients_cpu_pct`` (the load-client processes together) and ``machine_cpu_pct`` (all of
  the machine, other users included: a shared machine's noise shows here).

``max_participants`` is the largest N at which every subscriber got ≥ 14 fps from every
publisher. The run stops after a step whose min fps is below ``--stop-below`` (default 7)
or whose participants failed to join. Prints one JSON object; every process it starts is
stopped at the end, on errors and on Ctrl-C.

    .venv/bin/python bench/scale.py [--sizes 2,4,8,12,14,16,20] [--warmup 4] [--measure 8] [--procs 2]
                                    [--profile stacks.txt]   # server under py-spy (pip install py-spy)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOADCLIENT = Path(__file__).resolve().with_name("loadclient.py")
GOAL_FPS = 14.0


class Client:
    """One load-client process, spoken to line by line (a reader thread keeps reads bounded)."""

    def __init__(self, url: str, index: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(LOADCLIENT), "--url", url, "--room", "scale"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True)
        self.index = index
        self.identities: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self._next(60)  # encodes its packet loops first

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"load client {self.index} did not answer in {timeout:.0f} s") from None
        if line is None:
            raise RuntimeError(f"load client {self.index} exited (rc {self.proc.poll()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def ask(self, command: str, timeout: float = 20) -> dict[str, Any]:
        self.send(command)
        return self._next(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=8)
            except (OSError, subprocess.TimeoutExpired):
                pass
        stop(self.proc)


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def gather(clients: list[Client], timeout: float = 20) -> tuple[dict[str, Any], dict[str, float]]:
    """Ask every client for stats at once: merged ``published``/``received``/``errors`` and each one's time."""
    for c in clients:
        c.send("stats")
    merged: dict[str, Any] = {"published": {}, "received": {}, "errors": [], "unattributed": 0, "events": [],
                              "states": {}, "loop_restarts": 0}
    times: dict[str, float] = {}
    for c in clients:
        r = c._next(timeout)
        merged["published"].update(r["published"])
        merged["received"].update(r["received"])
        merged["errors"].extend(r["errors"])
        merged["unattributed"] += r["unattributed"]
        merged["loop_restarts"] += r.get("loop_restarts", 0)
        merged["events"].extend(r["events"])
        merged["states"].update(r["states"])
        for identity in c.identities:
            times[identity] = r["t"]
    return merged, times


def pair_counts(snapshot: dict[str, Any], identities: list[str], kind: str) -> dict[tuple[str, str], int | None]:
    """frames received so far per (subscriber, publisher); None where no receiver exists."""
    out: dict[tuple[str, str], int | None] = {}
    for sub in identities:
        got = snapshot["received"].get(sub, {})
        for pub in identities:
            if pub == sub:
                continue
            track_id = snapshot["published"].get(pub, {}).get(kind)
            entry = got.get(track_id) if track_id else None
            out[(sub, pub)] = entry[1] if entry else None
    return out


def udp_rcvbuf_errors() -> int:
    """Datagrams the kernel dropped for a full receive buffer so far (all of the machine)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")]) if len(rows) >= 2 else 0


def cpu_seconds(procs: list[Any]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # noqa: BLE001 - a process that is gone counts as 0 from now
            pass
    return total


def run(args: argparse.Namespace) -> dict[str, Any]:
    import psutil

    sizes = sorted({int(x) for x in args.sizes.split(",")})
    result: dict[str, Any] = {
        "bench": "scale",
        "media": "each participant publishes 320x240@15 VP8 + Opus 20 ms, subscribes to all others",
        "clients": f"core.connect participants in {args.procs} load-client processes; pre-encoded packets "
                   "replayed, received frames counted without decoding (bench/loadclient.py)",
        "cores": os.cpu_count(), "warmup_s": args.warmup, "measure_s": args.measure,
        "units": "server_cpu_pct: % of one core; rss in MB; fps: video frames/s per subscriber x publisher",
        "goal": {"participants": 16, "mb_per_participant": 5.0, "min_fps": GOAL_FPS},
        "steps": [],
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        command = [str(ROOT / ".venv/bin/confab-server"), "--port", "0", "--dev", "--data-dir",
                   str(Path(tmp) / "data"), "--default-room-type", "group", "--log-level", "WARNING"]
        if args.profile:  # the server runs as py-spy's child (no ptrace of a non-child needed)
            command = [str(ROOT / ".venv/bin/py-spy"), "record", "--nonblocking", "--rate", "50", "--format",
                       "raw", "--output", args.profile, "--", *command]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
                                  start_new_session=True)
        clients: list[Client] = []
        try:
            assert server.stdout is not None
            url = ""
            for _ in range(5):  # the server's first line gives its URL (py-spy may print before it)
                line = server.stdout.readline()
                if line.split() and line.split()[-1].startswith("http://127.0.0.1:"):
                    url = line.split()[-1]
                    break
            if not url:
                raise RuntimeError(f"the server printed no loopback URL (last line {line!r})")
            server_ps = psutil.Process(server.pid)
            if args.profile:
                server_ps = server_ps.children()[0]
            clients = [Client(url, i) for i in range(args.procs)]
            result["video_loop"] = {"frames": clients[0].ready["video_packets"],
                                    "kbps": round(clients[0].ready["video_bytes"] * 8 / 2 / 1000)}
            client_ps = [psutil.Process(c.proc.pid) for c in clients]
            time.sleep(1.0)
            result["empty_server_rss_mb"] = base_rss = round(server_ps.memory_info().rss / 2**20, 1)
            identities: list[str] = []
            for n in sizes:
                if time.monotonic() - started > args.budget:
                    result["stopped"] = f"time budget of {args.budget:.0f} s used up before N={n}"
                    break
                step = measure_step(args, n, identities, clients, server_ps, client_ps, base_rss)
                result["steps"].append(step)
                print(json.dumps(step), file=sys.stderr, flush=True)
                if step["min_fps"] < args.stop_below or step["join_errors"]:
                    errors = len(step["join_errors"])
                    result["stopped"] = f"after N={n}: min fps {step['min_fps']}, {errors} join errors"
                    break
        finally:
            for c in clients:
                c.close()
            if args.profile and server.poll() is None:  # py-spy writes its file on SIGINT
                os.killpg(server.pid, signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.wait(timeout=20)
            stop(server)
    ok = [s["participants"] for s in result["steps"] if s["min_fps"] >= GOAL_FPS and not s["join_errors"]]
    # the largest N such that it and every smaller measured N held the goal
    held = 0
    for s in result["steps"]:
        if s["min_fps"] >= GOAL_FPS and not s["join_errors"]:
            held = s["participants"]
        else:
            break
    result["max_participants"] = held
    lean = [s["participants"] for s in result["steps"] if s["mb_per_participant"] <= 5.0]
    result["max_participants_within_5mb_each"] = max(lean, default=0)
    result["goal_met"] = {"participants_16": held >= 16,
                          "memory_5mb_each_at_16": any(s["participants"] >= 16 and s["mb_per_participant"] <= 5.0
                                                       for s in result["steps"])}
    result["any_n_at_goal_fps"] = ok
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


def measure_step(args: argparse.Namespace, n: int, identities: list[str], clients: list[Client], server_ps: Any,
                 client_ps: list[Any], base_rss: float) -> dict[str, Any]:
    import psutil

    t_join = time.monotonic()
    new = [f"p{i:02d}" for i in range(len(identities) + 1, n + 1)]
    per_client: dict[int, list[str]] = {}
    for i, identity in enumerate(new):
        c = clients[(len(identities) + i) % len(clients)]
        per_client.setdefault(c.index, []).append(identity)
    for c in clients:  # the processes join theirs in parallel, each one at a time
        if per_client.get(c.index):
            c.send("add " + ",".join(per_client[c.index]))
    for c in clients:
        if per_client.get(c.index):
            c._next(30 * len(per_client[c.index]) + 10)
            c.identities.extend(per_client[c.index])
    identities.extend(new)
    join_s = time.monotonic() - t_join
    # until every pair has video (at most --settle s), then the warm-up
    deadline = time.monotonic() + args.settle
    while True:
        snap, _ = gather(clients)
        counts = pair_counts(snap, identities, "video")
        if all(v for v in counts.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    flowing_s = time.monotonic() - t_join
    time.sleep(args.warmup)
    s0, t0 = gather(clients)
    c0, cl0, w0 = cpu_seconds([server_ps]), cpu_seconds(client_ps), time.monotonic()
    drops0 = udp_rcvbuf_errors()
    psutil.cpu_percent(None)
    time.sleep(args.measure)
    s1, t1 = gather(clients)
    c1, cl1, w1 = cpu_seconds([server_ps]), cpu_seconds(client_ps), time.monotonic()
    drops = udp_rcvbuf_errors() - drops0
    machine = psutil.cpu_percent(None) * (os.cpu_count() or 1)
    rss = server_ps.memory_info().rss / 2**20

    def rates(kind: str) -> list[float]:
        a, b = pair_counts(s0, identities, kind), pair_counts(s1, identities, kind)
        return [0.0 if b[k] is None else ((b[k] or 0) - (a[k] or 0)) / (t1[k[0]] - t0[k[0]]) for k in b]

    video, audio = sorted(rates("video")), sorted(rates("audio"))
    delivered = sum(video) + sum(audio)  # frames/s that reached subscribers
    missing = sum(1 for v in pair_counts(s1, identities, "video").values() if v is None)
    return {
        "participants": n,
        "video_streams_out": n * (n - 1),
        "server_cpu_pct": round(100 * (c1 - c0) / (w1 - w0), 1),
        "server_us_per_frame_out": round(1e6 * (c1 - c0) / (w1 - w0) / delivered, 1) if delivered else None,
        "server_rss_mb": round(rss, 1),
        "mb_per_participant": round((rss - base_rss) / n, 2),
        "min_fps": round(video[0], 1) if video else 0.0,
        "median_fps": round(video[len(video) // 2], 1) if video else 0.0,
        "min_audio_fps": round(audio[0], 1) if audio else 0.0,
        "missing_pairs": missing,
        "clients_cpu_pct": round(100 * (cl1 - cl0) / (w1 - w0), 1),
        "udp_rcvbuf_errors": drops,
        "keyframe_restarts": s1["loop_restarts"] - s0["loop_restarts"],
        "machine_cpu_pct": round(machine, 1),
        "join_s": round(join_s, 1),
        "all_video_flowing_s": round(flowing_s, 1),
        "join_errors": s1["errors"],
        "unattributed_frames": s1["unattributed"],
        "not_connected": sorted(k for k, v in s1["states"].items() if v != "connected"),
        "room_events": s1["events"][-10:],  # the SDK's reconnecting/disconnected events so far (last 10)
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="2,4,8,12,14,16,20")
    ap.add_argument("--warmup", type=float, default=4.0)
    ap.add_argument("--measure", type=float, default=8.0)
    ap.add_argument("--settle", type=float, default=20.0, help="max s to wait for every pair's first frame")
    ap.add_argument("--procs", type=int, default=2, help="load-client processes")
    ap.add_argument("--stop-below", type=float, default=7.0, help="stop after a step with min fps below this")
    ap.add_argument("--profile", default="", help="run the server under py-spy record; collapsed stacks to this file")
    ap.add_argument("--budget", type=float, default=480.0, help="start no new step after this many s")
    args = ap.parse_args()

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # cleanup runs in run()'s finally either way
    print(json.dumps(run(args), indent=1))


if __name__ == "__main__":
    main()
