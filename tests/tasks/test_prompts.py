"""The shared prompt pieces: layouts of docs/method-reference.md sections 2.2-4 and the parsers inference relies on."""

from __future__ import annotations

import json
import random

from spec_tod.tasks.instructions import dst_instructions, dst_notes, e2e_instructions
from spec_tod.tasks.prompts import (
    FUNCTION_CALL_CLOSE,
    FUNCTION_CALL_OPEN,
    ROLES,
    arguments_to_state,
    dst_system_prompt,
    e2e_system_prompt,
    format_e2e_response,
    format_function_call,
    NO_FUNCTION_CALL,
    format_calls,
    parse_calls,
    functions_for,
    observation_text,
    parse_e2e_response,
    parse_function_call,
    render_functions,
    state_to_arguments,
)

CALL_LINE = (
    'To call a function with a JSON object of the following format: {"function": "function_name", '
    '"arguments": {"argument1": "argument_value", "argument2": "argument_value"}}'
)


def test_roles_and_tags():
    assert ROLES == ("system", "user", "function", "observation", "assistant")
    assert (FUNCTION_CALL_OPEN, FUNCTION_CALL_CLOSE) == ("<function_call>", "</function_call>")


def test_function_block_layout(mwz_schema):
    functions = functions_for(mwz_schema, ["hotel", "taxi"])
    expected = (
        "<FUNCTIONS>\n"
        + "\n".join(f"<FUNCTION>\n{json.dumps(function)}\n</FUNCTION>" for function in functions)
        + "\n</FUNCTIONS>\n\n"
        + CALL_LINE
    )
    assert render_functions(functions) == expected
    assert render_functions([]) == "<FUNCTIONS>\n</FUNCTIONS>\n\n" + CALL_LINE


def test_instruction_texts_are_the_release_sets():
    assert len(dst_instructions()) == 8 and len(dst_notes()) == 3 and len(e2e_instructions()) == 3
    assert dst_instructions()[0] == (
        "You are a task-oriented assistant. You can use the given functions to fetch further data to help the users."
    )
    assert dst_notes()[0].startswith("Don't make assumptions about what values to plug into functions.")
    for text in e2e_instructions():
        assert "1) name: inform" in text and "6) name: general" in text and "theuser" in text
    assert e2e_instructions()[0].startswith("You are a multi-domain task-oriented assistant designed to interact")
    assert ").\n 2) Query result:" in e2e_instructions()[0]


def test_system_prompts_are_seeded(mwz_schema):
    functions = functions_for(mwz_schema, ["restaurant"])
    first = dst_system_prompt(functions, random.Random(7))
    assert first == dst_system_prompt(functions, random.Random(7))
    instruction, notes = first.split("\n", 1)
    assert instruction in dst_instructions()
    assert notes == "\n".join(dst_notes()) + "\n\n" + render_functions(functions)
    seen = {dst_system_prompt(functions, random.Random(seed)).split("\n", 1)[0] for seed in range(40)}
    assert len(seen) > 1
    e2e = e2e_system_prompt(functions, random.Random(7))
    assert e2e.split("\n\n<FUNCTIONS>")[0] in e2e_instructions()


def test_function_call_round_trip():
    call = format_function_call("find_book_hotel", {"stars": "4", "accommodation_type": "guest house"})
    assert call == (
        '<function_call>{"function": "find_book_hotel", "arguments": {"stars": "4", '
        '"accommodation_type": "guest house"}}</function_call>'
    )
    assert parse_function_call(call) == ("find_book_hotel", {"stars": "4", "accommodation_type": "guest house"})


def test_function_messages_hold_several_calls_or_none():
    calls = [("book_taxi", {"departure": "ely"}), ("find_book_hotel", {"area": "east"})]
    message = format_calls(calls)
    assert message == (
        '<function_call>{"function": "book_taxi", "arguments": {"departure": "ely"}}</function_call>'
        '<function_call>{"function": "find_book_hotel", "arguments": {"area": "east"}}</function_call>'
    )
    assert parse_calls(message) == calls
    assert format_calls([]) == NO_FUNCTION_CALL == "<function_call>none</function_call>"
    assert parse_calls(NO_FUNCTION_CALL) == [] and parse_calls(" none ") == []
    assert parse_calls("I cannot help with that") is None


def test_function_call_parsing_is_tolerant():
    # Generation stopped before the last brace and the closing tag.
    assert parse_function_call('<function_call>{"function": "book_taxi", "arguments": {"departure": "ely"}') == (
        "book_taxi", {"departure": "ely"}
    )
    # Chatter around the JSON.
    text = 'sure: {"function": "find_attraction", "arguments": {"area": "east"}} thanks'
    assert parse_function_call(text) == ("find_attraction", {"area": "east"})
    assert parse_function_call("I cannot help with that") is None
    assert parse_function_call('{"area": "east"}') is None
    assert parse_function_call('[{"function": "find_attraction", "arguments": {}}]') == ("find_attraction", {})
    assert parse_function_call("42") is None and parse_function_call('"find_attraction"') is None


def test_observations():
    assert observation_text("restaurant", 31, True) == "There are 31 entities match"
    assert observation_text("restaurant", 0, True) == "There are 0 entities match"
    assert observation_text("restaurant", 31, False) == "Do not need to call function"
    assert observation_text("taxi", None, True) == "No database to query for taxi"


def test_e2e_response_is_encoded_once_and_parses_back():
    acts = {"restaurant": {"inform": [("addr", "x"), ("choice", "3"), ("addr", "y")]}, "general": {"bye": [("none", "none")]}}
    text = format_e2e_response(acts, "it is at [value_address] .")
    assert text == (
        'Action: {"[restaurant]": {"[inform]": ["address", "choice"]}, "[general]": {"[bye]": []}}\n'
        "it is at [value_address] ."
    )
    action, response = parse_e2e_response(text[len("Action:") :] + "\nuser")
    assert action == {"[restaurant]": {"[inform]": ["address", "choice"]}, "[general]": {"[bye]": []}}
    assert response == "it is at [value_address] ."
    assert parse_e2e_response("hello there") == (None, "hello there")
    # JSON that is not an object is no action: the whole text is the response
    assert parse_e2e_response('["inform"]\nit is') == (None, '["inform"]\nit is')
    assert parse_e2e_response("3\nit is") == (None, "3\nit is")


def test_state_to_arguments_renames_filters_and_normalises(mwz_schema):
    hotel, attraction = functions_for(mwz_schema, ["attraction", "hotel"])[::-1]
    state = {"bookstay": "3", "type": "guesthouse", "parking": "dontcare", "stars": "9", "ref": "x"}
    # Function parameter order; 'stars' 9 is no possible value; 'ref' is no parameter.
    assert state_to_arguments("hotel", state, hotel) == {
        "accommodation_type": "guesthouse",
        "parking": "dontcare",
        "stay": "3",
    }
    assert state_to_arguments("attraction", {"type": "night club"}, attraction) == {"type": "nightclub"}


def test_arguments_to_state_validates(mwz_schema):
    (hotel,) = functions_for(mwz_schema, ["hotel"])
    state, problems = arguments_to_state(
        "hotel",
        {"accommodation_type": "Guest House", "stay": 3, "parking": True, "day": "DontCare", "stars": "9", "wifi": "yes"},
        hotel,
    )
    assert state == {"type": "guest house", "bookstay": "3", "parking": "yes", "bookday": "dontcare"}
    assert len(problems) == 2 and "stars" in problems[0] and "wifi" in problems[1]


def test_an_answer_caught_in_a_loop_of_brackets_is_no_call() -> None:
    """A degenerate answer nests deeper than the JSON decoder goes: unreadable, as any malformed call, not a crash."""
    loop = "[" * 5000
    assert parse_calls('<function_call>{"function": "find_hotel", "arguments": ' + loop) is None
    assert parse_function_call('{"function": "find_hotel", "arguments": {"area": ' + loop + "}}") is None
    assert parse_e2e_response('{"hotel": ' + loop + "\nthe hotel is booked .") == (
        None, '{"hotel": ' + loop + "\nthe hotel is booked ."
    )  # fmt: skip
