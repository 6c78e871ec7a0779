"""``spec-tod serve`` with container engines, against a real Docker engine (private dockerd, no GPU runtime).

The engine images cannot run here, so the offline busybox image stands in for them through the
options a user has (``--image``) plus the tests-only ``--entrypoint``: it reads the port and
address from the engine's own arguments and serves ``/health`` with httpd, on the host network.
"""

from __future__ import annotations

import json
from pathlib import Path

import docker
import httpx
import pytest

from spec_tod.serve.container import SERVE_LABEL
from tests.fixtures.dockerd import BUSYBOX_IMAGE

pytestmark = pytest.mark.slow

TOKEN = "hf_spectodSERVE0123456789abcdefSECRET"


@pytest.fixture()
def engine_client(docker_engine: str):
    client = docker.DockerClient(base_url=docker_engine, timeout=60)
    yield client
    client.close()


def _ours(client: docker.DockerClient) -> list:
    return client.containers.list(all=True, filters={"label": SERVE_LABEL})


def test_tgi_container_has_release_flags_host_network_mounts_and_no_token(
    spec_tod, docker_engine, engine_client, fake_model: Path, port: int, stand_in: str, recorded, serve_home: Path
) -> None:
    started = spec_tod(
        "serve", str(fake_model), "--engine", "tgi", "--image", BUSYBOX_IMAGE, "--gpus", "none", "--port", str(port),
        "--docker-host", docker_engine, "--timeout", "60", stand_in,
        env={"HF_TOKEN": TOKEN, "HF_HUB_OFFLINE": "1"},
    )
    assert started.returncode == 0, started.stderr + started.stdout
    assert f"http://127.0.0.1:{port}" in started.stdout

    [container] = _ours(engine_client)
    attrs = container.attrs
    assert attrs["Config"]["Image"] == BUSYBOX_IMAGE
    assert attrs["Name"] == f"/spec-tod-tgi-{port}"
    # HF_TOKEN is set, so the secret prelude is the entry point and the stand-in's entry point precedes TGI's arguments.
    assert attrs["Config"]["Entrypoint"][:2] == ["/bin/sh", "-c"]
    assert attrs["Config"]["Cmd"][4:] == [
        "--model-id", "/model", "--hostname", "127.0.0.1", "--port", str(port), "--dtype", "bfloat16",
        "--max-input-tokens", "4000", "--max-total-tokens", "4096", "--max-batch-prefill-tokens", "4096",
    ]
    assert attrs["HostConfig"]["NetworkMode"] == "host"
    assert attrs["HostConfig"]["ShmSize"] == 1024**3
    assert [(m["Source"], m["Target"], m.get("ReadOnly", False)) for m in attrs["HostConfig"]["Mounts"]] == [
        (str(fake_model.resolve()), "/model", True)
    ]
    assert "HF_HUB_OFFLINE=1" in attrs["Config"]["Env"]
    assert TOKEN not in json.dumps(attrs)  # the token never reaches the container's configuration
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200

    [record] = recorded()
    assert (record["engine"], record["kind"], record["url"]) == ("tgi", "container", f"http://127.0.0.1:{port}")
    assert record["container_id"] == container.id
    from spec_tod.serve.registry import latest_endpoint

    assert latest_endpoint() == f"http://127.0.0.1:{port}"

    status = spec_tod("serve", "status")
    assert status.returncode == 0 and "healthy" in status.stdout, status.stdout
    logs = spec_tod("serve", "logs", "--lines", "5")
    assert f"stand-in engine on 127.0.0.1:{port}" in logs.stdout, logs.stdout + logs.stderr

    stopped = spec_tod("serve", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert _ours(engine_client) == []
    assert recorded() == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health")


def test_vllm_hub_model_with_lora_adapter(
    spec_tod, docker_engine, engine_client, tmp_path: Path, port: int, stand_in: str, recorded
) -> None:
    adapter = tmp_path / "lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 12, "peft_type": "LORA"}))
    started = spec_tod(
        "serve", "meta-llama/Meta-Llama-3-8B-Instruct", "--engine", "vllm", "--image", BUSYBOX_IMAGE, "--gpus", "none",
        "--port", str(port), "--lora", f"spec-tod={adapter}", "--docker-host", docker_engine, "--timeout", "60",
        "--name", "vllm-lora", stand_in,
    )
    assert started.returncode == 0, started.stderr + started.stdout
    container = engine_client.containers.get("vllm-lora")
    try:
        assert container.attrs["Config"]["Cmd"] == [
            "--model", "meta-llama/Meta-Llama-3-8B-Instruct",
            "--served-model-name", "meta-llama/Meta-Llama-3-8B-Instruct",
            "--host", "127.0.0.1", "--port", str(port), "--dtype", "bfloat16", "--max-model-len", "4096",
            "--enable-lora", "--max-lora-rank", "16", "--lora-modules", "spec-tod=/adapters/spec-tod",
        ]
        mounts = {m["Target"]: (m["Source"], m.get("ReadOnly", False)) for m in container.attrs["HostConfig"]["Mounts"]}
        assert mounts == {
            "/root/.cache/huggingface/hub": (str(tmp_path / "hf-hub"), False),
            "/adapters/spec-tod": (str(adapter), True),
        }
        assert recorded()[0]["model"] == "meta-llama/Meta-Llama-3-8B-Instruct"
    finally:
        assert spec_tod("serve", "stop", "vllm-lora").returncode == 0
    assert _ours(engine_client) == []


@pytest.mark.parametrize(
    ("engine", "script", "timeout", "expected"),
    [
        # An engine that exits at once: its exit status and its last lines, stdout and stderr.
        ("tgi", "echo loading weights; echo 'RuntimeError: no CUDA device' >&2; exit 3", "60",
         ["exited with status 3", "| loading weights", "| RuntimeError: no CUDA device"]),
        # An engine that never answers: removed at the timeout, with what it said so far.
        ("sglang", "echo still loading; sleep 120", "3", ["did not answer on", "within 3 s", "| still loading"]),
    ],
)
def test_engine_that_fails_to_come_up_is_reported_and_removed(
    spec_tod, docker_engine, engine_client, fake_model: Path, port: int, recorded,
    engine: str, script: str, timeout: str, expected: list[str],
) -> None:
    result = spec_tod(
        "serve", str(fake_model), "--engine", engine, "--image", BUSYBOX_IMAGE, "--gpus", "none", "--port", str(port),
        "--docker-host", docker_engine, "--timeout", timeout, "--entrypoint=" + json.dumps(["sh", "-c", script]),
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"the {engine} container spec-tod-{engine}-{port} " in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    assert _ours(engine_client) == []
    assert recorded() == []


def test_gpu_request_without_gpu_runtime_is_a_plain_error(
    spec_tod, docker_engine, engine_client, fake_model: Path, port: int, stand_in: str, recorded
) -> None:
    result = spec_tod(
        "serve", str(fake_model), "--engine", "tgi", "--image", BUSYBOX_IMAGE, "--gpus", "0,1", "--port", str(port),
        "--docker-host", docker_engine, stand_in,
    )
    assert result.returncode == 1
    assert "no GPU runtime" in result.stderr and "Traceback" not in result.stderr
    assert _ours(engine_client) == []
    assert recorded() == []


def test_missing_image_without_pull_is_a_plain_error(
    spec_tod, docker_engine, engine_client, fake_model: Path, port: int
) -> None:
    result = spec_tod(
        "serve", str(fake_model), "--engine", "vllm", "--image", "spec-tod-test/absent:1", "--no-pull",
        "--gpus", "none", "--port", str(port), "--docker-host", docker_engine,
    )
    assert result.returncode == 1
    assert "spec-tod-test/absent:1 is not present" in result.stderr
    assert _ours(engine_client) == []


def test_bridge_network_publishes_the_engine_port_on_loopback(docker_engine, engine_client, port: int) -> None:
    # Created, never started: this engine has no bridge network (--bridge=none), and tests stay off bridges.
    from spec_tod.containers import ContainerRunner, ContainerSpec
    from spec_tod.serve.container import ContainerPlan, published_ports
    from spec_tod.serve.engines import engine

    plan = ContainerPlan(
        image=BUSYBOX_IMAGE, name="bridge-plan", network="bridge", host="127.0.0.1", port=port, gpus=None,
        shm_size="1g", mounts=[],
    )
    assert published_ports(engine("vllm"), plan) == {"8000/tcp": ("127.0.0.1", port)}
    runner = ContainerRunner(engine_client)
    spec = ContainerSpec(
        image=BUSYBOX_IMAGE, command=["true"], network_mode="bridge", ports=published_ports(engine("vllm"), plan)
    )
    container = runner.create(spec)
    try:
        host_config = engine_client.containers.get(container.id).attrs["HostConfig"]
        assert host_config["NetworkMode"] == "bridge"
        assert host_config["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    finally:
        runner.remove(container)
    host_plan = ContainerPlan(
        image=BUSYBOX_IMAGE, name="host-plan", network="host", host="127.0.0.1", port=port, gpus=None,
        shm_size="1g", mounts=[],
    )
    assert published_ports(engine("vllm"), host_plan) == {}
