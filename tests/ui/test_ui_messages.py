"""Human messages (ui.messages) and display names apart from identities (ui.identity)."""

from __future__ import annotations

import pytest

from core.errors import TwilioError
from core.identity import display_name, unique_identity
from ui.messages import _BY_CODE, describe

pytestmark = pytest.mark.ui

SERVER = "http://10.1.2.3:7880"


@pytest.mark.parametrize(("code", "message", "expected"), [
    (53000, "Signaling connection error: Cannot connect to host 10.1.2.3:7880 ssl:default "
            "[Connect call failed ('10.1.2.3', 7880)]", "Nothing is answering at http://10.1.2.3:7880."),
    (53000, "Signaling connection error: Cannot connect to host 10.1.2.3:7880 ssl:default "
            "[[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)]", "does not use a secure connection"),
    (53000, "Signaling connection error: Cannot connect to host nowhere.invalid:7880 ssl:default "
            "[Name or service not known]", "There is no server called 10.1.2.3."),
    (53000, "Signaling connection error: ", "accepted the connection but never answered"),
    (20103, "Invalid Access Token issuer/subject", "not made by this server's key"),
    (20104, "Access Token expired or expiration date invalid", "has expired"),
    (53118, "Room completed", "The meeting has ended."),
    (None, "http://h:1 does not hand out tokens (HTTP 404); paste an access token or invite link",
     "does not let anyone join by name"),
])
def test_messages_are_words_not_internals(code: int | None, message: str, expected: str) -> None:
    shown = describe(code, message, server=SERVER)
    assert expected in shown.text
    for internal in ("ssl:default", "Connect call failed", "WRONG_VERSION", "issuer/subject", "Error "):
        assert internal not in shown.text
    if code:
        assert shown.detail.startswith(f"Error {code} · ")


def test_every_twilio_code_has_a_message_and_only_a_normal_end_is_neutral() -> None:
    from core import errors

    codes = {cls.code_of_class for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, TwilioError) and cls is not TwilioError
             and cls.code_of_class is not None}
    missing = {c for c in codes if c not in _BY_CODE}
    assert not missing, f"codes without a human message: {sorted(missing)}"
    assert {c for c, (_, kind) in _BY_CODE.items() if kind != "error"} == {53118}
    assert describe(0, "").text and describe(None, "").detail == ""


def test_unique_identity_keeps_the_name_for_display() -> None:
    ids = {unique_identity("Ada") for _ in range(50)}
    assert len(ids) > 45 and all(display_name(i) == "Ada" for i in ids)
    assert display_name("alice") == "alice"            # minted elsewhere: shown as is
    assert display_name("room#1") == "room#1"          # not the app's suffix
    assert display_name(unique_identity("  Grace   Hopper ")) == "Grace Hopper"
    assert display_name(unique_identity("")) == "Guest"
    assert len(unique_identity("x" * 500)) <= 128      # the server's identity limit
