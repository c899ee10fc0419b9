"""Two ``confab-bot`` processes in a peer-to-peer room on a real ``confab-server`` process."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from botprocs import FPS, HEIGHT, WIDTH, events, run_bot, server_process

pytestmark = pytest.mark.media


@pytest.fixture
def server_url(tmp_path: Path):
    with server_process(tmp_path / "data", "--default-room-type", "peer-to-peer") as url:
        yield url


def test_two_bots_receive_each_other_at_the_published_size_and_rate(server_url: str) -> None:
    # Generous durations: on a loaded 2-core CI box a bot process takes seconds to start.
    first = run_bot(server_url, "bots", "bot-a", 12)
    second = run_bot(server_url, "bots", "bot-b", 11)
    logs = {"bot-a": events(first), "bot-b": events(second)}
    for me, other in (("bot-a", "bot-b"), ("bot-b", "bot-a")):
        log = logs[me]
        assert log[0]["event"] == "connected", log[0]
        kinds = {e["kind"] for e in log if e["event"] == "trackSubscribed" and e["participant"] == other}
        assert kinds == {"audio", "video", "data"}, (me, kinds)
        video = [e for e in log if e["event"] == "videoStats" and e["participant"] == other]
        steady = [e for e in video[2:] if e["frames"] > 0]  # skip the first seconds of ramp-up
        assert len(steady) >= 3, (me, video)
        assert {(e["width"], e["height"]) for e in steady} == {(WIDTH, HEIGHT)}
        median_fps = statistics.median(e["fps"] for e in steady)
        assert median_fps >= 0.9 * FPS, (me, [e["fps"] for e in steady])
        counters = [e["counter"] for e in steady if e["counter"] is not None]
        assert counters == sorted(counters) and counters[-1] > counters[0]  # the publisher's own frames
        audio = [e["level"] for e in log if e["event"] == "audioStats" and e["participant"] == other]
        assert audio and max(audio) > 1000, (me, audio)
        assert log[-1]["event"] == "left" and log[-1]["reason"] == "done"
