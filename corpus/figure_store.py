"""The figures table: daily per-direction counts that stored reports state.

Figures are derived from a document's text like its passages: written in the same transaction
as the passages whenever a document is stored or its text replaced, deleted with it, and read
again by a newer reader (`catch_up`) or on `reprocess`. What reads them is handed in
(index/figures.py): the corpus does not know how a count is worded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sectorbot.corpus.database import STORE_LOCK, Database
from sectorbot.corpus.models import Figure, FigureReader

QUOTE_CHARS = 600  # a figure's sentence as kept; longer ones are cut at a word

SERIES = """SELECT f.day, f.as_of, f.counted, f.count, f.quote, f.chunk_id,
    d.id AS document_id, d.title, d.source, d.url, d.published
    FROM figures f JOIN documents d ON d.id = f.document_id
    WHERE f.direction = ? AND f.day >= ? AND f.day <= ?
    ORDER BY f.day, d.published, d.id"""


@dataclass(frozen=True)
class FigureRow:
    """A stored figure with the report it came from."""

    day: str
    as_of: str
    counted: str
    count: int
    quote: str
    chunk_id: int | None
    document_id: int
    title: str
    source: str
    url: str | None
    published: str | None


class FigureStore:
    """Figures in the corpus database, written only through `write` (one document's, whole)."""

    def __init__(self, db: Database, reader: FigureReader | None) -> None:
        self.db = db
        self.reader = reader

    def write(self, doc_id: int, text: str, published: str | None) -> None:
        """Replace a document's figures with what the reader finds in `text`; inside the
        caller's transaction. Without a reader nothing is read, and nothing is marked read."""
        if self.reader is None:
            return
        figures = self.reader.read(text, published)
        self.db.execute("DELETE FROM figures WHERE document_id = ?", [doc_id])
        if figures:
            passages = self.db.execute(
                "SELECT id, char_start, char_end FROM chunks WHERE document_id = ? "
                "ORDER BY ordinal",
                [doc_id],
            ).fetchall()
            self.db.executemany(
                "INSERT INTO figures (document_id, chunk_id, day, as_of, direction, counted, "
                "count, quote) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [_row(doc_id, f, text, passages) for f in figures],
            )
        self.db.execute("DELETE FROM figure_scans WHERE document_id = ?", [doc_id])
        self.db.execute(
            "INSERT INTO figure_scans (document_id, version) VALUES (?, ?)",
            [doc_id, self.reader.version],
        )

    def unread(self, limit: int = 500) -> list[int]:
        """Documents no reader of the current version has read (stored before figures were
        read, or read by an older version)."""
        if self.reader is None:
            return []
        rows = self.db.query(
            "SELECT d.id FROM documents d LEFT JOIN figure_scans s ON s.document_id = d.id "
            "WHERE s.version IS NULL OR s.version <> ? ORDER BY d.id LIMIT ?",
            [self.reader.version, limit],
        )
        return [r["id"] for r in rows]

    def catch_up(self) -> int:
        """Read every unread document, one transaction each; how many were read."""
        done = 0
        while batch := self.unread():
            for doc_id in batch:
                with self.db.transaction(STORE_LOCK):
                    row = self.db.execute(
                        "SELECT text, published FROM documents WHERE id = ?", [doc_id]
                    ).fetchone()
                    if row is not None:
                        self.write(doc_id, row[0], row[1])
                done += 1
        return done

    def forget_reads(self) -> None:
        """Have every document read again (`reprocess`)."""
        with self.db.transaction(STORE_LOCK):
            self.db.execute("DELETE FROM figure_scans")

    def series(self, direction: str, first: str, last: str) -> list[FigureRow]:
        """Every figure for a direction from day `first` to `last` (ISO), oldest first."""
        return [FigureRow(**r) for r in self.db.query(SERIES, [direction, first, last])]

    def latest_day(self, direction: str) -> str | None:
        """The newest day with a figure for the direction."""
        value = self.db.scalar("SELECT max(day) FROM figures WHERE direction = ?", [direction])
        return str(value) if value else None

    def count(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM figures") or 0)


def _row(doc_id: int, f: Figure, text: str, passages: list[Any]) -> tuple[Any, ...]:
    """A figure as a row, with the passage its sentence starts in."""
    chunk_id = next((p[0] for p in passages if p[1] <= f.start < p[2]), None)
    quote = " ".join(text[f.start : f.end].split())
    if len(quote) > QUOTE_CHARS:
        quote = quote[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
    return (doc_id, chunk_id, f.day, f.as_of, f.direction, f.counted, f.count, quote)
