"""Sentence vectors computed at reindex, stored beside the FAISS index, read by answers."""

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sectorbot.bot.service import Service
from sectorbot.corpus.models import Document
from sectorbot.index import sentence_table
from sectorbot.index.sentences import answer_spans, passages_and_sentences, quotable
from sectorbot.index.vectors import IndexProblem, VectorIndex, _ids_of, fingerprint

QUESTION = (
    "How many people were still in Pokrovsk when its station stopped taking evacuation trains?"
)


def _table_file(service: Service) -> Path:
    manifest = json.loads(service.vectors.manifest_path().read_text())
    return service.vectors.directory / manifest["sentences"]


def test_reindex_stores_the_vectors_of_every_quotable_sentence(sample_service: Service) -> None:
    svc = sample_service
    table = svc.vectors.sentences
    assert table is not None and _table_file(svc).exists()
    assert sorted(table.ids.tolist()) == sorted(_ids_of(svc.vectors.index).tolist())
    chunks = svc.store.chunks_by_ids(table.ids[:5].tolist())
    for chunk in chunks.values():
        spans, vectors = table.lookup(chunk.id)
        assert spans == answer_spans(chunk.text) and len(spans) == len(vectors)
        _, _, (fresh,) = passages_and_sentences(svc.embedder, [chunk.text])
        cosines = np.sum(fresh * vectors, axis=1)  # stored in half precision
        assert np.all(cosines > 0.999)
        # Taken from the passage's tokens, each still reads like the sentence on its own.
        alone = svc.embedder.encode_passages([quotable(chunk.text[s:e]) for s, e in spans])
        assert np.all(np.sum(alone * vectors, axis=1) > 0.75)


def test_answers_read_stored_vectors_and_fall_back_to_embedding(sample_service: Service) -> None:
    svc = sample_service
    cache = svc.retriever.sentences
    stored = svc.ask(QUESTION)
    assert stored.answered and "26,000" in stored.sentences[0].text
    assert not cache._cache  # nothing was embedded at question time
    svc.vectors.sentences = None  # as for passages a table does not hold
    embedded = svc.ask(QUESTION)
    assert cache._cache  # embedded on demand
    assert [s.text for s in embedded.sentences] == [s.text for s in stored.sentences]


def test_incremental_reindex_embeds_only_new_sentences(sample_service: Service) -> None:
    svc = sample_service
    text = "Ukrainian engineers rebuilt a pontoon bridge near Kurakhove under drone fire. " * 12
    doc = Document(text=text, title="Bridge", url="https://example.org/b", source="Test",
                   origin_kind="url", origin_ref="b")  # fmt: skip
    svc.store.upsert_document(doc)
    before = set(svc.vectors.sentences.ids.tolist())
    result = svc.reindex()
    new = svc.store.chunks_by_ids(set(svc.store.chunk_ids()) - before)
    assert result.added == len(new) > 0
    assert result.sentences == sum(len(answer_spans(c.text)) for c in new.values()) > 0
    table = svc.vectors.sentences
    assert fingerprint(table.ids) == svc.vectors.manifest.fingerprint
    assert len(list(svc.vectors.directory.glob("sentences-*.bin"))) == 1  # the old one removed


def _garble(path: Path, manifest: dict) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path, manifest: dict) -> None:
    path.write_bytes(path.read_bytes()[:5000])


def _delete(path: Path, manifest: dict) -> None:
    path.unlink()


def _unnamed(path: Path, manifest: dict) -> None:
    """A manifest from before sentence vectors were stored."""
    del manifest["sentences"], manifest["sentences_sha256"]


@pytest.mark.parametrize(
    ("damage", "said"),
    [(_garble, "corrupt"), (_truncate, "corrupt"), (_delete, "missing"),
     (_unnamed, "not stored yet")],
)  # fmt: skip
def test_a_damaged_sentence_file_is_rebuilt_not_served(
    sample_service: Service, damage: Callable[[Path, dict], None], said: str
) -> None:
    svc = sample_service
    path = svc.vectors.manifest_path()
    manifest = json.loads(path.read_text())
    damage(_table_file(svc), manifest)
    path.write_text(json.dumps(manifest))
    fresh = VectorIndex(svc.vectors.directory, svc.store, svc.embedder)
    notice = fresh.ensure() or ""
    assert said in notice and "sentence vectors rebuilt" in notice and "+0" not in notice
    assert fresh.sentences is not None and len(fresh.sentences) == fresh.manifest.count
    again = VectorIndex(svc.vectors.directory, svc.store, svc.embedder)
    assert again.ensure() is None and len(again.sentences) == fresh.manifest.count


def test_a_table_cut_by_another_splitter_is_not_served(
    sample_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sentence_table, "SPANS_VERSION", sentence_table.SPANS_VERSION + 1)
    fresh = VectorIndex(sample_service.vectors.directory, sample_service.store,
                        sample_service.embedder)  # fmt: skip
    with pytest.raises(IndexProblem, match="another model or splitter"):
        fresh.load_sentences(fresh.read_manifest())
