"""Which template role each Spec-TOD role is rendered as, decided once per chat template.

Spec-TOD conversations use five roles (``system``, ``user``, ``function``, ``observation``,
``assistant``). Llama 3's template renders any role name; many others render only system, user and
assistant and silently drop every other message (Qwen2.5's, for one). So a template is probed: a
role whose content does not appear in the rendering is mapped, ``function`` to ``assistant`` (the
model writes it) and ``observation`` to ``user`` (the world writes it). The contents keep their
markers (``<function_call>``, ``There are ... entities match``), so nothing becomes ambiguous.

Training (axolotl's ``roles`` option, :mod:`spec_tod.train.axolotl_config`) and inference
(:mod:`spec_tod.bench.render`) take the mapping from :func:`role_map` of the same template, so the
five roles render the same way on both sides. A template that renders neither a role nor its
mapping is refused with a plain error, never used with messages missing.
"""

from __future__ import annotations

from spec_tod.chat.template import ChatTemplate
from spec_tod.errors import SpecTodError

SPEC_TOD_ROLES = ("system", "user", "function", "observation", "assistant")
FALLBACK_ROLE = {"function": "assistant", "observation": "user"}
"""Where a role goes when the template does not render it."""

_PROBE = "\x01probe-{}\x01"


def renders_role(template: ChatTemplate, role: str) -> bool:
    """Whether ``template`` writes the content of a ``role`` message after a system and a user message."""
    content = _PROBE.format(role)
    messages = [
        {"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": role, "content": content}
    ]
    try:
        return content in template.render_messages(messages)
    except SpecTodError:  # templates that raise on roles they do not know
        return False


def role_map(template: ChatTemplate) -> dict[str, str]:
    """The template role of each Spec-TOD role (the identity where the template renders it)."""
    mapping = {}
    for role in SPEC_TOD_ROLES:
        target = role if renders_role(template, role) else FALLBACK_ROLE.get(role, role)
        if not renders_role(template, target):
            raise SpecTodError(
                f"{template.origin}: the chat template renders neither {role!r} messages nor {target!r} ones, "
                "so Spec-TOD conversations would lose them; use a template that does (e.g. --template llama3)"
            )
        mapping[role] = target
    return mapping


def axolotl_roles(mapping: dict[str, str]) -> dict[str, list[str]]:
    """The mapping in axolotl's ``roles`` form: template role -> the dataset roles rendered as it."""
    roles: dict[str, list[str]] = {}
    for role, target in mapping.items():
        roles.setdefault(target, []).append(role)
    return roles
