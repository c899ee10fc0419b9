"""Dominant speaker: a speech-activity detector over audio levels at three time scales.

Shared by the room server (group rooms: levels from the ``ssrc-audio-level`` RTP header
extension the publishers send) and the client (peer-to-peer rooms: levels of the decoded
remote audio). Architecture §5.

The shape is Volfin and Cohen's ("Dominant speaker identification for multipoint
videoconferencing", 2012), as Jitsi's and mediasoup's ``DominantSpeakerIdentification``
use it, with the likelihood scores replaced by activity fractions that are easy to reason
about and to tune:

* **frame** (one level each, 20 ms): active when the level is above the participant's
  noise floor by ``margin_db`` and above ``floor_dbov``;
* **immediate** scale (``immediate_s``, 0.2 s): fraction of active frames — is the
  participant speaking *now*;
* **medium** scale (``medium_s``, 0.8 s): fraction of active frames — has it been
  speaking for a while (a word, a cough or a 300 ms burst cannot fill it);
* **long** scale (``long_s``, 3 s): fraction of active frames — a whole sentence.

Fractions are of the levels a window should hold *at the rate they arrive* (measured over
the long window), not at the 50 a second a sender makes: a client decoding five calls on a
busy machine got only ~18 levels a second per participant, and counting the missing ones as
silence kept every fraction below ``immediate_min`` — nobody was highlighted for 15–25 s
with five people talking at once. Levels that stop (a muted or vanished track) still decay
to silence, the time before a participant's first level counts as silence, and a window
is never held to fewer than ``min_share`` of its 20 ms frames, so a lone loud level cannot
score 100 %.

Every ``decide()`` (call it every 100–300 ms) compares the best challenger with the current
dominant speaker; the challenger takes over only if, at once,

0. it won the previous decision too (when there is a dominant speaker to replace: a single
   noisy decision never moves the highlight),
1. it is speaking now (immediate ≥ ``immediate_min``),
2. it has spoken for long enough (medium ≥ ``medium_min``: with the defaults, 360 ms of
   speech in the last 800 ms — so bursts shorter than 300 ms never win),
3. it beats the dominant speaker at the medium scale by ``medium_margin`` **and** either
   beats it at the long scale or the dominant speaker has gone quiet (immediate below
   ``immediate_min``) — the hysteresis: two people talking over each other do not make
   the highlight flicker, and someone who stopped is replaced within about half a second.

Someone who never spoke cannot be dominant; a room falls silent → the last speaker stays
(as Twilio does); a participant who leaves (``remove``) → ``None`` if it was dominant.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

__all__ = ["DominantSpeakerDetector", "SpeakerScores", "DetectorParameters"]

FRAME_S = 0.020  # ssrc-audio-level / decoded audio: one level per 20 ms packet


@dataclass(frozen=True)
class DetectorParameters:
    immediate_s: float = 0.2
    medium_s: float = 0.8
    long_s: float = 3.0
    immediate_min: float = 0.5
    medium_min: float = 0.45
    medium_margin: float = 0.05
    #: Levels below this are silence whatever the noise floor (dBov).
    floor_dbov: float = -55.0
    #: A frame is active this far above the participant's noise floor.
    margin_db: float = 10.0
    #: How fast the noise floor rises towards louder levels (dB per second), and its cap.
    floor_rise_db_s: float = 1.0
    floor_cap_dbov: float = -45.0
    #: A window's fraction is of the frames that arrived, but of at least this share of the
    #: frames it spans (fewer arrivals count as missing silence).
    min_share: float = 0.25
    #: A window holds at least this many levels at the rate they arrive (widened if need be).
    min_frames: int = 8


@dataclass(frozen=True)
class SpeakerScores:
    immediate: float
    medium: float
    long: float


@dataclass
class _Speaker:
    #: (arrival time, active) of every frame of the last ``long_s``.
    frames: deque[tuple[float, bool]] = field(default_factory=deque)
    noise_floor: float = -127.0
    last_level_t: float | None = None
    first_t: float | None = None
    spoke: bool = False

    def add(self, dbov: float, t: float, p: DetectorParameters) -> None:
        # Noise floor: follows quieter levels at once, louder ones slowly (and never far).
        if dbov < self.noise_floor:
            self.noise_floor = dbov
        elif self.last_level_t is not None:
            rise = p.floor_rise_db_s * max(0.0, t - self.last_level_t)
            self.noise_floor = min(dbov, p.floor_cap_dbov, self.noise_floor + rise)
        self.last_level_t = t
        if self.first_t is None:
            self.first_t = t
        threshold = max(p.floor_dbov, self.noise_floor + p.margin_db)
        active = dbov > threshold
        self.frames.append((t, active))
        self.spoke = self.spoke or active

    def scores(self, now: float, p: DetectorParameters) -> SpeakerScores:
        frames = self.frames
        while frames and frames[0][0] < now - p.long_s:
            frames.popleft()
        # The rate levels arrive at (over the long window, or since the first): a window
        # expects that many, so the time before a participant's first level is silence too.
        # A window too short to expect ``min_frames`` at that rate is widened until it does.
        known = min(p.long_s, now - (self.first_t if self.first_t is not None else now)) + FRAME_S
        rate = len(frames) / known
        spans = [min(p.long_s, max(w, p.min_frames / rate if rate else w))
                 for w in (p.immediate_s, p.medium_s, p.long_s)]
        active, arrived = [0, 0, 0], [0, 0, 0]
        for t, is_active in reversed(frames):
            age = now - t
            if age > spans[1] and age > spans[0]:
                arrived[2] += 1
                active[2] += is_active
                continue
            for i, span in enumerate(spans):
                if age <= span:
                    arrived[i] += 1
                    active[i] += is_active

        def fraction(i: int) -> float:
            expected = max(arrived[i], rate * spans[i], p.min_share * spans[i] / FRAME_S, 1.0)
            return min(1.0, active[i] / expected)

        return SpeakerScores(fraction(0), fraction(1), fraction(2))


class DominantSpeakerDetector:
    """Levels in (``add``), the dominant speaker out (``decide``). Not thread-safe; times in seconds."""

    def __init__(self, parameters: DetectorParameters | None = None) -> None:
        self.parameters = parameters or DetectorParameters()
        self._speakers: dict[str, _Speaker] = {}
        self.dominant: str | None = None
        self._pending: str | None = None  # the challenger that won the last decision

    def add(self, participant: str, dbov: float, t: float) -> None:
        """One level (RMS dBov, -127..0) of ``participant``'s audio at time ``t``."""
        if math.isnan(dbov):
            return
        speaker = self._speakers.get(participant)
        if speaker is None:
            speaker = self._speakers[participant] = _Speaker()
        speaker.add(max(-127.0, min(0.0, dbov)), t, self.parameters)

    def participants(self) -> list[str]:
        return list(self._speakers)

    def remove(self, participant: str) -> bool:
        """``participant`` left; returns True if it was the dominant speaker (now ``None``)."""
        self._speakers.pop(participant, None)
        if self.dominant == participant:
            self.dominant = None
            return True
        return False

    def scores(self, participant: str, now: float) -> SpeakerScores:
        speaker = self._speakers.get(participant)
        return speaker.scores(now, self.parameters) if speaker else SpeakerScores(0.0, 0.0, 0.0)

    def decide(self, now: float) -> bool:
        """Re-evaluate at ``now``; True when ``dominant`` changed."""
        p = self.parameters
        scores = {sid: s.scores(now, p) for sid, s in self._speakers.items() if s.spoke}
        if not scores:
            return False
        current = scores.get(self.dominant) if self.dominant is not None else None
        challengers = [(sid, sc) for sid, sc in scores.items() if sid != self.dominant]
        if not challengers:
            return False
        sid, best = max(challengers, key=lambda item: (item[1].medium, item[1].long, item[1].immediate))
        if best.immediate < p.immediate_min or best.medium < p.medium_min:
            return False
        if current is not None:
            if best.medium < current.medium + p.medium_margin:
                self._pending = None
                return False
            if best.long < current.long and current.immediate >= p.immediate_min:
                self._pending = None
                return False
            if self._pending != sid:  # a dominant speaker is replaced on two decisions in a row
                self._pending = sid
                return False
        self._pending = None
        self.dominant = sid
        return True
