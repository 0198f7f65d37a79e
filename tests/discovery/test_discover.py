"""Warehouse discovery end to end against real servers: docker-registry, git smart HTTP, a Helm index."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kargo_actions.discovery.assemble import check_discovered
from kargo_actions.discovery.criteria import criteria_satisfied
from kargo_actions.discovery.run import (
    DiscoveryRun,
    SubscriptionRef,
    SubscriptionRun,
    decide,
    discover_warehouses,
)
from kargo_actions.errors import InvalidInputError
from kargo_actions.freight.identity import freight_id
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.records import DiscoveredArtifactsRecord, DiscoveryResult, discovered_path
from kargo_actions.manifests import load_project
from kargo_actions.model.freight import Chart, GitCommit, Image
from kargo_actions.model.warehouse import RepoSubscription, Warehouse
from tests.discovery.registry_server import free_port
from tests.support.discover_world import World, world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as made:
        yield made


def ledger_of(repo: Path) -> Ledger:
    return Ledger(repo, LedgerConfig(remote=None, signing=SigningPolicy.NEVER))


def run(w: World, names: list[str] | None = None) -> DiscoveryRun:
    project = load_project(w.repo / ".kargo")
    with ledger_of(w.repo) as ledger:
        return discover_warehouses(project, ledger, names)


def ledger_tip(repo: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "-q", "refs/heads/kargo/ledger"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def git_fetches(w: World) -> int:
    """Requests that start a clone or fetch (ls-remote makes one info/refs GET, a clone a second one)."""
    return sum(1 for r in w.git.requests if "/info/refs" in r)


def test_image_git_chart_warehouse_makes_one_freight_and_a_rerun_costs_no_gets(w: World) -> None:
    w.write_manifests(w.warehouse("web"))
    first = run(w)
    assert not first.failed, first.errors()
    (web,) = first.warehouses
    assert web.decision == "created"
    created = first.created()
    assert len(created) == 1
    freight = created[0]
    # exactly one artifact per subscription, the newest of each, under Kargo's ID
    assert [(i.repo_url, i.tag, i.digest) for i in freight.images] == [(w.image, "1.0.0", w.digests["1.0.0"])]
    assert [(c.repo_url, c.id, c.branch) for c in freight.commits] == [(w.git_url, w.head(), "main")]
    assert [(c.repo_url, c.name, c.version) for c in freight.charts] == [(w.chart_url, "app", "1.1.0")]
    assert freight.name == freight_id(freight.origin, freight.commits, freight.images, freight.charts)
    assert freight.alias
    with ledger_of(w.repo) as ledger:
        listed = ledger.list_freight().records
        record = ledger.snapshot().load(DiscoveredArtifactsRecord, discovered_path("web"))
    assert [f.name for f in listed] == [freight.name]
    tag = f"kargo/freight/web/{freight.name}"
    assert (
        subprocess.run(
            ["git", "-C", str(w.repo), "tag", "-l", tag], capture_output=True, text=True
        ).stdout.strip()
        == tag
    )
    assert record is not None
    assert [r.kind for r in record.results] == ["image", "git", "chart"]
    assert [c.version for c in record.results[2].charts] == ["1.1.0", "1.0.0"]
    assert len(record.results[1].commits) == 3
    assert record.results[1].git_state
    # one ledger write for the whole run: discovered record, Freight record, alias and tag in one commit
    log = subprocess.run(
        ["git", "-C", str(w.repo), "log", "--format=%s", "refs/heads/kargo/ledger"],
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert len(log) == 1

    # rerun with nothing new: nothing created, no ledger write, no manifest/blob GET, no git clone or fetch
    tip = ledger_tip(w.repo)
    mark = w.registry.mark()
    shutil.rmtree(Path(load_cache_root()) / "git")  # a fresh runner: only the ledger's refs state is left
    w.git.reset_counts()
    again = run(w)
    assert not again.failed, again.errors()
    assert again.created() == []
    assert again.warehouses[0].decision == "exists"
    assert again.warehouses[0].subscriptions[1].unchanged
    counts = w.registry.count(since=mark)
    assert counts["manifest"] == 0, counts
    assert counts["blob"] == 0, counts
    assert git_fetches(w) == 1, w.git.requests  # the ls-remote, nothing more
    assert ledger_tip(w.repo) == tip

    # a new tag makes a second Freight
    w.push_tag("1.1.0")
    third = run(w)
    (second,) = third.created()
    assert second.images[0].tag == "1.1.0"
    assert second.name != freight.name
    with ledger_of(w.repo) as ledger:
        assert len(ledger.list_freight().records) == 2


def load_cache_root() -> str:
    return os.environ["KARGO_ACTIONS_CACHE"]


def test_manual_policy_records_artifacts_only_and_assembly_is_checked_against_them(w: World) -> None:
    w.push_tag("1.1.0")
    w.write_manifests(w.warehouse("web", policy="Manual", chart=False))
    result = run(w)
    assert not result.failed, result.errors()
    assert result.warehouses[0].decision == "manual"
    assert result.created() == []
    with ledger_of(w.repo) as ledger:
        assert ledger.list_freight().records == []
        record = ledger.snapshot().load(DiscoveredArtifactsRecord, discovered_path("web"))
    assert record is not None
    assert [i.tag for i in record.results[0].images] == ["1.1.0", "1.0.0"]
    freight = result.warehouses[0].freight
    assert freight is not None
    older = freight.model_copy(update={"images": [freight.images[0].model_copy(update={"tag": "1.0.0"})]})
    check_discovered(older, record)  # an older discovered tag is fine
    undiscovered = freight.model_copy(
        update={"images": [freight.images[0].model_copy(update={"tag": "9.9.9"})]}
    )
    with pytest.raises(InvalidInputError) as err:
        check_discovered(undiscovered, record)
    (problem,) = err.value.problems
    assert problem.path == f"images[0] {w.image}:9.9.9@{w.digests['1.0.0']}"
    assert f"was not discovered for image {w.image}" in problem.message
    assert f"discovered: 1.1.0@{w.digests['1.0.0']}, 1.0.0@{w.digests['1.0.0']}" in problem.hint


def test_creation_criteria_refusing_records_artifacts_but_no_freight(w: World) -> None:
    w.write_manifests(
        w.warehouse("no", criteria=f"imageFrom('{w.image}').Tag == chartFrom('{w.chart_url}', 'app').Version")
        + "---\n"
        + w.warehouse(
            "yes",
            criteria=f"chartFrom('{w.chart_url}').Version == '1.1.0' && commitFrom('{w.git_url}').ID != ''",
        )
    )
    mark = w.registry.mark()
    result = run(w)
    assert not result.failed, result.errors()
    assert w.registry.count(since=mark)["tags"] == 1  # two Warehouses, one image subscription: asked once
    by_name = {x.name: x for x in result.warehouses}
    assert by_name["no"].decision == "criteria-not-met"
    assert by_name["yes"].decision == "created"
    assert [f.origin.name for f in result.created()] == ["yes"]
    with ledger_of(w.repo) as ledger:
        assert ledger.snapshot().load(DiscoveredArtifactsRecord, discovered_path("no")) is not None


def test_failing_subscriptions_name_themselves_and_other_warehouses_still_create(w: World) -> None:
    dead = f"http://127.0.0.1:{free_port()}/nothing.git"
    w.write_manifests(
        w.warehouse("good", chart=False)
        + "---\n"
        + w.warehouse("broken", image=f"{w.registry.host}/no/such-repo", git=dead, chart=False)
    )
    result = run(w)
    assert result.failed
    by_name = {x.name: x for x in result.warehouses}
    assert by_name["good"].decision == "created"
    assert by_name["broken"].decision == "failed"
    errors = result.errors()
    assert len(errors) == 2
    assert errors[0].startswith(f"broken subscriptions[0] image {w.registry.host}/no/such-repo: ")
    assert "not found" in errors[0].lower()
    assert errors[1].startswith(f"broken subscriptions[1] git {dead}: ")
    with ledger_of(w.repo) as ledger:
        snap = ledger.snapshot()
        # nothing half-recorded: the broken Warehouse has no discovered record, the good one has its Freight
        assert snap.load(DiscoveredArtifactsRecord, discovered_path("broken")) is None
        assert [f.origin.name for f in ledger.list_freight().records] == ["good"]


def test_unknown_warehouse_is_invalid_input(w: World) -> None:
    w.write_manifests(w.warehouse("web"))
    with pytest.raises(InvalidInputError, match=r"no Warehouse 'wbe'.*did you mean 'web'"):
        run(w, ["wbe"])


# ---- freightCreationCriteria alone (no servers: the results are given) ----


def _runs() -> list[SubscriptionRun]:
    image = RepoSubscription.model_validate({"image": {"repoURL": "ghcr.io/org/app"}})
    git = RepoSubscription.model_validate({"git": {"repoURL": "https://github.com/org/config.git"}})
    chart = RepoSubscription.model_validate({"chart": {"repoURL": "oci://ghcr.io/org/chart"}})
    return [
        SubscriptionRun(
            SubscriptionRef("w", 0, image),
            DiscoveryResult(
                kind="image",
                repo_url="ghcr.io/org/app",
                images=[Image(repo_url="ghcr.io/org/app", tag="1.2.0", digest="sha256:" + "a" * 64)],
            ),
        ),
        SubscriptionRun(
            SubscriptionRef("w", 1, git),
            DiscoveryResult(
                kind="git",
                repo_url="https://github.com/org/config.git",
                commits=[
                    GitCommit(repo_url="https://github.com/org/config.git", id="c" * 40, message="Bump 1.2.0")
                ],
            ),
        ),
        SubscriptionRun(
            SubscriptionRef("w", 2, chart),
            DiscoveryResult(
                kind="chart",
                repo_url="oci://ghcr.io/org/chart",
                charts=[Chart(repo_url="oci://ghcr.io/org/chart", version="1.2.0")],
            ),
        ),
    ]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("imageFrom('ghcr.io/org/app').Tag == chartFrom('oci://ghcr.io/org/chart').Version", True),
        ("imageFrom('ghcr.io/org/app').Tag == '1.3.0'", False),
        (
            "commitFrom('https://github.com/org/config').Subject contains imageFrom('ghcr.io/org/app').Tag",
            True,
        ),
        ("imageFrom('ghcr.io/org/other') == nil", True),
        ("'true'", True),  # a non-boolean result is read as Go's strconv.ParseBool reads it
        ("0", False),
    ],
)
def test_criteria_evaluate_over_the_newest_discovered_artifacts(expression: str, expected: bool) -> None:
    assert criteria_satisfied(expression, _runs()) is expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("imageFrom('ghcr.io/org/app').Tga", 'has no member "Tga"'),
        ("'maybe'", "is not a boolean"),
        ("imageFrom(", "imageFrom("),
    ],
)
def test_criteria_errors_say_why(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        criteria_satisfied(expression, _runs())


def test_a_failing_criteria_is_an_error_and_keeps_the_discovered_artifacts(tmp_path: Path) -> None:
    warehouse = Warehouse.model_validate(
        {
            "metadata": {"name": "w", "namespace": "demo"},
            "spec": {
                "freightCreationCriteria": {"expression": "imageFrom('ghcr.io/org/app').Nope == 'x'"},
                "subscriptions": [{"image": {"repoURL": "ghcr.io/org/app"}}],
            },
        }
    )
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with ledger_of(tmp_path) as ledger:
        decided = decide(warehouse, (_runs()[0],), "2024-01-01T00:00:00Z", ledger.snapshot())
    assert decided.decision == "criteria-error"
    assert decided.failed
    assert decided.record() is not None  # discovery itself worked: its artifacts are recorded
    (error,) = decided.errors()
    assert error.startswith("w: freightCreationCriteria: ")
    assert 'has no member "Nope"' in error


def test_a_fresh_checkout_reads_the_refs_states_from_the_remote_ledger(w: World, tmp_path: Path) -> None:
    """As in CI: a checkout of one branch, no ledger, no mirror cache; the remote ledger makes the run cheap."""
    w.write_manifests(w.warehouse("web", chart=False))
    subprocess.run(["git", "-C", str(w.repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(w.repo), "commit", "-qm", "manifests"], check=True)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(w.repo), str(origin)], check=True)
    subprocess.run(["git", "-C", str(w.repo), "remote", "add", "origin", str(origin)], check=True)

    def discover_in(repo: Path) -> DiscoveryRun:
        project = load_project(repo / ".kargo")
        with Ledger(repo, LedgerConfig(remote="origin", signing=SigningPolicy.NEVER)) as ledger:
            return discover_warehouses(project, ledger)

    first = discover_in(w.repo)
    (freight,) = first.created()
    checkout = tmp_path / "checkout"
    subprocess.run(
        ["git", "clone", "-q", "--single-branch", "--branch", "main", str(origin), str(checkout)], check=True
    )
    shutil.rmtree(Path(load_cache_root()) / "git")
    w.git.reset_counts()
    second = discover_in(checkout)
    assert not second.failed, second.errors()
    assert second.created() == []
    assert second.warehouses[0].decision == "exists"
    assert second.warehouses[0].subscriptions[1].unchanged
    assert git_fetches(w) == 1, w.git.requests  # one ls-remote: no clone on the fresh runner
    tags = subprocess.run(
        ["git", "-C", str(checkout), "tag", "-l"], capture_output=True, text=True
    ).stdout.split()
    assert tags == [f"kargo/freight/web/{freight.name}"]
