"""Issue 13: a git repoURL with `user:password@` works (discovery, git-clone, git-push, git-open-pr) and the
password never leaves the process. A real smart-HTTP git server requires basic auth with the password; the
manifests carry it in repoURLs (Warehouse subscription, a Stage variable, a git-open-pr step), an environment
secret carries it bare, and the pipeline clone's remote carries it too. discover, promote, freight and
validate run through the CLI, as text and JSON, in Actions mode; then stdout, stderr, the job summary, the
step outputs, every object of the ledger branch, every Freight tag, the pushed commits and every request sent
to the GitHub test server (pull request bodies, Deployment payloads and statuses) are searched for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kargo_actions.github.output import command_outputs, write_outputs
from kargo_actions.promotion import github_reporting as reporting
from kargo_actions.promotion.steps.support import github_common
from tests.promotion.test_service import run
from tests.support.git_http_server import GitHttpServer, git, make_bare_repo, serve_git
from tests.support.github_contract import GitHubContract
from tests.support.github_fixtures import FAST, REPOSITORY, TOKEN, start_checked
from tests.support.github_fixtures import github_contract as github_contract  # the fixture
from tests.support.github_server import GitHubServer

SECRET = "hunter2-Sup3rS3cret-9f3a"
MASK_LINE = f"::add-mask::{SECRET}"


@pytest.fixture
def gh(
    tmp_path: Path, github_contract: GitHubContract, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GitHubServer]:
    """The GitHub test server with smart HTTP: acme/app is the pipeline's remote (ledger, Freight tags)."""
    monkeypatch.setattr(reporting, "CLIENT_OPTIONS", FAST)
    monkeypatch.setattr(github_common, "CLIENT_OPTIONS", FAST)
    yield from start_checked(tmp_path / "gh", github_contract, git_http=True)


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[GitHttpServer]:
    """The application's config repository behind basic auth: only SECRET as the password gets in."""
    root = tmp_path / "git"
    bare = make_bare_repo(root, "app.git")
    src = tmp_path / "app-src"
    src.mkdir()
    git(src, "init", "-q", "-b", "main")
    (src / "env").mkdir()
    (src / "env" / "values.yaml").write_text("replicas: 1\n")
    git(src, "add", ".")
    git(src, "commit", "-q", "-m", "config")
    git(src, "push", "-q", str(bare), "main")
    with serve_git(root, token=SECRET) as server:
        yield server


def with_password(url: str, user: str = "kargo") -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}:{SECRET}@{rest}"


def manifests(app_url: str) -> str:
    pr_url = f"https://x-access-token:{SECRET}@github.com/{REPOSITORY}.git"
    return f"""\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
spec:
  subscriptions:
  - git:
      repoURL: {app_url}
      branch: main
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{direct: true}}
  promotionTemplate:
    spec:
      vars:
      - name: repo
        value: {app_url}
      steps:
      - uses: git-clone
        config:
          repoURL: ${{{{ vars.repo }}}}
          checkout:
          - commit: ${{{{ commitFrom(vars.repo).ID }}}}
            path: ./src
      - uses: file-write
        config:
          path: ./src/env/promoted-${{{{ ctx.targetFreight.name }}}}.txt
          contents: "promoted ${{{{ ctx.targetFreight.name }}}}\\n"
      - uses: git-commit
        config:
          path: ./src
          message: promote
      - uses: git-push
        config:
          path: ./src
          targetBranch: stage/dev
      - uses: compose-output
        as: info
        config:
          url: ${{{{ vars.repo }}}}
          fromEnv: ${{{{ secret('git').password }}}}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: review
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{direct: true}}
  promotionTemplate:
    spec:
      steps:
      - uses: git-open-pr
        as: open-pr
        config:
          repoURL: {pr_url}
          sourceBranch: promo/review
          targetBranch: main
          description: "Promotes the config of {app_url}"
"""


def pipeline(tmp_path: Path, gh: GitHubServer, app_url: str) -> Path:
    """The pipeline repository; its origin (the GitHub server's acme/app) is written with the password."""
    repo = tmp_path / "pipeline"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".kargo").mkdir()
    (repo / ".kargo" / "pipeline.yaml").write_text(manifests(app_url))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "pipeline")
    git(repo, "remote", "add", "origin", with_password(gh.clone_url(REPOSITORY), "x-access-token"))
    git(repo, "push", "-q", "origin", "main")
    return repo


def actions_env(tmp_path: Path, gh: GitHubServer) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_API_URL": gh.url,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "4242",
        "KARGO_SECRET_GIT": json.dumps({"password": SECRET}),
    }


def action_outputs(code: int, out: str, env: dict[str, str]) -> None:
    """What the root action does with a command's JSON result: the step outputs, written to GITHUB_OUTPUT."""
    assert write_outputs(command_outputs(json.loads(out), code), env["GITHUB_OUTPUT"])


def objects_text(bare: Path, *revs: str) -> str:
    """Every object reachable from `revs` (commits, trees, blobs, tags), as git cat-file prints them."""
    listing = git(bare, "rev-list", "--objects", *revs)
    ids = "\n".join(line.split(" ", 1)[0] for line in listing.splitlines()) + "\n"
    done = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=bare, input=ids.encode(), capture_output=True, check=True
    )
    return done.stdout.decode(errors="replace")


def test_a_password_in_repo_urls_works_and_never_leaves_the_process(
    tmp_path: Path, gh: GitHubServer, app_server: GitHttpServer
) -> None:
    app_url = with_password(app_server.repo_url("app.git"))
    redacted = app_url.replace(SECRET, "***")
    repo = pipeline(tmp_path, gh, app_url)
    env = actions_env(tmp_path, gh)
    printed: list[str] = []

    def cli(*args: str, expect: int = 0) -> str:
        code, out, err = run(repo, *args, env=env)
        printed.extend([out, err])
        assert code == expect, err + out
        return out

    # validate: one warning per credential, at its line, saying how to pass it instead
    cli("validate")
    warnings = [line for line in printed[-1].splitlines() if line.startswith("warning:")]
    where = [w.split(": ")[1].rsplit("/", 1)[-1] for w in warnings]
    assert where == [
        "pipeline.yaml:8:16",
        "pipeline.yaml:23:16",
        "pipeline.yaml:63:20",
        "pipeline.yaml:66:24",
    ]
    assert all("holds a credential" in w and "credential helper or http.extraHeader" in w for w in warnings)

    # discovery through basic auth with the URL's password; the Freight recorded, its URL redacted
    out = cli("-o", "json", "discover")
    action_outputs(0, out, env)
    [created] = json.loads(out)["created"]
    head = git(app_server.root / "app.git", "rev-parse", "main").strip()
    assert created["commits"][0]["id"] == head
    assert created["commits"][0]["repoURL"] == redacted
    freight = created["metadata"]["name"]
    cli("discover")

    # promotion: git-clone of the commit and git-push through basic auth, in text and JSON
    cli("promote", "--stage", "dev", "--freight", freight)
    assert (
        git(app_server.root / "app.git", "show", f"stage/dev:env/promoted-{freight}.txt")
        == f"promoted {freight}\n"
    )
    gh.commit_files(REPOSITORY, "promo/review", {"env/review.yaml": "replicas: 2\n"})
    out = cli("-o", "json", "promote", "--stage", "review", "--freight", freight)
    action_outputs(0, out, env)
    [result] = json.loads(out)
    assert result["phase"] == "Succeeded", result
    cli("history", "--stage", "dev")
    history = json.loads(cli("-o", "json", "history", "--stage", "dev"))
    assert history[0]["outputs"]["info"] == {"url": redacted, "fromEnv": "***"}
    assert history[0]["steps"][0]["message"] == f"cloned {redacted} into 1 work tree(s)"

    # the ledger and the tags still work: list, show, verify, and a discovery that finds nothing new
    cli("freight", "list")
    shown = json.loads(cli("-o", "json", "freight", "show", freight))
    assert shown["commits"][0]["repoURL"] == redacted
    cli("freight", "verify", "--sign", "never")  # the tag, the record and the ID agree
    again = json.loads(cli("-o", "json", "discover"))
    assert again["created"] == []

    # a new commit, discovered and promoted by the console entry point in its own process: what git and the
    # process itself write to the file descriptors is searched too, a --debug run included
    work = tmp_path / "app-work"
    git(tmp_path, "clone", "-q", str(app_server.root / "app.git"), str(work))
    (work / "env" / "values.yaml").write_text("replicas: 3\n")
    git(work, "commit", "-q", "-am", "more replicas")
    git(work, "push", "-q", "origin", "main")
    for args in (("discover",), ("--debug", "promote", "--stage", "dev", "--warehouse", "app")):
        done = subprocess.run(
            [sys.executable, "-m", "kargo_actions", "--repo", str(repo), *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        printed.extend([done.stdout, done.stderr])
    newest = json.loads(cli("-o", "json", "history", "--stage", "dev"))[0]["freight"]["name"]
    assert newest != freight
    assert (
        git(app_server.root / "app.git", "show", f"stage/dev:env/promoted-{newest}.txt")
        == f"promoted {newest}\n"
    )

    # nothing printed or recorded holds the password; only the runner's own mask commands name it
    assert any(MASK_LINE in text for text in printed)
    for text in printed:
        assert SECRET not in "\n".join(line for line in text.splitlines() if line != MASK_LINE)
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "app.git" in summary
    assert SECRET not in summary
    outputs = Path(env["GITHUB_OUTPUT"]).read_text()
    assert freight in outputs
    assert SECRET not in outputs
    remote = gh.repo(REPOSITORY).path
    ledger = objects_text(remote, "refs/heads/kargo/ledger")
    assert freight in ledger
    assert "***" in ledger
    assert SECRET not in ledger
    tags = git(remote, "for-each-ref", "--format=%(objectname)", "refs/tags/")
    assert tags.strip()
    for tag in tags.split():
        text = git(remote, "cat-file", "tag", tag)
        assert "***" in text
        assert SECRET not in text
    assert SECRET not in objects_text(app_server.root / "app.git", "stage/dev")
    sent = [e.request_body.decode(errors="replace") for e in gh.exchanges]
    assert any('"body"' in body for body in sent)  # the pull request
    assert any('"payload"' in body for body in sent)  # the Deployments
    assert all(SECRET not in body for body in sent)
    # and the password did its job: the git server saw it, over basic auth
    assert any(h.lower().startswith("basic ") for h in app_server.auth_headers)
