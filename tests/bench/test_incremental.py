"""Prompts rendered message by message are exactly the prompts the whole template renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec_tod.bench.prompts import dialogue_prompts
from spec_tod.bench.runner import load_inputs
from spec_tod.chat.incremental import IncrementalRenderer
from spec_tod.chat.roles import role_map
from spec_tod.chat.template import ChatTemplate, load_chat_template
from spec_tod.json_escape import AssembledText
from spec_tod.tasks.layout import gold_turns
from tests.fixtures.templates import QWEN25_CHAT_TEMPLATE

TEMPLATES = {
    "llama3": lambda: load_chat_template("llama3"),
    "qwen2.5": lambda: ChatTemplate(QWEN25_CHAT_TEMPLATE, {"eos_token": "<|im_end|>"}),
}


def _always_incremental(template: ChatTemplate) -> IncrementalRenderer:
    renderer = IncrementalRenderer(template, list(dict.fromkeys(role_map(template).values())))
    renderer.check_first, renderer.check_every = 0, 10**9  # compare here, not inside
    return renderer


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_prompt_of_the_test_dialogues_renders_as_the_whole_template(name: str, data_dir: Path) -> None:
    template = TEMPLATES[name]()
    roles = role_map(template)
    renderer = _always_incremental(template)
    assert renderer.incremental
    inputs = load_inputs("multiwoz21", data_dir, "test", 120)
    compared = 0
    for dialogue in inputs.dialogues:
        prompts = dialogue_prompts(dialogue, inputs.schema, 42)
        history = gold_turns("e2e", dialogue, prompts.functions, inputs.database)
        calls = [t.call for t in history]
        for turn, current in enumerate(history):
            for messages, role in (
                prompts.dst_prompt(turn),
                prompts.dst_prompt(turn, calls[:turn]),
                prompts.response_prompt(turn, history, current.call, current.observation),
            ):
                mapped = [(roles[r], c) for r, c in messages]
                whole = template.render([{"role": r, "content": c} for r, c in mapped], {"role": roles[role], "content": ""})
                assert renderer.render(mapped, roles[role]) == whole, (dialogue.id, turn, role)
                compared += 1
    assert compared > 1000


def test_a_dropped_prefix_leaves_the_whole_render_without_it_and_the_parts_join_to_the_prompt(data_dir: Path) -> None:
    template = load_chat_template("llama3")
    bos = template.bos_token
    assert bos
    renderer = IncrementalRenderer(template, list(dict.fromkeys(role_map(template).values())), drop_prefix=bos)
    renderer.check_first, renderer.check_every = 0, 10**9
    roles = role_map(template)
    inputs = load_inputs("multiwoz21", data_dir, "test", 20)
    for dialogue in inputs.dialogues:
        prompts = dialogue_prompts(dialogue, inputs.schema, 42)
        for turn in range(len(dialogue.turns)):
            messages, role = prompts.dst_prompt(turn)
            mapped = [(roles[r], c) for r, c in messages]
            whole = template.render([{"role": r, "content": c} for r, c in mapped], {"role": roles[role], "content": ""})
            sent = renderer.render(mapped, roles[role])
            assert whole.text.startswith(bos) and sent.text == whole.text[len(bos) :]
            assert isinstance(sent.text, AssembledText) and "".join(sent.text.parts) == sent.text


_NUMBERED = "{% for m in messages %}[{{ loop.index }}:{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
_LATE_CHANGE = (
    "{% for m in messages %}{% if loop.index0 >= 30 %}LATE {% endif %}<{{ m['role'] }}>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


def test_a_template_that_numbers_messages_is_rendered_whole() -> None:
    template = ChatTemplate(_NUMBERED, {})
    renderer = IncrementalRenderer(template, ["system", "user", "assistant"])
    assert not renderer.incremental
    messages = [("system", "s")] + [("user" if i % 2 else "assistant", f"m{i}") for i in range(1, 9)]
    assert renderer.render(messages, "assistant") == template.render(
        [{"role": r, "content": c} for r, c in messages], {"role": "assistant", "content": ""}
    )


def test_a_difference_found_by_a_check_sends_the_whole_rendering_and_stops_the_incremental_one() -> None:
    template = ChatTemplate(_LATE_CHANGE, {})
    renderer = IncrementalRenderer(template, ["system", "user", "assistant"])
    assert renderer.incremental  # the probe's conversations are shorter than 30 messages
    renderer.check_first, renderer.check_every = 0, 1
    messages = [("system", "s")] + [("user" if i % 2 else "assistant", f"m{i}") for i in range(1, 40)]
    whole = template.render([{"role": r, "content": c} for r, c in messages], {"role": "assistant", "content": ""})
    assert renderer.render(messages, "assistant") == whole
    assert not renderer.incremental


def test_a_template_that_escapes_contents_is_rendered_whole() -> None:
    template = ChatTemplate("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] | e }}</s>{% endfor %}", {})
    assert not IncrementalRenderer(template, ["system", "user", "assistant"]).incremental
