"""Schema services become Spec-TOD function specifications (docs/method-reference.md, section 2.1).

A function specification is the dict the system prompt shows, keys in the prompt's order::

    {"name": "find_book_restaurant", "description": "...",
     "arguments": [{"name": "pricerange", "type": "string", "description": "...",
                    "possible_values": ["cheap", "expensive", "moderate"]}, ...]}

MultiWOZ services (schema ``multiwoz22/schema.json``) follow the release's rules: function names per
domain, informable slots only, slot renames (``bookstay`` -> ``stay``, hotel ``type`` ->
``accommodation_type``, ...) and the release's normalised descriptions and example values, all
read from ``spec_tod/resources/templates/multiwoz_functions.yaml``. SGD services keep their names and all their slots.

The release also computed ``required`` (always empty for MultiWOZ) but never rendered it, so it is
left out here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from spec_tod.data.schema import MULTIWOZ_INFORMABLE, Service, Slot
from spec_tod.tasks.templates import yaml_table

DONTCARE = "dontcare"

CAUTION_DONTCARE = (
    "Set the value as : 'dontcare' ONLY when the user EXPLICITLY states they have no specific preference "
    "for a parameter."
)
CAUTION_NAME = (
    "Always record the exact value of the 'name' parameter when mentioned. Avoid using pronouns or "
    "coreferences like 'the hotel' or 'the restaurant.'"
)
"""The two cautions appended to every function description (texts of the release, FnCTOD's ``schema2function``)."""

_MAX_EXAMPLES = 10
_YES_NO = ("yes", "no")
_SMALL_NUMBERS = ("1", "2", "3", "4", "5")
_TIME_PARAMETERS = ("arrive", "leave", "time")
_SGD_SERVICE = re.compile(r"^[A-Za-z]+_\d+$")


@dataclass(frozen=True)
class MultiwozRules:
    """The MultiWOZ part of ``spec_tod/resources/templates/multiwoz_functions.yaml``."""

    experiment_domains: tuple[str, ...]
    function_names: dict[str, str]
    other_domains: frozenset[str]
    parameter_names: dict[str, str]
    domain_parameter_names: dict[str, dict[str, str]]
    service_descriptions: dict[str, str]
    slots: dict[str, dict]


@cache
def multiwoz_rules() -> MultiwozRules:
    """The MultiWOZ naming and normalisation rules (read once)."""
    table = yaml_table("multiwoz_functions.yaml")
    return MultiwozRules(
        experiment_domains=tuple(table["experiment_domains"]),
        function_names=dict(table["function_names"]),
        other_domains=frozenset(table["other_domains"]),
        parameter_names=dict(table["parameter_names"]),
        domain_parameter_names={domain: dict(names) for domain, names in table["domain_parameter_names"].items()},
        service_descriptions=dict(table["service_descriptions"]),
        slots={name: dict(entry) for name, entry in table["slots"].items()},
    )


def is_multiwoz_domain(domain: str) -> bool:
    """Whether ``domain`` is a MultiWOZ domain (``hotel``), as opposed to an SGD service (``Hotels_1``)."""
    rules = multiwoz_rules()
    return domain in rules.function_names or domain in rules.other_domains


def function_name(domain: str) -> str:
    """``hotel`` -> ``find_book_hotel``; an SGD service keeps its name."""
    return multiwoz_rules().function_names.get(domain, domain)


def function_domain(name: str) -> str | None:
    """``find_book_hotel`` -> ``hotel``; an SGD service name (``Banks_1``) -> itself; else ``None``."""
    domain = _domains_by_function().get(name)
    if domain is not None:
        return domain
    return name if _SGD_SERVICE.match(name) else None


@cache
def _domains_by_function() -> dict[str, str]:
    return {name: domain for domain, name in multiwoz_rules().function_names.items()}


@cache
def parameter_name(domain: str, slot: str) -> str:
    """A dataset slot name (MultiWOZ 2.2 style, ``bookday``) -> the function parameter (``day``)."""
    if not is_multiwoz_domain(domain):
        return slot
    rules = multiwoz_rules()
    renamed = rules.domain_parameter_names.get(domain, {}).get(slot)
    return renamed if renamed is not None else rules.parameter_names.get(slot, slot)


@cache
def slot_name(domain: str, parameter: str) -> str:
    """The inverse of :func:`parameter_name`: ``day`` -> ``bookday`` for hotel, ``day`` for train."""
    if not is_multiwoz_domain(domain):
        return parameter
    rules = multiwoz_rules()
    for slot, renamed in rules.domain_parameter_names.get(domain, {}).items():
        if renamed == parameter:
            return slot
    informable = MULTIWOZ_INFORMABLE.get(domain, frozenset())
    for slot, renamed in rules.parameter_names.items():
        if renamed == parameter and (not informable or slot in informable):
            return slot
    return parameter


@cache
def service_function(service: Service) -> dict:
    """The function specification of one schema service (MultiWOZ or SGD rules by its name)."""
    multiwoz = is_multiwoz_domain(service.name)
    rules = multiwoz_rules()
    arguments = []
    for slot in service.slots:
        if multiwoz and not slot.is_informable:
            continue
        name = parameter_name(service.name, slot.short_name) if multiwoz else slot.name
        arguments.append(_argument(slot, name, rules.slots.get(slot.name, {}) if multiwoz else {}, multiwoz))
    description = rules.service_descriptions.get(service.name, service.description) if multiwoz else service.description
    cautions = [CAUTION_DONTCARE]
    if any(argument["name"] == "name" for argument in arguments):
        cautions.append(CAUTION_NAME)
    return {
        "name": function_name(service.name),
        "description": f"{description}. " + " ".join(cautions),
        "arguments": arguments,
    }


def _argument(slot: Slot, name: str, overlay: dict, multiwoz: bool) -> dict:
    description = overlay.get("description", slot.description)
    enum = tuple(overlay.get("possible_values", slot.possible_values)) if slot.is_categorical else ()
    examples = tuple(overlay.get("examples", () if slot.is_categorical else slot.possible_values))
    values = enum or examples
    kind = "string"
    if any(value in values for value in _YES_NO):
        kind = "boolean"
    elif any(value in values for value in _SMALL_NUMBERS):
        kind = "integer"
    if name in _TIME_PARAMETERS:
        # The release writes "HH:mm" for MultiWOZ and "HH:MM" for SGD.
        kind = "time (HH:mm)" if multiwoz else "time (HH:MM)"
    if not slot.is_categorical and examples:
        description += f" such as {', '.join(examples[:_MAX_EXAMPLES])}, etc."
    argument = {"name": name, "type": kind, "description": description}
    if slot.is_categorical:
        argument["possible_values"] = list(enum)
    return argument


def functions_for(schema: dict[str, Service], domains: Sequence[str]) -> list[dict]:
    """The function specifications of ``domains`` in canonical order.

    MultiWOZ: only the experiment domains (taxi, train, attraction, hotel, restaurant, in that order),
    whatever order ``domains`` has. SGD: the services in the order given. Domains without a schema
    service (``general``) are skipped.
    """
    wanted = set(domains)
    experiment = multiwoz_rules().experiment_domains
    ordered = [domain for domain in experiment if domain in wanted]
    ordered += [domain for domain in dict.fromkeys(domains) if not is_multiwoz_domain(domain) and domain != "general"]
    return [service_function(schema[domain]) for domain in ordered if domain in schema]
