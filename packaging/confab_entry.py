"""PyInstaller's entry script: one executable, three commands (busybox-style).

The bundle's ``confab-server`` and ``confab-bot`` are links to ``confab``; the name it was
started by picks the command, so the three share one copy of Python, Qt, PyAV and aiortc.
"""

import os
import sys


def _command() -> str:
    name = os.path.basename(sys.argv[0] if sys.argv else "confab")
    for command in ("confab-server", "confab-bot"):
        if name.startswith(command):
            return command
    return "confab"


if __name__ == "__main__":
    command = _command()
    if command == "confab-server":
        from server.cli import main
    elif command == "confab-bot":
        from app.bot import main
    else:
        from app.main import main
    sys.exit(main())
