"""The in-memory BM25 index: same scores as FTS5, in step with the store, safe on disk."""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sectorbot.corpus.models import Document
from sectorbot.corpus.store import Store
from sectorbot.index import lexical
from sectorbot.index.lexical import LexicalIndex, search_keys

WORDS = ["drone", "drones", "strike", "strikes", "pokrovsk", "myrnohrad", "assault", "shelling",
         "logistics", "road", "evacuation", "mine", "lithium", "2025", "brigade"]  # fmt: skip


def doc(n: int, text: str) -> Document:
    url = f"https://example.org/{n}"
    return Document(text=text, title=f"Report {n}", url=url, source="Example",
                    origin_kind="url", origin_ref=url)  # fmt: skip


def fts5_scores(store: Store, keys: list[tuple[str, bool]]) -> dict[int, float]:
    expression = " OR ".join(f'"{t}"*' if prefix else f'"{t}"' for t, prefix in keys)
    rows = store.db.query(
        "SELECT rowid, bm25(chunks_fts) AS rank FROM chunks_fts WHERE chunks_fts MATCH ?",
        [expression],
    )
    return {r["rowid"]: -r["rank"] for r in rows}


def assert_same_as_fts5(index: LexicalIndex, store: Store, keys: list[tuple[str, bool]]) -> None:
    """Scores as SQLite's FTS5 gives them; PostgreSQL has no FTS5, so there the index kept
    up to date through the changes must score as one built afresh from the store."""
    index.refresh()
    ours = dict(index.bm25(keys, limit=10_000))
    if store.dialect == "sqlite":
        theirs = fts5_scores(store, keys)
    else:
        fresh = LexicalIndex(store)
        fresh.refresh()
        theirs = dict(fresh.bm25(keys, limit=10_000))
    assert ours.keys() == theirs.keys()
    for cid, score in theirs.items():
        assert ours[cid] == pytest.approx(score, rel=1e-6, abs=1e-9)


def test_scores_equal_fts5_bm25_on_the_sample_corpus(sample_service_dir: Path) -> None:
    store = Store(sample_service_dir / "sectorbot.db")
    index = LexicalIndex(store)
    questions = ["lithium deposit Shevchenko", "drone strikes logistics", "evacuation",
                 "coal mine Pokrovske", "Russian forces captured", "highway bridge"]  # fmt: skip
    for question in questions:
        keys = search_keys(question.split())
        assert_same_as_fts5(index, store, keys)
        assert index.bm25(keys, 5), question
    store.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["add", "add", "replace", "delete"]),
            st.integers(0, 20),
            st.lists(st.sampled_from(WORDS), min_size=1, max_size=12),
        ),
        min_size=1,
        max_size=25,
    ),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
)
def test_any_sequence_of_changes_scores_like_fts5(
    changes: list[tuple[str, int, list[str]]], question: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "db.sqlite")
        index = LexicalIndex(store, Path(tmp) / "index", merge_min=3)  # merges often
        known: list[int] = []
        for n, (op, pick, words) in enumerate(changes):
            text = f"doc{n} " + " ".join(words)  # unique text: no twin dedup
            if op == "add" or not known:
                store.upsert_document(doc(n, text))
                known.append(n)
            elif op == "replace":
                store.upsert_document(doc(known[pick % len(known)], text))
            else:
                target = known.pop(pick % len(known))
                row = store.db.query("SELECT id FROM documents WHERE url = ?",
                                  [f"https://example.org/{target}"])  # fmt: skip
                store.delete_document(row[0]["id"])
            if n % 3 == 0:
                assert_same_as_fts5(index, store, search_keys(question))
        assert_same_as_fts5(index, store, search_keys(question))
        assert index.count() == store.db.scalar("SELECT count(*) FROM chunks")
        store.close()


def test_changes_from_another_connection_are_seen(store: Store, tmp_path: Path) -> None:
    store.upsert_document(doc(1, "Drone strikes hit the road near Pokrovsk overnight."))
    index = LexicalIndex(store, tmp_path / "index")
    index.refresh()
    other = Store(store.target)
    other.upsert_document(doc(2, "Lithium deposit near Shevchenko changed hands."))
    other.close()
    found = index.bm25(search_keys(["lithium"]), 5)
    assert found == []  # not refreshed yet
    index.refresh()
    assert len(index.bm25(search_keys(["lithium"]), 5)) == 1


def test_an_edited_document_is_found_by_its_new_words_only(store: Store) -> None:
    index = LexicalIndex(store)
    store.upsert_document(doc(1, "Shelling of Myrnohrad continued through the night."))
    index.refresh()
    assert index.bm25(search_keys(["shelling"]), 5)
    store.upsert_document(doc(1, "Evacuation buses left Myrnohrad in the morning."))
    index.refresh()
    assert index.bm25(search_keys(["shelling"]), 5) == []
    (cid, _), *_ = index.bm25(search_keys(["evacuation"]), 5)
    assert cid == store.chunk_ids()[0]


def test_prefix_keys_gather_inflections_and_newest_lists_newest_first(store: Store) -> None:
    for n, text in enumerate(["One drone was seen.", "Two drones were seen.", "No drones."]):
        store.upsert_document(doc(n, text))
    index = LexicalIndex(store)
    index.refresh()
    assert search_keys(["drones"]) == [("dron", True)]  # the crude stem, used as a prefix
    assert len(index.bm25(search_keys(["drones"]), 10)) == 3
    assert index.newest(search_keys(["drones"]), 2) == sorted(store.chunk_ids())[::-1][:2]
    assert index.contains(search_keys(["Drone"])) and not index.contains(search_keys(["HIMARS"]))


def test_diacritics_and_case_fold_on_both_sides(store: Store) -> None:
    text = "Бої тривали біля Мирнограда, зокрема в районі шахти «Родинська»."
    store.upsert_document(doc(1, text))
    index = LexicalIndex(store)
    index.refresh()
    assert index.contains(search_keys(["мирноград"]))
    assert index.contains(search_keys(["РОДИНСЬКА"]))


def big_store(store: Store, n: int) -> None:
    rng = np.random.default_rng(1)
    for i in range(n):
        words = " ".join(rng.choice(WORDS, size=8))
        store.upsert_document(doc(i, f"report{i} {words}"))


def test_a_saved_index_is_loaded_without_reading_every_passage(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big_store(store, 60)
    first = LexicalIndex(store, tmp_path / "index", merge_min=10)
    first.refresh()
    assert (tmp_path / "index" / "lexical.npz").exists()
    expected = first.bm25(search_keys(["drone", "road"]), 20)
    calls = []
    real = lexical.tokenize
    monkeypatch.setattr(lexical, "tokenize", lambda text: calls.append(1) or real(text))
    second = LexicalIndex(store, tmp_path / "index", merge_min=10)
    assert second.refresh() is None
    assert len(calls) <= lexical.SPOT_CHECKS  # spot checks only, no full read
    assert second.bm25(search_keys(["drone", "road"]), 20) == expected


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other_store", "ahead"])
def test_a_damaged_or_foreign_saved_index_is_rebuilt_with_a_notice(
    store: Store, tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    big_store(store, 40)
    folder = tmp_path / "index"
    built = LexicalIndex(store, folder, merge_min=10)
    built.refresh()
    expected = built.bm25(search_keys(["drone", "mine"]), 20)
    path = folder / "lexical.npz"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "garbage":
        path.write_bytes(b"\x00not an index" * 100)
    else:
        foreign = Store(tmp_path / "foreign.db")
        for i in range(40):
            words = "lithium deposit" if damage == "other_store" else "x"
            foreign.upsert_document(doc(i, f"note{i} {words} " * (i + 2)))
        if damage == "ahead":  # an index saved from a store that went further than this one
            big_store(foreign, 40)
        LexicalIndex(foreign, tmp_path / "foreign", merge_min=10).refresh()
        foreign.close()
        path.write_bytes((tmp_path / "foreign" / "lexical.npz").read_bytes())
    reloaded = LexicalIndex(store, folder)  # 40 passages: no merge is due on its own
    with caplog.at_level(logging.WARNING):
        notice = reloaded.refresh()
    assert notice and notice.startswith("lexical index: ") and "rebuilding" in notice
    assert "\n" not in notice
    assert reloaded.bm25(search_keys(["drone", "mine"]), 20) == expected
    assert reloaded.count() == store.db.scalar("SELECT count(*) FROM chunks")
    again = LexicalIndex(store, folder)  # the damaged file was replaced
    assert again.refresh() is None
    assert again.bm25(search_keys(["drone", "mine"]), 20) == expected


def test_an_unwritable_index_folder_is_logged_and_search_still_works(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    big_store(store, 30)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the index folder should be")
    index = LexicalIndex(store, blocker, merge_min=10)
    with caplog.at_level(logging.WARNING):
        index.refresh()
    assert "could not save" in caplog.text
    assert index.bm25(search_keys(["drone"]), 5)
    assert blocker.read_text().startswith("a file")


def test_searches_keep_working_while_another_thread_stores_and_deletes(store: Store) -> None:
    big_store(store, 20)
    index = LexicalIndex(store, merge_min=5)
    errors: list[BaseException] = []
    done = threading.Event()

    def ask() -> None:
        try:
            while not done.is_set():
                index.refresh()
                index.bm25(search_keys(["drone", "road", "report7"]), 10)
                index.newest(search_keys(["mine"]), 5)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    readers = [threading.Thread(target=ask) for _ in range(2)]
    for thread in readers:
        thread.start()
    for i in range(20, 60):
        store.upsert_document(doc(i, f"report{i} drone road mine " * 3))
        if i % 4 == 0:
            store.delete_document(store.db.query("SELECT min(id) AS id FROM documents")[0]["id"])
    done.set()
    for thread in readers:
        thread.join()
    assert not errors
    assert_same_as_fts5(index, store, search_keys(["drone", "road", "mine"]))
    assert index.count() == store.chunk_count()
