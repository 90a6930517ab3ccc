"""The service functions that the CLI and the Telegram bot both call.

Nothing here knows about Telegram or terminals: it takes settings, owns the store and the
index, and returns plain objects (answers, reports, numbers).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sectorbot.bot.alerts.store import AlertStore
from sectorbot.bot.feedback.store import FeedbackStore, RatedAnswer, VoteOutcome
from sectorbot.bot.i18n import language
from sectorbot.bot.preferences.store import PreferencesStore
from sectorbot.bot.settings import Settings
from sectorbot.bot.trend.series import DEFAULT_DAYS, WEEK, Trend, build, window
from sectorbot.bot.trend.text import summary_line
from sectorbot.bot.workers.heartbeat import Heartbeat
from sectorbot.bot.workers.lease import Lease
from sectorbot.bot.workers.ratelimit import StoredLimiter
from sectorbot.bot.workers.store import WorkerStore
from sectorbot.corpus.database import database_errors
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.errors import StoreError
from sectorbot.corpus.fetch import Fetcher
from sectorbot.corpus.ingest import IngestReport, ingest, known_in, reprocess, store_documents
from sectorbot.corpus.loaders.feeds import parse_feed
from sectorbot.corpus.models import Document, ItemFailure
from sectorbot.corpus.store import Store
from sectorbot.corpus.text import one_line, without_surrogates
from sectorbot.index import directions
from sectorbot.index.answer import Answer, compose
from sectorbot.index.claims import ClaimCheck, claim_question, sides
from sectorbot.index.directions import Direction, of_place
from sectorbot.index.embedding import get_embedder
from sectorbot.index.figures import READER as FIGURE_READER
from sectorbot.index.search import Mode, Retriever, SearchResult
from sectorbot.index.vectors import Progress, ReindexResult, VectorIndex

log = logging.getLogger(__name__)
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "corpus" / "sample"
RATE_WINDOW = 60.0  # seconds: the question limit is per minute
STATS_WINDOW = 86400.0  # seconds: `stats` counts the questions of the last day


@dataclass(frozen=True)
class DocumentRow:
    """A report as a list shows it (/sources, /latest): its id, title, publisher, date, link."""

    id: int
    title: str
    source: str
    published: str | None
    url: str | None


@dataclass(frozen=True)
class About:
    """How much the bot knows, from when to when, and the index it answers from (/about)."""

    documents: int
    passages: int
    feeds: int
    first_published: str | None
    last_published: str | None
    last_ingest: str | None
    index_passages: int | None
    index_built: str | None
    index_kind: str | None
    model: str


@dataclass(frozen=True)
class Stats(About):
    """Every number the service keeps (/stats, `sectorbot stats`), in the order shown."""

    backend: str
    index_bytes: int
    last_reindex: str | None
    questions: int
    refusals: int
    answer_p95_ms: float | None
    votes: int
    votes_down: int
    votes_down_share: float | None


@dataclass
class Counters:
    """What this process alone knows: when it last reindexed (answers are counted in the
    store, for every worker)."""

    last_reindex: str | None = None


class Service:
    """One store, one index, one model: what every front end talks to."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.store_target, figures=FIGURE_READER)
        # The alert tables and the inbox trigger exist from the first start, whichever front
        # end opens the store first, so feed documents stored by the CLI alert later too.
        self.alert_store = AlertStore(self.store)
        self.feedback = FeedbackStore(self.store)
        self.preferences = PreferencesStore(self.store)
        # Handled updates, rate-limit windows, the job lease and heartbeats: what several
        # processes on one database share.
        self.workers = WorkerStore(self.store)
        self.embedder = get_embedder(
            settings.embedding_model, settings.embedding_backend, settings.embedding_batch_size
        )
        # On PostgreSQL several workers share the store, and perhaps a data directory: each
        # keeps its index files in a private folder of its own, built from the vectors in
        # the store, rather than files another worker might replace. Gone when it stops.
        self._private_index: Path | None = None
        index_dir = settings.index_dir
        if settings.database_url:
            index_dir = self._private_index = Path(tempfile.mkdtemp(prefix="sectorbot-index-"))
        self.vectors = VectorIndex(
            index_dir, self.store, self.embedder, settings.approx_index_threshold
        )
        self.retriever = Retriever(self.store, self.vectors)
        self.counters = Counters()

    def close(self) -> None:
        self.store.close()
        if self._private_index is not None:
            shutil.rmtree(self._private_index, ignore_errors=True)

    # corpus ----------------------------------------------------------------------------

    def ingest(
        self, targets: Iterable[str], progress: Callable[[str], None] | None = None,
        channel: str | None = None, trusted: bool = True,
    ) -> IngestReport:  # fmt: skip
        """Ingest files, folders and URLs; `trusted=False` for URLs a chat user sent."""
        with Fetcher(self.settings.fetch_timeout, self.settings.max_file_bytes, trusted=trusted,
                     allow_private=self.settings.allow_private_urls) as fetcher:  # fmt: skip
            return ingest(self.store, targets, fetcher, self.settings.max_file_bytes,
                          channel=channel, progress=progress)  # fmt: skip

    def add_posts(self, docs: Iterable[Document | ItemFailure]) -> IngestReport:
        """Store Telegram posts (forwarded or from a channel) and index them at once."""
        report = IngestReport()
        store_documents(self.store, docs, report)
        if report.changed:  # searchable before the bot says "added"
            self.reindex()
        return report

    def add_feed_entries(self, body: bytes, url: str, fetcher: Fetcher) -> IngestReport:
        """Store the entries of a fetched feed, not yet indexed; a teaser entry is fetched in
        full unless it is stored already."""
        report = IngestReport()
        entries = parse_feed(body, url, fetcher, known=known_in(self.store))
        store_documents(self.store, entries, report)
        return report

    def ensure_sample(self) -> IngestReport | None:
        """Load the bundled sample corpus into an empty store."""
        if not self.is_empty():
            return None
        return self.ingest([str(SAMPLE_DIR)])

    def language_of(self, ref: str) -> tuple[str | None, str] | None:
        """(language, title) of the report with this id or URL, for `eval`'s breakdown."""
        return self.store.language_of(ref)

    def is_empty(self) -> bool:
        """Whether the store holds no report at all."""
        return not self.store.has_documents()

    # index -----------------------------------------------------------------------------

    def ensure_index(self, progress: Progress | None = None) -> str | None:
        """Load or repair the indexes; a one-line notice when something had to be fixed."""
        notice = self.vectors.ensure(progress)
        if notice and notice.startswith("index built"):  # a first build: routine, not a repair
            log.info("%s", notice)
            if self.store.dialect == "postgresql":
                # On PostgreSQL every process builds its index from the stored vectors into
                # a private folder at start: saying so on every `ask` would be noise.
                notice = None
        elif notice:
            log.warning("%s", notice)
        read = self.read_figures()  # reports stored before, or by an older reader
        if read:
            log.info("daily figures read from %d stored reports", read)
        lexical = self.retriever.lexical_index.refresh()  # logs its own notice
        return "; ".join(n for n in (notice, lexical) if n) or None

    def index_passages(self) -> int:
        """How many passages the vector index this process serves holds (0 before it loads)."""
        index = self.vectors.index
        return int(index.ntotal) if index is not None else 0

    def passages_in_store(self) -> int:
        """How many passages the store holds: what an index in step would hold."""
        return self.store.chunk_count()

    def passages_marker(self) -> tuple[int, int]:
        """Moves whenever any process stores or deletes passages: the highest passage id
        ever given out, and how many passages there are."""
        return self.store.last_chunk_id_assigned(), self.store.chunk_count()

    def reprocess(self, progress: Progress | None = None) -> tuple[int, ReindexResult]:
        """Stored documents cleaned again (ids kept), then the index brought in step."""
        changed = reprocess(self.store)
        return changed, self.reindex(progress=progress)

    def reindex(self, full: bool = False, progress: Progress | None = None) -> ReindexResult:
        """Embed what has no vector yet and bring the indexes in step; `full` embeds every
        passage again and rebuilds from scratch."""
        result = self.vectors.reindex(full=full, reembed=full, progress=progress)
        self.retriever.lexical_index.settle()
        self.counters.last_reindex = stamp()
        return result

    # questions -------------------------------------------------------------------------

    def sync_index(self) -> None:
        """Take in what other processes stored and embedded since the last question."""
        if self.vectors.sync():
            self.retriever.lexical_index.refresh()

    def search(self, question: str, k: int = 8, mode: Mode = "hybrid") -> SearchResult:
        self.sync_index()
        return self.retriever.search(without_surrogates(question), k=k, mode=mode)

    def ask(self, question: str) -> Answer:
        started = time.perf_counter()
        result = self.search(question)
        answer = compose(result)
        if answer.digest:
            answer.trend_lines = self._trend_lines(result.query_places, answer.language)
        took = time.perf_counter() - started
        try:  # counted in the store, so `stats` sees every worker's questions
            self.feedback.record_time(stamp(), took, refused=not answer.answered)
        except (*database_errors(), StoreError) as exc:  # type: ignore[misc]  # a tuple at run time
            log.warning("answer time not recorded: %s", one_line(str(exc)))
        return answer

    # figures ---------------------------------------------------------------------------

    def read_figures(self) -> int:
        """Read the figures of reports no current reader has read; how many reports."""
        return self.store.figures.catch_up()

    def trend(self, direction: Direction, days: int = DEFAULT_DAYS) -> Trend:
        """A direction's daily counts over the `days` days up to its newest one."""
        span = window(self.store.figures.latest_day(direction.id), days)
        if span is None:
            return Trend(direction, "", "")
        return build(direction, *span, self.store.figures.series(direction.id, *span))

    def followed_direction(self, chat_id: int) -> Direction:
        """The direction a chat's place subscriptions lie in most, else Pokrovsk."""
        places = self.alert_store.subscribed_places(chat_id)
        found = [d for d in (of_place(p) for p in places) if d is not None]
        if not found:
            return directions.DEFAULT
        return max(dict.fromkeys(found), key=found.count)

    def chat_trend_lines(self, chat_id: int, lang: str) -> list[str]:
        """The latest count and the week's change of each direction a chat's places lie in:
        what ends its alert digests."""
        return self._trend_lines(set(self.alert_store.subscribed_places(chat_id)), lang)

    def _trend_lines(self, place_ids: set[str], lang: str) -> list[str]:
        """The latest count and the week's change of each direction the places lie in."""
        found = {d.id: d for d in (of_place(p) for p in sorted(place_ids)) if d is not None}
        lines = []
        with language(lang):
            for direction in found.values():
                line = summary_line(self.trend(direction, days=2 * WEEK))
                if line:
                    lines.append(line)
        return lines

    def recall_answer(self, key: str) -> Answer | None:
        """The answer recorded under `key` (its buttons' key), asked again; None if unknown.

        Another worker, or this one before a restart, gave it: the question is in the store,
        and asking it again gives the same answer unless new reports came in meanwhile.
        """
        question = self.feedback.question(key)
        return None if question is None else compose(self.search(question))

    def check_claim(self, post: str) -> ClaimCheck:
        """What the reports say about a post: its key sentence, places and months asked as a
        question, and each quoted sentence marked as supporting or contradicting the post."""
        post = without_surrogates(post)
        claim = claim_question(post)
        answer = self.ask(claim.question)
        return ClaimCheck(claim, answer, sides(post, answer) if answer.answered else [])

    def sources(self, query: str | None = None, limit: int = 10) -> list[DocumentRow]:
        """Documents matching a query (by title, source or text), or the newest ones."""
        if not query:
            return self.latest(limit)
        result = self.search(query, k=limit)
        return self.documents(h.chunk.document_id for h in result.hits)

    def latest(self, limit: int = 8) -> list[DocumentRow]:
        """The newest documents by publication date (undated last)."""
        return [_document_row(row) for row in self.store.newest_documents(limit)]

    def documents(self, doc_ids: Iterable[int]) -> list[DocumentRow]:
        """Documents by id, in the order given (unknown ids left out)."""
        return [_document_row(row) for row in self.store.document_rows(doc_ids)]

    def passages(self, chunk_ids: Iterable[int]) -> dict[int, str]:
        """The text of the given passages by id."""
        return {cid: chunk.text for cid, chunk in self.store.chunks_by_ids(chunk_ids).items()}

    def about(self) -> About:
        """The corpus's size and dates, the feeds followed, and the index and model in use."""
        counts, manifest = self.store.counts(), self.vectors.info()
        return About(
            documents=counts["documents"],
            passages=counts["chunks"],
            feeds=self.alert_store.counts()["feeds"],
            first_published=counts["first_published"],
            last_published=counts["last_published"],
            last_ingest=counts["last_ingest"],
            index_passages=manifest.get("count"),
            index_built=manifest.get("built"),
            index_kind=manifest.get("kind"),
            model=self.embedder.model_id,
        )

    # feedback --------------------------------------------------------------------------

    def record_answer(self, answer: Answer) -> str:
        """Keep an answer for votes; the key its 👍/👎 buttons carry."""
        cited = {s.document_id: s.ext_id or s.url for s in answer.sources}
        refs = [ref for ref in cited.values() if ref]
        rated = RatedAnswer(without_surrogates(answer.question), list(cited), refs)
        return self.feedback.record_answer(rated, stamp())

    def vote(self, key: str, user_id: int, up: bool) -> VoteOutcome | None:
        """One user's 👍 (up) or 👎 on an answer; None when the key names no answer."""
        return self.feedback.vote(key, user_id, 1 if up else -1, stamp())

    def disliked_questions(self) -> list[dict[str, Any]]:
        """The 👎 answers as `sectorbot eval` questions, each question and citation set once."""
        seen: set[tuple[str, tuple[str, ...]]] = set()
        items = []
        for rated in self.feedback.disliked():
            key = (rated.question, tuple(rated.refs))
            if key in seen or not rated.refs:
                continue
            seen.add(key)
            # `answer` is left for the operator to fill in with what the reports really say.
            items.append({"q": rated.question, "ids": rated.refs, "answer": ""})
        return items

    # chats -----------------------------------------------------------------------------

    def chat_language(self, chat_id: int) -> str | None:
        """The language a chat chose with /language, or None (each user's own)."""
        return self.preferences.chat_language(chat_id)

    def set_chat_language(self, chat_id: int, language: str | None) -> None:
        self.preferences.set_chat_language(chat_id, language, stamp())

    def stats(self) -> Stats:
        """What /about shows, and the backend, index size, questions and votes."""
        day = self.feedback.answer_times(stamp(time.time() - STATS_WINDOW))
        return Stats(
            **asdict(self.about()),
            backend=self.store.dialect,
            index_bytes=self._index_bytes(),
            last_reindex=self.counters.last_reindex or self.vectors.info().get("built"),
            questions=day.questions,
            refusals=day.refusals,
            answer_p95_ms=day.p95_ms,
            **self.feedback.counts(),
        )

    # workers ---------------------------------------------------------------------------
    # What several processes on one database share, through the worker tables.

    def claim_update(self, update_id: int, holder: str) -> bool:
        """Whether this process (`holder`) is the first to take the update on."""
        return self.workers.claim_update(update_id, holder, stamp())

    def accept_update(self, update_id: int, holder: str, body: str) -> bool:
        """Claim an update and keep its JSON until it is handled (`finish_update`): what a
        webhook worker does before it acknowledges the update; False when taken already."""
        return self.workers.claim_update(update_id, holder, stamp(), body)

    def finish_update(self, update_id: int) -> None:
        """The update was handled: no other worker takes it over."""
        self.workers.finish_update(update_id, stamp())

    def take_over_updates(self, holder: str, silent_for: float) -> list[tuple[int, str]]:
        """The accepted, unhandled updates of processes silent for `silent_for` seconds, now
        claimed by `holder`: (update id, JSON) each."""
        now = time.time()
        return self.workers.take_over_updates(holder, stamp(now), stamp(now - silent_for))

    def rate_limiter(self, per_minute: int) -> StoredLimiter:
        """The per-user question limit, counted in the store so every worker shares it."""
        return StoredLimiter(self.workers, per_minute, RATE_WINDOW)

    def job_lease(self, holder: str, ttl: float) -> Lease:
        """This process's claim on the job lease (not taken yet)."""
        return Lease(self.workers, holder, ttl)

    def heartbeat(self, holder: str, role: str) -> Heartbeat:
        """The beats of this process in the `workers` table."""
        return Heartbeat(self, self.workers, holder, role)

    def _index_bytes(self) -> int:
        """The vector index's files, or its vectors in memory where it has no files."""
        if self.vectors.directory is None:
            index = self.vectors.index
            return int(index.ntotal * index.d * 4) if index is not None else 0
        return _size(self.vectors.directory)


def _document_row(row: dict[str, Any]) -> DocumentRow:
    return DocumentRow(row["id"], row["title"], row["source"], row["published"], row["url"])


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("*.faiss")) if directory.exists() else 0
