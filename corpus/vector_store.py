"""The vector store: each passage's embedding and its sentences' spans and vectors.

Kept beside the passages they were made from (`chunk_vectors`, `chunk_sentences`), so that
every process's FAISS index and answer composer can be built without embedding the corpus
again. A vector is only kept while its passage exists: the foreign keys delete it with the
passage, and a write for a passage deleted meanwhile is passed over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sectorbot.corpus.database import Database
from sectorbot.corpus.health import Check

# Every stored passage vector with where its passage sits, in document and passage order:
# what an export carries, read by either backend's snapshot.
# What an export carries of each passage: its vector and, where kept, its sentences' spans
# and vectors (model key, spans, vectors), in document and passage order.
PASSAGE_VECTORS = (
    "SELECT c.document_id, c.ordinal, v.model, v.backend, v.vector, "
    "s.model, s.spans, s.vectors FROM chunk_vectors v "
    "JOIN chunks c ON c.id = v.chunk_id "
    "LEFT JOIN chunk_sentences s ON s.chunk_id = v.chunk_id "
    "ORDER BY c.document_id, c.ordinal"
)


class VectorStore:
    """Passage and sentence vectors in the corpus database, keyed by passage (chunk) id."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def store_vectors(self, rows: Sequence[tuple[int, bytes]], model: str, backend: str) -> None:
        """Keep each passage's embedding with it; a passage deleted meanwhile is passed over."""
        sql = (
            "INSERT INTO chunk_vectors (chunk_id, model, backend, vector) "
            "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?) "
            "ON CONFLICT (chunk_id) DO UPDATE SET model = excluded.model, "
            "backend = excluded.backend, vector = excluded.vector"
        )
        with self.db.transaction():
            self.db.executemany(sql, [(i, model, backend, v, i) for i, v in rows])

    def stored_vectors(self, ids: Iterable[int], model: str, backend: str) -> dict[int, bytes]:
        """Chunk id -> embedding bytes, for the passages embedded by this model and backend."""
        sql = (
            "SELECT chunk_id, vector FROM chunk_vectors "
            "WHERE model = ? AND backend = ? AND chunk_id IN ({ids})"
        )
        out: dict[int, bytes] = {}
        for rows in self.db.rows_in(sql, ids, [model, backend]):
            out.update({r[0]: bytes(r[1]) for r in rows})
        return out

    def store_sentences(self, rows: Sequence[tuple[int, bytes, bytes]], model: str) -> None:
        """Keep (chunk id, spans, vectors) of passages' quotable sentences for `model`."""
        sql = (
            "INSERT INTO chunk_sentences (chunk_id, model, spans, vectors) "
            "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?) "
            "ON CONFLICT (chunk_id) DO UPDATE SET model = excluded.model, "
            "spans = excluded.spans, vectors = excluded.vectors"
        )
        with self.db.transaction():
            self.db.executemany(sql, [(i, model, sp, v, i) for i, sp, v in rows])

    def stored_sentences(self, ids: Iterable[int], model: str) -> dict[int, tuple[bytes, bytes]]:
        """Chunk id -> (spans, vectors) of its quotable sentences, made by `model`."""
        sql = (
            "SELECT chunk_id, spans, vectors FROM chunk_sentences "
            "WHERE model = ? AND chunk_id IN ({ids})"
        )
        out: dict[int, tuple[bytes, bytes]] = {}
        for rows in self.db.rows_in(sql, ids, [model]):
            out.update({r[0]: (bytes(r[1]), bytes(r[2])) for r in rows})
        return out

    def vector_count(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM chunk_vectors") or 0)

    def sentence_count(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM chunk_sentences") or 0)

    def health(self, passages: int) -> list[Check]:
        """The "vectors" check: how many of the `passages` stored have their vector kept."""
        kept = self.vector_count()
        detail = f"{kept} of {passages} passages have a stored vector"
        if kept < passages:
            # Not damage: ingest stores passages first and the index embeds them next.
            return [Check("vectors", "WARN", f"{detail}: the next reindex embeds the rest")]
        return [Check("vectors", "OK", detail)]
