"""The docker backend on a real engine (private dockerd, no GPU runtime), with a busybox stand-in for axolotl."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest
import yaml

from spec_tod.containers import ContainerRunner, docker_client
from spec_tod.train.docker import DockerBackend
from spec_tod.train.finetune import plan_training
from spec_tod.train.presets import resolve_settings
from tests.fixtures.dockerd import BUSYBOX_IMAGE

pytestmark = pytest.mark.slow

TOKEN = "hf_dockerBackendTEST9876543210zyxwvuSECRET"

# Stands in for the axolotl image's `axolotl` command: shows what it was given and exits with the
# status the test wrote into the run folder.
STAND_IN = (
    'echo "stand-in got: $*"; busybox head -n 1 "$3"; ls /workspace/data/0; '
    'printf %s "$HF_TOKEN" | busybox sha256sum; echo "to stderr" >&2; sleep 2; exit "$(cat /workspace/run/exit-code)"'
)


@pytest.fixture()
def data_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "multiwoz21-train-dst.jsonl").write_text('{"id": "a", "conversations": []}\n')
    return folder


def _config(tmp_path: Path, data_folder: Path, model: Path, **raw) -> Path:
    config = tmp_path / "docker.yaml"
    config.write_text(yaml.safe_dump({
        "base_model": str(model), "data": [{"path": str(data_folder)}], "output_dir": str(tmp_path / "run"),
        "docker": {"image": BUSYBOX_IMAGE, "entrypoint": ["sh", "-c", STAND_IN, "axolotl-stand-in"],
                   "hf_cache": str(tmp_path / "hf")},
        **raw,
    }))
    return config


def _containers(host: str, run: Path) -> list:
    client = docker_client(host)
    try:
        return client.containers.list(all=True, filters={"label": f"spec-tod.run={run}"})
    finally:
        client.close()


def test_container_has_image_command_mounts_env_and_gpus(
    docker_engine: str, tiny_model_dir: Path, data_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    settings = resolve_settings(yaml.safe_load(_config(tmp_path, data_folder, tiny_model_dir).read_text()), "test")
    backend = DockerBackend(docker_engine)
    launch = plan_training(settings, backend, ["0", "1"])
    assert launch.config["base_model"] == "/workspace/base-model"
    assert launch.config["datasets"][0]["path"] == "/workspace/data/0/multiwoz21-train-dst.jsonl"
    assert (launch.config["output_dir"], launch.config["dataset_prepared_path"]) == ("/workspace/run", "/workspace/run/prepared")

    for folder in ("run", "hf"):  # finetune creates them before the container (bind sources must exist)
        (tmp_path / folder).mkdir()
    runner = ContainerRunner(docker_client(docker_engine))
    container = runner.create(backend.container_spec(settings, launch.args, ["0", "1"]))
    try:
        attrs = container.attrs
        assert attrs["Config"]["Image"] == BUSYBOX_IMAGE
        assert attrs["Config"]["Cmd"] == [
            "sh", "-c", STAND_IN, "axolotl-stand-in",  # the image's entry point as configured, after the secrets prelude
            "axolotl", "train", "/workspace/run/axolotl.yml", "--launcher", "accelerate", "--",
            "--num_machines", "1", "--num_processes", "2", "--multi_gpu",
        ]
        mounts = {m["Target"]: (m["Source"], m.get("ReadOnly", False)) for m in attrs["HostConfig"]["Mounts"]}
        assert mounts == {
            "/workspace/run": (str(tmp_path / "run"), False),
            "/workspace/data/0": (str(data_folder), True),
            "/workspace/base-model": (str(tiny_model_dir), True),
            "/workspace/hf-home": (str(tmp_path / "hf"), False),
        }
        env = set(attrs["Config"]["Env"])
        assert {"AXOLOTL_DO_NOT_TRACK=1", "DO_NOT_TRACK=1", "HF_HUB_OFFLINE=1", "HF_HOME=/workspace/hf-home"} <= env
        assert not any(item.startswith("HF_TOKEN") for item in env)
        assert TOKEN not in json.dumps(attrs)
        (request,) = attrs["HostConfig"]["DeviceRequests"]
        assert (request["DeviceIDs"], request["Capabilities"]) == (["0", "1"], [["gpu"]])
        assert attrs["HostConfig"]["ShmSize"] == 16 * 1024**3
        assert attrs["HostConfig"]["NetworkMode"] == "host"
        assert attrs["Name"] == "/spec-tod-train-run"
    finally:
        runner.remove(container)
        runner.client.close()


def test_stand_in_streams_logs_passes_exit_codes_and_cleans_up(
    cli, docker_engine: str, tiny_model_dir: Path, data_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    config = _config(tmp_path, data_folder, tiny_model_dir, profile="cpu")
    run = tmp_path / "run"
    run.mkdir()
    (run / "exit-code").write_text("0\n")

    seen: list[str] = []  # the engine's view of the running container, taken while it runs

    def watch() -> None:
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            for container in _containers(docker_engine, run):
                seen.append(json.dumps(container.attrs))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    done = cli("finetune", str(config), "--backend", "docker", "--docker-host", docker_engine)
    watcher.join(timeout=70)
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert "stand-in got: axolotl train /workspace/run/axolotl.yml --launcher python" in lines
    assert "base_model: /workspace/base-model" in lines
    assert "multiwoz21-train-dst.jsonl" in lines
    assert hashlib.sha256(TOKEN.encode()).hexdigest() + "  -" in lines
    assert "to stderr" in lines
    assert "training finished" in done.err
    log = (run / "train.log").read_text()
    assert "stand-in got: axolotl train" in log and "to stderr" in log
    assert seen and TOKEN not in seen[0] and '"DeviceRequests": null' in seen[0]  # the cpu profile asks for no GPU
    for text in (done.out, done.err, log, *(p.read_text() for p in run.iterdir() if p.is_file())):
        assert TOKEN not in text
    assert _containers(docker_engine, run) == []

    (run / "exit-code").write_text("3\n")
    done = cli("finetune", str(config), "--backend", "docker", "--docker-host", docker_engine)
    assert done.code == 1
    assert f"training failed with exit status 3; the log above says why; the full log is {run / 'train.log'}" in done.err
    assert _containers(docker_engine, run) == []

    (run / "exit-code").write_text("0\n")
    (run / "adapter_config.json").write_text("{}\n")  # what a finished LoRA run leaves behind
    done = cli("merge", str(run), "--backend", "docker", "--docker-host", docker_engine)
    assert done.code == 0, done.err
    assert "stand-in got: axolotl merge-lora /workspace/run/merge.yml" in done.out.splitlines()
    assert yaml.safe_load((run / "merge.yml").read_text())["lora_model_dir"] == "/workspace/run"
    assert _containers(docker_engine, run) == []


def test_no_gpu_runtime_is_said_plainly_and_leaves_no_container(
    cli, docker_engine: str, tiny_model_dir: Path, data_folder: Path, tmp_path: Path
) -> None:
    config = _config(tmp_path, data_folder, tiny_model_dir)  # gpu profile: the container asks for GPUs
    done = cli("finetune", str(config), "--backend", "docker", "--docker-host", docker_engine, "--gpus", "0")
    assert done.code == 1
    assert "error: this Docker engine has no GPU runtime, so the container cannot get a GPU" in done.err
    assert "Install the NVIDIA Container Toolkit" in done.err and "Traceback" not in done.err
    assert _containers(docker_engine, tmp_path / "run") == []


def test_unreachable_engine_is_said_plainly(cli, tiny_model_dir: Path, data_folder: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, data_folder, tiny_model_dir)
    done = cli("finetune", str(config), "--backend", "docker", "--docker-host", f"unix://{tmp_path}/none.sock")
    assert done.code == 1
    assert f"error: cannot reach the Docker engine at unix://{tmp_path}/none.sock" in done.err
