"""Fetching one URL over HTTP(S) with a size cap, a total deadline and conditional GET.

A URL that an operator names (a feed to follow, a file to ingest) may point anywhere,
internal hosts included. A URL that a stranger chose (a link inside a feed entry, a URL sent
in chat) may only reach public addresses: never loopback, private, link-local, multicast,
reserved or unspecified ones, which would let a feed's author make the bot read its own
machine or network and show the result to every user. Redirects are followed here, not by
httpx, so that each hop is checked and counts against the same deadline; `network` does the
checking and keeps the deadline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType

import httpcore
import httpx

from sectorbot.corpus.errors import FetchError
from sectorbot.corpus.network import (
    AddressCheck,
    AddressRefused,
    Transport,
    deadline,
    public_address_problem,
)
from sectorbot.corpus.text import format_size, one_line

__all__ = ["Fetched", "Fetcher", "public_address_problem"]

DEFAULT_USER_AGENT = "sectorbot/0.1 (+https://github.com/sectorbot)"
MAX_REDIRECTS = 5


@dataclass
class Fetched:
    """A successful response, its body read in full."""

    url: str  # what was asked for
    final_url: str  # where the redirects ended
    status: int
    content_type: str  # the Content-Type header as sent, "" when missing
    body: bytes
    etag: str | None
    last_modified: str | None

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower case: "text/html"."""
        return self.content_type.split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset parameter of the Content-Type, if the server named one."""
        for param in self.content_type.split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


# ---------------------------------------------------------------------------- fetcher

# What a fetch can fail with: httpx's errors, httpcore's (raised as they are by Transport,
# which does not translate them as httpx's own transport does) and the address check.
_FAILURES = (
    httpx.HTTPError,
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    AddressRefused,
)


class Fetcher:
    """One HTTP client shared by all fetches of a run (keeps connections alive).

    `trusted`: the URLs given to `fetch` were chosen by the operator (a feed, the command
    line), so they may reach any address. False for URLs from strangers (chat).
    `allow_private`: let strangers' URLs reach non-public addresses too (a bot whose feeds
    link to an intranet). `address_check` decides what counts as public.
    """

    def __init__(
        self,
        timeout: float = 15.0,
        max_bytes: int = 20_000_000,
        user_agent: str = DEFAULT_USER_AGENT,
        *,
        trusted: bool = True,
        allow_private: bool = False,
        address_check: AddressCheck = public_address_problem,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self.trusted = trusted
        self.allow_private = allow_private
        self._check = address_check
        # Checked and unchecked connections never share a pool: a connection opened for an
        # operator's internal feed must not carry a stranger's link to the same host.
        self._clients: dict[bool, httpx.Client] = {}
        self._lock = threading.Lock()

    def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        untrusted: bool = False,
    ) -> Fetched | None:
        """GET `url`; None when the server answers 304 Not Modified to a conditional GET.

        `untrusted`: a stranger chose `url` (a link found inside a feed entry), whatever
        this fetcher's own `trusted` says. Raises FetchError with one line naming the URL
        for every failure.
        """
        _check_scheme(url)
        client = self._client(checked=(untrusted or not self.trusted) and not self.allow_private)
        try:
            with deadline(self.timeout):
                return self._follow(client, url, _conditional_headers(etag, last_modified))
        except _FAILURES as exc:
            raise self._error(url, exc) from None

    def _client(self, checked: bool) -> httpx.Client:
        with self._lock:
            if checked not in self._clients:
                self._clients[checked] = httpx.Client(
                    transport=Transport(self._check if checked else None),
                    timeout=httpx.Timeout(self.timeout),
                    headers={"User-Agent": self.user_agent},
                )
            return self._clients[checked]

    def _follow(self, client: httpx.Client, url: str, headers: dict[str, str]) -> Fetched | None:
        """Send the request and follow redirects here, so that each hop is checked."""
        request = client.build_request("GET", url, headers=headers)
        for _ in range(MAX_REDIRECTS + 1):
            response = client.send(request, stream=True)
            try:
                if response.next_request is None:
                    return self._read(url, response)
                request = response.next_request
            finally:
                response.close()
            _check_redirect(url, str(request.url))
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _error(self, url: str, exc: Exception) -> FetchError:
        """One line for a failed fetch, naming the URL."""
        if isinstance(exc, AddressRefused):
            return FetchError(f"{url}: not fetched: {exc}; links from feeds and chat may reach "
                              "public addresses only")  # fmt: skip
        if isinstance(exc, httpx.TimeoutException | httpcore.TimeoutException):
            return FetchError(f"{url}: timed out after {float(self.timeout)} s")
        if isinstance(exc, httpx.ConnectError | httpcore.ConnectError):
            return FetchError(f"{url}: cannot connect: {_reason(exc)}")
        if isinstance(exc, httpx.InvalidURL):
            return FetchError(f"{url}: invalid URL: {_reason(exc)}")
        return FetchError(f"{url}: {type(exc).__name__}: {_reason(exc)}")

    def _read(self, url: str, response: httpx.Response) -> Fetched | None:
        if response.status_code == 304:
            return None
        if response.status_code >= 400:
            reason = response.reason_phrase or "error"
            raise FetchError(f"{url}: HTTP {response.status_code} {reason}")
        body = self._read_capped(url, response)
        return Fetched(
            url=url,
            final_url=str(response.url),
            status=response.status_code,
            content_type=response.headers.get("content-type", "").strip(),
            body=body,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )

    def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        """Read the body, giving up as soon as it passes the cap, not after downloading it all."""
        too_big = FetchError(f"{url}: response is over the {format_size(self.max_bytes)} limit")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise too_big
        parts: list[bytes] = []
        size = 0
        for part in response.iter_bytes():
            size += len(part)
            if size > self.max_bytes:
                raise too_big
            parts.append(part)
        return b"".join(parts)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _check_scheme(url: str) -> None:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https"):
        shown = f"'{scheme}'" if scheme else "(none)"
        raise FetchError(f"unsupported URL scheme {shown} in {url} (only http and https)")


def _check_redirect(url: str, target: str) -> None:
    scheme = target.split(":", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"{url}: redirected to an unsupported URL scheme '{scheme}'")


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _reason(exc: BaseException) -> str:
    return one_line(str(exc) or type(exc).__name__)
