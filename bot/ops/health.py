"""The stored state's health: each feature asked about what it owns, its stores opened once.

`doctor` calls `stored_health` and opens nothing itself. Nothing here migrates or repairs:
the SQLite file is read as it is (`DatabaseFile`), the backend and the workers' tables
through a bare `Database`, and the indexes through a `Store` only when no migration is
pending, since opening a `Store` applies them.
"""

from __future__ import annotations

import time

from sectorbot.bot.alerts import health as alerts_health
from sectorbot.bot.alerts import migrations as alert_migrations
from sectorbot.bot.alerts.store import AlertStore
from sectorbot.bot.feedback import migrations as feedback_migrations
from sectorbot.bot.feedback.store import FeedbackStore
from sectorbot.bot.preferences import migrations as preference_migrations
from sectorbot.bot.preferences.store import PreferencesStore
from sectorbot.bot.settings import Settings
from sectorbot.bot.workers import health as workers_health
from sectorbot.bot.workers import migrations as worker_migrations
from sectorbot.corpus import migrations
from sectorbot.corpus.database import open_database
from sectorbot.corpus.database_file import DatabaseFile
from sectorbot.corpus.dates import stamp
from sectorbot.corpus.health import Check, guarded_all
from sectorbot.corpus.store import Store

# Every migration set this version applies, in the order the stores open: the corpus's, then
# each feature's.
MIGRATION_SETS = (
    migrations.MIGRATIONS,
    alert_migrations.MIGRATIONS,
    feedback_migrations.MIGRATIONS,
    preference_migrations.MIGRATIONS,
    worker_migrations.MIGRATIONS,
)
DAY = 86400.0
NOT_CHECKED = "not checked while migrations are pending (see database)"


def known_migrations() -> list[tuple[str, str]]:
    """(set, name) of every migration this version applies, in order."""
    return [(m.name, name) for m in MIGRATION_SETS for name in m.names()]


def stored_health(settings: Settings, quick: bool) -> list[Check]:
    """database, backend, workers, index, lexical and (unless quick) feeds, as far as the
    state allows: nothing past a database that failed, no index on PostgreSQL."""
    database = guarded_all(["database"], lambda: database_health(settings, quick))
    if database[0].status == "FAIL":
        return database
    checks = list(database)
    # A SQLite file left from before a move to PostgreSQL is not what this setup uses.
    on_file = not settings.database_url and settings.db_path.is_file()
    if settings.database_url or on_file:
        checks += guarded_all(["backend", "workers"], lambda: backend_health(settings))
    if on_file:
        checks += guarded_all(["index", "lexical"], lambda: opened_store_health(settings, quick))
        if not quick:
            checks += guarded_all(["feeds"], lambda: feeds_health(settings))
    return checks


def database_health(settings: Settings, quick: bool) -> list[Check]:
    if settings.database_url:
        return [Check("database", "OK", "on PostgreSQL (SECTORBOT_DATABASE_URL): see backend")]
    if not settings.db_path.exists():
        detail = "no database yet: `sectorbot run` loads the sample, `ingest` adds more"
        return [Check("database", "WARN", detail)]
    return DatabaseFile(settings.db_path).health(quick, known_migrations())


def backend_health(settings: Settings) -> list[Check]:
    """Which database the store is on, and who works on it (opened, never migrated)."""
    db = open_database(settings.store_target)  # StoreError (unreachable) fails both checks
    try:
        return [
            *guarded_all(["backend"], db.health),
            *guarded_all(["workers"], lambda: workers_health.health(db, settings.poll_tick)),
        ]
    finally:
        db.close()


def opened_store_health(settings: Settings, quick: bool) -> list[Check]:
    """What needs the store open: the vector and lexical indexes against it (SQLite: the
    index is on disk), then what the stores say of themselves."""
    # Imported here: faiss and the model code load only when there is an index to check.
    from sectorbot.index.embedding import get_embedder
    from sectorbot.index.health import lexical_health, vector_health
    from sectorbot.index.vectors import VectorIndex

    if DatabaseFile(settings.db_path).opening_would_change(known_migrations()):
        # Opening the store would migrate it or rewrite its record, and a health check
        # changes nothing.
        return [Check("index", "WARN", NOT_CHECKED), Check("lexical", "WARN", NOT_CHECKED)]
    store = Store(settings.db_path)
    try:
        embedder = get_embedder(  # not loaded: a quick check reads no vectors of questions
            settings.embedding_model, settings.embedding_backend, settings.embedding_batch_size
        )
        vectors = VectorIndex(settings.index_dir, store, embedder, settings.approx_index_threshold)
        return [
            *guarded_all(["index"], lambda: vector_health(vectors, quick)),
            *guarded_all(["lexical"], lambda: lexical_health(store, settings.index_dir)),
            *only_findings(feature_health(store)),
        ]
    finally:
        store.close()


def feature_health(store: Store) -> list[Check]:
    """What the stores of an opened database say of themselves: corpus, vectors, outbox,
    feedback, preferences. Opening each applies no migration: none is pending here."""
    now = time.time()
    return [
        *guarded_all(["store", "vectors"], store.health),
        *guarded_all(["outbox"], lambda: AlertStore(store).health(stamp(now), stamp(now - DAY))),
        *guarded_all(["feedback"], lambda: FeedbackStore(store).health()),
        *guarded_all(["preferences"], lambda: PreferencesStore(store).health()),
    ]


def only_findings(checks: list[Check]) -> list[Check]:
    """The checks that found something. These features had no line of their own in the
    report, so a healthy report reads as it always has and a problem still shows."""
    return [c for c in checks if c.status != "OK"]


def feeds_health(settings: Settings) -> list[Check]:
    db = DatabaseFile(settings.db_path)
    return alerts_health.health(db, settings.fetch_timeout, settings.max_file_bytes)
