"""The TwilioError family: every coded error of Twilio Video, by code.

``str(err)`` reads ``TwilioError 20101: Invalid Access Token``, as in twilio-video.js.
Each subclass fixes its code and default message; ``error_from_code`` maps a code
received from the server back to its class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, cast

ERRORS_BY_CODE: dict[int, type[TwilioError]] = {}


class TwilioError(Exception):
    """An error with Twilio's numeric code and message: ``TwilioError(code, message=None)``."""

    code_of_class: ClassVar[int | None] = None
    default_message: ClassVar[str] = "Unknown error"

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code: int = int(code)
        self.message: str = message if message is not None else self.default_message
        super().__init__(self.code, self.message)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.code_of_class is not None:
            if not issubclass(cls, Coded):
                raise TypeError(f"{cls.__name__} has a code_of_class: derive it from (Coded, TwilioError)")
            ERRORS_BY_CODE[cls.code_of_class] = cls

    @property
    def name(self) -> str:
        return "TwilioError"

    def __str__(self) -> str:
        return f"TwilioError {self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r})"

    def __reduce__(self) -> tuple[Callable[[int, str | None], TwilioError], tuple[int, str]]:
        return (error_from_code, (self.code, self.message))

    def to_json(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}


class Coded:
    """Mixin of every coded subclass, first among its bases: ``RoomNotFoundError(message=None)``.

    The code is the class's ``code_of_class``. Not itself a TwilioError, so the family's members
    are exactly the coded classes and TwilioError.
    """

    code_of_class: ClassVar[int]

    def __init__(self, message: str | None = None) -> None:
        assert isinstance(self, TwilioError), "Coded is mixed into TwilioError subclasses only"
        TwilioError.__init__(self, self.code_of_class, message)


def error_from_code(code: int, message: str | None = None) -> TwilioError:
    """The registered subclass for ``code`` (plain TwilioError for an unknown code)."""
    cls = ERRORS_BY_CODE.get(int(code))
    if cls is None:
        return TwilioError(int(code), message)
    # Registered classes are (Coded, TwilioError) ones (checked in __init_subclass__): the
    # constructor takes the message alone.
    make = cast("Callable[[str | None], TwilioError]", cls)
    return make(message)


class AccessTokenInvalidError(Coded, TwilioError):
    code_of_class, default_message = 20101, "Invalid Access Token"

class AccessTokenHeaderInvalidError(Coded, TwilioError):
    code_of_class, default_message = 20102, "Invalid Access Token header"

class AccessTokenIssuerInvalidError(Coded, TwilioError):
    code_of_class, default_message = 20103, "Invalid Access Token issuer/subject"

class AccessTokenExpiredError(Coded, TwilioError):
    code_of_class, default_message = 20104, "Access Token expired or expiration date invalid"

class AccessTokenNotYetValidError(Coded, TwilioError):
    code_of_class, default_message = 20105, "Access Token not yet valid"

class AccessTokenGrantsInvalidError(Coded, TwilioError):
    code_of_class, default_message = 20106, "Invalid Access Token grants"

class AccessTokenSignatureInvalidError(Coded, TwilioError):
    code_of_class, default_message = 20107, "Invalid Access Token signature"

class SignalingConnectionError(Coded, TwilioError):
    code_of_class, default_message = 53000, "Signaling connection error"

class SignalingConnectionDisconnectedError(Coded, TwilioError):
    code_of_class, default_message = 53001, "Signaling connection disconnected"

class SignalingConnectionTimeoutError(Coded, TwilioError):
    code_of_class, default_message = 53002, "Signaling connection timed out"

class SignalingIncomingMessageInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53003, "Client received an invalid signaling message"

class SignalingOutgoingMessageInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53004, "Client sent an invalid signaling message"

class SignalingServerBusyError(Coded, TwilioError):
    code_of_class, default_message = 53006, "Video server is busy"

class RoomNameInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53100, "Room name is invalid"

class RoomNameTooLongError(Coded, TwilioError):
    code_of_class, default_message = 53101, "Room name is too long"

class RoomNameCharsInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53102, "Room name contains invalid characters"

class RoomCreateFailedError(Coded, TwilioError):
    code_of_class, default_message = 53103, "Unable to create Room"

class RoomConnectFailedError(Coded, TwilioError):
    code_of_class, default_message = 53104, "Unable to connect to Room"

class RoomMaxParticipantsExceededError(Coded, TwilioError):
    code_of_class, default_message = 53105, "Room contains too many Participants"

class RoomNotFoundError(Coded, TwilioError):
    code_of_class, default_message = 53106, "Room not found"

class RoomMaxParticipantsOutOfRangeError(Coded, TwilioError):
    code_of_class, default_message = 53107, "MaxParticipants is out of range"

class RoomTypeInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53108, "RoomType is not valid"

class RoomTimeoutOutOfRangeError(Coded, TwilioError):
    code_of_class, default_message = 53109, "Timeout is out of range"

class RoomStatusCallbackMethodInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53110, "StatusCallbackMethod is invalid"

class RoomStatusCallbackInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53111, "StatusCallback is invalid"

class RoomStatusInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53112, "Status is invalid"

class RoomRoomExistsError(Coded, TwilioError):
    code_of_class, default_message = 53113, "Room exists"

class RoomInvalidParametersError(Coded, TwilioError):
    code_of_class, default_message = 53114, "Room creation parameter(s) incompatible with the Room type"

class RoomMediaRegionInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53115, "MediaRegion is invalid"

class RoomMediaRegionUnavailableError(Coded, TwilioError):
    code_of_class, default_message = 53116, "There are no media servers available in the MediaRegion"

class RoomSubscriptionOperationNotSupportedError(Coded, TwilioError):
    code_of_class, default_message = 53117, "The subscription operation requested is not supported for the Room type"

class RoomCompletedError(Coded, TwilioError):
    code_of_class, default_message = 53118, "Room completed"

class RoomAudioOnlyFlagNotSupportedError(Coded, TwilioError):
    code_of_class, default_message = 53124, "The AudioOnly flag is not supported for the Room type"

class RoomTrackKindNotSupportedError(Coded, TwilioError):
    code_of_class, default_message = 53125, "The track kind is not supported by the Room"

class ParticipantIdentityInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53200, "Participant identity is invalid"

class ParticipantIdentityTooLongError(Coded, TwilioError):
    code_of_class, default_message = 53201, "Participant identity is too long"

class ParticipantIdentityCharsInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53202, "Participant identity contains invalid characters"

class ParticipantMaxTracksExceededError(Coded, TwilioError):
    code_of_class, default_message = 53203, ("The maximum number of published tracks allowed in the Room"
                                             " at the same time has been reached")

class ParticipantNotFoundError(Coded, TwilioError):
    code_of_class, default_message = 53204, "Participant not found"

class ParticipantDuplicateIdentityError(Coded, TwilioError):
    code_of_class, default_message = 53205, "Participant disconnected because of duplicate identity"

class TrackInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53300, "Track is invalid"

class TrackNameInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53301, "Track name is invalid"

class TrackNameTooLongError(Coded, TwilioError):
    code_of_class, default_message = 53302, "Track name is too long"

class TrackNameCharsInvalidError(Coded, TwilioError):
    code_of_class, default_message = 53303, "Track name contains invalid characters"

class TrackNameIsDuplicatedError(Coded, TwilioError):
    code_of_class, default_message = 53304, "Track name is duplicated"

class TrackServerTrackCapacityReachedError(Coded, TwilioError):
    code_of_class, default_message = 53305, "The server has reached capacity and cannot fulfill this request"

class MediaClientLocalDescFailedError(Coded, TwilioError):
    code_of_class, default_message = 53400, "Client is unable to create or apply a local media description"

class MediaServerLocalDescFailedError(Coded, TwilioError):
    code_of_class, default_message = 53401, "Server is unable to create or apply a local media description"

class MediaClientRemoteDescFailedError(Coded, TwilioError):
    code_of_class, default_message = 53402, "Client is unable to apply a remote media description"

class MediaServerRemoteDescFailedError(Coded, TwilioError):
    code_of_class, default_message = 53403, "Server is unable to apply a remote media description"

class MediaNoSupportedCodecError(Coded, TwilioError):
    code_of_class, default_message = 53404, "No supported codec"

class MediaConnectionError(Coded, TwilioError):
    code_of_class, default_message = 53405, "Media connection failed or Media activity ceased"

class MediaDTLSTransportFailedError(Coded, TwilioError):
    code_of_class, default_message = 53407, "Media connection failed due to DTLS handshake failure"

class ConfigurationAcquireFailedError(Coded, TwilioError):
    code_of_class, default_message = 53500, "Unable to acquire configuration"

class ConfigurationAcquireTurnFailedError(Coded, TwilioError):
    code_of_class, default_message = 53501, "Unable to acquire TURN credentials"

__all__ = ["TwilioError", "error_from_code", "ERRORS_BY_CODE",
           "AccessTokenInvalidError",
           "AccessTokenHeaderInvalidError",
           "AccessTokenIssuerInvalidError",
           "AccessTokenExpiredError",
           "AccessTokenNotYetValidError",
           "AccessTokenGrantsInvalidError",
           "AccessTokenSignatureInvalidError",
           "SignalingConnectionError",
           "SignalingConnectionDisconnectedError",
           "SignalingConnectionTimeoutError",
           "SignalingIncomingMessageInvalidError",
           "SignalingOutgoingMessageInvalidError",
           "SignalingServerBusyError",
           "RoomNameInvalidError",
           "RoomNameTooLongError",
           "RoomNameCharsInvalidError",
           "RoomCreateFailedError",
           "RoomConnectFailedError",
           "RoomMaxParticipantsExceededError",
           "RoomNotFoundError",
           "RoomMaxParticipantsOutOfRangeError",
           "RoomTypeInvalidError",
           "RoomTimeoutOutOfRangeError",
           "RoomStatusCallbackMethodInvalidError",
           "RoomStatusCallbackInvalidError",
           "RoomStatusInvalidError",
           "RoomRoomExistsError",
           "RoomInvalidParametersError",
           "RoomMediaRegionInvalidError",
           "RoomMediaRegionUnavailableError",
           "RoomSubscriptionOperationNotSupportedError",
           "RoomCompletedError",
           "RoomAudioOnlyFlagNotSupportedError",
           "RoomTrackKindNotSupportedError",
           "ParticipantIdentityInvalidError",
           "ParticipantIdentityTooLongError",
           "ParticipantIdentityCharsInvalidError",
           "ParticipantMaxTracksExceededError",
           "ParticipantNotFoundError",
           "ParticipantDuplicateIdentityError",
           "TrackInvalidError",
           "TrackNameInvalidError",
           "TrackNameTooLongError",
           "TrackNameCharsInvalidError",
           "TrackNameIsDuplicatedError",
           "TrackServerTrackCapacityReachedError",
           "MediaClientLocalDescFailedError",
           "MediaServerLocalDescFailedError",
           "MediaClientRemoteDescFailedError",
           "MediaServerRemoteDescFailedError",
           "MediaNoSupportedCodecError",
           "MediaConnectionError",
           "MediaDTLSTransportFailedError",
           "ConfigurationAcquireFailedError",
           "ConfigurationAcquireTurnFailedError",
           ]
