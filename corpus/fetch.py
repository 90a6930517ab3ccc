"""Fetching one URL over HTTP(S) with a size cap, a timeout and conditional GET."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

import httpx

from sectorbot.corpus.errors import FetchError

DEFAULT_USER_AGENT = "sectorbot/0.1 (+https://github.com/sectorbot)"
MAX_REDIRECTS = 5
_REASON_LIMIT = 200


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


def format_size(n_bytes: float) -> str:
    """Sizes as people read them: "25.3 MB", "4.1 kB", "512 bytes"."""
    if n_bytes >= 1_000_000:
        return f"{n_bytes / 1_000_000:.1f} MB"
    if n_bytes >= 1_000:
        return f"{n_bytes / 1_000:.1f} kB"
    return f"{int(n_bytes)} bytes"


def one_line(text: str, limit: int = _REASON_LIMIT) -> str:
    """Squash a library's message into one short line for an error reason."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class Fetcher:
    """One HTTP client shared by all fetches of a run (keeps connections alive)."""

    def __init__(
        self,
        timeout: float = 15.0,
        max_bytes: int = 20_000_000,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self._client = httpx.Client(
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent},
        )

    def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched | None:
        """GET `url`; None when the server answers 304 Not Modified to a conditional GET.

        Raises FetchError with one line naming the URL for every failure.
        """
        _check_scheme(url)
        headers = _conditional_headers(etag, last_modified)
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                return self._read(url, response)
        except httpx.TimeoutException:
            raise FetchError(f"{url}: timed out after {float(self.timeout)} s") from None
        except httpx.TooManyRedirects:
            raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects") from None
        except httpx.ConnectError as exc:
            raise FetchError(f"{url}: cannot connect: {_reason(exc)}") from None
        except httpx.InvalidURL as exc:
            raise FetchError(f"{url}: invalid URL: {_reason(exc)}") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {_reason(exc)}") from None

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
        self._client.close()

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


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _reason(exc: BaseException) -> str:
    return one_line(str(exc) or type(exc).__name__)
