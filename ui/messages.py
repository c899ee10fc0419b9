"""Human messages for every error the join screen and the room can show (no Qt).

:func:`describe` turns a Twilio code (or None) and the SDK's message into a :class:`Message`:
a sentence a person understands and can act on (``text``), and the small print (``detail``,
e.g. ``"Error 20107 · Invalid Access Token signature"``) kept for whoever has to debug it.
``kind`` tells the page how to look: ``"ended"`` (the meeting ended normally; neutral),
``"left"`` (you left), ``"error"`` (something went wrong).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Message", "describe", "small_print"]

Kind = Literal["error", "ended", "left"]

_TOKEN = ("This invite or access token was not made by this server's key. "
          "Ask for a new invite for this server.")
_TOKEN_FORMAT = "That is not a valid invite or access token. Copy the whole link and try again."

#: code → (text, kind); the text may use {server}.
_BY_CODE: dict[int, tuple[str, Kind]] = {
    20101: (_TOKEN_FORMAT, "error"),
    20102: (_TOKEN_FORMAT, "error"),
    20103: (_TOKEN, "error"),
    20104: ("This invite has expired. Ask for a new one.", "error"),
    20105: ("This invite is not valid yet. Check your computer's clock, or try again in a minute.", "error"),
    20106: ("This invite is for a different room, or does not allow joining rooms.", "error"),
    20107: (_TOKEN, "error"),
    53000: ("Could not connect to {server}. Check the address and your network.", "error"),
    53001: ("The connection to the meeting was lost.", "error"),
    53002: ("The server at {server} stopped answering.", "error"),
    53003: ("The server sent something this app does not understand. Is it a Confab server?", "error"),
    53004: ("This app sent something the server refused. Try updating Confab.", "error"),
    53006: ("The server is too busy right now. Try again in a moment.", "error"),
    53100: ("That room name is not allowed. Try another name.", "error"),
    53101: ("That room name is too long.", "error"),
    53102: ("That room name has characters that are not allowed.", "error"),
    53103: ("The server could not create this room.", "error"),
    53104: ("Could not join the room.", "error"),
    53105: ("This meeting is full.", "error"),
    53106: ("There is no meeting with that name on this server. Check the room name.", "error"),
    **{code: ("The server refused this room's settings.", "error") for code in range(53107, 53118)},
    53113: ("A meeting with that name is already running.", "error"),
    53115: ("The server does not know that media region.", "error"),
    53116: ("There are no media servers in that region right now.", "error"),
    53117: ("This room does not support choosing what to receive.", "error"),
    53118: ("The meeting has ended.", "ended"),
    53124: ("This room does not allow audio-only.", "error"),
    53125: ("This room does not allow that kind of track.", "error"),
    53200: ("That name cannot be used. Try another one.", "error"),
    53201: ("That name is too long.", "error"),
    53202: ("That name has characters that are not allowed.", "error"),
    53203: ("The room cannot take more cameras, microphones or screens.", "error"),
    53204: ("You are no longer in this meeting.", "error"),
    53205: ("You joined this meeting from another window or device, so this one was disconnected.",
            "error"),
    53300: ("A camera, microphone or screen could not be shared.", "error"),
    53301: ("A camera, microphone or screen could not be shared (its name was refused).", "error"),
    53302: ("A camera, microphone or screen could not be shared (its name is too long).", "error"),
    53303: ("A camera, microphone or screen could not be shared (its name was refused).", "error"),
    53304: ("That is already being shared. Wait a moment and try again.", "error"),
    53305: ("The server is at capacity. Try again later.", "error"),
    53400: ("Your camera or microphone could not be set up for the call.", "error"),
    53401: ("The server could not set up media for the call.", "error"),
    53402: ("The call's media could not be set up.", "error"),
    53403: ("The server could not set up media for the call.", "error"),
    53404: ("Your device and this room have no video or audio format in common.", "error"),
    53405: ("The audio and video connection was lost. A firewall may be blocking it.", "error"),
    53407: ("The secure media connection could not be set up.", "error"),
    53500: ("Could not get the call's network settings from the server.", "error"),
    53501: ("Could not get relay (TURN) settings from the server.", "error"),
}

#: Substrings of transport messages (aiohttp, ssl, OS) → what they mean to a person.
_TRANSPORT: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"WRONG_VERSION_NUMBER|record layer failure|packet length too long", re.I),
     "{server} does not use a secure connection: try http:// instead of https://."),
    (re.compile(r"CERTIFICATE_VERIFY_FAILED|certificate", re.I),
     "The secure connection to {server} could not be verified (its certificate is not trusted)."),
    (re.compile(r"Name or service not known|nodename nor servname|getaddrinfo|Temporary failure in name",
                re.I),
     "There is no server called {host}. Check the address."),
    (re.compile(r"Connect call failed|Connection refused|ECONNREFUSED", re.I),
     "Nothing is answering at {server}. Is the server running, and is the port right?"),
    (re.compile(r"Network is unreachable|No route to host", re.I),
     "{server} cannot be reached from this network."),
    (re.compile(r"does not hand out tokens", re.I),
     "This server does not let anyone join by name. Paste an invite link or access token."),
    (re.compile(r"^Cannot reach ", re.I),
     "Could not reach {server}. Check the address and that the server is running."),
    (re.compile(r"timed? ?out|TimeoutError", re.I),
     "{server} did not answer in time."),
)


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    detail: str
    kind: Kind = "error"


def small_print(code: int | None, message: str) -> str:
    """``"Error 20107 · Invalid Access Token signature"`` (or just the message, or "")."""
    message = message.strip()
    if code:
        return f"Error {code} · {message}" if message else f"Error {code}"
    return message


def describe(code: int | None, message: str, *, server: str | None = None) -> Message:
    """The human message for an error ``code`` (None or 0: no Twilio code) and its ``message``."""
    where = (server or "").strip() or "the server"
    host = re.sub(r"^[a-z]+://", "", where).split("/")[0].rsplit(":", 1)[0] or where
    detail = small_print(code, message)
    for pattern, text in _TRANSPORT:
        if code in (None, 0, 53000) and pattern.search(message):
            return Message(text.format(server=where, host=host), detail)
    if code == 53000 and not message.split(":", 1)[-1].strip():
        # The SDK gave up waiting for the server's first answer: it took the connection and said nothing.
        return Message(f"{where} accepted the connection but never answered. "
                       "Is this the address of a Confab server?", detail)
    if code:
        text, kind = _BY_CODE.get(code, ("Something went wrong in the call.", "error"))
        return Message(text.format(server=where, host=host), detail, kind)
    if message.strip():
        return Message(message.strip(), "")
    return Message("Something went wrong.", "")
