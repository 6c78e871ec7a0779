"""An httpx transport on the lean HTTP/1.1 connections of :mod:`spec_tod.http.connection`.

``httpx.AsyncClient(transport=PooledTransport(max_connections=C))`` keeps httpx's API (requests,
responses, errors, timeouts) but replaces httpcore's connection pool, whose per-event scan of every
connection makes one client fall off a cliff above about 50 requests in flight (see
``docs/http-client.md``). Here each origin has a plain LIFO list of idle connections, a
request goes out in one ``write`` and its response comes back whole (the body already read, so
``stream=True`` gains nothing); ``response.extensions["body_marks"]`` holds when each piece of the
body arrived, which times a streamed (server-sent events) answer without reading it as a stream.

Limits and timeouts: at most ``max_connections`` requests are in flight (each on its own
connection); more wait, for up to httpx's ``pool`` timeout (``httpx.PoolTimeout``). The ``connect``
timeout limits opening a connection (``httpx.ConnectTimeout``) and the ``read`` timeout the wait for
the **whole** answer once the request is written (``httpx.ReadTimeout``; httpcore applies it to each
read, which for an answer sent at once is the same). Writes never wait: the request is handed to
the event loop whole, so there is no ``write`` timeout.

Not supported: HTTP/2, proxies, upgrades (``CONNECT``, WebSocket) and reading a response as it
arrives (its arrival is timed instead, see above).
"""

from __future__ import annotations

import asyncio
import ssl

import httpx

from spec_tod.http.connection import ConnectionPool

__all__ = ["PooledTransport"]


class PooledTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive connections, at most ``max_connections`` in use at once over all origins.

    ``verify`` is the TLS context for ``https`` origins (default: the system's certificates).
    """

    def __init__(self, max_connections: int = 100, *, verify: ssl.SSLContext | None = None) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self._slots = asyncio.Semaphore(max_connections)
        self._verify = verify
        self._pools: dict[tuple[bytes, str, int | None], ConnectionPool] = {}  # port None: the scheme's

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on an idle (or new) connection to its origin; the response, body read."""
        url = request.url
        key = (url.raw_scheme, url.host, url.port)
        pool = self._pools.get(key)  # None port: the scheme's default, one pool
        if pool is None:
            pool = self._pools[key] = self._new_pool(url)
        # checked before aread(), which turns a streamed body into a whole one; a whole one is never chunked
        chunked = not isinstance(request.stream, httpx.ByteStream) and (
            request.headers.get("transfer-encoding", "").lower() == "chunked"
        )
        data = _serialise(request, await request.aread(), chunked=chunked)
        timeouts = request.extensions.get("timeout", {})
        if self._slots.locked():  # only a full transport waits, so only then is a timer set
            try:
                async with asyncio.timeout(timeouts.get("pool")):
                    await self._slots.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout(f"no free connection within {timeouts.get('pool'):g} s") from None
        else:
            await self._slots.acquire()
        try:
            response = await pool.request(
                data,
                bodiless=request.method == "HEAD",
                connect_timeout_s=timeouts.get("connect"),
                read_timeout_s=timeouts.get("read"),
            )
        finally:
            self._slots.release()
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=httpx.ByteStream(response.body),
            extensions={
                "http_version": response.http_version,
                "reason_phrase": response.reason,
                "body_marks": response.marks,
            },
        )

    async def aclose(self) -> None:
        """Close every connection; requests still in flight fail with ``httpx.ReadError``."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def _new_pool(self, url: httpx.URL) -> ConnectionPool:
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"{url.scheme!r} URLs are not supported: expected http or https")
        context = None
        if url.scheme == "https":
            if self._verify is None:
                self._verify = ssl.create_default_context()
            context = self._verify
        port = url.port or (443 if url.scheme == "https" else 80)
        return ConnectionPool(url.host, port, context)


def _serialise(request: httpx.Request, body: bytes, *, chunked: bool) -> bytes:
    """The request on the wire: request line, headers as httpx prepared them, body (one chunk if ``chunked``)."""
    if chunked:
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    head = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        head += (name, b": ", value, b"\r\n")
    head += (b"\r\n", body)
    return b"".join(head)
