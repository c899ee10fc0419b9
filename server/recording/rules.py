"""Recording Rules (``/v1/Rooms/{Room}/RecordingRules``): which published tracks a room records.

A rule is ``{"type": "include"|"exclude", "all": true}`` or filters by ``publisher`` (identity
or participant SID), ``track`` (name or SID) and/or ``kind`` (``audio``/``video``); a track is
recorded when an include rule matches it and no exclude rule does (as with subscribe rules).
Validation follows Twilio's 53120: not empty, at most 20 rules, every rule has a type, ``all``
is ``true`` and stands alone, ``kind`` is audio or video.

A room starts with ``[{"type": "include", "all": true}]`` when created with
``RecordParticipantsOnConnect=true``, else ``[{"type": "exclude", "all": true}]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from core.errors import TwilioError

__all__ = ["MAX_RULES", "RULES_INVALID", "RecordingRulesInvalidError", "default_rules", "load_rules",
           "parse_rules"]

MAX_RULES = 20
RULES_INVALID = 53120
_FILTERS = ("all", "publisher", "track", "kind")


def RecordingRulesInvalidError(message: str) -> TwilioError:  # noqa: N802 (reads like a class)
    """Twilio's 53120 "Invalid Recording Rule(s)", with what is wrong."""
    return TwilioError(RULES_INVALID, f"Invalid Recording Rule(s): {message}")


def default_rules(record_on_connect: bool) -> list[dict[str, Any]]:
    return [{"type": "include" if record_on_connect else "exclude", "all": True}]


def load_rules(raw: object, invalid: Callable[[str], TwilioError]) -> Any:
    """A ``Rules`` form parameter (JSON: a list, or ``{"rules": [...]}``) as loaded, unchecked."""
    if not isinstance(raw, str):
        raise invalid("Rules is required")
    try:
        rules = json.loads(raw)
    except ValueError:
        raise invalid("Rules must be JSON") from None
    return rules["rules"] if isinstance(rules, dict) and "rules" in rules else rules


def parse_rules(raw: object) -> list[dict[str, Any]]:
    """The ``Rules`` form parameter of ``POST .../RecordingRules`` → checked rules."""
    rules = load_rules(raw, RecordingRulesInvalidError)
    if not isinstance(rules, list) or not rules:
        raise RecordingRulesInvalidError("an empty set of rules is not allowed")
    if len(rules) > MAX_RULES:
        raise RecordingRulesInvalidError(f"at most {MAX_RULES} rules are allowed")
    return [_check(rule) for rule in rules]


def _check(rule: object) -> dict[str, Any]:
    if not isinstance(rule, dict) or "type" not in rule:
        raise RecordingRulesInvalidError("a rule must contain a type")
    if rule["type"] not in ("include", "exclude"):
        raise RecordingRulesInvalidError("type must be include or exclude")
    filters = {k: v for k, v in rule.items() if k != "type"}
    if not filters or any(k not in _FILTERS for k in filters):
        raise RecordingRulesInvalidError("a rule filters by all, publisher, track or kind")
    if "all" in filters and (filters["all"] is not True or len(filters) > 1):
        raise RecordingRulesInvalidError("all must be true and must not come with another filter")
    if "kind" in filters and filters["kind"] not in ("audio", "video"):
        raise RecordingRulesInvalidError("kind must be audio or video")
    for key in ("publisher", "track"):
        if key in filters and (not isinstance(filters[key], str) or not filters[key]):
            raise RecordingRulesInvalidError(f"{key} must be a string")
    return {"type": rule["type"], **filters}
