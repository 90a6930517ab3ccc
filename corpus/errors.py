"""Errors of the corpus side; the message is the one line a person sees."""


class CorpusError(Exception):
    """Something about an input or the store that a person can understand from one line."""


class FetchError(CorpusError):
    """A URL could not be fetched: unreachable, timed out, too large, or an HTTP error."""


class LoadError(CorpusError):
    """An input could not be turned into documents: empty, binary, broken or too large."""
