"""What `sectorbot import` writes, in one place: documents, their vectors and plain rows.

An import puts rows of several features into the service's database: documents through the
corpus store, passage vectors through the vector store, feeds and alert tables as rows, and
it keeps imported documents out of the alert inbox. `transfer` speaks only to this class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sectorbot.bot.alerts.store import AlertStore
from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Status, Store

if TYPE_CHECKING:
    from sectorbot.bot.service import Service


class ImportStore:
    """The stores an import writes to, sharing one database."""

    def __init__(self, store: Store, alert_store: AlertStore) -> None:
        self.store = store
        self.alert_store = alert_store
        self.errors = store.db.errors  # what a row the database refuses raises

    @classmethod
    def of(cls, service: Service) -> ImportStore:
        return cls(service.store, service.alert_store)

    def upsert_document(self, doc: Document) -> tuple[Status, int]:
        return self.store.upsert_document(doc)

    def settle(self, doc_id: int, fetched: str | None) -> None:
        """An imported document is history, not news."""
        if fetched:
            self.store.set_fetched(doc_id, fetched)  # when first fetched, not when it moved
        # The alerts trigger queues every new feed document; chats must not be alerted about
        # old reports because the bot moved to another machine.
        self.alert_store.discard_inbox([doc_id])

    def keep_vectors(self, doc_id: int, model: str, backend: str, vectors: list[bytes]) -> None:
        """Keep the vectors when they fit the passages stored, one for one.

        The passages are cut again from the text; when they come out as many as the vectors
        (the same cutting), each vector goes with its passage. Otherwise they are left out and
        the index embeds the passages: a vector is never put on a passage it was not made from.
        """
        ids = self.store.passage_ids(doc_id)
        if len(ids) == len(vectors):
            rows = list(zip(ids, vectors, strict=True))
            self.store.vectors.store_vectors(rows, model, backend)

    def keep_sentences(
        self, doc_id: int, model: str, spans: list[bytes], vectors: list[bytes]
    ) -> None:
        """Keep the passages' sentence spans and vectors, on the same one-for-one terms."""
        ids = self.store.passage_ids(doc_id)
        if len(ids) == len(spans):
            rows = list(zip(ids, spans, vectors, strict=True))
            self.store.vectors.store_sentences(rows, model)

    def insert_if_new(self, table: str, row: dict[str, Any]) -> bool | None:
        """Insert a row unless one with the same key is there; None if no column fits."""
        return self.store.db.insert_if_new(table, row)
