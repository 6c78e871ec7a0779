"""The chat-completions protocol and streamed answers, against the shared stand-in server; answers of odd shapes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from spec_tod.bench.chat_roles import chat_messages, chat_role_map
from spec_tod.bench.client import CompletionClient, GenerationParams, RequestFailed
from spec_tod.bench.protocols import (
    ChatCompletions,
    OpenAICompletions,
    ProtocolError,
    TGIGenerate,
    error_message,
    loads_answer,
)
from spec_tod.bench.sse import read_events
from spec_tod.bench.store import CallRecord
from spec_tod.chat.template import load_chat_template
from spec_tod.errors import SpecTodError
from tests.bench.servers import FakeServer, Fault, echo_text

MESSAGES = [("system", "be brief"), ("user", "a cheap hotel"), ("function", "call"), ("observation", "3 hotels")]
SPEC_TOD = chat_role_map("spec-tod", None)


def run_client(url: str, prompts: list, **options):
    async def go():
        async with CompletionClient([url], **options) as client:
            return await asyncio.gather(*(client.complete(p, GenerationParams(max_new_tokens=8)) for p in prompts))

    return asyncio.run(go())


def test_role_maps_keep_or_fold_the_spec_tod_roles():
    native = chat_messages((MESSAGES, "assistant"), SPEC_TOD)
    assert [m["role"] for m in native] == ["system", "user", "function", "observation", "assistant"]
    assert native[-1]["content"] == ""  # the message the model writes
    folded = chat_messages((MESSAGES, "function"), chat_role_map("openai", None))
    assert [m["role"] for m in folded] == ["system", "user", "assistant", "user", "assistant"]
    # auto: the training mapping of the local template (Llama 3 renders every role), else the roles as they are
    assert chat_role_map("auto", load_chat_template("llama3")) == SPEC_TOD == chat_role_map("auto", None)
    with pytest.raises(SpecTodError, match="--chat-roles 'tools'"):
        chat_role_map("tools", None)


def test_chat_request_continues_a_function_message_and_asks_for_an_assistant_one():
    with FakeServer() as server:
        calls = chat_messages((MESSAGES, "function"), SPEC_TOD)
        replies = chat_messages((MESSAGES, "assistant"), SPEC_TOD)
        (call, reply) = run_client(server.url, [calls, replies], protocol="chat", model="m")
    first, second = sorted(server.received, key=lambda r: r.body["messages"][-1]["role"] != "function")
    assert first.path == "/v1/chat/completions"
    assert first.body == {
        "messages": [*({"role": r, "content": c} for r, c in MESSAGES), {"role": "function", "content": ""}],
        "continue_final_message": True,
        "add_generation_prompt": False,
        "max_tokens": 8,
        "model": "m",
        "temperature": 0.0,
    }
    assert second.body["messages"] == [{"role": r, "content": c} for r, c in MESSAGES]
    assert second.body["add_generation_prompt"] is True and "continue_final_message" not in second.body
    assert (call.text, call.generated_tokens, call.finish_reason) == (echo_text("3 hotels"), 2, "stop")
    assert call.ttft_s is None and reply.text == call.text


def test_chat_endpoint_without_continuation_is_refused_with_a_plain_message():
    with FakeServer() as server:
        refusal = "Unrecognized request argument supplied: continue_final_message"
        server.fail_next(Fault.status_code(400, message=refusal))
        prompt = chat_messages((MESSAGES, "function"), SPEC_TOD)
        (failure,) = asyncio.run(_gather_exceptions(server.url, [prompt], protocol="chat"))
    assert isinstance(failure, RequestFailed)
    assert "cannot continue a message the model is to write" in str(failure) and failure.attempts == 1


async def _gather_exceptions(url: str, prompts: list, **options):
    async with CompletionClient([url], **options) as client:
        return await asyncio.gather(*(client.complete(p) for p in prompts), return_exceptions=True)


def test_api_key_goes_out_as_bearer_and_a_wrong_one_fails():
    with FakeServer(api_key="sk-test") as server:
        (done,) = run_client(server.url, ["hello there"], api_key="sk-test")
        (refused,) = asyncio.run(_gather_exceptions(server.url, ["x"], api_key="wrong"))
    assert server.received[0].authorization == "Bearer sk-test"
    assert done.text == echo_text("hello there")
    assert isinstance(refused, RequestFailed) and refused.last_status == 401


@pytest.mark.parametrize("protocol", ["openai", "chat"])
def test_streamed_answers_are_joined_and_timed(protocol: str):
    chat = chat_messages(([("user", "book it now")], "assistant"), SPEC_TOD)
    prompt = "book it now" if protocol == "openai" else chat
    with FakeServer(stream_gap_s=0.05) as server:
        (done,) = run_client(server.url, [prompt], protocol=protocol, stream=True)
    assert server.received[0].body["stream"] is True
    assert server.received[0].body["stream_options"] == {"include_usage": True}
    assert (done.text, done.generated_tokens, done.finish_reason) == (" echo now", 2, "stop")
    # two pieces 50 ms apart: one gap of at least that, the first piece before it
    assert done.ttft_s is not None and 0 <= done.ttft_s < done.latency_s
    assert len(done.gaps_s) == 1 and done.gaps_s[0] >= 0.045


def test_a_server_that_does_not_stream_gives_no_stream_timings():
    with FakeServer(streams=False) as server:
        (done,) = run_client(server.url, ["one two"], stream=True)
    assert done.text == echo_text("one two") and done.ttft_s is None and done.gaps_s == ()


def test_tgi_does_not_stream():
    with pytest.raises(SpecTodError, match="does not stream"):
        CompletionClient(["http://127.0.0.1:1"], protocol="tgi", stream=True)


def test_events_carry_the_time_their_last_byte_arrived():
    body = (
        b'data: {"choices": [{"text": "a"}]}\n\n'
        b'data: {"choices": [{"text": "b", "finish_reason": "stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    first_end = body.index(b"\n\n") + 2
    events = read_events(body, [(first_end - 5, 1.0), (first_end, 2.0), (len(body), 3.0)])
    assert [time for _, time in events] == [2.0, 3.0]
    generated = OpenAICompletions.parse_stream(events, GenerationParams())
    assert (generated.text, generated.finish_reason, generated.piece_times) == ("ab", "stop", (2.0, 3.0))


def test_stream_errors_are_protocol_errors():
    with pytest.raises(ProtocolError, match="mid-stream: out of memory"):
        read_events(b'data: {"error": {"message": "out of memory"}}\n\n', [(10, 1.0)])
    with pytest.raises(ProtocolError, match="not JSON"):
        read_events(b"data: {oops\n\n", [])
    with pytest.raises(ProtocolError, match="delta.content"):
        ChatCompletions.parse_stream([({"choices": [{"delta": {"content": 3}}]}, 1.0)], GenerationParams())


_ODD_PARTS = [None, 5, True, "x", [], ["x"], {}, {"a": 1}, [{"text": "x"}]]


def test_answers_of_any_json_shape_read_or_are_protocol_errors_and_always_make_a_record():
    """A server's answer becomes a call record or a retried malformed answer, never a crash: every optional
    part of an answer in a shape of its own, and every required part in a wrong one."""
    params = GenerationParams(stop=("<|eot_id|>",))
    answers: list[tuple[Any, object]] = []
    for odd in _ODD_PARTS:
        details = {"finish_reason": odd, "generated_tokens": odd, "prefill": odd}
        answers += [
            (OpenAICompletions.parse, {"choices": [{"text": "hi", "finish_reason": odd}], "usage": odd}),
            (OpenAICompletions.parse, {"choices": [{"text": "hi"}], "usage": {"prompt_tokens": odd, "completion_tokens": odd}}),
            (OpenAICompletions.parse, {"choices": odd}),
            (ChatCompletions.parse, {"choices": [{"message": {"content": "hi"}, "finish_reason": odd}], "usage": odd}),
            (ChatCompletions.parse, {"choices": [{"message": odd}]}),
            (TGIGenerate.parse, {"generated_text": "hi", "details": odd}),
            (TGIGenerate.parse, {"generated_text": "hi", "details": details}),
            (TGIGenerate.parse, odd),
            (OpenAICompletions.parse_stream, [({"choices": odd}, 1.0)]),
            (OpenAICompletions.parse_stream, [({"choices": [odd]}, 1.0)]),
            (OpenAICompletions.parse_stream, [({"choices": [{"text": "hi", "finish_reason": odd}], "usage": odd}, 1.0)]),
        ]  # fmt: skip
    read = 0
    for parse, answer in answers:
        try:
            generated = parse(answer, params)
        except ProtocolError:
            continue
        read += 1
        CallRecord(kind="dst", text=generated.text, finish_reason=generated.finish_reason,
                   prompt_tokens=generated.prompt_tokens, generated_tokens=generated.generated_tokens, latency_s=0.1)  # fmt: skip
        assert generated.finish_reason in (None, "stop", "x")
    assert read > len(_ODD_PARTS) * 5  # most answers keep their text: only the required parts' shapes are refused


def test_lone_surrogates_in_answers_become_replacement_characters():
    """JSON may escape half of a character (``\\ud83d``); no UTF-8 checkpoint can hold it."""
    body = b'{"choices": [{"text": "a \\ud83d b \\uDE00 c \\ud83d\\ude00 d \\\\ud83d"}], "\\ud800": ["\\udfff", 1]}'
    answer = loads_answer(body)
    assert answer == {"choices": [{"text": "a \ufffd b \ufffd c \U0001f600 d \\ud83d"}], "\ufffd": ["\ufffd", 1]}
    assert loads_answer(b'{"text": "plain \\u00e9"}') == {"text": "plain \u00e9"}
    (event, _), = read_events(b'data: {"choices": [{"text": "x\\udbff"}]}\n\n', [])  # fmt: skip
    assert event == {"choices": [{"text": "x\ufffd"}]}
    assert error_message(b'{"error": "bad \\ud800"}') == "bad \ufffd"


def test_an_answer_nested_deeper_than_the_decoder_goes_is_not_json():
    """Thousands of brackets fit in an answer's allowed size; the decoder's RecursionError would crash the run."""
    with pytest.raises(ValueError, match="nested deeper than the parser goes"):
        loads_answer(b'{"choices": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert error_message(b"[" * 5000 + b"]" * 5000).startswith("[[[")
