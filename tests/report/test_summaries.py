"""Job summaries: promote writes the pipeline in Mermaid (each Stage's Freight, the promoted Stage green, a
failed one red), what changed with registry and compare links, the steps with timings; any summary stays
under GitHub's 1 MiB with a note where it was cut; a pull request a step opened is linked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kargo_actions.ledger import Ledger
from kargo_actions.manifests import load_project
from kargo_actions.promotion.result import StepRun
from kargo_actions.promotion.step_api import StepStatus, WaitingOn
from kargo_actions.report.summaries import SUMMARY_LIMIT, fit_summary, pull_request_url, simple_summary
from tests.ledger.helpers import make_repo
from tests.report.test_dashboard import MANIFESTS, run, shop_freight


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("summaries")
    repo = make_repo(tmp / "repo", tmp / "remote.git")
    (repo / ".kargo").mkdir()
    for i, doc in enumerate(MANIFESTS):
        (repo / ".kargo" / f"{i:02d}.yaml").write_text(json.dumps(doc))
    with Ledger(repo) as ledger:
        for n in (1, 2):
            ledger.record_freight(shop_freight(n))
    code, out, err = run(repo, "promote", "--stage", "dev", "--freight", "shop-1", "-q")
    assert code == 0, out + err
    return repo


def promote_with_summary(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str]:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _out, err = run(repo, "promote", *args, "-q")
    assert "warning: job summary" not in err
    return code, summary.read_text()


def test_promote_summary_draws_the_pipeline_and_what_changed(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, text = promote_with_summary(repo, tmp_path, monkeypatch, "--stage", "dev", "--freight", "shop-2")
    assert code == 0
    assert text.startswith("### kargo-actions promotions")
    mermaid = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert mermaid is not None
    chart = mermaid.group(1)
    assert chart.startswith("flowchart LR")
    assert 'st_dev["dev<br/>shop-2"]' in chart  # the Stage with its Freight after the promotion
    assert 'st_prod["prod<br/>no Freight"]' in chart
    assert "classDef promoted" in chart
    assert "class st_dev promoted" in chart
    assert "failed" not in chart
    assert "#### dev: Succeeded" in text
    assert "**What changed** (from `shop-1`)" in text
    one, two = shop_freight(1), shop_freight(2)
    # the image's tags link to the registry's page; the commits to their compare view
    assert "[`1.0.2` (`000000000000`)](https://ghcr.io/example/shop)" in text
    assert "[`1.0.1` (`000000000000`)](https://ghcr.io/example/shop)" in text
    compare = f"https://github.com/example/shop/compare/{one.commits[0].id}...{two.commits[0].id}"
    assert compare in text
    assert re.search(r"\| out \| `compose-output` \| Succeeded \| \d+\.\d\ds \|", text)
    assert len(text.encode()) < SUMMARY_LIMIT


def test_a_failed_promotion_is_red(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, text = promote_with_summary(repo, tmp_path, monkeypatch, "--stage", "broken", "--freight", "shop-1")
    assert code == 1
    assert "class st_broken failed" in text
    assert "classDef failed fill:#fce8e6" in text
    assert "#### broken: Failed" in text
    assert "broken on purpose" in text
    assert "| step-1 | `fail` | Failed | " in text


def test_verify_and_discover_summaries_highlight_what_they_touched(repo: Path) -> None:
    project = load_project(repo / ".kargo")
    with Ledger(repo) as ledger:
        states = {s.stage: s for s in ledger.snapshot().stage_states().records}
    text = simple_summary(project, states, "### table\n", failed=["staging"], warehouses=["shop"])
    assert text.startswith("### table")
    assert "class st_staging failed" in text
    assert "class wh_shop promoted" in text  # the Warehouse that made new Freight


def test_a_huge_summary_is_cut_with_a_note() -> None:
    table = "### kargo-actions promotions\n"
    diff = "```diff\n" + "".join(f"+line {i} " + "x" * 100 + "\n" for i in range(20_000)) + "```\n"
    text = fit_summary([table, diff, "#### after"])
    size = len(text.encode())
    assert SUMMARY_LIMIT - 2000 < size <= SUMMARY_LIMIT
    assert text.startswith(table)
    assert "cut to stay within GitHub's 1 MiB job summary limit" in text
    body = text.split("> [!NOTE]")[0]
    assert body.count("```") % 2 == 0  # the cut code block is closed
    assert "#### after" not in text
    small = fit_summary([table, "short"])
    assert small == table + "\nshort"


def test_the_pull_request_is_linked() -> None:
    opened = StepRun(
        alias="open",
        uses="git-open-pr",
        status=StepStatus.SUCCEEDED,
        outputs={"pr": {"url": "https://x/pull/7"}},
    )
    waiting = StepRun(
        alias="wait",
        uses="git-wait-for-pr",
        status=StepStatus.RUNNING,
        waiting=WaitingOn(kind="pull-request", description="PR #8", url="https://x/pull/8"),
    )
    assert pull_request_url([opened]) == "https://x/pull/7"
    assert pull_request_url([waiting]) == "https://x/pull/8"
    assert pull_request_url([]) == ""
