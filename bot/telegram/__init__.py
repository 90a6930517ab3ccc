"""The Telegram front end: the PTB application (`app`), its handlers by feature area, the one
sender (`reply`), the renderers of Telegram HTML (`render`), and the typed state (`state`).

Modules here import PTB; nothing outside this package and `sectorbot.bot.cli.main` (which
starts the bot) imports them.
"""
