"""Verification runner overhead per measurement against a plain curl loop doing the same requests.

A keep-alive HTTP/1.1 server (a child process, so it does not share this interpreter's GIL) answers
kargo-advanced's pokemon-xp body. The runner measures a web metric (jsonPath `{$.base_experience}`,
successCondition `result < 200`, count N, interval 0s): per measurement it pays the request, the JSON
parse, the JSONPath, the expression, the counters and the scheduling. curl fetches the same URL N times in
one process over one connection (`-w %{time_total}` per request). Overhead = runner seconds per
measurement - curl seconds per request. Target: < 5 ms per measurement beyond the HTTP time.

Run: .venv/bin/python benchmarks/bench_verification.py [--count N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET_MS = 5.0
BODY = json.dumps({"name": "pikachu", "base_experience": 112, "height": 4, "weight": 60}).encode()


def serve(port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as curl and httpx both reuse the connection

        def setup(self) -> None:
            super().setup()
            # headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def runner_seconds(url: str, count: int) -> float:
    """Wall seconds per measurement of one AnalysisRun of `count` measurements."""
    from kargo_actions.model.analysis import Metric
    from kargo_actions.verification.phases import Phase
    from kargo_actions.verification.runner import run_analysis
    from kargo_actions.verification.templates import AnalysisPlan, run_metric

    metric = Metric.model_validate(
        {
            "name": "pokemon-xp",
            "interval": "0s",
            "count": count,
            "successCondition": "result < 200",
            "provider": {"web": {"url": url, "jsonPath": "{$.base_experience}"}},
        }
    )
    plan = AnalysisPlan(
        stage="bench", templates=("pokemon-xp",), metrics=(run_metric("t", metric, False, "m"),)
    )
    started = time.perf_counter()
    result = run_analysis(plan)
    elapsed = time.perf_counter() - started
    assert result.phase is Phase.SUCCESSFUL, result.message
    assert len(result.metrics[0].measurements) == count
    return elapsed / count


def curl_seconds(url: str, count: int) -> tuple[float, float]:
    """(wall seconds per request of one curl process fetching `count` times, mean time_total per request)."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            "curl",
            "-s",
            "-w",
            "%{time_total}\\n",
            *[a for _ in range(count) for a in ("-o", "/dev/null", url)],
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    times = [float(line) for line in done.stdout.split()]
    assert len(times) == count
    return elapsed / count, statistics.mean(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300, help="measurements (requests) per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    url = f"http://127.0.0.1:{port}/api/v2/pokemon/pikachu"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        runner_seconds(url, 20)  # warm-up: imports, validator builds, first connection
        curl_seconds(url, 20)
        rows: list[tuple[float, float, float]] = []
        for _ in range(args.rounds):
            per_curl, http = curl_seconds(url, args.count)
            per_runner = runner_seconds(url, args.count)
            rows.append((per_runner, per_curl, http))
    finally:
        server.terminate()
        server.wait(timeout=10)
    runner = statistics.median(r[0] for r in rows) * 1000
    curl = statistics.median(r[1] for r in rows) * 1000
    http = statistics.median(r[2] for r in rows) * 1000
    overhead = runner - curl
    print(f"{args.rounds} rounds of {args.count} measurements / requests, medians per request:")
    print(f"curl loop, wall per request          {curl:7.3f} ms  (time_total {http:.3f} ms)")
    print(f"runner, wall per measurement         {runner:7.3f} ms")
    status = "ok" if overhead < TARGET_MS else "MISSED"
    print(f"runner overhead beyond the HTTP time {overhead:7.3f} ms  target < {TARGET_MS} ms  {status}")
    return 0 if overhead < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
