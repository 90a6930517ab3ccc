"""The connections under httpx: checked addresses and one deadline per fetch.

`Transport` is an httpx transport whose connections are opened here, which is the one place
where both the address actually connected to and every single read are visible:

- With an address check, a host name is resolved once, every address it resolves to is
  checked, and the socket connects to an address that passed. A name that resolves
  differently a moment later (DNS rebinding) changes nothing, and a redirect is a new
  connection, checked again. Host header, SNI and certificate checks still use the name.
- Inside `deadline(seconds)`, name lookup, connecting, TLS and every read and write end
  when the deadline does, however the time is spread: a server dripping a byte a second
  cannot keep a fetch alive past it.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressCheck = Callable[[IPAddress], str | None]
"""Why a stranger's URL must not reach an address ("a loopback address"); None if it may."""

# The fetch running in this thread (or task) must end by this time.monotonic() value.
_DEADLINE: ContextVar[float | None] = ContextVar("fetch_deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Everything the transports do in this block ends `seconds` from now."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


_NOT_PUBLIC: tuple[tuple[str, Callable[[Any], bool]], ...] = (
    ("an unspecified address", lambda ip: ip.is_unspecified),
    ("a loopback address", lambda ip: ip.is_loopback),
    ("a link-local address", lambda ip: ip.is_link_local),
    ("a multicast address", lambda ip: ip.is_multicast),
    ("a reserved address", lambda ip: ip.is_reserved),
    ("a private address", lambda ip: ip.is_private),
    ("a site-local address", lambda ip: getattr(ip, "is_site_local", False)),
    ("not a public address", lambda ip: not ip.is_global),
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def public_address_problem(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address ("a loopback address"), or None when it is one.

    IPv6 addresses that carry an IPv4 address (::ffff:127.0.0.1, 6to4, NAT64) are judged
    by the IPv4 address they lead to.
    """
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return public_address_problem(embedded)
    return next((kind for kind, test in _NOT_PUBLIC if test(ip)), None)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


class AddressRefused(Exception):
    """A connection the address check refused; the message says which address and why."""


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    """`timeout` shortened to what is left of the current fetch's deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the fetch's deadline has passed")
    return left if timeout is None else min(timeout, left)


def _as_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The addresses `host` resolves to (an address stays itself), waiting at most `timeout`.

    getaddrinfo cannot be interrupted, so it runs in a thread of its own that the fetch
    stops waiting for at the deadline; the system resolver's own timeout ends the thread.
    """
    if _as_ip(host) is not None:
        return [host]
    found: list[Any] = []

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            found.append(exc)

    worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not found:
        raise httpcore.ConnectTimeout(f"looking up {host} took too long")
    if isinstance(found[0], OSError):
        raise httpcore.ConnectError(f"cannot look up {host}: {found[0].strerror or found[0]}")
    return list(dict.fromkeys(info[4][0] for info in found[0]))


class _Stream(httpcore.NetworkStream):
    """A connection whose reads and writes end at the current fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        wait = _time_left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """Opens connections: resolves once, checks the addresses, connects to one that passed.

    httpcore passes the host name on to TLS itself (SNI and certificate checks) and httpx
    sends it as the Host header, so only the socket's address is ours to choose.
    """

    def __init__(self, check: AddressCheck | None) -> None:
        self._check = check
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        wait = _time_left(timeout, httpcore.ConnectTimeout)
        addresses = self._allowed(host, _resolve(host, port, wait))
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            wait = _time_left(timeout, httpcore.ConnectTimeout)
            try:
                stream = self._sockets.connect_tcp(
                    address, port, wait, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # try the next address, as browsers do
                failure = exc
                continue
            return _Stream(stream)
        raise failure

    def _allowed(self, host: str, addresses: list[str]) -> list[str]:
        """The addresses the check lets through; AddressRefused naming the first one it refused."""
        if self._check is None:
            return addresses
        allowed, refusals = [], []
        for address in addresses:
            problem = self._check(ipaddress.ip_address(address))
            if problem is None:
                allowed.append(address)
            elif _as_ip(host) is not None:
                refusals.append(f"{host} is {problem}")
            else:
                refusals.append(f"{host} resolves to {address}, {problem}")
        if not allowed:
            raise AddressRefused(refusals[0] if refusals else f"no address for {host}")
        return allowed

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used here")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Transport(httpx.BaseTransport):
    """httpx requests over httpcore's connection pools, connecting through `_Backend`.

    Connections go straight to the servers unless the environment names a proxy for the
    URL's scheme (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, minus the hosts in `NO_PROXY`).
    Through a proxy the socket's address is the proxy's, so the address check is made on
    the target host as this machine resolves it, before the request goes to the proxy; the
    proxy itself is the operator's choice and is not checked.
    """

    def __init__(self, check: AddressCheck | None) -> None:
        self._check = check
        self._direct = _Backend(check)
        self._pools: dict[str | None, httpcore.ConnectionPool | httpcore.HTTPProxy] = {}
        self._lock = threading.Lock()

    def _pool(self, proxy: str | None) -> httpcore.ConnectionPool | httpcore.HTTPProxy:
        with self._lock:
            if proxy not in self._pools:
                context = httpx.create_ssl_context()
                if proxy is None:
                    self._pools[proxy] = httpcore.ConnectionPool(
                        ssl_context=context, network_backend=self._direct
                    )
                else:
                    self._pools[proxy] = httpcore.HTTPProxy(
                        proxy_url=proxy, ssl_context=context, network_backend=_Backend(None)
                    )
            return self._pools[proxy]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        proxy = proxy_for(url.scheme, url.host)
        if proxy is not None and self._check is not None:
            port = url.port or (443 if url.scheme == "https" else 80)
            wait = _time_left(None, httpcore.ConnectTimeout)
            self._direct._allowed(url.host, _resolve(url.host, port, wait))
        response = self._pool(proxy).handle_request(
            httpcore.Request(
                method=request.method,
                url=httpcore.URL(
                    scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
                ),
                headers=request.headers.raw,
                content=request.stream,
                extensions=request.extensions,
            )
        )
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response),
            extensions=response.extensions,
        )

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


def proxy_for(scheme: str, host: str) -> str | None:
    """The proxy URL the environment gives for this scheme and host, or None (go direct)."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


class _Body(httpx.SyncByteStream):
    """A response body as httpx reads it."""

    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        yield from self._response.iter_stream()

    def close(self) -> None:
        self._response.close()
