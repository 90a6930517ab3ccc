"""Errors of the index side; the message is the one line a person sees."""


class IndexError_(Exception):
    """The vector index or the embedding model cannot be used; the message says why."""
