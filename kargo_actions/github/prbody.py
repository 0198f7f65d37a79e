"""The body of a promotion pull request: the Freight, what changes (images, commits, charts) and the rendered
diff, kept under GitHub's body limit by shortening the diff first."""

from __future__ import annotations

from collections.abc import Sequence

from kargo_actions.github.repourl import web_base
from kargo_actions.github.text import BODY_LIMIT, fit_body
from kargo_actions.model.freight import Freight
from kargo_actions.struct import struct

MARKER = "<!-- kargo-actions promotion -->"
# room kept for the note that says how much of the diff was left out
_NOTE_ROOM = 200


@struct
class RenderedDiff:
    """What the promotion changed in the repository: `git diff --stat` and the patch."""

    stat: str
    patch: str


@struct
class ClusterAppDiff:
    """What one Argo CD Application will change in the cluster: (resource, unified diff) pairs."""

    app: str
    resources: tuple[tuple[str, str], ...] = ()
    source: str = ""  # the Argo CD API the diff came from
    error: str = ""


def cluster_section(diffs: Sequence[ClusterAppDiff], room: int) -> str:
    """The cluster diff, one collapsible block per Application, cut at a line to `room` characters with a
    note saying how much was left out (blocks and fences closed)."""
    lines = ["", "### Cluster diff (Argo CD)", ""]
    for d in diffs:
        if d.error:
            lines += [f"- `{d.app}`: no diff from Argo CD ({d.error})", ""]
            continue
        if not d.resources:
            lines += [f"- `{d.app}`: no change in the cluster", ""]
            continue
        via = f" ({d.source})" if d.source else ""
        lines += [
            f"<details><summary><code>{d.app}</code>: {len(d.resources)} resource(s) change{via}</summary>",
            "",
        ]
        for label, diff in d.resources:
            lines += [f"**{label}**", "", "```diff", diff.rstrip(), "```", ""]
        lines += ["</details>", ""]
    text = "\n".join(lines) + "\n"
    if len(text) <= room:
        return text
    cut = text[: max(room - _NOTE_ROOM, 0)]
    cut = cut[: cut.rfind("\n") + 1]
    if cut.count("```") % 2:
        cut += "```\n"
    cut += "</details>\n" * (cut.count("<details>") - cut.count("</details>"))
    return cut + (
        f"\n> [!NOTE]\n> The cluster diff is cut to keep this description within GitHub's {BODY_LIMIT:,}-character "
        f"limit: {len(text) - len(cut):,} characters left out.\n"
    )


def _short(sha: str) -> str:
    return sha[:7]


def _link(url: str, label: str) -> str:
    return f"[{label}]({url})" if url else label


def _commit_url(repo_url: str, sha: str) -> str:
    try:
        return f"{web_base(repo_url)}/commit/{sha}"
    except ValueError:
        return ""


def _image_text(tag: str, digest: str) -> str:
    text = f"`{tag}`" if tag else ""
    if digest:
        short = digest.split(":", 1)[-1][:12]
        text = f"{text} (`{short}`)" if text else f"`{digest.split(':', 1)[0]}:{short}`"
    return text or "-"


def image_url(repo_url: str, tag: str = "") -> str:
    """The registry's web page of an image (or of its tag) where the registry has a known one, else ""."""
    first, _, rest = repo_url.strip().partition("/")
    # Docker's rule: the first part names a registry when it has a dot or a port, or is localhost
    host, path = (
        (first, rest) if rest and ("." in first or ":" in first or first == "localhost") else ("", "")
    )
    if not host:
        host, path = "docker.io", repo_url.strip()
    if host in ("docker.io", "index.docker.io"):
        name = path.removeprefix("library/")
        base = f"https://hub.docker.com/_/{name}" if "/" not in name else f"https://hub.docker.com/r/{name}"
        return f"{base}/tags?name={tag}" if tag else base
    if host == "ghcr.io":
        return f"https://ghcr.io/{path}"  # GitHub redirects it to the package's page
    if host == "quay.io":
        return f"https://quay.io/repository/{path}" + (f"?tab=tags&tag={tag}" if tag else "")
    return ""


def _image_cell(repo_url: str, tag: str, digest: str) -> str:
    text = _image_text(tag, digest)
    url = image_url(repo_url, tag) if text != "-" else ""
    return _link(url, text) if url else text


def changes_section(freight: Freight, previous: Freight | None) -> str:
    """Markdown tables of images, commits and charts: what the Stage has now -> what the Freight brings."""
    lines: list[str] = []
    old_images = {i.repo_url: i for i in (previous.images if previous else [])}
    if freight.images:
        lines += ["**Images**", "", "| image | from | to |", "|---|---|---|"]
        for image in freight.images:
            old = old_images.get(image.repo_url)
            before = _image_cell(old.repo_url, old.tag, old.digest) if old else "-"
            lines.append(
                f"| `{image.repo_url}` | {before} | {_image_cell(image.repo_url, image.tag, image.digest)} |"
            )
        lines.append("")
    old_commits = {c.repo_url: c for c in (previous.commits if previous else [])}
    if freight.commits:
        lines += ["**Commits**", "", "| repository | from | to | range |", "|---|---|---|---|"]
        for commit in freight.commits:
            prior = old_commits.get(commit.repo_url)
            new = (
                _link(_commit_url(commit.repo_url, commit.id), f"`{_short(commit.id)}`") if commit.id else "-"
            )
            if commit.tag:
                new += f" (tag `{commit.tag}`)"
            before = (
                _link(_commit_url(commit.repo_url, prior.id), f"`{_short(prior.id)}`")
                if prior and prior.id
                else "-"
            )
            span = "-"
            if prior and prior.id and commit.id and prior.id != commit.id:
                try:
                    span = f"[{_short(prior.id)}...{_short(commit.id)}]({web_base(commit.repo_url)}/compare/{prior.id}...{commit.id})"
                except ValueError:
                    span = f"{_short(prior.id)}...{_short(commit.id)}"
            message = (commit.message or "").splitlines()[0][:80] if commit.message else ""
            suffix = f" {message}" if message else ""
            lines.append(f"| `{commit.repo_url}` | {before} | {new}{suffix} | {span} |")
        lines.append("")
    old_charts = {(c.repo_url, c.name): c for c in (previous.charts if previous else [])}
    if freight.charts:
        lines += ["**Charts**", "", "| chart | from | to |", "|---|---|---|"]
        for chart in freight.charts:
            prior_chart = old_charts.get((chart.repo_url, chart.name))
            label = f"{chart.repo_url}/{chart.name}" if chart.name else chart.repo_url
            lines.append(
                f"| `{label}` | {f'`{prior_chart.version}`' if prior_chart else '-'} | `{chart.version}` |"
            )
        lines.append("")
    return "\n".join(lines)


def freight_section(freight: Freight) -> str:
    rows = [("name", f"`{freight.name}`")]
    if freight.alias:
        rows.append(("alias", f"`{freight.alias}`"))
    rows.append(("origin", f"{freight.origin.kind} `{freight.origin.name}`"))
    return "\n".join(["| Freight | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def promotion_body(
    *,
    stage: str,
    freight: Freight | None,
    previous: Freight | None = None,
    description: str = "",
    rendered: RenderedDiff | None = None,
    promotion: str = "",
    more: Sequence[str] = (),
    limit: int = BODY_LIMIT,
    cluster: Sequence[ClusterAppDiff] | None = None,
) -> str:
    """The whole body; when too long, the rendered diff is shortened first (never the Freight or changes).
    With `cluster` (Argo CD configured), the cluster diff takes the rendered diff's place."""
    head: list[str] = []
    if description:
        head.append(description.rstrip())
    elif freight is not None:
        name = f"`{freight.alias}` ({_short(freight.name)})" if freight.alias else f"`{_short(freight.name)}`"
        head.append(f"Promotes Freight {name} into Stage `{stage}`.")
    else:
        head.append(f"Promotion into Stage `{stage}`." if stage else "Promotion.")
    if freight is not None:
        head += ["", "### Freight", "", freight_section(freight)]
        changes = changes_section(freight, previous)
        if changes:
            head += ["", "### What changes", "", changes.rstrip()]
    head += list(more)
    tail = ["", MARKER + (f"\n<!-- promotion: {promotion} -->" if promotion else ""), ""]
    fixed = "\n".join(head) + "\n"
    end = "\n".join(tail)
    if cluster is not None:
        return fit_body(fixed + cluster_section(cluster, limit - len(fixed) - len(end)) + end, limit)
    if rendered is None or not (rendered.stat or rendered.patch):
        return fit_body(fixed + end, limit)
    stat_lines = rendered.stat.rstrip().splitlines()
    summary = stat_lines[-1].strip() if stat_lines else "rendered changes"

    def section(patch: str, note: str) -> str:
        return "\n".join(
            [
                "",
                "### Rendered changes",
                "",
                "```",
                rendered.stat.rstrip(),
                "```",
                "",
                f"<details><summary>{summary}</summary>",
                "",
                "```diff",
                patch.rstrip(),
                "```",
                note,
                "</details>",
                "",
            ]
        )

    patch = rendered.patch
    room = limit - len(fixed) - len(end) - len(section("", "")) - _NOTE_ROOM
    note = ""
    if len(patch) > room:
        cut = patch[: max(room, 0)]
        cut = cut[: cut.rfind("\n") + 1] if "\n" in cut else ""
        note = (
            f"\n> [!NOTE]\n> The diff is cut to keep this description within GitHub's {BODY_LIMIT:,}-character "
            f"limit: {len(patch) - len(cut):,} characters left out.\n"
        )
        patch = cut
    if room <= 0:
        return fit_body(fixed + end, limit)
    return fit_body(fixed + section(patch, note) + end, limit)
