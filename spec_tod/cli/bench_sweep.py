"""``spec-tod bench sweep``: a grid of bench runs (decoding parameters, seeds, concurrency) and one table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from spec_tod.settings import DEFAULT_DATA_DIR_HELP, default_data_dir


def sweep(
    grid: Path = typer.Option(
        ...,
        "--grid",
        help="YAML with bench: (options every point shares), grid: (each key a list of values) "
        "and/or points: (a list of mappings).",
    ),
    out: Path = typer.Option(
        ..., "--out", help="Sweep folder: runs/<point>/ (each a bench run), sweep.csv, sweep.md, plots/."
    ),
    endpoint: list[str] = typer.Option(
        [],
        "--endpoint",
        help="Server base URL (overrides bench: endpoint in the grid file); repeat for several.",
        show_default=False,
    ),
    repeat: int | None = typer.Option(
        None,
        "--repeat",
        min=1,
        help="Run every point N times (default: repeat: in the file, else 1) to check determinism.",
    ),
    data_dir: Path = typer.Option(
        None, "--data-dir", help=f"The data folder (default: {DEFAULT_DATA_DIR_HELP}).", show_default=False
    ),
) -> None:
    """Run every point of --grid as its own resumable bench run, then write one table of scores and speed.

    Rerun the same command to continue: finished points are not run again. Swept keys: temperature, top_p,
    top_k, repetition_penalty, max_new_tokens, dst_max_new_tokens, seed, concurrency.
    """
    from spec_tod.bench.response_run import ResponseLayout, run_response_bench
    from spec_tod.bench.runner import BenchOptions, run_bench
    from spec_tod.bench.sweep import PointRun, dump_points, load_sweep, plan_points, run_sweep, sweep_base_options
    from spec_tod.fileio import write_text

    console = Console(stderr=True)
    spec = load_sweep(grid)
    points = plan_points(spec, str(grid))
    base, budget = sweep_base_options(spec.bench, list(endpoint), data_dir or default_data_dir(), out)
    times = repeat or spec.repeat
    write_text(out / "plan.jsonl", dump_points(points))

    def run_one(options: BenchOptions):
        if options.mode == "response":
            return run_response_bench(options, ResponseLayout(budget))
        return run_bench(options)

    def report(run: PointRun, index: int, total: int) -> None:
        turns = (run.report or {}).get("turns") or {}
        state = (
            "already finished" if run.reused else f"{turns.get('done', 0)} turns done, {turns.get('failed', 0)} failed"
        )
        console.print(f"[{index + 1}/{total}] {run.run_dir.name}: {state}")

    console.print(f"{len(points)} point(s) x {times} run(s) into {out}")
    result = run_sweep(base, points, out, run_one, times, on_point=report)
    Console().print((out / "sweep.md").read_text(encoding="utf-8"))
    failed = [run.run_dir.name for run in result.runs if ((run.report or {}).get("turns") or {}).get("failed")]
    if failed:
        from spec_tod.errors import SpecTodError

        raise SpecTodError(f"{out}: turns failed in {', '.join(failed)}; rerun the same command to retry them")
