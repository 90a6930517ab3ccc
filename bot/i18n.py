"""The languages the bot speaks in Telegram (English, Ukrainian, Russian) and how it picks one.

The texts live in gettext catalogues, `bot/locale/<lang>/LC_MESSAGES/sectorbot.po`, edited as
plain text and compiled here with Babel the first time a language is needed, in memory: no
build step, no writable cache, the same in an editable install, a wheel and the Docker image.

The language of the update being handled is a context variable: PTB runs each update in its
own task, so chats answered at the same time never see each other's language. Code that builds
text calls `_()`; strings defined at import time are marked with `N_()` and translated where
they are shown.
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "sectorbot"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "uk", "ru")
DEFAULT = "en"
NAMES = {"en": "English", "uk": "Українська", "ru": "Русский"}

_current: ContextVar[str] = ContextVar("sectorbot_language", default=DEFAULT)


def choose(code: str | None) -> str:
    """One of LANGUAGES for a Telegram `language_code` (an IETF tag such as "uk" or "en-GB")."""
    base = (code or "").split("-")[0].split("_")[0].lower()
    return base if base in LANGUAGES else DEFAULT


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of one language (English falls back to the message ids)."""
    path = catalogue_path(lang)
    if lang not in LANGUAGES or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def current() -> str:
    """The language of the update being handled (English outside any)."""
    return _current.get()


@contextmanager
def language(lang: str) -> Iterator[None]:
    """Speak `lang` inside the block."""
    token = _current.set(lang if lang in LANGUAGES else DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


def _(message: str) -> str:
    """`message` in the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message that fits `n` in the current language."""
    return translations(_current.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for the catalogues without translating it yet (module constants)."""
    return message
