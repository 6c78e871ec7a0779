"""The docker-py runner against a real engine (private dockerd, offline busybox image, no GPU runtime)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from spec_tod.containers import ContainerRunner, ContainerSpec, Mount, docker_client, exit_message
from spec_tod.errors import SpecTodError
from tests.fixtures.dockerd import BUSYBOX_IMAGE

pytestmark = pytest.mark.slow

TOKEN = "hf_spectodTEST0123456789abcdefSECRET"


@pytest.fixture()
def runner(docker_engine: str) -> ContainerRunner:
    client = docker_client(docker_engine)
    yield ContainerRunner(client)
    client.close()


def _ours(runner: ContainerRunner, label: str) -> list:
    return runner.client.containers.list(all=True, filters={"label": f"spec-tod.test={label}"})


def test_unreachable_engine_is_a_plain_error(tmp_path: Path) -> None:
    with pytest.raises(SpecTodError, match=r"cannot reach the Docker engine at unix://.*nothing\.sock"):
        docker_client(f"unix://{tmp_path}/nothing.sock")


def test_run_streams_lines_and_returns_exit_code(runner: ContainerRunner, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("from the host\n")
    spec = ContainerSpec(
        image=BUSYBOX_IMAGE,
        entrypoint=["sh", "-c"],
        command=["for i in 1 2 3; do echo line $i; done; cat /data/in.txt; echo oops >&2; exit 3"],
        mounts=[Mount(tmp_path, "/data", read_only=True)],
        labels={"spec-tod.test": "run"},
    )
    terminal, log = io.StringIO(), io.StringIO()
    assert runner.run(spec, [terminal, log]) == 3
    assert terminal.getvalue() == log.getvalue()
    lines = terminal.getvalue().splitlines()
    # Docker keeps stdout and stderr as two streams: their relative order is not guaranteed.
    assert [line for line in lines if line != "oops"] == ["line 1", "line 2", "line 3", "from the host"]
    assert lines.count("oops") == 1
    assert _ours(runner, "run") == []  # removed after finishing


def test_created_container_has_spec_settings(runner: ContainerRunner, tmp_path: Path) -> None:
    spec = ContainerSpec(
        image=BUSYBOX_IMAGE,
        command=["echo", "hi"],
        environment={"HF_HUB_OFFLINE": "1"},
        mounts=[Mount(tmp_path, "/out")],
        shm_size="64m",
        name="spec-tod-test-inspect",
        labels={"spec-tod.test": "inspect"},
        working_dir="/out",
    )
    container = runner.create(spec)
    try:
        attrs = container.attrs
        assert attrs["Name"] == "/spec-tod-test-inspect"
        assert attrs["Config"]["Cmd"] == ["echo", "hi"]
        assert "HF_HUB_OFFLINE=1" in attrs["Config"]["Env"]
        assert attrs["Config"]["WorkingDir"] == "/out"
        assert attrs["HostConfig"]["NetworkMode"] == "host"
        assert attrs["HostConfig"]["ShmSize"] == 64 * 1024 * 1024
        assert [(m["Source"], m["Target"], m.get("ReadOnly", False)) for m in attrs["HostConfig"]["Mounts"]] == [
            (str(tmp_path.resolve()), "/out", False)
        ]
        assert attrs["Config"]["OpenStdin"] is False
    finally:
        runner.remove(container)


def test_secret_reaches_the_process_but_not_the_container_config(
    runner: ContainerRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    spec = ContainerSpec(
        image=BUSYBOX_IMAGE,
        entrypoint=["sh", "-c"],
        # Proves the value arrived without printing it: its length and sha256.
        command=['printf %s "$HF_TOKEN" | busybox wc -c; printf %s "$HF_TOKEN" | busybox sha256sum; busybox sleep 1'],
        secret_env=["HF_TOKEN", "SPEC_TOD_UNSET_SECRET"],
        labels={"spec-tod.test": "secret"},
    )
    with runner.session(spec) as container:
        inspected = json.dumps(runner.client.api.inspect_container(container.id))
        out = io.StringIO()
        runner.stream_logs(container, [out])
        assert runner.wait(container) == 0
    assert TOKEN not in inspected
    assert "HF_TOKEN" in inspected  # the name (label, prelude) is there, the value is not
    length, digest = out.getvalue().split()[:2]
    assert int(length) == len(TOKEN)
    assert digest == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert TOKEN not in out.getvalue()
    assert _ours(runner, "secret") == []


def test_unset_secret_stays_unset(runner: ContainerRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    spec = ContainerSpec(
        image=BUSYBOX_IMAGE,
        entrypoint=["sh", "-c"],
        command=['echo "token:${HF_TOKEN-unset}"'],
        secret_env=["HF_TOKEN"],
    )
    out = io.StringIO()
    assert runner.run(spec, [out]) == 0
    assert out.getvalue().strip() == "token:unset"


def test_gpu_request_without_runtime_is_plain_and_leaves_nothing(runner: ContainerRunner) -> None:
    spec = ContainerSpec(image=BUSYBOX_IMAGE, command=["true"], gpus=["0"], labels={"spec-tod.test": "gpu"})
    with pytest.raises(SpecTodError, match="this Docker engine has no GPU runtime") as raised:
        runner.run(spec, [io.StringIO()])
    assert "could not select device driver" in str(raised.value)
    assert _ours(runner, "gpu") == []


def test_published_ports_are_recorded(runner: ContainerRunner) -> None:
    spec = ContainerSpec(image=BUSYBOX_IMAGE, command=["true"], network_mode="none", ports={"80/tcp": ("127.0.0.1", 18080)})
    container = runner.create(spec)
    try:
        assert container.attrs["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}
    finally:
        runner.remove(container)


def test_gpu_request_is_recorded_in_the_container(runner: ContainerRunner) -> None:
    container = runner.create(ContainerSpec(image=BUSYBOX_IMAGE, command=["true"], gpus="all"))
    try:
        (request,) = container.attrs["HostConfig"]["DeviceRequests"]
        assert request["Count"] == -1 and request["Capabilities"] == [["gpu"]]
    finally:
        runner.remove(container)


def test_interrupt_removes_the_running_container(runner: ContainerRunner) -> None:
    spec = ContainerSpec(
        image=BUSYBOX_IMAGE,
        entrypoint=["sh", "-c"],
        command=["echo started; sleep 60"],
        labels={"spec-tod.test": "interrupt"},
    )

    class Interrupting(io.StringIO):
        def write(self, text: str) -> int:
            if "started" in text:
                raise KeyboardInterrupt
            return super().write(text)

    with pytest.raises(KeyboardInterrupt):
        runner.run(spec, [Interrupting()])
    assert _ours(runner, "interrupt") == []


def test_missing_image_is_a_plain_error(runner: ContainerRunner) -> None:
    with pytest.raises(SpecTodError, match="spec-tod-test/absent:none is not present"):
        runner.ensure_image("spec-tod-test/absent:none", pull=False)
    with pytest.raises(SpecTodError, match="not present"):
        runner.create(ContainerSpec(image="spec-tod-test/absent:none"))


@pytest.mark.parametrize(
    ("code", "words"),
    [(0, "finished"), (1, "exit status 1"), (137, "out of memory"), (143, "SIGTERM")],
)
def test_exit_messages(code: int, words: str) -> None:
    assert words in exit_message(code, "training")
