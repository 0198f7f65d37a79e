"""kargo-simple end to end: dev -> staging -> prod with real git pushes, the ledger and the gates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_path
from tests.discovery.registry_server import Registry
from tests.e2e.pipeline import Pipeline, build_pipeline
from tests.support.git_http_server import GitHttpServer

UPSTREAM_REPO = "https://github.com/akuity/kargo-simple.git"
UPSTREAM_IMAGE = "ghcr.io/akuity/guestbook"


@pytest.fixture
def simple(tmp_path: Path, git_server: GitHttpServer, registry: tuple[Registry, dict[str, str]]) -> Pipeline:
    reg, digests = registry
    return build_pipeline(
        shared_path("kargo-examples/kargo-simple"),
        tmp_path,
        git_server,
        reg,
        digests,
        name="kargo-simple",
        repo_urls=(UPSTREAM_REPO,),
        image=UPSTREAM_IMAGE,
    )


def _new_tag(p: Pipeline, stage: str) -> str:
    text = p.remote_file("main", f"env/{stage}/kustomization.yaml")
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if "newTag" in line)


def test_dev_staging_prod(simple: Pipeline) -> None:
    p = simple
    v1 = p.record_discovered("v0.0.1", "2026-01-01T00:00:01Z")
    v2 = p.record_discovered("v0.0.2", "2026-01-01T00:00:02Z")

    # staging takes Freight only once it is verified in dev
    code, _, err = p.run("promote", "--stage", "staging", "--freight", "v0-0-1")
    assert code == 3, err
    assert "not available to Stage staging: not verified in dev" in err

    code, out, err = p.run("promote", "--stage", "dev", "--freight", "v0-0-1", "-q")
    assert code == 0, err + out
    assert "verified in dev" in out
    assert _new_tag(p, "dev") == "v0.0.1"
    # the example already holds v0.0.1: nothing to commit, so nothing was pushed
    assert p.remote_log("main") == ["example"]

    code, out, err = p.run("promote", "--stage", "dev", "--warehouse", "guestbook", "-q")
    assert code == 0, err
    assert _new_tag(p, "dev") == "v0.0.2"
    assert p.remote_log("main")[0] == "Updated ./src/env/dev to use new image"

    code, out, err = p.run("promote", "--downstream-from", "dev", "-q")
    assert code == 0, err
    assert _new_tag(p, "staging") == "v0.0.2"

    # prod opens a pull request (openpr: "true") through the GitHub API, which a plain git server does not
    # have: the promotion pushes its generated branch, then ends Errored at git-open-pr, and is recorded so.
    code, out, err = p.run("promote", "--stage", "prod", "--freight", v2[:10], "-q")
    assert code == 1, out + err
    history = p.json("history", "--stage", "prod")
    assert history[0]["phase"] == "Errored"
    steps = {s["alias"].split("::")[-1]: s["status"] for s in history[0]["steps"]}
    assert steps["step-1"] == steps["update-image"] == steps["commit"] == steps["push"] == "Succeeded"
    assert steps["step-4"] == "Skipped"  # the direct push is for openpr != 'true'
    assert steps["open-pr"] == "Errored"
    assert history[0]["message"] == next(
        s["message"] for s in history[0]["steps"] if s["status"] == "Errored"
    )
    assert p.remote_log("main")[0] == "Updated ./src/env/staging to use new image"  # main untouched by prod

    # ledger state: dev holds v2, v1 left it with a completed soak; the last promotions are listed
    status = {row["stage"]: row for row in p.json("status")}
    assert [c["name"] for c in status["dev"]["current"]] == [v2]
    assert status["dev"]["verified"] is True
    assert status["prod"]["current"] == []
    assert status["prod"]["lastPromotion"]["phase"] == "Errored"
    assert status["staging"]["newestAvailable"]["name"] == v2

    # rollback dev to v1: allowed (verified there before), holds auto-promotion
    code, out, err = p.run("rollback", "--stage", "dev", "-q")
    assert code == 0, err
    assert _new_tag(p, "dev") == "v0.0.1"
    state = json.loads(p.remote_file("kargo/ledger", "stages/dev.json"))
    assert state["holds"]["guestbook"]["freight"] == v1
    assert [e["freight"][0]["name"] for e in state["freightHistory"]] == [v1, v2, v1]
    assert state["verified"][v1]["longestSoak"].endswith("s")

    # promoting the newest by hand lifts the hold
    code, out, err = p.run("promote", "--stage", "dev", "--freight", "v0-0-2", "-q")
    assert code == 0, err
    assert "hold lifted" in out
    state = json.loads(p.remote_file("kargo/ledger", "stages/dev.json"))
    assert state["holds"] == {}

    # history: newest first, actor from GITHUB_ACTOR, names <stage>.<ULID>.<id7>
    history = p.json("history", "--stage", "dev")
    assert [h["freight"]["name"] for h in history] == [v2, v1, v2, v1]
    assert all(
        h["actor"] == "octocat" and h["name"].endswith("." + h["freight"]["name"][:7]) for h in history
    )
    assert all(h["phase"] == "Succeeded" for h in history)


def test_approval_skips_upstream_and_bad_input(simple: Pipeline) -> None:
    p = simple
    p.record_discovered("v0.0.3", "2026-01-01T00:00:03Z")
    code, _, err = p.run("promote", "--stage", "staging", "--freight", "v0-0-3")
    assert code == 3
    assert "approve --freight v0-0-3 --stage staging" in err
    code, out, err = p.run("approve", "--freight", "v0-0-3", "--stage", "staging")
    assert code == 0, err
    code, out, err = p.run("promote", "--stage", "staging", "--freight", "v0-0-3", "-q")
    assert code == 0, err
    assert "approved for staging" in out
    assert _new_tag(p, "staging") == "v0.0.3"
    # bad input: exit 2 with a clear message, nothing recorded
    before = p.remote_log("kargo/ledger")
    for args, text in [
        (("promote", "--stage", "qa", "--freight", "v0-0-3"), "no Stage 'qa'"),
        (("promote", "--stage", "dev", "--freight", "nope-nope"), "no Freight matches 'nope-nope'"),
        (("promote", "--stage", "dev"), "give --freight REF or --warehouse W"),
    ]:
        code, _, err = p.run(*args)
        assert code == 2, (args, err)
        assert text in err
    assert p.remote_log("kargo/ledger") == before


def test_promote_loads_only_what_a_git_promotion_uses(simple: Pipeline) -> None:
    """What keeps promote's start-up short (issue 12): a new process promoting kargo-simple's dev Stage
    (git-clone, kustomize-set-image, git-commit, git-push) imports no HTTP client, no terminal renderer, no
    package metadata reader (pydantic's plugin lookup, python-ulid's version string) and no RE2 (no `matches`
    here); once an earlier process parsed its expressions, not lark either."""
    p = simple
    p.record_discovered("v0.0.2", "2026-01-01T00:00:02Z")
    p.record_discovered("v0.0.3", "2026-01-01T00:00:03Z")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "KARGO_ACTIONS_"))}
    for tag in ("v0.0.2", "v0.0.3"):
        alias = tag.replace(".", "-")
        args = [
            "--repo",
            str(p.repo),
            "--config-dir",
            "kargo",
            "promote",
            "--stage",
            "dev",
            "-f",
            alias,
            "-q",
        ]
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "kargo_actions", *args],
            capture_output=True,
            text=True,
            env={**clean, **p.env},
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert f"Succeeded (Freight {alias}" in proc.stdout
        assert _new_tag(p, "dev") == tag
        imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
        # -X importtime lists what `import` statements load (the registry's import_module calls are not listed)
        assert "kargo_actions.promotion.steps.support.gitutil" in imported
        heavy = ("httpx", "httpcore", "rich", "pygments", "github", "ulid", "re2")
        assert not {m for m in imported if m.split(".")[0] in heavy or m.startswith("importlib.metadata")}
    assert "lark" not in imported
