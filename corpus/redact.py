"""Secrets out of text: the one masker for URL passwords and libpq `password=` values.

Used for every message that may quote a database URL (store errors, `stats`, `doctor`) and
by the log formatters, so a password never reaches a person or a log line, however it was
written: inside the URL (even with an unencoded `@` in it), as a `password=` parameter of
the URL or of a key=value connection string, or quoted back by the driver.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import unquote

MASK = "***"
# Passwords of the URLs this process connects with, and their pieces between "@"s: a URL
# whose password holds an unencoded "@" is misread by libpq, which then quotes the rest of
# the password as a host name ("failed to resolve host 'ss@word@db'").
_KNOWN: set[str] = set()
_KNOWN_LOCK = threading.Lock()
_SHORTEST_PIECE = 3  # shorter pieces would mask ordinary letters everywhere
# A URL, up to where it plainly ends: whitespace, a quote or an angle bracket.
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s'\"<>]+)")
# password=value in a URL's query or a key=value connection string, quoted or not.
_PASSWORD_PARAM = re.compile(
    r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;'\"<>]+)", re.IGNORECASE
)


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, rest = match.group(1), match.group(2)
    # The user information ends at the last "@": a password may hold "@" unencoded, and
    # masking too much of a broken URL is better than showing part of its password.
    at = rest.rfind("@")
    if at == -1:
        return match.group(0)
    userinfo, host = rest[:at], rest[at:]
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}{user}:{MASK}{host}" if colon else match.group(0)


def url_passwords(url: str) -> list[str]:
    """The passwords a connection URL carries: in its user information (to the last "@"
    before the host) and in `password=` parameters, as written and URL-decoded."""
    found = [m.group(2).strip("'\"") for m in _PASSWORD_PARAM.finditer(url)]
    match = _URL.search(url)
    if match:
        userinfo = match.group(2)[: max(match.group(2).rfind("@"), 0)]
        if ":" in userinfo:
            found.append(userinfo.partition(":")[2])
    return [p for p in dict.fromkeys([*found, *map(unquote, found)]) if p]


def remember_passwords(url: str) -> None:
    """Mask this URL's passwords, and their pieces between "@"s, wherever they turn up."""
    pieces: set[str] = set()
    for password in url_passwords(url):
        parts = password.split("@")
        for i in range(len(parts)):
            pieces.update({"@".join(parts[i:]), "@".join(parts[: i + 1])})
    with _KNOWN_LOCK:
        _KNOWN.update(p for p in pieces if len(p) >= _SHORTEST_PIECE)


def redact_secrets(text: str) -> str:
    """`text` with URL passwords, `password=` values and remembered passwords as ***."""
    text = _PASSWORD_PARAM.sub(rf"\g<1>{MASK}", _URL.sub(_mask_userinfo, text))
    with _KNOWN_LOCK:
        known = sorted(_KNOWN, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    return text
