"""argocd-update round trip against the Argo CD test server vs the same requests from a plain httpx script.

One round trip: read the app, start a sync to a new revision (its answer says Running), wait one poll
interval, read the app until it is Synced there and Healthy (the server finishes the operation on the first
read after the sync: 3 requests). The step runs as
the engine runs it (config validated, a new client per run); the plain script keeps one httpx.Client for the
whole run (its best case). The server's contract check is off so that only the clients are compared.
Target: the step's median within 1.5x of the plain script's.
Run: .venv/bin/python benchmarks/bench_argocd.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kargo_actions.promotion.step_api import StepContext, validate_config  # noqa: E402
from kargo_actions.promotion.steps.argocd_update import ArgoCDUpdate, ArgoCDUpdateConfig  # noqa: E402
from tests.support.argocd_server import (  # noqa: E402
    Outcome,
    SyncScript,
    application,
    serve_argocd,
)

ROUNDS = 200
TARGET_RATIO = 1.5
POLL = 0.001  # seconds between reads, both sides
APP = "guestbook-dev"


def step_round(work: Path, env: dict[str, str], i: int) -> None:
    revision = f"{i:040x}"
    config = validate_config(
        "argocd-update",
        ArgoCDUpdateConfig,
        {
            "apps": [
                {
                    "name": APP,
                    "sources": [
                        {"repoURL": "https://github.com/example/repo.git", "desiredRevision": revision}
                    ],
                }
            ]
        },
    )
    ctx = StepContext(work_dir=work, project="p", stage="dev", promotion=f"dev.step.{i}", env=env)
    ArgoCDUpdate().run(ctx, config)


def plain_round(client: httpx.Client, i: int) -> None:
    revision = f"{i + 10**6:040x}"
    path = f"/api/v1/applications/{APP}"
    client.get(path).raise_for_status()
    body = {"name": APP, "revision": revision, "infos": [{"name": "Reason", "value": "plain"}]}
    answer = client.post(path + "/sync", json=body)
    answer.raise_for_status()
    app = answer.json()
    while True:
        status = app["status"]
        state = status.get("operationState", {})
        if (
            state.get("phase") == "Succeeded"
            and status["sync"] == {"status": "Synced", "revision": revision}
            and status["health"]["status"] == "Healthy"
        ):
            return
        time.sleep(POLL)  # the sync's answer says Running: look again after the poll interval, as the step
        app = client.get(path).json()


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-argocd-"))
    with serve_argocd(check=False) as server:
        server.add(
            application(APP, authorized_stage="p:dev"),
            SyncScript(outcome=Outcome.SUCCEED, polls=1, health_polls=0),
        )
        env = {**server.env(), "KARGO_ACTIONS_ARGOCD_POLL_INTERVAL": f"{POLL * 1000:g}ms"}
        headers = {"Authorization": f"Bearer {server.token}"}
        step_ms: list[float] = []
        plain_ms: list[float] = []
        with httpx.Client(base_url=server.url, headers=headers) as client:
            for i in range(10):  # warm up both paths (imports, connections)
                step_round(work, env, 10**7 + i)
                plain_round(client, 10**7 + i)
            for i in range(ROUNDS):  # interleaved, so load on the machine hits both alike
                start = time.perf_counter()
                step_round(work, env, i)
                step_ms.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                plain_round(client, i)
                plain_ms.append((time.perf_counter() - start) * 1000)
        requests = len(server.exchanges)
    step, plain = statistics.median(step_ms), statistics.median(plain_ms)
    ratio = step / plain
    print(f"argocd-update round trip ({ROUNDS} rounds, {requests} requests in all)")
    print(f"  step : median {step:6.2f} ms  p90 {statistics.quantiles(step_ms, n=10)[-1]:6.2f} ms")
    print(f"  plain: median {plain:6.2f} ms  p90 {statistics.quantiles(plain_ms, n=10)[-1]:6.2f} ms")
    print(f"  ratio: {ratio:.2f}x (target <= {TARGET_RATIO}x)")
    if ratio > TARGET_RATIO:
        print("MISSED: the step is more than 1.5x the plain script")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
