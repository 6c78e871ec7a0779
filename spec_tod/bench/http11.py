"""Lean HTTP/1.1 keep-alive connections on asyncio, for the completion client's hot path.

A :class:`ConnectionPool` serves one origin. Each request takes an idle connection (last in, first
out, so few connections stay warm) or opens one, writes the request head and body in **one**
``write`` (one loopback ``send``; httpcore makes two), and parses the answer incrementally in
``data_received``: ``Content-Length``, ``chunked`` and close-delimited bodies, interim 1xx answers
skipped. A connection carries one request at a time, so the pool never queues: the caller bounds
concurrency (see :mod:`spec_tod.bench.client` for why httpx's pool is not used).

Errors: :class:`ConnectionDropped` when the connection fails or closes before a whole answer,
:class:`MalformedResponse` when the bytes are not HTTP/1.1. Cancelling a request (a timeout)
closes its connection, so no half-read answer is ever reused.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

_MAX_HEAD_BYTES = 64 * 1024
_USER_AGENT = "spec-tod-bench"


@dataclass(frozen=True)
class Response:
    """A whole answer: status, headers (names lower-cased; the last of repeated ones) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


class ConnectionDropped(ConnectionError):
    """The connection failed, or closed before the answer was complete."""


class MalformedResponse(ValueError):
    """The server's bytes are not a valid HTTP/1.1 answer."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: feed it a request, await the parsed response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[Response, bool]] | None = None
        self._head: tuple[int, dict[str, str], bool] | None = None  # status, headers, keep-alive
        self._scan_from = 0
        self._body = bytearray()
        self._chunked = False
        self._remaining: int | None = None  # body bytes still due (Content-Length or current chunk)
        self._in_trailers = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection's state is unknown
            return
        self._buffer += data
        try:
            self._parse()
        except MalformedResponse as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._head is not None and self._remaining is None and not self._chunked:
            status, headers, _ = self._head  # close-delimited body: the close ends it
            waiter.set_result((Response(status, headers, bytes(self._body)), False))
        else:
            reason = f": {exc}" if exc else ""
            waiter.set_exception(ConnectionDropped(f"server closed the connection before a full answer{reason}"))

    # use

    def exchange(self, request: bytes) -> asyncio.Future[tuple[Response, bool]]:
        """Send ``request`` (head and body); the future gives the response and whether to keep the connection."""
        self._waiter = asyncio.get_running_loop().create_future()
        self._head = None
        self._scan_from = 0
        self._body = bytearray()
        self._chunked = False
        self._remaining = None
        self._in_trailers = False
        if self.transport is None:  # closed by the server between connecting and this request
            self._waiter.set_exception(ConnectionDropped("server closed the connection before the request"))
        else:
            self.transport.write(request)
        return self._waiter

    def close(self) -> None:
        """Close now (abort: any unread answer is discarded)."""
        if self.transport is not None:
            self.transport.abort()
        self.closed = True

    # parsing

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    def _parse(self) -> None:
        while self._head is None:
            end = self._buffer.find(b"\r\n\r\n", self._scan_from)
            if end < 0:
                if len(self._buffer) > _MAX_HEAD_BYTES:
                    raise MalformedResponse(f"response head longer than {_MAX_HEAD_BYTES} bytes")
                self._scan_from = max(0, len(self._buffer) - 3)
                return
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            self._scan_from = 0
            self._start_body(*_parse_head(head))
        if self._chunked:
            self._parse_chunks()
        elif self._remaining is not None:
            take = min(self._remaining, len(self._buffer))
            self._body += self._buffer[:take]
            del self._buffer[:take]
            self._remaining -= take
            if self._remaining == 0:
                self._finish()
        else:
            self._body += self._buffer
            self._buffer.clear()

    def _start_body(self, status: int, headers: dict[str, str], keep_alive: bool) -> None:
        if 100 <= status < 200:
            return  # interim answer (100 Continue, 103 Early Hints): the real one follows
        self._head = (status, headers, keep_alive)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif status in (204, 304):
            self._remaining = 0
        elif "content-length" in headers:
            try:
                self._remaining = int(headers["content-length"])
            except ValueError:
                raise MalformedResponse(f"bad Content-Length {headers['content-length']!r}") from None
            if self._remaining < 0:
                raise MalformedResponse(f"bad Content-Length {headers['content-length']!r}")
        if self._remaining == 0:
            self._finish()

    def _parse_chunks(self) -> None:
        while True:
            if self._in_trailers:
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    return
                del self._buffer[: end + 2]
                if end == 0:  # the empty line after the (usually absent) trailers
                    self._finish()
                    return
                continue
            if self._remaining is None:  # at a chunk-size line
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    if len(self._buffer) > _MAX_HEAD_BYTES:
                        raise MalformedResponse("chunk-size line too long")
                    return
                size_text = bytes(self._buffer[:end]).split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise MalformedResponse(f"bad chunk size {size_text!r}") from None
                del self._buffer[: end + 2]
                if size == 0:
                    self._in_trailers = True
                    continue
                self._remaining = size
            if len(self._buffer) < self._remaining + 2:
                return
            self._body += self._buffer[: self._remaining]
            del self._buffer[: self._remaining + 2]
            self._remaining = None

    def _finish(self) -> None:
        status, headers, keep_alive = self._head
        if self._buffer:
            keep_alive = False  # bytes beyond the answer: do not trust this connection again
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result((Response(status, headers, bytes(self._body)), keep_alive))


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise MalformedResponse(f"bad status line {lines[0][:100]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise MalformedResponse(f"bad header line {line[:100]!r}")
        headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = "keep-alive" in connection if parts[0] == "HTTP/1.0" else "close" not in connection
    return int(parts[1]), headers, keep_alive


class ConnectionPool:
    """Keep-alive connections to one origin (``http(s)://host:port``), one request at a time on each.

    The pool holds as many connections as requests were in flight at once; it never queues.
    """

    def __init__(self, origin: str) -> None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) origin: {origin!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        default_port = 443 if parts.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal keeps its brackets
        host_header = host if self.port == default_port else f"{host}:{self.port}"
        self._fixed_headers = f"Host: {host_header}\r\nUser-Agent: {_USER_AGENT}\r\nAccept: application/json\r\n"
        self._idle: list[_Connection] = []
        self._busy: set[_Connection] = set()
        self._closed = False

    async def request(self, method: str, path: str, body: bytes | None = None) -> Response:
        """Send one request (a JSON ``body`` when given) to ``prefix + path``; the whole response.

        Nothing is retried here, not even a keep-alive race (a server closing an idle connection as
        the request goes out): the caller retries, so every attempt the server may have seen is counted.
        """
        head = f"{method} {self.prefix}{path} HTTP/1.1\r\n{self._fixed_headers}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        data = (head + "\r\n").encode("latin-1") + (body or b"")
        connection = await self._acquire()
        try:
            response, keep_alive = await connection.exchange(data)
        except BaseException:
            self._release(connection, keep=False)
            raise
        self._release(connection, keep=keep_alive)
        return response

    async def _acquire(self) -> _Connection:
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                self._busy.add(connection)
                return connection
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                _Connection, self.host, self.port, ssl=self._ssl, server_hostname=self.host if self._ssl else None
            )
        except OSError as exc:
            raise ConnectionDropped(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._busy.add(connection)
        return connection

    def _release(self, connection: _Connection, *, keep: bool) -> None:
        self._busy.discard(connection)
        if keep and not connection.closed and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        """Close every connection, idle or busy (busy requests then fail with ConnectionDropped)."""
        self._closed = True
        for connection in [*self._idle, *self._busy]:
            connection.close()
        self._idle.clear()
        self._busy.clear()
