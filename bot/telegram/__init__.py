"""The Telegram front end: the PTB application (`app`), the command table its menus and
command handlers come from (`commands`), its handlers by feature area, the one sender
(`reply`), the renderers of Telegram HTML (`render`), and the typed `bot_data` and handler
`Context` (`state`).

Modules here import PTB; nothing outside this package and `sectorbot.bot.cli.main` (which
starts the bot) imports them.
"""
