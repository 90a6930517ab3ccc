"""The FAISS index: derived from the store, checked at load, swapped atomically.

Each passage's vector is kept in the store with it (model and backend recorded), so a build
embeds only passages that have none yet, and a new process builds its index from the store
without embedding again; the sentence vectors of each passage likewise. Every process
follows the store by its change marker; on PostgreSQL each worker keeps its files in a
private folder (`Service`). Without a directory the index lives in memory only, with no
sentence table (answers then embed the sentences they quote).

Layout of the index directory:
    manifest.json          the commit point: model, dimension, count, fingerprint, files, sha256s
    vectors-<n>.faiss      the passage vectors the manifest names (ids are chunk ids)
    sentences-<n>.bin      the vectors of every quotable sentence of those passages
                           (index/sentence_table.py), for the answer composer

A build writes new files and then replaces the manifest with os.replace, so a process
killed mid-write leaves the previous manifest and files in place and loadable. The
sentence file covers exactly the passages of the vectors file (same fingerprint); when it
is missing or wrong only the sentence vectors are embedded again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from sectorbot.corpus.store import Store
from sectorbot.corpus.text import format_size, one_line
from sectorbot.index.embedding import Embedder
from sectorbot.index.errors import SearchIndexError
from sectorbot.index.sentence_table import SentenceTable, SentenceTableProblem, TableWriter
from sectorbot.index.sentences import SPANS_VERSION, Entry, passages_and_sentences

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1
Progress = Callable[[int, int], None]


@dataclass
class Manifest:
    version: int
    model: str
    dim: int
    count: int
    fingerprint: str
    kind: str  # "flat" or "ivf"
    file: str
    sha256: str
    built: str
    # Optional, so that a manifest written before sentence vectors were stored still loads
    # (its passages then get sentence vectors on the next ensure).
    sentences: str = ""
    sentences_sha256: str = ""


@dataclass
class ReindexResult:
    added: int
    removed: int
    total: int
    full: bool
    seconds: float
    reason: str = ""
    embedded: int = 0  # passages embedded by this build (the rest came from the store)
    waiting: int = 0  # passages left out because no vector is stored for them yet
    sentences: int = 0  # sentences embedded


def fingerprint(ids: Sequence[int] | np.ndarray) -> str:
    """Chunk ids are never reused, so the sorted id list identifies the indexed passages."""
    arr = np.sort(np.asarray(ids, dtype=np.int64))
    return hashlib.sha256(arr.tobytes()).hexdigest()[:32]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


MANIFEST_TYPES = {"version": int, "dim": int, "count": int}  # every other field is text
MANIFEST_OPTIONAL = {"sentences": "", "sentences_sha256": ""}
DISK_MARGIN = 1.2  # free space wanted for a new index file, over its expected size
# Quotable sentences per passage, for the disk check: 8.9 in the generated benchmark corpus
# (docs/benchmarks.md); each costs dim half-precision floats.
SENTENCES_PER_PASSAGE = 9


def _manifest_from(data: Any) -> Manifest:
    """A manifest from parsed JSON, or TypeError naming the first field of the wrong type."""
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    data = {**MANIFEST_OPTIONAL, **data}
    for name in Manifest.__dataclass_fields__:
        kind = MANIFEST_TYPES.get(name, str)
        value = data.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise TypeError(f"field {name!r} should be {kind.__name__}, not {value!r:.40}")
    return Manifest(**{name: data[name] for name in Manifest.__dataclass_fields__})


def _check_room(directory: Path, count: int, dim: int) -> None:
    """Refuse, before any embedding, to build an index the disk cannot hold."""
    per_passage = dim * 4 + SENTENCES_PER_PASSAGE * dim * 2
    needed = int(count * per_passage * DISK_MARGIN) + (1 << 20)
    where = directory if directory.exists() else directory.parent
    free = shutil.disk_usage(where).free
    if free < needed:
        raise SearchIndexError(
            f"not enough disk space to write the index: it needs about {format_size(needed)}, "
            f"{format_size(free)} is free in {where}"
        )


class IndexProblem(Exception):
    """Why the index on disk cannot be served as it is (one line)."""


class VectorIndex:
    """The live FAISS index for one store; searches keep working while a reindex builds."""

    def __init__(
        self, directory: Path | None, store: Store, embedder: Embedder,
        approx_threshold: int = 200_000,
    ) -> None:  # fmt: skip
        self.directory = Path(directory) if directory is not None else None
        self.store = store
        self.embedder = embedder
        self.approx_threshold = approx_threshold
        self.index: faiss.Index | None = None
        self.manifest: Manifest | None = None
        self.sentences: SentenceTable | None = None  # belongs to `index`; swapped with it
        self.build_lock = threading.Lock()
        self.nprobe = 24
        self._marker: tuple[int, int] | None = None
        self.waiting = 0  # passages of the store not in the index for want of a vector
        self._sentences_embedded = 0  # by the build under way

    # loading ---------------------------------------------------------------------------

    def manifest_path(self) -> Path:
        if self.directory is None:
            raise IndexProblem("no index yet")
        return self.directory / "manifest.json"

    def read_manifest(self) -> Manifest:
        path = self.manifest_path()
        if not path.exists():
            raise IndexProblem("no index yet")
        try:
            manifest = _manifest_from(json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise IndexProblem(f"index manifest is unreadable ({exc})") from None
        if manifest.version != MANIFEST_VERSION:
            raise IndexProblem(f"index format {manifest.version} is not {MANIFEST_VERSION}")
        return manifest

    def load_checked(self) -> tuple[faiss.Index, Manifest]:
        """Load the index from disk, or raise IndexProblem saying what is wrong with it."""
        manifest = self.read_manifest()
        if manifest.model != self.embedder.model_id:
            raise IndexProblem(
                f"index was built with {manifest.model}, settings ask for {self.embedder.model_id}"
            )
        path = self.manifest_path().parent / manifest.file
        if not path.exists():
            raise IndexProblem(f"index file {manifest.file} is missing")
        if _sha256(path) != manifest.sha256:
            raise IndexProblem(f"index file {manifest.file} is corrupt (checksum differs)")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexProblem(f"index file {manifest.file} is unreadable ({exc})") from None
        if index.d != manifest.dim or index.ntotal != manifest.count:
            raise IndexProblem("index file disagrees with its manifest (dimension or count)")
        return index, manifest

    def load_sentences(self, manifest: Manifest) -> SentenceTable:
        """Map the sentence table the manifest names, or raise IndexProblem saying why not."""
        if not manifest.sentences:
            raise IndexProblem("sentence vectors are not stored yet")
        if self.directory is None:
            raise IndexProblem("an index kept in memory has no sentence file")
        path = self.directory / manifest.sentences
        if not path.exists():
            raise IndexProblem(f"sentence file {manifest.sentences} is missing")
        if _sha256(path) != manifest.sentences_sha256:
            raise IndexProblem(f"sentence file {manifest.sentences} is corrupt (checksum differs)")
        try:
            table = SentenceTable.read(path, manifest.model)
        except SentenceTableProblem as exc:
            raise IndexProblem(str(exc)) from None
        if table.vectors.shape[1] != manifest.dim or fingerprint(table.ids) != manifest.fingerprint:
            raise IndexProblem("sentence file disagrees with its manifest (passages or dimension)")
        return table

    def ensure(self, progress: Progress | None = None) -> str | None:
        """Make the index servable; return a one-line notice when it had to be repaired."""
        current = self.manifest if self.index is not None else None
        if current and current.fingerprint == fingerprint(self.store.chunk_ids()):
            return None
        try:
            index, manifest = self.load_checked()
        except IndexProblem as problem:
            full = str(problem) != "no index yet"
            result = self.reindex(full=True, progress=progress)
            if not full:
                return None if result.total == 0 else f"index built ({result.total} passages)"
            return f"{problem}: rebuilt from the store ({result.total} passages)"
        self.index, self.manifest = index, manifest
        try:
            self.sentences = self.load_sentences(manifest)
        except IndexProblem as problem:
            self.sentences = None  # the reindex below embeds every passage's sentences
            return self._repair_sentences(str(problem), progress)
        if manifest.fingerprint != fingerprint(self.store.chunk_ids()):
            result = self.reindex(progress=progress)
            return (
                f"index was behind the store: updated (+{result.added} -{result.removed} passages)"
            )
        return None

    def _repair_sentences(self, problem: str, progress: Progress | None) -> str:
        """Embed the sentences again (and any passages the index lacks); the passage vectors
        on disk are sound and kept."""
        result = self.reindex(progress=progress)
        notice = f"{problem}: sentence vectors rebuilt from the store ({result.sentences})"
        if result.added or result.removed:
            notice += f"; index updated (+{result.added} -{result.removed} passages)"
        return notice

    def sync(self) -> ReindexResult | None:
        """Follow changes other processes made to the store, without embedding passages.

        Cheap when nothing changed (the store's change marker is one read). Passages whose
        vectors are not stored yet wait for the process that embeds them (`reindex`).
        """
        marker = self.store.change_marker()
        if marker == self._marker or self.index is None:
            return None
        self._marker = marker
        ids = self.store.chunk_ids()
        if self.manifest and self.manifest.fingerprint == fingerprint(ids) and not self.waiting:
            return None
        return self.reindex(embed=False)

    # building --------------------------------------------------------------------------

    def reindex(
        self, full: bool = False, progress: Progress | None = None, embed: bool = True,
        reembed: bool = False,
    ) -> ReindexResult:  # fmt: skip
        """Bring the index in step with the store: add only what it lacks unless `full`.

        Vectors come from the store where it has them; the rest are embedded and stored
        (`embed=False` leaves them out instead; `reembed` embeds every passage again).
        """
        with self.build_lock:
            started = time.perf_counter()
            wanted = np.asarray(self.store.chunk_ids(), dtype=np.int64)
            base = None if full else self._current_or_disk()
            if base is None:
                full = True
                have = np.zeros(0, dtype=np.int64)
            else:
                have = _ids_of(base)
            table = None if full else self._table_or_disk()
            stale = np.setdiff1d(have, wanted)
            missing = np.setdiff1d(wanted, have)
            if self.directory is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
                _check_room(self.directory, len(wanted), self.embedder.dim)
            new_index = self._empty() if full or base is None else faiss.clone_index(base)
            if len(stale):
                new_index.remove_ids(stale)  # type: ignore[arg-type]  # faiss takes id arrays
            writer = self._writer()
            self._sentences_embedded = 0
            try:
                kept = np.intersect1d(table.ids, wanted) if table is not None else wanted[:0]
                if table is not None and writer is not None:
                    writer.copy(table, kept)
                candidates = np.union1d(np.setdiff1d(have, stale), missing)
                unsentenced = np.setdiff1d(candidates, kept)
                added, embedded = self._add(
                    new_index, missing, unsentenced, writer, progress, embed, reembed
                )
                new_index = self._maybe_switch(new_index, len(wanted))
                indexed = np.union1d(np.setdiff1d(have, stale), added)
                self._commit(new_index, indexed, writer)
            except BaseException:
                if writer is not None:
                    writer.abort()
                raise
            self.waiting = len(wanted) - len(indexed)
            return ReindexResult(
                added=len(added),
                removed=len(stale),
                total=int(new_index.ntotal),
                full=full,
                seconds=time.perf_counter() - started,
                embedded=embedded,
                waiting=self.waiting,
                sentences=self._sentences_embedded,
            )

    def _current_or_disk(self) -> faiss.Index | None:
        if self.index is not None:
            return self.index
        try:
            index, self.manifest = self.load_checked()
        except IndexProblem:
            return None
        return index

    def _table_or_disk(self) -> SentenceTable | None:
        """The sentence table of the index being extended, when it is sound."""
        if self.sentences is not None or self.manifest is None:
            return self.sentences
        try:
            return self.load_sentences(self.manifest)
        except IndexProblem:
            return None

    def _empty(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.embedder.dim))

    def _add(
        self, index: faiss.Index, ids: np.ndarray, unsentenced: np.ndarray,
        writer: TableWriter | None, progress: Progress | None, embed: bool, reembed: bool,
    ) -> tuple[np.ndarray, int]:  # fmt: skip
        """Add these passages' vectors: from the store, else embedded and stored (unless not
        `embed`). Then write the sentence vectors of the indexed passages the table lacks,
        in the same pass over the store. Returns the ids added and how many were embedded."""
        passages, sentences = set(ids.tolist()), set(unsentenced.tolist())
        todo = np.union1d(ids, unsentenced)
        added: list[int] = []
        embedded = 0
        batch = max(self.embedder.batch_size * 8, 256)
        for start in range(0, len(todo), batch):
            part = [int(i) for i in todo[start : start + batch]]
            new = [i for i in part if i in passages]
            vectors = {} if reembed else self._stored(new)
            lacking = [i for i in new if i not in vectors] if embed else []
            split = [i for i in part if i in sentences] if writer is not None else []
            texts = self._texts(sorted({*lacking, *split}))
            fresh_sentences: dict[int, Entry] = {}
            if lacking:
                fresh, fresh_sentences = self._embed(lacking, texts)
                vectors.update(fresh)
                embedded += len(fresh)
            keep = [i for i in new if i in vectors]
            if keep:
                matrix = np.vstack([vectors[i] for i in keep]).astype(np.float32)
                index.add_with_ids(matrix, np.asarray(keep, dtype=np.int64))
                added.extend(keep)
            # Sentences only of passages that are in the index now (a passage left waiting
            # for its vector gets them when it joins).
            split = [i for i in split if (i in vectors or i not in passages) and i in texts]
            if split and writer is not None:
                self._write_sentences(writer, split, texts, reembed, fresh_sentences)
            if progress:
                progress(min(start + batch, len(todo)), len(todo))
        return np.asarray(added, dtype=np.int64), embedded

    def _write_sentences(
        self, writer: TableWriter, ids: list[int], texts: dict[int, str], reembed: bool,
        fresh: dict[int, Entry],
    ) -> None:  # fmt: skip
        """The sentences of these passages into the table: from the passages' own forward
        pass when they were just embedded, else from the store where it has them, else
        embedded (one pass per passage) and kept in the store for the next process."""
        model = self._sentence_key()
        stored = {} if reembed else self.store.vectors.stored_sentences(
            [i for i in ids if i not in fresh], model)  # fmt: skip
        found = [i for i in ids if i in stored]
        if found:
            kept = [np.frombuffer(stored[i][0], dtype=np.int32).reshape(-1, 2).tolist()
                    for i in found]  # fmt: skip
            rows = [np.frombuffer(stored[i][1], dtype=np.float16).reshape(-1, self.embedder.dim)
                    for i in found]  # fmt: skip
            if all(len(sp) == len(r) for sp, r in zip(kept, rows, strict=True)):
                pairs: list[list[tuple[int, int]]] = [[(a, b) for a, b in sp] for sp in kept]
                writer.add(found, pairs, np.concatenate(rows))
            else:
                found = []
        lacking = [i for i in ids if i not in set(found) and i not in fresh]
        if lacking:
            _, spans, blocks = passages_and_sentences(self.embedder, [texts[i] for i in lacking])
            fresh = {**fresh, **dict(zip(lacking, zip(spans, blocks, strict=True), strict=True))}
        lacking = [i for i in ids if i in fresh]
        if not lacking:
            return
        spans = [fresh[i][0] for i in lacking]
        vectors = np.concatenate([fresh[i][1] for i in lacking]).astype(np.float16)
        writer.add(lacking, spans, vectors.reshape(-1, self.embedder.dim))
        self._sentences_embedded += len(vectors)
        keep, row = [], 0
        for cid, sp in zip(lacking, spans, strict=True):
            block = vectors[row : row + len(sp)]
            keep.append((cid, np.asarray(sp, dtype=np.int32).tobytes(), block.tobytes()))
            row += len(sp)
        self.store.vectors.store_sentences(keep, model)

    def _texts(self, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        return {cid: text for part in self.store.iter_chunk_texts(ids, batch=len(ids))
                for cid, text in part}  # fmt: skip

    def _stored(self, ids: list[int]) -> dict[int, np.ndarray]:
        """The stored vectors of these passages made by this model (the wrong size: none)."""
        if not ids:
            return {}
        found = self.store.vectors.stored_vectors(
            ids, self.embedder.model_name, self.embedder.backend
        )
        vectors = {i: np.frombuffer(raw, dtype=np.float32) for i, raw in found.items()}
        return {i: v for i, v in vectors.items() if v.shape == (self.embedder.dim,)}

    def _sentence_key(self) -> str:
        """What stored sentence vectors are kept under: the model, and how they were made."""
        return f"{self.embedder.model_id}|s{SPANS_VERSION}"

    def _embed(
        self, ids: list[int], texts: dict[int, str]
    ) -> tuple[dict[int, np.ndarray], dict[int, Entry]]:
        """Embed these passages (their sentences from the same pass) and keep the passage
        vectors in the store."""
        rows = [(cid, texts[cid]) for cid in ids if cid in texts]
        if not rows:
            return {}, {}
        matrix, spans, blocks = passages_and_sentences(self.embedder, [t for _, t in rows])
        vectors = {cid: matrix[n] for n, (cid, _) in enumerate(rows)}
        sentences = {cid: (spans[n], blocks[n]) for n, (cid, _) in enumerate(rows)}
        self.store.vectors.store_vectors(
            [(cid, v.astype(np.float32).tobytes()) for cid, v in vectors.items()],
            self.embedder.model_name,
            self.embedder.backend,
        )
        return vectors, sentences

    def _writer(self) -> TableWriter | None:
        """Where a build writes sentence vectors; none for an index kept in memory only
        (its answers embed the sentences they quote as they go)."""
        if self.directory is None:
            return None
        generation = int(time.time() * 1000)
        return TableWriter(self.directory / f"sentences-{generation}.bin",
                           self.embedder.model_id, self.embedder.dim)  # fmt: skip

    def _maybe_switch(self, index: faiss.Index, count: int) -> faiss.Index:
        """Above the threshold, serve an IVF index (approximate) instead of exact search."""
        is_ivf = _kind(index) == "ivf"
        if (count >= self.approx_threshold) == is_ivf:
            return index
        vectors, ids = _vectors_of(index)
        return build_ivf(vectors, ids) if not is_ivf else _flat_from(vectors, ids)

    def _commit(self, index: faiss.Index, ids: np.ndarray, writer: TableWriter | None) -> None:
        if self.directory is None or writer is None:  # an index in memory only: swap it in
            self.index, self.manifest = index, self._manifest(index, ids, "", "", None)
            return
        generation = writer.path.stem.removeprefix("sentences-")
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"vectors-{generation}.faiss"
        path = self.directory / name
        tmp = path.with_name(f".{name}.tmp")
        try:
            faiss.write_index(index, str(tmp))
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except (OSError, RuntimeError) as exc:
            tmp.unlink(missing_ok=True)  # a partial file is never left behind
            raise SearchIndexError(f"could not write the index: {one_line(str(exc))}") from None
        try:
            sentences = writer.finish()
            table = SentenceTable.read(sentences, self.embedder.model_id)
        except (OSError, SentenceTableProblem) as exc:
            path.unlink(missing_ok=True)
            raise SearchIndexError(f"could not write the index: {one_line(str(exc))}") from None
        manifest = self._manifest(index, ids, name, _sha256(path), sentences)
        _write_atomic(self.manifest_path(), json.dumps(asdict(manifest), indent=2).encode())
        # The swap: searches and answers see the new index and its sentences together.
        self.index, self.manifest, self.sentences = index, manifest, table
        self._remove_old_files(keep={name, sentences.name})

    def _manifest(
        self, index: faiss.Index, ids: np.ndarray, file: str, sha256: str,
        sentences: Path | None,
    ) -> Manifest:  # fmt: skip
        return Manifest(
            version=MANIFEST_VERSION,
            model=self.embedder.model_id,
            dim=int(index.d),
            count=int(index.ntotal),
            fingerprint=fingerprint(ids),
            kind=_kind(index),
            file=file,
            sha256=sha256,
            built=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
            sentences=sentences.name if sentences else "",
            sentences_sha256=_sha256(sentences) if sentences else "",
        )

    def _remove_old_files(self, keep: set[str]) -> None:
        assert self.directory is not None
        for pattern in ("vectors-*.faiss", "sentences-*.bin"):
            for old in self.directory.glob(pattern):
                if old.name not in keep:
                    old.unlink(missing_ok=True)
        for tmp in self.directory.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    # searching -------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        index = self.index
        if index is None or index.ntotal == 0:
            return []
        if _kind(index) == "ivf":
            faiss.extract_index_ivf(index).nprobe = self.nprobe
        scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def info(self) -> dict[str, Any]:
        """The manifest of the index served, or of the one on disk when none is loaded."""
        if self.manifest is not None:
            return asdict(self.manifest)
        try:
            return asdict(self.read_manifest())
        except IndexProblem:
            return {}


def _kind(index: faiss.Index) -> str:
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
    return "ivf" if isinstance(inner, faiss.IndexIVF) else "flat"


def _ids_of(index: faiss.Index) -> np.ndarray:
    if isinstance(index, faiss.IndexIDMap):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = faiss.extract_index_ivf(index)
    invlists = ivf.invlists
    assert invlists is not None  # an index that holds vectors has its lists
    ids = []
    for list_no in range(ivf.nlist):
        size = invlists.list_size(list_no)
        if size:
            ptr = invlists.get_ids(list_no)
            ids.append(faiss.rev_swig_ptr(ptr, size).copy())
    return np.concatenate(ids).astype(np.int64) if ids else np.zeros(0, dtype=np.int64)


def _vectors_of(index: faiss.Index) -> tuple[np.ndarray, np.ndarray]:
    ids = _ids_of(index)
    if isinstance(index, faiss.IndexIDMap2):
        vectors = index.index.reconstruct_n(0, index.ntotal)
        return vectors, ids
    if not len(ids):
        return np.zeros((0, index.d), dtype=np.float32), ids
    return np.vstack([index.reconstruct(int(i)) for i in ids]), ids


def _flat_from(vectors: np.ndarray, ids: np.ndarray) -> faiss.Index:
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    index.add_with_ids(vectors, ids)
    return index


def build_ivf(vectors: np.ndarray, ids: np.ndarray, nlist: int | None = None) -> faiss.Index:
    """An inverted-file index (inner product) trained on the vectors themselves."""
    n, dim = vectors.shape
    nlist = nlist or max(16, int(4 * np.sqrt(n)))
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = vectors[np.random.default_rng(0).choice(n, min(n, nlist * 40), replace=False)]
    ivf.train(sample)
    ivf.add_with_ids(vectors, ids)
    # A hash-table direct map keeps remove_ids and reconstruct working for incremental updates.
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]  # not in the stubs
    return ivf
