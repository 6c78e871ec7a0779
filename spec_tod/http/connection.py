"""Lean HTTP/1.1 keep-alive connections on asyncio: the engine under :mod:`spec_tod.http.transport`.

A :class:`ConnectionPool` serves one origin. Each request takes an idle connection (last in, first
out, so few connections stay warm) or opens one, goes out in **one** ``write`` (one loopback
``send``; httpcore makes two), and its answer is parsed incrementally in ``data_received``:
``Content-Length``, ``chunked`` and close-delimited bodies, interim 1xx answers skipped. The
answer comes back whole, with the arrival time of each piece of its body (:attr:`Response.marks`),
which is what streamed answers are timed by. A
connection carries one request at a time, so the pool never queues and never scans its
connections: the caller bounds concurrency (see ``docs/http-client.md`` for why httpcore's
pool is not used).

What it holds a server to (the conformance tests in ``tests/http/test_conformance.py``):

* chunked bodies: hex sizes (extensions ignored), each chunk's data followed by CRLF (else the size was
  wrong and the answer is refused), trailers read and dropped, at most 64 KiB of them;
* response heads of at most 64 KiB, whether or not the blank line has arrived;
* interim answers (100, 103) skipped; 101 Switching Protocols refused (no upgrades);
* ``Connection: close`` (and HTTP/1.0 without ``keep-alive``) obeyed: the connection is not reused;
* keep-alive expiry: a connection idle for longer than the server's ``Keep-Alive: timeout=N``, less a
  second, is closed instead of reused, so a request is not written into a closing socket;
* no pipelining: one request per connection at a time, and a connection that receives bytes beyond
  the answer (or bytes nobody asked for) is closed, never reused.

Errors are httpx's own, so the layers above handle them the standard way: ``httpx.ConnectError``
when connecting fails, ``httpx.ReadError`` when the connection fails while an answer is due,
``httpx.RemoteProtocolError`` when the server closes before a whole answer or sends bytes that are
not HTTP/1.1, ``httpx.ConnectTimeout`` / ``httpx.ReadTimeout`` past the limits given. A request
that fails or is cancelled closes its connection, so no half-read answer is ever reused.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

_MAX_HEAD_BYTES = 64 * 1024
_FRAMING_HEADERS = (b"content-length", b"transfer-encoding", b"connection", b"keep-alive")
_EXPIRY_MARGIN_S = 1.0
"""An idle connection is dropped this long before the server's announced keep-alive timeout: a
request written just as the server closes would fail (the keep-alive race) and cost a retry."""


@dataclass(frozen=True)
class Response:
    """A whole answer: status line parts, headers as received (name, value; in order) and the body."""

    http_version: bytes
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    marks: tuple[tuple[int, float], ...] = field(default=(), compare=False)
    """``(body length, time.perf_counter())`` each time the body grew: when its first N bytes had arrived."""

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (any case), decoded as Latin-1; ``None`` when absent."""
        wanted = name.lower().encode("latin-1")
        values = [value for key, value in self.headers if key.lower() == wanted]
        return values[-1].decode("latin-1") if values else None


class _Connection(asyncio.Protocol):
    """One keep-alive connection: feed it a request, await the parsed response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[Response, bool]] | None = None
        self._bodiless = False  # the answer to a HEAD request has framing headers but no body
        self._head: tuple[bytes, int, bytes, list[tuple[bytes, bytes]], bool] | None = None  # ..., keep-alive
        self._scan_from = 0
        self._body = bytearray()
        self._marks: list[tuple[int, float]] = []
        self._arrived = 0.0  # when the bytes being parsed came in
        self._chunked = False
        self._remaining: int | None = None  # body bytes still due (Content-Length or current chunk)
        self._in_trailers = False
        self._trailer_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._on_settled: Callable[[], None] | None = None
        self.idle_timeout_s: float | None = None
        """How long the server keeps this connection open when idle (its ``Keep-Alive: timeout=N``), if it said."""
        self.idle_since = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection's state is unknown
            return
        self._buffer += data
        self._arrived = time.perf_counter()
        try:
            self._parse()
        except httpx.RemoteProtocolError as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        if exc is not None:
            self._settle(exc=httpx.ReadError(f"connection failed before a full answer: {exc}"))
        elif self._head is not None and self._remaining is None and not self._chunked:
            version, status, reason, headers, _ = self._head  # close-delimited body: the close ends it
            self._settle((Response(version, status, reason, headers, bytes(self._body), tuple(self._marks)), False))
        else:
            self._settle(exc=httpx.RemoteProtocolError("server closed the connection before a full answer"))

    # use

    def exchange(
        self,
        request: bytes,
        *,
        bodiless: bool,
        timeout_s: float | None,
        on_settled: Callable[[], None] | None = None,
    ) -> asyncio.Future[tuple[Response, bool]]:
        """Send ``request`` (head and body); the future gives the response and whether to keep the connection.

        ``bodiless``: the request is a HEAD (its answer has no body). Past ``timeout_s`` the future
        fails with ``httpx.ReadTimeout`` and the connection closes. ``on_settled`` is called once, as
        the future is settled (in the callback that read the answer's last byte, or the failure),
        before the task awaiting it runs again.
        """
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        self._on_settled = on_settled
        self._bodiless = bodiless
        self._head = None
        self._scan_from = 0
        self._body = bytearray()
        self._marks = []
        self._chunked = False
        self._remaining = None
        self._in_trailers = False
        self._trailer_bytes = 0
        if self.transport is None:  # closed by the server between connecting and this request
            self._settle(exc=httpx.RemoteProtocolError("server closed the connection before the request"))
            return waiter
        self.transport.write(request)
        if timeout_s is not None:
            # a timer on the connection, not asyncio.timeout() around the await: no task bookkeeping per request
            timed_out = httpx.ReadTimeout(f"no whole answer within {timeout_s:g} s")
            self._timer = loop.call_later(timeout_s, self._fail, timed_out)
        return waiter

    def close(self) -> None:
        """Close now (abort: any unread answer is discarded, a pending request fails)."""
        self._settle(exc=httpx.ReadError("the connection was closed by this client"))
        if self.transport is not None:
            self.transport.abort()
        self.closed = True

    # parsing

    def _settle(self, result: tuple[Response, bool] | None = None, *, exc: Exception | None = None) -> None:
        """End the pending request (if any) with ``result`` or ``exc``; every way out passes here."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if exc is not None:
                waiter.set_exception(exc)
            elif result is not None:
                waiter.set_result(result)
        on_settled, self._on_settled = self._on_settled, None
        if on_settled is not None:
            on_settled()

    def _fail(self, exc: Exception) -> None:
        self._settle(exc=exc)
        self.close()

    def _parse(self) -> None:
        while self._head is None:
            end = self._buffer.find(b"\r\n\r\n", self._scan_from)
            if end > _MAX_HEAD_BYTES or (end < 0 and len(self._buffer) > _MAX_HEAD_BYTES):
                raise httpx.RemoteProtocolError(f"response head longer than {_MAX_HEAD_BYTES} bytes")
            if end < 0:
                self._scan_from = max(0, len(self._buffer) - 3)
                return
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            self._scan_from = 0
            self._start_body(head)
        if self._chunked:
            self._parse_chunks()
        elif self._remaining is not None:
            take = min(self._remaining, len(self._buffer))
            self._body += self._buffer[:take]
            self._mark()
            del self._buffer[:take]
            self._remaining -= take
            if self._remaining == 0:
                self._finish()
        else:
            self._body += self._buffer
            self._mark()
            self._buffer.clear()

    def _start_body(self, head: bytes) -> None:
        version, status, reason, headers, framing = _parse_head(head)
        if status == 101:
            raise httpx.RemoteProtocolError("101 Switching Protocols: upgrades are not supported")
        if 100 <= status < 200:
            return  # interim answer (100 Continue, 103 Early Hints): the real one follows
        connection = framing.get(b"connection", b"").lower()
        keep_alive = b"keep-alive" in connection if version == b"HTTP/1.0" else b"close" not in connection
        self._head = (version, status, reason, headers, keep_alive)
        self.idle_timeout_s = _keep_alive_timeout(framing.get(b"keep-alive", b""))
        if self._bodiless or status in (204, 304):
            self._remaining = 0
        elif b"chunked" in framing.get(b"transfer-encoding", b"").lower():
            self._chunked = True
        elif b"content-length" in framing:
            length = framing[b"content-length"]
            if not length.strip().isdigit():
                raise httpx.RemoteProtocolError(f"bad Content-Length {length!r}")
            self._remaining = int(length)
        if self._remaining == 0:
            self._finish()

    def _parse_chunks(self) -> None:
        while True:
            if self._in_trailers:
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    if len(self._buffer) > _MAX_HEAD_BYTES:
                        raise httpx.RemoteProtocolError(f"trailer line longer than {_MAX_HEAD_BYTES} bytes")
                    return
                if end and b":" not in self._buffer[:end]:
                    raise httpx.RemoteProtocolError(f"bad trailer line {bytes(self._buffer[:min(end, 100)])!r}")
                self._trailer_bytes += end + 2
                if self._trailer_bytes > _MAX_HEAD_BYTES:
                    raise httpx.RemoteProtocolError(f"trailers longer than {_MAX_HEAD_BYTES} bytes")
                del self._buffer[: end + 2]
                if end == 0:  # the empty line after the (usually absent) trailers
                    self._finish()
                    return
                continue
            if self._remaining is None:  # at a chunk-size line
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    if len(self._buffer) > _MAX_HEAD_BYTES:
                        raise httpx.RemoteProtocolError("chunk-size line too long")
                    return
                size_text = bytes(self._buffer[:end]).split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise httpx.RemoteProtocolError(f"bad chunk size {size_text!r}") from None
                del self._buffer[: end + 2]
                if size == 0:
                    self._in_trailers = True
                    continue
                self._remaining = size
            if len(self._buffer) < self._remaining + 2:
                return
            if self._buffer[self._remaining : self._remaining + 2] != b"\r\n":
                raise httpx.RemoteProtocolError("chunk data not followed by CRLF (wrong chunk size?)")
            self._body += self._buffer[: self._remaining]
            self._mark()
            del self._buffer[: self._remaining + 2]
            self._remaining = None

    def _mark(self) -> None:
        if self._body and (not self._marks or self._marks[-1][0] < len(self._body)):
            self._marks.append((len(self._body), self._arrived))

    def _finish(self) -> None:
        assert self._head is not None, "a body ends only after its head"
        version, status, reason, headers, keep_alive = self._head
        if self._buffer:
            keep_alive = False  # bytes beyond the answer: do not trust this connection again
        self._settle((Response(version, status, reason, headers, bytes(self._body), tuple(self._marks)), keep_alive))


def _parse_head(head: bytes) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]], dict[bytes, bytes]]:
    """Version, status, reason, headers (as received) and the framing headers (lower-cased names; last wins)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise httpx.RemoteProtocolError(f"bad status line {lines[0][:100]!r}")
    headers: list[tuple[bytes, bytes]] = []
    framing: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise httpx.RemoteProtocolError(f"bad header line {line[:100]!r}")
        name, value = name.strip(), value.strip()
        headers.append((name, value))
        lower = name.lower()
        if lower in _FRAMING_HEADERS:
            framing[lower] = value
    return parts[0], int(parts[1]), parts[2] if len(parts) > 2 else b"", headers, framing


def _keep_alive_timeout(value: bytes) -> float | None:
    """``timeout=5, max=100`` -> 5.0; ``None`` when absent or unreadable."""
    for part in value.split(b","):
        name, _, number = part.partition(b"=")
        if name.strip().lower() == b"timeout":
            try:
                return max(0.0, float(number.strip()))
            except ValueError:
                return None
    return None


class ConnectionPool:
    """Keep-alive connections to one origin, one request at a time on each.

    The pool holds as many connections as requests were in flight at once; it never queues.
    ``ssl_context`` is ``None`` for plain HTTP.
    """

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self._ssl = ssl_context
        self._idle: list[_Connection] = []
        self._busy: set[_Connection] = set()
        self._closed = False

    async def request(
        self,
        data: bytes,
        *,
        bodiless: bool = False,
        connect_timeout_s: float | None = None,
        read_timeout_s: float | None = None,
        on_settled: Callable[[], None] | None = None,
    ) -> Response:
        """Send one whole request (head and body, as bytes); the whole response.

        ``bodiless``: a HEAD request. ``connect_timeout_s`` limits opening a connection,
        ``read_timeout_s`` waiting for the whole answer once the request is written. Nothing is
        retried here, not even a keep-alive race (a server closing an idle connection as the
        request goes out): the caller retries, so every attempt the server may have seen is counted.
        ``on_settled`` is called once the request is written and its answer read (or it failed, or was
        cancelled), in the callback that settled it: a caller that bounds the requests on the wire
        frees a place there, an event-loop round sooner than after this coroutine returns.
        """
        connection = await self._acquire(connect_timeout_s)
        try:
            response, keep_alive = await connection.exchange(
                data, bodiless=bodiless, timeout_s=read_timeout_s, on_settled=on_settled
            )
        except BaseException:
            self._release(connection, keep=False)
            raise
        self._release(connection, keep=keep_alive)
        return response

    async def _acquire(self, timeout_s: float | None) -> _Connection:
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._idle:
            connection = self._idle.pop()
            timeout = connection.idle_timeout_s
            if timeout is not None and now - connection.idle_since >= timeout - _EXPIRY_MARGIN_S:
                connection.close()  # the server has closed it by now, or is about to
                continue
            if not connection.closed:
                self._busy.add(connection)
                return connection
        server_hostname = self.host if self._ssl else None
        try:
            async with asyncio.timeout(timeout_s):
                _, connection = await loop.create_connection(
                    _Connection, self.host, self.port, ssl=self._ssl, server_hostname=server_hostname
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"cannot connect to {self.host}:{self.port} within {timeout_s:g} s") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._busy.add(connection)
        return connection

    def _release(self, connection: _Connection, *, keep: bool) -> None:
        self._busy.discard(connection)
        if keep and not connection.closed and not self._closed:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        """Close every connection, idle or busy (busy requests then fail with ``httpx.ReadError``)."""
        self._closed = True
        for connection in [*self._idle, *self._busy]:
            connection.close()
        self._idle.clear()
        self._busy.clear()
