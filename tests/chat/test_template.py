"""Prompt rendering: exact Llama-3 prefills, and agreement with transformers' apply_chat_template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spec_tod.chat.template import load_chat_template
from spec_tod.errors import SpecTodError
from spec_tod.models.chat_template import LLAMA3_CHAT_TEMPLATE

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. \n"},
    {"role": "user", "content": " i need a cheap restaurant in the west ."},
    {"role": "function", "content": '<function_call>{"function": "find_book_restaurant", "arguments": {}}</function_call>'},
    {"role": "observation", "content": "There are 3 entities match"},
    {"role": "assistant", "content": 'Action: "{}"\nwhat food would you like ?'},
    {"role": "user", "content": "italian please"},
]
DST_PREFILL = {"role": "function", "content": '<function_call>{"function": "'}


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_llama3_prefill_prompt_is_exact():
    prompt = load_chat_template("llama3").render(MESSAGES[:2] + MESSAGES[-1:], DST_PREFILL)
    assert prompt.text == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\ni need a cheap restaurant in the west .<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nitalian please<|eot_id|>"
        '<|start_header_id|>function<|end_header_id|>\n\n<function_call>{"function": "'
    )
    assert prompt.prefill == '<function_call>{"function": "'


def test_assistant_prefill_ends_inside_the_assistant_message():
    prompt = load_chat_template("llama3").render(MESSAGES, {"role": "assistant", "content": "Action:"})
    assert prompt.text.endswith("italian please<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nAction:")


def test_template_trims_the_prefill_and_says_so():
    prompt = load_chat_template("llama3").render(MESSAGES, {"role": "assistant", "content": "<domain>[ "})
    assert prompt.prefill == "<domain>["
    assert prompt.text.endswith("\n\n<domain>[")


def test_folder_template_matches_transformers(tiny_model_dir: Path, tokenizer):
    template = load_chat_template(tiny_model_dir)
    assert template.render_messages(MESSAGES) == tokenizer.apply_chat_template(MESSAGES, tokenize=False)
    assert template.render(MESSAGES).text == tokenizer.apply_chat_template(
        MESSAGES, tokenize=False, add_generation_prompt=True
    )


def test_prefill_matches_transformers_continue_final_message(tiny_model_dir: Path, tokenizer):
    expected = tokenizer.apply_chat_template([*MESSAGES, DST_PREFILL], tokenize=False, continue_final_message=True)
    assert load_chat_template(tiny_model_dir).render(MESSAGES, DST_PREFILL).text == expected


def test_named_and_folder_templates_agree(tiny_model_dir: Path):
    folder, named = load_chat_template(tiny_model_dir), load_chat_template("llama3")
    assert folder.render(MESSAGES, DST_PREFILL) == named.render(MESSAGES, DST_PREFILL)
    assert (folder.bos_token, folder.eos_token) == ("<|begin_of_text|>", "<|eot_id|>")


def test_stop_strings_are_the_end_of_turn():
    assert load_chat_template("llama3").stop_strings == ("<|eot_id|>",)


def test_template_from_tokenizer_config_with_added_token_objects(tmp_path: Path):
    config = {
        "chat_template": [{"name": "default", "template": LLAMA3_CHAT_TEMPLATE}, {"name": "tool_use", "template": "x"}],
        "bos_token": {"content": "<|begin_of_text|>", "lstrip": False},
        "eos_token": "<|end_of_text|>",
    }
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    template = load_chat_template(tmp_path)
    assert template.render_messages([{"role": "user", "content": "hi"}]).startswith("<|begin_of_text|><|start_header_id|>")
    assert template.stop_strings == ("<|eot_id|>", "<|end_of_text|>")


def test_template_helpers_are_available(tmp_path: Path):
    source = (
        "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be the user') }}{% endif %}"
        "{{ strftime_now('%Y')[:2] }}{% for m in messages %}{% generation %}{{ m | tojson }}{% endgeneration %}"
        "{% endfor %}"
    )
    (tmp_path / "chat_template.jinja").write_text(source)
    template = load_chat_template(tmp_path)
    assert template.render_messages([{"role": "user", "content": "café"}]) == '20{"role": "user", "content": "café"}'
    with pytest.raises(SpecTodError, match="first message must be the user"):
        template.render_messages([{"role": "system", "content": "x"}])


def test_missing_template_is_a_user_error(tmp_path: Path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    with pytest.raises(SpecTodError, match="no chat template"):
        load_chat_template(tmp_path)
    with pytest.raises(SpecTodError, match="not a model folder"):
        load_chat_template(tmp_path / "absent")
