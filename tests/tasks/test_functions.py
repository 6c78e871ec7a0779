"""Function specifications from the MultiWOZ 2.2 and SGD schemas (docs/method-reference.md, sections 2.1 and 2.2)."""

from __future__ import annotations

from spec_tod.tasks.functions import (
    CAUTION_DONTCARE,
    CAUTION_NAME,
    function_domain,
    function_name,
    functions_for,
    parameter_name,
    slot_name,
)

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def test_restaurant_function_matches_the_reference_example(mwz_schema):
    (function,) = functions_for(mwz_schema, ["restaurant"])
    assert function == {
        "name": "find_book_restaurant",
        "description": f"find places to dine and whet your appetite. {CAUTION_DONTCARE} {CAUTION_NAME}",
        "arguments": [
            {
                "name": "pricerange",
                "type": "string",
                "description": "price budget for the restaurant",
                "possible_values": ["cheap", "expensive", "moderate"],
            },
            {
                "name": "area",
                "type": "string",
                "description": "area or place of the restaurant",
                "possible_values": ["centre", "east", "north", "south", "west"],
            },
            {
                "name": "food",
                "type": "string",
                "description": "the cuisine of the restaurant you are looking for such as chinese, american, "
                "mexican, japanese, european, oceanian, etc.",
            },
            {"name": "name", "type": "string", "description": "name of the restaurant"},
            {"name": "day", "type": "string", "description": "day of the restaurant booking", "possible_values": DAYS},
            {
                "name": "people",
                "type": "integer",
                "description": "how many people for the restaurant reservation",
                "possible_values": [str(n) for n in range(1, 9)],
            },
            {
                "name": "time",
                "type": "time (HH:mm)",
                "description": 'time of the restaurant booking in the format of "HH:mm" such as 12:00, 13:10, 18:30, etc.',
            },
        ],
    }


def test_hotel_parameters_are_renamed_and_typed(mwz_schema):
    (hotel,) = functions_for(mwz_schema, ["hotel"])
    kinds = {argument["name"]: argument["type"] for argument in hotel["arguments"]}
    assert kinds == {
        "pricerange": "string",
        "accommodation_type": "string",
        "parking": "boolean",
        "day": "string",
        "people": "integer",
        "stay": "integer",
        "stars": "integer",
        "internet": "boolean",
        "name": "string",
        "area": "string",
    }
    accommodation = hotel["arguments"][1]
    assert accommodation["possible_values"] == ["guesthouse", "guest house", "hotel"]


def test_taxi_and_train_use_the_release_descriptions(mwz_schema):
    taxi, train = functions_for(mwz_schema, ["train", "taxi"])
    assert taxi["name"] == "book_taxi" and train["name"] == "find_book_train"
    # No 'name' parameter, so only the dontcare caution.
    assert taxi["description"] == f"book taxis to travel between places. {CAUTION_DONTCARE}"
    assert [a["name"] for a in taxi["arguments"]] == ["leave_at_or_after", "destination", "departure", "arrive_by"]
    assert [a["name"] for a in train["arguments"]] == [
        "arrive_by", "departure", "day", "people", "leave_at_or_after", "destination",
    ]
    assert train["arguments"][0]["description"] == (
        'arrival time of the train in the format of "HH:mm" such as 11:15, 13:20, 15:45, etc.'
    )
    assert train["arguments"][3]["possible_values"][-1] == "15"


def test_functions_come_in_canonical_order_for_experiment_domains_only(mwz_schema):
    domains = ["restaurant", "general", "police", "hospital", "bus", "hotel", "attraction", "train", "taxi"]
    names = [function["name"] for function in functions_for(mwz_schema, domains)]
    assert names == ["book_taxi", "find_book_train", "find_attraction", "find_book_hotel", "find_book_restaurant"]


def test_sgd_services_keep_their_names_and_all_slots(sgd_schema):
    (function,) = functions_for(sgd_schema, ["Restaurants_2"])
    service = sgd_schema["Restaurants_2"]
    assert function["name"] == "Restaurants_2"
    assert [argument["name"] for argument in function["arguments"]] == [slot.name for slot in service.slots]
    kinds = {argument["name"]: argument["type"] for argument in function["arguments"]}
    assert kinds["time"] == "time (HH:MM)"
    assert kinds["number_of_seats"] == "integer"
    assert function["description"].startswith(service.description + ". " + CAUTION_DONTCARE)


def test_names_map_both_ways():
    assert function_name("hotel") == "find_book_hotel"
    assert function_domain("find_book_hotel") == "hotel"
    assert function_domain("police") == "police"
    assert function_domain("Banks_1") == "Banks_1"
    assert function_domain("find_pizza") is None
    assert parameter_name("hotel", "type") == "accommodation_type"
    assert parameter_name("attraction", "type") == "type"
    assert parameter_name("train", "leaveat") == "leave_at_or_after"
    assert slot_name("hotel", "day") == "bookday"
    assert slot_name("train", "day") == "day"
    assert slot_name("train", "people") == "bookpeople"
    assert slot_name("hotel", "accommodation_type") == "type"
    assert slot_name("Banks_1", "recipient_account_name") == "recipient_account_name"
