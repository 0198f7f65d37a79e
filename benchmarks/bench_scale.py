"""Benchmark (issue 18): discovery and the ledger at the scale of a monorepo with hundreds of Warehouses.

Each section builds its world on local servers (127.0.0.1), prints every figure against its target and
says PASS or FAIL; the exit code is 1 when any section missed a target. Sections:

- monorepo: 150 Warehouses, each a git subscription with its own includePaths to one 20,000-commit
  repository (built with `git fast-import`, kept under --work between runs), beside a plain script
  (`git fetch` plus one `git log -1 -- PATH` per Warehouse on a mirror).
- writers, reads: the ledger under 50 concurrent writers in separate clones (item 3) and reads of a
  300-Warehouse, 40-Stage, 50,000-promotion ledger (item 4); benchmarks/bench_scale_ledger.py runs them alone.

    .venv/bin/python benchmarks/bench_scale.py [--only monorepo|writers|reads] [--work DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kargo_actions.discovery.run import DiscoveryRun, discover_warehouses  # noqa: E402
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy  # noqa: E402
from kargo_actions.manifests import load_project  # noqa: E402
from tests.support.git_http_server import GitHttpServer, make_bare_repo, serve_git  # noqa: E402


@dataclass(frozen=True)
class Figure:
    """One measured figure and its target (None: reported, no target)."""

    name: str
    value: float
    unit: str = "s"
    target: float | None = None  # the figure must stay below it (or equal it, with exact=True)
    exact: bool = False

    @property
    def ok(self) -> bool:
        if self.target is None:
            return True
        return self.value == self.target if self.exact else self.value < self.target

    def line(self) -> str:
        value = f"{self.value:.3f} {self.unit}" if self.unit == "s" else f"{self.value:g} {self.unit}".strip()
        if self.target is None:
            return f"  {self.name:58s} {value}"
        relation = "=" if self.exact else "<"
        target = f"{self.target:g} {self.unit}".strip()
        return (
            f"  {self.name:58s} {value:>12s}  target {relation} {target:8s} {'ok' if self.ok else 'MISSED'}"
        )


Section = Callable[[argparse.Namespace, Path], list[Figure]]


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode()}")
    return result.stdout.decode()


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


# monorepo (item 1): 150 Warehouses on one 20,000-commit repository


def app_path(index: int) -> str:
    return f"apps/app-{index:03d}"


def monorepo_stream(commits: int, apps: int, seed: int = 18) -> bytes:
    """A linear history: 85% of commits change one application's values, the rest shared files."""
    rng = random.Random(seed)
    out: list[bytes] = []
    for n in range(1, commits + 1):
        when = 1_700_000_000 + n * 60
        if rng.random() < 0.85:
            path = f"{app_path(rng.randrange(apps))}/values.yaml"
        else:
            path = f"shared/lib{rng.randrange(40)}/file{rng.randrange(10)}.txt"
        content = f"revision {n}\n".encode()
        message = f"change {n}: {path}".encode()
        out.append(
            b"commit refs/heads/main\nmark :%d\n" % n
            + b"author Bench <bench@example.com> %d +0000\n" % when
            + b"committer Bench <bench@example.com> %d +0000\n" % when
            + b"data %d\n%s\n" % (len(message), message)
            + (b"from :%d\n" % (n - 1) if n > 1 else b"")
            + f"M 100644 inline {path}\n".encode()
            + b"data %d\n%s\n" % (len(content), content)
        )
    return b"".join(out)


def cached_monorepo(work: Path, commits: int, apps: int) -> tuple[Path, float]:
    """The generated repository, built once per size under the work dir; (path, seconds to build)."""
    built = work / f"monorepo-{commits}x{apps}.git"
    if (built / "HEAD").exists():
        return built, 0.0
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=work))
    repo = make_bare_repo(staging, "repo.git")
    git(repo, "fast-import", "--quiet", input=monorepo_stream(commits, apps))
    git(repo, "gc", "--quiet", "--aggressive" if commits <= 1000 else "--auto")
    repo.rename(built)
    shutil.rmtree(staging, ignore_errors=True)
    return built, time.perf_counter() - started


def push_change(repo: Path, path: str, n: int) -> None:
    """One commit on main changing `path`, added to the served repository as a push would."""
    head = git(repo, "rev-parse", "refs/heads/main").strip()
    when = 1_800_000_000 + n * 60
    content = f"pushed {n}\n".encode()
    message = f"push {n}: {path}".encode()
    stream = (
        b"commit refs/heads/main\n"
        + b"author Bench <bench@example.com> %d +0000\n" % when
        + b"committer Bench <bench@example.com> %d +0000\n" % when
        + b"data %d\n%s\n" % (len(message), message)
        + f"from {head}\nM 100644 inline {path}\n".encode()
        + b"data %d\n%s\n" % (len(content), content)
    )
    git(repo, "fast-import", "--quiet", input=stream)


def warehouses_yaml(url: str, apps: int) -> str:
    docs = []
    for i in range(apps):
        docs.append(
            "\n".join(
                [
                    "apiVersion: kargo.akuity.io/v1alpha1",
                    "kind: Warehouse",
                    "metadata:",
                    f"  name: app-{i:03d}",
                    "  namespace: mono",
                    "spec:",
                    "  subscriptions:",
                    "  - git:",
                    f"      repoURL: {url}",
                    "      branch: main",
                    "      includePaths:",
                    f"      - {app_path(i)}",
                ]
            )
        )
    return "---\n".join(d + "\n" for d in docs)


def run_discover(pipeline: Path) -> tuple[float, DiscoveryRun]:
    """load_project + discover_warehouses + the ledger write: what `kargo-actions discover` does in-process."""
    started = time.perf_counter()
    project = load_project(pipeline / ".kargo")
    with Ledger(pipeline, LedgerConfig(remote=None, signing=SigningPolicy.NEVER)) as ledger:
        result = discover_warehouses(project, ledger)
    seconds = time.perf_counter() - started
    if result.failed:
        raise RuntimeError("discovery failed: " + "; ".join(result.errors()[:5]))
    return seconds, result


def plain_script(server: GitHttpServer, mirror: Path, apps: int) -> float:
    """The baseline: `git fetch` plus one `git log -1 -- PATH` per Warehouse on a blobless mirror."""
    started = time.perf_counter()
    git(mirror, "fetch", "--quiet", "origin")
    for i in range(apps):
        git(mirror, "log", "-1", "--format=%H", "refs/heads/main", "--", app_path(i))
    return time.perf_counter() - started


@contextmanager
def monorepo_world(args: argparse.Namespace, work: Path) -> Iterator[tuple[GitHttpServer, Path, Path, float]]:
    """The served repository (a fresh copy of the cached one), the pipeline repository, build seconds."""
    built, build_seconds = cached_monorepo(work, args.commits, args.warehouses)
    with tempfile.TemporaryDirectory(prefix="run-", dir=work) as tmp_dir:
        tmp = Path(tmp_dir)
        srv = tmp / "srv"
        srv.mkdir()
        shutil.copytree(built, srv / "mono.git")
        os.environ["KARGO_ACTIONS_CACHE"] = str(tmp / "cache")
        pipeline = tmp / "pipeline"
        pipeline.mkdir()
        git(pipeline, "init", "-q")
        git(pipeline, "commit", "-q", "--allow-empty", "-m", "pipeline")
        with serve_git(srv) as server:
            (pipeline / ".kargo").mkdir()
            (pipeline / ".kargo" / "warehouses.yaml").write_text(
                warehouses_yaml(server.repo_url("mono.git"), args.warehouses)
            )
            yield server, srv / "mono.git", pipeline, build_seconds


def monorepo(args: argparse.Namespace, work: Path) -> list[Figure]:
    """Item 1: one mirror fetch for all Warehouses, one pass over new commits, Freight only where paths changed."""
    figures: list[Figure] = []
    with monorepo_world(args, work) as (server, served, pipeline, build_seconds):
        print(
            f"monorepo: {args.warehouses} Warehouses, each includePaths apps/app-NNN, on one repository of "
            f"{args.commits} commits (built in {build_seconds:.2f} s; 0 = cached under {work})"
        )
        cold, first = run_discover(pipeline)
        figures.append(Figure("cold: clone + every Warehouse's first discovery", cold))
        figures.append(Figure("cold: Freight created", len(first.created()), "", args.warehouses, exact=True))

        nothing: list[float] = []
        for _ in range(args.repeat):
            seconds, result = run_discover(pipeline)
            nothing.append(seconds)
            if result.created():
                raise RuntimeError("a run with nothing new created Freight")
        figures.append(Figure("nothing new (mirror exists), median", statistics.median(nothing), "s", 1.5))
        loading = [timed(lambda: load_project(pipeline / ".kargo")) for _ in range(args.repeat)]
        figures.append(
            Figure(
                f"  of which loading the {args.warehouses} Warehouse manifests", statistics.median(loading)
            )
        )

        server.reset_counts()
        pushed: list[float] = []
        created: list[int] = []
        wrong: list[str] = []
        for n in range(args.repeat):
            app = (7 + 31 * n) % args.warehouses
            push_change(served, f"{app_path(app)}/values.yaml", n)
            seconds, result = run_discover(pipeline)
            pushed.append(seconds)
            names = [f.origin.name for f in result.created()]
            created.append(len(names))
            if names != [f"app-{app:03d}"]:
                wrong.append(f"push to {app_path(app)} created Freight for {names}")
        connections = sum(1 for r in server.requests if r.startswith("GET") and r.endswith("/info/refs"))
        figures.append(
            Figure("one push touching one application, median", statistics.median(pushed), "s", 2.0)
        )
        figures.append(Figure("  Freight created per push (max)", max(created), "", 1, exact=True))
        figures.append(
            Figure(
                "  git connections per push (one ls-remote, one fetch)",
                connections / args.repeat,
                "",
                2,
                exact=True,
            )
        )
        for line in wrong:
            print("  " + line)
        if wrong:
            figures.append(
                Figure("pushes whose Freight went to another Warehouse", len(wrong), "", 0, exact=True)
            )

        mirror = work / "plain-mirror.git"
        shutil.rmtree(mirror, ignore_errors=True)
        git(
            work,
            "clone",
            "--quiet",
            "--mirror",
            "--filter=blob:none",
            server.repo_url("mono.git"),
            str(mirror),
        )
        push_change(served, f"{app_path(3)}/values.yaml", 99)
        plain = [plain_script(server, mirror, args.warehouses) for _ in range(args.repeat)]
        shutil.rmtree(mirror, ignore_errors=True)
        figures.append(
            Figure("plain script: git fetch + one git log -1 -- PATH each, median", statistics.median(plain))
        )
    return figures


def writers(args: argparse.Namespace, work: Path) -> list[Figure]:
    """Item 3: concurrent ledger writers in separate clones (benchmarks/bench_scale_ledger.py)."""
    from bench_scale_ledger import bench_writers

    shutil.rmtree(work / "ledger-writers", ignore_errors=True)
    return [Figure(*f) for f in bench_writers(work / "ledger-writers", args.writers, 40, ROOT)]


def reads(args: argparse.Namespace, work: Path) -> list[Figure]:
    """Item 4: reads of a 300-Warehouse, 40-Stage, 10,000-Freight, 50,000-promotion ledger (kept under --work)."""
    from bench_scale_ledger import bench_reads

    return [Figure(*f) for f in bench_reads(work, args.repeat, work / "ledger-reads")]


SECTIONS: dict[str, Section] = {
    "monorepo": monorepo,
    "writers": writers,
    "reads": reads,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(SECTIONS), help="run only this section")
    parser.add_argument("--work", type=Path, help="where generated repositories are kept between runs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warehouses", type=int, default=150, help="monorepo: Warehouses (one app each)")
    parser.add_argument("--commits", type=int, default=20_000, help="monorepo: commits of the repository")
    parser.add_argument("--writers", type=int, default=50, help="writers: concurrent ledger writer processes")
    args = parser.parse_args()
    work = args.work or Path(tempfile.gettempdir()) / "kargo-actions-bench-scale"
    work.mkdir(parents=True, exist_ok=True)
    for name, value in (
        ("GIT_AUTHOR_NAME", "bench"),
        ("GIT_AUTHOR_EMAIL", "bench@example.com"),
        ("GIT_COMMITTER_NAME", "bench"),
        ("GIT_COMMITTER_EMAIL", "bench@example.com"),
    ):
        os.environ.setdefault(name, value)
    failed = []
    for name in args.only or list(SECTIONS):
        print(f"[{name}]")
        figures = SECTIONS[name](args, work)
        for figure in figures:
            print(figure.line())
        missed = [f.name.strip() for f in figures if not f.ok]
        print(f"  {'PASS' if not missed else 'FAIL: ' + ', '.join(missed)}")
        failed += missed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
