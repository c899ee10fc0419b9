"""The demo's synthetic people: no frame stamp, a mouth that moves with the voice."""

from __future__ import annotations

import av
import numpy as np

from core.media.sources import SyntheticAudioSource, SyntheticVideoSource
from core.media.stamp import read_stamp


def _luma(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray()[: frame.height].astype(np.int16)


def test_an_avatar_has_no_stamp_and_its_mouth_follows_its_voice() -> None:
    voice = SyntheticAudioSource("speech", label="Grace")
    person = SyntheticVideoSource(320, 240, 15, label="Grace", look="avatar", mouth=voice.envelope)
    pattern = person._pattern
    voice._sample = int(0.125 * voice.sample_rate)  # mid-syllable: the envelope is at its peak
    talking = pattern.render(0, 0, 0.5)
    voice.set_speaking(False)
    silent = pattern.render(1, 0, 0.5)
    assert read_stamp(talking) is None and read_stamp(silent) is None
    assert read_stamp(SyntheticVideoSource(320, 240, 15)._pattern.render(7, 1000, 0.0)) is not None
    diff = np.abs(_luma(talking) - _luma(silent)) > 20
    rows, cols = np.nonzero(diff)
    assert diff.sum() > 150  # an open mouth
    assert 0.45 * 240 < rows.mean() < 0.75 * 240 and abs(cols.mean() - 160) < 20  # where a mouth is
    other = SyntheticVideoSource(320, 240, 15, label="Alan", look="avatar")._pattern.render(0, 0, 0.5)
    assert np.abs(_luma(other) - _luma(silent)).mean() > 2  # each person looks different (and is named)
