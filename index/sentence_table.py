"""Sentence vectors stored beside the FAISS index: every quotable sentence of every passage.

The answer composer compares the question with each candidate sentence of the best
passages. Embedding those sentences at question time cost a cold question 50-150 model
calls (docs/benchmarks.md), so a reindex embeds them once, with the passage, and writes
them here. The file is derived data like the FAISS file: named by the manifest with its
checksum, written under a temporary name and renamed, rebuilt when it is missing or wrong.

Layout of ``sentences-<generation>.bin`` (native little-endian arrays):

    header    4096 bytes: a magic line, then JSON (model, spans version, counts, offsets)
    vectors   float16[sentences, dim]   unit vectors; half precision halves the file and
                                        moves a cosine by about 1e-3, far below the score gaps
    ids       int64[passages]           chunk ids, in the order they were written
    offsets   int64[passages + 1]       sentences of ids[i] are rows offsets[i]:offsets[i+1]
    spans     int32[sentences, 2]       character offsets of each sentence in its passage

The vectors come first so that a build can stream them to disk as they are embedded and
write the small arrays at the end. They are memory-mapped: only the pages of passages
that answers read become resident.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from sectorbot.index.sentences import SPANS_VERSION

MAGIC = b"sectorbot sentence vectors 1\n"
HEADER_BYTES = 4096
COPY_ROWS = 65_536  # rows copied at a time from an old table into a new one
Spans = list[tuple[int, int]]


class SentenceTableProblem(Exception):
    """Why a stored sentence table cannot be served (one line)."""


class SentenceTable:
    """Spans and vectors of the quotable sentences of each indexed passage."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray, spans: np.ndarray,
                 vectors: np.ndarray) -> None:  # fmt: skip
        self.ids = ids
        self.offsets = offsets
        self.spans = spans
        self.vectors = vectors
        self._order = np.argsort(ids, kind="stable")
        self._sorted = ids[self._order]

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, chunk_id: int) -> int | None:
        i = int(np.searchsorted(self._sorted, chunk_id))
        if i < len(self._sorted) and self._sorted[i] == chunk_id:
            return int(self._order[i])
        return None

    def lookup(self, chunk_id: int) -> tuple[Spans, np.ndarray] | None:
        """The passage's sentence spans and float32 vectors, or None when not stored."""
        at = self.position(chunk_id)
        if at is None:
            return None
        lo, hi = int(self.offsets[at]), int(self.offsets[at + 1])
        spans = [(a, b) for a, b in self.spans[lo:hi].tolist()]
        return spans, np.asarray(self.vectors[lo:hi], dtype=np.float32)

    @classmethod
    def read(cls, path: Path, model: str) -> SentenceTable:
        """Map a table file, or raise SentenceTableProblem saying what is wrong with it."""
        try:
            raw = np.memmap(path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as exc:
            raise SentenceTableProblem(f"{path.name} is unreadable ({exc})") from None
        header = _header(raw, path.name)
        if header.get("model") != model or header.get("spans") != SPANS_VERSION:
            raise SentenceTableProblem(f"{path.name} was built by another model or splitter")
        try:
            n, s, dim = int(header["passages"]), int(header["sentences"]), int(header["dim"])
            vectors = _view(raw, header["vectors_at"], np.float16, (s, dim))
            ids = np.array(_view(raw, header["ids_at"], np.int64, (n,)))
            offsets = np.array(_view(raw, header["offsets_at"], np.int64, (n + 1,)))
            spans = np.array(_view(raw, header["spans_at"], np.int32, (s, 2)))
        except (KeyError, TypeError, ValueError) as exc:
            raise SentenceTableProblem(f"{path.name} is truncated or garbled ({exc})") from None
        if offsets[0] != 0 or offsets[-1] != s or np.any(np.diff(offsets) < 0):
            raise SentenceTableProblem(f"{path.name} is inconsistent")
        return cls(ids, offsets, spans, vectors)


def _header(raw: np.ndarray, name: str) -> dict[str, Any]:
    head = bytes(raw[:HEADER_BYTES])
    if len(head) < HEADER_BYTES or not head.startswith(MAGIC):
        raise SentenceTableProblem(f"{name} is not a sentence table")
    try:
        header = json.loads(head[len(MAGIC) :].rstrip(b"\0"))
    except ValueError:
        raise SentenceTableProblem(f"{name} has a garbled header") from None
    if not isinstance(header, dict):
        raise SentenceTableProblem(f"{name} has a garbled header")
    return header


def _view(raw: np.ndarray, at: int, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if not isinstance(at, int) or at < HEADER_BYTES or at + size > len(raw):
        raise ValueError("an array lies outside the file")
    return raw[at : at + size].view(dtype).reshape(shape)


class TableWriter:
    """Streams a new table to a temporary file; `finish` renames it into place."""

    def __init__(self, path: Path, model: str, dim: int) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.model = model
        self.dim = dim
        self.ids: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.spans: list[np.ndarray] = []
        self.rows = 0
        self.copied = 0  # rows taken from an older table rather than embedded
        self._fh: BinaryIO | None = self.tmp.open("wb")
        self._fh.write(b"\0" * HEADER_BYTES)

    def add(self, ids: list[int], spans: list[Spans], vectors: np.ndarray) -> None:
        """Passages in any order, with their sentences' spans and vectors (rows in order)."""
        assert self._fh is not None
        self.ids.append(np.asarray(ids, dtype=np.int64))
        self.counts.append(np.asarray([len(sp) for sp in spans], dtype=np.int64))
        flat = [pair for sp in spans for pair in sp]
        self.spans.append(np.asarray(flat, dtype=np.int32).reshape(-1, 2))
        self._write_vectors(vectors)

    def copy(self, table: SentenceTable, keep: np.ndarray) -> None:
        """Passages of an older table that are still indexed, without embedding them again."""
        positions = np.asarray(sorted(p for i in keep if (p := table.position(int(i))) is not None),
                               dtype=np.int64)  # fmt: skip
        if not len(positions):
            return
        lo, hi = table.offsets[positions], table.offsets[positions + 1]
        self.ids.append(table.ids[positions])
        self.counts.append(hi - lo)
        ranges = [np.arange(a, b) for a, b in zip(lo, hi, strict=True)]
        rows = np.concatenate(ranges) if ranges else np.zeros(0, dtype=np.int64)
        rows = rows.astype(np.int64)
        self.spans.append(table.spans[rows])
        self.copied += len(rows)
        for start in range(0, len(rows), COPY_ROWS):
            self._write_vectors(table.vectors[rows[start : start + COPY_ROWS]])

    def _write_vectors(self, vectors: np.ndarray) -> None:
        assert self._fh is not None
        block = np.ascontiguousarray(vectors, dtype=np.float16).reshape(-1, self.dim)
        self._fh.write(block.tobytes())
        self.rows += len(block)

    def finish(self) -> Path:
        """Write the small arrays and the header, make it durable, and rename it into place."""
        fh = self._fh
        assert fh is not None
        ids = np.concatenate(self.ids) if self.ids else np.zeros(0, np.int64)
        counts = np.concatenate(self.counts) if self.counts else np.zeros(0, np.int64)
        spans = np.concatenate(self.spans) if self.spans else np.zeros((0, 2), np.int32)
        assert len(spans) == self.rows == int(counts.sum())
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        header: dict[str, Any] = {"model": self.model, "spans": SPANS_VERSION, "dim": self.dim,
                                  "passages": len(ids), "sentences": self.rows,
                                  "vectors_at": HEADER_BYTES}  # fmt: skip
        for name, array in (("ids", ids), ("offsets", offsets), ("spans", spans)):
            header[f"{name}_at"] = fh.tell()
            fh.write(np.ascontiguousarray(array).tobytes())
        encoded = MAGIC + json.dumps(header).encode()
        assert len(encoded) <= HEADER_BYTES
        fh.seek(0)
        fh.write(encoded)
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        self._fh = None
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the temporary file: a failed build leaves nothing behind."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self.tmp.unlink(missing_ok=True)
