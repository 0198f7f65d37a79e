"""The dashboard's Metrics page and the metrics strip of each Stage card, on the ledger of real promotions that
tests/report/test_metrics.py builds (failed verification, rollbacks, a failed promotion): the figures shown
are those `kargo-actions metrics` computes, the charts are inline SVG with one bar per week, and headless
chromium renders the page at phone width without console messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.report.dashboard_metrics import WEEKS, bar_chart
from tests.report.test_dashboard import Page, run
from tests.report.test_dashboard_browser import browse, console, dom, near, pixels
from tests.report.test_metrics import Built, built, metrics_json  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def metrics_site(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("metrics-site") / "public"
    code, _, err = run(built.repo, "dashboard", "--out", str(out), "--no-fetch")
    assert code == 0, err
    return out


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    page.close()
    return page


def test_cards_carry_the_stage_figures(metrics_site: Path, built: Built) -> None:  # noqa: F811
    page = parse(metrics_site / "index.html")
    strips = {e.attrs["data-stage"]: e for e in page.with_class("metrics-strip")}
    assert sorted(strips) == ["canary", "dev", "prod"]
    assert all("article" in e.parents for e in strips.values())
    shown = {
        (e.attrs["data-metric"], e.parents[-1]): e for e in page.find("span") if "data-metric" in e.attrs
    }
    assert len(shown) == 4  # four figures per strip (one key per strip level)
    texts = [e for e in page.find("b") if "div" in e.parents]
    assert "40%" in [t.text for t in texts]  # dev's change failure rate, as `metrics` computes it
    assert "100%" in [t.text for t in texts]  # canary's one failed promotion
    want = metrics_json(built.repo, "--since", "30d", "--no-fetch")
    dev = next(s for s in want["stages"] if s["stage"] == "dev")
    assert dev["changeFailureRate"]["value"] == pytest.approx(0.4)
    assert page.find("a", href="metrics.html")  # the navigation


def test_metrics_page_has_figures_and_weekly_charts(metrics_site: Path) -> None:
    page = parse(metrics_site / "metrics.html")
    sections = [e.attrs["id"] for e in page.find("section")]
    assert sections == ["metrics-pipeline", "metrics-canary", "metrics-dev", "metrics-prod"]
    assert "Pipeline" in page.text
    assert "(canary, prod)" in page.text
    values = [e.text for e in page.with_class("value")]
    assert "40%" in values
    assert "2 of 5 promotions" in [e.text for e in page.with_class("count")]
    charts = page.find("svg")
    assert len(charts) == 3 * 3  # three charts per Stage
    bars = [e for e in page.find("rect") if "bar" in e.attrs.get("class", "")]
    dev_deploys = [b for b in bars if b.attrs.get("data-value") == "5"]
    assert dev_deploys  # dev's five promotions this week
    assert all(e.attrs.get("role") == "img" for e in charts)
    text = (metrics_site / "metrics.html").read_text()
    assert "http://" not in text
    assert "https://" not in text  # nothing fetched from the network


def test_bar_chart_draws_one_bar_per_week_with_data() -> None:
    labels = [f"w{i}" for i in range(WEEKS)]
    values: list[float | None] = [None] * WEEKS
    values[3], values[7] = 2.0, 4.0
    svg = bar_chart(values, labels, color="#000000", title="t", text="{:g}")
    page = Page()
    page.feed(svg)
    rects = page.find("rect")
    assert [r.attrs["data-value"] for r in rects] == ["2", "4"]
    heights = [float(r.attrs["height"]) for r in rects]
    assert heights[1] == pytest.approx(2 * heights[0])  # scaled to the largest value
    assert float(rects[0].attrs["x"]) < float(rects[1].attrs["x"])


def test_metrics_page_in_chromium_at_phone_width(metrics_site: Path, tmp_path: Path) -> None:
    url = (metrics_site / "metrics.html").as_uri()
    page, messages = dom(url, tmp_path)
    assert messages == []
    (root,) = page.find("html")
    assert root.attrs.get("data-ready") == "1"
    assert len(page.find("svg")) == 9
    shot = tmp_path / "metrics.png"
    done = browse(url, tmp_path, f"--screenshot={shot}", "--window-size=390,2400")
    assert done.returncode == 0, done.stderr[-2000:]
    assert console(done.stderr) == []
    rows = pixels(shot.read_bytes(), 2400)
    assert near(rows[20][4], (0x14, 0x21, 0x3D))  # the top bar, at phone width too
    blue = [y for y, row in enumerate(rows) if any(near(px, (0x1A, 0x73, 0xE8)) for px in row[::2])]
    red = [y for y, row in enumerate(rows) if any(near(px, (0xC5, 0x22, 0x1F)) for px in row[::2])]
    assert blue, "no deployment bars drawn"
    assert red, "no failure-rate bars drawn"
    # at 390 px the charts stack (one per row), so no pixel row holds bars of two charts
    assert not set(blue) & set(red)


def test_the_json_summary_counts_the_metrics_page(built: Built, tmp_path: Path) -> None:  # noqa: F811
    code, out, err = run(built.repo, "-o", "json", "dashboard", "--out", str(tmp_path / "s"), "--no-fetch")
    assert code == 0, err
    summary: dict[str, Any] = json.loads(out)
    assert summary["pages"]["metrics"] == 1


def test_each_promotion_links_to_its_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A promotion run on Actions records the run's URL (runURL); the Stage page links the promotion to it."""
    from kargo_actions.ledger import Ledger
    from kargo_actions.ledger.records import PromotionRecord
    from tests.ledger.helpers import make_repo
    from tests.report.test_dashboard import MANIFESTS, shop_freight

    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    (repo / ".kargo").mkdir()
    for i, doc in enumerate(MANIFESTS):
        (repo / ".kargo" / f"{i:02d}.yaml").write_text(json.dumps(doc))
    with Ledger(repo) as ledger:
        ledger.record_freight(shop_freight(1))
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    code, out, err = run(repo, "promote", "--stage", "dev", "--freight", "shop-1", "-q")
    assert code == 0, out + err
    url = "https://github.example/acme/shop/actions/runs/4242"
    with Ledger(repo) as ledger:
        (record,) = ledger.snapshot().load_dir(PromotionRecord, "promotions/dev").records
    assert record.run_url == url
    code, _, err = run(repo, "dashboard", "--out", str(tmp_path / "site"), "--no-fetch")
    assert code == 0, err
    page = parse(tmp_path / "site" / "stages" / "dev.html")
    (link,) = [a for a in page.find("a") if a.attrs.get("href") == url]
    assert link.text == record.name
