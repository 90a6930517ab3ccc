"""Errors of the index side; the message is the one line a person sees."""

from sectorbot.corpus.errors import SectorbotError


class SearchIndexError(SectorbotError):
    """The vector index or the embedding model cannot be used; the message says why."""


class QueryError(SectorbotError):
    """A question's filter cannot be read (`since:soon`); the message says which and how."""
