"""`sectorbot doctor`: health checks of settings, data directory, database, backend, workers,
model, indexes, feeds and disk.

Doctor only reports: it never repairs, creates or migrates anything, and it may run while the
bot runs. It opens no store itself: the stored state's checks come from each feature's
`health`, through `bot.ops.health`, which opens what they read once and migrates nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sectorbot.bot.ops.health import stored_health
from sectorbot.bot.settings import TOKEN_RE, Settings, webhook_problem
from sectorbot.corpus.health import Check, Status, guarded, worst
from sectorbot.corpus.text import format_size, one_line

__all__ = ["Check", "Status", "doctor", "format_report", "report_json", "worst"]
TELEGRAM_CHECK_TIMEOUT = 10.0
DISK_FAIL_BYTES = 100_000_000
DISK_WARN_BYTES = 1_000_000_000
# Where the stored state's checks stand in the report: these before telegram and the model,
# the indexes and feeds after them.
BEFORE_MODEL = ("database", "backend", "create", "workers")


def doctor(settings: Settings, quick: bool = False) -> list[Check]:
    """Every check in display order. `quick` skips the model, the feeds and deep scans."""
    checks = [
        guarded("settings", lambda: check_settings(settings)),
        guarded("token", lambda: check_token(settings)),
        data_dir := guarded("data dir", lambda: check_data_dir(settings)),
    ]
    outside: list[Check] = []
    if not quick:
        if settings.telegram_bot_token and TOKEN_RE.fullmatch(settings.telegram_bot_token):
            outside.append(guarded("telegram", lambda: check_telegram(settings)))
        outside.append(guarded("model", lambda: check_model(settings)))
    stored = [] if data_dir.status == "FAIL" else stored_health(settings, quick)
    checks += [c for c in stored if c.name in BEFORE_MODEL]
    checks += outside
    checks += [c for c in stored if c.name not in BEFORE_MODEL]
    checks.append(guarded("disk", lambda: check_disk(settings)))
    return checks


def format_report(checks: list[Check]) -> str:
    lines = [f"{c.status:<5} {c.name:<9} {c.detail}" for c in checks]
    tally = Counter(c.status for c in checks)
    lines.append(f"doctor: {tally['OK']} OK, {tally['WARN']} WARN, {tally['FAIL']} FAIL")
    return "\n".join(lines)


def report_json(checks: list[Check]) -> dict[str, Any]:
    return {"status": worst(checks), "checks": [asdict(c) for c in checks]}


def check_settings(settings: Settings) -> tuple[Status, str]:
    # Settings are validated when the CLI starts: getting here means they are valid.
    private = (
        "links from feeds and chat may reach private addresses (SECTORBOT_ALLOW_PRIVATE_URLS)"
        if settings.allow_private_urls
        else "links from feeds and chat kept off private addresses"
    )
    return "OK", (
        f"valid; data dir {settings.data_dir}, model {settings.embedding_model} "
        f"({settings.embedding_backend}), logs {settings.log_format}/{settings.log_level}; "
        f"{private}"
    )


def check_token(settings: Settings) -> tuple[Status, str]:
    token = settings.telegram_bot_token
    if not token:
        return "WARN", "TELEGRAM_BOT_TOKEN not set: `sectorbot run` opens the terminal chat"
    if not TOKEN_RE.fullmatch(token):  # never echo any part of it
        return "FAIL", "TELEGRAM_BOT_TOKEN is malformed"
    problem = webhook_problem(settings)
    if problem:
        return "FAIL", problem
    mode = "webhook with a secret" if settings.webhook_url else "polling"
    return "OK", f"TELEGRAM_BOT_TOKEN set and well-formed ({mode} mode)"


def check_telegram(settings: Settings) -> tuple[Status, str]:
    """Ask Telegram who the bot is (getMe), and what it can see in groups."""
    import httpx

    url = f"{settings.telegram_api_url}{settings.telegram_bot_token}/getMe"
    try:
        response = httpx.post(url, timeout=TELEGRAM_CHECK_TIMEOUT)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:  # the message could quote the URL: not shown
        return "WARN", f"could not ask the Bot API who the bot is ({type(exc).__name__})"
    if not body.get("ok"):
        if response.status_code in (401, 404):
            return "FAIL", "Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped?)"
        return "WARN", f"getMe failed: {one_line(str(body.get('description')))}"
    me = body.get("result") or {}
    name = f"@{me.get('username')}"
    inline = "inline mode on" if me.get("supports_inline_queries") else "inline mode off"
    if me.get("can_read_all_group_messages"):
        return "OK", f"{name}: reads all group messages; {inline}"
    return "WARN", (
        f"{name}: privacy mode is on, so in groups /ask and replies to the bot work but "
        "mentions may not reach it; to switch it off: @BotFather, /setprivacy, choose the bot, "
        f"Disable, then remove the bot from each group and add it again; {inline}"
    )


def check_data_dir(settings: Settings) -> tuple[Status, str]:
    path = settings.data_dir
    if path.exists() and not path.is_dir():
        return "FAIL", f"{path} exists but is not a directory"
    if not path.exists():
        parent = _existing_ancestor(path)
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return "OK", f"{path} does not exist yet and will be created"
        return "FAIL", f"{path} does not exist and {parent} does not let it be created"
    # Really write: os.access misjudges read-only mounts, ACLs and full disks.
    try:
        fd, name = tempfile.mkstemp(dir=path, prefix=".doctor-")
        try:
            os.write(fd, b"sectorbot doctor\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(name)
    except OSError as exc:
        return "FAIL", f"{path} is not writable: {exc.strerror or exc}"
    return "OK", f"{path} is writable"


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.absolute().parents):
        if candidate.exists():
            return candidate
    return Path("/")


def check_model(settings: Settings) -> tuple[Status, str]:
    from sectorbot.index.embedding import get_embedder
    from sectorbot.index.errors import SearchIndexError

    started = time.perf_counter()
    embedder = get_embedder(
        settings.embedding_model, settings.embedding_backend, settings.embedding_batch_size
    )
    try:
        dim = embedder.dim
    except SearchIndexError as exc:
        return "FAIL", str(exc)
    seconds = time.perf_counter() - started
    return "OK", f"{embedder.model_id} loads offline (dimension {dim}, {seconds:.1f} s)"


def check_disk(settings: Settings) -> tuple[Status, str]:
    where = _existing_ancestor(settings.data_dir)
    free = shutil.disk_usage(where).free
    index_bytes = _tree_size(settings.index_dir)
    text = f"{format_size(free)} free at {where}"
    if free < DISK_FAIL_BYTES or free < index_bytes:
        # A reindex writes the new vectors file beside the old one before the swap.
        return "FAIL", f"{text}: ingest and reindex will fail"
    if free < DISK_WARN_BYTES:
        return "WARN", f"{text}: less than {format_size(DISK_WARN_BYTES)}"
    return "OK", text


def _tree_size(path: Path) -> int:
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
