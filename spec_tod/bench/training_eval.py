"""Evaluation during training: a short bench on the dev split against the weights being trained.

``spec-tod finetune --eval-every N --eval-dialogues K`` writes :class:`DevEvalSettings` into the
run folder and adds the plugin of :mod:`spec_tod.bench.training_eval_plugin` to axolotl's
``plugins``. axolotl loads the plugin in
the training process; its callback, every N optimizer steps (and at the last step), on the main
process:

1. serves the model *in memory* (LoRA adapter included, no checkpoint written or merged) on
   127.0.0.1 through :class:`LiveModelServer`, an OpenAI-style ``/v1/completions`` that tokenizes
   the raw prompt with special tokens, as vLLM, TGI and ``transformers serve`` do (so the bench
   prompt's BOS handling is the one a real server gets);
2. runs an ordinary bench run (:func:`spec_tod.bench.runner.run_bench`, or the response task's
   loop) on the first K dialogues of the **dev** split, greedy, into ``<run>/dev-eval/step-<N>``;
3. logs the standardized scores beside the loss: a line on the terminal (and so in ``train.log``),
   a line of ``<run>/dev-eval/scores.jsonl``, and ``trainer.log({"dev/bleu": ...})``, which reaches
   TensorBoard or W&B when axolotl's config enables them.

Why a callback and not a side process watching checkpoints: a LoRA checkpoint holds only the
adapter, so a side process would have to merge (or load base + adapter into a second server) for
every evaluation, which doubles the memory and ties evaluation to the save schedule; the callback
uses the weights already in memory, at any step. The cost is that training pauses while it runs.
It needs spec-tod in the training environment (the local backend), and the whole model on the
main process (not ZeRO-3 or FSDP, which shard the weights); ``spec-tod finetune`` refuses those.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from spec_tod.fileio import write_json
from spec_tod.train.throughput import DEV_EVAL_MARK

EVAL_DIR = "dev-eval"
SETTINGS_FILE = "settings.json"
SCORES_FILE = "scores.jsonl"
PLUGIN = "spec_tod.bench.training_eval_plugin.DevBenchPlugin"
SPLIT = "dev"


class DevEvalSettings(BaseModel):
    """What the callback runs; written by ``spec-tod finetune`` into ``<run>/dev-eval/settings.json``."""

    model_config = ConfigDict(extra="forbid")

    every: int = Field(gt=0)
    dialogues: int = Field(gt=0)
    mode: Literal["e2e", "dst", "response"]
    dataset: str = "multiwoz21"
    data_dir: str
    model_dir: str | None = None
    """The base model folder (e2e and dst): its chat template renders the prompts, its tokenizer says whether the
    server adds a BOS."""
    template: str | None = None
    """A named chat template when there is no local base model folder."""
    dst_max_new_tokens: int = 128
    response_max_new_tokens: int = 192
    max_context_tokens: int | None = None


def eval_folder(run_root: Path) -> Path:
    return Path(run_root) / EVAL_DIR


def write_settings(run_root: Path, settings: DevEvalSettings) -> Path:
    path = eval_folder(run_root) / SETTINGS_FILE
    write_json(path, settings.model_dump())
    return path


def read_settings(run_root: Path) -> DevEvalSettings:
    return DevEvalSettings.model_validate_json((eval_folder(run_root) / SETTINGS_FILE).read_bytes())


# ---- the model in memory, behind /v1/completions -------------------------------------------------


class LiveModelServer:
    """``POST /v1/completions`` answered by ``model.generate`` in this process; one request at a time."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    answer, status = server.complete(json.loads(self.rfile.read(length))), 200
                except (ValueError, KeyError, TypeError) as error:
                    answer, status = {"detail": f"bad request: {error}"}, 400
                self._send(status, answer)

            def do_GET(self) -> None:  # noqa: N802
                self._send(200 if self.path == "/health" else 404, {"status": "ok"})

            def _send(self, status: int, answer: dict) -> None:
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # quiet: the training log is the terminal
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> LiveModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=10)

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """One completion in the OpenAI ``text_completion`` shape; the text stops before a stop string."""
        import torch

        prompt = str(body["prompt"])
        stop = [s for s in body.get("stop") or [] if s]
        temperature = float(body.get("temperature") or 0.0)
        ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"]
        options: dict[str, Any] = {
            "max_new_tokens": int(body.get("max_tokens", 128)),
            "do_sample": temperature > 0,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            "use_cache": True,
        }
        if temperature > 0:
            options |= {"temperature": temperature, "top_p": float(body.get("top_p") or 1.0)}
            if body.get("seed") is not None:
                torch.manual_seed(int(body["seed"]))
        if stop:
            options |= {"stop_strings": stop, "tokenizer": self.tokenizer}
        with self._lock, torch.no_grad():
            output = self.model.generate(
                input_ids=ids.to(self.model.device),
                attention_mask=torch.ones_like(ids).to(self.model.device),
                **options,
            )
        new = output[0][ids.shape[1] :]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        finish = "length" if len(new) >= options["max_new_tokens"] else "stop"
        for marker in stop:
            if marker in text:
                text, finish = text[: text.index(marker)], "stop"
        return {
            "object": "text_completion",
            "choices": [{"index": 0, "text": text, "finish_reason": finish}],
            "usage": {"prompt_tokens": int(ids.shape[1]), "completion_tokens": int(len(new))},
        }


# ---- the bench run and the log lines -------------------------------------------------------------


def dev_bench(settings: DevEvalSettings, url: str, run_dir: Path) -> dict[str, Any]:
    """A greedy bench run on the first ``settings.dialogues`` dev dialogues; its report."""
    from spec_tod.bench.config import CallSettings
    from spec_tod.bench.response_run import ResponseLayout, run_response_bench
    from spec_tod.bench.runner import BenchOptions, run_bench

    options = BenchOptions(
        endpoints=[url],
        run_dir=run_dir,
        data_dir=Path(settings.data_dir),
        dataset=settings.dataset,
        split=SPLIT,
        mode=settings.mode,
        model_dir=Path(settings.model_dir) if settings.model_dir else None,
        template=settings.template,
        concurrency=1,
        limit_dialogues=settings.dialogues,
        dst=CallSettings(max_new_tokens=settings.dst_max_new_tokens),
        response=CallSettings(max_new_tokens=settings.response_max_new_tokens),
        max_retries=0,
        timeout_s=3600.0,
    )
    if settings.mode == "response":
        outputs = run_response_bench(options, ResponseLayout(settings.max_context_tokens))
    else:
        outputs = run_bench(options)
    return outputs.report if outputs is not None else {}


def score_line(step: int, report: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The logged figures of one evaluation: the standardized scores, JGA where states are predicted."""
    scores = report.get("scores") or {}
    line: dict[str, Any] = {"step": step, "seconds": round(seconds, 2)}
    for name in ("bleu", "inform", "success", "combined"):
        line[f"dev/{name}"] = scores.get(name)
    if report.get("config", {}).get("mode") in ("e2e", "dst") and scores.get("dst"):
        line["dev/jga"] = scores["dst"]["joint_accuracy"]
    turns = report.get("turns") or {}
    line["dev/turns_failed"] = turns.get("failed")
    line["dev/parse_failed"] = turns.get("parse_failed")
    return line


def evaluate_now(settings: DevEvalSettings, run_root: Path, step: int, model: Any, tokenizer: Any) -> dict[str, Any]:
    """Serve ``model``, bench it on dev, append and print the scores; the logged line."""
    started = time.monotonic()
    was_training = model.training
    model.eval()
    try:
        with LiveModelServer(model, tokenizer) as server:
            report = dev_bench(settings, server.url, eval_folder(run_root) / f"step-{step}")
    finally:
        if was_training:
            model.train()
    line = score_line(step, report, time.monotonic() - started)
    with (eval_folder(run_root) / SCORES_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    shown = ", ".join(
        f"{key.removeprefix('dev/')} {value:.2f}"
        for key, value in line.items()
        if key.startswith("dev/") and isinstance(value, float)
    )
    print(
        f"{DEV_EVAL_MARK} step {step}: {shown} ({settings.dialogues} dev dialogues, {line['seconds']} s)",
        flush=True,
    )
    return line
