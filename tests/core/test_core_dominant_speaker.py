"""The dominant-speaker detector when levels arrive late and sparse, as on a busy client."""

from __future__ import annotations

import random

from core.dominant_speaker import DominantSpeakerDetector
from core.media.levels import samples_level
from core.media.sources import SyntheticAudioSource


def _five_speakers(arrival_share: float, seconds: float, bursts: int = 1) -> list[tuple[float, str | None]]:
    """Five synthetic speakers all talking; each level reaches the detector with probability
    ``arrival_share``, ``bursts`` at a time (a starved loop catching up)."""
    detector = DominantSpeakerDetector()
    rng = random.Random(7)
    sources = [SyntheticAudioSource("speech", frequency=140 + 30 * i, label=f"p{i}") for i in range(5)]
    pending: list[tuple[str, float]] = []
    changes = []
    for n in range(int(seconds / 0.02)):
        t = n * 0.02
        for i, source in enumerate(sources):
            if rng.random() < arrival_share:
                pending.append((f"p{i}", samples_level(source.render(n * 960).reshape(-1)).dbov))
        if n % bursts == 0:
            for who, dbov in pending:
                detector.add(who, dbov, t)
            pending.clear()
        if n % 10 == 0 and detector.decide(t):
            changes.append((round(t, 2), detector.dominant))
    return changes


def test_five_people_talking_at_once_get_a_highlight_even_when_most_levels_are_missing() -> None:
    for share, bursts in ((1.0, 1), (0.36, 1), (0.36, 3), (0.2, 5)):
        changes = _five_speakers(share, 8.0, bursts)
        assert changes and changes[0][0] <= 1.2, (share, bursts, changes)
        assert len(changes) <= 4, (share, bursts, changes)  # no flicker between equals


def test_a_speaker_whose_levels_stop_loses_the_highlight() -> None:
    detector = DominantSpeakerDetector()
    t = 0.0
    while t < 3.0:  # a talks (a third of its levels arrive), b is silent
        detector.add("a", -15.0, t)
        detector.add("b", -127.0, t)
        t += 0.06
        detector.decide(t)
    assert detector.dominant == "a"
    while t < 4.5:  # a's track is muted (no levels at all); b talks
        detector.add("b", -15.0, t)
        t += 0.02
        detector.decide(t)
    assert detector.dominant == "b" and detector.scores("a", t).immediate == 0.0
