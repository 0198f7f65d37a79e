"""`kargo-actions discover` run as a workflow runs it: a real process against real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.discover_world import World, world

LOCAL = ("--ledger-remote", "", "--sign", "never")


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as made:
        yield made


def ka(w: World, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kargo_actions", *args],
        cwd=w.repo,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_output_json_lists_what_was_found_and_created(w: World) -> None:
    w.write_manifests(w.warehouse("web"))
    done = ka(w, "discover", "-o", "json", *LOCAL)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == {"warehouses", "created", "ledgerCommit", "errors"}
    assert out["errors"] == []
    (web,) = out["warehouses"]
    assert web["warehouse"] == "web"
    assert web["result"] == "created"
    assert [(s["index"], s["kind"], s["status"]) for s in web["subscriptions"]] == [
        (0, "image", "discovered"),
        (1, "git", "discovered"),
        (2, "chart", "discovered"),
    ]
    assert web["subscriptions"][0]["images"] == [
        {"repoURL": w.image, "tag": "1.0.0", "digest": w.digests["1.0.0"]}
    ]
    assert len(web["subscriptions"][1]["commits"]) == 3
    assert [c["version"] for c in web["subscriptions"][2]["charts"]] == ["1.1.0", "1.0.0"]
    (freight,) = web["freight"]
    assert freight["kind"] == "Freight"
    assert freight["apiVersion"] == "kargo.akuity.io/v1alpha1"
    assert freight["origin"] == {"kind": "Warehouse", "name": "web"}
    assert out["created"] == [freight]
    assert out["ledgerCommit"]
    # the commits' creation times, recorded for the lead time (`kargo-actions metrics`)
    shown = subprocess.run(
        ["git", "show", "kargo/ledger:discovered/web.json"], cwd=w.repo, capture_output=True, check=True
    )
    git_result = next(r for r in json.loads(shown.stdout)["results"] if r["kind"] == "git")
    ids = [c["id"] for c in web["subscriptions"][1]["commits"]]
    assert sorted(git_result["createdAt"]) == sorted(ids)
    assert all(t.endswith("Z") for t in git_result["createdAt"].values())
    listed = ka(w, "-o", "json", "freight", "list", *LOCAL)
    assert [f["metadata"]["name"] for f in json.loads(listed.stdout)] == [freight["metadata"]["name"]]
    # nothing new: nothing created, exit 0
    again = ka(w, "-o", "json", "discover", *LOCAL)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["warehouses"][0]["result"] == "exists"
    assert json.loads(again.stdout)["created"] == []


def test_github_actions_groups_and_step_summary(w: World, tmp_path: Path) -> None:
    w.write_manifests(w.warehouse("web", chart=False))
    summary = tmp_path / "summary.md"
    done = ka(w, "discover", *LOCAL, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    group = f"::group::web subscriptions[0] image {w.image}: found 1, newest 1.0.0"
    assert any(line.startswith(group) for line in lines), done.stderr
    assert any(line.startswith(f"::group::web subscriptions[1] git {w.git_url}: found 3") for line in lines)
    assert lines.count("::endgroup::") == 2
    assert done.stdout.startswith("web: created Freight ")
    text = summary.read_text()
    assert text.startswith("## kargo-actions discover\n")
    assert f"| web | image {w.image} | 1 | 1.0.0 | ok |" in text
    assert "- **web**: created Freight " in text
    # the pipeline under the table, the Warehouse that made Freight highlighted
    assert "```mermaid\nflowchart LR\n" in text
    assert "class wh_web promoted" in text


def test_plain_progress_and_a_failing_subscription_exit_1(w: World) -> None:
    w.write_manifests(
        w.warehouse("good", chart=False)
        + "---\n"
        + w.warehouse("broken", image=f"{w.registry.host}/no/such-repo", chart=False)
    )
    done = ka(w, "discover", *LOCAL)
    assert done.returncode == 1
    assert f"ok   good subscriptions[0] image {w.image}: found 1, newest 1.0.0" in done.stderr
    assert f"fail broken subscriptions[0] image {w.registry.host}/no/such-repo: FAILED: " in done.stderr
    assert f"error: broken subscriptions[0] image {w.registry.host}/no/such-repo: " in done.stderr
    assert "broken: no Freight: 1 of 2 subscription(s) failed" in done.stdout
    assert "good: created Freight " in done.stdout
    assert "Traceback" not in done.stderr


def test_manual_policy_then_assemble_a_discovered_revision_but_not_an_undiscovered_one(w: World) -> None:
    w.push_tag("1.1.0")
    w.write_manifests(w.warehouse("web", policy="Manual", chart=False))
    done = ka(w, "discover", *LOCAL)
    assert done.returncode == 0, done.stderr
    assert "freightCreationPolicy Manual" in done.stdout
    digest = w.digests["1.0.0"]
    commit = f"repoURL={w.git_url},id={w.head()},branch=main"
    ok = ka(w, "-o", "json", "freight", "assemble", "-w", "web", "--image", f"{w.image}:1.0.0@{digest}",
            "--commit", commit, *LOCAL)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["images"][0]["tag"] == "1.0.0"
    refused = ka(w, "freight", "assemble", "-w", "web", "--image", f"{w.image}:7.0.0@{digest}",
                 "--commit", commit, *LOCAL)  # fmt: skip
    assert refused.returncode == 2
    assert (
        f"error: images[0] {w.image}:7.0.0@{digest}: was not discovered for image {w.image} "
        f"(discovered: 1.1.0@{digest}, 1.0.0@{digest}; run `kargo-actions discover --warehouse web`, "
        "or give --allow-undiscovered)"
    ) in refused.stderr
    forced = ka(w, "freight", "assemble", "-w", "web", "--image", f"{w.image}:7.0.0@{digest}",
                "--commit", commit, "--allow-undiscovered", *LOCAL)  # fmt: skip
    assert forced.returncode == 0, forced.stderr


def test_rich_progress_prints_a_line_per_finished_subscription() -> None:
    import io

    from rich.console import Console

    from kargo_actions.cli.discover import RichProgress
    from kargo_actions.discovery.run import SubscriptionRef, SubscriptionRun
    from kargo_actions.ledger.records import DiscoveryResult
    from kargo_actions.model.freight import Image
    from kargo_actions.model.warehouse import RepoSubscription

    sub = RepoSubscription.model_validate({"image": {"repoURL": "ghcr.io/org/app"}})
    ref = SubscriptionRef("web", 0, sub)
    found = DiscoveryResult(
        kind="image",
        repo_url="ghcr.io/org/app",
        images=[Image(repo_url="ghcr.io/org/app", tag="1.2.0", digest="sha256:" + "a" * 64)],
    )
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system=None)
    with RichProgress(2, console) as bar:
        bar.start(ref)
        bar.done(SubscriptionRun(ref, result=found, seconds=0.25))
        bar.done(SubscriptionRun(ref, error="repository not found"))
    text = out.getvalue()
    assert "✓ web subscriptions[0] image ghcr.io/org/app: found 1, newest 1.2.0 (0.25s)" in text
    assert "✗ web subscriptions[0] image ghcr.io/org/app: FAILED: repository not found" in text
