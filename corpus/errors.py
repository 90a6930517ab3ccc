"""The one error root, and the errors of the corpus side.

Every error a person should read derives from `SectorbotError`; its message is the one line
they see. The CLI and the bot translate these; nothing else catches them. The root lives
here, in the lowest layer, so that index/ and bot/ can derive from it without importing
upwards.
"""


class SectorbotError(Exception):
    """Something went wrong that a person can understand from one line."""


class StoreError(SectorbotError):
    """The database cannot be opened or written; the message says why and what to do."""


class InputError(SectorbotError):
    """An input (file, URL, feed, record) cannot be used; the message says which and why."""


class FetchError(InputError):
    """A URL could not be fetched: unreachable, timed out, too large, or an HTTP error."""


class LoadError(InputError):
    """An input could not be turned into documents: empty, binary, broken or too large."""


class FeedError(InputError):
    """A feed URL cannot be followed: not http(s), too long, or otherwise unusable."""
