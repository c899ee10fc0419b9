"""The event-emitter base of every public object (and of the signaling layer).

``EventEmitter`` is a :class:`pyee.EventEmitter` with three changes:

* **Listener errors are isolated, never swallowed.** An exception raised by a listener does
  not propagate into ``emit()`` (that would leave the signaling state machine half-way through
  an update and skip the other listeners). Instead it goes to the *listener error handler*:
  by default the running asyncio loop's exception handler (which logs it at ERROR level with its
  traceback), or the ``confab.events`` logger when no loop runs. Tests and apps can install
  their own with :func:`set_listener_error_handler` (e.g. to re-raise or fail a test).
  Coroutine listeners are scheduled as tasks; their exceptions take the same route.
* **Deprecated event names** listed in a class's ``_deprecated_events`` (``trackAdded`` /
  ``trackRemoved`` on participants and rooms, ``unsubscribed`` on remote tracks) still fire, but
  adding a listener for them (``on``, ``once``, ``add_listener``, decorator form) issues a
  :class:`DeprecationWarning` pointing at the caller.
* ``'error'`` is not an SDK event; pyee's special case (emitting ``'error'`` with no listener
  raises) is kept unchanged for anyone who emits it themselves.

:func:`observe_emits` registers a process-wide observer called for every emit (tracing, test
recorders, the UI bridge's debugging).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import sys
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, ClassVar

import pyee

from .pins import require

require("pyee", "core.events (overrides pyee's _add_event_handler and _call_handlers)")

__all__ = [
    "EventEmitter",
    "ListenerErrorHandler",
    "set_listener_error_handler",
    "observe_emits",
    "to_json_value",
]

log = logging.getLogger("confab.events")

#: ``handler(emitter, event, exception)``.
ListenerErrorHandler = Callable[["EventEmitter", str, BaseException], None]


def _default_listener_error_handler(emitter: EventEmitter, event: str, exc: BaseException) -> None:
    message = f"Exception in a {type(emitter).__name__} {event!r} listener"
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        log.error(message, exc_info=(type(exc), exc, exc.__traceback__))
        return
    loop.call_exception_handler({"message": message, "exception": exc, "emitter": emitter, "event": event})


_listener_error_handler: ListenerErrorHandler = _default_listener_error_handler
_emit_observers: list[Callable[[EventEmitter, str, tuple[Any, ...]], None]] = []


def set_listener_error_handler(handler: ListenerErrorHandler | None) -> ListenerErrorHandler:
    """Install ``handler`` for exceptions raised by listeners (None restores the default).

    Returns the previous handler.
    """
    global _listener_error_handler
    previous = _listener_error_handler
    _listener_error_handler = handler or _default_listener_error_handler
    return previous


def observe_emits(observer: Callable[[EventEmitter, str, tuple[Any, ...]], None]) -> Callable[[], None]:
    """Call ``observer(emitter, event, args)`` before the listeners of every emit; returns an undo."""
    _emit_observers.append(observer)

    def remove() -> None:
        if observer in _emit_observers:
            _emit_observers.remove(observer)

    return remove


_OWN_FILES = {os.path.normcase(os.path.abspath(__file__)), os.path.normcase(os.path.abspath(pyee.base.__file__))}


def _caller_stacklevel() -> int:
    """``warnings.warn`` stacklevel of the first frame outside this module and pyee."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.normcase(os.path.abspath(frame.f_code.co_filename)) in _OWN_FILES:
        frame = frame.f_back
        level += 1
    return level


class EventEmitter(pyee.EventEmitter):
    """pyee emitter with isolated listener errors and deprecated-event warnings."""

    #: event name -> hint shown in the DeprecationWarning when someone listens to it.
    _deprecated_events: ClassVar[Mapping[str, str]] = {}

    def _add_event_handler(self, event: str, k: Callable[..., Any], v: Callable[..., Any]) -> None:
        hint = self._deprecated_events.get(event)
        if hint is not None:
            warnings.warn(
                f"{type(self).__name__} event {event!r} is deprecated: {hint}",
                DeprecationWarning,
                stacklevel=_caller_stacklevel(),
            )
        super()._add_event_handler(event, k, v)

    def _call_handlers(self, event: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        for observer in list(_emit_observers):
            observer(self, event, args)
        with self._lock:
            funcs = list(self._events.get(event, OrderedDict()).values())
        for f in funcs:
            try:
                result = f(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - routed to the handler, see module doc
                _listener_error_handler(self, event, exc)
                continue
            if inspect.isawaitable(result):
                self._schedule(event, result)
        return bool(funcs)

    def _schedule(self, event: str, awaitable: Any) -> None:
        future = asyncio.ensure_future(awaitable)

        def done(fut: asyncio.Future[Any]) -> None:
            if not fut.cancelled() and fut.exception() is not None:
                _listener_error_handler(self, event, fut.exception())  # type: ignore[arg-type]  # pyee's handler takes Exception; a listener's BaseException is passed on as is

        future.add_done_callback(done)

    # -- JSON ------------------------------------------------------------------------------

    #: public properties left out of ``to_json`` (not JSON-able, e.g. aiortc objects).
    _json_exclude: ClassVar[frozenset[str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """The public properties (and only those) as JSON-able values."""
        out: dict[str, Any] = {}
        for name in sorted(_public_properties(type(self))):
            if name not in self._json_exclude:
                out[name] = to_json_value(getattr(self, name))
        return out


def _public_properties(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if not name.startswith("_") and isinstance(value, property):
                names.add(name)
    return names


def to_json_value(value: Any) -> Any:
    """JSON-able form of a property value (objects with ``to_json``, enums, containers)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return int(value) if isinstance(value, int) else value
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return repr(value)
