"""core.token: minting and verifying Twilio-format Video access tokens (api-reference §5)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from twilio.jwt.access_token import AccessToken as TwilioAccessToken
from twilio.jwt.access_token.grants import VideoGrant

from core.errors import (
    AccessTokenExpiredError,
    AccessTokenGrantsInvalidError,
    AccessTokenHeaderInvalidError,
    AccessTokenInvalidError,
    AccessTokenIssuerInvalidError,
    AccessTokenNotYetValidError,
    AccessTokenSignatureInvalidError,
    TwilioError,
)
from core.token import (
    DEFAULT_TTL,
    MAX_TOKEN_LENGTH,
    MAX_TTL,
    TOKEN_HEADER,
    AccessToken,
    identity_of,
    room_of,
    verify_access_token,
)

ACCOUNT = "AC" + "0123456789abcdef" * 2
OTHER_ACCOUNT = "AC" + "f" * 32
KEY = "SK" + "a1b2c3d4" * 4
OTHER_KEY = "SK" + "9" * 32
SECRET = "s3cr3t-" + "x" * 25  # 32 characters, as Twilio secrets are
OTHER_SECRET = "another-" + "y" * 24
SECRETS = {KEY: SECRET, OTHER_KEY: OTHER_SECRET}
HEADER = {"typ": "JWT", "alg": "HS256", "cty": "twilio-fpa;v=1"}
NOW = 1_750_000_000
TOKEN_CODES = set(range(20101, 20108))


# ------------------------------------------------------------------------------ helpers


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def craft(payload: Any, *, header: Any = None, secret: str = SECRET,
          digest: Any = hashlib.sha256) -> str:
    """A hand-made token: any header/payload, HMAC-signed with ``secret``."""
    h = b64json(HEADER if header is None else header)
    p = b64json(payload)
    sig = hmac.new(secret.encode(), f"{h}.{p}".encode(), digest).digest()
    return f"{h}.{p}.{b64(sig)}"


def claims(**over: Any) -> dict[str, Any]:
    """Valid claims at NOW; keyword ``None`` removes a claim."""
    base: dict[str, Any] = {
        "jti": f"{KEY}-{NOW}", "iss": KEY, "sub": ACCOUNT, "iat": NOW, "exp": NOW + 3600,
        "grants": {"identity": "alice", "video": {"room": "r1"}},
    }
    for key, value in over.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def verify(token: Any, *, room: Any = None, now: float = NOW + 10, **kw: Any) -> dict[str, Any]:
    return verify_access_token(token, SECRETS, account_sid=ACCOUNT, room=room, now=now, **kw)


def code_of(token: Any, **kw: Any) -> int:
    with pytest.raises(TwilioError) as info:
        verify(token, **kw)
    return info.value.code


def mint(**kw: Any) -> str:
    args: dict[str, Any] = {"identity": "alice", "room": "r1"}
    args.update(kw)
    return AccessToken(ACCOUNT, KEY, SECRET, **args).to_jwt(now=NOW)


# ------------------------------------------------------------------------------ minting


def test_round_trip_returns_claims() -> None:
    token = mint(identity="alice", room="r1", ttl=600)
    got = verify(token, room="r1")
    assert got["grants"] == {"identity": "alice", "video": {"room": "r1"}}
    assert identity_of(got) == "alice"
    assert room_of(got) == "r1"
    assert got["iss"] == KEY
    assert got["sub"] == ACCOUNT
    assert got["iat"] == NOW
    assert got["exp"] == NOW + 600
    assert got["jti"] == f"{KEY}-{NOW}"
    assert "nbf" not in got


def test_header_is_exactly_twilios() -> None:
    token = mint()
    header_b64 = token.split(".")[0]
    assert json.loads(unb64(header_b64)) == {"typ": "JWT", "alg": "HS256",
                                             "cty": "twilio-fpa;v=1"}
    assert jwt.get_unverified_header(token) == HEADER
    assert TOKEN_HEADER == HEADER


def test_real_clock_jti_iat_exp_and_default_ttl() -> None:
    before = int(time.time())
    token = AccessToken(ACCOUNT, KEY, SECRET, identity="bob").to_jwt()
    after = int(time.time())
    got = verify_access_token(token, SECRETS, account_sid=ACCOUNT)
    assert before <= got["iat"] <= after
    assert DEFAULT_TTL == 3600
    assert got["exp"] == got["iat"] + 3600
    assert re.fullmatch(r"SK[0-9a-f]{32}-\d+", got["jti"])
    assert got["jti"] == f"{KEY}-{got['iat']}"
    assert got["grants"] == {"identity": "bob", "video": {}}  # no "room" key at all
    assert room_of(got) is None


def test_pyjwt_accepts_our_tokens() -> None:
    token = mint(ttl=120)
    decoded = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert decoded["exp"] - decoded["iat"] == 120
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, OTHER_SECRET, algorithms=["HS256"])


def test_nbf_is_included_when_given() -> None:
    got = verify(mint(nbf=NOW - 5))
    assert got["nbf"] == NOW - 5


@pytest.mark.parametrize("ttl", [1, 60, 3600, 14400, MAX_TTL])
def test_ttl_in_range_is_accepted(ttl: int) -> None:
    got = verify(mint(ttl=ttl), now=NOW)
    assert got["exp"] == NOW + ttl


@pytest.mark.parametrize("ttl", [0, -1, MAX_TTL + 1, 10**9, 3600.5, "3600", True, None])
def test_ttl_out_of_range_is_rejected_at_mint(ttl: Any) -> None:
    assert MAX_TTL == 86400
    with pytest.raises(ValueError):
        AccessToken(ACCOUNT, KEY, SECRET, identity="alice", ttl=ttl)


@pytest.mark.parametrize("field", ["account_sid", "api_key_sid", "api_key_secret", "identity"])
@pytest.mark.parametrize("bad", ["", None, 5])
def test_mint_rejects_empty_or_non_string_fields(field: str, bad: Any) -> None:
    args: dict[str, Any] = {"account_sid": ACCOUNT, "api_key_sid": KEY,
                            "api_key_secret": SECRET, "identity": "alice"}
    args[field] = bad
    with pytest.raises(ValueError):
        AccessToken(**args)


@pytest.mark.parametrize("room", ["", 7])
def test_mint_rejects_bad_room(room: Any) -> None:
    with pytest.raises(ValueError):
        AccessToken(ACCOUNT, KEY, SECRET, identity="alice", room=room)


def test_repr_does_not_leak_secret() -> None:
    token = AccessToken(ACCOUNT, KEY, SECRET, identity="alice", room="r1")
    assert SECRET not in repr(token)
    assert KEY in repr(token)


# ------------------------------------------------------------------------------ Twilio's helper


def twilio_token(*, ttl: int = 600, room: str | None = "r", identity: str | None = "alice",
                 key: str = KEY, secret: str = SECRET, account: str = ACCOUNT) -> str:
    t = TwilioAccessToken(account, key, secret, identity=identity, ttl=ttl)
    t.add_grant(VideoGrant(room=room) if room is not None else VideoGrant())
    return str(t.to_jwt())


def test_twilio_helper_token_verifies() -> None:
    token = twilio_token()
    got = verify_access_token(token, SECRETS, account_sid=ACCOUNT, room="r")
    assert identity_of(got) == "alice"
    assert room_of(got) == "r"
    # What the helper actually produces: same header as ours, nbf instead of iat.
    assert jwt.get_unverified_header(token) == jwt.get_unverified_header(mint())
    assert got["exp"] - got["nbf"] == 600
    assert got["jti"] == f"{KEY}-{got['nbf']}"
    assert (got["iss"], got["sub"]) == (KEY, ACCOUNT)
    ours = verify(mint())
    assert set(got) - {"nbf"} == set(ours) - {"iat"}
    assert set(got["grants"]) == set(ours["grants"]) == {"identity", "video"}


def test_twilio_helper_token_failures_map_to_codes() -> None:
    now = time.time()
    kw: dict[str, Any] = {"account_sid": ACCOUNT}
    cases = {
        twilio_token(room="other"): 20106,
        twilio_token(identity=None): 20106,
        twilio_token(ttl=MAX_TTL + 60): 20104,
        twilio_token(secret="wrong-" + "z" * 26): 20107,
        twilio_token(key="SK" + "1" * 32): 20103,
        twilio_token(account=OTHER_ACCOUNT): 20103,
    }
    for token, code in cases.items():
        with pytest.raises(TwilioError) as info:
            verify_access_token(token, SECRETS, room="r", now=now, **kw)
        assert info.value.code == code, token
    with pytest.raises(AccessTokenExpiredError):
        verify_access_token(twilio_token(ttl=60), SECRETS, now=now + 61, **kw)
    # A helper token with the maximum TTL is fine, and one without a room grant fits any room.
    assert verify_access_token(twilio_token(ttl=MAX_TTL), SECRETS, now=now, **kw)
    assert verify_access_token(twilio_token(room=None), SECRETS, room="any", now=now, **kw)


# ------------------------------------------------------------------------------ room rule


def test_room_grant_rules() -> None:
    with_room, without_room = mint(room="r1"), mint(room=None)
    assert room_of(verify(with_room, room="r1")) == "r1"
    assert room_of(verify(with_room, room=None)) == "r1"  # caller joins the granted room
    assert room_of(verify(with_room, room=("r1", "RM" + "0" * 32))) == "r1"  # name or SID
    assert room_of(verify(without_room, room="anything")) is None
    assert room_of(verify(without_room)) is None
    with pytest.raises(AccessTokenGrantsInvalidError):
        verify(with_room, room="r2")
    with pytest.raises(AccessTokenGrantsInvalidError):
        verify(with_room, room=["r2", "r3"])
    with pytest.raises(AccessTokenGrantsInvalidError):
        verify(with_room, room="R1")  # exact match


# ------------------------------------------------------------------------------ failure codes


def tamper_payload(token: str, **changes: Any) -> str:
    h, p, s = token.split(".")
    payload = json.loads(unb64(p))
    payload.update(changes)
    return f"{h}.{b64json(payload)}.{s}"


@pytest.mark.parametrize(("token", "code", "kw"), [
    # 20101: not a JWT at all
    (None, 20101, {}),
    (b"", 20101, {}),
    (12345, 20101, {}),
    (b"a.b.c", 20101, {}),
    (["a", "b", "c"], 20101, {}),
    ("", 20101, {}),
    ("garbage", 20101, {}),
    ("not a token at all!", 20101, {}),
    ("a.b", 20101, {}),
    ("a.b.c.d", 20101, {}),
    ("..", 20101, {}),
    ("a.b.c", 20101, {}),
    ("!!!.???.###", 20101, {}),
    (b64(b"not json") + "." + b64json({"iss": KEY}) + ".", 20101, {}),
    (b64json(HEADER) + "." + b64(b"\xff\xfe\x00 binary") + ".sig", 20101, {}),
    (b64json(HEADER) + "." + b64json([1, 2, 3]) + ".AAAA", 20101, {}),
    (b64json([HEADER]) + "." + b64json(claims()) + ".AAAA", 20101, {}),
    (b64json(HEADER) + "." + b64json("just a string") + ".AAAA", 20101, {}),
    (b64json(HEADER) + "." + b64json(None) + ".AAAA", 20101, {}),
    (b64json(HEADER) + "." + b64(b'{"exp": NaN}') + ".AAAA", 20101, {}),
    (b64json(HEADER) + "=." + b64json(claims()) + ".AAAA", 20101, {}),  # padding char
    (b64json(HEADER) + "." + b64json(claims()) + ".A", 20101, {}),  # impossible length
    (craft(claims()) + " ", 20101, {}),
    ("x" * (MAX_TOKEN_LENGTH + 1), 20101, {}),
    # 20102: header
    (craft(claims(), header={"typ": "JWT", "alg": "none", "cty": "twilio-fpa;v=1"}), 20102, {}),
    (craft(claims(), header={"typ": "JWT", "alg": "HS512", "cty": "twilio-fpa;v=1"},
           digest=hashlib.sha512), 20102, {}),
    (craft(claims(), header={"typ": "JWT", "alg": "HS256"}), 20102, {}),
    (craft(claims(), header={"typ": "JWT", "alg": "HS256", "cty": "twilio-fpa;v=2"}), 20102, {}),
    (craft(claims(), header={"alg": "HS256", "cty": "twilio-fpa;v=1"}), 20102, {}),
    (craft(claims(), header={"typ": "jwt", "alg": "HS256", "cty": "twilio-fpa;v=1"}), 20102, {}),
    (craft(claims(), header={}), 20102, {}),
    # 20103: issuer / subject
    (craft(claims(iss="SK" + "1" * 32)), 20103, {}),
    (craft(claims(iss=None)), 20103, {}),
    (craft(claims(iss=[KEY])), 20103, {}),  # unhashable: no TypeError may escape
    (craft(claims(sub=OTHER_ACCOUNT)), 20103, {}),
    (craft(claims(sub=None)), 20103, {}),
    (craft(claims(sub=0)), 20103, {}),
    # 20107: signature
    (craft(claims(), secret=OTHER_SECRET), 20107, {}),
    (craft(claims(iss=OTHER_KEY), secret=SECRET), 20107, {}),  # known key, other's secret
    (craft(claims()).rsplit(".", 1)[0] + ".", 20107, {}),  # empty signature
    # 20104: exp
    (craft(claims(exp=None)), 20104, {}),
    (craft(claims(exp="9999999999")), 20104, {}),
    (craft(claims(exp=True)), 20104, {}),
    (craft(claims(exp=[NOW + 60])), 20104, {}),
    (craft(claims(exp=NOW - 1)), 20104, {}),
    (craft(claims(iat=NOW, exp=NOW + MAX_TTL + 1)), 20104, {}),
    (craft(claims(iat=None, nbf=NOW, exp=NOW + MAX_TTL + 1)), 20104, {}),
    (craft(claims(iat=None, exp=NOW + 10 * MAX_TTL)), 20104, {}),
    (craft(claims(iat="yesterday")), 20104, {}),
    # 20105: nbf / iat in the future
    (craft(claims(nbf=NOW + 3600)), 20105, {}),
    (craft(claims(iat=None, nbf=NOW + 60)), 20105, {}),
    (craft(claims(nbf="later")), 20105, {}),
    (craft(claims(iat=NOW + 60, exp=NOW + 120)), 20105, {}),
    # 20106: grants
    (craft(claims(grants=None)), 20106, {}),
    (craft(claims(grants=["video"])), 20106, {}),
    (craft(claims(grants={"video": {}})), 20106, {}),
    (craft(claims(grants={"identity": "", "video": {}})), 20106, {}),
    (craft(claims(grants={"identity": 42, "video": {}})), 20106, {}),
    (craft(claims(grants={"identity": "alice"})), 20106, {}),
    (craft(claims(grants={"identity": "alice", "video": True})), 20106, {}),
    (craft(claims(grants={"identity": "alice", "video": {"room": 5}})), 20106, {}),
    (craft(claims(grants={"identity": "alice", "rtc": {}})), 20106, {}),
    (craft(claims()), 20106, {"room": "other-room"}),
])
def test_failure_codes(token: Any, code: int, kw: dict[str, Any]) -> None:
    assert code_of(token, **kw) == code


def test_tampered_payload_is_a_signature_error() -> None:
    token = mint(room="r1")
    for changes in ({"grants": {"identity": "mallory", "video": {}}},
                    {"exp": NOW + 86000}, {"iat": NOW - 1}):
        with pytest.raises(AccessTokenSignatureInvalidError):
            verify(tamper_payload(token, **changes))


def test_tampered_header_is_a_signature_error() -> None:
    _, p, s = mint().split(".")
    header = {"cty": "twilio-fpa;v=1", "typ": "JWT", "alg": "HS256", "kid": "x"}
    with pytest.raises(AccessTokenSignatureInvalidError):
        verify(f"{b64json(header)}.{p}.{s}")


def test_wrong_secret_and_unknown_key() -> None:
    token = AccessToken(ACCOUNT, KEY, "not-the-secret" + "q" * 18, identity="a").to_jwt(now=NOW)
    with pytest.raises(AccessTokenSignatureInvalidError):
        verify(token)
    token = AccessToken(ACCOUNT, "SK" + "2" * 32, SECRET, identity="a").to_jwt(now=NOW)
    with pytest.raises(AccessTokenIssuerInvalidError):
        verify(token)
    token = AccessToken(OTHER_ACCOUNT, KEY, SECRET, identity="a").to_jwt(now=NOW)
    with pytest.raises(AccessTokenIssuerInvalidError):
        verify(token)


def test_signature_is_checked_before_exp_nbf_and_grants() -> None:
    # Every other claim is broken, but the signature is what gets reported.
    bad = claims(exp=NOW - 100, nbf=NOW + 100, grants={})
    assert code_of(craft(bad, secret=OTHER_SECRET)) == 20107
    assert code_of(craft(bad)) == 20104
    assert code_of(craft(claims(nbf=NOW + 100, grants={}))) == 20105
    # ...and the header before the issuer, the issuer before the signature.
    assert code_of(craft(claims(iss="SKnope"), header={"alg": "none"})) == 20102
    assert code_of(craft(claims(iss="SKnope"), secret=OTHER_SECRET)) == 20103


def test_expiry_boundaries_with_now() -> None:
    token = mint(ttl=600)
    assert verify(token, now=NOW)["exp"] == NOW + 600
    assert verify(token, now=NOW + 599.999)
    with pytest.raises(AccessTokenExpiredError):
        verify(token, now=NOW + 600)  # no leeway on exp
    with pytest.raises(AccessTokenExpiredError):
        verify(token, now=NOW + 10_000)
    with pytest.raises(AccessTokenExpiredError):
        verify(token, now=NOW + 10_000, leeway=30)  # leeway never extends exp


def test_ttl_bound_is_exactly_24h() -> None:
    assert verify(craft(claims(exp=NOW + MAX_TTL)), now=NOW)
    assert code_of(craft(claims(exp=NOW + MAX_TTL + 1)), now=NOW) == 20104


def test_ttl_bound_without_iat_or_nbf_counts_from_now() -> None:
    token = craft(claims(iat=None, exp=NOW + 3600))
    assert verify(token, now=NOW)["exp"] == NOW + 3600
    assert verify(craft(claims(iat=None, exp=NOW + MAX_TTL)), now=NOW)
    assert code_of(craft(claims(iat=None, exp=NOW + MAX_TTL + 5)), now=NOW) == 20104
    assert verify(craft(claims(iat=None, exp=NOW + MAX_TTL + 5)), now=NOW, leeway=5)


def test_nbf_boundaries_and_leeway() -> None:
    token = mint(nbf=NOW + 30)
    with pytest.raises(AccessTokenNotYetValidError):
        verify(token, now=NOW)
    assert verify(token, now=NOW + 30)  # nbf == now is valid
    assert verify(token, now=NOW, leeway=30)
    with pytest.raises(AccessTokenNotYetValidError):
        verify(token, now=NOW, leeway=29)


def test_non_finite_and_huge_numbers_never_escape() -> None:
    for exp in ("1e400", "-1e400", "1" + "0" * 5000):
        raw = f'{{"iss":"{KEY}","sub":"{ACCOUNT}","iat":{NOW},"exp":{exp},' \
              '"grants":{"identity":"a","video":{}}}'
        h, p = b64json(HEADER), b64(raw.encode())
        sig = b64(hmac.new(SECRET.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
        assert code_of(f"{h}.{p}.{sig}") in (20101, 20104)


def test_deeply_nested_json_is_20101_or_grants() -> None:
    nested = "[" * 100_000 + "]" * 100_000
    token = b64json(HEADER) + "." + b64(nested.encode()) + ".AAAA"
    assert code_of(token) == 20101


def test_bytes_secrets_are_accepted() -> None:
    got = verify_access_token(mint(), {KEY: SECRET.encode()}, account_sid=ACCOUNT, now=NOW)
    assert identity_of(got) == "alice"


def test_errors_are_the_coded_subclasses() -> None:
    for token, cls in ((None, AccessTokenInvalidError),
                       (craft(claims(), header={"alg": "HS256"}), AccessTokenHeaderInvalidError),
                       (craft(claims(exp=NOW - 1)), AccessTokenExpiredError)):
        with pytest.raises(cls) as info:
            verify(token)
        assert str(info.value) == f"TwilioError {cls.code_of_class}: {cls.default_message}"


def test_identity_and_room_helpers_on_bad_claims() -> None:
    with pytest.raises(AccessTokenGrantsInvalidError):
        identity_of({})
    with pytest.raises(AccessTokenGrantsInvalidError):
        identity_of({"grants": {"identity": ""}})
    assert room_of({}) is None
    assert room_of({"grants": {"video": {"room": 3}}}) is None


# ------------------------------------------------------------------------------ property tests

VALID = mint(ttl=3600)
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def assert_rejected(token: Any) -> None:
    try:
        result = verify(token)
    except TwilioError as err:
        assert err.code in TOKEN_CODES
        assert type(err) is not TwilioError  # always a coded subclass
    else:
        pytest.fail(f"verified a corrupted token: {token!r} -> {result!r}")


def test_every_single_character_substitution_is_rejected() -> None:
    # Exhaustive over positions and the base64url alphabet; includes the last character of
    # each segment, whose low bits are padding (a non-canonical encoding must not verify).
    for index, original in enumerate(VALID):
        for char in B64_ALPHABET + ".=":
            if char != original:
                assert_rejected(VALID[:index] + char + VALID[index + 1:])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_character_change_never_verifies(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(VALID) - 1))
    char = data.draw(st.sampled_from(B64_ALPHABET + ".=+/ ") | st.characters())
    if char == VALID[index]:
        char = "A" if VALID[index] != "A" else "B"
    assert_rejected(VALID[:index] + char + VALID[index + 1:])


@settings(max_examples=400)
@given(st.integers(0, len(VALID) * 8 - 1))
def test_any_bit_flip_never_verifies(bit: int) -> None:
    raw = bytearray(VALID.encode("ascii"))
    raw[bit // 8] ^= 1 << (bit % 8)
    assert_rejected(raw.decode("latin-1"))
    assert_rejected(bytes(raw))


@settings(max_examples=200)
@given(st.integers(0, len(VALID) - 1), st.integers(1, 20))
def test_truncation_or_deletion_never_verifies(start: int, length: int) -> None:
    assert_rejected(VALID[:start] + VALID[start + length:])
    assert_rejected(VALID[:start])


@settings(max_examples=300)
@given(st.one_of(
    st.text(),
    st.text(alphabet=B64_ALPHABET + "."),
    st.lists(st.text(alphabet=B64_ALPHABET, max_size=60), min_size=1, max_size=5)
      .map(".".join),
    st.binary(),
    st.none(), st.integers(), st.floats(), st.lists(st.text()),
    st.dictionaries(st.text(), st.text()),
))
def test_random_input_never_verifies(token: Any) -> None:
    assert_rejected(token)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


MISSING = object()
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "iss": st.sampled_from([KEY, OTHER_KEY, "SKx", ""]),
    "sub": st.sampled_from([ACCOUNT, OTHER_ACCOUNT, ""]),
    "iat": st.integers(NOW - 2 * MAX_TTL, NOW + 100) | st.floats(NOW - 10, NOW + 20),
    "nbf": st.integers(NOW - 100, NOW + 100),
    "exp": st.integers(NOW - 100, NOW + 2 * MAX_TTL) | st.floats(NOW, NOW + 20),
    "grants": st.just({"video": {}}) | st.just({"identity": "x"}),
    "identity": st.text(max_size=3),
    "video": st.just({}) | st.just({"room": "r1"}) | st.just({"room": "r2"}),
}


def mutated_claims(data: st.DataObject) -> dict[str, Any]:
    """Valid claims with 0-3 fields deleted or replaced (by near-valid values or any JSON)."""
    payload = claims()
    for field in data.draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=3, unique=True)):
        value = data.draw(st.just(MISSING) | FIELDS[field] | JSON)
        target = payload
        if field in ("identity", "video"):
            if not isinstance(payload.get("grants"), dict):
                continue
            target = payload["grants"]
        if value is MISSING:
            target.pop(field, None)
        else:
            target[field] = value
    return payload


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_signed_arbitrary_claims_verify_or_raise_a_token_code(data: st.DataObject) -> None:
    payload = mutated_claims(data)
    token = craft(payload)
    try:
        got = verify(token, room="r1")
    except TwilioError as err:
        assert err.code in TOKEN_CODES
        return
    # Whatever verified satisfies every rule.
    assert got == payload
    assert got["iss"] in SECRETS and got["sub"] == ACCOUNT
    assert got["exp"] > NOW + 10
    assert got["exp"] - got.get("iat", got.get("nbf", NOW + 10)) <= MAX_TTL
    assert got.get("nbf", 0) <= NOW + 10
    assert got.get("iat", 0) <= NOW + 10
    assert isinstance(identity_of(got), str) and identity_of(got)
    assert room_of(got) in (None, "r1")
    # The same claims under any other header are refused unless it has Twilio's three values.
    extra = data.draw(st.dictionaries(st.sampled_from(["typ", "alg", "cty", "kid"]), JSON))
    header = {**extra, **HEADER} if data.draw(st.booleans()) else extra
    h_token = craft(payload, header=header)
    if all(header.get(k) == v for k, v in HEADER.items()):
        assert verify(h_token, room="r1") == payload
    else:
        assert code_of(h_token, room="r1") == 20102
