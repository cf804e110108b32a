"""``orostat serve`` as a user starts it, and the value-code expressions against a plain reference."""

from __future__ import annotations

import fnmatch
import os
import socket
import subprocess
import sys
import time

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from pipelines.api.selection import _match
from pipelines.api.spec import ApiError
from pipelines.api.tables import Dimension
from pipelines.core.schemas import publishing_spec
from pipelines.core.settings import Paths


@pytest.mark.slow
def test_orostat_serve_answers_and_stops(published: Paths) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OROSTAT_HOME": str(published.home)}
    command = [sys.executable, "-m", "pipelines.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                config = requests.get(f"http://127.0.0.1:{port}/api/v2/config", timeout=2).json()
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, "orostat serve did not start"
                time.sleep(0.2)
        assert config["apiVersion"] >= "2.0.0" and {lang["id"] for lang in config["languages"]} == {
            "sv",
            "en",
        }
        # the licence is the published statistics' own (the report's), not one of the API's
        assert config["license"] == publishing_spec()["report"]["licence"]["name"]
        tables = requests.get(f"http://127.0.0.1:{port}/api/v2/tables", timeout=5).json()
        assert tables["page"]["totalElements"] == len(tables["tables"]) > 0
    finally:
        server.terminate()
        server.wait(20)


CODES = st.lists(st.text("0124-Q", min_size=1, max_size=6), min_size=1, max_size=12, unique=True)
PATTERN = st.text("012*?Q-", min_size=1, max_size=5).filter(lambda p: "*" in p or "?" in p)


@given(codes=CODES, pattern=PATTERN)
def test_wildcards_select_what_shell_patterns_select(codes: list[str], pattern: str) -> None:
    dim = Dimension(code="geo_code", label={}, codes=codes, labels={})
    assert _match(dim, codes, pattern) == [c for c in codes if fnmatch.fnmatchcase(c, pattern)]


@given(codes=CODES, n=st.integers(1, 15))
def test_top_and_bottom_take_the_last_and_first_codes(codes: list[str], n: int) -> None:
    dim = Dimension(code="period", label={}, codes=codes, labels={})
    assert _match(dim, codes, f"top({n})") == codes[-n:]
    assert _match(dim, codes, f"bottom({n})") == codes[:n]
    first, last = codes[0], codes[-1]
    assert _match(dim, codes, f"range({first},{last})") == codes
    with pytest.raises(ApiError):
        _match(dim, codes, "no-such-code-at-all")
