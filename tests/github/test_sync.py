"""`kargo-actions github sync`: environments and rulesets derived from a real project's manifests, planned
and applied against the GitHub test server; the rulesets it makes are enforced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github import GithubException

from kargo_actions.cli.main import main
from kargo_actions.github import sync
from kargo_actions.github.client import GitHubClient
from kargo_actions.github.models import BranchPattern, BranchPolicy, Reviewer, RulesetSpec
from kargo_actions.github.sync import (
    GATE_RULESET,
    LEDGER_RULESET,
    TAGS_RULESET,
    plan_sync,
)
from kargo_actions.manifests import load_project
from kargo_actions.promotion.github_wanted import promotion_target_branches, wanted_state
from tests.github.helpers import ADMIN_TOKEN, REPO, bare, git_in, raw_github, seed_promotion_branch
from tests.support.github_contract import GitHubContract
from tests.support.github_fixtures import FAST, client_for, start_checked
from tests.support.github_server import ADMIN_PERMISSIONS, GitHubServer


def _doc(kind: str, name: str, spec: dict[str, Any], api: str = "kargo.akuity.io/v1alpha1") -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name}, "spec": spec}


def _stage(name: str, upstream: str | None, steps: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    sources: dict[str, Any] = {"stages": [upstream]} if upstream else {"direct": True}
    body: dict[str, Any] = {
        "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "app"}, "sources": sources}],
        **spec,
    }
    if steps:
        body["promotionTemplate"] = {"spec": {"steps": steps}}
    return _doc("Stage", name, body)


def write_pipeline(root: Path, team_id: int | str, prod_openpr: str = "true") -> Path:
    """dev pushes straight to main; staging opens PRs to stage/staging; prod uses a kargo-simple-like task."""
    url = "https://github.com/acme/app.git"
    open_pr = {"uses": "git-open-pr", "as": "open-pr", "config": {"repoURL": url, "sourceBranch": "x"}}
    docs = [
        _doc("Warehouse", "app", {"subscriptions": [{"image": {"repoURL": "ghcr.io/acme/app"}}]}),
        _doc(
            "PromotionTask",
            "promote",
            {
                "vars": [{"name": "branch", "value": "main"}, {"name": "openpr", "value": "false"}],
                "steps": [
                    {
                        **open_pr,
                        "if": "${{ vars.openpr == 'true' }}",
                        "config": {**open_pr["config"], "targetBranch": "${{ vars.branch }}"},
                    },
                    {
                        "uses": "git-open-pr",
                        "as": "later",
                        "config": {**open_pr["config"], "targetBranch": "${{ outputs['open-pr'].branch }}"},
                    },
                ],
            },
        ),
        _stage("dev", None, [{"uses": "git-push", "config": {"path": "./src"}}]),
        _stage("gate", "dev", []),  # control flow: no promotion job, so no environment
        _stage(
            "staging",
            "dev",
            [{**open_pr, "config": {**open_pr["config"], "targetBranch": "stage/${{ ctx.stage }}"}}],
        ),
        _stage(
            "prod",
            "staging",
            [{"task": {"name": "promote"}}],
            vars=[{"name": "openpr", "value": prod_openpr}],
        ),
        _doc(
            "Settings",
            "settings",
            {
                "requiredChecks": ["ci/test"],
                "environments": {
                    "prod": {
                        "reviewers": ["alice", f"team:{team_id}"],
                        "waitTimer": 15,
                        "preventSelfReview": True,
                        "deploymentBranches": ["main"],
                        "deploymentTags": ["kargo/freight/*"],
                    },
                    "staging": {"protectedBranchesOnly": True},
                    "gate": {"waitTimer": 5},
                },
            },
            api="kargo-actions/v1alpha1",
        ),
    ]
    config = root / ".kargo"
    config.mkdir(parents=True)
    for i, doc in enumerate(docs):
        (config / f"{i:02d}-{doc['metadata']['name']}.yaml").write_text(json.dumps(doc))
    return config


@pytest.fixture
def admin(github: GitHubServer) -> GitHubClient:
    github.add_token(ADMIN_TOKEN, ADMIN_PERMISSIONS, login="admin")
    return client_for(github, ADMIN_TOKEN)


@pytest.fixture
def cli_env(github: GitHubServer, admin: GitHubClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "CLIENT_OPTIONS", FAST)
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    monkeypatch.setenv("GITHUB_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def _writes(github: GitHubServer) -> list[str]:
    return [f"{e.method} {e.path}" for e in github.exchanges if e.method != "GET"]


def test_target_branches_from_the_manifests(tmp_path: Path) -> None:
    project = load_project(write_pipeline(tmp_path / "a", team_id=1))
    branches, notes = promotion_target_branches(project)
    assert branches == ["stage/staging", "main"]
    assert len(notes) == 1
    assert (
        "Stage prod: step 'task-1::later' (git-open-pr) targets \"${{ outputs['open-pr'].branch }}\""
        in notes[0]
    )
    # with vars.openpr 'false' (kargo-simple's default) prod pushes to main directly: main stays unprotected
    quiet = load_project(write_pipeline(tmp_path / "b", team_id=1, prod_openpr="false"))
    assert promotion_target_branches(quiet)[0] == ["stage/staging"]


def test_plan_apply_plan(
    github: GitHubServer,
    admin: GitHubClient,
    cli_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = github.add_user("alice")
    team = github.add_team("acme", "release")
    write_pipeline(tmp_path, "acme/release")  # a team by its slug, looked up when planned
    repo = github.repo(REPO)

    code, out, _ = run(["--repo", str(tmp_path), "github", "sync", "--plan"], capsys)
    assert code == 0
    for line in (
        "+ environment 'dev' (create)",
        "+ environment 'staging' (create)",
        "    deployment refs: any branch -> protected branches",
        "+ environment 'prod' (create)",
        "    wait timer: 0 -> 15 min",
        f"    reviewers: none -> Team {team}, User {alice}",
        "    deployment refs: any branch -> branch main, tag kargo/freight/*",
        f"+ ruleset '{GATE_RULESET}' (create)",
        "    refs: refs/heads/main, refs/heads/stage/staging",
        "    required checks: kargo/gate, ci/test",
        f"+ ruleset '{TAGS_RULESET}' (create)",
        "    refs: refs/tags/kargo/freight/**",
        "    blocks: update, deletion",
        f"+ ruleset '{LEDGER_RULESET}' (create)",
        "    refs: refs/heads/kargo/ledger",
        "    blocks: deletion, force push",
        "note: Stage prod: step 'task-1::later'",
        "note: Stage gate is a control-flow Stage (no promotion steps): its environment settings are not applied",
    ):
        assert line in out, line
    assert not repo.environments
    assert not repo.rulesets
    assert _writes(github) == []  # --plan changes nothing

    code, out, _ = run(["--repo", str(tmp_path), "github", "sync", "--apply"], capsys)
    assert code == 0
    assert "applied 6 change(s) to acme/app" in out
    prod = admin.get_environment("prod")
    assert prod is not None
    assert prod.spec.wait_timer == 15
    assert set(prod.spec.reviewers) == {Reviewer("User", alice), Reviewer("Team", team)}
    assert prod.spec.prevent_self_review
    assert prod.spec.branch_policy is not None
    assert set(prod.spec.branch_policy.patterns) == {
        BranchPattern("main"),
        BranchPattern("kargo/freight/*", "tag"),
    }
    staging = admin.get_environment("staging")
    assert staging is not None
    assert staging.spec.branch_policy == BranchPolicy(protected_branches=True)
    assert admin.get_environment("dev") is not None
    assert admin.get_environment("gate") is None
    rulesets = {r.spec.name: r.spec for r in admin.list_rulesets()}
    assert rulesets[GATE_RULESET].required_checks == ("kargo/gate", "ci/test")
    assert rulesets[TAGS_RULESET] == RulesetSpec(
        name=TAGS_RULESET,
        target="tag",
        include=("refs/tags/kargo/freight/**",),
        block_update=True,
        block_deletion=True,
    )
    assert rulesets[LEDGER_RULESET] == RulesetSpec(
        name=LEDGER_RULESET,
        target="branch",
        include=("refs/heads/kargo/ledger",),
        block_deletion=True,
        block_force_push=True,
    )

    writes = len(_writes(github))
    code, out, _ = run(["--repo", str(tmp_path), "--output", "json", "github", "sync", "--plan"], capsys)
    assert code == 0
    data = json.loads(out)
    assert (data["mode"], data["repository"], data["changes"]) == ("plan", REPO, [])
    code, out, _ = run(["--repo", str(tmp_path), "github", "sync", "--apply"], capsys)
    assert "nothing to change" in out
    assert len(_writes(github)) == writes  # a second apply writes nothing


def test_the_created_ruleset_blocks_a_merge_missing_kargo_gate(
    github: GitHubServer, admin: GitHubClient, tmp_path: Path
) -> None:
    team = github.add_team("acme", "release")
    github.add_user("alice")
    project = load_project(write_pipeline(tmp_path, team))
    sync.apply_sync(admin, plan_sync(admin, wanted_state(project, env={})))
    _, head = seed_promotion_branch(github)
    pull = (
        raw_github(github, ADMIN_TOKEN)
        .get_repo(REPO)
        .create_pull(base="main", head="promote/dev", title="Promote f1 to prod")
    )
    admin.create_status(head, state="success", context="ci/test")
    with pytest.raises(GithubException) as refused:
        pull.merge()
    assert refused.value.status == 405
    assert "kargo/gate" in str(refused.value.data)
    admin.set_gate_status(head, state="success", description="Freight f1 is available to prod")
    assert pull.merge().merged


@pytest.fixture
def github_http(tmp_path: Path, github_contract: GitHubContract) -> Iterator[GitHubServer]:
    """The server with its repositories also served over smart HTTP, and an admin token."""
    for server in start_checked(tmp_path / "gh", github_contract, git_http=True):
        server.add_token(ADMIN_TOKEN, ADMIN_PERMISSIONS, login="admin")
        yield server


def test_the_ledger_ruleset_refuses_force_pushes_and_deletion_of_the_ledger_branch(
    github_http: GitHubServer, tmp_path: Path
) -> None:
    github_http.add_user("alice")
    project = load_project(write_pipeline(tmp_path / "p", github_http.add_team("acme", "release")))
    github_http.commit_files(REPO, "main", {"a": "1"})
    # GitHub takes force-pushes unless a rule forbids them; the test server refuses them by default.
    assert git_in(bare(github_http), "config", "receive.denyNonFastForwards", "false").returncode == 0
    work = tmp_path / "work"
    assert git_in(tmp_path, "clone", "-q", github_http.clone_url(REPO), str(work)).returncode == 0
    for n in (1, 2):
        git_in(work, "commit", "-q", "--allow-empty", "-m", f"ledger {n}")
        assert git_in(work, "push", "-q", "origin", "HEAD:refs/heads/kargo/ledger").returncode == 0
    rewind = ["push", "-q", "--force", "origin", "HEAD~1:refs/heads/kargo/ledger"]
    assert git_in(work, *rewind).returncode == 0  # without the ruleset a rewind goes through
    assert git_in(work, "push", "-q", "origin", "HEAD:refs/heads/kargo/ledger").returncode == 0

    admin = client_for(github_http, ADMIN_TOKEN)
    sync.apply_sync(admin, plan_sync(admin, wanted_state(project, env={})))
    refused = git_in(work, *rewind)
    assert refused.returncode != 0
    assert "GH013: Repository rule violations found for refs/heads/kargo/ledger" in refused.stderr
    assert "Cannot force-push to this branch" in refused.stderr
    deleted = git_in(work, "push", "-q", "origin", ":refs/heads/kargo/ledger")
    assert deleted.returncode != 0
    assert "Cannot delete this reference" in deleted.stderr
    head = git_in(work, "rev-parse", "HEAD").stdout.strip()
    assert git_in(bare(github_http), "rev-parse", "kargo/ledger").stdout.strip() == head
    git_in(work, "commit", "-q", "--allow-empty", "-m", "ledger 3")
    assert (
        git_in(work, "push", "-q", "origin", "HEAD:refs/heads/kargo/ledger").returncode == 0
    )  # fast-forward


def test_env_settings_change_is_an_update(github: GitHubServer, admin: GitHubClient, tmp_path: Path) -> None:
    team = github.add_team("acme", "release")
    github.add_user("alice")
    project = load_project(write_pipeline(tmp_path, team))
    sync.apply_sync(admin, plan_sync(admin, wanted_state(project, env={})))
    admin.put_environment("prod", admin.get_environment("dev").spec)  # type: ignore[union-attr]
    changes = plan_sync(admin, wanted_state(project, env={})).changes
    assert [(c.kind, c.name, c.action) for c in changes] == [("environment", "prod", "update")]


def test_unknown_reviewer_is_invalid_input(github: GitHubServer, admin: GitHubClient, tmp_path: Path) -> None:
    project = load_project(write_pipeline(tmp_path, team_id=5))
    from kargo_actions.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="GitHub user 'alice' does not exist"):
        plan_sync(admin, wanted_state(project, env={}))
    github.add_user("alice")
    project = load_project(write_pipeline(tmp_path / "slug", team_id="acme/no-such-team"))
    with pytest.raises(InvalidInputError, match="GitHub team 'acme/no-such-team' does not exist") as raised:
        plan_sync(admin, wanted_state(project, env={}))
    assert "team slugs are the lowercase, hyphenated names" in str(raised.value)


def test_sync_with_github_token_names_the_permission(
    github: GitHubServer,
    cli_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    github.add_user("alice")
    write_pipeline(tmp_path, github.add_team("acme", "release"))
    from tests.support.github_fixtures import TOKEN

    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)  # the Actions GITHUB_TOKEN: no administration
    code, _, err = run(["--repo", str(tmp_path), "github", "sync", "--apply"], capsys)
    assert code == 1
    assert "it needs `administration: write`" in err
    assert "GITHUB_TOKEN can never have it" in err
    assert not github.repo(REPO).environments
