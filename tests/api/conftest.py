"""A real server (uvicorn in a thread, on a free port) over the small published release of tests/stage6."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from pipelines.api.app import create_app
from pipelines.core.settings import Paths
from tests.stage6.conftest import RELEASE, published  # noqa: F401  (the release the servers read)

__all__ = ["RELEASE", "serve"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(home: Paths, **limits: float) -> Iterator[str]:
    """Run the API over ``home`` until the generator is closed; yields its /api/v2 address."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(home, **limits), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/api/v2"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def api(published: Paths) -> Iterator[str]:  # noqa: F811
    """The API with room for every test's calls (the rate limit has its own server)."""
    yield from serve(published, calls=100_000, window=1)
