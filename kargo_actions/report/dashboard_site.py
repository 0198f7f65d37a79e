"""The dashboard's site written atomically (a temporary directory renamed into place): collected by
dashboard.py, rendered by dashboard_html.py."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from pathlib import Path

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.ledger import Ledger
from kargo_actions.model.project import Project
from kargo_actions.report.dashboard import collect
from kargo_actions.report.dashboard_html import render_site
from kargo_actions.struct import struct

MARKER = ".kargo-dashboard"  # a file in every site this command writes: it may replace such a DIR


@struct
class SiteSummary:
    """What `dashboard` wrote (the `--output json` answer)."""

    out: Path
    pages: Mapping[str, int]
    counts: Mapping[str, int]
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        return {
            "out": str(self.out),
            "pages": {**self.pages, "total": sum(self.pages.values())},
            "counts": dict(self.counts),
            "problems": [str(p) for p in self.problems],
        }


def _check_target(out: Path, force: bool) -> None:
    """Refuse a DIR that is a file, or non-empty and not a site of ours, unless --force."""
    if out.exists() and not out.is_dir():
        raise InvalidInputError(
            [
                Problem(
                    path="--out", message=f"{out} is a file, not a directory", hint="choose a directory path"
                )
            ]
        )
    if out.is_dir() and not force and not (out / MARKER).is_file() and any(out.iterdir()):
        raise InvalidInputError(
            [
                Problem(
                    path="--out",
                    message=f"{out} is not empty and was not written by `kargo-actions dashboard`",
                    hint="choose a new or empty directory, or pass --force to replace its content",
                )
            ]
        )


def write_site(files: Mapping[str, str | bytes], out: Path, *, force: bool = False) -> None:
    """Write every file (relative path -> content) into a temporary sibling of `out`, then rename it into
    place: readers see the old site or the new one, never half of one. The old site is removed afterwards."""
    out = out.absolute()
    _check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    # mkdir, not mkdtemp: mkdtemp's mode 0700 would hide the site from a web server's user (umask decides)
    staging = out.parent / f".{out.name}.new-{secrets.token_hex(6)}"
    staging.mkdir()
    old: Path | None = None
    try:
        made: set[Path] = {staging}
        for rel, content in files.items():
            target = staging / rel
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            if isinstance(content, str):
                target.write_text(content, encoding="utf-8")
            else:
                target.write_bytes(content)
        (staging / MARKER).write_text(
            "written by kargo-actions dashboard; safe to replace\n", encoding="utf-8"
        )
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, old / "site")
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_site(
    project: Project,
    ledger: Ledger,
    out: Path,
    *,
    title: str | None = None,
    limit: int | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> SiteSummary:
    """Collect, render and write the site; the summary says what was written."""
    if out.exists():
        _check_target(out.absolute(), force)  # before the work, so a refusal is quick
    dash = collect(project, ledger, title=title, limit=limit, now=now)
    files = render_site(dash)
    write_site(files, out, force=force)
    pages: dict[str, int] = {"index": 0, "metrics": 0, "stages": 0, "warehouses": 0, "freight": 0}
    for rel in files:
        if rel.endswith(".html"):
            pages[rel.split("/", 1)[0] if "/" in rel else rel.removesuffix(".html")] += 1
    counts = {
        "stages": len(dash.stages),
        "warehouses": len(dash.warehouses),
        "freight": dash.freight_count(),
        "freightShown": len(dash.paged),
        "promotions": dash.promotion_count(),
        "verifications": dash.verification_count(),
    }
    return SiteSummary(out, pages, counts, dash.problems)
