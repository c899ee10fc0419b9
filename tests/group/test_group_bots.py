"""Three ``confab-bot`` processes in a group room on a ``confab-server`` process that must not transcode.

The server runs with ``CONFAB_CODEC_AUDIT=1``: every aiortc encoder/decoder construction and
encode/decode call in its process is counted and served at ``GET /dev/media``. Each bot must
receive every other bot's video (its stamped frame counter: the publisher's own frames) and
audio, while the server's counts stay at zero for video and audio alike.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from botprocs import FPS, HEIGHT, WIDTH, events, run_bot, server_process

pytestmark = pytest.mark.media

BOTS = ("bot-a", "bot-b", "bot-c")


@pytest.fixture
def audited_server(tmp_path: Path) -> Iterator[str]:
    with server_process(tmp_path / "data", "--default-room-type", "group", env={"CONFAB_CODEC_AUDIT": "1"}) as url:
        yield url


def media_state(url: str) -> dict:
    with urllib.request.urlopen(url + "/dev/media", timeout=5) as resp:
        return json.loads(resp.read())


def test_three_bots_through_a_forwarder_that_never_transcodes(audited_server: str) -> None:
    url = audited_server
    # Generous durations: on a loaded 2-core CI box three bot processes take seconds to start.
    procs = {name: run_bot(url, "bots", name, 14 - i * 0.5) for i, name in enumerate(BOTS)}
    time.sleep(10.0)
    during = media_state(url)
    logs = {name: events(proc) for name, proc in procs.items()}
    after = media_state(url)

    for me in BOTS:
        log = logs[me]
        assert log[0]["event"] == "connected", log[0]
        for other in BOTS:
            if other == me:
                continue
            kinds = {e["kind"] for e in log if e["event"] == "trackSubscribed" and e["participant"] == other}
            assert kinds == {"audio", "video", "data"}, (me, other, kinds)
            video = [e for e in log if e["event"] == "videoStats" and e["participant"] == other]
            steady = [e for e in video[2:] if e["frames"] > 0]
            assert len(steady) >= 3, (me, other, video)
            assert {(e["width"], e["height"]) for e in steady} == {(WIDTH, HEIGHT)}
            assert statistics.median(e["fps"] for e in steady) >= 0.8 * FPS, (me, other, steady)
            counters = [e["counter"] for e in steady if e["counter"] is not None]
            assert counters == sorted(counters) and counters[-1] > counters[0]  # the publisher's own frames
            audio = [e["level"] for e in log if e["event"] == "audioStats" and e["participant"] == other
                     and e["level"] is not None]  # None until the first frame is measured
            assert audio and max(audio) > 1000, (me, other, audio)
        assert log[-1]["event"] == "left" and log[-1]["reason"] == "done"

    # The server forwarded every track to both other bots ...
    (room,) = during["rooms"].values()
    assert room["backend"] == "Forwarder" and len(room["peers"]) == 3
    for peer in room["peers"].values():
        assert {i["kind"] for i in peer["inbound"].values()} == {"audio", "video"}
        assert all(i["subscribers"] == 2 and i["frames"] > 0 for i in peer["inbound"].values()), peer
        assert len(peer["outbound"]) == 4 and all(o["packets"] > 0 for o in peer["outbound"].values())
    # ... and never opened, let alone ran, an encoder or a decoder.
    for state in (during, after):
        codecs = state["codecs"]
        assert codecs["installed"] is True
        assert codecs["video_codec_calls"] == 0 and codecs["audio_codec_calls"] == 0, codecs
