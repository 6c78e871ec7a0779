"""Request bodies encoded piecewise are ``json.dumps(payload).encode()``, byte for byte."""

from __future__ import annotations

import json
import random
from pathlib import Path

from spec_tod.bench.json_body import BodyEncoder
from spec_tod.bench.prompts import dialogue_prompts
from spec_tod.bench.protocols import GenerationParams, OpenAICompletions, TGIGenerate
from spec_tod.bench.render import PromptRenderer
from spec_tod.bench.runner import load_inputs
from spec_tod.chat.template import load_chat_template
from spec_tod.json_escape import AssembledText
from spec_tod.tasks.layout import gold_turns

PARAMS = (
    GenerationParams(max_new_tokens=128, stop=("<|eot_id|>",)),
    GenerationParams(max_new_tokens=64, temperature=0.7, top_p=0.9, top_k=20, seed=3, repetition_penalty=1.1),
)


def test_every_prompt_of_the_test_dialogues_encodes_as_json_dumps(data_dir: Path) -> None:
    """Whole renders (escaped by lines) and the prompts bench sends (assembled, escaped by parts)."""
    template = load_chat_template("llama3")
    render = PromptRenderer(template)
    encoder = BodyEncoder()
    inputs = load_inputs("multiwoz21", data_dir, "test", 60)
    compared = assembled = 0
    for dialogue in inputs.dialogues:
        prompts = dialogue_prompts(dialogue, inputs.schema, 42)
        history = gold_turns("e2e", dialogue, prompts.functions, inputs.database)
        for turn, current in enumerate(history):
            for prompt in (prompts.dst_prompt(turn), prompts.response_prompt(turn, history, current.call, current.observation)):
                messages, role = prompt
                whole = template.render([{"role": r, "content": c} for r, c in messages], {"role": role, "content": ""}).text
                sent = render(prompt, 128)
                assembled += type(sent) is AssembledText
                for text in (whole, sent):
                    for protocol in (OpenAICompletions, TGIGenerate):
                        for params in PARAMS:
                            payload = protocol.payload(text, params, "served-model", False)
                            assert encoder.encode(payload) == json.dumps(payload).encode(), (dialogue.id, turn, role)
                            compared += 1
    assert compared > 8 * 800 and assembled > 750
    assert 0 < len(encoder.lines) < compared  # lines were remembered, and met again


def test_an_assembled_text_encodes_as_its_joined_text() -> None:
    rng = random.Random(11)
    alphabet = ['"', "\\", "\n", "\t", "\x00", "é", "\u2028", "\U0001f600", "\ud800", "a", " "]
    encoder = BodyEncoder()
    encoder.lines.max_part_chars = 4000  # forgotten and relearnt along the way
    parts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400))) for _ in range(60)]
    longest = cleared = 0
    for _ in range(200):
        text = AssembledText.of_parts(rng.choices(parts, k=rng.randint(4, 20)))
        payload = {"prompt": text, "max_tokens": 5}
        before = encoder.lines._part_chars
        assert encoder.encode(payload) == json.dumps({"prompt": str(text), "max_tokens": 5}).encode()
        cleared += encoder.lines._part_chars < before
        longest = max(longest, len(json.dumps(str(text))))
        assert encoder.lines._part_chars <= 4000 + longest  # the limit is checked per text
    assert cleared > 3


def test_any_text_encodes_as_json_dumps() -> None:
    rng = random.Random(7)
    alphabet = ['"', "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "é", "€", "\u2028", "\U0001f600", "\ud800", "a", " ", "/"]
    encoder = BodyEncoder()
    encoder.lines.max_lines = 50  # forgotten and relearnt along the way
    texts = ["\n" * 1500, "x" * 1024, "\n" + "y" * 1100 + "\n"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1024, 3000))) for _ in range(300)]
    for text in texts:
        for payload in ({"prompt": text}, {"prompt": text, "max_tokens": 5, "stop": ["\n", text[:10]]}, {"inputs": text, "parameters": {}}):
            assert encoder.encode(payload) == json.dumps(payload).encode()
    assert len(encoder.lines) <= 50 + max(text.count("\n") + 1 for text in texts)  # the limit is checked per text


def test_short_prompts_and_other_bodies_are_dumped_whole() -> None:
    encoder = BodyEncoder()
    for payload in ({}, {"prompt": "short\nprompt"}, {"messages": [{"role": "user", "content": "x" * 5000}]}, {"max_tokens": 3, "prompt": "z" * 2000}):
        assert encoder.encode(payload) == json.dumps(payload).encode()
    assert len(encoder.lines) == 0


def test_parameters_equal_in_python_but_not_in_json_are_encoded_apart() -> None:
    encoder = BodyEncoder()
    prompt = "p" * 2000
    variants = [
        {"max_tokens": 1}, {"max_tokens": True}, {"max_tokens": 1.0}, {"temperature": 0.0}, {"temperature": -0.0},
        {"temperature": float("nan")}, {"stop": ["a"]}, {"stop": ["a", "b"]}, {"stop": "a"}, {"stop": None},
        {"stop": [1]}, {"stop": [True]}, {"extra": {"a": 1}}, {"extra": {"a": True}},
    ]  # fmt: skip
    for _ in range(2):  # the second time from what was remembered
        for rest in variants:
            payload = {"prompt": prompt, **rest}
            assert encoder.encode(payload) == json.dumps(payload).encode(), rest
