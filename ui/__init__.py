"""Confab's Qt widgets (PySide6). Never imports aiortc; see architecture.md §6."""
