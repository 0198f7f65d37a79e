"""`kargo-actions dashboard` on a real pipeline repository: Freight recorded on the ledger, promotions run by
the promotion service (succeeded and failed), a verification run and an approval; pages read back with
html.parser (structure, links, escaping)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from kargo_actions.cli.main import main
from kargo_actions.freight.identity import freight_id
from kargo_actions.ledger import Ledger
from kargo_actions.ledger.records import (
    AnalysisResult,
    FreightReference,
    VerificationRecord,
    VerifiedFreight,
)
from kargo_actions.model.freight import Freight, FreightMetadata, FreightOrigin, GitCommit, Image
from tests.ledger.helpers import make_repo

IMAGE = "ghcr.io/example/shop"
EVIL_TAG = "1.0.0-<script>window.pwned=1</script>"
EVIL_MESSAGE = 'fix</td></tr><script>window.pwned=2</script><img src=x onerror="window.pwned=3">'
STEP = [{"uses": "compose-output", "as": "out", "config": {"tag": "${{ imageFrom('" + IMAGE + "').Tag }}"}}]


def _stage(
    name: str, sources: dict[str, Any], steps: list[dict[str, Any]] = STEP, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "shop"}, "sources": sources}],
            "promotionTemplate": {"spec": {"steps": steps}},
            **spec,
        },
    }


MANIFESTS: list[dict[str, Any]] = [
    {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "shop"}},
    {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Warehouse",
        "metadata": {"name": "shop"},
        "spec": {"subscriptions": [{"image": {"repoURL": IMAGE}}]},
    },
    {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "smoke"},
        "spec": {"metrics": [{"name": "up", "provider": {"web": {"url": "http://127.0.0.1:9/health"}}}]},
    },
    _stage("dev", {"direct": True}),
    _stage("staging", {"stages": ["dev"]}, verification={"analysisTemplates": [{"name": "smoke"}]}),
    _stage("prod", {"stages": ["staging"]}),
    _stage("broken", {"direct": True}, [{"uses": "fail", "config": {"message": "broken on purpose"}}]),
]


def run(repo: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--repo", str(repo), *args])
        except SystemExit as done:
            code = int(done.code or 0)
    return code, out.getvalue(), err.getvalue()


def shop_freight(n: int, *, tag: str | None = None, message: str = "a change") -> Freight:
    origin = FreightOrigin(name="shop")
    images = [Image(repo_url=IMAGE, tag=tag or f"1.0.{n}", digest=f"sha256:{n:064x}")]
    commits = [GitCommit(repo_url="https://github.com/example/shop.git", id=f"{n:040x}", message=message)]
    meta = FreightMetadata(
        name=freight_id(origin, commits=commits, images=images), creation_timestamp=f"2026-01-0{n}T10:00:00Z"
    )
    return Freight(metadata=meta, origin=origin, images=images, commits=commits, alias=f"shop-{n}")


@dataclass
class Pipeline:
    repo: Path
    ids: dict[str, str]  # alias -> Freight ID


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """A repository with a bare remote: 3 Freight (one with a hostile tag and commit message), promotions
    into dev and staging (succeeded) and broken (failed), staging verified by a recorded run, prod approved."""
    tmp = tmp_path_factory.mktemp("dashboard")
    repo = make_repo(tmp / "repo", tmp / "remote.git")
    config = repo / ".kargo"
    config.mkdir()
    for i, doc in enumerate(MANIFESTS):
        (config / f"{i:02d}.yaml").write_text(json.dumps(doc))
    ids: dict[str, str] = {}
    with Ledger(repo) as ledger:
        for item in (shop_freight(1), shop_freight(2, tag=EVIL_TAG, message=EVIL_MESSAGE), shop_freight(3)):
            assert item.alias is not None
            ids[item.alias] = ledger.record_freight(item).freight.name
    for args in (
        ("dev", "shop-1"),
        ("staging", "shop-1"),
        ("dev", "shop-2"),
        ("broken", "shop-1"),
    ):
        code, out, err = run(repo, "promote", "--stage", args[0], "--freight", args[1], "--no-verify", "-q")
        assert code == (1 if args[0] == "broken" else 0), out + err
    with Ledger(repo) as ledger:
        state = ledger.stage_state("staging")
        verified = {**state.verified, ids["shop-1"]: VerifiedFreight(verified_at="2026-01-05T10:00:00Z")}
        ledger.record_verification(
            VerificationRecord(
                id="run-1",
                stage="staging",
                freight=FreightReference(
                    name=ids["shop-1"], alias="shop-1", origin=FreightOrigin(name="shop")
                ),
                phase="Successful",
                started_at="2026-01-05T09:59:00Z",
                finished_at="2026-01-05T10:00:00Z",
                results=[AnalysisResult(template="smoke", phase="Successful")],
            ),
            state.model_copy(update={"verified": verified}),
        )
    code, _, err = run(repo, "approve", "--stage", "prod", "--freight", "shop-3")
    assert code == 0, err
    return Pipeline(repo, ids)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    parents: tuple[str, ...] = ()


@dataclass
class Page(HTMLParser):
    """Every element with its attributes and the text directly inside it, and all text of the page."""

    elements: list[Element] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    stack: list[Element] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, parents=tuple(e.tag for e in self.stack))
        self.elements.append(element)
        if tag not in ("meta", "link", "input", "br", "img", "path"):
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop().tag == tag:
                break

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(
            Element(tag, {k: v or "" for k, v in attrs}, parents=tuple(e.tag for e in self.stack))
        )

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self.stack:
            self.stack[-1].text += data

    def find(self, tag: str | None = None, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.elements
            if (tag is None or e.tag == tag)
            and all(e.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def with_class(self, cls: str, tag: str | None = None) -> list[Element]:
        return [e for e in self.elements if cls in e.attrs.get("class", "").split() and tag in (None, e.tag)]

    @property
    def text(self) -> str:
        return " ".join(self.texts)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


@pytest.fixture(scope="module")
def site(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("site") / "public"
    code, stdout, err = run(
        pipeline.repo, "-o", "json", "dashboard", "--out", str(out), "--title", "Shop <b>"
    )
    assert code == 0, err
    return out, json.loads(stdout)


def test_json_summary_says_what_was_written(site: tuple[Path, dict[str, Any]]) -> None:
    out, summary = site
    assert summary["out"] == str(out)
    assert summary["counts"] == {
        "stages": 4,
        "warehouses": 1,
        "freight": 3,
        "freightShown": 3,
        "promotions": 4,
        "verifications": 1,
    }
    html = sorted(str(p.relative_to(out)) for p in out.rglob("*.html"))
    assert summary["pages"]["total"] == len(html)
    assert summary["pages"]["stages"] == 4
    assert summary["pages"]["warehouses"] == 1
    assert summary["pages"]["index"] == 1
    assert summary["pages"]["metrics"] == 1
    assert summary["problems"] == []
    assert (out / ".kargo-dashboard").is_file()
    assert {p.name for p in (out / "assets").iterdir()} == {"dashboard.css", "dashboard.js"}


STATES = {
    "dev": ("state-ok", "Verified"),
    "staging": ("state-ok", "Verified"),
    "prod": ("state-idle", "No Freight"),
    "broken": ("state-bad", "Failed"),
}


def test_index_has_a_card_per_stage_with_its_state_and_freight(
    site: tuple[Path, dict[str, Any]], pipeline: Pipeline
) -> None:
    page = parse(site[0] / "index.html")
    cards = {e.attrs["data-stage"]: e for e in page.find("article")}
    assert list(cards) == ["broken", "dev", "staging", "prod"]  # pipeline order (ties by name)
    for stage, (cls, _label) in STATES.items():
        assert cls in cards[stage].attrs["class"].split(), stage
    health = [
        e.text for e in page.with_class("badge", "span") if "article" in e.parents and "title" in e.attrs
    ]
    assert health == [label for _, label in (STATES[s] for s in cards)]
    phases = [
        e.text for e in page.with_class("badge", "span") if "article" in e.parents and "title" not in e.attrs
    ]
    assert phases == ["Failed", "Succeeded", "Succeeded"]  # last promotions of broken, dev, staging
    links = [e.attrs["href"] for e in page.find("a") if e.attrs.get("class") == "alias"]
    # dev holds shop-2, staging shop-1; dev and staging are offered the newest (shop-3 / shop-2)
    assert f"freight/{pipeline.ids['shop-2'][:2]}.html#{pipeline.ids['shop-2']}" in links
    assert f"freight/{pipeline.ids['shop-1'][:2]}.html#{pipeline.ids['shop-1']}" in links
    assert page.find("title")[0].text == "Pipeline · Shop <b>"  # the title is text, not markup
    (brand,) = page.with_class("brand", "a")
    assert brand.text == "Shop <b>"


def test_index_graph_is_inline_svg_with_every_node_and_edge(site: tuple[Path, dict[str, Any]]) -> None:
    page = parse(site[0] / "index.html")
    (svg,) = page.find("svg")
    assert svg.attrs["class"] == "pipeline"
    nodes = {e.attrs["data-node"]: e.attrs["class"] for e in page.find("g") if "data-node" in e.attrs}
    assert nodes == {
        "shop": "node warehouse state-idle",
        "dev": "node stage state-ok",
        "staging": "node stage state-ok",
        "prod": "node stage state-idle",
        "broken": "node stage state-bad",
    }
    edges = [e.attrs["class"] for e in page.find("path") if "edge" in e.attrs.get("class", "")]
    assert sorted(edges) == ["edge direct", "edge direct", "edge promotion", "edge promotion"]
    node_links = [e.attrs["href"] for e in page.find("a") if "svg" in e.parents]
    assert sorted(node_links) == [
        "stages/broken.html",
        "stages/dev.html",
        "stages/prod.html",
        "stages/staging.html",
        "warehouses/shop.html",
    ]


def test_timeline_shows_freight_newest_first_with_where_each_is(
    site: tuple[Path, dict[str, Any]], pipeline: Pipeline
) -> None:
    page = parse(site[0] / "index.html")
    tiles = [e.attrs["data-freight"] for e in page.with_class("freight-tile")]
    assert tiles == [pipeline.ids["shop-3"], pipeline.ids["shop-2"], pipeline.ids["shop-1"]]
    table = parse(site[0] / "warehouses" / "shop.html")
    rows = [e.attrs["data-freight"] for e in table.find("tr") if "data-freight" in e.attrs]
    assert rows == tiles
    chips = [(e.attrs["class"], e.text) for e in table.with_class("chip", "a")]
    assert ("chip approved", "prod") in chips  # shop-3 approved for prod
    assert ("chip current", "staging") in chips
    assert ("chip current", "broken") not in chips


def test_freight_section_artifacts_placement_promotions(
    site: tuple[Path, dict[str, Any]], pipeline: Pipeline
) -> None:
    fid = pipeline.ids["shop-1"]
    page = parse(site[0] / "freight" / f"{fid[:2]}.html")
    assert page.find("section", id=fid)
    where = [
        e.attrs["data-stage"]
        for e in page.find("tr")
        if "data-stage" in e.attrs and fid in _section_of(page, e)
    ]
    assert where == ["dev", "staging"]  # dev verified it (then moved on), staging holds it, verified
    assert "Successful" in page.text
    assert "smoke: Successful" in page.text
    phases = [e.attrs["data-phase"] for e in page.find("tr") if "data-phase" in e.attrs]
    assert "Failed" in phases
    assert "Succeeded" in phases
    assert f"kargo/freight/shop/{fid}" in page.text  # the Freight's git tag


def _section_of(page: Page, element: Element) -> str:
    """The id of the Freight section an element is in (the last section started before it)."""
    current = ""
    for e in page.elements:
        if e.tag == "section":
            current = e.attrs.get("id", "")
        if e is element:
            return current
    return ""


def test_stage_page_lists_promotions_and_verifications(site: tuple[Path, dict[str, Any]]) -> None:
    broken = parse(site[0] / "stages" / "broken.html")
    rows = [e for e in broken.find("tr") if "data-phase" in e.attrs]
    assert [r.attrs["data-phase"] for r in rows] == ["Failed"]
    assert "failed: broken on purpose" in broken.text
    staging = parse(site[0] / "stages" / "staging.html")
    runs = [e.attrs["data-phase"] for e in staging.find("tr") if "data-phase" in e.attrs]
    assert runs == ["Succeeded", "Successful"]  # one promotion, one verification run
    assert "run-1" in staging.text


def _pages(out: Path) -> Iterator[tuple[Path, Page]]:
    for path in sorted(out.rglob("*.html")):
        yield path, parse(path)


def test_untrusted_freight_data_is_inert(site: tuple[Path, dict[str, Any]], pipeline: Pipeline) -> None:
    out = site[0]
    seen = 0
    for path, page in _pages(out):
        scripts = page.find("script")
        assert [urlsplit(s.attrs["src"]).path.rsplit("/", 1)[-1] for s in scripts] == ["dashboard.js"], path
        assert all(not s.text.strip() for s in scripts), path
        assert not page.find("img"), path
        handlers = [(e.tag, k) for e in page.elements for k in e.attrs if k.startswith("on")]
        assert handlers == [], path
        if EVIL_TAG in page.text or EVIL_MESSAGE in page.text:
            seen += 1
    assert seen >= 2  # the hostile values are shown, as text (timeline, Freight section, stage card)
    raw = (out / "freight" / f"{pipeline.ids['shop-2'][:2]}.html").read_text()
    assert "&lt;script&gt;window.pwned=2&lt;/script&gt;" in raw
    assert "Content-Security-Policy" in raw


def test_every_link_is_relative_and_resolves(site: tuple[Path, dict[str, Any]]) -> None:
    out = site[0]
    ids: dict[Path, set[str]] = {}
    links: list[tuple[Path, str]] = []
    for path, page in _pages(out):
        ids[path] = {e.attrs["id"] for e in page.elements if "id" in e.attrs}
        for e in page.elements:
            for attr in ("href", "src"):
                value = e.attrs.get(attr)
                if value is not None and not value.startswith("data:"):
                    links.append((path, value))
    assert len(links) > 50
    for page_path, link in links:
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc) == ("", ""), (page_path, link)
        assert not parts.path.startswith("/"), (page_path, link)
        target = (page_path.parent / unquote(parts.path)).resolve() if parts.path else page_path
        assert target.is_file(), (page_path, link)
        assert out.resolve() in target.parents, (page_path, link)
        if parts.fragment and target.suffix == ".html":
            assert parts.fragment in ids[target], (page_path, link)


def test_limit_keeps_the_newest_and_the_held(pipeline: Pipeline, tmp_path: Path) -> None:
    out = tmp_path / "site"
    code, stdout, err = run(
        pipeline.repo, "-o", "json", "dashboard", "--out", str(out), "--limit", "1", "--no-fetch"
    )
    assert code == 0, err
    assert (
        json.loads(stdout)["counts"]["freightShown"] == 3
    )  # shop-3 newest; shop-2 in dev, shop-1 in staging
    code, stdout, err = run(
        pipeline.repo, "-o", "json", "dashboard", "--out", str(out), "--limit", "1", "--no-fetch"
    )
    assert code == 0, err  # its own earlier output is replaced without --force


def test_limit_leaves_freight_nowhere_unlinked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".kargo").mkdir()
    for i, doc in enumerate(MANIFESTS):
        (repo / ".kargo" / f"{i:02d}.yaml").write_text(json.dumps(doc))
    with Ledger(repo) as ledger:
        old, new = (ledger.record_freight(shop_freight(n)).freight.name for n in (1, 2))
    out = tmp_path / "site"
    code, stdout, err = run(repo, "-o", "json", "dashboard", "--out", str(out), "--limit", "1")
    assert code == 0, err
    assert json.loads(stdout)["counts"] == {
        "stages": 4,
        "warehouses": 1,
        "freight": 2,
        "freightShown": 1,
        "promotions": 0,
        "verifications": 0,
    }
    page = parse(out / "warehouses" / "shop.html")
    assert [e.attrs["data-freight"] for e in page.find("tr") if "data-freight" in e.attrs] == [new]
    assert "1 of 2 shown (--limit)" in page.text
    assert not (out / "freight" / f"{old[:2]}.html").exists() or old[:2] == new[:2]


def test_refuses_a_foreign_non_empty_dir_unless_forced(pipeline: Pipeline, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run(pipeline.repo, "dashboard", "--out", str(out), "--no-fetch")
    assert code == 2
    assert "is not empty and was not written by `kargo-actions dashboard`" in err
    assert "pass --force" in err
    assert (out / "keep.txt").read_text() == "mine"
    code, stdout, err = run(pipeline.repo, "dashboard", "--out", str(out), "--no-fetch", "--force")
    assert code == 0, err
    assert "wrote 10 pages" in stdout
    assert not (out / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]  # no staging or old copies left behind


def test_a_file_as_out_is_bad_input(pipeline: Pipeline, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    code, _, err = run(pipeline.repo, "dashboard", "--out", str(target), "--no-fetch")
    assert code == 2
    assert "is a file, not a directory" in err


def test_an_empty_ledger_makes_a_site(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".kargo").mkdir()
    for i, doc in enumerate(MANIFESTS):
        (repo / ".kargo" / f"{i:02d}.yaml").write_text(json.dumps(doc))
    out = tmp_path / "empty"
    out.mkdir()  # an empty directory is fine without --force
    code, _, err = run(repo, "dashboard", "--out", str(out))
    assert code == 0, err
    page = parse(out / "index.html")
    assert len(page.find("article")) == 4
    assert "No Freight yet." in page.text


def test_a_failed_write_leaves_the_previous_site_and_no_debris(tmp_path: Path) -> None:
    from kargo_actions.report.dashboard_site import MARKER, write_site

    out = tmp_path / "site"
    write_site({"index.html": "old"}, out)
    assert (out / MARKER).is_file()
    with pytest.raises(FileExistsError):  # "a" is a file, so "a/b" cannot be written
        write_site({"index.html": "new", "a": "x", "a/b": "y"}, out)
    assert (out / "index.html").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
    write_site({"index.html": "new"}, out)
    assert (out / "index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_long_timelines_are_paged_and_every_page_links_the_others(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kargo_actions.report.dashboard_html as pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    out = tmp_path / "site"
    code, _, err = run(pipeline.repo, "dashboard", "--out", str(out), "--no-fetch")
    assert code == 0, err
    first, second = parse(out / "warehouses" / "shop.html"), parse(out / "warehouses" / "shop_p2.html")
    rows = [
        [e.attrs["data-freight"] for e in p.find("tr") if "data-freight" in e.attrs] for p in (first, second)
    ]
    assert rows == [[pipeline.ids["shop-3"], pipeline.ids["shop-2"]], [pipeline.ids["shop-1"]]]
    assert "../warehouses/shop_p2.html" in [e.attrs.get("href") for e in first.find("a")]
    assert "../warehouses/shop.html" in [e.attrs.get("href") for e in second.find("a")]


def test_unreadable_promotion_records_are_named_and_the_rest_is_shown(tmp_path: Path) -> None:
    from kargo_actions.ledger.store import WritePlan

    repo = make_repo(tmp_path / "repo")
    (repo / ".kargo").mkdir()
    for i, doc in enumerate(MANIFESTS):
        (repo / ".kargo" / f"{i:02d}.yaml").write_text(json.dumps(doc))
    with Ledger(repo) as ledger:
        ledger.record_freight(shop_freight(1))
        ledger.write(
            lambda _snap: WritePlan("test: a broken record", {"promotions/dev/broken.json": b"{"}, None)
        )
    out = tmp_path / "site"
    code, _, err = run(repo, "dashboard", "--out", str(out))
    assert code == 2
    assert "error: kargo/ledger:promotions/dev/broken.json" in err
    assert "not valid JSON" in err
    page = parse(out / "index.html")
    (banner,) = page.with_class("problems", "div")
    assert "promotions/dev/broken.json" in page.text
    assert banner.attrs["role"] == "alert"
    assert len(page.find("article")) == 4


def test_ids_are_unique_on_every_page(site: tuple[Path, dict[str, Any]]) -> None:
    for path, page in _pages(site[0]):
        ids = [e.attrs["id"] for e in page.elements if "id" in e.attrs]
        assert len(ids) == len(set(ids)), (path, sorted(i for i in ids if ids.count(i) > 1))
