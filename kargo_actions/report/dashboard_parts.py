"""The dashboard's HTML building blocks: escaping, page file names and links, times and durations, badges,
artifact lines and deep links. Every value from the ledger, the manifests or a registry passes through `esc`
(Freight data is untrusted: tags, commit messages, annotations); links are relative."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from html import escape
from urllib.parse import quote

from kargo_actions.model.freight import Freight
from kargo_actions.promotion.gates import parse_time
from kargo_actions.report.dashboard import FAILED_PHASES, RUNNING_PHASES, Dashboard, Placement
from kargo_actions.report.dashboard_links import DeepLink, evaluate_links

_NEEDS_ESCAPE = re.compile("[&<>\"']").search


def esc(value: object) -> str:
    """HTML-escaped text (quotes too, for attributes); most values need nothing, and skip the work."""
    text = value if isinstance(value, str) else str(value)
    return escape(text, quote=True) if _NEEDS_ESCAPE(text) else text


def stage_file(name: str) -> str:
    return f"stages/{name}.html"


def warehouse_file(name: str, page: int = 1) -> str:
    # '_' appears in no Kubernetes name: page 2 of "app" can never be Warehouse "app-p2"'s page
    return f"warehouses/{name}.html" if page == 1 else f"warehouses/{name}_p{page}.html"


def freight_file(fid: str) -> str:
    """The page holding a Freight: one per two-hex-digit ID prefix (at most 256 files, see freight_bucket_page)."""
    return f"freight/{fid[:2]}.html"


def freight_link(fid: str) -> str:
    return f"{freight_file(fid)}#{fid}"


def breakable(text: str) -> str:
    """Escaped text that may wrap after '/' and before '@' (image and repository URLs in narrow cards)."""
    return esc(text).replace("/", "/<wbr>").replace("@", "<wbr>@")


def href(root: str, path: str) -> str:
    """A relative link from a page `root` ("" or "../") to a site path, quoted for any name (quote leaves
    nothing HTML would read: only letters, digits and `_.-~/#`)."""
    return root + quote(path, safe="/#")


def when(value: str | None, *, relative: bool = True) -> str:
    """A <time> element: UTC text, turned into "5m ago" by the script (the UTC text becomes its title)."""
    if not value:
        return '<span class="muted">-</span>'
    moment = parse_time(value)
    if moment is None:
        return esc(value)
    text = moment.strftime("%Y-%m-%d %H:%M UTC")
    rel = " data-relative" if relative else ""
    return f'<time datetime="{esc(value)}"{rel}>{esc(text)}</time>'


def duration(start: str | None, end: str | datetime | None) -> str:
    """A short duration between two times ("2d 3h", "4m 12s"); "" when either is unknown."""
    begin = parse_time(start)
    finish = end if isinstance(end, datetime) else parse_time(end)
    if begin is None or finish is None:
        return ""
    seconds = max(0, int((finish - begin).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def phase_badge(phase: str) -> str:
    if phase in FAILED_PHASES or phase in ("Error", "Inconclusive"):
        kind = "bad"
    elif phase in RUNNING_PHASES:
        kind = "busy"
    elif phase in ("Succeeded", "Successful"):
        kind = "ok"
    else:
        kind = "idle"
    return f'<span class="badge {kind}">{esc(phase)}</span>'


def artifact_lines(freight: Freight) -> list[str]:
    """One short line per artifact: image:tag, repo@commit, chart:version."""
    lines = [f"{i.repo_url}:{i.tag or i.digest[:19]}" for i in freight.images]
    lines += [f"{c.repo_url}@{c.tag or c.id[:7]}" for c in freight.commits]
    lines += [
        f"{c.repo_url}/{c.name}:{c.version}" if c.name else f"{c.repo_url}:{c.version}"
        for c in freight.charts
    ]
    return lines


def freight_label(dash: Dashboard, root: str, fid: str, alias: str | None, *, short_id: bool = True) -> str:
    """The alias (or short ID) linked to the Freight's page when it has one, and the short ID."""
    name = esc(alias or fid[:12])
    short = f' <code class="muted">{esc(fid[:7])}</code>' if alias and short_id else ""
    if fid in dash.paged:
        return f'<a class="alias" href="{href(root, freight_link(fid))}">{name}</a>{short}'
    return f'<span class="alias">{name}</span>{short}'


def chips(root: str, place: Placement | None) -> str:
    """Stage chips: solid where the Freight is now, green where verified, dashed where approved."""
    if place is None:
        return '<span class="muted">-</span>'
    current = [s for s, _ in place.current]
    verified = [s for s, _ in place.verified if s not in current]
    approved = [s for s, _ in place.approved if s not in current and s not in verified]
    parts = [
        f'<a class="chip {kind}" title="{esc(title)}" href="{href(root, stage_file(s))}">{esc(s)}</a>'
        for kind, title, names in (
            ("current", "currently in", current),
            ("verified", "verified in", verified),
            ("approved", "approved for", approved),
        )
        for s in names
    ]
    return "".join(parts) or '<span class="muted">-</span>'


def safe_url(url: str | None) -> str | None:
    """An http(s) URL to link to; anything else (javascript:, data:) is shown as text only."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def deep_links(links: Sequence[DeepLink], context: dict[str, object]) -> str:
    """A <dt>/<dd> pair of resolved deep links (http(s) ones clickable) and the errors of the others."""
    if not links:
        return ""
    resolved, errors = evaluate_links(links, context)
    items = [
        f'<a class="deep-link" href="{esc(url)}" rel="noopener noreferrer" title="{esc(link.description)}">'
        f"{esc(link.title)}</a>"
        if (url := safe_url(link.url))
        else f'<span class="deep-link" title="{esc("not an http(s) URL: " + link.url)}">{esc(link.title)}</span>'
        for link in resolved
    ]
    problems = "".join(f'<div class="link-error">{esc(e)}</div>' for e in errors)
    return f"<dt>Links</dt><dd>{' · '.join(items) or '<span class=muted>none</span>'}{problems}</dd>"
