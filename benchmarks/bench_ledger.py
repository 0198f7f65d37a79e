"""Ledger performance (issue 4), each number next to plain git doing the least work for the same answer.

Targets: 10,000 Freight -> `freight list` < 1 s, `freight show` < 0.2 s; 100,000 records -> one Stage's
history < 2 s; one append to a local bare remote < 200 ms median; 8 processes x 25 appends to one bare remote
-> exactly 200 records in < 60 s; signing + verifying 100 SSH tags within 1.5x of `git tag -s` +
`git verify-tag`. Fixtures are built with one `git fast-import`, not thousands of commits.

Run: .venv/bin/python benchmarks/bench_ledger.py [--quick] [--only list-show|history|append|concurrent|signing]
"""

from __future__ import annotations

import argparse
import os
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

from kargo_actions.freight.identity import freight_id  # noqa: E402
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy  # noqa: E402
from kargo_actions.ledger.records import (  # noqa: E402
    AliasRecord,
    CurrentFreight,
    FreightRecord,
    FreightReference,
    LedgerMarker,
    PromotionRecord,
    StageStateRecord,
    dump_record,
)
from kargo_actions.ledger.tags import TagWriter, verify_signatures  # noqa: E402
from kargo_actions.model.freight import Freight, FreightMetadata, FreightOrigin, Image  # noqa: E402

KARGO = [sys.executable, "-m", "kargo_actions"]
UNSIGNED = LedgerConfig(signing=SigningPolicy.NEVER)


@dataclass
class Result:
    name: str
    ours: float
    git: float | None
    target: str
    ok: bool

    def row(self) -> str:
        base = f"{self.git:.3f} s" if self.git is not None else "-"
        ratio = f"{self.ours / self.git:.1f}x" if self.git else "-"
        return f"| {self.name} | {self.ours:.3f} s | {base} | {ratio} | {self.target} | {'ok' if self.ok else 'MISSED'} |"


def sh(cwd: Path, *args: str, input: bytes | None = None) -> str:
    return subprocess.run(args, cwd=cwd, input=input, capture_output=True, check=True).stdout.decode().strip()


def timed(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(cwd: Path, *args: str) -> Callable[[], object]:
    return lambda: subprocess.run(args, cwd=cwd, capture_output=True, check=True)


def freight(n: int, warehouse: str = "app") -> Freight:
    origin = FreightOrigin(name=warehouse)
    images = [
        Image(repo_url="ghcr.io/example/app", tag=f"1.{n // 1000}.{n % 1000}", digest=f"sha256:{n:064x}")
    ]
    meta = FreightMetadata(
        name=freight_id(origin, images=images), creation_timestamp=f"2026-01-01T00:00:{n % 60:02d}Z"
    )
    return Freight(metadata=meta, origin=origin, images=images, alias=f"alias-{n}")


def fast_import(repo: Path, files: Iterator[tuple[str, bytes]]) -> None:
    """One commit on kargo/ledger holding every file, through one `git fast-import` process."""
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    message = b"bench: fixture"
    proc.stdin.write(b"commit refs/heads/kargo/ledger\ncommitter Bench <bench@example.com> 0 +0000\n")
    proc.stdin.write(b"data %d\n%s\n" % (len(message), message))
    for path, data in files:
        proc.stdin.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
    proc.stdin.write(b"\n")
    proc.stdin.close()
    assert proc.wait() == 0


def new_repo(path: Path, bare_remote: Path | None = None) -> Path:
    path.mkdir(parents=True)
    sh(path, "git", "init", "-q", "-b", "main")
    sh(path, "git", "commit", "-q", "--allow-empty", "-m", "initial")
    if bare_remote is not None:
        sh(path.parent, "git", "init", "-q", "--bare", str(bare_remote))
        sh(path, "git", "remote", "add", "origin", str(bare_remote))
        sh(path, "git", "push", "-q", "origin", "main")
    return path


def bench_list_and_show(tmp: Path, count: int) -> list[Result]:
    repo = new_repo(tmp / "big")
    items = [freight(n) for n in range(count)]

    def files() -> Iterator[tuple[str, bytes]]:
        yield ".kargo-ledger.json", dump_record(LedgerMarker())
        for f in items:
            yield f"freight/app/{f.name}.json", dump_record(FreightRecord.of(f))
            assert f.alias is not None
            yield (
                f"aliases/{f.alias}.json",
                dump_record(AliasRecord(alias=f.alias, freight=f.name, warehouse="app")),
            )
        current = [CurrentFreight(name=items[-1].name, origin=items[-1].origin, since="2026-01-02T00:00:00Z")]
        yield "stages/dev.json", dump_record(StageStateRecord(stage="dev", current_freight=current))

    fast_import(repo, files())
    target = items[count // 2]
    quick_imports = "import kargo_actions.cli.main, kargo_actions.cli.freight, kargo_actions.ledger.reader"
    floor = timed(run(repo, sys.executable, "-c", quick_imports), 5)
    models = timed(run(repo, sys.executable, "-c", f"{quick_imports}, kargo_actions.ledger.store"), 5)
    list_json = timed(run(repo, *KARGO, "-o", "json", "freight", "list"), 3)
    list_text = timed(run(repo, *KARGO, "freight", "list"), 3)
    git_list = timed(
        run(
            repo,
            "sh",
            "-c",
            "git ls-tree -r --object-only kargo/ledger freight | git cat-file --batch >/dev/null",
        ),
        3,
    )
    show_alias = timed(run(repo, *KARGO, "freight", "show", str(target.alias)), 5)
    show_prefix = timed(run(repo, *KARGO, "-o", "json", "freight", "show", target.name[:10]), 5)
    settings = repo / ".kargo" / "settings.yaml"
    settings.parent.mkdir()
    settings.write_text(
        "apiVersion: kargo-actions/v1alpha1\nkind: Settings\nmetadata: {name: settings}\nspec: {signing: never}\n"
    )
    show_settings = timed(run(repo, *KARGO, "freight", "show", str(target.alias)), 5)
    settings.unlink()
    settings.parent.rmdir()
    git_show = timed(run(repo, "git", "cat-file", "-p", f"kargo/ledger:freight/app/{target.name}.json"), 5)
    with Ledger(repo, UNSIGNED) as ledger:
        show_in_process = timed(lambda: ledger.get_freight(str(target.alias)), 5)
        list_in_process = timed(
            lambda: [
                f.model_dump_json(by_alias=True, exclude_none=True) for f in ledger.list_freight().records
            ],
            3,
        )
    return [
        Result(f"freight list -o json, {count} Freight", list_json, git_list, "< 1 s", list_json < 1.0),
        Result(f"freight list (text), {count} Freight", list_text, git_list, "< 1 s", list_text < 1.0),
        Result(
            "  list, in process (no interpreter start)",
            list_in_process,
            git_list,
            "< 1 s",
            list_in_process < 1.0,
        ),
        Result("freight show ALIAS", show_alias, git_show, "< 0.2 s", show_alias < 0.2),
        Result("freight show ID-PREFIX -o json", show_prefix, git_show, "< 0.2 s", show_prefix < 0.2),
        Result(
            "freight show ALIAS, with a Settings manifest",
            show_settings,
            git_show,
            "< 0.2 s",
            show_settings < 0.2,
        ),
        Result(
            "  show, in process (no interpreter start)",
            show_in_process,
            git_show,
            "< 0.2 s",
            show_in_process < 0.2,
        ),
        Result("  python + imports of show's path (no record models)", floor, None, "-", True),
        Result("  python + imports with the record models (pydantic)", models, None, "-", True),
    ]


def bench_history(tmp: Path, count: int) -> Result:
    repo = new_repo(tmp / "history")
    stages = [f"stage-{i}" for i in range(10)]
    origin = FreightOrigin(name="app")

    def files() -> Iterator[tuple[str, bytes]]:
        yield ".kargo-ledger.json", dump_record(LedgerMarker())
        for n in range(count):
            stage = stages[n % len(stages)]
            fid = f"{n:040x}"
            name = f"{stage}.01J{n:023d}.{fid[:7]}"
            record = PromotionRecord(
                name=name,
                stage=stage,
                freight=FreightReference(name=fid, origin=origin),
                phase="Succeeded",
                created_at=f"2026-01-01T00:{n // 6000 % 60:02d}:{n // 100 % 60:02d}Z",
            )
            yield f"promotions/{stage}/{name}.json", dump_record(record)

    fast_import(repo, files())
    script = "from kargo_actions.ledger import Ledger; import sys; print(len(Ledger(sys.argv[1]).stage_history('stage-3').records))"
    ours = timed(run(repo, sys.executable, "-c", script, str(repo)), 3)
    plain = timed(
        run(
            repo,
            "sh",
            "-c",
            "git ls-tree --object-only kargo/ledger promotions/stage-3/ | git cat-file --batch >/dev/null",
        ),
        3,
    )
    return Result(
        f"one Stage's history, {count} records ({count // 10} in the Stage)", ours, plain, "< 2 s", ours < 2.0
    )


def bench_append(tmp: Path, runs: int) -> Result:
    remote = tmp / "append.git"
    repo = new_repo(tmp / "append", remote)
    with Ledger(repo, UNSIGNED) as ledger:
        ledger.record_freight(freight(0))  # creates the branch
        times = []
        for n in range(1, runs + 1):
            start = time.perf_counter()
            ledger.record_freight(freight(n))
            times.append(time.perf_counter() - start)
    ours = statistics.median(times)
    # Least work to append one file to a pushed branch: blob, tree, commit, push.
    plain_times = []
    tip = sh(repo, "git", "rev-parse", "kargo/ledger")
    for n in range(runs):
        start = time.perf_counter()
        blob = sh(repo, "git", "hash-object", "-w", "--stdin", input=f"{n}\n".encode())
        tree = sh(repo, "git", "mktree", input=f"100644 blob {blob}\tf{n}.json\n".encode())
        tip = sh(repo, "git", "commit-tree", tree, "-p", tip, "-m", "x")
        sh(repo, "git", "push", "-q", str(remote), f"{tip}:refs/heads/plain")
        plain_times.append(time.perf_counter() - start)
    plain = statistics.median(plain_times)
    return Result("one append to a local bare remote (median)", ours, plain, "< 0.2 s", ours < 0.2)


WRITER = """
import sys
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
sys.path.insert(0, sys.argv[4])
from bench_ledger import freight
with Ledger(sys.argv[1], LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
    for n in range(int(sys.argv[2]), int(sys.argv[2]) + int(sys.argv[3])):
        ledger.record_freight(freight(n))
"""


def bench_concurrent(tmp: Path, writers: int, each: int) -> Result:
    remote = tmp / "busy.git"
    new_repo(tmp / "busy-seed", remote)
    clones = []
    for i in range(writers):
        path = tmp / f"busy-{i}"
        sh(tmp, "git", "clone", "-q", str(remote), str(path))
        clones.append(path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(c), str(i * 1000), str(each), str(Path(__file__).parent)],
            env=env,
        )
        for i, c in enumerate(clones)
    ]
    codes = [p.wait() for p in procs]
    total = time.perf_counter() - start
    records = len(sh(remote, "git", "ls-tree", "-r", "--name-only", "kargo/ledger", "freight").splitlines())
    tags = len(sh(remote, "git", "tag", "--list", "kargo/freight/*").splitlines())
    expected = writers * each
    print(
        f"concurrent: exit codes {codes}, {records} records, {tags} tags on the remote (expected {expected})"
    )
    ok = codes == [0] * writers and records == expected and tags == expected and total < 60
    return Result(
        f"{writers} processes x {each} appends, one bare remote", total, None, "< 60 s, none lost", ok
    )


@contextmanager
def ssh_signing(repo: Path) -> Iterator[None]:
    key = repo.parent / "bench-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(key)], check=True)
    signers = repo.parent / "allowed-signers"
    signers.write_text(f'bench@example.com namespaces="git" {key.with_suffix(".pub").read_text()}')
    for k, v in (
        ("gpg.format", "ssh"),
        ("user.signingkey", f"{key}.pub"),
        ("gpg.ssh.allowedSignersFile", str(signers)),
    ):
        sh(repo, "git", "config", k, v)
    yield


def bench_signing(tmp: Path, count: int) -> Result:
    repo = new_repo(tmp / "sign")
    with ssh_signing(repo):
        head = sh(repo, "git", "rev-parse", "HEAD")
        messages = [f'{{"n":{n}}}' for n in range(count)]

        def ours() -> None:
            with Ledger(repo, UNSIGNED) as ledger:
                writer = TagWriter(ledger.git)
                oids = [
                    writer.create(f"kargo/freight/app/{n:040x}", m, head, True, dict(ledger.git.env))
                    for n, m in enumerate(messages)
                ]
                checks = verify_signatures(ledger.git, oids)
                writer.close()
                assert all(c.ok for c in checks.values())

        def plain() -> None:
            for n, m in enumerate(messages):
                sh(repo, "git", "tag", "-f", "-s", "-m", m, f"plain/{n}", head)
            sh(repo, "git", "verify-tag", *(f"plain/{n}" for n in range(count)))

        ours_t = timed(ours, 3)
        plain_t = timed(plain, 3)
    return Result(f"sign + verify {count} SSH tags", ours_t, plain_t, "<= 1.5x git", ours_t <= 1.5 * plain_t)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--quick", action="store_true", help="smaller fixtures (a smoke run, not the targets)"
    )
    parser.add_argument(
        "--only", action="append", choices=["list-show", "history", "append", "concurrent", "signing"]
    )
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmpdir:
        tmp = Path(tmpdir)
        os.environ.update(
            {
                "HOME": str(tmp),
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_AUTHOR_NAME": "Bench",
                "GIT_AUTHOR_EMAIL": "bench@example.com",
                "GIT_COMMITTER_NAME": "Bench",
                "GIT_COMMITTER_EMAIL": "bench@example.com",
                # Child interpreters read and write compiled bytecode, as an installed package has it: with
                # PYTHONDONTWRITEBYTECODE set (some shells and CI images set it) an editable checkout is
                # compiled from source in every process, 40-70 ms of each command that an installed package
                # (pip compiles at install) does not pay. The bytecode goes to a cache dir of this run.
                "PYTHONPYCACHEPREFIX": str(tmp / "pycache"),
            }
        )
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        # Compile once, outside the timings (the first command of a fresh install pays this, once).
        subprocess.run([*KARGO, "freight", "--help"], check=True, capture_output=True)
        parts: dict[str, Callable[[], list[Result]]] = {
            "list-show": lambda: bench_list_and_show(tmp, 10_000 // scale),
            "history": lambda: [bench_history(tmp, 100_000 // scale)],
            "append": lambda: [bench_append(tmp, 20)],
            "concurrent": lambda: [bench_concurrent(tmp, 8, 25 // (5 if args.quick else 1))],
            "signing": lambda: [bench_signing(tmp, 100)],
        }
        results = [r for name in (args.only or list(parts)) for r in parts[name]()]
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} ({os.cpu_count()} cores)")
    print("| check | kargo-actions | plain git | ratio | target | result |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(r.row())
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
