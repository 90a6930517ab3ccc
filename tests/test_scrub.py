"""The ingest cleaner: what goes, what stays, and that no page can make it slow."""

import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sectorbot.corpus.models import Document
from sectorbot.corpus.scrub import mostly_links, scrub, strip_footnotes
from sectorbot.corpus.store import Store

PAGE = """Site name
Home
World
Ukraine
Opinion
Video
Russian forces attacked near the town on Tuesday, the brigade said.[[lxiv]](https://example.org/a)
[Another headline about the war](https://example.org/news/1)
- [Related: a second headline](https://example.org/news/2)
https://twitter.com/intent/tweet?url=https://example.org
Click here to share on social media
Age Verification
The brigade said it had held the northern part of the town[77] for a week.

References
[[i]] https://example.org/source-one
[[ii]] https://example.org/source-two
"""


def test_scrub_keeps_prose_and_drops_the_rest() -> None:
    clean = scrub(PAGE)
    assert "Russian forces attacked near the town on Tuesday, the brigade said." in clean
    assert "held the northern part of the town for a week." in clean
    for gone in ("Home", "Opinion", "headline", "twitter", "share", "Age Verification",
                 "lxiv", "[77]", "References", "source-one"):  # fmt: skip
        assert gone not in clean, gone


def test_prose_without_noise_is_left_as_it_is() -> None:
    text = "First paragraph, a full sentence.\n\nSecond paragraph [with brackets] (and more)."
    assert scrub(text) == text
    assert strip_footnotes("A claim.[[xii]](https://isw.example/n12) Next.") == "A claim. Next."


def test_mostly_links() -> None:
    assert mostly_links("[a](https://example.org/a) [b](https://example.org/b)")
    assert not mostly_links("A sentence about the front line near the town, with no links.")


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from([" ", "[", "]", "(", ")", "[[", "]](", "*", "#", "-", "\n",
                                 "http://", "https://x.", "a", ".", ",", "\t", "Share on "]),
                min_size=1, max_size=6))  # fmt: skip
def test_long_runs_of_markup_stay_linear(pieces: list[str]) -> None:
    text = ("".join(pieces) * (200_000 // len("".join(pieces)) + 1))[:200_000]
    started = time.perf_counter()
    scrub(text)
    mostly_links(text)
    assert time.perf_counter() - started < 5.0  # super-linear patterns take minutes here


def test_stored_documents_are_cleaned_again_under_the_same_id(tmp_path: Path) -> None:
    from sectorbot.corpus.ingest import reprocess

    store = Store(tmp_path / "s.db")
    doc = Document(text=PAGE, title="Page", url="https://example.org/p", source="Test",
                   origin_kind="url", origin_ref="https://example.org/p")  # fmt: skip
    _, doc_id = store.upsert_document(doc)  # stored raw, as an older version would have
    assert reprocess(store) == 1
    row = store.document(doc_id)
    assert row is not None and "Age Verification" not in row["text"]
    assert store.document_ids() == [doc_id] and reprocess(store) == 0
    store.close()
