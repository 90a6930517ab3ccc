"""The indexes' health: the FAISS index against its manifest and the store, the saved BM25.

Both only read: a damaged index is reported here and repaired by `reindex` or at the next
start, never by a health check.
"""

from __future__ import annotations

from pathlib import Path

from sectorbot.corpus.health import Check, Status
from sectorbot.corpus.store import Store
from sectorbot.index.lexical import LexicalIndex, LexicalIndexProblem
from sectorbot.index.vectors import IndexProblem, Manifest, VectorIndex, fingerprint

# Below this size even a quick check hashes and loads the index file (milliseconds); above
# it a health check that runs every minute only reads the manifest.
QUICK_HASH_LIMIT = 64_000_000


def vector_health(vectors: VectorIndex, quick: bool) -> list[Check]:
    """The "index" check: the index loads, fits its manifest and the stored passages."""
    status, detail = _vector_state(vectors, quick)
    return [Check("index", status, detail)]


def _vector_state(vectors: VectorIndex, quick: bool) -> tuple[Status, str]:
    ids = vectors.store.chunk_ids()
    try:
        manifest = _read_index(vectors, quick)
    except IndexProblem as problem:
        return _index_problem(str(problem), len(ids))
    if manifest.fingerprint != fingerprint(ids):
        return "WARN", (
            f"index is out of step with the store ({manifest.count} passages indexed, "
            f"{len(ids)} stored): run `sectorbot reindex`"
        )
    large = quick and _index_bytes(vectors) > QUICK_HASH_LIMIT
    verified = "manifest checked, file too large to hash quickly" if large else "checksum ok"
    return "OK", f"{manifest.count} passages ({manifest.kind}, {verified}), built {manifest.built}"


def lexical_health(store: Store, index_dir: Path) -> list[Check]:
    """The "lexical" check: the saved BM25 index; a damaged one is rebuilt at start."""
    index = LexicalIndex(store, index_dir)
    stored = store.chunk_count()
    if index.path is None or not index.path.exists():
        detail = f"not saved yet: read from the {stored} stored passages at start"
        return [Check("lexical", "OK", detail)]
    try:
        index.read_saved()
    except LexicalIndexProblem as problem:
        return [Check("lexical", "WARN", f"{problem}: rebuilt from the store at the next start")]
    newer = store.chunk_count(after=index.max_id)
    detail = f"{index.count()} passages saved, {newer} stored since (read at start)"
    return [Check("lexical", "OK", detail)]


def _read_index(vectors: VectorIndex, quick: bool) -> Manifest:
    """The manifest of a servable index, or IndexProblem saying what is wrong with it."""
    before = _mtime(vectors.manifest_path())
    try:
        return _index_manifest(vectors, quick)
    except IndexProblem:
        if _mtime(vectors.manifest_path()) == before:
            raise
    # The running bot swapped in a new index between our reads (and removed the old file):
    # that is no damage, so look once more.
    return _index_manifest(vectors, quick)


def _index_manifest(vectors: VectorIndex, quick: bool) -> Manifest:
    if quick and _index_bytes(vectors) > QUICK_HASH_LIMIT:
        return _light_index_check(vectors)
    return vectors.load_checked()[1]


def _index_bytes(vectors: VectorIndex) -> int:
    if vectors.directory is None:  # kept in memory (PostgreSQL workers): no file to size
        return 0
    try:
        manifest = vectors.read_manifest()
        return (vectors.directory / manifest.file).stat().st_size
    except Exception:  # load_checked then names the problem
        return 0


def _light_index_check(vectors: VectorIndex) -> Manifest:
    # Without reading the vectors: a health check every minute must not hash a large file.
    manifest = vectors.read_manifest()
    if manifest.model != vectors.embedder.model_id:
        raise IndexProblem(
            f"index was built with {manifest.model}, settings ask for {vectors.embedder.model_id}"
        )
    if vectors.directory is None or not (vectors.directory / manifest.file).is_file():
        raise IndexProblem(f"index file {manifest.file} is missing")
    return manifest


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _index_problem(problem: str, stored: int) -> tuple[Status, str]:
    if problem == "no index yet":
        if stored == 0:
            return "OK", "no passages yet, so no index needed"
        return "WARN", f"no index yet for {stored} passages: run `sectorbot reindex`"
    # The bot would rebuild it at start, but a damaged file means something (disk, a person,
    # another version) broke it, and a full rebuild of a large corpus takes a long time.
    return "FAIL", f"{problem}: run `sectorbot reindex`"
