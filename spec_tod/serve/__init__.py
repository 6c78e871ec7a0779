"""Serving a model through an existing engine (TGI, vLLM, SGLang in Docker; ``transformers serve`` locally).

Public API: :func:`start`, :func:`status`, :func:`stop`, :func:`log_lines`, :func:`follow_logs`
with :class:`ServeOptions`, and :func:`latest_endpoint` for ``spec-tod bench``.
"""

from spec_tod.serve.lifecycle import ServeOptions, ServerState, follow_logs, log_lines, start, status, stop
from spec_tod.serve.registry import ServerRecord, latest_endpoint

__all__ = [
    "ServeOptions",
    "ServerRecord",
    "ServerState",
    "follow_logs",
    "latest_endpoint",
    "log_lines",
    "start",
    "status",
    "stop",
]
