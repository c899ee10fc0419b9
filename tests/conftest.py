"""Suite-wide settings: Qt offscreen, asyncio loopback-only ICE."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
