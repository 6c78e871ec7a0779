"""The servers file, and waiting for health with a real local process."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from spec_tod.errors import SpecTodError
from spec_tod.serve import registry
from spec_tod.serve.health import wait_until_healthy
from spec_tod.serve.local import process_start_time, start_process


def _record(name: str, port: int) -> registry.ServerRecord:
    url = f"http://127.0.0.1:{port}"
    return registry.ServerRecord(
        name=name, engine="vllm", url=url, openai_base_url=f"{url}/v1", model="m", source="m", kind="container",
        container_id="abc",
    )


def test_records_are_kept_in_start_order_and_replaced_by_name(serve_home: Path) -> None:
    assert registry.latest_endpoint() is None
    registry.add(_record("a", 8001))
    registry.add(_record("b", 8002))
    assert registry.latest_endpoint() == "http://127.0.0.1:8002"
    registry.add(_record("a", 8003))
    assert [r.name for r in registry.servers()] == ["b", "a"]
    assert registry.latest_endpoint() == "http://127.0.0.1:8003"
    registry.remove("a")
    registry.remove("never-there")
    assert [r.name for r in registry.servers()] == ["b"]
    assert registry.state_path() == serve_home / "servers.json"
    assert [p.name for p in serve_home.iterdir() if p.name.startswith(".servers")] == []  # no temp files left


def test_unknown_name_and_damaged_file_are_plain_errors(serve_home: Path) -> None:
    registry.add(_record("a", 8001))
    with pytest.raises(SpecTodError, match=r"no server named 'zz' was started by spec-tod \(known: a\)"):
        registry.get("zz")
    registry.state_path().write_text('{"servers": [{"name": 3}]}')
    with pytest.raises(SpecTodError, match="servers.json is not a spec-tod servers file"):
        registry.servers()


def test_a_process_that_dies_while_loading_is_reported_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    engine = start_process(
        ["sh", "-c", "echo loading; echo 'OSError: no weights' >&2; exit 4"], log, "the test engine", offline=True
    )
    with pytest.raises(SpecTodError) as raised:
        wait_until_healthy(engine, "http://127.0.0.1:9/health", timeout=60, interval=0.1)
    message = str(raised.value)
    assert message.startswith("the test engine exited with status 4 before answering on http://127.0.0.1:9/health")
    assert message.endswith("  | loading\n  | OSError: no weights")


def test_a_process_that_never_answers_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    engine = start_process(["sh", "-c", "echo waiting; exec sleep 60"], tmp_path / "e.log", "the test engine", offline=True)
    with pytest.raises(SpecTodError, match=r"did not answer on .* within 1 s .*\n  \| waiting"):
        wait_until_healthy(engine, "http://127.0.0.1:9/health", timeout=1, interval=0.1)
    assert engine.exit_status() is not None
    assert process_start_time(engine.pid) is None


def test_health_wait_returns_once_the_route_answers(tmp_path: Path) -> None:
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    engine = start_process(["sh", "-c", "exec sleep 60"], tmp_path / "e.log", "the test engine", offline=True)
    try:
        waited = wait_until_healthy(engine, f"http://127.0.0.1:{server.server_port}/health", timeout=30)
        assert waited >= 0 and engine.exit_status() is None
    finally:
        engine.remove()
        server.shutdown()
    assert engine.exit_status() is not None


def test_a_local_server_log_is_followed_until_it_exits_and_kept_after(serve_home: Path) -> None:
    from spec_tod.serve import follow_logs, log_lines

    log = serve_home / "logs" / "talker.log"
    engine = start_process(["sh", "-c", "echo one; sleep 1; echo two; sleep 1; echo three"], log, "talker", offline=True)
    registry.add(registry.ServerRecord(
        name="talker", engine="transformers", url="http://127.0.0.1:9", openai_base_url="http://127.0.0.1:9/v1",
        model="m", source="m", kind="process", pid=engine.pid, pid_start=engine.start_time, log_path=str(log),
    ))
    followed = "".join(follow_logs("talker", lines=10, poll=0.1))
    assert followed.split() == ["one", "two", "three"]
    assert engine.process is not None and engine.process.wait(timeout=10) == 0
    assert log_lines("talker", 2) == ["two", "three"]  # the log outlives the process
    log.unlink()
    with pytest.raises(SpecTodError, match="the server talker no longer exists"):
        log_lines("talker")
