"""The engines' command lines and the checks made before anything is started."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from spec_tod.errors import SpecTodError
from spec_tod.serve import ServeOptions, start
from spec_tod.serve.container import engine_bind
from spec_tod.serve.engines import ENGINES, Adapter, Launch, engine


def _launch(**changes) -> Launch:
    base = dict(model="/model", served_model="/runs/merged", bind_host="127.0.0.1", port=8030)
    return Launch(**{**base, **changes})


def test_tgi_gets_the_release_launcher_flags_and_one_shard_per_gpu() -> None:
    tgi = engine("tgi")
    assert tgi.build_arguments(_launch(num_gpus=1)) == [
        "--model-id", "/model", "--hostname", "127.0.0.1", "--port", "8030", "--dtype", "bfloat16",
        "--max-input-tokens", "4000", "--max-total-tokens", "4096", "--max-batch-prefill-tokens", "4096",
    ]
    sharded = tgi.build_arguments(_launch(num_gpus=4, adapters=[Adapter("spec-tod", "/adapters/spec-tod", 8)]))
    assert sharded[-4:] == ["--num-shard", "4", "--lora-adapters", "spec-tod=/adapters/spec-tod"]
    assert tgi.default_image == "ghcr.io/huggingface/text-generation-inference:2.2.0"  # the release's image


def test_vllm_arguments_round_the_lora_rank_up_to_one_vllm_accepts() -> None:
    vllm = engine("vllm")
    adapters = [Adapter("a", "/adapters/a", 8), Adapter("b", "/adapters/b", 40)]
    args = vllm.build_arguments(_launch(num_gpus=2, adapters=adapters))
    assert args == [
        "--model", "/model", "--served-model-name", "/runs/merged", "--host", "127.0.0.1", "--port", "8030",
        "--dtype", "bfloat16", "--max-model-len", "4096", "--tensor-parallel-size", "2",
        "--enable-lora", "--max-lora-rank", "64", "--lora-modules", "a=/adapters/a", "b=/adapters/b",
    ]
    with pytest.raises(SpecTodError, match="LoRA rank 1024"):
        vllm.build_arguments(_launch(adapters=[Adapter("a", "/a", 1024)]))


def test_sglang_runs_its_server_module_with_tensor_parallelism() -> None:
    sglang = engine("sglang")
    assert sglang.entrypoint == ("python3", "-m", "sglang.launch_server")
    assert sglang.build_arguments(_launch(num_gpus=2, extra_args=["--mem-fraction-static", "0.8"])) == [
        "--model-path", "/model", "--served-model-name", "/runs/merged", "--host", "127.0.0.1", "--port", "8030",
        "--dtype", "bfloat16", "--context-length", "4096", "--tp", "2", "--mem-fraction-static", "0.8",
    ]


def test_transformers_serves_one_pinned_model_on_the_cpu_by_default() -> None:
    transformers = engine("transformers")
    assert transformers.default_image is None
    assert transformers.build_arguments(_launch(model="/runs/merged", dtype="float32")) == [
        "serve", "/runs/merged", "--host", "127.0.0.1", "--port", "8030", "--device", "cpu", "--dtype", "float32",
    ]


def test_transformers_device_auto_takes_the_gpu_when_there_is_one_and_bfloat16_there() -> None:
    import torch

    from spec_tod.serve.engines import default_dtype, resolve_device

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert (resolve_device("cpu"), resolve_device("cuda")) == ("cpu", "cuda")
    with pytest.raises(SpecTodError, match="--device 'tpu': expected one of auto, cpu, cuda"):
        resolve_device("tpu")
    transformers = engine("transformers")
    assert (default_dtype(transformers, "cuda"), default_dtype(transformers, "cpu")) == ("bfloat16", "float32")
    assert default_dtype(engine("vllm"), "cpu") == "bfloat16"
    arguments = transformers.build_arguments(_launch(model="/m", dtype="bfloat16", device="cuda"))
    assert arguments[arguments.index("--device") + 1] == "cuda"


def test_transformers_model_list_names_the_pinned_model_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers.cli.serving.model_manager import ModelManager

    from spec_tod.serve.transformers_entry import list_pinned_first, pinned_model

    assert pinned_model(["serve", "/runs/merged", "--port", "1"]) == "/runs/merged"
    assert pinned_model(["serve", "--port", "1"]) is None and pinned_model(["chat", "x"]) is None

    def cache_scan(cache_dir: str | None = None) -> list[dict]:
        return [{"id": "org/cached", "object": "model"}, {"id": "/runs/merged", "object": "model"}]

    monkeypatch.setattr(ModelManager, "get_gen_models", staticmethod(cache_scan))  # restored after the test
    list_pinned_first("/runs/merged")
    assert [entry["id"] for entry in ModelManager.get_gen_models()] == ["/runs/merged", "org/cached"]

    def broken_scan(cache_dir: str | None = None) -> list[dict]:
        raise OSError("no cache")

    monkeypatch.setattr(ModelManager, "get_gen_models", staticmethod(broken_scan))
    list_pinned_first("/runs/merged")
    assert [entry["id"] for entry in ModelManager.get_gen_models()] == ["/runs/merged"]


def test_every_engine_answers_health_and_openai_routes() -> None:
    assert set(ENGINES) == {"tgi", "vllm", "sglang", "transformers"}
    assert {(e.health_path, e.openai_path) for e in ENGINES.values()} == {("/health", "/v1")}


def test_host_network_binds_the_asked_address_bridge_binds_inside() -> None:
    assert engine_bind(engine("tgi"), "host", "127.0.0.1", 9000) == ("127.0.0.1", 9000)
    assert engine_bind(engine("tgi"), "bridge", "127.0.0.1", 9000) == ("0.0.0.0", 80)
    assert engine_bind(engine("vllm"), "bridge", "127.0.0.1", 9000) == ("0.0.0.0", 8000)


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "merged"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"engine": "tensorrt"}, "unknown engine 'tensorrt'; choose one of tgi, vllm, sglang, transformers"),
        ({"model": "/no/such/folder"}, "model folder /no/such/folder not found"),
        ({"engine": "transformers", "gpus": "0"}, "runs on the CPU"),
        ({"gpus": "all"}, "name the GPUs"),
        ({"gpus": ","}, "names no GPU"),
        ({"engine": "sglang", "loras": {"a": Path("/x")}}, "cannot serve LoRA adapters unmerged"),
        ({"loras": {"a": Path("/no/adapter")}}, "adapter_config.json is missing"),
    ],
)
def test_bad_requests_are_refused_before_anything_starts(
    model: Path, serve_home: Path, changes: dict, message: str
) -> None:
    options = ServeOptions(**{"engine": "tgi", "model": str(model), "port": 1, **changes})
    with pytest.raises(SpecTodError, match=message.replace("(", r"\(")):
        start(options)
    assert not (serve_home / "servers.json").exists()


def test_an_adapter_folder_is_not_served_as_a_model(tmp_path: Path, serve_home: Path) -> None:
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 8}))
    with pytest.raises(SpecTodError, match="is a LoRA adapter, not a model; serve its base model with --lora"):
        start(ServeOptions(engine="vllm", model=str(tmp_path)))


def test_a_taken_port_is_refused(model: Path, serve_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SpecTodError, match=f"port {port} on 127.0.0.1 is taken"):
            start(ServeOptions(engine="transformers", model=str(model), port=port))


@pytest.mark.parametrize(("option", "words"), [("--port=70000", "70000 is not in the range 1<=x<=65535"),
                                               ("--port=0", "0 is not in the range 1<=x<=65535"),
                                               ("--timeout=-5", "-5.0 is not in the range x>=1")])
def test_out_of_range_port_and_timeout_are_usage_errors(spec_tod, fake_model: Path, option: str, words: str) -> None:
    done = spec_tod("serve", str(fake_model), "--engine", "transformers", option)
    assert done.returncode == 2 and words in done.stderr
    assert "Traceback" not in done.stderr
