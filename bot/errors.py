"""Errors whose message is what a person sees. The CLI and the bot translate them; nothing else."""


class SectorbotError(Exception):
    """Something went wrong that a person can understand from one line."""


class SettingsError(SectorbotError):
    """A setting is invalid; the message names it and says what is expected."""
