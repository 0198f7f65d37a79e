"""The dashboard's DORA metrics: the Metrics page, the strip on each Stage's card, and the weekly trend charts
(inline SVG drawn here: no chart library, no network asset). Definitions: report/metrics.py."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from kargo_actions.ledger.reader import LedgerTree
from kargo_actions.model.project import Project
from kargo_actions.report.metrics import Figures, Week, Window, figures, human_duration, last_stages, weekly
from kargo_actions.report.metrics_facts import read_facts
from kargo_actions.struct import struct

WINDOW_DAYS = 30
WEEKS = 12

METRICS_CSS = """\
/* DORA metrics */
.metrics-strip { display: flex; flex-wrap: wrap; gap: 4px 10px; margin: 8px 0 0; padding: 6px 8px;
  background: var(--idle-bg); border-radius: 8px; font-size: 12px; color: var(--muted); }
.metrics-strip b { color: var(--ink); font-weight: 600; }
.metrics-strip a { margin-left: auto; }
.metric-cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; }
.metric-card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; }
.metric-card .value { font-size: 20px; font-weight: 700; display: block; }
.metric-card .label, .metric-card .count { color: var(--muted); font-size: 12px; }
.trend-row { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
.trend { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 8px 10px; }
.trend h4 { margin: 0 0 4px; font-size: 12px; color: var(--muted); font-weight: 600; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart .axis { stroke: var(--line); stroke-width: 1; }
svg.chart text { font-size: 9px; fill: var(--muted); }
.stage-metrics { margin-bottom: 22px; }
@media (max-width: 600px) {
  main { padding: 14px 12px 30px; }
  .metric-cards, .trend-row { grid-template-columns: 1fr; }
}
"""


@struct
class StageTrend:
    stage: str
    figures: Figures
    weeks: tuple[Week, ...]


@struct
class DashboardMetrics:
    """What the dashboard shows of the metrics: the last WINDOW_DAYS per Stage and for the pipeline, and
    WEEKS weeks of trend per Stage."""

    window: Window
    stages: Mapping[str, StageTrend]
    pipeline_stages: tuple[str, ...]
    pipeline: Figures


def collect_metrics(project: Project, tree: LedgerTree, now: datetime) -> DashboardMetrics:
    order = project.stage_order()
    verifying = frozenset(s for s in order if project.stages[s].spec.verification is not None)
    facts = read_facts(tree, order)
    window = Window(now - timedelta(days=WINDOW_DAYS), now)
    stages = {
        s: StageTrend(
            s,
            figures(facts, [s], window, verifying=verifying),
            tuple(weekly(facts, s, now, WEEKS, verifying=verifying)),
        )
        for s in order
    }
    ends = last_stages(order, {s: project.downstream(s) for s in order})
    return DashboardMetrics(window, stages, ends, figures(facts, ends, window, verifying=verifying))


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _freq(f: Figures) -> str:
    return "-" if f.frequency is None else f"{f.frequency:.2f}/day"


def metrics_strip(metrics: DashboardMetrics | None, stage: str, root: str) -> str:
    """The four figures of one Stage in one line, for its card on the overview."""
    trend = metrics.stages.get(stage) if metrics is not None else None
    if trend is None:
        return ""
    f = trend.figures
    items = [
        ("deployment frequency", "deploys", _freq(f)),
        ("lead time for changes, median", "lead", human_duration(f.lead_median)),
        ("change failure rate", "failing", _rate(f.failure_rate)),
        ("time to restore, median", "restore", human_duration(f.restore_median)),
    ]
    spans = "".join(
        f'<span title="{_esc(title)} (last {WINDOW_DAYS} days)" data-metric="{_esc(key)}">{_esc(key)} '
        f"<b>{_esc(value)}</b></span>"
        for title, key, value in items
    )
    link = f'<a href="{_esc(root)}metrics.html#metrics-{_esc(stage)}">trend</a>'
    return f'<div class="metrics-strip" data-stage="{_esc(stage)}">{spans}{link}</div>'


def _cards(f: Figures) -> str:
    cards = [
        ("Deployment frequency", _freq(f), f"{f.deployments} succeeded promotions"),
        (
            "Lead time for changes",
            f"{human_duration(f.lead_median)} / {human_duration(f.lead_p90)}",
            f"median / p90 of {len(f.lead_times)} Freight"
            + (f" ({f.lead_from_discovery} from discovery time)" if f.lead_from_discovery else ""),
        ),
        ("Change failure rate", _rate(f.failure_rate), f"{f.failed} of {f.promotions} promotions"),
        (
            "Time to restore",
            human_duration(f.restore_median),
            f"median of {len(f.restores)} incidents"
            + (f", {f.open_incidents} open" if f.open_incidents else ""),
        ),
    ]
    return (
        '<div class="metric-cards">'
        + "".join(
            f'<div class="metric-card"><span class="label">{_esc(label)}</span>'
            f'<span class="value">{_esc(value)}</span><span class="count">{_esc(count)}</span></div>'
            for label, value, count in cards
        )
        + "</div>"
    )


def bar_chart(
    values: Sequence[float | None], labels: Sequence[str], *, color: str, title: str, text: str
) -> str:
    """A small bar chart (one bar per week, none for a week without data), scaled to its largest value."""
    width, height, top, bottom = 240, 80, 12, 14
    step = width / max(len(values), 1)
    peak = max((v for v in values if v is not None), default=0.0) or 1.0
    bars: list[str] = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        if value is None:
            continue
        h = (height - top - bottom) * value / peak
        x, y = i * step + 2, height - bottom - h
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{step - 4:.1f}" height="{max(h, 0.5):.1f}" '
            f'fill="{color}" data-value="{value:g}"><title>{_esc(label)}: {_esc(text.format(value))}</title></rect>'
        )
    axis = f'<line class="axis" x1="0" y1="{height - bottom}" x2="{width}" y2="{height - bottom}"/>'
    first, last = (labels[0], labels[-1]) if labels else ("", "")
    ticks = (
        f'<text x="0" y="{height - 2}">{_esc(first)}</text>'
        f'<text x="{width}" y="{height - 2}" text-anchor="end">{_esc(last)}</text>'
        f'<text x="0" y="9">max {_esc(text.format(peak if any(v is not None for v in values) else 0))}</text>'
    )
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}" '
        f">{axis}{''.join(bars)}{ticks}</svg>"
    )


def _trend(trend: StageTrend) -> str:
    labels = [w.start.strftime("%m-%d") for w in trend.weeks]
    charts: list[tuple[str, list[float | None], str, str]] = [
        ("Promotions per week", [float(w.deployments) for w in trend.weeks], "#1a73e8", "{:g}"),
        ("Change failure rate", [w.failure_rate for w in trend.weeks], "#c5221f", "{:.0%}"),
        (
            "Lead time, median (hours)",
            [None if w.lead_median is None else w.lead_median / 3600 for w in trend.weeks],
            "#1e8e3e",
            "{:.1f} h",
        ),
    ]
    return (
        '<div class="trend-row">'
        + "".join(
            f'<div class="trend" data-chart="{_esc(title)}"><h4>{_esc(title)}</h4>'
            + bar_chart(values, labels, color=color, title=f"{trend.stage}: {title}", text=text)
            + "</div>"
            for title, values, color, text in charts
        )
        + "</div>"
    )


def metrics_body(metrics: DashboardMetrics, stage_links: Mapping[str, str]) -> str:
    """The Metrics page's content: the pipeline's four figures, then each Stage's with its weekly trend."""
    since = metrics.window.since.strftime("%Y-%m-%d")
    until = metrics.window.until.strftime("%Y-%m-%d")
    parts = [
        "<h1>Metrics</h1>",
        f'<p class="subtitle">DORA\'s four figures from the ledger, {_esc(since)} to {_esc(until)} '
        f"(last {WINDOW_DAYS} days); trends per week over {WEEKS} weeks. "
        "<code>kargo-actions metrics</code> gives the same for any window.</p>",
        f'<section class="stage-metrics" id="metrics-pipeline"><h2>Pipeline '
        f'<span class="muted">({_esc(", ".join(metrics.pipeline_stages) or "-")})</span></h2>'
        f"{_cards(metrics.pipeline)}</section>",
    ]
    for name, trend in metrics.stages.items():
        link = stage_links.get(name, "")
        title = f'<a href="{_esc(link)}">{_esc(name)}</a>' if link else _esc(name)
        parts.append(
            f'<section class="stage-metrics" id="metrics-{_esc(name)}" data-stage="{_esc(name)}">'
            f"<h2>{title}</h2>{_cards(trend.figures)}<h3>Per week</h3>{_trend(trend)}</section>"
        )
    return "".join(parts)
