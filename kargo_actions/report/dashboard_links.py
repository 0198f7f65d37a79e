"""ProjectConfig `freightLinks` and `stageLinks`: Kargo's deep links, resolved when the dashboard is built.

Kargo's rule (pkg/deeplinks): `if` is an expr-lang expression over `{"freight": <Freight JSON>}` (or
`{"stage": <Stage JSON>}`) that must give a boolean; `url` is a Go text/template over the same data with
sprig's functions (rendered by report/go_template.py). A link whose condition is false is left out; a link
that cannot be evaluated is left out and its error reported beside the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.report.go_template import TemplateError, render_go_template
from kargo_actions.struct import struct


@struct
class DeepLink:
    """One entry of freightLinks or stageLinks."""

    title: str
    url: str
    description: str = ""
    condition: str = ""  # the `if` field


@struct
class ResolvedLink:
    title: str
    url: str
    description: str = ""


def parse_links(raw: Sequence[Mapping[str, Any]], field_path: str) -> tuple[DeepLink, ...]:
    """Typed links from the ProjectConfig's raw list; every bad entry named (Kargo's CRD requires title, url)."""
    links: list[DeepLink] = []
    problems: list[Problem] = []
    for i, entry in enumerate(raw):
        where = f"ProjectConfig spec.{field_path}[{i}]"
        values = {k: entry.get(k, "") for k in ("title", "url", "description", "if")}
        unknown = sorted(set(entry) - set(values))
        bad = [k for k, v in values.items() if not isinstance(v, str)]
        missing = [k for k in ("title", "url") if isinstance(values[k], str) and not values[k]]
        for what, names in (("unknown field", unknown), ("not a string", bad), ("required", missing)):
            problems += [Problem(path=f"{where}.{n}", message=f"{what}") for n in names]
        if not (unknown or bad or missing):
            links.append(DeepLink(values["title"], values["url"], values["description"], values["if"]))
    if problems:
        raise InvalidInputError(problems)
    return tuple(links)


def evaluate_links(
    links: Sequence[DeepLink], context: Mapping[str, Any]
) -> tuple[list[ResolvedLink], list[str]]:
    """The links whose condition holds, with their URLs rendered; one message per link that failed."""
    from kargo_actions.expressions import Environment, ExpressionError, evaluate_plain

    resolved: list[ResolvedLink] = []
    errors: list[str] = []
    env = Environment(dict(context))
    for link in links:
        if link.condition:
            try:
                verdict = evaluate_plain(link.condition, env)
            except ExpressionError as err:
                errors.append(f"error evaluating condition for link {link.title!r}: {err}")
                continue
            if not isinstance(verdict, bool):
                errors.append(f"condition for link {link.title!r} evaluated to non-boolean value")
                continue
            if not verdict:
                continue
        try:
            url = render_go_template(link.url, context)
        except TemplateError as err:
            errors.append(f"error evaluating URL template for link {link.title!r}: {err}")
            continue
        resolved.append(ResolvedLink(link.title, url, link.description))
    return resolved, errors
