"""Injected downlink caps for tests that run the server as another process (``CONFAB_DOWNLINK_FAULTS``).

When the server starts with ``CONFAB_DOWNLINK_FAULTS=<path>``, the switch-off controller reads
``<path>`` (JSON ``{participant SID: bps}``) at every allocation and caps each listed
subscriber's downlink estimate there, as if its receiver reports had said so; a participant
not listed (or no file) has no cap. In-process tests call ``Forwarder.limit_downlink``
instead. Without the variable nothing is read.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

__all__ = ["ENV_VAR", "DownlinkFaults"]

log = logging.getLogger(__name__)

ENV_VAR = "CONFAB_DOWNLINK_FAULTS"


class DownlinkFaults:
    def __init__(self, path: str | None = None) -> None:
        self.path = path if path is not None else os.environ.get(ENV_VAR) or None
        self._mtime: int | None = None
        self._caps: dict[str, float] = {}

    def caps(self) -> dict[str, float] | None:
        """Participant SID → cap in bps; None when no fault file was asked for."""
        if self.path is None:
            return None
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            self._mtime, self._caps = None, {}
            return self._caps
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                loaded = json.loads(Path(self.path).read_text(encoding="utf-8"))
                self._caps = {str(k): float(v) for k, v in loaded.items()
                              if isinstance(v, (int, float)) and not isinstance(v, bool)}
            except (OSError, ValueError, AttributeError) as exc:
                log.warning("%s: unreadable downlink faults: %s", self.path, exc)
                self._caps = {}
        return self._caps
