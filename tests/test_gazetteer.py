"""Tests for the Pokrovsk-sector gazetteer: the data file and the place-name matcher."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sectorbot.index import gazetteer
from sectorbot.index.gazetteer import KINDS, Gazetteer, Place, PlaceMatch

G = Gazetteer.default()
CYRILLIC = re.compile("[\u0400-\u04ff]")

# -- the data file ----------------------------------------------------------------------------


def test_at_least_48_entries_with_unique_ids() -> None:
    ids = [p.id for p in G.all()]
    assert len(ids) >= 48
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids)


def test_json_objects_follow_the_schema() -> None:
    data = json.loads(gazetteer.DATA_PATH.read_text(encoding="utf-8"))
    required = {"id", "name", "kind", "uk", "ru", "aliases", "former", "lat", "lon"}
    optional = {"ambiguous", "needs_context"}
    for item in data:
        assert required <= item.keys() <= required | optional, item["id"]
        assert isinstance(item["aliases"], list) and isinstance(item["former"], list)


@pytest.mark.parametrize("place", G.all(), ids=lambda p: p.id)
def test_every_entry_is_complete_and_in_the_region(place: Place) -> None:
    assert place.name.strip() and place.kind in KINDS
    assert CYRILLIC.search(place.uk), place.uk
    assert CYRILLIC.search(place.ru), place.ru
    assert isinstance(place.ambiguous, bool)
    if place.id == "pavlohrad":  # the rear hub, in Dnipropetrovsk oblast
        assert 48.3 <= place.lat <= 48.8 and 35.5 <= place.lon <= 36.2
    else:
        assert 47.3 <= place.lat <= 49.3, place.lat
        assert 36.0 <= place.lon <= 39.0, place.lon
    for spelling in place.needs_context:
        assert spelling in place.spellings, spelling


def test_the_requested_places_are_present() -> None:
    wanted = {
        "pokrovsk", "myrnohrad", "selydove", "kurakhove", "novohrodivka", "avdiivka",
        "ocheretyne", "prohres", "udachne", "kotlyne", "shevchenko", "dobropillia",
        "kostiantynivka", "hrodivka", "rodynske", "pishchane", "zelene", "shakhove",
        "novoekonomichne", "kryvorizhzhia", "vozdvyzhenka", "lysivka", "mykolaivka",
        "bilytske", "kurakhivka", "tsukuryne", "ukrainsk", "hirnyk", "krasnohorivka",
        "heorhiivka", "maksymilianivka", "dachenske", "zvirove", "novopavlivka", "mezhova",
        "velyka-novosilka", "vuhledar", "toretsk", "chasiv-yar", "pavlohrad", "kramatorsk",
        "druzhkivka", "sloviansk", "donetsk", "pokrovske-mine", "shevchenko-lithium-deposit",
        "kurakhove-reservoir", "avdiivka-coke-plant", "pokrovsk-kostiantynivka-highway",
    }  # fmt: skip
    assert wanted <= {p.id for p in G.all()}
    kinds = {p.id: p.kind for p in G.all()}
    assert kinds["pokrovske-mine"] == kinds["avdiivka-coke-plant"] == "landmark"
    assert kinds["pokrovsk-kostiantynivka-highway"] == "road"


@pytest.mark.parametrize("place_id", ["prohres", "shevchenko", "zelene", "ukrainsk", "hirnyk"])
def test_common_words_are_marked_ambiguous(place_id: str) -> None:
    assert G.by_id(place_id).ambiguous


def test_only_the_two_shevchenkos_share_spellings() -> None:
    assert G.collisions
    for owners in G.collisions.values():
        assert owners == ("shevchenko", "shevchenko-pokrovsk")


@pytest.mark.parametrize("place", G.all(), ids=lambda p: p.id)
def test_every_spelling_resolves_to_its_own_entry(place: Place) -> None:
    for spelling in place.spellings:
        key = " ".join(gazetteer._words(spelling))
        owner = G.collisions.get(key, (place.id,))[0]
        assert G.resolve(spelling) == G.by_id(owner), spelling


# -- spelling variants ------------------------------------------------------------------------

VARIANTS = [
    ("Pokrovsk", "pokrovsk"),
    ("Pokrovs'k", "pokrovsk"),
    ("Pokrowsk", "pokrovsk"),
    ("Krasnoarmiisk", "pokrovsk"),
    ("Krasnoarmeysk", "pokrovsk"),
    ("Красноармійськ", "pokrovsk"),
    ("Красноармейске", "pokrovsk"),
    ("Покровську", "pokrovsk"),
    ("Покровськом", "pokrovsk"),
    ("Mirnograd", "myrnohrad"),
    ("Mirnohrad", "myrnohrad"),
    ("Dymytrov", "myrnohrad"),
    ("Димитров", "myrnohrad"),
    ("Димитрові", "myrnohrad"),
    ("Мирноградом", "myrnohrad"),
    ("Selidovo", "selydove"),
    ("Селидового", "selydove"),
    ("Kurakhovo", "kurakhove"),
    ("Курахово", "kurakhove"),
    ("Avdeevka", "avdiivka"),
    ("Avdeyevka", "avdiivka"),
    ("Авдіївці", "avdiivka"),
    ("Ocheretino", "ocheretyne"),
    ("Novogrodovka", "novohrodivka"),
    ("Dobropolye", "dobropillia"),
    ("Добропіллі", "dobropillia"),
    ("Konstantinovka", "kostiantynivka"),
    ("Udachnoye", "udachne"),
    ("Kotlino", "kotlyne"),
    ("Progress", "prohres"),
    ("Ugledar", "vuhledar"),
    ("Dzerzhinsk", "toretsk"),
    ("Дзержинськ", "toretsk"),
    ("Chasov Yar", "chasiv-yar"),
    ("Часового Яру", "chasiv-yar"),
    ("Великой Новоселке", "velyka-novosilka"),
    ("Slavyansk", "sloviansk"),
    ("Stalino", "donetsk"),
    ("chasiv-yar", "chasiv-yar"),
]


@pytest.mark.parametrize(("spelling", "place_id"), VARIANTS)
def test_spelling_variants_resolve_to_the_same_place(spelling: str, place_id: str) -> None:
    place = G.resolve(spelling)
    assert place is not None and place.id == place_id
    assert gazetteer.resolve(spelling.upper()) == place  # resolve ignores case


@pytest.mark.parametrize(
    ("form", "place_id"),
    [
        ("Покровськ", "pokrovsk"),
        ("Покровська", "pokrovsk"),
        ("Покровську", "pokrovsk"),
        ("Покровськом", "pokrovsk"),
        ("Мирноград", "myrnohrad"),
        ("Мирнограда", "myrnohrad"),
        ("Мирнограді", "myrnohrad"),
        ("Мирноградом", "myrnohrad"),
        ("Селидове", "selydove"),
        ("Селидового", "selydove"),
        ("Селидовому", "selydove"),
        ("Курахове", "kurakhove"),
        ("Курахово", "kurakhove"),
        ("Кураховому", "kurakhove"),
        ("Курахового", "kurakhove"),
        ("Авдіївка", "avdiivka"),
        ("Авдіївки", "avdiivka"),
        ("Авдіївку", "avdiivka"),
        ("Авдіївці", "avdiivka"),
        ("Авдіївкою", "avdiivka"),
        ("Авдеевка", "avdiivka"),
        ("Авдеевки", "avdiivka"),
        ("Авдеевке", "avdiivka"),
        ("Красноармейск", "pokrovsk"),
        ("Красноармейска", "pokrovsk"),
        ("Красноармейске", "pokrovsk"),
        ("Великої Новосілки", "velyka-novosilka"),
        ("Костянтинівці", "kostiantynivka"),
        ("Доброполья", "dobropillia"),
        ("Курахівському водосховищі", "kurakhove-reservoir"),
    ],
)
def test_inflected_cyrillic_forms_are_found_in_running_text(form: str, place_id: str) -> None:
    text = f"Бої тривають поблизу: {form}, повідомили військові."
    matches = G.find(text)
    assert [(m.place.id, m.surface) for m in matches] == [(place_id, form)]


@pytest.mark.parametrize("word", ["Покрова", "Покровка", "Покровське", "Покровський", "Мирний"])
def test_similar_cyrillic_words_are_not_inflections(word: str) -> None:
    assert G.find(f"Свято {word} у селі") == []


# -- offsets and boundaries -------------------------------------------------------------------


def test_offsets_are_exact_in_mixed_text() -> None:
    text = (
        "On Monday Russian forces shelled Pokrovsk’s outskirts and Myrnohrad; "
        "у Мирнограді та Покровську — вибухи. В Красноармейске тихо. Velyka  Novosilka, "
        "Avdiivka Coke Plant and the Pokrovs'k-Kostiantynivka road."
    )
    matches = G.find(text)
    for m in matches:
        assert text[m.start : m.end] == m.surface
    assert [(m.place.id, m.surface) for m in matches] == [
        ("pokrovsk", "Pokrovsk"),
        ("myrnohrad", "Myrnohrad"),
        ("myrnohrad", "Мирнограді"),
        ("pokrovsk", "Покровську"),
        ("pokrovsk", "Красноармейске"),
        ("velyka-novosilka", "Velyka  Novosilka"),
        ("avdiivka-coke-plant", "Avdiivka Coke Plant"),
        ("pokrovsk-kostiantynivka-highway", "Pokrovs'k-Kostiantynivka road"),
    ]


def test_offsets_survive_dropped_marks() -> None:
    text = "Наголос: По́кровськ і Словʼянськ; Dobropil'lia's mines"
    got = [(m.place.id, m.surface) for m in G.find(text)]
    assert got == [
        ("pokrovsk", "По́кровськ"),
        ("sloviansk", "Словʼянськ"),
        ("dobropillia", "Dobropil'lia"),
    ]


@pytest.mark.parametrize(
    "text",
    ["Avdiivkaxyz", "xAvdiivka", "Pokrovsk2", "Pokrovskyi", "Pokrovskiy", "AvdiivkaПокровськ"],
)
def test_no_match_inside_longer_words(text: str) -> None:
    assert G.find(text) == []


@pytest.mark.parametrize("apostrophe", ["'", "’", "ʼ", "`", "ʹ", "‘"])
def test_apostrophe_variants(apostrophe: str) -> None:
    text = f"near Pokrovs{apostrophe}k and Слов{apostrophe}янськ"
    assert [m.place.id for m in G.find(text)] == ["pokrovsk", "sloviansk"]


@pytest.mark.parametrize("possessive", ["'s", "’s", "ʼs"])
def test_english_possessive(possessive: str) -> None:
    text = f"Pokrovsk{possessive} defenders and Velyka Novosilka{possessive} school"
    matches = G.find(text)
    assert [m.surface for m in matches] == ["Pokrovsk", "Velyka Novosilka"]
    assert matches[0].end == len("Pokrovsk")


def test_pokrovsk_raion_and_direction_phrases_mean_pokrovsk() -> None:
    # Documented choice: the raion and "direction" phrases name the Pokrovsk area.
    cases = {
        "Pokrovsk Raion": "Pokrovsk",
        "Pokrovskyi raion": "Pokrovskyi raion",
        "Покровському районі": "Покровському районі",
        "на Покровському напрямку": "Покровському напрямку",
        "в Покровском направлении": "Покровском направлении",
    }
    for text, surface in cases.items():
        assert [(m.place.id, m.surface) for m in G.find(text)] == [("pokrovsk", surface)]


def test_longest_match_wins() -> None:
    assert [m.place.id for m in G.find("Velyka Novosilka")] == ["velyka-novosilka"]
    assert [m.place.id for m in G.find("Chasiv Yar")] == ["chasiv-yar"]
    assert [m.place.id for m in G.find("Avdiivka coke plant")] == ["avdiivka-coke-plant"]
    assert [m.place.id for m in G.find("Pokrovsk coal mine")] == ["pokrovske-mine"]
    assert [m.place.id for m in G.find("Shevchenko lithium deposit")] == [
        "shevchenko-lithium-deposit"
    ]


def test_multiword_names_do_not_span_punctuation() -> None:
    assert G.find("Velyka, Novosilka") == []
    assert [m.surface for m in G.find("Velyka\nNovosilka")] == ["Velyka\nNovosilka"]
    assert [m.place.id for m in G.find("Pokrovsk-Myrnohrad")] == ["pokrovsk", "myrnohrad"]


def test_matching_ignores_case() -> None:
    assert G.place_ids("POKROVSK и ПОКРОВСЬК, myrnohrad, авдіївка") == {
        "pokrovsk",
        "myrnohrad",
        "avdiivka",
    }


# -- ambiguity --------------------------------------------------------------------------------


def test_ambiguous_names_need_a_capital_letter() -> None:
    assert G.place_ids("fighting near Shevchenko") == {"shevchenko"}
    assert G.place_ids("fighting near shevchenko") == set()
    assert G.place_ids("Zelene and Hirnyk") == {"zelene", "hirnyk"}
    assert G.place_ids("zelene and hirnyk") == set()


def test_progress_needs_a_capital_and_context() -> None:
    filler = " and then" * 15
    assert G.place_ids("Progress was slow this week.") == set()
    assert G.place_ids("progress near Ocheretyne") == {"ocheretyne"}
    assert G.place_ids("They took the village of Progress.") == {"prohres"}
    assert G.place_ids("Progress village fell.") == {"prohres"}
    assert G.place_ids("Ocheretyne, Progress and Novooleksandrivka") == {"ocheretyne", "prohres"}
    far = "Progress was slow" + filler + " near Ocheretyne."
    assert G.place_ids(far) == {"ocheretyne"}
    assert G.place_ids("село Прогрес") == {"prohres"}
    assert G.place_ids("Прогресс в переговорах") == set()
    assert G.place_ids("Prohres") == {"prohres"}  # the Ukrainian spelling is no common word


def test_context_needing_cyrillic_adjectives() -> None:
    assert G.place_ids("Удачное решение.") == set()
    assert G.place_ids("удачне рішення біля Покровська") == {"pokrovsk"}
    assert G.place_ids("бої за селище Удачне") == {"udachne"}
    assert G.place_ids("Бої біля Котлиного та Удачного") == {"kotlyne", "udachne"}
    assert G.place_ids("Зелене світло для угоди") == set()


def test_former_names_that_are_surnames_need_context() -> None:
    assert G.place_ids("Grigor Dimitrov won in three sets.") == set()
    assert G.place_ids("Dimitrov (now Myrnohrad) was shelled") == {"myrnohrad"}
    assert G.place_ids("Dymytrov") == {"myrnohrad"}  # the Ukrainian form is unambiguous


def test_adjective_forms_need_a_preposition() -> None:
    assert G.place_ids("Про це пише Українська правда.") == set()
    assert G.place_ids("українська мова") == set()
    assert G.place_ids("бої біля Українська") == {"ukrainsk"}
    assert G.place_ids("слов'янська писемність") == set()
    assert G.place_ids("дорога до Слов'янська") == {"sloviansk"}
    assert G.place_ids("у Слов'янську") == {"sloviansk"}


def test_donetsk_oblast_is_not_the_city() -> None:
    assert G.place_ids("Pokrovsk, Donetsk Oblast") == {"pokrovsk"}
    assert G.place_ids("in the Donetsk region") == set()
    assert G.place_ids("the so-called Donetsk People's Republic") == set()
    assert G.place_ids("Донецька область, Донецкой области") == set()
    assert G.place_ids("Donetsk city and у Донецьку") == {"donetsk"}


# -- API --------------------------------------------------------------------------------------


def test_place_ids_and_module_shortcuts() -> None:
    text = "Від Покровська до Мирнограда 7 км; Selidovo fell."
    assert gazetteer.place_ids(text) == G.place_ids(text) == {"pokrovsk", "myrnohrad", "selydove"}
    assert gazetteer.find(text) == G.find(text)
    assert all(isinstance(m, PlaceMatch) for m in gazetteer.find(text))
    assert gazetteer.by_id("pokrovsk") is G.by_id("pokrovsk")
    assert gazetteer.all_places() == G.all()


def test_default_is_cached() -> None:
    assert Gazetteer.default() is Gazetteer.default() is G


def test_by_id_and_resolve_misses() -> None:
    with pytest.raises(KeyError):
        G.by_id("atlantis")
    assert G.resolve("Atlantis") is None
    assert G.resolve("") is None
    assert G.resolve("  /  ") is None
    assert G.resolve("Pokrovsk's") == G.by_id("pokrovsk")


def test_resolve_ignores_find_rules() -> None:
    # A subscription names one place on purpose: no capital or context needed.
    assert G.resolve("progress") == G.by_id("prohres")
    assert G.resolve("удачное") == G.by_id("udachne")
    assert G.resolve("Мирноград") == G.by_id("myrnohrad")


def test_expand_query_bridges_spellings() -> None:
    from_russian = G.expand_query("Что происходит в Красноармейске?")
    assert "Pokrovsk" in from_russian and "Покровськ" in from_russian
    from_english = G.expand_query("What is happening in Pokrovsk?")
    assert "Красноармейск" in from_english and "Покровськ" in from_english
    assert "Pokrovsk" not in from_english.split()  # already in the query
    assert G.expand_query("nothing to see here") == ""


@pytest.mark.parametrize(
    "query",
    ["Pokrovsk", "Мирнограді", "Avdeevka and Selidovo", "Chasiv Yar", "Кураховому"],
)
def test_expand_query_round_trip(query: str) -> None:
    ids = G.place_ids(query)
    expansion = G.expand_query(query)
    assert G.place_ids(expansion) == ids
    terms = [t for p in ids for t in G.by_id(p).spellings if t in expansion]
    assert terms
    for term in terms:
        assert G.resolve(term) is not None and G.resolve(term).id in ids
    lowered = [t.lower() for t in terms]
    assert len(lowered) == len(set(lowered))


def test_custom_gazetteer_validation(tmp_path: Path) -> None:
    item = {"id": "x", "name": "X", "kind": "village", "uk": "Ікс", "ru": "Икс"}
    item |= {"aliases": [], "former": [], "lat": 48.0, "lon": 37.0}
    path = tmp_path / "places.json"
    path.write_text(json.dumps([item]), encoding="utf-8")
    small = Gazetteer.from_json(path)
    assert small.place_ids("село Ікс, Иксе") == {"x"}
    path.write_text(json.dumps([item, item]), encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate"):
        Gazetteer.from_json(path)
    path.write_text(json.dumps([{**item, "kind": "planet"}]), encoding="utf-8")
    with pytest.raises(ValueError, match="kind"):
        Gazetteer.from_json(path)


# -- speed ------------------------------------------------------------------------------------


def _report(words: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    vocab = (
        "the of and to in a that for on with was by Russian forces Ukrainian troops advanced "
        "near city drone strike reported village front positions artillery shelling Russia’s "
        "residents officials attacks repelled logistics road supply fighting according"
    ).split()
    names = ["Pokrovsk", "Myrnohrad,", "Покровську", "Velyka Novosilka", "Avdiivka's", "Progress"]
    return " ".join(rng.choice(names if rng.random() < 0.02 else vocab) for _ in range(words))


# -- properties -------------------------------------------------------------------------------

FRAGMENTS = [
    "Pokrovsk", "Pokrovs'k", "’s", "'s", "Velyka", "Novosilka", "Chasiv", "Yar", "Progress",
    "village", "Покровськ", "у", "а", "ом", "Мирнограді", "Авдіївці", "Красноармейск", "е",
    "Donetsk", "Oblast", "Shevchenko", "shevchenko", "Avdiivka", "Coke", "Plant", "Удачное",
    "Українська", "біля", "T-0504", "ё", "\u0301", " ", "  ", "\n", "-", "—", ",", ".", "x",
    "İ", "ʼ", "_",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join) | st.text(max_size=80))
def test_matches_are_exact_ordered_and_disjoint(text: str) -> None:
    matches = G.find(text)
    previous_end = 0
    for m in matches:
        assert text[m.start : m.end] == m.surface
        assert previous_end <= m.start < m.end
        previous_end = m.end
        assert G.resolve(m.surface) == m.place
