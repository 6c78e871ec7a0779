"""The lean way to send a request on spec-tod's connections: bytes in, :class:`Response` out, no httpx objects.

``LeanClient.post(url, body, timeout_s=...)`` writes ``POST`` with a head built once per URL (method,
target, ``Host``, the client's fixed headers; only ``Content-Length`` changes) and returns the whole
answer. It skips what httpx does for every request and that a benchmark client does not need: building
``httpx.Request``/``Response`` objects, header normalisation, cookie extraction through ``urllib`` and
``email`` objects, and content decoders (the client asks for ``identity`` encoding). That was most of the
client's CPU per request (``docs/http-client.md``).

Errors are httpx's, as from :mod:`spec_tod.http.connection`: ``httpx.TimeoutException`` subclasses past
``timeout_s`` (connect, then the whole answer) and ``httpx.TransportError`` subclasses for refused,
dropped, truncated or malformed answers. Concurrency is the caller's to bound (the bench client holds
a semaphore); every request in flight has its own connection.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx

from spec_tod.http.connection import ConnectionPool, Response

__all__ = ["LeanClient", "Response"]


class LeanClient:
    """Keep-alive connections per origin and prebuilt request heads; ``headers`` go on every request."""

    def __init__(self, headers: Mapping[str, str], *, verify: ssl.SSLContext | None = None) -> None:
        self._fixed = b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items())
        self._verify = verify
        self._pools: dict[tuple[str, str, int], ConnectionPool] = {}
        self._heads: dict[str, tuple[ConnectionPool, bytes]] = {}

    async def post(
        self, url: str, body: bytes, *, timeout_s: float | None, on_settled: Callable[[], None] | None = None
    ) -> Response:
        """POST ``body`` to ``url`` (http or https); the whole answer. ``on_settled``: see
        :meth:`ConnectionPool.request <spec_tod.http.connection.ConnectionPool.request>`."""
        target = self._heads.get(url)
        if target is None:
            target = self._heads[url] = self._target(url)
        pool, head = target
        data = b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body)
        return await pool.request(data, connect_timeout_s=timeout_s, read_timeout_s=timeout_s, on_settled=on_settled)

    def close(self) -> None:
        """Close every connection; requests in flight fail with ``httpx.ReadError``."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._heads.clear()

    def _target(self, url: str) -> tuple[ConnectionPool, bytes]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise httpx.UnsupportedProtocol(f"{url!r}: expected an http or https URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = (parts.scheme, parts.hostname, port)
        pool = self._pools.get(key)
        if pool is None:
            context = None
            if parts.scheme == "https":
                context = self._verify = self._verify or ssl.create_default_context()
            pool = self._pools[key] = ConnectionPool(parts.hostname, port, context)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        host = parts.netloc.rpartition("@")[2]
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n".encode("latin-1") + self._fixed
        return pool, head
