"""``spec-tod serve``: start a serving engine and manage the ones spec-tod started.

``spec-tod serve MODEL --engine tgi`` is ``spec-tod serve start MODEL --engine tgi``; ``status``,
``logs`` and ``stop`` work on the servers recorded in ``$SPEC_TOD_HOME/servers.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from spec_tod.cli.groups import default_group
from spec_tod.errors import SpecTodError
from spec_tod.parsing import loads_json
from spec_tod.serve.engines import ENGINE_NAMES

serve_app = typer.Typer(
    cls=default_group("start"),
    help="Serve a model through TGI, vLLM, SGLang (Docker) or transformers serve (local CPU), and manage the servers.",
    no_args_is_help=True,
)
console = Console()


def _loras(values: list[str]) -> dict[str, Path]:
    adapters: dict[str, Path] = {}
    for value in values:
        name, sep, folder = value.partition("=")
        if not sep or not name or not folder:
            raise SpecTodError(f"--lora {value!r}: expected NAME=FOLDER, e.g. --lora spec-tod=runs/lora")
        adapters[name] = Path(folder)
    return adapters


def _entrypoint(value: str | None) -> list[str] | None:
    if value is None:
        return None
    try:
        parsed = loads_json(value)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, list) or not all(isinstance(part, str) for part in parsed):
        raise SpecTodError(f"--entrypoint {value!r}: expected a JSON list of strings")
    return parsed


@serve_app.command("start")
def start_command(
    model: str = typer.Argument(..., help="A model folder (a merged fine-tune) or a Hugging Face hub id (org/name)."),
    engine: str = typer.Option(
        ..., "--engine", "-e",
        help=f"The serving engine: {', '.join(ENGINE_NAMES)} (transformers runs as a local process).",
    ),
    device: str = typer.Option(
        "auto", "--device",
        help="transformers engine: auto (the GPU when torch sees one, else the CPU), cpu or cuda.",
    ),
    port: int = typer.Option(8030, "--port", "-p", min=1, max=65535, help="Port the server answers on."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address the server answers on; 0.0.0.0 exposes it to the network."
    ),
    network: str = typer.Option(
        "host",
        "--network",
        help="Container networking: host (the engine binds HOST:PORT itself; works everywhere) or bridge "
        "(the engine's port is published on HOST:PORT).",
    ),
    gpus: str | None = typer.Option(
        None,
        "--gpus",
        help="GPU device ids for a container engine, e.g. 0 or 0,1 (one shard per GPU), or none. Default: 0.",
    ),
    image: str | None = typer.Option(None, "--image", help="Engine image:tag (default: the engine's pinned image)."),
    shm_size: str = typer.Option("1g", "--shm-size", help="Shared memory for the container (NCCL needs it when sharding)."),
    dtype: str | None = typer.Option(
        None, "--dtype",
        help="Weight dtype (default: bfloat16 in containers and for transformers on a GPU, "
        "float32 for transformers on the CPU).",
    ),
    max_input_tokens: int = typer.Option(4000, help="TGI --max-input-tokens (the release's value)."),
    max_total_tokens: int = typer.Option(
        4096,
        help="Prompt + generated tokens per request (TGI --max-total-tokens, vLLM --max-model-len, "
        "SGLang --context-length).",
    ),
    max_batch_prefill_tokens: int = typer.Option(4096, help="TGI --max-batch-prefill-tokens (the release's value)."),
    lora: list[str] = typer.Option(
        [],
        "--lora",
        help="Serve a LoRA adapter unmerged, NAME=FOLDER (TGI, vLLM); repeat for several. Requests use NAME.",
    ),
    name: str | None = typer.Option(None, "--name", help="Name of the server (default: spec-tod-ENGINE-PORT)."),
    timeout: float = typer.Option(
        1800,
        "--timeout",
        min=1,
        help="Seconds to wait for the health route (downloading and loading a large model takes minutes).",
    ),
    pull: bool = typer.Option(True, "--pull/--no-pull", help="Pull the image when it is not present."),
    docker_host: str | None = typer.Option(
        None, "--docker-host", help="Docker engine URL (default: $DOCKER_HOST, else the local socket)."
    ),
    engine_arg: list[str] = typer.Option(
        [],
        "--engine-arg",
        help="One more argument for the engine, passed as is (repeat, e.g. --engine-arg=--trust-remote-code).",
    ),
    entrypoint: str | None = typer.Option(
        None, "--entrypoint", hidden=True, help="JSON list replacing the image's entry point (tests)."
    ),
) -> None:
    """Start MODEL on an engine, wait until it answers, and record its address for `spec-tod bench`."""
    from spec_tod.serve import ServeOptions, start

    if network not in ("host", "bridge"):
        raise SpecTodError(f"--network {network!r}: choose host or bridge")
    options = ServeOptions(
        engine=engine, model=model, port=port, host=host, network=network, gpus=gpus, image=image,  # type: ignore[arg-type]
        shm_size=shm_size, dtype=dtype, max_input_tokens=max_input_tokens, max_total_tokens=max_total_tokens,
        max_batch_prefill_tokens=max_batch_prefill_tokens, loras=_loras(lora), name=name, timeout=timeout,
        pull=pull, docker_host=docker_host, engine_args=engine_arg, entrypoint=_entrypoint(entrypoint), device=device,
    )
    with console.status(f"starting {engine} for {model} ...") as waiting:
        record = start(options, on_wait=lambda s: waiting.update(f"waiting for {engine} to answer ({s:.0f} s) ..."))
    table = Table(title=f"{record.name} is serving", show_header=False)
    table.add_row("engine", record.engine)
    table.add_row("model", record.model)
    table.add_row("endpoint", record.url)
    table.add_row("OpenAI base URL", record.openai_base_url)
    table.add_row("next", f"spec-tod bench ... (finds {record.url} by itself); stop: spec-tod serve stop {record.name}")
    console.print(table)


@serve_app.command("status")
def status_command() -> None:
    """List the servers spec-tod started, with their state and address."""
    from spec_tod.serve import status

    states = status()
    if not states:
        console.print("no servers started by spec-tod")
        return
    table = Table(title="spec-tod servers")
    for column in ("name", "engine", "state", "endpoint", "model", "started"):
        table.add_column(column)
    for item in states:
        r = item.record
        table.add_row(r.name, r.engine, item.state, r.url, r.model, r.started_at)
    console.print(table)


@serve_app.command("logs")
def logs_command(
    name: str | None = typer.Argument(None, help="Server name (default: the most recently started)."),
    lines: int = typer.Option(50, "--lines", "-n", help="How many of the last lines to show."),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new output until the server exits (Ctrl-C stops)."
    ),
) -> None:
    """Show a server's output."""
    from spec_tod.serve import follow_logs, log_lines

    if follow:
        for chunk in follow_logs(name, lines):
            typer.echo(chunk, nl=False)
    else:
        for line in log_lines(name, lines):
            typer.echo(line)


@serve_app.command("stop")
def stop_command(
    name: str | None = typer.Argument(None, help="Server name (default: the only one running)."),
    everything: bool = typer.Option(False, "--all", help="Stop every server spec-tod started."),
) -> None:
    """Stop a server and remove its container or process."""
    from spec_tod.serve import stop

    stopped = stop(name, everything=everything)
    console.print(f"stopped {', '.join(stopped)}" if stopped else "no servers started by spec-tod")


def register(app: typer.Typer) -> None:
    """Add the ``serve`` group to the ``spec-tod`` app."""
    app.add_typer(serve_app, name="serve")
