"""HTTP/1.1 conformance of spec-tod's connections (docs: spec_tod.http.connection): framing, limits, reuse."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from spec_tod.http.connection import ConnectionPool, Response
from tests.bench.servers import RawServer

REQUEST = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n"


def exchange(pieces: list[bytes], *, requests: int = 2, parallel: bool = False, close: bool = False):
    """``requests`` requests through one pool (one after the other, or all at once): answers or errors,
    and how many connections the server saw."""

    async def one(pool: ConnectionPool) -> Response | Exception:
        try:
            return await pool.request(REQUEST, connect_timeout_s=5, read_timeout_s=5)
        except httpx.TransportError as exc:
            return exc

    async def run(url: str) -> list[Response | Exception]:
        pool = ConnectionPool("127.0.0.1", int(url.rsplit(":", 1)[1]))
        if parallel:
            results = list(await asyncio.gather(*(one(pool) for _ in range(requests))))
        else:
            results = [await one(pool) for _ in range(requests)]
        pool.close()
        return results

    with RawServer(pieces, close=close) as server:
        return asyncio.run(run(server.url)), server.connections


def _ok(result: Response | Exception, body: bytes) -> bool:
    return isinstance(result, Response) and result.status == 200 and result.body == body


def test_chunked_body_with_trailers_is_joined_and_the_trailers_dropped():
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"4;name=value\r\nWiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\nX-Checksum: 1\r\n\r\n")  # fmt: skip
    results, connections = exchange([raw[:30], raw[30:61], raw[61:]])
    assert all(_ok(result, b"Wikipedia") for result in results)
    assert connections == 1
    assert all(b"Expires" not in name for result in results for name, _ in result.headers)


@pytest.mark.parametrize(
    "body",
    [
        b"4\r\nWikipedia\r\n0\r\n\r\n",  # the size is short: the data is not followed by CRLF
        b"4\r\nWikiXX0\r\n\r\n",  # no CRLF after the data at all
        b"zz\r\nWiki\r\n0\r\n\r\n",  # a size that is not hex
        b"4\r\nWiki\r\n0\r\nnot a header line\r\n\r\n",  # a trailer without a colon
    ],
)
def test_bad_chunk_framing_is_refused_and_the_connection_dropped(body: bytes):
    results, connections = exchange([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body])
    assert all(isinstance(result, httpx.RemoteProtocolError) for result in results)
    assert connections == 2


def test_endless_trailers_are_refused():
    trailers = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"y" * 1000) for i in range(70))
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n" + trailers + b"\r\n"
    results, _ = exchange([raw], requests=1)
    assert isinstance(results[0], httpx.RemoteProtocolError) and "trailers" in str(results[0])


@pytest.mark.parametrize("whole", [True, False], ids=["head in one piece", "head without its end"])
def test_oversized_response_head_is_refused(whole: bool):
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Big-%d: %s\r\n" % (i, b"z" * 1000) for i in range(80))
    raw = head + b"Content-Length: 2\r\n\r\nok" if whole else head
    results, _ = exchange([raw], requests=1)
    assert isinstance(results[0], httpx.RemoteProtocolError) and "longer than" in str(results[0])


def test_interim_answers_are_skipped_but_switching_protocols_is_refused():
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    results, connections = exchange([interim, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    assert all(_ok(result, b"ok") for result in results) and connections == 1
    results, _ = exchange([b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"], requests=1)
    assert isinstance(results[0], httpx.RemoteProtocolError) and "101" in str(results[0])


@pytest.mark.parametrize(
    "head",
    [b"HTTP/1.1 200 OK\r\nConnection: close\r\n", b"HTTP/1.0 200 OK\r\n"],
    ids=["Connection: close", "HTTP/1.0 without keep-alive"],
)
def test_a_connection_the_server_will_close_is_not_reused(head: bytes):
    results, connections = exchange([head + b"Content-Length: 2\r\n\r\nok"])
    assert all(_ok(result, b"ok") for result in results)
    assert connections == 2


@pytest.mark.parametrize(("timeout", "connections"), [(b"1", 3), (b"60", 1)])
def test_keep_alive_expiry_from_the_servers_timeout(timeout: bytes, connections: int):
    # timeout=1 leaves no idle time after the one-second margin: the connection is never reused
    raw = b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=" + timeout + b", max=100\r\nContent-Length: 2\r\n\r\nok"
    results, opened = exchange([raw], requests=3)
    assert all(_ok(result, b"ok") for result in results)
    assert opened == connections


def test_no_pipelining_one_request_per_connection_and_extra_bytes_end_the_connection():
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    results, connections = exchange([answer], requests=4, parallel=True)
    assert all(_ok(result, b"ok") for result in results) and connections == 4
    # a second answer nobody asked for (as if a request had been pipelined): the first is taken, the connection dropped
    results, connections = exchange([answer + answer])
    assert all(_ok(result, b"ok") for result in results) and connections == 2
