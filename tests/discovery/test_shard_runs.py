"""Warehouse groups discovered at the same time, as matrix jobs are: separate clones (and caches) writing
one remote ledger by compare-and-swap lose and duplicate no Freight, and a failing group leaves the
others' Freight recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.discovery.registry_server import free_port
from tests.support.discover_world import World, world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as made:
        yield made


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _groups_at_once(origin: Path, root: Path, groups: list[list[str]]) -> list[tuple[int, str, str]]:
    """One process per group, each in its own fresh clone with its own KARGO_ACTIONS_CACHE."""
    procs = []
    for i, names in enumerate(groups):
        clone = root / f"job-{i}"
        subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
        env = {**os.environ, "KARGO_ACTIONS_CACHE": str(root / f"cache-{i}"), "KARGO_ACTIONS_SIGN": "never"}
        args = [sys.executable, "-m", "kargo_actions", "--repo", str(clone), "--output", "json", "discover"]
        for name in names:
            args += ["--warehouse", name]
        procs.append(
            subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    return [(p.wait(timeout=240), *p.communicate()) for p in procs]


def _recorded(origin: Path, root: Path) -> list[str]:
    """The Warehouse of every Freight record on the remote ledger (one entry per record)."""
    check = root / "check"
    if check.exists():
        subprocess.run(["rm", "-rf", str(check)], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(origin), str(check)], check=True)
    names = _git(check, "ls-tree", "-r", "--name-only", "kargo/ledger").splitlines()
    owners = []
    for name in names:
        if name.startswith("freight/") and name.endswith(".json"):
            record = json.loads(_git(check, "show", f"kargo/ledger:{name}"))
            owners.append(record.get("freight", record).get("origin", {}).get("name", name))
    return sorted(owners)


def test_concurrent_groups_record_every_freight_once_and_a_failed_group_harms_no_other(
    w: World, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/nothing.git"
    good = ["img-a", "img-b", "git-a", "git-b"]
    w.write_manifests(
        "---\n".join(
            [
                w.warehouse("img-a", chart=False),
                w.warehouse("img-b", chart=False),
                w.warehouse("git-a", image=w.image, chart=True),
                w.warehouse("git-b", chart=True),
                w.warehouse("broken", git=dead, chart=False),
            ]
        )
    )
    _git(w.repo, "add", ".")
    _git(w.repo, "commit", "-qm", "manifests")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(w.repo), str(origin)], check=True)
    groups = [["img-a", "img-b"], ["git-a"], ["git-b"], ["broken"]]

    first = _groups_at_once(origin, tmp_path / "run-1", groups)
    codes = [code for code, _out, _err in first]
    assert codes == [0, 0, 0, 1], [err[-2000:] for _code, _out, err in first]
    created = [f["metadata"]["name"] for _code, out, _err in first for f in json.loads(out)["created"]]
    assert len(created) == len(set(created)) == len(good)
    assert "broken subscriptions[1] git" in json.loads(first[3][1])["errors"][0]
    assert _recorded(origin, tmp_path) == sorted(good)
    tags = _git(origin, "tag", "-l", "kargo/freight/*").splitlines()
    assert sorted(t.split("/")[2] for t in tags) == sorted(good)

    # the same groups again, at once: everything exists, nothing is recorded twice
    again = _groups_at_once(origin, tmp_path / "run-2", groups)
    assert [code for code, _o, _e in again] == [0, 0, 0, 1]
    assert all(json.loads(out)["created"] == [] for _code, out, _err in again)
    assert _recorded(origin, tmp_path) == sorted(good)
