"""spec-tod's own HTTP/1.1 client layer: lean keep-alive connections (:mod:`spec_tod.http.connection`)
and the httpx transport on them (:mod:`spec_tod.http.transport`) that the bench client uses.

Why it exists and what it costs, measured: ``docs/http-client.md`` and ``benchmarks/client_throughput.py``.
"""

from spec_tod.http.connection import ConnectionPool, Response
from spec_tod.http.transport import PooledTransport

__all__ = ["ConnectionPool", "PooledTransport", "Response"]
