"""Errors of the bot side, under the one root that corpus/errors.py defines."""

from sectorbot.corpus.errors import SectorbotError

__all__ = ["OperationError", "SectorbotError", "SettingsError"]


class SettingsError(SectorbotError):
    """A setting is invalid; the message names it and says what is expected."""


class OperationError(SectorbotError):
    """An operation (backup, export, import) cannot run as asked; the message says why."""
