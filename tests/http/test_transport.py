"""httpx.AsyncClient on PooledTransport against real local servers: answers, reuse, limits, timeouts, errors."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from spec_tod.http.transport import PooledTransport
from tests.bench.servers import FakeServer, Fault, RawServer, echo_text


def run_with_client(work, *, max_connections: int = 8, timeout: float | httpx.Timeout = 5.0):
    """Run ``work(client)`` in a fresh event loop with a client on a new PooledTransport."""

    async def run():
        transport = PooledTransport(max_connections=max_connections)
        async with httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False) as client:
            return await work(client)

    return asyncio.run(run())


def complete(client: httpx.AsyncClient, url: str, prompt: str, **options):
    return client.post(url + "/v1/completions", json={"prompt": prompt, "max_tokens": 4}, **options)


@pytest.fixture()
def server():
    with FakeServer() as s:
        yield s


def test_answers_come_back_as_httpx_responses_on_one_connection(server):
    async def work(client):
        return [await complete(client, server.url, f"turn {i}") for i in range(5)]

    responses = run_with_client(work)
    assert [r.json()["choices"][0]["text"] for r in responses] == [echo_text(f"turn {i}") for i in range(5)]
    first = responses[0]
    assert (first.status_code, first.reason_phrase, first.http_version) == (200, "OK", "HTTP/1.1")
    assert first.headers["content-type"] == "application/json"
    assert first.headers["content-length"] == str(len(first.content))
    assert server.received[0].body == {"prompt": "turn 0", "max_tokens": 4}
    assert server.connections == 1


def test_repeated_headers_and_reason_phrase_are_kept():
    raw = b"HTTP/1.1 429 Slow Down\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\n{}"
    with RawServer([raw]) as server:
        response = run_with_client(lambda client: client.get(server.url + "/info"))
    assert (response.status_code, response.reason_phrase) == (429, "Slow Down")
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]


def test_head_answer_has_no_body_and_the_connection_is_reused():
    info = {"model_id": "m", "max_concurrent_requests": 4}
    with FakeServer(info=info) as server:

        async def work(client):
            return await client.head(server.url + "/info"), await client.get(server.url + "/info")

        head, get = run_with_client(work)
    assert (head.status_code, head.content, int(head.headers["content-length"])) == (200, b"", len(get.content))
    assert get.json() == info


def test_streamed_request_body_goes_out_chunked(server):
    payload = json.dumps({"prompt": "streamed body", "max_tokens": 4}).encode()

    async def parts():
        for start in range(0, len(payload), 5):
            yield payload[start : start + 5]

    response = run_with_client(lambda client: client.post(server.url + "/v1/completions", content=parts()))
    assert response.json()["choices"][0]["text"] == echo_text("streamed body")
    assert server.received[0].body == {"prompt": "streamed body", "max_tokens": 4}


def test_requests_in_flight_never_exceed_max_connections(server):
    server.delay_s = 0.05

    async def work(client):
        return await asyncio.gather(*(complete(client, server.url, f"p{i}") for i in range(20)))

    responses = run_with_client(work, max_connections=3)
    assert [r.status_code for r in responses] == [200] * 20
    assert server.max_in_flight == 3
    assert server.connections == 3


def test_waiting_past_the_pool_timeout_is_a_pool_timeout(server):
    server.fail_next(Fault.slow(1.0))

    async def work(client):
        slow = asyncio.create_task(complete(client, server.url, "slow"))
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):
            await complete(client, server.url, "queued", timeout=httpx.Timeout(5.0, pool=0.2))
        return await slow

    assert run_with_client(work, max_connections=1).status_code == 200


def test_slow_answer_is_a_read_timeout_and_its_connection_is_not_reused(server):
    server.fail_next(Fault.slow(3.0))

    async def work(client):
        with pytest.raises(httpx.ReadTimeout):
            await complete(client, server.url, "slow", timeout=0.3)
        return await complete(client, server.url, "next")

    assert run_with_client(work).status_code == 200
    assert server.connections == 2


def test_cancelled_request_closes_its_connection(server):
    server.fail_next(Fault.slow(3.0))

    async def work(client):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await complete(client, server.url, "cancelled")
        return await complete(client, server.url, "next")

    assert run_with_client(work).json()["choices"][0]["text"] == echo_text("next")
    assert server.connections == 2


@pytest.mark.parametrize("fault", [Fault.drop(), Fault.truncate()])
def test_connection_closed_before_a_whole_answer_is_a_transport_error(server, fault):
    server.fail_next(fault)

    async def work(client):
        with pytest.raises(httpx.TransportError) as failure:
            await complete(client, server.url, "x")
        return failure.value, await complete(client, server.url, "after")

    failure, after = run_with_client(work)
    assert isinstance(failure, (httpx.ReadError, httpx.RemoteProtocolError))
    assert failure.request.url == server.url + "/v1/completions"  # httpx attaches the request
    assert after.status_code == 200


def test_truncated_answer_is_a_remote_protocol_error():
    with RawServer([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], close=True) as server:

        async def work(client):
            with pytest.raises(httpx.RemoteProtocolError, match="before a full answer"):
                await client.get(server.url + "/info")

        run_with_client(work)


def test_unreachable_server_is_a_connect_error():
    async def work(client):
        with pytest.raises(httpx.ConnectError, match="127.0.0.1:9"):
            await client.get("http://127.0.0.1:9/info")

    run_with_client(work)


def test_only_http_and_https_are_spoken():
    async def work(client):
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.get("ftp://127.0.0.1:21/file")

    run_with_client(work)


def test_max_connections_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        PooledTransport(max_connections=0)
