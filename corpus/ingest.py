"""One entry point for everything that goes into the corpus.

`ingest(store, targets, ...)` takes paths, folders and URLs, lets the loaders recognise each,
stores every document in its own transaction and returns a report: added, updated,
unchanged and failed (with a one-line reason each). Bad input never stops the run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sectorbot.corpus.fetch import Fetcher
from sectorbot.corpus.loaders import Item, iter_targets, load
from sectorbot.corpus.models import ItemFailure, Known, StoredAlready
from sectorbot.corpus.scrub import scrub
from sectorbot.corpus.store import Store
from sectorbot.corpus.text import has_visible_text

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class IngestReport:
    added: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    failed: list[ItemFailure] = field(default_factory=list)
    run_id: int | None = None

    @property
    def changed(self) -> list[int]:
        """Ids of documents whose text or metadata is new since before the run."""
        return self.added + self.updated

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, "
            f"unchanged {len(self.unchanged)}, failed {len(self.failed)}"
        )


def known_in(store: Store) -> Known:
    """The `known` predicate loaders take: is a document stored under this ext_id?"""
    return lambda ext_id: store.document_id_for(ext_id) is not None


def store_documents(store: Store, items: Iterable[Item], report: IngestReport) -> None:
    """Store loaded items one transaction each, counting what happened to each."""
    for item in items:
        if isinstance(item, ItemFailure):
            report.failed.append(item)
            continue
        if isinstance(item, StoredAlready):
            doc_id = store.document_id_for(item.ext_id)
            if doc_id is not None:  # None: deleted since the loader asked
                report.unchanged.append(doc_id)
            continue
        item = dataclasses.replace(item, text=scrub(item.text))  # every loader, one cleaner
        if not has_visible_text(item.text):  # blank, or only zero-width and control characters
            report.failed.append(ItemFailure(item.origin_ref, "no text"))
            continue
        try:
            status, doc_id = store.upsert_document(item)
        except Exception as exc:  # a storage failure (disk full...) fails this item only
            report.failed.append(ItemFailure(item.origin_ref, f"could not store: {exc}"))
            continue
        getattr(report, status).append(doc_id)


def ingest(
    store: Store,
    targets: Iterable[str],
    fetcher: Fetcher | None = None,
    max_bytes: int = 20_000_000,
    channel: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Load and store every target (file, folder or URL); record the run in the store."""
    targets = list(targets)
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher()
    report = IngestReport()
    run_id = _start_run(store, targets)
    report.run_id = run_id
    try:
        for target in targets:
            for ref in iter_targets(target):
                if progress:
                    progress(ref)
                items = _safe_load(ref, fetcher, max_bytes, channel, known_in(store))
                store_documents(store, items, report)
    finally:
        if own_fetcher:
            fetcher.close()
        _finish_run(store, run_id, report)
    return report


def _safe_load(
    ref: str, fetcher: Fetcher, max_bytes: int, channel: str | None, known: Known
) -> Iterable[Item]:
    """The loader's items; an unexpected loader failure becomes one error for this input."""
    try:
        yield from load(ref, fetcher, max_bytes, channel=channel, known=known)
    except Exception as exc:
        yield ItemFailure(ref, f"could not load: {type(exc).__name__}: {exc}")


def _start_run(store: Store, targets: list[str]) -> int:
    return store.start_ingest_run(json.dumps(targets, ensure_ascii=False))


def _finish_run(store: Store, run_id: int, report: IngestReport) -> None:
    counts = (len(report.added), len(report.updated), len(report.unchanged), len(report.failed))
    try:
        store.finish_ingest_run(run_id, counts, [(e.ref, e.reason) for e in report.failed])
    except Exception as exc:  # the documents are stored; a lost run record is only logged
        log.warning("could not record ingest run %s: %s", run_id, exc)


def reprocess(store: Store) -> int:
    """Clean every stored document again with the current cleaner, keeping its id; the
    number of documents whose text changed (their passages need reindexing). Every
    document's daily figures are read again with the current reader."""
    store.figures.forget_reads()  # every report's figures are read again, changed or not
    changed = 0
    for doc_id in store.document_ids():
        row = store.document(doc_id)
        if row is not None and store.replace_text(doc_id, scrub(row["text"])):
            changed += 1
    store.figures.catch_up()
    return changed
