"""``confab-bot``: a headless participant that prints every event it sees as one JSON line.

It publishes synthetic audio, video and a data track, can follow a script (speak, mute,
say something, leave at given times) and reports, once a second, what it receives on each
video track (frames, fps, size, stamped frame counter) and audio track (level).

    confab-bot --url http://127.0.0.1:7880 --room standup --identity bot1 --duration 30
    confab-bot --url ... --token JWT --script '[{"at": 2, "do": "mute-audio"}, {"at": 5, "do": "leave"}]'
    confab-bot --url ... --loss 0.05 --script '[{"at": 10, "do": "loss", "fraction": 0.2}]'

``--loss`` (and the ``loss`` script step) drops that fraction of the bot's outgoing RTP
packets (``core.media.faults``), to see network quality react. Every line carries ``t``
(seconds since the bot started) and ``wall`` (Unix time, to line up several bots).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from core import LocalAudioTrack, LocalDataTrack, LocalVideoTrack, Room, TwilioError, connect
from core.dev_token import DevTokenRefused, DevTokenUnreachable, fetch_dev_token
from core.media.faults import outgoing_loss
from core.media.sources import SyntheticAudioSource, SyntheticVideoSource
from core.media.stamp import read_stamp

log = logging.getLogger("confab.bot")

ACTIONS = ("speak", "silence", "mute-audio", "unmute-audio", "pause-video", "resume-video", "say", "loss",
           "leave")


@dataclass
class ScriptStep:
    at: float
    do: str
    text: str | None = None
    fraction: float | None = None

    @classmethod
    def parse(cls, item: dict[str, Any]) -> ScriptStep:
        if not isinstance(item, dict) or item.get("do") not in ACTIONS:
            raise ValueError(f"script steps need 'do' in {ACTIONS}: {item!r}")
        fraction = item.get("fraction")
        if item["do"] == "loss" and (not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1):
            raise ValueError(f"a loss step needs 'fraction' within 0..1: {item!r}")
        return cls(float(item.get("at", 0)), str(item["do"]), item.get("text"),
                   float(fraction) if fraction is not None else None)


def load_script(text: str | None) -> list[ScriptStep]:
    """A JSON list of steps, given inline or as ``@path``."""
    if not text:
        return []
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as fh:
            text = fh.read()
    steps = [ScriptStep.parse(item) for item in json.loads(text)]
    return sorted(steps, key=lambda s: s.at)


@dataclass
class _VideoWatch:
    identity: str
    frames: int = 0
    last_counter: int | None = None
    size: tuple[int, int] | None = None
    window_start: float = field(default_factory=time.monotonic)
    window_frames: int = 0


class Bot:
    """One bot: its tracks, its room, its event printer."""

    def __init__(self, args: argparse.Namespace, out: Any = sys.stdout) -> None:
        self.args = args
        self.out = out
        self.t0 = time.monotonic()
        self.room: Room | None = None
        self.audio_source: SyntheticAudioSource | None = None
        self.audio: LocalAudioTrack | None = None
        self.video: LocalVideoTrack | None = None
        self.data: LocalDataTrack | None = None
        self.videos: dict[str, _VideoWatch] = {}
        self.audio_levels: dict[str, Any] = {}
        self.left = asyncio.Event()
        self._quality_watched: set[str] = set()

    def emit(self, event: str, **fields: Any) -> None:
        record = {"t": round(time.monotonic() - self.t0, 3), "wall": round(time.time(), 3), "event": event,
                  **fields}
        self.out.write(json.dumps(record, default=str) + "\n")
        self.out.flush()

    def tracks(self) -> list[Any]:
        args = self.args
        tracks: list[Any] = []
        if not args.no_audio:
            schedule = None if args.speak is None else [
                (float(a), float(b)) for a, b in (w.split("-", 1) for w in args.speak)]
            self.audio_source = SyntheticAudioSource(args.audio_kind, schedule=schedule, label=args.identity)
            self.audio = LocalAudioTrack(self.audio_source, name="microphone")
            tracks.append(self.audio)
        if not args.no_video:
            mouth = self.audio_source.envelope if self.audio_source is not None else None
            source = SyntheticVideoSource(args.width, args.height, args.fps, label=args.identity,
                                          look=args.look, mouth=mouth)
            self.video = LocalVideoTrack(source, name="camera")
            tracks.append(self.video)
        if not args.no_data:
            self.data = LocalDataTrack("chat")
            tracks.append(self.data)
        return tracks

    async def run(self) -> int:
        args = self.args
        try:
            token = args.token or await fetch_dev_token(args.url, args.identity, args.room)
            self.room = await connect(token, url=args.url, name=args.room, tracks=self.tracks(),
                                      dominant_speaker=True, network_quality=True)
        except TwilioError as err:
            self.emit("error", code=err.code, message=err.message)
            return 2
        except DevTokenRefused as exc:
            hint = "it is not a 'confab-server --dev': pass --token (confab-server token --data-dir …)"
            self.emit("error", code=0, message=f"{exc}: {hint}")
            print(f"confab-bot: {exc}: {hint}", file=sys.stderr)
            return 2
        except DevTokenUnreachable as exc:
            self.emit("error", code=53000, message=str(exc))
            return 2
        except (aiohttp.ClientError, OSError, ValueError, KeyError) as exc:  # no server there
            self.emit("error", code=53000, message=f"cannot reach {args.url}: {exc}")
            return 2
        room = self.room
        if args.loss:
            outgoing_loss(room).set_fraction(args.loss)
        self.emit("connected", room=room.name, room_sid=room.sid, sid=room.local_participant.sid,
                  identity=room.local_participant.identity,
                  participants=[p.identity for p in room.participants.values()])
        self._listen(room)
        for participant in room.participants.values():
            for pub in participant.tracks.values():
                self.emit("trackPublished", participant=participant.identity, track_sid=pub.track_sid,
                          kind=pub.kind, name=pub.track_name, existing=True)
                if pub.is_subscribed and pub.track is not None:
                    self._subscribed(pub.track, participant)  # subscribed while connecting
        tasks = [asyncio.ensure_future(self._report()), asyncio.ensure_future(self._script())]
        try:
            if args.duration:
                await asyncio.wait_for(self.left.wait(), args.duration)
            else:
                await self.left.wait()
        except TimeoutError:
            pass
        for task in tasks:
            task.cancel()
        error = room.state == "disconnected" and getattr(room._signaling, "error", None)
        room.disconnect()
        for track in (self.audio, self.video):
            if track is not None:
                track.stop()  # the bot owns its tracks
        await asyncio.sleep(0.2)  # let bye and the peer connections close
        self.emit("left", reason="error" if error else "done")
        return 3 if error else 0

    # -- events ----------------------------------------------------------------------------

    def _listen(self, room: Room) -> None:
        def who(p: Any) -> str | None:
            return p.identity if p is not None else None

        def connected(p: Any) -> None:
            self.emit("participantConnected", participant=p.identity)
            self._watch_quality(p)

        room.on("participantConnected", connected)
        for participant in room.participants.values():
            self._watch_quality(participant)
        room.on("participantDisconnected", lambda p: self.emit("participantDisconnected", participant=p.identity))
        room.on("participantReconnecting", lambda p: self.emit("participantReconnecting", participant=p.identity))
        room.on("participantReconnected", lambda p: self.emit("participantReconnected", participant=p.identity))
        room.on("trackPublished", lambda pub, p: self.emit(
            "trackPublished", participant=p.identity, track_sid=pub.track_sid, kind=pub.kind, name=pub.track_name))
        room.on("trackUnpublished", lambda pub, p: self.emit(
            "trackUnpublished", participant=p.identity, track_sid=pub.track_sid))
        room.on("trackSubscribed", self._subscribed)
        room.on("trackUnsubscribed", lambda track, p: self._unsubscribed(track, p))
        room.on("trackSubscriptionFailed", lambda err, pub, p: self.emit(
            "trackSubscriptionFailed", participant=p.identity, track_sid=pub.track_sid, code=err.code))
        room.on("trackStarted", lambda track, p: self.emit("trackStarted", participant=p.identity,
                                                           track_sid=track.sid, kind=track.kind))
        room.on("trackDimensionsChanged", lambda track, p: self.emit(
            "trackDimensionsChanged", participant=p.identity, track_sid=track.sid,
            width=track.dimensions.width if track.dimensions else None,
            height=track.dimensions.height if track.dimensions else None))
        room.on("trackEnabled", lambda track, p: self.emit("trackEnabled", participant=p.identity,
                                                           track_sid=track.sid, kind=track.kind))
        room.on("trackDisabled", lambda track, p: self.emit("trackDisabled", participant=p.identity,
                                                            track_sid=track.sid, kind=track.kind))
        room.on("trackMessage", lambda data, track, p: self.emit(
            "trackMessage", participant=p.identity, track_sid=track.sid,
            data=data if isinstance(data, str) else data.hex()))
        room.on("dominantSpeakerChanged", lambda p: self.emit("dominantSpeakerChanged", participant=who(p)))
        room.on("reconnecting", lambda err: self.emit("reconnecting", code=getattr(err, "code", None)))
        room.on("reconnected", lambda: self.emit("reconnected"))
        room.on("disconnected", self._disconnected)
        room.on("recordingStarted", lambda: self.emit("recordingStarted"))
        room.on("recordingStopped", lambda: self.emit("recordingStopped"))
        local = room.local_participant
        local.on("trackPublished", lambda pub: self.emit("localTrackPublished", track_sid=pub.track_sid,
                                                         kind=pub.kind))
        local.on("trackPublicationFailed", lambda err, track: self.emit(
            "trackPublicationFailed", kind=track.kind, code=err.code, message=err.message))
        local.on("networkQualityLevelChanged", lambda level: self.emit(
            "networkQualityLevelChanged", participant=local.identity, level=int(level)))

    def _subscribed(self, track: Any, participant: Any) -> None:
        self.emit("trackSubscribed", participant=participant.identity, track_sid=track.sid, kind=track.kind,
                  name=track.name)
        if track.kind == "video":
            watch = _VideoWatch(participant.identity)
            self.videos[track.sid] = watch

            def on_frame(frame: Any) -> None:
                watch.frames += 1
                watch.window_frames += 1
                watch.size = (frame.width, frame.height)
                stamp = read_stamp(frame)
                if stamp is not None:
                    watch.last_counter = stamp.counter

            track.add_sink(on_frame)
        elif track.kind == "audio":
            self.audio_levels[track.sid] = (participant.identity, track)
        self._watch_quality(participant)

    def _watch_quality(self, participant: Any) -> None:
        """Print a remote participant's level changes (one listener per participant)."""
        if participant.sid in self._quality_watched:
            return
        self._quality_watched.add(participant.sid)
        participant.on("networkQualityLevelChanged", lambda level: self.emit(
            "networkQualityLevelChanged", participant=participant.identity, level=int(level)))

    def _unsubscribed(self, track: Any, participant: Any) -> None:
        self.videos.pop(track.sid, None)
        self.audio_levels.pop(track.sid, None)
        self.emit("trackUnsubscribed", participant=participant.identity, track_sid=track.sid, kind=track.kind)

    def _disconnected(self, room: Room, error: TwilioError | None) -> None:
        self.emit("disconnected", code=getattr(error, "code", None), message=getattr(error, "message", None))
        self.left.set()

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(self.args.report_interval)
            now = time.monotonic()
            for sid, watch in self.videos.items():
                elapsed = max(1e-6, now - watch.window_start)
                self.emit("videoStats", participant=watch.identity, track_sid=sid, frames=watch.frames,
                          fps=round(watch.window_frames / elapsed, 2),
                          width=watch.size[0] if watch.size else None,
                          height=watch.size[1] if watch.size else None, counter=watch.last_counter)
                watch.window_start, watch.window_frames = now, 0
            for sid, (identity, track) in self.audio_levels.items():
                self.emit("audioStats", participant=identity, track_sid=sid, level=track.level)

    async def _script(self) -> None:
        for step in load_script(self.args.script):
            await asyncio.sleep(max(0.0, step.at - (time.monotonic() - self.t0)))
            self.emit("script", do=step.do, **({"fraction": step.fraction} if step.fraction is not None else {}))
            self.apply(step)
            if step.do == "leave":
                return

    def apply(self, step: ScriptStep) -> None:
        if step.do in ("speak", "silence") and self.audio_source is not None:
            self.audio_source.set_speaking(step.do == "speak")
        elif step.do in ("mute-audio", "unmute-audio") and self.audio is not None:
            self.audio.enable(step.do == "unmute-audio")
        elif step.do in ("pause-video", "resume-video") and self.video is not None:
            self.video.enable(step.do == "resume-video")
        elif step.do == "say" and self.data is not None:
            self.data.send(step.text or "")
        elif step.do == "loss" and self.room is not None:
            outgoing_loss(self.room).set_fraction(step.fraction or 0.0)
        elif step.do == "leave":
            self.left.set()


def parser() -> argparse.ArgumentParser:
    from app.argtypes import http_url, log_level, positive_float, positive_int
    from core.release import version_line

    ap = argparse.ArgumentParser(prog="confab-bot", description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", action="version", version=version_line("confab-bot"))
    ap.add_argument("--url", required=True, type=http_url, help="server, e.g. http://127.0.0.1:7880")
    ap.add_argument("--token", help="access token (else --identity/--room against a --dev server)")
    ap.add_argument("--room", help="room name")
    ap.add_argument("--identity", default="bot", help="identity (with a --dev server)")
    ap.add_argument("--duration", type=float, default=0, help="leave after S seconds (0: stay)")
    ap.add_argument("--width", type=positive_int, default=320)
    ap.add_argument("--height", type=positive_int, default=240)
    ap.add_argument("--fps", type=positive_float, default=15)
    ap.add_argument("--audio-kind", choices=("tone", "speech"), default="speech")
    ap.add_argument("--look", choices=("pattern", "avatar"), default="pattern",
                    help="video: the stamped test pattern (tests, benchmarks) or a drawn person (demos)")
    ap.add_argument("--speak", nargs="*", metavar="START-END", help="speak only in these windows (seconds)")
    ap.add_argument("--no-audio", action="store_true")
    ap.add_argument("--no-video", action="store_true")
    ap.add_argument("--no-data", action="store_true")
    ap.add_argument("--script", help="JSON list of {at, do, text?, fraction?} (or @file); do in "
                    + ", ".join(ACTIONS))
    ap.add_argument("--loss", type=float, default=0.0, metavar="FRACTION",
                    help="drop this fraction (0..1) of outgoing RTP packets (fault injection)")
    ap.add_argument("--report-interval", type=float, default=1.0, help="seconds between stats lines")
    ap.add_argument("--ca-file", metavar="PEM", help="also trust this certificate or CA for https:// servers")
    ap.add_argument("--log-level", type=log_level, default="WARNING")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.token and not args.identity:
        parser().error("give --token, or --identity with a --dev server")
    if not 0.0 <= args.loss <= 1.0:
        parser().error("--loss must be within 0..1")
    if args.ca_file:
        from core.tls import trust_ca_file

        try:
            trust_ca_file(args.ca_file)
        except OSError as exc:
            parser().error(f"--ca-file: {exc}")
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        load_script(args.script)
    except (ValueError, OSError) as exc:
        parser().error(f"bad --script: {exc}")
    return asyncio.run(Bot(args).run())


if __name__ == "__main__":
    sys.exit(main())
