import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from sectorbot.corpus.chunking import MAX_WORDS, chunk_text, sentence_spans, word_count

WORDS = st.sampled_from(
    ["Pokrovsk", "Myrnohrad", "forces", "advanced", "Покровськ", "Мирноград", "обстріл",
     "Красноармейск", "наступление", "the", "of", "Gen.", "U.S.", "km", "2024", "—"]
)  # fmt: skip
SENTENCE = st.lists(WORDS, min_size=1, max_size=40).map(lambda ws: " ".join(ws))
END = st.sampled_from([". ", "! ", "? ", "… ", ".\n\n", "\n\n", ". »", " "])
DOCUMENT = st.lists(st.tuples(SENTENCE, END), min_size=1, max_size=80).map(
    lambda parts: "".join(s + e for s, e in parts)
)


@given(DOCUMENT)
@settings(max_examples=150, deadline=None)
def test_every_chunk_is_the_text_at_its_offsets(text: str) -> None:
    chunks = chunk_text(text)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.text.strip() == c.text and c.text
    if text.strip():
        assert chunks[0].start == len(text) - len(text.lstrip())
        assert chunks[-1].end == len(text.rstrip())


@given(DOCUMENT)
@settings(max_examples=100, deadline=None)
def test_chunks_cover_the_document_in_order(text: str) -> None:
    chunks = chunk_text(text)
    for a, b in itertools.pairwise(chunks):
        assert a.start < b.start <= a.end + 2  # overlapping or adjacent, never a gap
    for s, e in sentence_spans(text):
        assert any(c.start <= s and e <= c.end for c in chunks) or word_count(text[s:e]) > MAX_WORDS


def test_sizes_are_roughly_120_to_250_words() -> None:
    sentence = "Russian forces pressed toward Pokrovsk along the highway from the southeast. "
    chunks = chunk_text(sentence * 150)
    sizes = [word_count(c.text) for c in chunks]
    assert all(120 <= n <= 250 for n in sizes), sizes
    assert chunks[1].start < chunks[0].end  # a small overlap


def test_does_not_split_abbreviations_or_cyrillic() -> None:
    text = "Gen. Syrskyi visited the U.S. team. Мирноград під обстрілом. Евакуація триває!"
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == [
        "Gen. Syrskyi visited the U.S. team.",
        "Мирноград під обстрілом.",
        "Евакуація триває!",
    ]


def test_a_huge_sentence_is_cut_at_word_boundaries() -> None:
    text = " ".join(["слово"] * 1000)
    chunks = chunk_text(text)
    assert len(chunks) >= 4
    assert all(word_count(c.text) <= MAX_WORDS for c in chunks)
    assert all(text[c.start : c.end] == c.text for c in chunks)
