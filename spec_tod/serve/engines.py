"""The serving engines spec-tod can start, and the command line each one gets.

One :class:`Engine` per engine: its default image, entry point, the port it listens on inside a
bridged container, where it keeps its Hugging Face cache, and a function that turns a
:class:`Launch` into the engine's own arguments. The argument builders are pure, so the exact
flags are testable without a GPU.

TGI's defaults are the release's launcher flags (``run_tgi_docker.sh``, docs/method-reference.md section 7):
bf16, max input 4000 tokens, max total 4096, max batch prefill 4096; the number of shards is the
number of GPUs given. vLLM and SGLang get the same context length (4096). ``transformers``
(``transformers serve``) runs as a local process for small models, on the GPU when there is one
(``--device auto``, the default) and in float32 on the CPU, bfloat16 on a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spec_tod.errors import SpecTodError

ENGINE_NAMES = ("tgi", "vllm", "sglang", "transformers")

# vLLM accepts only these LoRA ranks for --max-lora-rank (vllm/config, "possible_max_ranks").
_VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter served next to its base model: ``name`` is what requests ask for."""

    name: str
    path: str
    """The adapter folder as the engine sees it (inside the container for container engines)."""
    rank: int


@dataclass(frozen=True)
class Launch:
    """What one engine start needs, independent of where the engine runs."""

    model: str
    """The model as the engine loads it: a path the engine sees, or a hub id."""
    served_model: str
    """The model name clients send in OpenAI requests."""
    bind_host: str
    port: int
    num_gpus: int = 0
    dtype: str = "bfloat16"
    max_input_tokens: int = 4000
    max_total_tokens: int = 4096
    max_batch_prefill_tokens: int = 4096
    adapters: Sequence[Adapter] = ()
    extra_args: Sequence[str] = ()
    device: str = "cpu"
    """``transformers``: ``cpu`` or ``cuda`` (resolved from ``--device auto`` by :func:`resolve_device`)."""


@dataclass(frozen=True)
class Engine:
    """One serving engine: how it is started and how it is reached."""

    name: str
    build_arguments: Callable[[Launch], list[str]]
    default_image: str | None = None
    """``None`` for an engine that runs as a local process."""
    entrypoint: tuple[str, ...] | None = None
    """Replaces the image's entry point when the image has none that takes the arguments."""
    container_port: int = 80
    """The port the engine listens on inside a bridged container."""
    cache_target: str = "/root/.cache/huggingface/hub"
    """Where the host's Hugging Face hub cache is mounted for hub models."""
    supports_lora: bool = False
    default_dtype: str = "bfloat16"
    health_path: str = "/health"
    openai_path: str = "/v1"
    host_flag: str = "--host"
    uses_gpus: bool = True


def _tgi_arguments(launch: Launch) -> list[str]:
    args = [
        "--model-id", launch.model,
        "--hostname", launch.bind_host,
        "--port", str(launch.port),
        "--dtype", launch.dtype,
        "--max-input-tokens", str(launch.max_input_tokens),
        "--max-total-tokens", str(launch.max_total_tokens),
        "--max-batch-prefill-tokens", str(launch.max_batch_prefill_tokens),
    ]
    if launch.num_gpus > 1:
        args += ["--num-shard", str(launch.num_gpus)]
    if launch.adapters:
        args += ["--lora-adapters", ",".join(f"{a.name}={a.path}" for a in launch.adapters)]
    return [*args, *launch.extra_args]


def _vllm_arguments(launch: Launch) -> list[str]:
    args = _openai_server_arguments(
        launch, model_flag="--model", context_flag="--max-model-len", parallel_flag="--tensor-parallel-size"
    )
    if launch.adapters:
        rank = max(a.rank for a in launch.adapters)
        allowed = next((r for r in _VLLM_LORA_RANKS if r >= rank), None)
        if allowed is None:
            raise SpecTodError(
                f"LoRA rank {rank} is above vLLM's largest --max-lora-rank {_VLLM_LORA_RANKS[-1]}; merge the adapter"
            )
        args += ["--enable-lora", "--max-lora-rank", str(allowed), "--lora-modules"]
        args += [f"{a.name}={a.path}" for a in launch.adapters]
    return [*args, *launch.extra_args]


def _sglang_arguments(launch: Launch) -> list[str]:
    args = _openai_server_arguments(
        launch, model_flag="--model-path", context_flag="--context-length", parallel_flag="--tp"
    )
    return [*args, *launch.extra_args]


def _openai_server_arguments(launch: Launch, *, model_flag: str, context_flag: str, parallel_flag: str) -> list[str]:
    # vLLM and SGLang take the same settings under their own flag names.
    args = [
        model_flag, launch.model,
        "--served-model-name", launch.served_model,
        "--host", launch.bind_host,
        "--port", str(launch.port),
        "--dtype", launch.dtype,
        context_flag, str(launch.max_total_tokens),
    ]
    if launch.num_gpus > 1:
        args += [parallel_flag, str(launch.num_gpus)]
    return args


def _transformers_arguments(launch: Launch) -> list[str]:
    # The model is pinned (positional FORCE_MODEL), so clients may omit "model" or send this exact string.
    args = [
        "serve", launch.model,
        "--host", launch.bind_host,
        "--port", str(launch.port),
        "--device", launch.device,
        "--dtype", launch.dtype,
    ]
    return [*args, *launch.extra_args]


ENGINES: dict[str, Engine] = {
    "tgi": Engine(
        name="tgi",
        build_arguments=_tgi_arguments,
        default_image="ghcr.io/huggingface/text-generation-inference:2.2.0",
        container_port=80,
        cache_target="/data",
        supports_lora=True,
        host_flag="--hostname",
    ),
    "vllm": Engine(
        name="vllm",
        build_arguments=_vllm_arguments,
        default_image="vllm/vllm-openai:v0.10.0",
        container_port=8000,
        supports_lora=True,
    ),
    "sglang": Engine(
        name="sglang",
        build_arguments=_sglang_arguments,
        default_image="lmsysorg/sglang:v0.4.6.post1-cu124",
        # The SGLang image has no entry point: the server is a Python module.
        entrypoint=("python3", "-m", "sglang.launch_server"),
        container_port=30000,
    ),
    "transformers": Engine(
        name="transformers",
        build_arguments=_transformers_arguments,
        default_dtype="float32",
        uses_gpus=False,
    ),
}


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """``cpu`` or ``cuda`` for ``--device``: ``auto`` is ``cuda`` when torch sees a GPU."""
    if device not in DEVICES:
        raise SpecTodError(f"--device {device!r}: expected one of {', '.join(DEVICES)}")
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(chosen: Engine, device: str) -> str:
    """The engine's dtype when ``--dtype`` is not given: bfloat16 for ``transformers`` on a GPU."""
    return "bfloat16" if chosen.name == "transformers" and device == "cuda" else chosen.default_dtype


def engine(name: str) -> Engine:
    """The engine called ``name``; a plain error listing the choices otherwise."""
    try:
        return ENGINES[name]
    except KeyError:
        raise SpecTodError(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}") from None
