"""`kargo-actions status` as text: one head line per Stage and indented detail lines, within the terminal's
width (80 columns when piped), a legend for its markers; a failed re-verification shows beside Verified."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ledger.helpers import make_repo
from tests.promotion.test_service import manifests, record, run, write
from tests.verification.servers import Answer, Script, serve
from tests.verification.test_cli import pipeline


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", tmp_path / "remote.git")


@pytest.fixture
def health() -> Iterator[tuple[Script, str]]:
    script = Script(answers={"/health": [Answer(body={"ok": True})]})
    with serve(script) as url:
        yield script, url


def _stage_block(out: str, stage: str) -> list[str]:
    """The head line of `stage` and its indented detail lines."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [stage])
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line)
    return block


@pytest.mark.parametrize("columns", ["80", "60", "120"])
def test_status_fits_the_width_with_a_line_per_stage_and_a_legend(repo: Path, columns: str) -> None:
    write(repo, manifests([{"stageSelector": {"name": "staging"}, "autoPromotionEnabled": True}]))
    f1 = record(repo, 1, 1)
    record(repo, 2, 2)
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")[0] == 0
    assert run(repo, "promote", "--stage", "staging", "--freight", "f-1", "-q")[0] == 0
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-2", "-q")[0] == 0
    code, out, err = run(repo, "status", env={"COLUMNS": columns})
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= int(columns), out
    assert lines[0].split() == ["STAGE", "FREIGHT", "VERIFIED", "MODE"]
    heads = [line.split()[0] for line in lines[1:] if line and not line.startswith(" ")]
    assert heads[:4] == ["broken", "dev", "staging", "prod"]
    staging = _stage_block(out, "staging")
    assert staging[0].split() == ["staging", "f-1", f1[:12], "*", "yes", "auto"]
    details = " ".join(" ".join(staging[1:]).split())
    assert "artifacts ghcr.io/example/app:1.0.1" in details
    assert "promoted Succeeded" in details
    assert "available f-2" in details
    legend = lines[lines.index("Legend:") + 1 :]
    assert legend[0].startswith("  * after FREIGHT: a newer Freight is available"), legend
    assert not any("! after VERIFIED" in line for line in legend)  # only the markers that appear


def test_a_failed_reverification_shows_beside_verified(repo: Path, health: tuple[Script, str]) -> None:
    script, url = health
    write(repo, pipeline(url))
    f1 = record(repo, 1, 1)
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")[0] == 0
    script.answers["/health"] = [Answer(body={"ok": False})]
    assert run(repo, "verify", "--stage", "dev", "-q")[0] == 1
    code, out, err = run(repo, "-o", "json", "status")
    assert code == 0, err
    dev = {s["stage"]: s for s in json.loads(out)}["dev"]
    assert dev["verified"] is True  # Kargo's rule: once verified there, the Freight stays verified
    assert (dev["lastVerification"]["phase"], dev["lastVerification"]["freight"]) == ("Failed", f1)
    code, out, err = run(repo, "status", env={"COLUMNS": "80"})
    assert code == 0, err
    block = _stage_block(out, "dev")
    assert block[0].split()[3:5] == ["yes", "!"]
    assert any(line.split()[:2] == ["verification", "Failed"] for line in block[1:]), block
    assert any("! after VERIFIED: the latest verification" in line for line in out.splitlines())
    script.answers["/health"] = [Answer(body={"ok": True})]
    assert run(repo, "verify", "--stage", "dev", "-q")[0] == 0
    code, out, _ = run(repo, "status", env={"COLUMNS": "80"})
    assert _stage_block(out, "dev")[0].split()[3:] == ["yes", "manual"]
    assert "verification" not in " ".join(_stage_block(out, "dev"))


def test_history_of_an_unknown_stage_is_bad_input_with_did_you_mean(repo: Path) -> None:
    write(repo, manifests())
    record(repo, 1, 1)
    code, out, err = run(repo, "history", "--stage", "stagin")
    assert (code, out) == (2, "")
    assert "error: --stage: no Stage 'stagin' (did you mean 'staging'?)" in err
    code, _, err = run(repo, "history", "--stage", "zzz")
    assert code == 2
    assert "(Stages: broken, dev, prod, staging)" in err
    code, out, err = run(repo, "history", "--stage", "staging")  # known, never promoted: an empty table
    assert code == 0, err
    assert out.split() == ["PROMOTION", "FREIGHT", "ALIAS", "PHASE", "ACTOR", "STARTED", "FINISHED"]


def _card(index: str, stage: str) -> str:
    start = index.index(f'id="stage-{stage}"')
    return index[start : index.index("</article>", start)]


def test_dashboard_card_shows_what_an_empty_stage_waits_for(repo: Path) -> None:
    write(repo, manifests())
    record(repo, 1, 1)
    for stage in ("dev", "staging"):
        assert run(repo, "promote", "--stage", stage, "--freight", "f-1", "-q")[0] == 0
    site = repo.parent / "site"
    code, _, err = run(repo, "dashboard", "--out", str(site))
    assert code == 0, err
    prod = _card((site / "index.html").read_text(), "prod")
    assert ">Waiting for soak</span>" in prod
    assert "No Freight" not in prod
    assert "<dt>Waiting for</dt>" in prod
    assert "Freight <b>f-1</b>" in prod
    assert re.search(r"(59m|1h) of soak time left", prod), prod
    assert "prod requires 1h soak" in prod
    assert '<code class="approve">kargo-actions approve --freight f-1 --stage prod</code>' in prod
    assert "<dt>Waiting for</dt>" not in _card((site / "index.html").read_text(), "staging")


def test_dashboard_overview_shows_a_failed_reverification(repo: Path, health: tuple[Script, str]) -> None:
    script, url = health
    write(repo, pipeline(url))
    record(repo, 1, 1)
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")[0] == 0
    site = repo.parent / "site"
    assert run(repo, "dashboard", "--out", str(site))[0] == 0
    assert "last verification" not in _card((site / "index.html").read_text(), "dev")
    script.answers["/health"] = [Answer(body={"ok": False})]
    assert run(repo, "verify", "--stage", "dev", "-q")[0] == 1
    code, _, err = run(repo, "dashboard", "--out", str(site))
    assert code == 0, err
    dev = _card((site / "index.html").read_text(), "dev")
    assert ">Verified</span>" in dev  # Kargo's rule stands
    assert '<span class="badge bad check" title="verification ' in dev
    assert ">last verification Failed</span>" in dev
