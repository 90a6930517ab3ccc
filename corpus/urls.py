"""Canonical URLs: the same article reached through different links gets one identity."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Parameters that say how a reader arrived, not what they read.
TRACKING_PREFIXES = ("utm_", "at_", "mc_", "pk_", "hsa_", "_hs", "oly_")
TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "ref", "ref_src", "ref_url",
    "cmpid", "ocid", "smid", "smtyp", "share", "s", "guccounter", "_ga", "spm", "mkt_tok",
    "ito", "taid", "rss", "partner", "via", "feature", "sh", "si", "cid",
}  # fmt: skip


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def canonical_url(url: str | None) -> str | None:
    """Lower-case scheme and host, no `www.`, default port, fragment or tracking parameters."""
    if not url or not is_url(url.strip()):
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port
    if port and not (
        (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
    ):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit(("https" if parts.scheme.lower() == "https" else "http", host, path,
                       urlencode(sorted(query)), ""))  # fmt: skip


def same_site(url: str | None, other: str | None) -> bool:
    """Whether two URLs are on the same host (a leading `www.` aside)."""

    def host(value: str | None) -> str | None:
        try:
            name = urlsplit(value or "").hostname
        except ValueError:
            return None
        return name.removeprefix("www.") if name else None

    first = host(url)
    return first is not None and first == host(other)


def claimed_url(claimed: str | None, fetched: str) -> str:
    """The URL a fetched page may call its own: its claim only on the host it came from.

    A canonical link or a front-matter `url` is written by whoever runs the site; taken on
    trust, a page could claim another publisher's address and replace that document.
    """
    return claimed if claimed and same_site(claimed, fetched) else fetched
