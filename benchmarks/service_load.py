"""Load check of the REST service: 500 optimize requests from 4 concurrent clients.

    python benchmarks/service_load.py [--requests 500] [--clients 4] [--set KEY=VALUE ...]

Starts ``python -m ems serve`` on a free port of 127.0.0.1 (outputs in a
temporary folder, the shipped database reused), sends the seed's short
optimize request for residential3 with prices varied per request, and prints
p50 / p95 / max latency, throughput and the error count. Bounded in count and
time; traffic stays on the loopback interface.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ems.config import load_config
from ems.data.ingest import ensure_database

ROOT = Path(__file__).resolve().parents[1]


def request_body(i: int) -> bytes:
    prices = [round(0.25 + 0.1 * ((h * 7 + i) % 24) / 24, 4) for h in range(24)]
    return json.dumps({"mode": "optimize", "building_id": "DE_KN_residential3", "target_date": "2025-06-08",
                       "price_profile": prices, "battery_enabled": i % 2 == 0, "ev_enabled": False}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for the server, e.g. service.warm=false")
    args = parser.parse_args()
    db = ensure_database(load_config().data)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen([sys.executable, "-m", "ems", "serve", "--port", str(port), "--set",
                                   f"paths.output_dir={tmp}", "--set", f"paths.db={db}",
                                   *[a for o in args.overrides for a in ("--set", o)]], cwd=ROOT,
                                  env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
        try:
            ready = _wait(url, warm="service.warm=false" not in args.overrides)
            first_ms, _ = _post(url, 0)  # the first request after start (profiles are warmed at start)
            started = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                results = list(pool.map(lambda i: _post(url, i), range(args.requests)))
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    latencies = sorted(ms for ms, ok in results if ok)
    errors = sum(not ok for _, ok in results)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    print(f"{args.requests} requests, {args.clients} clients: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, "
          f"max {latencies[-1]:.0f} ms, {args.requests / wall:.1f} req/s, errors {errors} | "
          f"start to ready {ready:.1f} s, first request {first_ms:.0f} ms")


def _post(url: str, i: int) -> tuple[float, bool]:
    request = urllib.request.Request(url + "/optimize", data=request_body(i), method="POST",
                                     headers={"content-type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            ok = response.status == 200 and json.loads(response.read())["status"] == "optimal"
    except (urllib.error.URLError, OSError):
        ok = False
    return (time.perf_counter() - started) * 1000, ok


def _wait(url: str, warm: bool) -> float:
    """Seconds until /health answers (and, with ``warm``, says the profiles are loaded)."""
    started = time.perf_counter()
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as response:
                if not warm or json.loads(response.read()).get("warm", True):
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


if __name__ == "__main__":
    main()
