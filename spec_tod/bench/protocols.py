"""Wire formats of the completion APIs the client speaks: OpenAI ``/v1/completions`` and
``/v1/chat/completions``, and TGI ``/generate``.

Each protocol turns a prompt plus :class:`GenerationParams` into a JSON body, and a JSON answer
into a :class:`Generated`: a raw prompt string for ``/v1/completions`` and ``/generate`` (rendered
by the client with the model's chat template), a list of messages for ``/v1/chat/completions`` (the
server renders them; see :mod:`spec_tod.bench.chat_roles` for the roles and where the model starts). The
OpenAI protocols can also stream (``stream: true``, server-sent events; :mod:`spec_tod.bench.sse`),
which gives the arrival time of every piece of text. All answers are normalised the same way:
``finish_reason`` is ``"stop"``
(end of turn or a stop string) or ``"length"`` (``max_new_tokens`` reached), and ``text`` never ends
with the stop string that ended it (TGI returns it, OpenAI-style servers do not).

Greedy decoding is the default and is sent explicitly. TGI's ``/generate`` samples whenever
``temperature`` differs from 1 or ``top_p`` is below 1, whatever ``do_sample`` says (the release
sent temperature 0.3 with ``do_sample: false`` and sampled); so greedy requests carry
``do_sample: false`` and neither ``temperature`` nor ``top_p``.

Extra sampling keys (``top_k``, ``repetition_penalty``) go out only when set: vLLM, SGLang and TGI
accept them on ``/v1/completions``, but ``transformers serve`` answers 422 "Unexpected fields in the
request" to any key outside the OpenAI schema (checked in transformers 5.16.1,
``cli/serving/utils.py::_validate_request``), and the client reports that message.

TGI's own client (``text-generation``) is not used for ``/generate``: its ``AsyncClient`` opens a
new aiohttp session, hence a new connection, for every request (text-generation 0.7.0,
``client.py``), so it can neither share the client's connection pool and global concurrency
limit nor let the client decide which failures to retry; and it pins ``huggingface-hub<1``,
which transformers 5 cannot install beside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard, get_args

from spec_tod.parsing import loads_json

ProtocolName = Literal["openai", "chat", "tgi"]


def is_protocol_name(value: str) -> TypeGuard[ProtocolName]:
    """Whether ``value`` (from the command line) names a protocol."""
    return value in get_args(ProtocolName)

WirePrompt = str | list[dict[str, str]]
"""A raw prompt (completions, TGI) or chat messages (``{"role": ..., "content": ...}``)."""


@dataclass(frozen=True)
class GenerationParams:
    """Decoding options for one request; the defaults decode greedily, so reruns repeat."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    repetition_penalty: float | None = None
    extra_body: Mapping[str, Any] | None = None
    """Engine-specific fields merged into an OpenAI-style body (vLLM's ``guided_choice``); the caller decides
    which server takes them."""

    @property
    def greedy(self) -> bool:
        """True when the request must decode greedily (temperature 0)."""
        return self.temperature <= 0.0


@dataclass(frozen=True)
class Generated:
    """What one server answer says, in the same terms for both protocols."""

    text: str
    generated_tokens: int | None
    prompt_tokens: int | None
    finish_reason: str | None
    piece_times: tuple[float, ...] = ()
    """Streamed answers: the arrival time (``time.perf_counter()``) of each event that carried text."""


class ProtocolError(ValueError):
    """A 2xx answer whose body is not the protocol's shape."""


def _strip_stop(text: str, finish_reason: str | None, stop: tuple[str, ...]) -> str:
    if finish_reason == "stop":
        for s in stop:
            if s and text.endswith(s):
                return text[: -len(s)]
    return text


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _openai_body(body: dict[str, Any], params: GenerationParams, model: str | None, stream: bool) -> dict[str, Any]:
    """The keys both OpenAI protocols share, added to ``body`` (which holds the prompt or the messages)."""
    body["max_tokens"] = params.max_new_tokens
    if model is not None:
        body["model"] = model
    body["temperature"] = max(params.temperature, 0.0)
    if params.top_p is not None and not params.greedy:
        body["top_p"] = params.top_p
    if params.stop:
        body["stop"] = list(params.stop)
    if params.seed is not None:
        body["seed"] = params.seed
    if params.top_k is not None and not params.greedy:
        body["top_k"] = params.top_k
    if params.repetition_penalty is not None:
        body["repetition_penalty"] = params.repetition_penalty
    if params.extra_body:
        body.update(params.extra_body)
    if stream:
        # include_usage: the last event then carries the token counts (OpenAI's API, vLLM, SGLang)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _finish_reason(raw: Any) -> str | None:
    """The answer's finish reason, TGI's and OpenAI's ways of saying "a stop or the end of text" read as ``"stop"``;
    anything but a string is unknown (``None``), not a reason to give up the answer's text."""
    if not isinstance(raw, str):
        return None
    return "stop" if raw in ("stop", "eos_token", "stop_sequence") else raw


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: an optional part of an answer in another shape is left out."""
    return value if isinstance(value, dict) else {}


def _openai_parse(answer: Any, params: GenerationParams, text_of: Any, where: str) -> Generated:
    try:
        choice = answer["choices"][0]
        text = text_of(choice)
    except (KeyError, IndexError, TypeError) as exc:
        raise ProtocolError(f"no {where} in the answer: {_preview(answer)}") from exc
    if not isinstance(text, str):
        raise ProtocolError(f"{where} is not a string: {_preview(answer)}")
    usage = _object(answer.get("usage"))
    finish = _finish_reason(choice.get("finish_reason"))
    return Generated(
        text=_strip_stop(text, finish, params.stop),
        generated_tokens=_optional_int(usage.get("completion_tokens")),
        prompt_tokens=_optional_int(usage.get("prompt_tokens")),
        finish_reason=finish,
    )


def _openai_parse_stream(
    events: list[tuple[Any, float]], params: GenerationParams, piece_of: Any, where: str
) -> Generated:
    """One answer from the events of a stream: the pieces of ``choices[0]`` joined, the last finish
    reason and ``usage`` (sent in a last event without choices)."""
    pieces: list[str] = []
    times: list[float] = []
    finish = None
    usage: dict[str, Any] = {}
    for event, arrived in events:
        if not isinstance(event, dict):
            raise ProtocolError(f"a streamed event is not a JSON object: {_preview(event)}")
        if isinstance(event.get("usage"), dict):
            usage = event["usage"]
        choices = event.get("choices")
        if not choices:
            continue
        try:
            choice = choices[0]
            piece = piece_of(choice) or ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProtocolError(f"no {where} in a streamed event: {_preview(event)}") from exc
        if not isinstance(piece, str):
            raise ProtocolError(f"{where} is not a string: {_preview(event)}")
        if piece:
            pieces.append(piece)
            times.append(arrived)
        finish = choice.get("finish_reason") or finish
    finish = _finish_reason(finish)
    return Generated(
        text=_strip_stop("".join(pieces), finish, params.stop),
        generated_tokens=_optional_int(usage.get("completion_tokens")),
        prompt_tokens=_optional_int(usage.get("prompt_tokens")),
        finish_reason=finish,
        piece_times=tuple(times),
    )


class OpenAICompletions:
    """``POST /v1/completions`` with a raw prompt (TGI, vLLM, SGLang, ``transformers serve``)."""

    name: ProtocolName = "openai"
    path = "/v1/completions"
    streams = True

    @staticmethod
    def payload(
        prompt: WirePrompt, params: GenerationParams, model: str | None, stream: bool = False
    ) -> dict[str, Any]:
        """The JSON body; ``model`` only when given (a pinned ``transformers serve`` rejects any other)."""
        if not isinstance(prompt, str):
            raise TypeError("/v1/completions takes a rendered prompt string, not messages")
        return _openai_body({"prompt": prompt}, params, model, stream)

    @staticmethod
    def parse(answer: Any, params: GenerationParams) -> Generated:
        """Text, token counts and finish reason of ``choices[0]`` and ``usage``."""
        return _openai_parse(answer, params, lambda choice: choice["text"], "choices[0].text")

    @staticmethod
    def parse_stream(events: list[tuple[Any, float]], params: GenerationParams) -> Generated:
        """The same from the events of a stream (``choices[0].text`` pieces)."""
        return _openai_parse_stream(events, params, lambda choice: choice.get("text"), "choices[0].text")


class ChatCompletions:
    """``POST /v1/chat/completions`` with messages; the last one, empty, is the message the model writes.

    An empty last ``assistant`` message is left out and asked for with the template's generation
    prompt; any other is continued (``continue_final_message: true``, ``add_generation_prompt:
    false``: vLLM's chat API; see :mod:`spec_tod.bench.chat_roles`). A server that does not know
    these fields answers 400 or 422, and the client reports that it cannot continue the message.
    """

    name: ProtocolName = "chat"
    path = "/v1/chat/completions"
    streams = True

    @staticmethod
    def payload(
        prompt: WirePrompt, params: GenerationParams, model: str | None, stream: bool = False
    ) -> dict[str, Any]:
        """The JSON body: the messages, how the model starts, the shared OpenAI keys."""
        if isinstance(prompt, str):
            raise TypeError("/v1/chat/completions takes messages, not a rendered prompt")
        last = prompt[-1] if prompt else {}
        if last.get("role") == "assistant" and not last.get("content"):
            body: dict[str, Any] = {"messages": prompt[:-1], "add_generation_prompt": True}
        else:
            body = {"messages": prompt, "continue_final_message": True, "add_generation_prompt": False}
        return _openai_body(body, params, model, stream)

    @staticmethod
    def parse(answer: Any, params: GenerationParams) -> Generated:
        """Text (``choices[0].message.content``), token counts and finish reason."""
        return _openai_parse(answer, params, lambda choice: choice["message"]["content"], "choices[0].message.content")

    @staticmethod
    def parse_stream(events: list[tuple[Any, float]], params: GenerationParams) -> Generated:
        """The same from the events of a stream (``choices[0].delta.content`` pieces)."""
        return _openai_parse_stream(
            events, params, lambda choice: (choice.get("delta") or {}).get("content"), "choices[0].delta.content"
        )


class TGIGenerate:
    """Text Generation Inference's native ``POST /generate``."""

    name: ProtocolName = "tgi"
    path = "/generate"
    streams = False  # /generate_stream's events differ; TGI streams on /v1/completions (--protocol openai)

    @staticmethod
    def payload(
        prompt: WirePrompt, params: GenerationParams, model: str | None, stream: bool = False
    ) -> dict[str, Any]:
        """The JSON body (``model`` is not part of TGI's native API and is ignored)."""
        if not isinstance(prompt, str) or stream:
            raise TypeError("/generate takes a rendered prompt string and does not stream")
        parameters: dict[str, Any] = {"max_new_tokens": params.max_new_tokens, "details": True}
        if params.greedy:
            parameters["do_sample"] = False
        else:
            parameters["do_sample"] = True
            parameters["temperature"] = params.temperature
            if params.top_p is not None:
                parameters["top_p"] = params.top_p
            if params.top_k is not None:
                parameters["top_k"] = params.top_k
        if params.stop:
            parameters["stop"] = list(params.stop)
        if params.seed is not None:
            parameters["seed"] = params.seed
        if params.repetition_penalty is not None:
            parameters["repetition_penalty"] = params.repetition_penalty
        return {"inputs": prompt, "parameters": parameters}

    @staticmethod
    def parse(answer: Any, params: GenerationParams) -> Generated:
        """``generated_text`` and ``details`` (``generated_tokens``, ``finish_reason``)."""
        if isinstance(answer, list) and len(answer) == 1:  # some TGI versions wrap the answer
            answer = answer[0]
        if not isinstance(answer, dict) or not isinstance(answer.get("generated_text"), str):
            raise ProtocolError(f"no generated_text in the answer: {_preview(answer)}")
        details = _object(answer.get("details"))
        finish = _finish_reason(details.get("finish_reason"))
        prefill = details.get("prefill")
        return Generated(
            text=_strip_stop(answer["generated_text"], finish, params.stop),
            generated_tokens=_optional_int(details.get("generated_tokens")),
            prompt_tokens=len(prefill) if isinstance(prefill, list) and prefill else None,
            finish_reason=finish,
        )


    @staticmethod
    def parse_stream(events: list[tuple[Any, float]], params: GenerationParams) -> Generated:
        raise ProtocolError("TGI's /generate does not stream")


PROTOCOLS: dict[str, type[OpenAICompletions] | type[ChatCompletions] | type[TGIGenerate]] = {
    "openai": OpenAICompletions,
    "chat": ChatCompletions,
    "tgi": TGIGenerate,
}


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def loads_answer(body: bytes) -> Any:
    """``json.loads`` of a server's answer, each lone surrogate (a ``\\ud83d`` escape without its pair, which a model
    cut in the middle of a character can produce) replaced by U+FFFD: its texts go to the checkpoint and the
    outputs, which are UTF-8 and cannot hold one. ``ValueError`` when the body is not JSON, or is nested too deeply
    for the parser (thousands of brackets fit in an answer's allowed size)."""
    answer = loads_json(body)
    return _without_lone_surrogates(answer) if _SURROGATE_ESCAPE.search(body) else answer


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(item) for key, item in value.items()}
    return value


def error_message(body: bytes) -> str:
    """The human part of an error answer: TGI's ``error``, OpenAI's ``error.message``, FastAPI's ``detail``."""
    try:
        answer = loads_answer(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:500]
    if isinstance(answer, dict):
        for key in ("error", "detail", "message"):
            value = answer.get(key)
            if isinstance(value, dict) and "message" in value:
                value = value["message"]
            if value:
                return value if isinstance(value, str) else json.dumps(value)[:500]
    return json.dumps(answer)[:500]


def continuation_refusal_hint(message: str) -> str | None:
    """What to tell the user when a chat endpoint rejects the continuation fields; ``None`` otherwise."""
    lowered = message.lower()
    if "continue_final_message" in lowered or "add_generation_prompt" in lowered:
        return (
            "this endpoint cannot continue a message the model is to write, which Spec-TOD prompts need; "
            "use a server with continue_final_message (vLLM), or --protocol openai (/v1/completions)"
        )
    return None


def _preview(answer: Any) -> str:
    return json.dumps(answer)[:200]
