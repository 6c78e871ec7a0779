"""Wire formats of the two completion APIs the client speaks: OpenAI ``/v1/completions`` and TGI ``/generate``.

Each protocol turns a raw prompt plus :class:`GenerationParams` into a JSON body, and a JSON answer
into a :class:`Generated`. Both answers are normalised the same way: ``finish_reason`` is ``"stop"``
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
from dataclasses import dataclass
from typing import Any, Literal

ProtocolName = Literal["openai", "tgi"]


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


class OpenAICompletions:
    """``POST /v1/completions`` with a raw prompt (TGI, vLLM, SGLang, ``transformers serve``)."""

    name: ProtocolName = "openai"
    path = "/v1/completions"

    @staticmethod
    def payload(prompt: str, params: GenerationParams, model: str | None) -> dict[str, Any]:
        """The JSON body; ``model`` only when given (a pinned ``transformers serve`` rejects any other)."""
        body: dict[str, Any] = {"prompt": prompt, "max_tokens": params.max_new_tokens}
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
        return body

    @staticmethod
    def parse(answer: Any, params: GenerationParams) -> Generated:
        """Text, token counts and finish reason of ``choices[0]`` and ``usage``."""
        try:
            choice = answer["choices"][0]
            text = choice["text"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ProtocolError(f"no choices[0].text in the answer: {_preview(answer)}") from exc
        if not isinstance(text, str):
            raise ProtocolError(f"choices[0].text is not a string: {_preview(answer)}")
        usage = answer.get("usage") or {}
        finish = choice.get("finish_reason")
        finish = "stop" if finish in ("stop", "eos_token", "stop_sequence") else finish
        return Generated(
            text=_strip_stop(text, finish, params.stop),
            generated_tokens=_optional_int(usage.get("completion_tokens")),
            prompt_tokens=_optional_int(usage.get("prompt_tokens")),
            finish_reason=finish,
        )


class TGIGenerate:
    """Text Generation Inference's native ``POST /generate``."""

    name: ProtocolName = "tgi"
    path = "/generate"

    @staticmethod
    def payload(prompt: str, params: GenerationParams, model: str | None) -> dict[str, Any]:
        """The JSON body (``model`` is not part of TGI's native API and is ignored)."""
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
        details = answer.get("details") or {}
        raw = details.get("finish_reason")
        finish = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}.get(raw, raw)
        prefill = details.get("prefill")
        return Generated(
            text=_strip_stop(answer["generated_text"], finish, params.stop),
            generated_tokens=_optional_int(details.get("generated_tokens")),
            prompt_tokens=len(prefill) if isinstance(prefill, list) and prefill else None,
            finish_reason=finish,
        )


PROTOCOLS: dict[str, type[OpenAICompletions] | type[TGIGenerate]] = {
    "openai": OpenAICompletions,
    "tgi": TGIGenerate,
}


def error_message(body: bytes) -> str:
    """The human part of an error answer: TGI's ``error``, OpenAI's ``error.message``, FastAPI's ``detail``."""
    try:
        answer = json.loads(body)
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


def _preview(answer: Any) -> str:
    return json.dumps(answer)[:200]
