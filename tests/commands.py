"""How the tests start the `sectorbot` command in a subprocess (the installed package)."""

import sys

SECTORBOT = [sys.executable, "-c", "from sectorbot.bot.cli.main import main; main()"]
