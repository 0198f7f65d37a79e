"""Pull requests: open, wait, merge for real in the bare repository, and the ways a merge is refused."""

from __future__ import annotations

import pytest
from github import GithubException

from kargo_actions.github.client import GitHubClient
from kargo_actions.github.errors import GitHubTimeoutError, MergeBlockedError, PullRequestClosedError
from kargo_actions.github.models import MergeMethod, RulesetSpec
from kargo_actions.github.text import BODY_LIMIT
from tests.github.helpers import REPO, bare, git_out, raw_github, require_checks, seed_promotion_branch
from tests.support.github_fixtures import FAST, TOKEN, client_for
from tests.support.github_server import ADMIN_PERMISSIONS, GitHubServer


@pytest.mark.parametrize(("method", "parents"), [("merge", 2), ("squash", 1), ("rebase", 1)])
def test_merge_lands_in_the_bare_repository(
    github: GitHubServer, github_client: GitHubClient, method: MergeMethod, parents: int
) -> None:
    main, head = seed_promotion_branch(github)
    pr = github_client.open_pull_request(
        title="Promote v2 to dev",
        head="promote/dev",
        base="main",
        body="Freight abc",
        labels=["kargo", "dev"],
    )
    assert (pr.number, pr.head_sha, pr.base_sha, pr.labels) == (1, head, main, ("kargo", "dev"))
    github_client.set_gate_status(head, state="success", description="Freight available to dev")

    result = github_client.merge_pull_request(pr.number, method=method)

    repo = bare(github)
    assert git_out(repo, "rev-parse", "refs/heads/main") == result.sha
    assert git_out(repo, "show", "main:app.yaml") == "image: v2"
    assert len(git_out(repo, "rev-list", "--parents", "-n1", result.sha).split()) == 1 + parents
    if method == "rebase":
        assert result.sha == head
    merged = github_client.get_pull_request(pr.number)
    assert (merged.merged, merged.state, merged.merge_commit_sha) == (True, "closed", result.sha)


def test_open_again_updates_the_same_pull_request(github: GitHubServer, github_client: GitHubClient) -> None:
    seed_promotion_branch(github)
    first = github_client.open_pull_request(title="Promote v2", head="promote/dev", base="main", body="one")
    second = github_client.open_pull_request(
        title="Promote v2 (again)", head="promote/dev", base="main", body="two"
    )
    assert second.number == first.number
    assert (second.title, second.body) == ("Promote v2 (again)", "two")
    assert len(github.requests("POST", r"/pulls$")) == 1


def test_long_body_is_truncated_with_a_note(github: GitHubServer, github_client: GitHubClient) -> None:
    seed_promotion_branch(github)
    body = "\n".join(f"- line {i}: " + "x" * 60 for i in range(2000))
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main", body=body)
    assert len(pr.body) <= BODY_LIMIT < len(body)
    assert "characters left out" in pr.body


def test_merge_waits_for_the_required_check(github: GitHubServer, github_client: GitHubClient) -> None:
    _, head = seed_promotion_branch(github)
    require_checks(github, "kargo/gate")
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    assert github_client.get_pull_request(pr.number).mergeable_state == "blocked"
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 3:  # the gate opens while the client is waiting
            github_client.set_gate_status(head, state="success", description="available")

    waiting = GitHubClient.from_env(
        env={"GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO}, options=FAST
    )
    waiting._sleep = sleep
    result = waiting.merge_pull_request(pr.number, timeout=30)

    assert len(polls) >= 3
    assert git_out(bare(github), "rev-parse", "main") == result.sha
    order = [f"{e.method} {e.path}" for e in github.exchanges]
    assert order.index(f"PUT /repos/{REPO}/pulls/1/merge") > order.index(
        f"POST /repos/{REPO}/statuses/{head}"
    )
    assert len(github.requests("PUT", "/merge$")) == 1


def test_a_failing_required_check_refuses_the_merge(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    main, head = seed_promotion_branch(github)
    require_checks(github, "kargo/gate", "build")
    github.add_check_run(REPO, head, "build", conclusion="failure")
    github_client.set_gate_status(head, state="success", description="ok")
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    with pytest.raises(
        MergeBlockedError, match=r"cannot be merged: required check `build` \(failure\) failed on "
    ):
        github_client.merge_pull_request(pr.number, timeout=5)
    assert git_out(bare(github), "rev-parse", "main") == main
    assert not github.requests("PUT", "/merge$")


def test_a_check_run_counts_as_a_required_check(github: GitHubServer, github_client: GitHubClient) -> None:
    seed_promotion_branch(github)
    _, head = github.repo(REPO).default_branch, github.commit_files(REPO, "promote/dev", {"b": "1"})
    require_checks(github, "build")
    github.add_check_run(REPO, head, "build", conclusion="success")
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    assert github_client.merge_pull_request(pr.number, timeout=5).sha == git_out(
        bare(github), "rev-parse", "main"
    )


def test_a_missing_check_times_out_naming_it(github: GitHubServer, github_client: GitHubClient) -> None:
    seed_promotion_branch(github)
    require_checks(github, "kargo/gate")
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    with pytest.raises(
        GitHubTimeoutError,
        match=r"^waiting for required check `kargo/gate` \(expected\) on pull request #1 after 0.5 s$",
    ):
        github_client.merge_pull_request(pr.number, timeout=0.5)


def test_the_server_refuses_a_merge_that_skips_the_checks(github: GitHubServer) -> None:
    main, _ = seed_promotion_branch(github)
    require_checks(github, "kargo/gate")
    gh = raw_github(github, TOKEN)
    repo = gh.get_repo(REPO)
    pr = repo.create_pull(base="main", head="promote/dev", title="sneaky")
    with pytest.raises(GithubException) as raised:
        pr.merge()
    assert raised.value.status == 405
    assert 'Required status check "kargo/gate" is expected' in raised.value.data["message"]
    assert git_out(bare(github), "rev-parse", "main") == main


def test_branch_protection_required_checks_are_read_and_enforced(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    main, head = seed_promotion_branch(github)
    require_checks(github, "kargo/gate")
    github.protect_branch(REPO, "main", ["ci/test", "kargo/gate"])
    assert github_client.required_checks("main") == ("kargo/gate", "ci/test")  # rulesets first, no repeats
    pr = raw_github(github, TOKEN).get_repo(REPO).create_pull(base="main", head="promote/dev", title="sneaky")
    github_client.set_gate_status(head, state="success", description="ok")
    with pytest.raises(GithubException) as raised:
        pr.merge()
    assert raised.value.status == 405
    assert 'Required status check "ci/test" is expected' in raised.value.data["message"]
    github.add_check_run(REPO, head, "ci/test", conclusion="success")
    assert github_client.merge_pull_request(pr.number, timeout=5).sha == git_out(
        bare(github), "rev-parse", "main"
    )
    assert main != git_out(bare(github), "rev-parse", "main")


def test_conflicting_pull_request_is_not_merged(github: GitHubServer, github_client: GitHubClient) -> None:
    seed_promotion_branch(github)
    main = github.commit_files(REPO, "main", {"app.yaml": "image: hotfix\n"}, "hotfix on main")
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    with pytest.raises(MergeBlockedError, match="conflicts with main"):
        github_client.merge_pull_request(pr.number, timeout=5)
    assert git_out(bare(github), "rev-parse", "main") == main


def test_closed_without_merging_is_reported(github: GitHubServer, github_client: GitHubClient) -> None:
    seed_promotion_branch(github)
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    github_client.close_pull_request(pr.number)
    with pytest.raises(PullRequestClosedError, match=r"#1 .* closed without being merged"):
        github_client.wait_for_pull_request(pr.number, timeout=5)
    with pytest.raises(PullRequestClosedError):
        github_client.merge_pull_request(pr.number, timeout=5)


def test_wait_returns_once_merged_elsewhere(github: GitHubServer) -> None:
    seed_promotion_branch(github)
    client = client_for(github)
    pr = client.open_pull_request(title="Promote", head="promote/dev", base="main")
    merger = client_for(github)
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 2:  # someone merges it in the UI meanwhile
            merger.merge_pull_request(pr.number, timeout=5)

    client._sleep = sleep
    merged = client.wait_for_pull_request(pr.number, timeout=10)
    assert merged.merged
    assert merged.merge_commit_sha == git_out(bare(github), "rev-parse", "main")


def test_the_server_refuses_a_merge_of_a_moved_head(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    main, head = seed_promotion_branch(github)
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    github.commit_files(REPO, "promote/dev", {"late.txt": "pushed after review"})
    stale = raw_github(github, TOKEN).get_repo(REPO).get_pull(pr.number)
    with pytest.raises(GithubException) as raised:
        stale.merge(sha=head)
    assert raised.value.status == 409
    assert git_out(bare(github), "rev-parse", "main") == main


def test_a_rerun_check_counts_with_its_newest_result(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    _, head = seed_promotion_branch(github)
    require_checks(github, "build")
    github.add_check_run(REPO, head, "build", conclusion="failure")
    github.add_check_run(REPO, head, "build", conclusion="success")  # re-run
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    assert github_client.merge_pull_request(pr.number, timeout=5).sha == git_out(
        bare(github), "rev-parse", "main"
    )


def test_a_strict_ruleset_wants_the_branch_up_to_date(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    _, head = seed_promotion_branch(github)
    github.add_token("ghs_admin", ADMIN_PERMISSIONS, login="admin")
    client_for(github, "ghs_admin").create_ruleset(
        RulesetSpec(
            name="strict", include=("~DEFAULT_BRANCH",), required_checks=("kargo/gate",), strict_checks=True
        )
    )
    github_client.set_gate_status(head, state="success", description="ok")
    moved = github.commit_files(REPO, "main", {"NOTES.md": "main moved on\n"})
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    with pytest.raises(MergeBlockedError, match="not up to date with main"):
        github_client.merge_pull_request(pr.number, timeout=5)

    github_client.update_pull_request_branch(pr.number, expected_head_sha=head)
    updated = github_client.get_pull_request(pr.number)
    assert git_out(bare(github), "rev-parse", "promote/dev") == updated.head_sha != head
    assert moved in git_out(bare(github), "rev-list", "promote/dev").split()
    github_client.set_gate_status(updated.head_sha, state="success", description="checked again")
    result = github_client.merge_pull_request(pr.number, timeout=5)
    assert git_out(bare(github), "show", f"{result.sha}:NOTES.md") == "main moved on"
