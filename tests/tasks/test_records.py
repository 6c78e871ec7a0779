"""Records of hand-checked MultiWOZ 2.1 test dialogues.

Expected calls and observations were checked against the raw ``test.json`` (the ``metadata`` of
the system entries) and ``multiwoz_db/restaurant_db.json`` by hand: SNG0073's taxi state after
"I want to leave after 17:15 ." has leaveAt 17:15, destination "pizza hut fenditton", departure
"saint johns college"; the database has 31 moderately priced restaurants, 21 of them in the centre
(the system itself says "There are 21 restaurants available in the centre").
"""

from __future__ import annotations

from spec_tod.tasks.functions import multiwoz_rules
from spec_tod.tasks.prompts import NO_FUNCTION_CALL, functions_for, render_functions
from spec_tod.tasks.records import build_record

TAXI_1 = (
    '<function_call>{"function": "book_taxi", "arguments": {"destination": "pizza hut fenditton", '
    '"departure": "saint johns college"}}</function_call>'
)
TAXI_2 = (
    '<function_call>{"function": "book_taxi", "arguments": {"leave_at_or_after": "17:15", '
    '"destination": "pizza hut fenditton", "departure": "saint johns college"}}</function_call>'
)


def test_taxi_dialogue_dst(dialogue_by_id, mwz_schema):
    record = build_record(dialogue_by_id("SNG0073"), "dst", mwz_schema, 0)
    assert record.id == "SNG0073" and record.turns == 4 and record.function_calls == 2
    role, system = record.messages[0]
    assert role == "system"
    # Every dialogue is offered the five experiment domains' functions, whatever it is about.
    assert system.endswith("\n\n" + render_functions(functions_for(mwz_schema, multiwoz_rules().experiment_domains)))
    assert record.weights == tuple(int(role == "function") for role, _ in record.messages)
    assert record.messages[1:] == (
        ("user", "I would like a taxi from Saint John 's college to Pizza Hut Fen Ditton ."),
        ("function", TAXI_1),
        ("assistant", "What time do you want to leave and what time do you want to arrive by ?"),
        ("user", "I want to leave after 17:15 ."),
        ("function", TAXI_2),
        ("assistant", "Booking completed ! your taxi will be blue honda Contact number is 07218068540"),
        ("user", "Thank you for all the help ! I appreciate it ."),
        ("function", NO_FUNCTION_CALL),
        ("assistant", "You are welcome .   Is there anything else I can help you with today ?"),
        ("user", "No , I am all set .   Have a nice day .   Bye ."),
        ("function", NO_FUNCTION_CALL),
        ("assistant", "you too ! thank you"),
    )


def test_taxi_dialogue_e2e(dialogue_by_id, mwz_schema):
    record = build_record(dialogue_by_id("SNG0073"), "e2e", mwz_schema, 0)
    assert record.weights == tuple(int(role == "assistant") for role, _ in record.messages)
    assert record.messages[1:] == (
        ("user", "I would like a taxi from Saint John 's college to Pizza Hut Fen Ditton ."),
        ("function", TAXI_1),
        ("observation", "No database to query for taxi"),
        (
            "assistant",
            'Action: {"[taxi]": {"[request]": ["leave", "arrive"]}}\n'
            "What time do you want to leave and what time do you want to arrive by ?",
        ),
        ("user", "I want to leave after 17:15 ."),
        ("function", TAXI_2),
        ("observation", "No database to query for taxi"),
        (
            "assistant",
            'Action: {"[taxi]": {"[inform]": ["car", "phone"]}}\n'
            "Booking completed ! your taxi will be [value_car] Contact number is [value_phone]",
        ),
        ("user", "Thank you for all the help ! I appreciate it ."),
        ("function", NO_FUNCTION_CALL),
        ("observation", "Do not need to call function"),
        (
            "assistant",
            'Action: {"[general]": {"[reqmore]": []}}\n'
            "You are welcome . Is there anything else I can help you with today ?",
        ),
        ("user", "No , I am all set .   Have a nice day .   Bye ."),
        ("function", NO_FUNCTION_CALL),
        ("observation", "Do not need to call function"),
        ("assistant", 'Action: {"[general]": {"[bye]": []}}\nyou too ! thank you'),
    )


def test_restaurant_dialogue_counts_real_entities(dialogue_by_id, mwz_schema, mwz_db):
    record = build_record(dialogue_by_id("PMUL2437"), "e2e", mwz_schema, 0, mwz_db)
    assert record.messages[1:5] == (
        ("user", "I want to find a moderately priced restaurant ."),
        ("function", '<function_call>{"function": "find_book_restaurant", "arguments": {"pricerange": "moderate"}}</function_call>'),
        ("observation", "There are 31 entities match"),
        (
            "assistant",
            'Action: {"[restaurant]": {"[request]": ["area", "food"], "[inform]": ["choice"]}}\n'
            "I have [value_choice] available for you ! Is there a certain area or cuisine that interests you ?",
        ),
    )
    assert record.messages[5:8] == (
        ("user", "Yes I would like the restaurant to be located in the center of the attractions ."),
        (
            "function",
            '<function_call>{"function": "find_book_restaurant", "arguments": {"pricerange": "moderate", '
            '"area": "centre"}}</function_call>',
        ),
        ("observation", "There are 21 entities match"),
    )
    # The functions in canonical order.
    system = record.messages[0][1]
    assert system.index('"name": "find_attraction"') < system.index('"name": "find_book_restaurant"')


def test_every_turn_has_one_function_message(mwz21_test_split, mwz_schema):
    for dialogue in mwz21_test_split.dialogues[:200]:
        record = build_record(dialogue, "dst", mwz_schema, 0)
        roles = [role for role, _ in record.messages]
        assert roles.count("user") == roles.count("assistant") == roles.count("function") == len(dialogue.turns)
        calls = [content for role, content in record.messages if role == "function" and content != NO_FUNCTION_CALL]
        assert len(calls) == record.function_calls
        assert all(role != "observation" for role in roles)


def test_instructions_are_drawn_per_dialogue(dialogue_by_id, mwz_schema):
    """The same seed gives the same system message for a dialogue, whatever else is built around it."""
    dialogue = dialogue_by_id("SNG0073")
    assert build_record(dialogue, "dst", mwz_schema, 42).messages[0] == build_record(dialogue, "dst", mwz_schema, 42).messages[0]
    systems = {build_record(dialogue, "dst", mwz_schema, seed).messages[0][1].split("\n")[0] for seed in range(30)}
    assert len(systems) > 1
