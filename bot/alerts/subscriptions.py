"""Chat subscriptions to places, keywords and topics: parsing, limits, rights and replies.

`/subscribe Myrnohrad, Selydove` / `/subscribe lithium deposit` /
`/subscribe topic: drone strikes on logistics`. Each comma-separated item becomes

* a **place** when the gazetteer resolves it (any spelling: Latin or Cyrillic, a case form,
  a former name such as Dimitrov or Красноармейск), stored as the place id;
* a **keyword** of one to three words otherwise, stored folded (lower case, ё as е, one
  apostrophe);
* a **topic** when it has more than three words, or when written `topic: ...`; a topic is
  stored with its embedding. Everything after `topic:` is one topic, commas included.

Nothing here knows about Telegram: the front end passes chat ids, user ids and text in and
sends the returned text (Telegram HTML, escaped) back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sectorbot.bot.alerts.store import AlertStore, ChatRef, NewSubscription
from sectorbot.bot.i18n import N_, _, ngettext
from sectorbot.bot.markup import escape
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.text import fold
from sectorbot.index.gazetteer import Gazetteer

if TYPE_CHECKING:
    from sectorbot.index.embedding import Embedder

Kind = Literal["place", "keyword", "topic"]

MAX_SUBSCRIPTIONS = 50  # per chat: keeps one chat's alerts readable and matching cheap
MAX_ITEM_CHARS = 100
MAX_KEYWORD_WORDS = 3
MIN_KEYWORD_LETTERS = 3  # "a" or "of" would match nearly every report
MAX_DIGEST_HOURS = 24
NO_SUBSCRIPTIONS = N_("This chat has no subscriptions.")
MANAGER_STATUSES = frozenset({"creator", "administrator"})

_SEPARATORS = re.compile(r"[,;\n]")
_TOPIC_PREFIX = re.compile(r"^\s*topic\s*:\s*", re.IGNORECASE)
_TOPIC_ANYWHERE = re.compile(r"(?:^|[,;\n])\s*topic\s*:", re.IGNORECASE)
# A keyword's word keeps its inner apostrophes (Ukrainian сім'я, English o'clock): the
# keyword pattern then asks for the apostrophe too, where `corpus.text.WORD_RE` would split.
WORD_WITH_APOSTROPHES_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_QUIET_RE = re.compile(
    r"^(\d{1,2})(?::00)?\s*-\s*(\d{1,2})(?::00)?(?:\s*(?:utc)?\s*([+-]\d{1,2})(?::?(\d{2}))?)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Item:
    """One parsed subscription: what the user typed and what matching will use."""

    kind: Kind
    value: str
    normalized: str
    label: str  # how replies and alerts name it


@dataclass(frozen=True)
class ItemProblem:
    """An item that could not become a subscription, and why (one line)."""

    text: str
    reason: str


@dataclass(frozen=True)
class Subscription:
    """A stored subscription row."""

    id: int
    chat_id: int
    kind: Kind
    value: str
    normalized: str
    created: str
    created_by: int | None

    @property
    def label(self) -> str:
        """How replies and alerts name the subscription."""
        return describe(self.kind, self.value, self.normalized)


@dataclass
class SubscribeResult:
    """What one /subscribe did, item by item."""

    added: list[Item] = field(default_factory=list)
    existing: list[Item] = field(default_factory=list)
    problems: list[ItemProblem] = field(default_factory=list)
    over_limit: list[Item] = field(default_factory=list)
    total: int = 0

    def message(self) -> str:
        """The reply, as Telegram HTML."""
        lines = []
        if self.added:
            lines.append(_("Subscribed to {items}.").format(items=_joined(self.added)))
        if self.existing:
            lines.append(_("Already subscribed: {items}.").format(items=_joined(self.existing)))
        for problem in self.problems:
            text = _("Skipped “{item}”: {reason}")
            lines.append(text.format(item=escape(problem.text), reason=escape(problem.reason)))
        if self.over_limit:
            text = _(
                "Not added (this chat has reached {limit} subscriptions): {items}. "
                "Remove some with /unsubscribe first."
            )
            lines.append(text.format(limit=MAX_SUBSCRIPTIONS, items=_joined(self.over_limit)))
        if not lines:
            return usage()
        text = ngettext(
            "This chat now has {n} subscription.",
            "This chat now has {n} subscriptions.",
            self.total,
        )
        lines.append(text.format(n=self.total))
        return "\n".join(lines)


def usage() -> str:
    """How to use /subscribe, as Telegram HTML."""
    return _(
        "Usage:\n"
        "/subscribe Myrnohrad, Selydove — places (any spelling, e.g. Мирноград)\n"
        "/subscribe lithium deposit — a keyword of 1–3 words\n"
        "/subscribe topic: drone strikes on logistics — a topic, matched by meaning\n"
        "/subscriptions lists them, /unsubscribe 2 or /unsubscribe all removes them."
    )


# text ------------------------------------------------------------------------------------


def keyword_words(text: str) -> list[str]:
    """The folded words of a keyword or an item."""
    return WORD_WITH_APOSTROPHES_RE.findall(fold(text))


def describe(kind: str, value: str, normalized: str) -> str:
    """A subscription as people read it, HTML-escaped: `Myrnohrad (place)`."""
    if kind == "place":
        try:
            name = Gazetteer.default().by_id(normalized).name
        except KeyError:
            name = value
        return _("{name} (place)").format(name=escape(name))
    if kind == "keyword":
        return _("“{keyword}” (keyword)").format(keyword=escape(value))
    return _("topic “{topic}”").format(topic=escape(value))


# parsing ---------------------------------------------------------------------------------


def split_items(text: str) -> list[str]:
    """Comma-separated items; everything after `topic:` is one item, commas included."""
    text = text.strip()
    found = _TOPIC_ANYWHERE.search(text)
    head, topic = (text[: found.start()], text[found.start() :]) if found else (text, "")
    items = [part.strip() for part in _SEPARATORS.split(head)]
    if topic:
        items.append(topic.strip(" ,;\n"))
    return [item for item in items if item]


def parse_item(text: str, gazetteer: Gazetteer) -> Item | ItemProblem:
    """Turn one item into a place, keyword or topic subscription (see module doc)."""
    raw = " ".join(text.split())
    explicit_topic = _TOPIC_PREFIX.match(raw)
    body = raw[explicit_topic.end() :].strip() if explicit_topic else raw
    if len(body) > MAX_ITEM_CHARS:
        return ItemProblem(_short(raw), _("longer than {n} characters").format(n=MAX_ITEM_CHARS))
    words = keyword_words(body)
    if not words:
        return ItemProblem(_short(raw), _("no words in it"))
    if not explicit_topic:
        place = gazetteer.resolve(body)
        if place is not None:
            return Item("place", body, place.id, describe("place", body, place.id))
    if explicit_topic or len(words) > MAX_KEYWORD_WORDS:
        return Item("topic", body, " ".join(words), describe("topic", body, ""))
    if sum(len(w) for w in words) < MIN_KEYWORD_LETTERS:
        text = _("a keyword needs at least {n} letters")
        return ItemProblem(raw, text.format(n=MIN_KEYWORD_LETTERS))
    normalized = " ".join(words)
    return Item("keyword", body, normalized, describe("keyword", body, normalized))


def parse_items(text: str, gazetteer: Gazetteer) -> tuple[list[Item], list[ItemProblem]]:
    """All items of a /subscribe argument, duplicates dropped."""
    items: dict[tuple[str, str], Item] = {}
    problems = []
    for part in split_items(text):
        parsed = parse_item(part, gazetteer)
        if isinstance(parsed, ItemProblem):
            problems.append(parsed)
        else:
            items.setdefault((parsed.kind, parsed.normalized), parsed)
    return list(items.values()), problems


# rights ----------------------------------------------------------------------------------


def may_manage(
    chat_type: str, user_id: int | None, member_status: str | None, admin_ids: Iterable[int]
) -> bool:
    """Whether this user may change the chat's subscriptions."""
    if user_id is not None and user_id in set(admin_ids):
        return True  # bot admins manage every chat
    if chat_type == "private":
        return True  # a private chat is the user's own
    return member_status in MANAGER_STATUSES


def needs_member_check(chat_type: str, user_id: int | None, admin_ids: Iterable[int]) -> bool:
    """Whether `may_manage` needs the user's status in the chat (a getChatMember call)."""
    return chat_type != "private" and not (user_id is not None and user_id in set(admin_ids))


# subscribing and unsubscribing -----------------------------------------------------------


def subscribe(
    store: AlertStore,
    embedder: Embedder | None,
    chat: ChatRef,
    user_id: int | None,
    text: str,
    gazetteer: Gazetteer | None = None,
) -> SubscribeResult:
    """Parse and store the items of one /subscribe; topics are embedded before the write."""
    items, problems = parse_items(text, gazetteer or Gazetteer.default())
    result = SubscribeResult(problems=problems)
    if not items:
        result.total = store.subscription_count(chat.chat_id)
        return result
    vectors = _topic_vectors(embedder, [i for i in items if i.kind == "topic"])
    new = [
        NewSubscription(i.kind, i.value, i.normalized, *vectors.get(i.normalized, (None, None)))
        for i in items
    ]
    outcomes, result.total = store.add_subscriptions(chat, new, user_id, MAX_SUBSCRIPTIONS, stamp())
    lists = {"added": result.added, "existing": result.existing, "over_limit": result.over_limit}
    for item, outcome in zip(items, outcomes, strict=True):
        lists[outcome].append(item)
    return result


def _topic_vectors(embedder: Embedder | None, topics: list[Item]) -> dict[str, tuple[bytes, str]]:
    """normalized topic -> (float32 vector bytes, model id)."""
    if not topics:
        return {}
    if embedder is None:
        raise ValueError("topic subscriptions need the embedding model")
    vectors = embedder.encode_queries([t.value for t in topics])
    return {
        t.normalized: (np.asarray(v, dtype=np.float32).tobytes(), embedder.model_id)
        for t, v in zip(topics, vectors, strict=True)
    }


def list_subscriptions(store: AlertStore, chat_id: int) -> list[Subscription]:
    """The chat's subscriptions in the order /subscriptions numbers them."""
    return [Subscription(**row) for row in store.subscriptions(chat_id)]


def format_list(store: AlertStore, chat_id: int) -> str:
    """The /subscriptions reply, as Telegram HTML."""
    subs = list_subscriptions(store, chat_id)
    if not subs:
        return _(NO_SUBSCRIPTIONS) + "\n\n" + usage()
    lines = [f"{n}. {s.label}" for n, s in enumerate(subs, 1)]
    settings = store.chat(chat_id)
    if settings.get("digest_hours"):
        text = _("Digest: at most one message every {hours} h.")
        lines.append("\n" + text.format(hours=settings["digest_hours"]))
    if settings.get("quiet_start") is not None:
        lines.append(_("Quiet hours: {hours}.").format(hours=quiet_label(settings)))
    return "\n".join(lines)


def unsubscribe(store: AlertStore, chat_id: int, arg: str) -> str:
    """Remove subscriptions by number (`2`, `1 3`), by what was typed, or `all`."""
    arg = arg.strip()
    subs = list_subscriptions(store, chat_id)
    if not arg:
        return _("Usage: /unsubscribe &lt;number&gt; (see /subscriptions) or /unsubscribe all")
    if not subs:
        return _(NO_SUBSCRIPTIONS)
    chosen, problem = _choose(subs, arg)
    if problem:
        return escape(problem)
    store.remove_subscriptions(chat_id, [s.id for s in chosen])
    left = len(subs) - len(chosen)
    text = ngettext(
        "Removed {items}. {n} subscription left.", "Removed {items}. {n} subscriptions left.", left
    )
    return text.format(items=_joined(chosen), n=left)


def _choose(subs: list[Subscription], arg: str) -> tuple[list[Subscription], str | None]:
    """The subscriptions an /unsubscribe argument names, or a reason it names none."""
    if arg.lower() == "all":
        return subs, None
    parts = re.split(r"[\s,]+", arg)
    if all(p.isdigit() for p in parts):
        numbers = sorted({int(p) for p in parts})
        bad = [n for n in numbers if not 1 <= n <= len(subs)]
        if bad:
            text = _("No subscription number {n}: this chat has 1 to {last}.")
            return [], text.format(n=bad[0], last=len(subs))
        return [subs[n - 1] for n in numbers], None
    wanted = fold(" ".join(arg.split()))
    place = Gazetteer.default().resolve(arg)
    hits = [
        s
        for s in subs
        if fold(s.value) == wanted or (place is not None and s.normalized == place.id)
    ]
    if not hits:
        text = _("No subscription “{item}” here; see /subscriptions for the numbers.")
        return [], text.format(item=arg)
    return hits, None


# delivery preferences --------------------------------------------------------------------


def set_digest(store: AlertStore, chat: ChatRef, arg: str) -> str:
    """`/digest 6`: at most one message every 6 hours; `/digest off`: send as they come."""
    arg = arg.strip().lower().removesuffix("h").strip()
    if arg in ("off", "0", "no"):
        hours = 0
    elif arg.isdigit() and 1 <= int(arg) <= MAX_DIGEST_HOURS:
        hours = int(arg)
    else:
        return _(
            "Usage: /digest &lt;hours 1–{max}&gt; to get at most one message per that many hours, "
            "or /digest off to get alerts as they come."
        ).format(max=MAX_DIGEST_HOURS)
    store.update_chat(chat, {"digest_hours": hours}, stamp())
    if not hours:
        return _("Digest off: alerts are sent as they come.")
    return _("Digest on: at most one alert message every {hours} h.").format(hours=hours)


def set_quiet(store: AlertStore, chat: ChatRef, arg: str) -> str:
    """`/quiet 23-7` (UTC, or `23-7 +2` for UTC+2): alerts wait until quiet hours end."""
    arg = arg.strip()
    if arg.lower() in ("off", "no", "none"):
        store.update_chat(chat, {"quiet_start": None, "quiet_end": None, "utc_offset": 0}, stamp())
        return _("Quiet hours off.")
    parsed = parse_quiet(arg)
    if parsed is None:
        return _(
            "Usage: /quiet 23-7 (hours in UTC; alerts wait until the quiet hours end), "
            "/quiet 23-7 +2 for hours in UTC+2, or /quiet off."
        )
    start, end, offset = parsed
    store.update_chat(chat, {"quiet_start": start, "quiet_end": end, "utc_offset": offset}, stamp())
    return _("Quiet hours set: {hours}.").format(hours=quiet_label(store.chat(chat.chat_id)))


def parse_quiet(arg: str) -> tuple[int, int, int] | None:
    """(start hour, end hour, offset in minutes) from `23-7`, `23-7 +2`, `22:00-06:00 UTC-5`."""
    m = _QUIET_RE.match(arg.strip())
    if not m:
        return None
    start, end = int(m.group(1)), int(m.group(2))
    sign = -1 if (m.group(3) or "").startswith("-") else 1
    offset = sign * (abs(int(m.group(3) or 0)) * 60 + int(m.group(4) or 0))
    if start > 23 or end > 23 or start == end or not -14 * 60 <= offset <= 14 * 60:
        return None
    return start, end, offset


def quiet_label(row: dict[str, Any]) -> str:
    """`23:00–07:00 UTC` or `23:00–07:00 UTC+2`."""
    offset = int(row.get("utc_offset") or 0)
    zone = "UTC"
    if offset:
        sign = "-" if offset < 0 else "+"
        hours, minutes = divmod(abs(offset), 60)
        zone += f"{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
    return f"{row['quiet_start']:02d}:00–{row['quiet_end']:02d}:00 {zone}"


# helpers ---------------------------------------------------------------------------------


def _joined(items: Iterable[Item | Subscription]) -> str:
    return ", ".join(item.label for item in items)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
