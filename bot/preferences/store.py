"""All SQL of the per-chat preferences: the language a chat chose."""

from __future__ import annotations

from sectorbot.bot.preferences import migrations
from sectorbot.corpus.health import Check
from sectorbot.corpus.store import Store

_SET = (
    "INSERT INTO chat_languages (chat_id, language, updated) VALUES (?, ?, ?) "
    "ON CONFLICT (chat_id) DO UPDATE SET language = excluded.language, updated = excluded.updated"
)


class PreferencesStore:
    """The preference tables of one corpus store."""

    def __init__(self, corpus: Store) -> None:
        self.corpus = corpus
        with corpus.lock:
            migrations.MIGRATIONS.apply(corpus.db)

    def chat_language(self, chat_id: int) -> str | None:
        """The language a chat chose, or None when it follows each user's own."""
        value = self.corpus.db.scalar(
            "SELECT language FROM chat_languages WHERE chat_id = ?", [chat_id]
        )
        return str(value) if value is not None else None

    def set_chat_language(self, chat_id: int, language: str | None, when: str) -> None:
        """Keep a chat's language; None goes back to each user's own."""
        with self.corpus.transaction():
            if language is None:
                self.corpus.db.execute("DELETE FROM chat_languages WHERE chat_id = ?", [chat_id])
            else:
                self.corpus.db.execute(_SET, [chat_id, language, when])

    def health(self) -> list[Check]:
        """The "preferences" check: how many chats chose a language of their own."""
        chosen = int(self.corpus.db.scalar("SELECT count(*) FROM chat_languages") or 0)
        return [Check("preferences", "OK", f"{chosen} chats chose a language")]
