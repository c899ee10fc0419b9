"""PyInstaller's entry script: the ``confab`` desktop app (its demo embeds the server and bots)."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
