"""The TwilioError family: every coded error of Twilio Video, by code.

``str(err)`` reads ``TwilioError 20101: Invalid Access Token``, as in twilio-video.js.
Each subclass fixes its code and default message; ``error_from_code`` maps a code
received from the server back to its class.
"""

from __future__ import annotations

from typing import ClassVar

ERRORS_BY_CODE: dict[int, type["TwilioError"]] = {}


class TwilioError(Exception):
    """An error with Twilio"s numeric code and message."""

    code_of_class: ClassVar[int | None] = None
    default_message: ClassVar[str] = "Unknown error"

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code: int = int(code)
        self.message: str = message if message is not None else self.default_message
        super().__init__(self.code, self.message)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.code_of_class is not None:
            ERRORS_BY_CODE[cls.code_of_class] = cls
            cls.__init__ = _coded_init  # type: ignore[method-assign]

    @property
    def name(self) -> str:
        return "TwilioError"

    def __str__(self) -> str:
        return f"TwilioError {self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r})"

    def __reduce__(self):  # type: ignore[override]
        return (error_from_code, (self.code, self.message))

    def to_json(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}


def _coded_init(self: TwilioError, message: str | None = None) -> None:
    """``__init__`` of every coded subclass: ``RoomNotFoundError(message=None)``."""
    assert self.code_of_class is not None
    TwilioError.__init__(self, self.code_of_class, message)


def error_from_code(code: int, message: str | None = None) -> TwilioError:
    """The registered subclass for ``code`` (plain TwilioError for an unknown code)."""
    cls = ERRORS_BY_CODE.get(int(code))
    return cls(message) if cls is not None else TwilioError(int(code), message)  # type: ignore[call-arg]


class AccessTokenInvalidError(TwilioError):
    code_of_class, default_message = 20101, "Invalid Access Token"

class AccessTokenHeaderInvalidError(TwilioError):
    code_of_class, default_message = 20102, "Invalid Access Token header"

class AccessTokenIssuerInvalidError(TwilioError):
    code_of_class, default_message = 20103, "Invalid Access Token issuer/subject"

class AccessTokenExpiredError(TwilioError):
    code_of_class, default_message = 20104, "Access Token expired or expiration date invalid"

class AccessTokenNotYetValidError(TwilioError):
    code_of_class, default_message = 20105, "Access Token not yet valid"

class AccessTokenGrantsInvalidError(TwilioError):
    code_of_class, default_message = 20106, "Invalid Access Token grants"

class AccessTokenSignatureInvalidError(TwilioError):
    code_of_class, default_message = 20107, "Invalid Access Token signature"

class SignalingConnectionError(TwilioError):
    code_of_class, default_message = 53000, "Signaling connection error"

class SignalingConnectionDisconnectedError(TwilioError):
    code_of_class, default_message = 53001, "Signaling connection disconnected"

class SignalingConnectionTimeoutError(TwilioError):
    code_of_class, default_message = 53002, "Signaling connection timed out"

class SignalingIncomingMessageInvalidError(TwilioError):
    code_of_class, default_message = 53003, "Client received an invalid signaling message"

class SignalingOutgoingMessageInvalidError(TwilioError):
    code_of_class, default_message = 53004, "Client sent an invalid signaling message"

class SignalingServerBusyError(TwilioError):
    code_of_class, default_message = 53006, "Video server is busy"

class RoomNameInvalidError(TwilioError):
    code_of_class, default_message = 53100, "Room name is invalid"

class RoomNameTooLongError(TwilioError):
    code_of_class, default_message = 53101, "Room name is too long"

class RoomNameCharsInvalidError(TwilioError):
    code_of_class, default_message = 53102, "Room name contains invalid characters"

class RoomCreateFailedError(TwilioError):
    code_of_class, default_message = 53103, "Unable to create Room"

class RoomConnectFailedError(TwilioError):
    code_of_class, default_message = 53104, "Unable to connect to Room"

class RoomMaxParticipantsExceededError(TwilioError):
    code_of_class, default_message = 53105, "Room contains too many Participants"

class RoomNotFoundError(TwilioError):
    code_of_class, default_message = 53106, "Room not found"

class RoomMaxParticipantsOutOfRangeError(TwilioError):
    code_of_class, default_message = 53107, "MaxParticipants is out of range"

class RoomTypeInvalidError(TwilioError):
    code_of_class, default_message = 53108, "RoomType is not valid"

class RoomTimeoutOutOfRangeError(TwilioError):
    code_of_class, default_message = 53109, "Timeout is out of range"

class RoomStatusCallbackMethodInvalidError(TwilioError):
    code_of_class, default_message = 53110, "StatusCallbackMethod is invalid"

class RoomStatusCallbackInvalidError(TwilioError):
    code_of_class, default_message = 53111, "StatusCallback is invalid"

class RoomStatusInvalidError(TwilioError):
    code_of_class, default_message = 53112, "Status is invalid"

class RoomRoomExistsError(TwilioError):
    code_of_class, default_message = 53113, "Room exists"

class RoomInvalidParametersError(TwilioError):
    code_of_class, default_message = 53114, "Room creation parameter(s) incompatible with the Room type"

class RoomMediaRegionInvalidError(TwilioError):
    code_of_class, default_message = 53115, "MediaRegion is invalid"

class RoomMediaRegionUnavailableError(TwilioError):
    code_of_class, default_message = 53116, "There are no media servers available in the MediaRegion"

class RoomSubscriptionOperationNotSupportedError(TwilioError):
    code_of_class, default_message = 53117, "The subscription operation requested is not supported for the Room type"

class RoomCompletedError(TwilioError):
    code_of_class, default_message = 53118, "Room completed"

class RoomAudioOnlyFlagNotSupportedError(TwilioError):
    code_of_class, default_message = 53124, "The AudioOnly flag is not supported for the Room type"

class RoomTrackKindNotSupportedError(TwilioError):
    code_of_class, default_message = 53125, "The track kind is not supported by the Room"

class ParticipantIdentityInvalidError(TwilioError):
    code_of_class, default_message = 53200, "Participant identity is invalid"

class ParticipantIdentityTooLongError(TwilioError):
    code_of_class, default_message = 53201, "Participant identity is too long"

class ParticipantIdentityCharsInvalidError(TwilioError):
    code_of_class, default_message = 53202, "Participant identity contains invalid characters"

class ParticipantMaxTracksExceededError(TwilioError):
    code_of_class, default_message = 53203, "The maximum number of published tracks allowed in the Room at the same time has been reached"

class ParticipantNotFoundError(TwilioError):
    code_of_class, default_message = 53204, "Participant not found"

class ParticipantDuplicateIdentityError(TwilioError):
    code_of_class, default_message = 53205, "Participant disconnected because of duplicate identity"

class TrackInvalidError(TwilioError):
    code_of_class, default_message = 53300, "Track is invalid"

class TrackNameInvalidError(TwilioError):
    code_of_class, default_message = 53301, "Track name is invalid"

class TrackNameTooLongError(TwilioError):
    code_of_class, default_message = 53302, "Track name is too long"

class TrackNameCharsInvalidError(TwilioError):
    code_of_class, default_message = 53303, "Track name contains invalid characters"

class TrackNameIsDuplicatedError(TwilioError):
    code_of_class, default_message = 53304, "Track name is duplicated"

class TrackServerTrackCapacityReachedError(TwilioError):
    code_of_class, default_message = 53305, "The server has reached capacity and cannot fulfill this request"

class MediaClientLocalDescFailedError(TwilioError):
    code_of_class, default_message = 53400, "Client is unable to create or apply a local media description"

class MediaServerLocalDescFailedError(TwilioError):
    code_of_class, default_message = 53401, "Server is unable to create or apply a local media description"

class MediaClientRemoteDescFailedError(TwilioError):
    code_of_class, default_message = 53402, "Client is unable to apply a remote media description"

class MediaServerRemoteDescFailedError(TwilioError):
    code_of_class, default_message = 53403, "Server is unable to apply a remote media description"

class MediaNoSupportedCodecError(TwilioError):
    code_of_class, default_message = 53404, "No supported codec"

class MediaConnectionError(TwilioError):
    code_of_class, default_message = 53405, "Media connection failed or Media activity ceased"

class MediaDTLSTransportFailedError(TwilioError):
    code_of_class, default_message = 53407, "Media connection failed due to DTLS handshake failure"

class ConfigurationAcquireFailedError(TwilioError):
    code_of_class, default_message = 53500, "Unable to acquire configuration"

class ConfigurationAcquireTurnFailedError(TwilioError):
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
