"""`kargo-actions reconcile` when nothing can move, on a 10,000-promotion ledger, and the time from a resume
event to the resumed promotion's step (issue 12).

The pipeline repository has ten Stages whose ledger (pushed to a local bare remote) holds 10,000 finished
promotion records. Three timings, each a new process, median of 7:

- `reconcile` with no promotion in progress, against a plain script doing the least the same job needs
  (fetch the ledger branch, read every Stage state);
- `reconcile` on the `pull_request` closed event of a pull request no promotion waits for, while one
  promotion waits for another one (the event-selected path a promotion repository's unrelated PRs take);
- from the start of `reconcile` (what the resume event starts) to the first request of the resumed step: a
  promotion waits at an http step for a local server to say "done"; the server flips, `reconcile` starts,
  the step's next request is the resumed step running. The workflow start before it is GitHub's.

Targets: nothing to move under 0.3 s; our own work from event to step under 2 s. Exits non-zero on a miss.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_ledger import fast_import, new_repo  # noqa: E402
from kargo_actions.ledger.records import (  # noqa: E402
    FreightReference,
    LedgerMarker,
    PromotionRecord,
    StageStateRecord,
    dump_record,
)
from kargo_actions.model.freight import FreightOrigin  # noqa: E402

RUNS = 7
COUNT = 10_000
NOTHING_TARGET_S = 0.3
RESUME_TARGET_S = 2.0
STAGES = [f"stage-{i}" for i in range(10)]
IMAGE = "ghcr.io/example/app"


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def manifests(url: str) -> list[dict[str, object]]:
    wait = {
        "uses": "http",
        "as": "wait",
        "config": {"url": url, "successExpression": "response.body.state == 'done'", "pollInterval": "1s"},
    }
    docs: list[dict[str, object]] = [
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "bench"}},
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "app"},
            "spec": {"subscriptions": [{"image": {"repoURL": IMAGE}}]},
        },
    ]
    for stage in STAGES:
        docs.append(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Stage",
                "metadata": {"name": stage},
                "spec": {
                    "requestedFreight": [
                        {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
                    ],
                    "promotionTemplate": {"spec": {"steps": [wait]}},
                },
            }
        )
    return docs


def ledger_files() -> Iterator[tuple[str, bytes]]:
    origin = FreightOrigin(name="app")
    yield ".kargo-ledger.json", dump_record(LedgerMarker())
    for stage in STAGES:
        yield f"stages/{stage}.json", dump_record(StageStateRecord(stage=stage))
    for n in range(COUNT):
        stage = STAGES[n % len(STAGES)]
        fid = f"{n:040x}"
        name = f"{stage}.01j{n:023d}.{fid[:7]}"
        record = PromotionRecord(
            name=name,
            stage=stage,
            freight=FreightReference(name=fid, origin=origin),
            phase="Succeeded",
            created_at="2026-01-01T00:00:00Z",
            finished_at="2026-01-01T00:01:00Z",
        )
        yield f"promotions/{stage}/{name}.json", dump_record(record)


class Gate:
    state = "pending"
    hits: list[float] = []  # one server per run


def serve() -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            Gate.hits.append(time.perf_counter())
            body = json.dumps({"state": Gate.state}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/gate"


def cli(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kargo_actions", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def timed(fn: object, runs: int = RUNS) -> float:
    assert callable(fn)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def record_freight(repo: Path, tag: str) -> str:
    from kargo_actions.discovery.assemble import Artifacts, assemble_freight, parse_image_ref
    from kargo_actions.ledger import Ledger
    from kargo_actions.manifests import load_project

    project = load_project(repo / ".kargo")
    image = parse_image_ref(f"{IMAGE}:{tag}@sha256:{'a' * 63}{tag[-1]}")
    item = assemble_freight(project.warehouses["app"], Artifacts(images=(image,)))
    with Ledger(repo) as ledger:
        return ledger.record_freight(item).freight.name


def main() -> int:
    os.environ.update(
        {
            "GIT_AUTHOR_NAME": "Bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
            "GITHUB_ACTIONS": "",
        }
    )
    for var in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_REPOSITORY", "GITHUB_TOKEN"):
        os.environ.pop(var, None)
    httpd, url = serve()
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as tmp_name:
        tmp = Path(tmp_name)
        repo = new_repo(tmp / "repo", tmp / "remote.git")
        config = repo / ".kargo"
        config.mkdir()
        for i, doc in enumerate(manifests(url)):
            (config / f"{i:02d}.yaml").write_text(json.dumps(doc))
        fast_import(repo, ledger_files())
        sh(repo, "git", "push", "-q", "origin", "kargo/ledger")

        reconcile = lambda: cli(repo, "reconcile", "-q")  # noqa: E731
        assert reconcile().returncode == 0
        ours = timed(reconcile)
        plain_script = (
            "git fetch -q --no-tags origin +refs/heads/kargo/ledger:refs/remotes/origin/kargo/ledger && "
            "git ls-tree --object-only refs/remotes/origin/kargo/ledger stages/ | git cat-file --batch >/dev/null"
        )
        plain = timed(lambda: subprocess.run(["sh", "-c", plain_script], cwd=repo, check=True))

        # one promotion waits for the gate; a pull_request event about another pull request moves nothing
        record_freight(repo, "1.0.1")
        started = cli(repo, "-o", "json", "promote", "-s", "stage-3", "--warehouse", "app", "--no-wait", "-q")
        assert started.returncode == 0, started.stderr
        event = tmp / "event.json"
        event.write_text(
            json.dumps(
                {"action": "closed", "pull_request": {"number": 4242, "merged": True}, "repository": {}}
            )
        )
        event_env = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event)}
        other = lambda: cli(repo, "reconcile", "-q", env=event_env)  # noqa: E731
        assert other().returncode == 0
        unrelated = timed(other)

        # the resume: the gate says done, reconcile starts; time to the resumed step's request
        Gate.state = "done"
        Gate.hits.clear()
        begin = time.perf_counter()
        done = cli(repo, "-o", "json", "reconcile", "-q")
        end = time.perf_counter()
        assert done.returncode == 0, done.stderr
        [action] = json.loads(done.stdout)
        assert action["action"] == "resumed", action
        assert action["phase"] == "Succeeded", action
        # the first request is reconcile's read-only look, the second the resumed step itself
        to_step = Gate.hits[1] - begin
    httpd.shutdown()

    ok_nothing = ours < NOTHING_TARGET_S and unrelated < NOTHING_TARGET_S
    ok_resume = to_step < RESUME_TARGET_S
    print(f"reconcile, {COUNT} promotion records on the ledger, 10 Stages, median of {RUNS}")
    print(f"  nothing in progress                 {ours * 1000:7.1f} ms  target < 300 ms")
    print(f"  plain fetch + read of Stage states  {plain * 1000:7.1f} ms")
    print(f"  pull_request event of another PR    {unrelated * 1000:7.1f} ms  target < 300 ms")
    print(f"  event to the resumed step           {to_step * 1000:7.1f} ms  target < 2000 ms")
    print(f"  whole resume (to the final record)  {(end - begin) * 1000:7.1f} ms")
    print("ok" if ok_nothing and ok_resume else "MISSED")
    return 0 if ok_nothing and ok_resume else 1


if __name__ == "__main__":
    sys.exit(main())
