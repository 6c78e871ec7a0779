"""The client against a real engine: ``transformers serve`` on the tiny model (slow: starts a server)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from spec_tod.bench.client import CompletionClient, GenerationParams, RequestFailed
from spec_tod.bench.render import PromptRenderer, tokenizer_encoder
from spec_tod.chat.template import load_chat_template

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "system", "content": "find the user's restaurant"}, {"role": "user", "content": "a cheap place please"}]


def test_greedy_completions_repeat_and_the_server_sees_one_bos(transformers_server: str, tiny_model_dir: Path):
    from transformers import AutoTokenizer

    template = load_chat_template(tiny_model_dir)
    renderer = PromptRenderer(template, tokenizer_encoder(tiny_model_dir))
    prompt = renderer(([(m["role"], m["content"]) for m in MESSAGES], "function"), 6)
    assert renderer.strip_bos and not prompt.startswith("<|begin_of_text|>")  # the server adds the one BOS
    params = GenerationParams(max_new_tokens=6, stop=template.stop_strings)

    async def run():
        async with CompletionClient([transformers_server], concurrency=3) as client:
            return await asyncio.gather(*(client.complete(prompt, params) for _ in range(3)))

    results = asyncio.run(run())
    assert len({r.text for r in results}) == 1  # greedy: the same text every time
    tokens = AutoTokenizer.from_pretrained(tiny_model_dir)(prompt).input_ids
    assert tokens.count(tokens[0]) == 1 and AutoTokenizer.from_pretrained(tiny_model_dir).decode(tokens[:1]) == "<|begin_of_text|>"
    assert {r.prompt_tokens for r in results} == {len(tokens)}  # the server saw the prompt with one BOS
    assert all(r.generated_tokens is not None and 1 <= r.generated_tokens <= 6 for r in results)


def test_fields_outside_the_openai_schema_fail_at_once_with_the_reason(transformers_server: str):
    async def run():
        async with CompletionClient([transformers_server]) as client:
            return await client.complete("hello", GenerationParams(max_new_tokens=2, temperature=0.5, top_k=5))

    with pytest.raises(RequestFailed) as failure:
        asyncio.run(run())
    assert (failure.value.last_status, failure.value.attempts) == (422, 1)
    assert "top_k" in failure.value.last_error
