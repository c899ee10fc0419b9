"""Confab's entry points: the desktop app (``confab``) and the headless bot (``confab-bot``)."""
