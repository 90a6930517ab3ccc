"""Ukrainian, English and Russian: the catalogues, and whole conversations through the fake
Bot API with the real PTB stack, for users whose Telegram speaks uk, ru, en and de."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from sectorbot.bot.alerts.digest import render_digest
from sectorbot.bot.alerts.outbox import PendingAlert
from sectorbot.bot.i18n import LANGUAGES, LOCALE_DIR, _, catalogue_path, choose, language
from sectorbot.bot.service import Service
from tests.conftest import ROOT
from tests.fakebotapi import BOT_USERNAME, FakeBotAPI, parse_formatted_text
from tests.test_feedback import press
from tests.test_telegram import ADMIN, LITHIUM, OUT_OF_SCOPE, assert_clean, buttons, running, say

UK, RU, EN, DE, MEMBER = 3001, 3002, 3003, 3004, 3005
GROUP = -1009876543210
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_MARKUP = re.compile(r"</?[a-z]+>|&[a-z]+;")


def source_messages() -> dict[str | tuple[str, ...], int]:
    """Every message id the code marks, with the line it is on (for the failure message)."""
    found = extract_from_dir(str(ROOT / "bot"), keywords=KEYWORDS, comment_tags=())
    return {msgid: line for _, line, msgid, _, _ in found}


def test_every_message_is_translated_in_every_catalogue() -> None:
    marked = source_messages()
    assert len(marked) > 100
    for lang in LANGUAGES:
        with catalogue_path(lang).open("rb") as po:
            catalogue = read_po(po, locale=lang)
        plural_forms = catalogue.num_plurals
        for msgid in marked:
            entry = catalogue.get(msgid)
            assert entry is not None, f"{lang}: no entry for {msgid!r}"
            assert not entry.fuzzy, f"{lang}: fuzzy entry for {msgid!r}"
            forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            if isinstance(msgid, tuple):
                assert len(forms) == plural_forms, f"{lang}: plural forms of {msgid!r}"
            assert all(forms), f"{lang}: no translation for {msgid!r}"
            source = msgid[-1] if isinstance(msgid, tuple) else msgid
            for form in forms:  # a lost {name} or tag would break .format() or the HTML
                assert set(_PLACEHOLDER.findall(form)) <= set(_PLACEHOLDER.findall(source))
                assert sorted(_MARKUP.findall(form)) == sorted(_MARKUP.findall(source)), form
        unused = [m.id for m in catalogue if m.id and m.id not in marked]
        assert not unused, f"{lang}: entries no code uses: {unused}"


def test_only_the_three_catalogues_ship() -> None:
    assert sorted(p.name for p in LOCALE_DIR.iterdir() if p.is_dir()) == sorted(LANGUAGES)


@pytest.mark.parametrize(
    ("code", "chosen"),
    [("uk", "uk"), ("uk-UA", "uk"), ("ru", "ru"), ("en-GB", "en"), ("de", "en"), (None, "en")],
)
def test_language_from_telegram_code(code: str | None, chosen: str) -> None:
    assert choose(code) == chosen


def test_alert_framing_and_dates_in_the_chat_language() -> None:
    alerts = [
        PendingAlert(n, -1, n, "Мирноград (місце)", "", 0, "Title", "ISW", "2025-02-01", None)
        for n in range(1, 3)
    ]
    with language("uk"):
        (text, ids), *_rest = render_digest(alerts)
    assert ids == [1, 2] and "2 нові звіти" in text and "1 лют. 2025" in text
    assert "Збіг: Мирноград (місце)" in text
    parse_formatted_text(text, "HTML")
    with language("ru"):
        (text, _ids), *_rest = render_digest(alerts[:1])
    assert "1 новое сообщение" in text and "1 февр. 2025" in text


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        api.add_private_chat(ADMIN, "Ada", "ada")
        for uid, name, code in [(UK, "Oksana", "uk"), (RU, "Ivan", "ru"), (EN, "Emma", "en"),
                                (DE, "Dieter", "de"), (MEMBER, "Mykola", "uk")]:  # fmt: skip
            api.add_private_chat(uid, name, name.lower(), language_code=code)
        api.add_group(GROUP, "Покровськ", {UK: "administrator", EN: "member", MEMBER: "member"})
        yield api
    assert api.internal_errors == []


async def test_each_user_gets_their_language_and_quotes_stay_in_theirs(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service):
        hello = {uid: (await say(fake, uid, uid, "/start")).plain_text for uid in (UK, RU, EN, DE)}
        assert hello[UK].startswith("Вітаю!") and "Хто захопив родовище літію" in hello[UK]
        assert hello[RU].startswith("Здравствуйте!") and "/ask" in hello[RU]
        assert hello[EN].startswith("Hello!") and hello[DE] == hello[EN]

        helped = await say(fake, UK, UK, "/help")
        assert "Як користуватися ботом" in helped.plain_text
        assert "/language — Мова, якою я пишу в цьому чаті" in helped.plain_text

        answer = await say(fake, UK, UK, LITHIUM)
        assert list(buttons(answer)) == ["Джерела", "Ще", "👍", "👎"]
        assert "Джерела" in answer.plain_text
        # The quoted sentences are the reports' own words, in the reports' language.
        assert "lithium" in answer.plain_text and "Shevchenko" in answer.plain_text
        sources = await press(fake, UK, UK, answer.message_id, buttons(answer)["Джерела"])
        assert sources.params.get("text") is None
        full = await fake.wait_for_async(
            lambda c: (
                c.method == "sendMessage" and c.chat_id == UK and c.message_id > answer.message_id
            )
        )
        assert full.plain_text.startswith("Джерела цієї відповіді")
        vote = await press(fake, UK, UK, answer.message_id, buttons(answer)["👎"])
        assert vote.params["text"].startswith("Дякую!")

        refusal = await say(fake, RU, RU, OUT_OF_SCOPE)
        assert refusal.plain_text.startswith("Не знаю:") and "/sources" in refusal.plain_text
        unknown = await say(fake, RU, RU, "/frobnicate")
        assert unknown.plain_text.startswith("Я не знаю команды /frobnicate")
        blank = await say(fake, DE, DE, "?!")
        assert blank.plain_text.startswith("Please send me a question")
    assert_clean(fake)


async def test_language_command_per_chat_and_menus(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    async with running(fake, sample_service):
        shown = await say(fake, UK, UK, "/language")
        assert "мовою Telegram кожного" in shown.plain_text and "/language ru" in shown.plain_text
        chosen = await say(fake, UK, UK, "/language ru")
        assert chosen.plain_text == "Теперь в этом чате я пишу на языке: Русский."
        assert (await say(fake, UK, UK, "/start")).plain_text.startswith("Здравствуйте!")
        back = await say(fake, UK, UK, "/language auto")
        assert back.plain_text.startswith("Відтепер")
        assert (await say(fake, UK, UK, "/start")).plain_text.startswith("Вітаю!")

        # In a group only its administrators choose; then everyone there reads that language.
        refused = await say(fake, GROUP, MEMBER, f"/language@{BOT_USERNAME} en")
        assert refused.plain_text == "Змінювати мову групи можуть лише її адміністратори."
        await say(fake, GROUP, UK, "/language uk")
        asked = await say(fake, GROUP, EN, f"/ask {LITHIUM}")
        assert list(buttons(asked))[:2] == ["Джерела", "Ще"]
    assert sample_service.chat_language(GROUP) == "uk"
    assert sample_service.chat_language(UK) is None

    menus = {code: fake.commands_for(language_code=code) for code in ("", "en", "uk", "ru")}
    described = {code: {c["command"]: c["description"] for c in menu or []}
                 for code, menu in menus.items()}  # fmt: skip
    assert described[""] == described["en"]
    assert described["en"]["ask"] == "Ask a question about the Pokrovsk sector"
    assert described["uk"]["ask"] == "Поставити запитання про Покровський напрямок"
    assert described["ru"]["ask"] == "Задать вопрос о Покровском направлении"
    assert set(described["uk"]) == set(described["en"]) == set(described["ru"])
    admin_menu = fake.commands_for({"type": "chat", "chat_id": ADMIN}, language_code="uk")
    assert {c["command"] for c in admin_menu or []} >= {"reindex", "stats"}
    assert_clean(fake)


def test_english_is_the_message_ids_and_other_languages_differ() -> None:
    with language("en"):
        english = _("The newest reports")
    with language("uk"):
        ukrainian = _("The newest reports")
    with language("ru"):
        russian = _("The newest reports")
    assert english == "The newest reports" and len({english, ukrainian, russian}) == 3
    assert Path(catalogue_path("uk")).suffix == ".po"


def test_no_translation_hides_inside_an_f_string() -> None:
    # Babel's extractor does not look inside f-strings: `f"{_('x')}"` would ship untranslated
    # and the catalogue test above would never know.
    hidden = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "bot").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\{_\(|\{ngettext\(", line)
    ]
    assert not hidden


async def test_the_answer_lead_line_is_in_the_readers_language(
    fake: FakeBotAPI, sample_service: Service
) -> None:
    digest_uk = "Найновіші звіти про це місце, від найновішого:"
    async with running(fake, sample_service):
        # A Ukrainian chat asking in English still reads the answer's own lines in Ukrainian.
        asked = await say(fake, UK, UK, "What is happening in Myrnohrad?")
        assert asked.plain_text.startswith(digest_uk) and "Джерела" in asked.plain_text
        # An English-speaking Telegram asking in Ukrainian reads the question's language.
        asked = await say(fake, EN, EN, "Що відбувається в Мирнограді?")
        assert asked.plain_text.startswith(digest_uk)
        asked = await say(fake, RU, RU, "Что происходит в Мирнограде?")
        assert asked.plain_text.startswith("Новейшие сообщения об этом месте")
        asked = await say(fake, EN, EN, "What is happening in Myrnohrad?")
        assert asked.plain_text.startswith("The newest reports on this place, newest first:")
        # A refusal for a named time, and what the reports do say, in the chat's language.
        asked = await say(fake, UK, UK, "Скільки людей залишалося в Покровську восени 2023?")
        assert asked.plain_text.startswith("Звіти, які я маю, не кажуть цього про названий час "
                                           "(восени 2023). Ось що в них є:")  # fmt: skip
        assert "Джерела" in asked.plain_text and not buttons(asked)
        # A chat that chose English keeps it whatever the question's language.
        await say(fake, UK, UK, "/language en")
        asked = await say(fake, UK, UK, "Що відбувається в Мирнограді?")
        assert asked.plain_text.startswith("The newest reports on this place")
    assert_clean(fake)
