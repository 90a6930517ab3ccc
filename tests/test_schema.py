"""Both backends end at the same schema: tables, columns, keys, references and indexes.

Each table's DDL is written once with an engine's column types (`corpus.migrations.Dialect`); a
database reaches it through the same numbered migrations of each set on either engine. What
is engine-specific by design stays out of the comparison: SQLite's full-text index and its own
bookkeeping tables, and each engine's triggers. CHECK constraints are not compared either: SQLite
keeps them only inside its DDL text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sectorbot.bot.ops.health import MIGRATION_SETS
from sectorbot.corpus.store import Store

SQLITE_ONLY = re.compile(r"chunks_fts(_\w+)?|sqlite_sequence")
KINDS = {
    "INTEGER": "integer", "TEXT": "text", "BLOB": "bytes",
    "bigint": "integer", "integer": "integer", "text": "text", "bytea": "bytes",
}  # fmt: skip
ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def migrated(target: str) -> Store:
    """A store at the schema this version makes: every migration set applied."""
    store = Store(target)
    for migration_set in MIGRATION_SETS:
        migration_set.apply(store.db)
    return store


def sqlite_shape(store: Store, table: str) -> dict[str, Any]:
    """A table's columns, keys, references and indexes, as `PRAGMA`s report them."""
    ddl = store.db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
    columns = store.db.query(f"PRAGMA table_info({table})")
    indexes = store.db.query(f"PRAGMA index_list({table})")

    def indexed(name: str) -> tuple[str, ...]:
        return tuple(r["name"] for r in store.db.query(f"PRAGMA index_info({name})"))

    return {
        "columns": [
            (
                c["name"],
                KINDS[c["type"]],
                not (c["notnull"] or c["pk"]),  # a key column is NOT NULL on PostgreSQL
                c["dflt_value"],
                bool(c["pk"]) and "AUTOINCREMENT" in ddl,  # ids never reused
            )
            for c in columns
        ],
        "primary key": tuple(c["name"] for c in sorted(columns, key=lambda c: c["pk"]) if c["pk"]),
        "unique": {indexed(i["name"]) for i in indexes if i["origin"] == "u"},
        "references": {
            (r["from"], r["table"], r["to"], r["on_update"], r["on_delete"])
            for r in store.db.query(f"PRAGMA foreign_key_list({table})")
        },
        "indexes": {(i["name"], indexed(i["name"])) for i in indexes if i["origin"] == "c"},
    }


COLUMN_NAMES = """ARRAY(SELECT a.attname FROM unnest({keys}) WITH ORDINALITY k(n, i)
    JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.n ORDER BY k.i)"""
CONSTRAINTS = f"""SELECT contype, {COLUMN_NAMES.format(keys="conkey", rel="conrelid")} AS cols,
    confrelid::regclass::text AS ref, {COLUMN_NAMES.format(keys="confkey", rel="confrelid")}
    AS ref_cols, confupdtype, confdeltype
    FROM pg_constraint WHERE conrelid = to_regclass(?)"""
INDEXES = f"""SELECT i.relname AS name,
    {COLUMN_NAMES.format(keys="x.indkey::int2[]", rel="x.indrelid")} AS cols
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid = to_regclass(?)
    AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"""
COLUMNS = """SELECT column_name, data_type, is_nullable, column_default, is_identity
    FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position"""


def reference(constraint: dict[str, Any]) -> tuple[str, ...]:
    """A single-column foreign key as SQLite's `PRAGMA foreign_key_list` describes it."""
    (column,), (target,) = constraint["cols"], constraint["ref_cols"]
    actions = ACTIONS[constraint["confupdtype"]], ACTIONS[constraint["confdeltype"]]
    return (column, constraint["ref"], target, *actions)


def postgres_shape(store: Store, table: str) -> dict[str, Any]:
    """A table's columns, keys, references and indexes, as PostgreSQL's catalogue has them."""
    constraints = store.db.query(CONSTRAINTS, [table])

    def keyed(kind: str) -> list[tuple[str, ...]]:
        return [tuple(c["cols"]) for c in constraints if c["contype"] == kind]

    return {
        "columns": [
            (
                c["column_name"],
                KINDS[c["data_type"]],
                c["is_nullable"] == "YES",
                re.sub(r"::\w+$", "", c["column_default"]) if c["column_default"] else None,
                c["is_identity"] == "YES",
            )
            for c in store.db.query(COLUMNS, [table])
        ],
        "primary key": (keyed("p") or [()])[0],
        "unique": set(keyed("u")),
        "references": {reference(c) for c in constraints if c["contype"] == "f"},
        "indexes": {(r["name"], tuple(r["cols"])) for r in store.db.query(INDEXES, [table])},
    }


def test_both_backends_make_the_same_tables(tmp_path: Path, postgres_url: str) -> None:
    sqlite, postgres = migrated(str(tmp_path / "sectorbot.db")), migrated(postgres_url)
    tables = [t for t in sqlite.db.tables() if not SQLITE_ONLY.fullmatch(t)]
    assert sorted(tables) == sorted(postgres.db.tables())
    assert {"documents", "alerts", "feedback_votes", "chat_languages", "workers"} <= set(tables)
    for table in tables:
        assert sqlite_shape(sqlite, table) == postgres_shape(postgres, table), table
    sqlite.close()
    postgres.close()


def test_postgres_text_sorts_as_sqlite_text(postgres_url: str) -> None:
    # Times and dates are compared as strings: byte-wise on SQLite, so COLLATE "C" on
    # PostgreSQL, the migrations' own bookkeeping table included.
    store = migrated(postgres_url)
    rows = store.db.query(
        "SELECT table_name, column_name, collation_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND data_type = 'text'"
    )
    assert len(rows) > 50
    other = {(r["table_name"], r["column_name"]) for r in rows if r["collation_name"] != "C"}
    assert other == set()
    store.close()
