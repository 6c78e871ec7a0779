"""The completion client against real local servers: wire payloads, retries, faults, concurrency, spreading."""

from __future__ import annotations

import asyncio

import pytest

from spec_tod.bench.client import CompletionClient, GenerationParams, RequestFailed
from spec_tod.bench.protocols import OpenAICompletions, TGIGenerate
from spec_tod.errors import SpecTodError
from tests.bench.servers import FakeServer, Fault, echo_text

FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "rng_seed": 0}


def complete_all(url: str | list[str], prompts: list[str], params: GenerationParams = GenerationParams(), **options):
    """Run ``prompts`` through one client; the completions (or exceptions) in order, and the client."""

    async def run():
        async with CompletionClient(url if isinstance(url, list) else [url], **options) as client:
            results = await asyncio.gather(*(client.complete(p, params) for p in prompts), return_exceptions=True)
            return results, client

    return asyncio.run(run())


@pytest.fixture()
def server():
    with FakeServer() as s:
        yield s


# Payloads and answers


def test_defaults_decode_greedily():
    params = GenerationParams()
    assert (params.temperature, params.top_p, params.top_k, params.seed, params.max_new_tokens) == (0.0, None, None, None, 128)
    assert params.greedy


def test_openai_greedy_payload_as_received(server):
    (done,), _ = complete_all(server.url, ["hello there"], GenerationParams(max_new_tokens=8, stop=("<|eot_id|>",)))
    assert server.received[0].path == "/v1/completions"
    assert server.received[0].body == {"prompt": "hello there", "max_tokens": 8, "temperature": 0.0, "stop": ["<|eot_id|>"]}
    assert (done.text, done.generated_tokens, done.prompt_tokens) == (echo_text("hello there"), 2, 2)
    assert (done.finish_reason, done.attempts, done.endpoint) == ("stop", 1, server.url)


def test_openai_sampled_payload_carries_every_option_and_the_model(server):
    params = GenerationParams(
        max_new_tokens=4, temperature=0.7, top_p=0.9, top_k=40, stop=("\n\n",), seed=3, repetition_penalty=1.1
    )
    complete_all(server.url, ["x"], params, model="/models/m")
    assert server.received[0].body == {
        "prompt": "x",
        "max_tokens": 4,
        "model": "/models/m",
        "temperature": 0.7,
        "top_p": 0.9,
        "stop": ["\n\n"],
        "seed": 3,
        "top_k": 40,
        "repetition_penalty": 1.1,
    }


def test_tgi_greedy_payload_has_no_temperature_or_top_p(server):
    # TGI samples whenever temperature != 1 or top_p < 1, whatever do_sample says (the release's bug).
    params = GenerationParams(max_new_tokens=16, top_p=0.2, stop=("<|eot_id|>",), seed=7)
    (done,), _ = complete_all(server.url, ["book a table"], params, protocol="tgi")
    assert server.received[0].path == "/generate"
    assert server.received[0].body == {
        "inputs": "book a table",
        "parameters": {"max_new_tokens": 16, "details": True, "do_sample": False, "stop": ["<|eot_id|>"], "seed": 7},
    }
    # TGI returns the stop sequence inside generated_text; the client strips it
    assert (done.text, done.finish_reason, done.generated_tokens) == (echo_text("book a table"), "stop", 2)
    assert done.prompt_tokens is None


def test_tgi_sampled_payload():
    body = TGIGenerate.payload("p", GenerationParams(temperature=0.3, top_p=0.2, top_k=5, repetition_penalty=1.2), None)
    assert body["parameters"] == {
        "max_new_tokens": 128,
        "details": True,
        "do_sample": True,
        "temperature": 0.3,
        "top_p": 0.2,
        "top_k": 5,
        "repetition_penalty": 1.2,
    }


def test_answers_are_normalised():
    params = GenerationParams(stop=("\n\n",))
    tgi = TGIGenerate.parse({"generated_text": "hi", "details": {"finish_reason": "length", "generated_tokens": 5}}, params)
    assert (tgi.text, tgi.finish_reason, tgi.generated_tokens) == ("hi", "length", 5)
    oai = OpenAICompletions.parse({"choices": [{"text": "a\n\n", "finish_reason": "stop"}]}, params)
    assert (oai.text, oai.finish_reason, oai.generated_tokens, oai.prompt_tokens) == ("a", "stop", None, None)


def test_chunked_answers_are_read(server):
    server.chunked = True
    (done,), _ = complete_all(server.url, ["one two"])
    assert done.text == echo_text("one two")


def test_sequential_requests_reuse_one_connection(server):
    async def run():
        async with CompletionClient([server.url]) as client:
            for i in range(20):
                await client.complete(f"turn {i}")

    asyncio.run(run())
    assert len(server.received) == 20
    assert server.connections == 1


# Faults


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault.status_code(503), "503"),
        (Fault.status_code(500), "5xx"),
        (Fault.status_code(429), "429"),
        (Fault.drop(), "connection"),
        (Fault.truncate(), "connection"),
    ],
)
def test_transient_faults_are_retried_until_success(server, fault, reason):
    server.fail_next(fault, fault)
    (done,), client = complete_all(server.url, ["hello"], **FAST)
    assert done.attempts == 3
    assert done.text == echo_text("hello")
    assert len(server.received) == 3
    assert client.stats.retries == {reason: 2}
    assert (client.stats.requests, client.stats.completed, client.stats.failures) == (3, 1, 0)


def test_timeout_is_retried(server):
    server.fail_next(Fault.slow(3.0))
    (done,), client = complete_all(server.url, ["hello"], timeout_s=0.3, **FAST)
    assert done.attempts == 2
    assert client.stats.retries == {"timeout": 1}


def test_retry_after_is_honoured(server):
    server.fail_next(Fault.status_code(429, retry_after="1"))
    (done,), _ = complete_all(server.url, ["hello"], backoff_base_s=0.001, backoff_max_s=5.0)
    assert done.attempts == 2
    assert server.received[1].at - server.received[0].at >= 0.95


def test_gives_up_after_max_retries_of_a_server_that_is_up(server):
    server.fail_next(*[Fault.status_code(500, message="internal error")] * 10)
    (failure,), client = complete_all(server.url, ["hello"], max_retries=2, **FAST)
    assert isinstance(failure, RequestFailed)
    assert (failure.attempts, failure.last_status) == (3, 500)
    assert "internal error" in failure.last_error and "while the server was up" in str(failure)
    assert len(server.received) == 3
    assert client.stats.failures == 1 and client.stats.retries == {"5xx": 2}


def test_busy_server_is_waited_for_within_the_outage_budget_not_the_retries(server):
    server.fail_next(*[Fault.status_code(503, message="overloaded")] * 6)
    (done,), client = complete_all(server.url, ["hello"], max_retries=1, **FAST)
    assert done.attempts == 7 and done.text == echo_text("hello")
    assert client.stats.retries == {"503": 6} and client.stats.failures == 0

    server.fail_next(*[Fault.status_code(503, message="overloaded")] * 1000)
    (failure,), _ = complete_all(server.url, ["hello"], max_retries=1, outage_budget_s=0.3, **FAST)
    assert isinstance(failure, RequestFailed) and failure.last_status == 503
    assert "busy" in str(failure) and failure.attempts > 2


def test_client_error_fails_at_once_with_the_server_message(server):
    server.fail_next(Fault.status_code(400, message="prompt is longer than 4096 tokens"))
    (failure,), client = complete_all(server.url, ["hello"], **FAST)
    assert isinstance(failure, RequestFailed)
    assert (failure.attempts, failure.last_status) == (1, 400)
    assert "prompt is longer than 4096 tokens" in str(failure)
    assert len(server.received) == 1 and not client.stats.retries


def test_unexpected_field_rejection_explains_itself(server):
    server.fail_next(Fault.status_code(422, message="Unexpected fields in the request: {'top_k'}"))
    (failure,), _ = complete_all(server.url, ["x"], GenerationParams(temperature=1.0, top_k=5))
    assert isinstance(failure, RequestFailed) and failure.last_status == 422
    assert "leave top_k and repetition_penalty unset" in str(failure)


def test_unreachable_server_fails_once_the_outage_budget_is_spent():
    (failure,), client = complete_all("http://127.0.0.1:9", ["x"], max_retries=1, outage_budget_s=0.5, **FAST)
    assert isinstance(failure, RequestFailed) and failure.attempts == 1 and failure.last_status is None
    assert "unavailable" in str(failure) and client.stats.outage_wait_s >= 0.5


def test_mixed_faults_under_load_account_for_every_request(server):
    server.delay_s = 0.02
    server.fail_next(
        *[Fault.status_code(429, retry_after="0"), Fault.status_code(503), Fault.drop(), Fault.slow(2.0), Fault.truncate()] * 4
    )
    prompts = [f"request {i}" for i in range(60)]
    results, client = complete_all(server.url, prompts, concurrency=8, timeout_s=0.5, max_retries=4, **FAST)
    assert all(not isinstance(r, BaseException) for r in results)
    assert [r.text for r in results] == [echo_text(p) for p in prompts]
    assert sum(r.attempts for r in results) == len(server.received) == client.stats.requests == 80
    assert sum(client.stats.retries.values()) == 20


# Concurrency and endpoints


def test_concurrency_bound_is_never_exceeded(server):
    server.delay_s = 0.05
    results, _ = complete_all(server.url, [f"p{i}" for i in range(40)], concurrency=5)
    assert len(results) == 40 and server.max_in_flight == 5


def test_concurrency_bound_is_global_across_endpoints():
    with FakeServer(delay_s=0.05) as a, FakeServer(delay_s=0.05) as b:
        results, _ = complete_all([a.url, b.url], [f"p{i}" for i in range(40)], concurrency=6)
        assert len(results) == 40
        assert a.max_in_flight + b.max_in_flight <= 6
        assert len(a.received) + len(b.received) == 40
        assert len(a.received) >= 10 and len(b.received) >= 10
        assert {r.endpoint for r in results} == {a.url, b.url}


def test_server_info_and_advertised_concurrency():
    with FakeServer(info={"model_id": "m", "max_concurrent_requests": 128}) as a, FakeServer() as b:

        async def run():
            async with CompletionClient([a.url, b.url]) as client:
                return await client.server_info(), await client.advertised_concurrency()

        info, limit = asyncio.run(run())
    assert info == {"model_id": "m", "max_concurrent_requests": 128}
    assert limit == 128


def test_no_info_means_none(server):
    async def run():
        async with CompletionClient([server.url]) as client:
            return await client.server_info(), await client.advertised_concurrency()

    assert asyncio.run(run()) == (None, None)


@pytest.mark.parametrize("endpoint", ["", "127.0.0.1:8080", "ftp://host", "http://"])
def test_bad_endpoints_are_user_errors(endpoint):
    with pytest.raises(SpecTodError):
        CompletionClient([endpoint])


def test_api_paths_in_endpoints_are_dropped():
    client = CompletionClient(["http://127.0.0.1:8080/v1/", "http://h:1/generate"])
    assert client.endpoints == ["http://127.0.0.1:8080", "http://h:1"]
