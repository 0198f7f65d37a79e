"""Environments (reviewers, wait timer, branch policies) and rulesets: idempotent writes, enforcement."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from github import GithubException

from kargo_actions.github.client import GitHubClient
from kargo_actions.github.errors import GitHubPermissionError, GitHubValidationError
from kargo_actions.github.models import BranchPattern, BranchPolicy, EnvironmentSpec, Reviewer, RulesetSpec
from tests.github.helpers import ADMIN_TOKEN, REPO, bare, git_out, raw_github
from tests.support.github_contract import GitHubContract
from tests.support.github_fixtures import client_for, start_checked
from tests.support.github_server import ADMIN_PERMISSIONS, GitHubServer


@pytest.fixture
def admin(github: GitHubServer) -> GitHubClient:
    github.add_token(ADMIN_TOKEN, ADMIN_PERMISSIONS, login="admin")
    return client_for(github, ADMIN_TOKEN)


def test_environment_create_then_update_is_idempotent(github: GitHubServer, admin: GitHubClient) -> None:
    alice, bob = github.add_user("alice"), github.add_user("bob")
    assert admin.user_id("alice") == alice
    team = github.add_team("acme", "release-managers")
    spec = EnvironmentSpec(
        wait_timer=30,
        reviewers=(Reviewer("User", alice), Reviewer("Team", team)),
        prevent_self_review=True,
        branch_policy=BranchPolicy(patterns=(BranchPattern("main"), BranchPattern("freight/*", "tag"))),
    )
    assert admin.get_environment("prod") is None
    created = admin.put_environment("prod", spec)
    assert created.spec == spec
    again = admin.put_environment("prod", spec)
    assert (again.id, again.spec) == (created.id, spec)
    assert len(github.requests("POST", "deployment-branch-policies$")) == 2  # not re-created

    changed = EnvironmentSpec(
        reviewers=(Reviewer("User", bob),), branch_policy=BranchPolicy(patterns=(BranchPattern("main"),))
    )
    updated = admin.put_environment("prod", changed)
    assert (updated.id, updated.spec) == (created.id, changed)
    assert len(github.requests("DELETE", "deployment-branch-policies/")) == 1

    protected = EnvironmentSpec(branch_policy=BranchPolicy(protected_branches=True))
    assert admin.put_environment("prod", protected).spec == protected
    assert admin.put_environment("prod", EnvironmentSpec()).spec == EnvironmentSpec()


def test_unknown_reviewer_is_refused(admin: GitHubClient) -> None:
    with pytest.raises(GitHubValidationError, match="reviewer User 999999 does not exist"):
        admin.put_environment("dev", EnvironmentSpec(reviewers=(Reviewer("User", 999999),)))


def test_github_token_cannot_write_environments_or_rulesets(github_client: GitHubClient) -> None:
    for call in (
        lambda: github_client.put_environment("dev", EnvironmentSpec()),
        lambda: github_client.create_ruleset(RulesetSpec(name="x")),
    ):
        with pytest.raises(GitHubPermissionError) as raised:
            call()
        message = str(raised.value)
        assert "it needs `administration: write`" in message
        assert "GITHUB_TOKEN can never have it" in message


def test_apply_ruleset_creates_updates_and_skips_when_equal(
    github: GitHubServer, admin: GitHubClient
) -> None:
    spec = RulesetSpec(
        name="kargo gate", include=("refs/heads/main", "refs/heads/env/*"), required_checks=("kargo/gate",)
    )
    created, changed = admin.apply_ruleset(spec)
    assert changed
    assert created.spec == spec
    same, changed = admin.apply_ruleset(spec)
    assert (same.id, changed) == (created.id, False)
    assert not github.requests("PUT", "/rulesets/")
    stricter = RulesetSpec(
        name="kargo gate",
        include=("refs/heads/main", "refs/heads/env/*"),
        required_checks=("kargo/gate", "build"),
        strict_checks=True,
    )
    updated, changed = admin.apply_ruleset(stricter)
    assert changed
    assert (updated.id, updated.spec) == (created.id, stricter)
    assert [r.spec for r in admin.list_rulesets()] == [stricter]
    assert admin.required_checks("main") == ("kargo/gate", "build")
    assert admin.required_checks("env/prod") == ("kargo/gate", "build")
    assert admin.required_checks("feature") == ()
    disabled = RulesetSpec(**{**stricter.__dict__, "enforcement": "disabled"})
    admin.apply_ruleset(disabled)
    assert admin.required_checks("main") == ()


FREIGHT_TAGS = RulesetSpec(
    name="freight tags",
    target="tag",
    include=("refs/tags/freight/**",),
    block_update=True,
    block_deletion=True,
)


def test_tag_ruleset_protects_freight_tags_through_the_api(github: GitHubServer, admin: GitHubClient) -> None:
    first = github.commit_files(REPO, "main", {"a": "1"})
    second = github.commit_files(REPO, "main", {"a": "2"})
    admin.apply_ruleset(FREIGHT_TAGS)
    repo = raw_github(github, ADMIN_TOKEN).get_repo(REPO)
    tag = repo.create_git_ref("refs/tags/freight/f1", first)  # creating is allowed
    for change in (lambda: tag.edit(sha=second, force=True), tag.delete):
        with pytest.raises(GithubException) as raised:
            change()
        assert raised.value.status == 422
        assert "Repository rule violations found for refs/tags/freight/f1" in raised.value.data["message"]
    assert git_out(bare(github), "rev-parse", "refs/tags/freight/f1") == first


def test_pushes_over_smart_http_obey_rulesets_and_refuse_non_fast_forwards(
    tmp_path: Path, github_contract: GitHubContract
) -> None:
    server_gen = start_checked(tmp_path / "gh", github_contract, git_http=True)
    github = next(server_gen)
    try:
        github.add_token(ADMIN_TOKEN, ADMIN_PERMISSIONS, login="admin")
        first = github.commit_files(REPO, "main", {"a": "1"})
        client_for(github, ADMIN_TOKEN).apply_ruleset(FREIGHT_TAGS)
        work = tmp_path / "work"

        def run(*args):
            return subprocess.run(["git", *args], cwd=work, capture_output=True, text=True, check=False)

        subprocess.run(
            ["git", "clone", "-q", github.clone_url(REPO), str(work)], check=True, capture_output=True
        )
        (work / "a").write_text("2")
        assert run("commit", "-qam", "second").returncode == 0
        assert run("tag", "freight/f1").returncode == 0
        assert run("push", "-q", "origin", "main", "freight/f1").returncode == 0  # creating a tag is allowed

        moved = run("tag", "-f", "freight/f1", first)
        assert moved.returncode == 0
        refused = run("push", "-q", "--force", "origin", "freight/f1")
        assert refused.returncode != 0
        assert "GH013" in refused.stderr
        deleted = run("push", "-q", "origin", ":refs/tags/freight/f1")
        assert deleted.returncode != 0
        assert "Cannot delete this reference" in deleted.stderr

        assert run("reset", "-q", "--hard", first).returncode == 0
        (work / "b").write_text("other")
        run("add", "b")
        run("commit", "-qm", "diverged")
        forced = run("push", "-q", "--force", "origin", "main")
        assert forced.returncode != 0
        assert git_out(bare(github), "show", "main:a") == "2"
    finally:
        next(server_gen, None)


def test_a_push_to_a_branch_that_requires_checks_needs_them_passing(
    tmp_path: Path, github_contract: GitHubContract
) -> None:
    server_gen = start_checked(tmp_path / "gh", github_contract, git_http=True)
    github = next(server_gen)
    try:
        github.add_token(ADMIN_TOKEN, ADMIN_PERMISSIONS, login="admin")
        github.commit_files(REPO, "main", {"a": "1"})
        admin = client_for(github, ADMIN_TOKEN)
        admin.apply_ruleset(
            RulesetSpec(name="gate", include=("refs/heads/main",), required_checks=("kargo/gate",))
        )
        work = tmp_path / "work"
        subprocess.run(
            ["git", "clone", "-q", github.clone_url(REPO), str(work)], check=True, capture_output=True
        )
        (work / "a").write_text("2")
        subprocess.run(["git", "commit", "-qam", "direct"], cwd=work, check=True)
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True, check=True
        ).stdout.strip()
        push = ["git", "push", "-q", "origin", "main"]
        refused = subprocess.run(push, cwd=work, capture_output=True, text=True, check=False)
        assert refused.returncode != 0
        assert 'Required status check "kargo/gate" is expected' in refused.stderr

        # the commit is not on GitHub yet, so its status goes in through a side branch first
        subprocess.run(
            ["git", "push", "-q", "origin", "HEAD:refs/heads/side"], cwd=work, check=True, capture_output=True
        )
        admin.set_gate_status(sha, state="success", description="ok")
        subprocess.run(push, cwd=work, check=True, capture_output=True)
        assert git_out(bare(github), "rev-parse", "main") == sha
    finally:
        next(server_gen, None)
