"""core.errors against api-reference §3 (codes and twilio-video.js messages)."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable

import pytest

import core.errors as errors
from core.errors import ERRORS_BY_CODE, TwilioError, error_from_code

# (code, class name, default message): every row of the §3 table. The messages are
# twilio-video.js's (lib/util/twilio-video-errors.js).
TABLE: list[tuple[int, str, str]] = [
    (20101, "AccessTokenInvalidError", 'Invalid Access Token'),
    (20102, "AccessTokenHeaderInvalidError", 'Invalid Access Token header'),
    (20103, "AccessTokenIssuerInvalidError", 'Invalid Access Token issuer/subject'),
    (20104, "AccessTokenExpiredError", 'Access Token expired or expiration date invalid'),
    (20105, "AccessTokenNotYetValidError", 'Access Token not yet valid'),
    (20106, "AccessTokenGrantsInvalidError", 'Invalid Access Token grants'),
    (20107, "AccessTokenSignatureInvalidError", 'Invalid Access Token signature'),
    (53000, "SignalingConnectionError", 'Signaling connection error'),
    (53001, "SignalingConnectionDisconnectedError", 'Signaling connection disconnected'),
    (53002, "SignalingConnectionTimeoutError", 'Signaling connection timed out'),
    (53003, "SignalingIncomingMessageInvalidError",
     'Client received an invalid signaling message'),
    (53004, "SignalingOutgoingMessageInvalidError",
     'Client sent an invalid signaling message'),
    (53006, "SignalingServerBusyError", 'Video server is busy'),
    (53100, "RoomNameInvalidError", 'Room name is invalid'),
    (53101, "RoomNameTooLongError", 'Room name is too long'),
    (53102, "RoomNameCharsInvalidError", 'Room name contains invalid characters'),
    (53103, "RoomCreateFailedError", 'Unable to create Room'),
    (53104, "RoomConnectFailedError", 'Unable to connect to Room'),
    (53105, "RoomMaxParticipantsExceededError", 'Room contains too many Participants'),
    (53106, "RoomNotFoundError", 'Room not found'),
    (53107, "RoomMaxParticipantsOutOfRangeError", 'MaxParticipants is out of range'),
    (53108, "RoomTypeInvalidError", 'RoomType is not valid'),
    (53109, "RoomTimeoutOutOfRangeError", 'Timeout is out of range'),
    (53110, "RoomStatusCallbackMethodInvalidError", 'StatusCallbackMethod is invalid'),
    (53111, "RoomStatusCallbackInvalidError", 'StatusCallback is invalid'),
    (53112, "RoomStatusInvalidError", 'Status is invalid'),
    (53113, "RoomRoomExistsError", 'Room exists'),
    (53114, "RoomInvalidParametersError",
     'Room creation parameter(s) incompatible with the Room type'),
    (53115, "RoomMediaRegionInvalidError", 'MediaRegion is invalid'),
    (53116, "RoomMediaRegionUnavailableError",
     'There are no media servers available in the MediaRegion'),
    (53117, "RoomSubscriptionOperationNotSupportedError",
     'The subscription operation requested is not supported for the Room type'),
    (53118, "RoomCompletedError", 'Room completed'),
    (53124, "RoomAudioOnlyFlagNotSupportedError",
     'The AudioOnly flag is not supported for the Room type'),
    (53125, "RoomTrackKindNotSupportedError",
     'The track kind is not supported by the Room'),
    (53200, "ParticipantIdentityInvalidError", 'Participant identity is invalid'),
    (53201, "ParticipantIdentityTooLongError", 'Participant identity is too long'),
    (53202, "ParticipantIdentityCharsInvalidError",
     'Participant identity contains invalid characters'),
    (53203, "ParticipantMaxTracksExceededError",
     "The maximum number of published tracks allowed in the Room at the same time"
     " has been reached"),
    (53204, "ParticipantNotFoundError", 'Participant not found'),
    (53205, "ParticipantDuplicateIdentityError",
     'Participant disconnected because of duplicate identity'),
    (53300, "TrackInvalidError", 'Track is invalid'),
    (53301, "TrackNameInvalidError", 'Track name is invalid'),
    (53302, "TrackNameTooLongError", 'Track name is too long'),
    (53303, "TrackNameCharsInvalidError", 'Track name contains invalid characters'),
    (53304, "TrackNameIsDuplicatedError", 'Track name is duplicated'),
    (53305, "TrackServerTrackCapacityReachedError",
     'The server has reached capacity and cannot fulfill this request'),
    (53400, "MediaClientLocalDescFailedError",
     'Client is unable to create or apply a local media description'),
    (53401, "MediaServerLocalDescFailedError",
     'Server is unable to create or apply a local media description'),
    (53402, "MediaClientRemoteDescFailedError",
     'Client is unable to apply a remote media description'),
    (53403, "MediaServerRemoteDescFailedError",
     'Server is unable to apply a remote media description'),
    (53404, "MediaNoSupportedCodecError", 'No supported codec'),
    (53405, "MediaConnectionError", 'Media connection failed or Media activity ceased'),
    (53407, "MediaDTLSTransportFailedError",
     'Media connection failed due to DTLS handshake failure'),
    (53500, "ConfigurationAcquireFailedError", 'Unable to acquire configuration'),
    (53501, "ConfigurationAcquireTurnFailedError", 'Unable to acquire TURN credentials'),
]

TOKEN_CODES = range(20101, 20108)


def test_table_is_complete_and_registry_matches_it() -> None:
    assert len(TABLE) == 55
    assert len({code for code, _, _ in TABLE}) == len(TABLE)
    assert set(ERRORS_BY_CODE) == {code for code, _, _ in TABLE}


@pytest.mark.parametrize(("code", "name", "message"), TABLE)
def test_class_exists_with_code_and_default_message(code: int, name: str, message: str) -> None:
    cls = getattr(errors, name)
    new: Callable[[], TwilioError] = cls  # the coded constructor, before issubclass narrows cls
    assert issubclass(cls, errors.Coded)
    assert issubclass(cls, TwilioError)
    assert cls is not TwilioError
    assert name in errors.__all__
    assert cls.code_of_class == code
    assert ERRORS_BY_CODE[code] is cls
    err = new()
    assert err.code == code
    assert isinstance(err.code, int)
    assert err.message == message
    assert str(err) == f"TwilioError {code}: {message}"
    assert err.name == "TwilioError"
    assert err.to_json() == {"code": code, "message": message}


@pytest.mark.parametrize(("code", "name", "message"), TABLE)
def test_error_from_code_returns_registered_subclass(code: int, name: str, message: str) -> None:
    err = error_from_code(code)
    assert type(err) is getattr(errors, name)
    assert err.code == code
    assert err.message == message
    custom = error_from_code(code, "details here")
    assert type(custom) is getattr(errors, name)
    assert custom.message == "details here"
    assert str(custom) == f"TwilioError {code}: details here"


@pytest.mark.parametrize(("code", "name", "message"), TABLE)
def test_every_error_raises_catches_and_pickles(code: int, name: str, message: str) -> None:
    cls = getattr(errors, name)
    new: Callable[..., TwilioError] = cls  # the coded constructor, before issubclass narrows cls
    assert issubclass(cls, errors.Coded)
    assert issubclass(cls, TwilioError)
    with pytest.raises(TwilioError) as info:
        raise new()
    assert type(info.value) is cls
    with pytest.raises(cls):
        raise error_from_code(code)
    for err in (new(), new("custom")):
        for clone in (pickle.loads(pickle.dumps(err)), copy.deepcopy(err)):
            assert type(clone) is cls
            assert (clone.code, clone.message) == (err.code, err.message)
            assert str(clone) == str(err)


def test_preflight_string_for_20101() -> None:
    # The exact string asserted by twilio-video.js's preflight test.
    assert str(errors.AccessTokenInvalidError()) == "TwilioError 20101: Invalid Access Token"


def test_custom_message_on_coded_subclass() -> None:
    err = errors.RoomNotFoundError("no room RM123")
    assert err.code == 53106
    assert err.message == "no room RM123"
    assert str(err) == "TwilioError 53106: no room RM123"
    assert err.to_json() == {"code": 53106, "message": "no room RM123"}
    assert errors.RoomNotFoundError(message="m").message == "m"


@pytest.mark.parametrize("code", [0, 1, 20100, 20108, 53005, 53119, 99999])
def test_error_from_code_unknown_code_is_plain_twilio_error(code: int) -> None:
    err = error_from_code(code, "boom")
    assert type(err) is TwilioError
    assert err.code == code
    assert err.message == "boom"
    assert str(err) == f"TwilioError {code}: boom"
    plain = error_from_code(code)
    assert type(plain) is TwilioError
    assert plain.message == "Unknown error"


def test_error_from_code_accepts_numeric_strings_as_from_json() -> None:
    err = error_from_code("53118")  # type: ignore[arg-type]  # a wrong type on purpose: the run-time check is under test
    assert type(err) is errors.RoomCompletedError
    assert err.code == 53118


def test_plain_twilio_error_behaviour() -> None:
    err = TwilioError(12345, "something")
    assert isinstance(err, Exception)
    assert err.name == "TwilioError"
    assert (err.code, err.message) == (12345, "something")
    assert str(err) == "TwilioError 12345: something"
    assert repr(err) == "TwilioError(12345, 'something')"
    assert err.to_json() == {"code": 12345, "message": "something"}
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is TwilioError
    assert (clone.code, clone.message) == (12345, "something")
    assert TwilioError(7).message == "Unknown error"
    assert TwilioError("42").code == 42  # type: ignore[arg-type]  # a wrong type on purpose: the run-time check is under test


def test_repr_names_the_subclass() -> None:
    assert repr(errors.AccessTokenExpiredError()) == (
        "AccessTokenExpiredError(20104, 'Access Token expired or expiration date invalid')")


def test_subclasses_are_distinct_types_caught_by_base_only() -> None:
    with pytest.raises(TwilioError):
        raise errors.MediaConnectionError()
    with pytest.raises(errors.MediaConnectionError):
        raise errors.MediaConnectionError()
    try:
        raise errors.AccessTokenExpiredError()
    except errors.AccessTokenInvalidError:  # a sibling, not a parent
        pytest.fail("AccessTokenExpiredError must not be an AccessTokenInvalidError")
    except TwilioError as err:
        assert err.code == 20104


def test_token_codes_are_the_seven_access_token_classes() -> None:
    for code in TOKEN_CODES:
        assert type(error_from_code(code)).__name__.startswith("AccessToken")
