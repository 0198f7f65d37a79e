"""The dashboard's pages as HTML strings. Every value from the ledger, the manifests or a registry passes
through `esc` (Freight data is untrusted: tags, commit messages, annotations); links are relative."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import quote

from kargo_actions import __version__
from kargo_actions.ledger.records import PromotionRecord, VerificationRecord
from kargo_actions.model.freight import Freight
from kargo_actions.report.dashboard import (
    PAGE_SIZE,
    RECENT,
    Dashboard,
    Placement,
    StageView,
    freight_context,
    stage_context,
)
from kargo_actions.report.dashboard_assets import CSS, JS
from kargo_actions.report.dashboard_metrics import METRICS_CSS, metrics_body, metrics_strip
from kargo_actions.report.dashboard_parts import (
    artifact_lines,
    breakable,
    chips,
    deep_links,
    duration,
    esc,
    freight_file,
    freight_label,
    href,
    phase_badge,
    safe_url,
    stage_file,
    warehouse_file,
    when,
)
from kargo_actions.report.dashboard_svg import NodeView, render_svg
from kargo_actions.report.dashboard_waiting import check_badge, waiting_row
from kargo_actions.report.schedule import schedule_row

# Pages load only the site's own files; inline scripts and styles never run, whatever a record holds.
CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:"


def page(dash: Dashboard, title: str, body: str, *, root: str, active: str = "") -> str:
    """The frame of every page: head (CSP, own CSS/JS), top bar with navigation, footer."""
    nav = [f'<a href="{href(root, "index.html")}"{_active(active == "pipeline")}>Pipeline</a>']
    nav.append(f'<a href="{href(root, "metrics.html")}"{_active(active == "metrics")}>Metrics</a>')
    nav += [
        f'<a href="{href(root, warehouse_file(w))}"{_active(active == "wh:" + w)}>{esc(w)}</a>'
        for w in dash.warehouses
    ]
    commit = f" \u00b7 ledger {esc(dash.ledger_commit[:12])}" if dash.ledger_commit else ""
    generated = dash.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)} \u00b7 {esc(dash.title)}</title>"
        '<link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="{href(root, "assets/dashboard.css")}">'
        f'<script src="{href(root, "assets/dashboard.js")}" defer></script>'
        "</head><body>"
        f'<header class="top"><a class="brand" href="{href(root, "index.html")}"><span class="logo"></span>'
        f"{esc(dash.title)}</a><nav>{''.join(nav)}</nav>"
        f'<span class="generated">generated {when(generated, relative=False)}</span></header>'
        f"<main>{body}</main>"
        f'<footer class="bottom">kargo-actions {esc(__version__)}{commit}</footer>'
        "</body></html>\n"
    )


def _active(on: bool) -> str:
    return ' class="active"' if on else ""


def _problems(dash: Dashboard) -> str:
    if not dash.problems:
        return ""
    items = "".join(f"<li>{esc(p)}</li>" for p in dash.problems[:50])
    more = f"<li>and {len(dash.problems) - 50} more</li>" if len(dash.problems) > 50 else ""
    return (
        '<div class="problems" role="alert"><b>Some ledger records could not be read; they are left out.'
        f"</b><ul>{items}{more}</ul></div>"
    )


# index


def _node_views(dash: Dashboard) -> dict[str, NodeView]:
    views: dict[str, NodeView] = {}
    by_name = {s.name: s for s in dash.stages}
    for node in dash.graph.nodes:
        if node.kind == "Warehouse":
            total = dash.totals.get(node.name, 0)
            views[node.id] = NodeView(
                subtitle=f"{total} Freight", state="idle", href=quote(warehouse_file(node.name))
            )
            continue
        stage = by_name.get(node.name)
        if stage is None:
            continue
        current = stage.status.current
        subtitle = ", ".join(f.alias or f.name[:12] for f in current) or "no Freight"
        views[node.id] = NodeView(
            subtitle=subtitle,
            state=stage.health.state,
            href=quote(stage_file(node.name)),
            tooltip=f"{stage.health.label}: {stage.health.reason}",
        )
    return views


def _legend() -> str:
    """What the colours of the graph and the cards mean (the colours live in the stylesheet)."""
    return (
        '<div class="legend">'
        + "".join(f'<span><i class="swatch-{k}"></i>{esc(t)}</span>' for k, t in _LEGEND)
        + "</div>"
    )


def stage_card(dash: Dashboard, stage: StageView, root: str) -> str:
    status = stage.status
    health = stage.health
    if status.current:
        current = "".join(
            f"<div>{freight_label(dash, root, f.name, f.alias)}</div>"
            f'<ul class="artifacts">{"".join(f"<li>{breakable(a)}</li>" for a in artifact_lines(f))}</ul>'
            for f in status.current
        )
        since = next((c.since for c in stage.state.current_freight), None)
        current_row = f"<dt>Freight</dt><dd>{current}</dd><dt>Since</dt><dd>{when(since)}</dd>"
    else:
        current_row = '<dt>Freight</dt><dd class="muted">none yet</dd>'
    last = status.last_promotion
    last_row = (
        f"<dt>Last promotion</dt><dd>{phase_badge(last.phase)} {when(last.finished_at)}</dd>"
        if last
        else '<dt>Last promotion</dt><dd class="muted">none</dd>'
    )
    if stage.activity:
        lines = "".join(f"<div>{breakable(line)}</div>" for line in stage.activity)
        last_row += f"<dt>In progress</dt><dd>{lines}</dd>"
    newest = status.newest_available
    newer = ""
    if newest is not None and all(newest.name != f.name for f in status.current) and not status.control_flow:
        newer = f"<dt>Available</dt><dd>{freight_label(dash, root, newest.name, newest.alias)}</dd>"
    foot = ["auto-promotion" if status.auto_promotion else "manual promotion"]
    if status.holds:
        foot.append("held: " + ", ".join(f"{w} at {fid[:7]}" for w, fid in status.holds.items()))
    if stage.upstream:
        foot.append("from " + ", ".join(stage.upstream))
    return (
        f'<article class="card stage-card state-{esc(health.state)}" id="stage-{esc(stage.name)}" '
        f'data-stage="{esc(stage.name)}">'
        f'<div class="card-head"><a class="card-title" href="{href(root, stage_file(stage.name))}">'
        f'{esc(stage.name)}</a><span class="badge {esc(health.state)}" title="{esc(health.reason)}">'
        f"{esc(health.label)}</span>{check_badge(stage)}</div>"
        f"<dl>{current_row}{last_row}{newer}{waiting_row(stage.waiting)}{schedule_row(status)}</dl>"
        f"{metrics_strip(dash.metrics, stage.name, root)}"
        f'<div class="card-foot">{esc(" · ".join(foot))}</div></article>'
    )


def freight_tile(dash: Dashboard, freight: Freight, root: str) -> str:
    place = dash.places.get(freight.name)
    in_use = " in-use" if place and place.current else ""
    art = artifact_lines(freight)
    return (
        f'<div class="freight-tile{in_use}" data-freight="{esc(freight.name)}">'
        f"<div>{freight_label(dash, root, freight.name, freight.alias)}</div>"
        f'<div class="when">{when(freight.metadata.creation_timestamp)}</div>'
        f'<div class="art">{breakable(art[0]) if art else ""}{f" +{len(art) - 1}" if len(art) > 1 else ""}</div>'
        f"<div>{chips(root, place)}</div></div>"
    )


def index_page(dash: Dashboard) -> str:
    root = ""
    stats = (
        (len(dash.stages), "Stages"),
        (len(dash.warehouses), "Warehouses"),
        (dash.freight_count(), "Freight"),
        (dash.promotion_count(), "Promotions"),
        (dash.verification_count(), "Verifications"),
    )
    summary = "".join(f'<div class="stat"><b>{n:,}</b><span>{esc(t)}</span></div>' for n, t in stats)
    cards = "".join(stage_card(dash, s, root) for s in dash.stages)
    timelines = []
    for wh in dash.warehouses:
        items = dash.timelines.get(wh, ())
        tiles = "".join(freight_tile(dash, f, root) for f in items[:RECENT])
        total = dash.totals.get(wh, 0)
        more = (
            f'<p class="more"><a href="{href(root, warehouse_file(wh))}">All {total:,} Freight of {esc(wh)} '
            "\u2192</a></p>"
        )
        timelines.append(
            f'<h3 id="warehouse-{esc(wh)}">{esc(wh)} <span class="muted">newest first</span></h3>'
            + (f'<div class="timeline">{tiles}</div>' if tiles else '<p class="muted">No Freight yet.</p>')
            + more
        )
    body = (
        f"<h1>{esc(dash.title)}</h1>"
        f'<p class="subtitle">Project {esc(dash.project)}: Warehouses, Stages and where each Freight is.</p>'
        f"{_problems(dash)}"
        f'<div class="summary">{summary}</div>'
        '<h2 id="pipeline">Pipeline</h2>'
        f'<div class="panel graph-panel">{render_svg(dash.graph, _node_views(dash))}{_legend()}'
        "</div>"
        '<h2 id="stages">Stages</h2>'
        f'<div class="cards">{cards or "<p class=muted>No Stages defined.</p>"}</div>'
        '<h2 id="freight">Freight</h2>' + "".join(timelines)
    )
    return page(dash, "Pipeline", body, root=root, active="pipeline")


_LEGEND = (("ok", "verified"), ("warn", "unverified"), ("busy", "promoting / verifying"), ("bad", "failed"))


# Stage pages


def _table(table_id: str, headers: Iterable[str], rows: Iterable[str], empty: str) -> str:
    body = "".join(rows)
    if not body:
        return f'<p class="muted">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f'<table class="grid" id="{esc(table_id)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _steps(record: PromotionRecord) -> str:
    if not record.steps:
        return ""
    items = "".join(
        f"<li>{esc(s.alias)}{f' <code>{esc(s.uses)}</code>' if s.uses else ''} {phase_badge(s.status)}"
        f"{f' {esc(s.message)}' if s.message else ''}</li>"
        for s in record.steps
    )
    count = len(record.steps)
    return f"<details><summary>{count} step{'' if count == 1 else 's'}</summary><ol>{items}</ol></details>"


def promotion_row(dash: Dashboard, p: PromotionRecord, root: str, *, stage_column: bool) -> str:
    run = safe_url(p.run_url)
    name = f'<a href="{esc(run)}" rel="noopener noreferrer">{esc(p.name)}</a>' if run else esc(p.name)
    stage = f'<td><a href="{href(root, stage_file(p.stage))}">{esc(p.stage)}</a></td>' if stage_column else ""
    return (
        f'<tr data-phase="{esc(p.phase)}">{stage}<td><code>{name}</code>{_steps(p)}</td>'
        f"<td>{freight_label(dash, root, p.freight.name, p.freight.alias)}</td>"
        f"<td>{phase_badge(p.phase)}</td><td>{esc(p.actor or '')}</td>"
        f"<td>{when(p.started_at or p.created_at)}</td><td>{esc(duration(p.started_at, p.finished_at))}</td>"
        f"<td>{esc(p.message or '')}</td></tr>"
    )


PROMOTION_HEADERS = ("Promotion", "Freight", "Phase", "Actor", "Started", "Took", "Message")


def verification_row(dash: Dashboard, v: VerificationRecord, root: str, *, stage_column: bool) -> str:
    results = ", ".join(f"{r.template}: {r.phase}" for r in v.results)
    stage = f'<td><a href="{href(root, stage_file(v.stage))}">{esc(v.stage)}</a></td>' if stage_column else ""
    return (
        f'<tr data-phase="{esc(v.phase)}">{stage}<td><code>{esc(v.id)}</code></td>'
        f"<td>{freight_label(dash, root, v.freight.name, v.freight.alias)}</td>"
        f"<td>{phase_badge(v.phase)}</td><td>{when(v.started_at)}</td>"
        f"<td>{esc(duration(v.started_at, v.finished_at))}</td>"
        f"<td>{esc(results)}{f'<div class=muted>{esc(v.message)}</div>' if v.message else ''}</td></tr>"
    )


VERIFICATION_HEADERS = ("Run", "Freight", "Phase", "Started", "Took", "Analyses")


def stage_page(dash: Dashboard, stage: StageView) -> str:
    root = "../"
    status = stage.status
    links = ", ".join(f'<a href="{href(root, stage_file(s))}">{esc(s)}</a>' for s in stage.upstream)
    down = ", ".join(f'<a href="{href(root, stage_file(s))}">{esc(s)}</a>' for s in stage.downstream)
    holds = "; ".join(
        f"{w}: {h.freight[:12]} since {h.since} by {h.actor or 'unknown'}"
        for w, h in stage.state.holds.items()
    )
    facts = (
        f'<dt>State</dt><dd><span class="badge {esc(stage.health.state)}">'
        f'{esc(stage.health.label)}</span> <span class="muted">{esc(stage.health.reason)}</span></dd>'
        f"<dt>Upstream</dt><dd>{links or '<span class=muted>Warehouse directly</span>'}</dd>"
        f"<dt>Downstream</dt><dd>{down or '<span class=muted>none</span>'}</dd>"
        f"<dt>Promotion</dt><dd>{'auto' if status.auto_promotion else 'manual'}"
        f"{' (control flow: no steps)' if status.control_flow else ''}</dd>"
        + (f"<dt>Holds</dt><dd>{esc(holds)}</dd>" if holds else "")
        + schedule_row(status)
        + (deep_links(dash.stage_links, stage_context(dash, stage)) if dash.stage_links else "")
    )
    history_rows = (
        f"<tr><td>{when(h.since)}</td><td>"
        + ", ".join(freight_label(dash, root, f.name, f.alias) for f in h.freight)
        + f"</td><td><code>{esc(h.promotion or '')}</code></td></tr>"
        for h in stage.state.freight_history
    )
    body = (
        f'<div class="crumbs"><a href="{href(root, "index.html")}">Pipeline</a> / Stage</div>'
        f"<h1>{esc(stage.name)}</h1>"
        f'<div class="stage-top">{stage_card(dash, stage, root)}'
        f'<div class="panel"><dl class="kv">{facts}</dl></div></div>'
        '<h2 id="freight-history">Freight history</h2>'
        + _table("freight-history-table", ("Since", "Freight", "Promotion"), history_rows, "No Freight yet.")
        + f'<h2 id="promotions">Promotions <span class="muted">({len(stage.promotions):,}, newest first)</span></h2>'
        + (
            '<input class="filter" type="search" placeholder="Filter promotions" data-filter="promotions-table">'
            if len(stage.promotions) > 10
            else ""
        )
        + _table(
            "promotions-table",
            PROMOTION_HEADERS,
            (promotion_row(dash, p, root, stage_column=False) for p in stage.promotions),
            "No promotions yet.",
        )
        + f'<h2 id="verifications">Verifications <span class="muted">({len(stage.verifications):,})</span></h2>'
        + _table(
            "verifications-table",
            VERIFICATION_HEADERS,
            (verification_row(dash, v, root, stage_column=False) for v in stage.verifications),
            "No verification runs recorded.",
        )
    )
    return page(dash, f"Stage {stage.name}", body, root=root)


# Warehouse timelines


def freight_row(dash: Dashboard, f: Freight, root: str) -> str:
    arts = "".join(f"<div>{esc(a)}</div>" for a in artifact_lines(f))
    return (
        f'<tr data-freight="{esc(f.name)}"><td>{freight_label(dash, root, f.name, f.alias, short_id=False)}</td>'
        f"<td><code>{esc(f.name[:12])}</code></td><td>{when(f.metadata.creation_timestamp)}</td>"
        f"<td>{arts}</td><td>{chips(root, dash.places.get(f.name))}</td></tr>"
    )


def warehouse_pages(dash: Dashboard, warehouse: str) -> dict[str, str]:
    root = "../"
    items = dash.timelines.get(warehouse, ())
    count = max(1, -(-len(items) // PAGE_SIZE))
    pages: dict[str, str] = {}
    for number in range(1, count + 1):
        chunk = items[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        pager = ""
        if count > 1:
            pager = (
                '<nav class="pager">'
                + "".join(
                    f'<span class="here">{n}</span>'
                    if n == number
                    else f'<a href="{href(root, warehouse_file(warehouse, n))}">{n}</a>'
                    for n in range(1, count + 1)
                )
                + "</nav>"
            )
        total = dash.totals.get(warehouse, 0)
        shown = f"{len(items):,} of {total:,} shown (--limit)" if len(items) < total else f"{total:,} Freight"
        body = (
            f'<div class="crumbs"><a href="{href(root, "index.html")}">Pipeline</a> / Warehouse</div>'
            f"<h1>{esc(warehouse)}</h1>"
            f'<p class="subtitle">{esc(shown)}, newest first. Stage chips: '
            '<span class="chip current">now in</span><span class="chip verified">verified in</span>'
            '<span class="chip approved">approved for</span></p>'
            '<input class="filter" type="search" placeholder="Filter by alias, ID, tag or Stage" '
            'data-filter="freight-table">'
            + pager
            + _table(
                "freight-table",
                ("Freight", "ID", "Created", "Artifacts", "Stages"),
                (freight_row(dash, f, root) for f in chunk),
                "No Freight recorded yet.",
            )
            + pager
        )
        pages[warehouse_file(warehouse, number)] = page(
            dash, f"Warehouse {warehouse}", body, root=root, active="wh:" + warehouse
        )
    return pages


# Freight pages


def _artifact_tables(f: Freight) -> str:
    parts: list[str] = []
    if f.images:
        rows = (
            f"<tr><td>{esc(i.repo_url)}</td><td><code>{esc(i.tag)}</code></td><td><code>{esc(i.digest)}</code></td></tr>"
            for i in f.images
        )
        parts.append("<h3>Images</h3>" + _table("images", ("Repository", "Tag", "Digest"), rows, ""))
    if f.commits:
        rows = (
            f"<tr><td>{esc(c.repo_url)}</td><td><code>{esc(c.id)}</code></td>"
            f"<td>{esc(c.tag or c.branch or '')}</td><td>{esc(c.message or '')}</td><td>{esc(c.author or '')}</td></tr>"
            for c in f.commits
        )
        parts.append(
            "<h3>Commits</h3>"
            + _table("commits", ("Repository", "Commit", "Tag / branch", "Message", "Author"), rows, "")
        )
    if f.charts:
        rows = (
            f"<tr><td>{esc(c.repo_url)}</td><td>{esc(c.name)}</td><td><code>{esc(c.version)}</code></td></tr>"
            for c in f.charts
        )
        parts.append("<h3>Charts</h3>" + _table("charts", ("Repository", "Chart", "Version"), rows, ""))
    return "".join(parts) or '<p class="muted">No artifacts.</p>'


def _where(dash: Dashboard, f: Freight, root: str) -> str:
    place = dash.places.get(f.name) or Placement()
    current = dict(place.current)
    verified = dict(place.verified)
    approved = dict(place.approved)
    rows: list[str] = []
    for stage in dash.stages:
        name = stage.name
        if name not in current and name not in verified and name not in approved:
            continue
        ver = verified.get(name)
        soak = ""
        if ver is not None:
            if name in current:
                soak = f"{duration(ver.verified_at, dash.generated_at)} so far"
            elif ver.longest_soak:
                soak = f"longest {ver.longest_soak}"
        app = approved.get(name)
        rows.append(
            f'<tr data-stage="{esc(name)}"><td><a href="{href(root, stage_file(name))}">{esc(name)}</a></td>'
            f"<td>{when(current[name]) if name in current else '<span class=muted>-</span>'}</td>"
            f"<td>{when(ver.verified_at) if ver else '<span class=muted>-</span>'}</td><td>{esc(soak)}</td>"
            f"<td>{when(app.approved_at) + ' ' + esc(app.actor or '') if app else '<span class=muted>-</span>'}</td></tr>"
        )
    return _table(
        "where-table",
        ("Stage", "Currently in since", "Verified at", "Soak", "Approved"),
        rows,
        "Not in any Stage, verified nowhere, approved for none.",
    )


def freight_section(dash: Dashboard, f: Freight, root: str) -> str:
    """One Freight: facts, artifacts, where it is (soak), its promotions and verifications."""
    title = f.alias or f.name[:12]
    tag = f"{dash.tag_prefix}/{f.origin.name}/{f.name}"
    facts = (
        f"<dt>ID</dt><dd><code>{esc(f.name)}</code></dd>"
        f"<dt>Alias</dt><dd>{esc(f.alias or '-')}</dd>"
        f'<dt>Warehouse</dt><dd><a href="{href(root, warehouse_file(f.origin.name))}">{esc(f.origin.name)}</a></dd>'
        f"<dt>Created</dt><dd>{when(f.metadata.creation_timestamp)}</dd>"
        f"<dt>Git tag</dt><dd><code>{esc(tag)}</code></dd>"
        + (deep_links(dash.freight_links, freight_context(dash, f)) if dash.freight_links else "")
    )
    promotions = dash.promotions_by_freight.get(f.name, ())
    runs = dash.verifications_by_freight.get(f.name, ())
    fid = esc(f.name)
    return (
        f'<section class="freight" id="{fid}" data-freight="{fid}">'
        f'<h1><a href="#{fid}">{esc(title)}</a></h1>'
        f'<div class="panel"><dl class="kv">{facts}</dl></div>'
        "<h2>Artifacts</h2>"
        + _artifact_tables(f)
        + "<h2>Where it is</h2>"
        + _where(dash, f, root)
        + f'<h2>Promotions <span class="muted">({len(promotions)})</span></h2>'
        + _table(
            f"promotions-{fid}",
            ("Stage", *PROMOTION_HEADERS),
            (promotion_row(dash, p, root, stage_column=True) for p in promotions),
            "Never promoted.",
        )
        + f'<h2>Verifications <span class="muted">({len(runs)})</span></h2>'
        + _table(
            f"verifications-{fid}",
            ("Stage", *VERIFICATION_HEADERS),
            (verification_row(dash, v, root, stage_column=True) for v in runs),
            "No verification runs recorded.",
        )
        + "</section>"
    )


def freight_bucket_page(dash: Dashboard, prefix: str, items: Sequence[Freight]) -> str:
    """The Freight whose IDs start with `prefix`, newest first. Linked as `#<id>`, the page shows that one
    Freight alone (CSS :target); opened bare, all of them. 256 files instead of 10,000: creating small files
    is most of the cost of writing a large site."""
    root = "../"
    crumbs = f'<div class="crumbs"><a href="{href(root, "index.html")}">Pipeline</a> / Freight {esc(prefix)}…</div>'
    sections = "".join(freight_section(dash, f, root) for f in items)
    return page(dash, f"Freight {prefix}…", f'{crumbs}<div class="bucket">{sections}</div>', root=root)


def render_site(dash: Dashboard) -> dict[str, str]:
    """Every file of the site: relative path -> content."""
    files: dict[str, str] = {
        "assets/dashboard.css": CSS + METRICS_CSS,
        "assets/dashboard.js": JS,
        "index.html": index_page(dash),
    }
    if dash.metrics is not None:
        links = {s.name: stage_file(s.name) for s in dash.stages}
        files["metrics.html"] = page(
            dash, "Metrics", metrics_body(dash.metrics, links), root="", active="metrics"
        )
    for stage in dash.stages:
        files[stage_file(stage.name)] = stage_page(dash, stage)
    for wh in dash.warehouses:
        files.update(warehouse_pages(dash, wh))
    buckets: dict[str, list[Freight]] = {}
    for items in dash.timelines.values():
        for f in items:
            buckets.setdefault(freight_file(f.name), []).append(f)
    for path, members in sorted(buckets.items()):
        files[path] = freight_bucket_page(dash, members[0].name[:2], members)
    return files
