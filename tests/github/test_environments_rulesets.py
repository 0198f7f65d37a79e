"""Environments (reviewers, wait timer, branch policies) and rulesets: idempotent writes, enforcement."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from github import GithubException

from kargo_actions.github.client import GitHubClient
from kargo_actions.github.errors import GitHubPermissionError, GitHubValidationError
from kargo_actions.github.models import BranchPattern, BranchPolicy, EnvironmentSpec, Reviewer, RulesetSpec
from tests.github.helpers import ADMIN_TOKEN, REPO, bare, git_in, git_out, raw_github
from tests.support.github_contract import GitHubContract
from tests.support.github_fixtures import client_for, start_checked
from tests.support.github_server import ADMIN_PERMISSIONS, GitHubServer


@pytest.fixture
def github_http(tmp_path: Path, github_contract: GitHubContract) -> Iterator[GitHubServer]:
    """The server with its repositories also served over smart HTTP, and an admin token."""
    for server in start_checked(tmp_path / "gh", github_contract, git_http=True):
        server.add_token(ADMIN_TOKEN, ADMIN_PERMISSIONS, login="admin")
        yield server


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
    changes: list[Callable[[], object]] = [lambda: tag.edit(sha=second, force=True), tag.delete]
    for change in changes:
        with pytest.raises(GithubException) as raised:
            change()
        assert raised.value.status == 422
        assert "Repository rule violations found for refs/tags/freight/f1" in raised.value.data["message"]
    assert git_out(bare(github), "rev-parse", "refs/tags/freight/f1") == first


def test_pushes_over_smart_http_obey_rulesets_and_refuse_non_fast_forwards(
    github_http: GitHubServer, tmp_path: Path
) -> None:
    first = github_http.commit_files(REPO, "main", {"a": "1"})
    client_for(github_http, ADMIN_TOKEN).apply_ruleset(FREIGHT_TAGS)
    work = tmp_path / "work"
    assert git_in(tmp_path, "clone", "-q", github_http.clone_url(REPO), str(work)).returncode == 0
    (work / "a").write_text("2")
    assert git_in(work, "commit", "-qam", "second").returncode == 0
    assert git_in(work, "tag", "freight/f1").returncode == 0
    assert (
        git_in(work, "push", "-q", "origin", "main", "freight/f1").returncode == 0
    )  # creating a tag is allowed

    assert git_in(work, "tag", "-f", "freight/f1", first).returncode == 0
    refused = git_in(work, "push", "-q", "--force", "origin", "freight/f1")
    assert refused.returncode != 0
    assert "GH013: Repository rule violations found for refs/tags/freight/f1" in refused.stderr
    deleted = git_in(work, "push", "-q", "origin", ":refs/tags/freight/f1")
    assert deleted.returncode != 0
    assert "Cannot delete this reference" in deleted.stderr

    assert git_in(work, "reset", "-q", "--hard", first).returncode == 0
    (work / "b").write_text("other")
    git_in(work, "add", "b")
    git_in(work, "commit", "-qm", "diverged")
    assert git_in(work, "push", "-q", "--force", "origin", "main").returncode != 0
    assert git_out(bare(github_http), "show", "main:a") == "2"


def test_a_push_to_a_branch_that_requires_checks_needs_them_passing(
    github_http: GitHubServer, tmp_path: Path
) -> None:
    github_http.commit_files(REPO, "main", {"a": "1"})
    admin = client_for(github_http, ADMIN_TOKEN)
    admin.apply_ruleset(
        RulesetSpec(name="gate", include=("refs/heads/main",), required_checks=("kargo/gate",))
    )
    work = tmp_path / "work"
    assert git_in(tmp_path, "clone", "-q", github_http.clone_url(REPO), str(work)).returncode == 0
    (work / "a").write_text("2")
    assert git_in(work, "commit", "-qam", "direct").returncode == 0
    sha = git_in(work, "rev-parse", "HEAD").stdout.strip()
    refused = git_in(work, "push", "-q", "origin", "main")
    assert refused.returncode != 0
    assert 'Required status check "kargo/gate" is expected' in refused.stderr

    # the commit is not on GitHub yet, so it goes up on a side branch before its status can be posted
    assert git_in(work, "push", "-q", "origin", "HEAD:refs/heads/side").returncode == 0
    admin.set_gate_status(sha, state="success", description="ok")
    assert git_in(work, "push", "-q", "origin", "main").returncode == 0
    assert git_out(bare(github_http), "rev-parse", "main") == sha
