"""``spec-tod judge``: an LLM judge over a bench run's dialogues (the Spec-TOD release's eight criteria)."""

from __future__ import annotations

from pathlib import Path

import click
import typer
from rich.console import Console

from spec_tod.settings import DEFAULT_DATA_DIR_HELP, default_data_dir


def judge(
    run_dir: Path = typer.Argument(..., help="A finished bench run folder (config.json, predictions.json)."),
    endpoint: list[str] = typer.Option(
        ..., "--endpoint", help="The judge model's server (OpenAI-style /v1/completions); repeat for several."
    ),
    served_model: str | None = typer.Option(None, "--model", help="The `model` field of the requests."),
    template: str | None = typer.Option(
        None,
        "--template",
        help="Render the prompt as one user message with this chat template (llama3, or a model folder). "
        "Default: the raw prompt, as the release sent it.",
    ),
    repeats: int = typer.Option(
        2, "--repeats", min=1, help="Judge every dialogue N times (seed, seed+1, ...); 2 gives agreement."
    ),
    temperature: float = typer.Option(0.5, "--temperature", min=0.0, help="The release's 0.5."),
    top_p: float = typer.Option(
        0.9, "--top-p", click_type=click.FloatRange(0.0, 1.0, min_open=True), help="The release's 0.9."
    ),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", min=1, help="The release's 256."),
    seed: int = typer.Option(0, "--seed", help="Seed of repeat 1 (repeat k uses seed + k - 1)."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="Requests in flight at most."),
    timeout: float = typer.Option(
        300.0, "--timeout", click_type=click.FloatRange(0.0, min_open=True), help="Seconds per request attempt."
    ),
    out: Path | None = typer.Option(None, "--out", help="Where the judgments go (default: RUN_DIR/judge)."),
    data_dir: Path = typer.Option(
        None, "--data-dir", help=f"The data folder (default: {DEFAULT_DATA_DIR_HELP}).", show_default=False
    ),
) -> None:
    """Score each dialogue of a bench run 0-5 on eight criteria with an LLM; resumable (rerun to continue).

    Writes RUN_DIR/judge/judgments-<k>.jsonl, judge.json and judge.md: means, per-criterion distributions,
    refused or unreadable answers, and the agreement between repeats 1 and 2.
    """
    from spec_tod.judge.run import JudgeOptions, run_judge

    options = JudgeOptions(
        run_dir=run_dir,
        endpoints=list(endpoint),
        data_dir=data_dir or default_data_dir(),
        out=out,
        template=template,
        served_model=served_model,
        repeats=repeats,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
        concurrency=concurrency,
        timeout_s=timeout,
    )
    summary = run_judge(options)
    folder = options.folder
    Console().print((folder / "judge.md").read_text(encoding="utf-8"))
    failed = sum(len(data["problems"]["failed"]) for data in summary["repeats"].values())
    if failed:
        from spec_tod.errors import SpecTodError

        raise SpecTodError(f"{folder}: {failed} judgment request(s) failed; rerun the same command to retry them")


def register(app: typer.Typer) -> None:
    app.command("judge")(judge)
