"""Pinned `uses:` in the generated workflows (issue 14): the default pins the installed release's commit (or
a development checkout's HEAD) and zizmor `--offline` finds nothing on kargo-advanced's workflows; `--uses`
takes a commit or ./PATH, a tag only with --allow-unpinned; a Dependabot bump of a pin passes `--check`
and survives regeneration, while other edits are still refused."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kargo_actions import version
from kargo_actions.github import workflows
from tests.conftest import shared_path
from tests.github.test_workflows_gen import PINNED
from tests.ledger.helpers import make_repo
from tests.promotion.test_service import manifests, run, write
from tests.support.workflow_tools import tool

REPO = "kargo-actions/kargo-actions"
SHA = PINNED.split("@")[1]
BUMPED = "fedcba9876543210" * 2 + "fedcba98"
CHECKOUT_BUMP = "1111111111111111111111111111111111111111"
_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s+(\S+)(.*)$", re.MULTILINE)


def _pipeline(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    write(repo, manifests(policies=[{"stage": "dev", "autoPromotionEnabled": True}]))
    return repo


def _uses(path: Path) -> list[str]:
    """Every `uses:` value of a workflow file, with its comment."""
    return [(m.group(1) + m.group(2)).strip() for m in _USES_LINE.finditer(path.read_text())]


def _promote(repo: Path) -> Path:
    return repo / ".github" / "workflows" / "kargo-promote.yml"


@pytest.mark.parametrize(
    ("uses", "why"),
    [
        (f"{REPO}@v1", "not pinned to a commit: a tag or branch can be moved"),
        (f"{REPO}@main", "not pinned to a commit"),
        (f"{REPO}@{SHA[:12]}", "not pinned to a commit"),  # a short commit is resolved like a tag
        (f"{REPO}@{SHA.upper()}", "not pinned to a commit"),
        ("kargo-actions@" + SHA, "is not OWNER/REPO@<commit> or ./PATH"),
        (f"{REPO}/actions/setup@{SHA}", "is not OWNER/REPO@<commit> or ./PATH"),
        ("actions", "is not OWNER/REPO@<commit> or ./PATH"),
    ],
)
def test_uses_that_is_not_a_commit_or_a_path_is_bad_input(tmp_path: Path, uses: str, why: str) -> None:
    repo = _pipeline(tmp_path)
    code, _, err = run(repo, "workflows", "generate", "--uses", uses)
    assert code == 2
    assert why in err
    assert "--uses" in err
    assert "Traceback" not in err
    assert not (repo / ".github").exists()  # nothing half-written


def test_a_tag_needs_allow_unpinned_and_is_warned_about(tmp_path: Path) -> None:
    repo = _pipeline(tmp_path)
    code, _, err = run(repo, "workflows", "generate", "--uses", f"{REPO}@v1")
    assert code == 2
    assert "--allow-unpinned" in err
    code, _, err = run(repo, "workflows", "generate", "--uses", f"{REPO}@v1", "--allow-unpinned")
    assert code == 0, err
    assert "warning:" in err
    assert "zizmor will flag" in err
    assert f"{REPO}/actions/promote@v1" in _uses(_promote(repo))
    # the environment variable is checked the same way, and named
    code, _, err = run(repo, "workflows", "generate", env={"KARGO_ACTIONS_USES": f"{REPO}@v2"})
    assert code == 2
    assert "KARGO_ACTIONS_USES" in err


def test_a_pinned_uses_keeps_its_comment_and_a_path_is_taken_as_is(tmp_path: Path) -> None:
    repo = _pipeline(tmp_path)
    code, _, err = run(repo, "workflows", "generate", "--uses", f"{REPO}@{SHA}   #  v1.4.2")
    assert code == 0, err
    assert err == ""
    assert f"{REPO}/actions/promote@{SHA} # v1.4.2" in _uses(_promote(repo))
    assert run(repo, "workflows", "generate", "--uses", "./vendor/kargo-actions")[0] == 0
    assert "./vendor/kargo-actions/actions/promote" in _uses(_promote(repo))


def test_the_default_pins_this_development_checkouts_head_and_says_so(tmp_path: Path) -> None:
    head = version.checkout_head()
    if head is None:
        pytest.skip("not running from a development checkout")
    repo = _pipeline(tmp_path)
    code, _, err = run(repo, "workflows", "generate")
    assert code == 0, err
    assert f"development checkout's HEAD {head[:12]}" in err
    assert f"{REPO}/actions/promote@{head} # v{version.version()}" in _uses(_promote(repo))


def test_the_default_pins_the_release_commit_recorded_at_build_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed release (its build-time facts stood in for: building a wheel is the packaging tests'
    work) pins its own commit with its version, silently."""
    monkeypatch.setattr(version, "version", lambda: "1.4.2")
    monkeypatch.setattr(version, "is_release", lambda: True)
    monkeypatch.setattr(version, "build_commit", lambda: BUMPED)
    repo = _pipeline(tmp_path)
    code, _, err = run(repo, "workflows", "generate")
    assert code == 0, err
    assert err == ""
    assert f"{REPO}/actions/promote@{BUMPED} # v1.4.2" in _uses(_promote(repo))

    # neither a build commit nor a checkout: exit 2 naming --uses, nothing written
    monkeypatch.setattr(version, "build_commit", lambda: None)
    monkeypatch.setattr(version, "checkout_head", lambda start=None: None)
    other = make_repo(tmp_path / "other", tmp_path / "other.git")
    write(other, manifests())
    code, _, err = run(other, "workflows", "generate")
    assert code == 2
    assert "no commit to pin" in err
    assert "--uses" in err
    assert not (other / ".github").exists()


@pytest.mark.parametrize("dashboard", [False, True], ids=["plain", "dashboard"])
def test_zizmor_finds_nothing_on_the_default_output_for_kargo_advanced(
    tmp_path: Path, dashboard: bool
) -> None:
    source = shared_path("kargo-examples", "kargo-advanced", "kargo")
    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    shutil.copytree(source, repo / ".kargo")
    args = ["workflows", "generate", "--repository-url", "", *(["--dashboard"] if dashboard else [])]
    code, _, err = run(repo, *args)
    assert code == 0, err
    folder = repo / ".github" / "workflows"
    for path in folder.glob("*.yml"):
        for uses in _uses(path):
            if not uses.startswith("./"):
                assert re.match(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\S+", uses), (path.name, uses)
    zizmor = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--no-exit-codes", "--format", "plain", str(folder)],
        capture_output=True,
        text=True,
    )
    assert zizmor.returncode == 0, zizmor.stderr
    assert "No findings to report" in zizmor.stdout, zizmor.stdout


def _bump(path: Path, sha: str, comment: str) -> str:
    """What Dependabot does: every kargo-actions pin moves to another commit, its comment to its tag; and
    actions/checkout is bumped too."""
    text = re.sub(
        rf"(uses: {REPO}(?:/actions/[\w/-]+)?)@[0-9a-f]{{40}} # \S+",
        rf"\1@{sha} # {comment}",
        path.read_text(),
    )
    text = re.sub(r"(uses: actions/checkout)@[0-9a-f]{40} # \S+", rf"\1@{CHECKOUT_BUMP} # v99.0.0", text)
    path.write_text(text)
    return text


def test_a_dependabot_bump_passes_check_and_survives_regeneration(tmp_path: Path) -> None:
    repo = _pipeline(tmp_path)
    assert run(repo, "workflows", "generate")[0] == 0
    path = _promote(repo)
    bumped = _bump(path, BUMPED, "v99.1.0")
    assert f"{REPO}/actions/promote@{BUMPED} # v99.1.0" in _uses(path)

    code, out, err = run(repo, "workflows", "generate", "--check")
    assert code == 0, out + err
    assert f"unchanged {path}" in out
    code, out, err = run(repo, "workflows", "generate")
    assert code == 0, err
    assert path.read_text() == bumped  # not reverted, not refused

    # a regeneration that changes the file (a Stage more) keeps the bumped pins too, and says so
    docs = manifests(policies=[{"stage": "dev", "autoPromotionEnabled": True}])
    (repo / ".kargo" / "qa.yaml").write_text(json.dumps({**docs[2], "metadata": {"name": "qa"}}))
    code, out, err = run(repo, "workflows", "generate")
    assert code == 0, err
    assert f"wrote {path}" in out
    assert "note: kept" in err
    assert f"{REPO}@{BUMPED} # v99.1.0" in err
    text = path.read_text()
    assert '- "qa"' in text
    assert f"{REPO}/actions/promote@{BUMPED} # v99.1.0" in _uses(path)
    assert f"actions/checkout@{CHECKOUT_BUMP} # v99.0.0" in _uses(path)
    assert not re.search(r"@(?!" + BUMPED + "|" + CHECKOUT_BUMP + r")[0-9a-f]{40}", text.split("jobs:")[1])

    # --uses names the pin: it replaces kargo-actions' pins (not the bumped checkout)
    code, out, err = run(repo, "workflows", "generate", "--uses", f"{PINNED} # v1.0.0")
    assert code == 0, err
    assert f"{REPO}/actions/promote@{SHA} # v1.0.0" in _uses(path)
    assert f"actions/checkout@{CHECKOUT_BUMP} # v99.0.0" in _uses(path)


def test_a_pin_older_than_this_versions_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Installing a newer release and regenerating moves the pins forward (the release stood in for)."""
    monkeypatch.setattr(version, "version", lambda: "1.4.2")
    monkeypatch.setattr(version, "is_release", lambda: True)
    monkeypatch.setattr(version, "build_commit", lambda: SHA)
    repo = _pipeline(tmp_path)
    assert run(repo, "workflows", "generate")[0] == 0
    path = _promote(repo)
    generated = path.read_text()
    _bump(path, BUMPED, "v1.3.9")
    code, out, err = run(repo, "workflows", "generate", "--check")
    assert (code, "edited" in err) == (1, False), err  # stale (older than this version), not an edit
    assert f"stale {path}" in out
    code, _, err = run(repo, "workflows", "generate")
    assert code == 0, err
    assert f"{REPO}/actions/promote@{SHA} # v1.4.2" in _uses(path)  # the older kargo-actions pin goes
    assert f"actions/checkout@{CHECKOUT_BUMP} # v99.0.0" in _uses(path)  # the newer checkout stays
    assert path.read_text() != generated


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (f"uses: {REPO}/actions/promote@", "uses: evil/kargo-actions/actions/promote@"),  # another action
        ("uses: actions/checkout@", "uses: actions/checkout-fork@"),
        ("timeout-minutes: 60", "timeout-minutes: 90"),
        ("          fetch-depth: 0", "          fetch-depth: 1"),
    ],
)
def test_other_hand_edits_are_still_caught(tmp_path: Path, old: str, new: str) -> None:
    repo = _pipeline(tmp_path)
    assert run(repo, "workflows", "generate")[0] == 0
    path = _promote(repo)
    _bump(path, BUMPED, "v99.1.0")
    edited = path.read_text().replace(old, new, 1)
    assert edited != path.read_text()
    path.write_text(edited)
    code, _, err = run(repo, "workflows", "generate", "--check")
    assert code == 2
    assert "edited outside" in err
    assert path.read_text() == edited


def test_files_sealed_by_earlier_releases_are_still_recognised() -> None:
    """Before pins were left out, the digest covered them: such a file is not refused as edited."""
    generated = "\n".join(
        [
            *workflows.header(".kargo", "test"),
            "jobs:",
            "  a:",
            "    steps:",
            f"      - uses: {REPO}/actions/setup@{SHA} # v0.1.0",
        ]
    )
    legacy = workflows._DIGEST.sub(
        f"# kargo-actions digest: {workflows._digest(generated)}", generated, count=1
    )
    assert workflows.merge(legacy, workflows.seal(generated)).problem == ""
    assert workflows.merge(legacy.replace("    steps:", "    steps: # mine"), generated).problem != ""
