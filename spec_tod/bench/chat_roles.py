"""How Spec-TOD prompts go to a ``/v1/chat/completions`` endpoint: roles, and where the model starts writing.

Spec-TOD prompts have five roles (``system``, ``user``, ``function``, ``observation``,
``assistant``) and end where the model starts a message of a given role (a ``function`` call or an
``assistant`` reply; :mod:`spec_tod.bench.prompts`). A chat endpoint renders the messages with the
server's own template, so the roles it is given decide the text the model sees. ``--chat-roles``:

* ``auto`` (the default): with ``--model-dir`` or ``--template``, the mapping training used for that
  template (:func:`spec_tod.chat.roles.role_map`: a role the template does not render goes to
  :data:`~spec_tod.chat.roles.FALLBACK_ROLE`), so the server renders the training text; without
  one, ``spec-tod``;
* ``spec-tod``: the five roles as they are (vLLM takes any role name, its chat API's "custom roles",
  and Llama 3's template renders them);
* ``openai``: ``function`` as ``assistant`` and ``observation`` as ``user``
  (:data:`~spec_tod.chat.roles.FALLBACK_ROLE`), for endpoints that accept only OpenAI's roles; a
  model fine-tuned with the five roles then sees a layout it was not trained on.

Where the model starts: an ``assistant`` message is asked for with ``add_generation_prompt: true``
(the template's own generation prompt, the training text for the usual templates). Any other role
(``function``) goes out as a last, empty message with ``continue_final_message: true`` and
``add_generation_prompt: false`` (vLLM's chat API extensions); the server's template renders it
and cuts after its content. transformers' implementation, which vLLM uses for Hugging Face
templates, strips trailing whitespace there when the template trims contents (Llama 3's does), so
the prompt then lacks the blank line after the ``function`` header that training had: for the
exact training text use ``--protocol openai`` (prompts rendered here). A server without these
fields (OpenAI's own API) answers 400 or 422 naming one, and the client reports that it cannot
continue the message.
"""

from __future__ import annotations

from spec_tod.bench.loops import Render
from spec_tod.bench.prompts import Prompt
from spec_tod.chat.roles import FALLBACK_ROLE, SPEC_TOD_ROLES, role_map
from spec_tod.chat.template import ChatTemplate
from spec_tod.errors import SpecTodError

ROLE_MAP_NAMES = ("auto", "spec-tod", "openai")


def chat_role_map(name: str, template: ChatTemplate | None) -> dict[str, str]:
    """The role each Spec-TOD role is sent as, for ``--chat-roles NAME`` (see the module docstring)."""
    if name == "auto" and template is not None:
        return role_map(template)
    if name in ("auto", "spec-tod"):
        return {role: role for role in SPEC_TOD_ROLES}
    if name == "openai":
        return {role: FALLBACK_ROLE.get(role, role) for role in SPEC_TOD_ROLES}
    raise SpecTodError(f"--chat-roles {name!r}: expected one of {', '.join(ROLE_MAP_NAMES)}")


def chat_messages(prompt: Prompt, roles: dict[str, str]) -> list[dict[str, str]]:
    """The request's ``messages``: the prompt's messages, then an empty one of the role the model writes."""
    messages, role = prompt
    return [{"role": roles[r], "content": content} for r, content in messages] + [{"role": roles[role], "content": ""}]


def chat_renderer(roles: dict[str, str]) -> Render:
    """The turn loops' renderer for chat endpoints: messages instead of a rendered string (the server
    renders them, and counts the context itself)."""

    def render(prompt: Prompt, new_tokens: int) -> list[dict[str, str]]:
        return chat_messages(prompt, roles)

    return render
