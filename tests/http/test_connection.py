"""The lean HTTP/1.1 connections against a server that writes raw answers in small pieces."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from spec_tod.http.connection import ConnectionPool, Response
from tests.bench.servers import RawServer

REQUEST = b'POST /generate HTTP/1.1\r\nHost: test\r\nContent-Length: 15\r\n\r\n{"inputs": "x"}'


def request_twice(pieces: list[bytes], *, close: bool = False) -> tuple[list[Response | Exception], int]:
    """Two sequential requests through one pool; the answers (or errors) and the connections opened."""

    async def run(url: str):
        pool = ConnectionPool("127.0.0.1", int(url.rsplit(":", 1)[1]))
        results = []
        for _ in range(2):
            try:
                results.append(await pool.request(REQUEST, connect_timeout_s=5, read_timeout_s=5))
            except httpx.TransportError as exc:
                results.append(exc)
        pool.close()
        return results

    with RawServer(pieces, close=close) as server:
        return asyncio.run(run(server.url)), server.connections


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_content_length_answer_in_single_bytes_and_connection_reuse():
    raw = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a": "b"}\n'
    results, opened = request_twice(bytewise(raw))
    headers = [(b"Content-Type", b"application/json"), (b"Content-Length", b"11")]
    expected = Response(b"HTTP/1.1", 200, b"OK", headers, b'{"a": "b"}\n')
    assert results == [expected, expected]
    assert opened == 1
    # each body byte came in its own read, so the body grew 11 times, in order (streamed answers are timed by this)
    assert [offset for offset, _ in results[0].marks] == list(range(1, 12))
    times = [at for _, at in results[0].marks]
    assert times == sorted(times) and times[-1] > times[0]


def test_chunked_answer_with_extension_and_trailer():
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n6\r\npedia \r\n0\r\nX-Trailer: t\r\n\r\n"
    results, opened = request_twice(bytewise(raw))
    assert [r.body for r in results] == [b"Wikipedia ", b"Wikipedia "]
    assert [offset for offset, _ in results[0].marks] == [4, 10]  # a chunk counts once it is whole
    assert opened == 1


def test_interim_answer_is_skipped():
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n"
    results, _ = request_twice([raw[:30], raw[30:]])
    assert (results[0].status, results[0].reason, results[0].body) == (503, b"Service Unavailable", b"")
    assert results[0].headers == [(b"Retry-After", b"2"), (b"Content-Length", b"0")]


def test_close_delimited_answer_ends_at_close_and_a_new_connection_follows():
    results, opened = request_twice([b"HTTP/1.0 200 OK\r\n\r\nhello ", b"world"], close=True)
    assert [r.body for r in results] == [b"hello world", b"hello world"]
    assert opened == 2


def test_connection_close_header_is_obeyed():
    results, opened = request_twice([b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"])
    assert [r.body for r in results] == [b"ok", b"ok"]
    assert opened == 2


def test_close_before_the_whole_body_is_a_drop():
    results, _ = request_twice([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], close=True)
    assert all(isinstance(r, httpx.RemoteProtocolError) for r in results)


@pytest.mark.parametrize(
    "raw",
    [b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"],
)
def test_malformed_answers_are_rejected(raw: bytes):
    results, _ = request_twice([raw])
    assert all(isinstance(r, httpx.RemoteProtocolError) for r in results)


def _settle_events(pieces: list[bytes], *, close: bool = False, cancel: bool = False) -> list[str]:
    """What happened, in order, around one request whose ``on_settled`` records itself."""

    async def run(url: str) -> list[str]:
        pool = ConnectionPool("127.0.0.1", int(url.rsplit(":", 1)[1]))
        events: list[str] = []
        request = asyncio.ensure_future(
            pool.request(REQUEST, connect_timeout_s=5, read_timeout_s=5, on_settled=lambda: events.append("settled"))
        )
        if cancel:
            for _ in range(1000):  # until the request is written and its answer awaited (bounded)
                if any(connection._waiter is not None for connection in pool._busy):
                    break
                await asyncio.sleep(0.005)
            request.cancel()
        try:
            await request
            events.append("answer")
        except (httpx.TransportError, asyncio.CancelledError) as exc:
            events.append(type(exc).__name__)
        await asyncio.sleep(0.05)  # a late second call would show here
        pool.close()
        return events

    with RawServer(pieces, close=close) as server:
        return asyncio.run(run(server.url))


def test_on_settled_runs_once_before_the_awaiting_task_resumes():
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert _settle_events(bytewise(raw)) == ["settled", "answer"]


def test_on_settled_runs_once_when_the_server_drops_the_answer():
    assert _settle_events([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], close=True) == [
        "settled",
        "RemoteProtocolError",
    ]


def test_on_settled_runs_once_when_the_request_is_cancelled():
    # the answer never ends (10 bytes announced, 3 sent): the request is cancelled while it waits
    assert _settle_events([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], cancel=True) == [
        "settled",
        "CancelledError",
    ]
