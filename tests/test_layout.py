"""The package's layout, read from the source with `ast`: rooms keep to what they hold.

- A feature package knows nothing of the front end: `bot/alerts/` imports no Telegram.
- Only store modules (and `Service`, which opens them) reach a service's stores: front ends
  and jobs call `Service` methods, which return dataclasses.
- bot/'s top level holds the service, its settings and errors, and neutral helpers; the
  rest lives in rooms (`telegram/`, `cli/`, `ops/`) and feature packages.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "corpus", "index")
TOP_LEVEL = {
    "__init__.py", "service.py", "settings.py", "errors.py",
    "markup.py", "i18n.py", "logs.py", "render.py",
}  # fmt: skip
SERVICE_INSIDES = {"store", "workers"}


def modules(*folders: str) -> Iterator[tuple[str, ast.Module]]:
    """(path relative to the repository, parsed module) of every Python file in `folders`."""
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            yield path.relative_to(REPO).as_posix(), ast.parse(path.read_text(), str(path))


def imported_modules(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def telegram_imports(tree: ast.Module) -> list[str]:
    """The modules of python-telegram-bot or of the Telegram room that `tree` imports."""
    return [
        name
        for name in imported_modules(tree)
        if name.split(".")[0] == "telegram"
        or name == "sectorbot.bot.telegram"
        or name.startswith("sectorbot.bot.telegram.")
    ]


def is_store_module(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name == "store.py" or name.endswith("_store.py") or path == "bot/service.py"


def service_insides(tree: ast.Module) -> list[str]:
    """Each `service.store`, `self.service.workers`, `x.service.store` ... in `tree`."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr in SERVICE_INSIDES):
            continue
        owner = node.value
        if (isinstance(owner, ast.Name) and owner.id == "service") or (
            isinstance(owner, ast.Attribute) and owner.attr == "service"
        ):
            found.append(f"{ast.unparse(node)} (line {node.lineno})")
    return found


def reaches_into_service() -> dict[str, list[str]]:
    """Modules outside the store modules that use a service's stores, and where."""
    found = {}
    for path, tree in modules(*SOURCES):
        if not is_store_module(path) and (uses := service_insides(tree)):
            found[path] = uses
    return found


def test_alerts_import_no_telegram() -> None:
    found = {
        path: names for path, tree in modules("bot/alerts") if (names := telegram_imports(tree))
    }
    assert found == {}


def test_no_module_outside_the_stores_reaches_into_the_service() -> None:
    assert reaches_into_service() == {}


def test_bot_top_level_holds_the_service_and_neutral_helpers_only() -> None:
    files = {p.name for p in (REPO / "bot").glob("*.py")}
    assert files <= TOP_LEVEL, sorted(files - TOP_LEVEL)
