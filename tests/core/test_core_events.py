"""The EventEmitter base: deprecated names, listener errors, coroutine listeners, JSON."""

from __future__ import annotations

import asyncio
import warnings
from typing import ClassVar

import pytest
from pyee import PyeeError

from core.events import EventEmitter, observe_emits, set_listener_error_handler
from core.participant import Participant
from core.room import Room
from core.track import RemoteAudioTrack, RemoteVideoTrack
from harness import EventLog, RoomHarness, remote_participant


class Deprecating(EventEmitter):
    _deprecated_events: ClassVar[dict[str, str]] = {"old": "use 'new'"}


@pytest.mark.parametrize("how", ["on", "once", "add_listener", "decorator", "listens_to"])
def test_listening_to_a_deprecated_event_warns_at_the_caller(how):
    ee = Deprecating()
    with pytest.warns(DeprecationWarning, match="'old' is deprecated: use 'new'") as record:
        if how == "decorator":
            ee.on("old")(lambda: None)
        elif how == "listens_to":
            ee.listens_to("old")(lambda: None)
        else:
            getattr(ee, how)("old", lambda: None)
    assert record[0].filename == __file__


def test_emitting_a_deprecated_event_does_not_warn():
    ee = Deprecating()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ee.on("old", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ee.emit("old") is True
        ee.on("new", lambda: None)


def test_deprecated_names_per_class():
    assert set(Participant._deprecated_events) == {"trackAdded", "trackRemoved"}
    assert set(Room._deprecated_events) == {"trackAdded", "trackRemoved"}
    assert set(RemoteAudioTrack._deprecated_events) == {"unsubscribed"}
    assert set(RemoteVideoTrack._deprecated_events) == {"unsubscribed"}


async def test_track_added_and_removed_fire_beside_subscribed_and_unsubscribed():
    bob = remote_participant("bob", [("audio", "mic")])
    h = await RoomHarness.connect(participants=[bob])
    participant = h.participant("bob")
    with pytest.warns(DeprecationWarning):
        participant.on("trackAdded", lambda track: None)
    with pytest.warns(DeprecationWarning):
        h.room.on("trackRemoved", lambda track, p: None)
    log = EventLog()
    sid = bob.tracks[0].sid
    h.subscribe_with_media(sid)
    h.unsubscribe(sid)
    track = log.args(participant, "trackSubscribed")[0][0]
    assert log.names(of=lambda e: e.event.startswith("track")) == [
        "RemoteParticipant.trackSubscribed", "Room.trackSubscribed",
        "RemoteParticipant.trackAdded", "Room.trackAdded",
        "RemoteParticipant.trackUnsubscribed", "Room.trackUnsubscribed",
        "RemoteParticipant.trackRemoved", "Room.trackRemoved",
    ]
    assert log.args(h.room, "trackAdded") == [(track, participant)]
    assert log.args(participant, "trackRemoved") == [(track,)]


def test_listener_exception_is_isolated_and_reported(listener_errors):
    ee = EventEmitter()
    calls = []

    def bad(x):
        raise RuntimeError("boom")

    ee.on("thing", bad)
    ee.on("thing", calls.append)
    assert ee.emit("thing", 1) is True
    assert calls == [1]  # later listeners still run
    assert [(e, ev, type(x)) for e, ev, x in listener_errors] == [(ee, "thing", RuntimeError)]
    listener_errors.clear()


async def test_default_handler_goes_to_the_loop_exception_handler():
    seen = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    previous = set_listener_error_handler(None)  # the default
    try:
        ee = EventEmitter()
        ee.on("x", lambda: 1 / 0)
        ee.emit("x")
    finally:
        set_listener_error_handler(previous)
        loop.set_exception_handler(None)
    assert isinstance(seen[0]["exception"], ZeroDivisionError)
    assert "EventEmitter 'x' listener" in seen[0]["message"]


def test_default_handler_without_a_loop_logs(caplog):
    previous = set_listener_error_handler(None)
    try:
        ee = EventEmitter()
        ee.on("x", lambda: 1 / 0)
        ee.emit("x")
    finally:
        set_listener_error_handler(previous)
    assert "Exception in a EventEmitter 'x' listener" in caplog.text
    assert "ZeroDivisionError" in caplog.text


async def test_coroutine_listeners_run_and_their_errors_are_reported(listener_errors):
    ee = EventEmitter()
    done = asyncio.Event()

    async def good(value):
        done.set()

    async def bad(value):
        raise ValueError(value)

    ee.on("x", good)
    ee.on("x", bad)
    ee.emit("x", 7)
    await asyncio.wait_for(done.wait(), 1)
    await asyncio.sleep(0)
    assert [type(x) for _, _, x in listener_errors] == [ValueError]
    listener_errors.clear()


def test_error_event_keeps_pyee_semantics():
    ee = EventEmitter()
    with pytest.raises(ValueError):
        ee.emit("error", ValueError("unhandled"))
    with pytest.raises(PyeeError):
        ee.emit("error", "text")
    got = []
    ee.on("error", got.append)
    ee.emit("error", ValueError("handled"))
    assert len(got) == 1


def test_once_and_remove_listener():
    ee = EventEmitter()
    calls = []
    ee.once("x", calls.append)
    ee.emit("x", 1)
    ee.emit("x", 2)
    ee.on("y", calls.append)
    ee.remove_listener("y", calls.append)
    ee.emit("y", 3)
    assert calls == [1]


def test_observe_emits():
    ee = EventEmitter()
    seen = []
    undo = observe_emits(lambda emitter, event, args: seen.append((event, args)))
    ee.emit("a", 1)
    undo()
    ee.emit("b")
    assert seen == [("a", (1,))]
