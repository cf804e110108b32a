"""Benchmark: the open-data API's latency (p50, p95) for a whole table and for one series, in JSON-stat 2.0.

Not a test: run it after `make demo` (it reads the published releases of $OROSTAT_HOME, default ./var) and put
the figures in the issue notes. Starts the real server (uvicorn, one worker, in a thread) on a free port and
times each request end to end with one keep-alive HTTP client, after one warm-up call (the first call of a
release reads its Parquet once; its time is printed apart).

    python benchmarks/bench_api.py [--home var] [--repeat 50]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import threading
import time
from pathlib import Path

import requests
import uvicorn

from pipelines.api.app import create_app
from pipelines.core.settings import Paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("OROSTAT_HOME", "var")))
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    base, server = _start(Paths(args.home.resolve()))
    try:
        session = requests.Session()
        cases = {
            "whole table outcomes (json-stat2)": ("/tables/outcomes/data", _all(base, session, "outcomes")),
            "whole table reporters (json-stat2)": (
                "/tables/reporters/data",
                _all(base, session, "reporters"),
            ),
            "one series: Stockholms län, all reports, by month": (
                "/tables/outcomes/data",
                {
                    "valuecodes[geo_code]": "01",
                    "valuecodes[outcome]": "total",
                    "valuecodes[period]": "*",
                    "codelist[period]": "vs_month",
                },
            ),
            "one series: Stockholm (kommun), all reports, by year": (
                "/tables/outcomes/data",
                {"valuecodes[geo_code]": "0180", "valuecodes[outcome]": "total", "valuecodes[period]": "*"},
            ),
        }
        for name, (path, params) in cases.items():
            times, size = _time(session, base + path, params, args.repeat)
            p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[-1]
            print(f"{name:55s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  ({size:,} bytes, n={len(times)})")
    finally:
        server.should_exit = True


def _all(base: str, session: requests.Session, table: str) -> dict[str, str]:
    started = time.perf_counter()
    dims = session.get(f"{base}/tables/{table}/metadata", timeout=60).json()["id"]
    print(f"first call of {table} (reads the release once): {1000 * (time.perf_counter() - started):.0f} ms")
    return {f"valuecodes[{d}]": "*" for d in dims}


def _time(
    session: requests.Session, url: str, params: dict[str, str], repeat: int
) -> tuple[list[float], int]:
    response = session.get(url, params=params, timeout=60)  # warm-up
    response.raise_for_status()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = session.get(url, params=params, timeout=60)
        response.json()
        times.append(1000 * (time.perf_counter() - started))
    return times, len(response.content)


def _start(home: Paths) -> tuple[str, uvicorn.Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(home, calls=1_000_000, window=1), port=port, log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}/api/v2", server


if __name__ == "__main__":
    main()
