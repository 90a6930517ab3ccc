"""Passage and sentence vectors kept in the store: a new process builds its indexes without
embedding, and a running one follows what another process stored. Each test runs on SQLite
and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sectorbot.bot.service import Service
from sectorbot.bot.settings import Settings
from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Store
from sectorbot.index.embedding import get_embedder
from sectorbot.index.vectors import VectorIndex
from tests.fakes import HashEmbedder

REPORTS = [
    ("Myrnohrad water", "Water supply to Myrnohrad was cut after shelling hit the pumping "
     "station; residents queue at tankers brought in by the city council."),
    ("Shevchenko deposit", "The Shevchenko lithium deposit lies south of Pokrovsk; control of "
     "the site changed after the front moved west in late 2024."),
    ("Rail line", "The railway through Pokrovsk carried coal from Pokrovske mine until the "
     "station closed to passengers in the autumn."),
]  # fmt: skip
LATE = ("Bridge at Selydove", "A bridge on the road to Selydove was destroyed by drones, "
        "cutting the shortest route for evacuation buses.")  # fmt: skip


def report(title: str, text: str) -> Document:
    slug = title.lower().replace(" ", "-")
    return Document(text=text, title=title, url=f"https://example.org/{slug}", source="Test",
                    published="2025-01-10", origin_kind="url",
                    origin_ref=f"https://example.org/{slug}")  # fmt: skip


def settings_for(target: str, data: Path) -> Settings:
    """A SQLite target is a file path: the service finds `sectorbot.db` in its data dir."""
    if target.startswith("postgresql://"):
        return Settings(data_dir=data, database_url=target)
    return Settings(data_dir=Path(target).parent)


@pytest.fixture
def services(
    hash_embedder: HashEmbedder, database_target: str, tmp_path: Path
) -> Iterator[tuple[Service, Service]]:
    """Two services on one store, each with its own index (two workers, or a restart); the
    vectors only have to travel, so they come from the hashed-word embedder."""
    first = Service(settings_for(database_target, tmp_path / "one"))
    for title, text in REPORTS:
        first.store.upsert_document(report(title, text))
    first.reindex()
    second = Service(settings_for(database_target, tmp_path / "one"))
    if second.vectors.directory is not None:  # the same SQLite file: give it its own index
        second.vectors = VectorIndex(tmp_path / "two-index", second.store, second.embedder)
        second.retriever.vectors = second.vectors
    yield first, second
    first.close()
    second.close()


def test_every_passage_keeps_its_vector_and_a_new_process_embeds_nothing(
    services: tuple[Service, Service],
) -> None:
    first, second = services
    assert first.store.vectors.vector_count() == first.store.chunk_count() > 0
    result = second.vectors.reindex()
    # Neither passages nor their sentences are embedded again: both come from the store.
    assert (result.embedded, result.sentences) == (0, 0)
    assert result.total == first.store.chunk_count()
    assert len(second.vectors.sentences or []) == result.total
    question = "Who cut the water in Myrnohrad?"
    ask = [s.search(question).hits[0].chunk.document_id for s in (first, second)]
    assert ask[0] == ask[1]


def test_a_running_index_takes_in_what_another_process_embedded(
    services: tuple[Service, Service],
) -> None:
    first, second = services
    second.ensure_index()
    _, doc_id = first.store.upsert_document(report(*LATE))
    # Stored but not yet embedded: the other process leaves it waiting, embeds nothing.
    second.search("bridge destroyed by drones")
    assert second.vectors.waiting > 0
    first.reindex()  # the process that ingests embeds it and stores the vector
    hits = second.search("bridge destroyed by drones near Selydove").hits
    assert hits[0].chunk.document_id == doc_id
    assert second.vectors.waiting == 0
    assert first.store.delete_document(doc_id)
    ids = {h.chunk.document_id for h in second.search("bridge destroyed by drones").hits}
    assert doc_id not in ids


@pytest.mark.model
def test_vectors_of_another_model_are_not_used(store: Store, tmp_path: Path) -> None:
    store.upsert_document(report(*REPORTS[0]))
    chunk_ids = store.chunk_ids()
    foreign = np.ones(384, dtype=np.float32).tobytes()
    store.vectors.store_vectors([(i, foreign) for i in chunk_ids], "another-model", "torch")
    index = VectorIndex(tmp_path / "index", store, get_embedder("all-MiniLM-L6-v2"))
    result = index.reindex()
    assert result.embedded == len(chunk_ids)
    stored = store.vectors.stored_vectors(chunk_ids, "all-MiniLM-L6-v2", "torch")
    assert set(stored) == set(chunk_ids)
    assert all(v != foreign for v in stored.values())


def test_a_first_build_is_routine_and_quiet_on_postgresql(
    hash_embedder: HashEmbedder,
    database_target: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = Service(settings_for(database_target, tmp_path / "one"))
    try:
        first.store.upsert_document(report(*REPORTS[0]))
        first.reindex()
    finally:
        first.close()
    later = Service(settings_for(database_target, tmp_path / "two"))
    try:
        with caplog.at_level(logging.INFO, logger="sectorbot.bot.service"):
            notice = later.ensure_index()
    finally:
        later.close()
    on_postgresql = database_target.startswith("postgresql://")
    # SQLite: the index files are there already; PostgreSQL: built in memory from the store.
    assert notice is None
    built = [r for r in caplog.records if "index built" in r.getMessage()]
    assert [r.levelno for r in built] == ([logging.INFO] if on_postgresql else [])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
