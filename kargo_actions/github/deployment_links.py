"""The links a promotion's Deployment statuses carry: the run's log and the Stage's environment URL.

A Stage names where its environment is seen with the annotation `kargo-actions.io/environment-url` (Kargo has
no such field); the Deployment's statuses carry it as `environment_url`, and the generated jobs as
`environment: url:`, so the repository's Environments page links to it.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from kargo_actions.errors import Problem
from kargo_actions.model.project import Project
from kargo_actions.model.stage import Stage
from kargo_actions.struct import struct

ENVIRONMENT_URL_ANNOTATION = "kargo-actions.io/environment-url"


@struct
class DeploymentLinks:
    """What every status of one promotion's Deployment links to ("" leaves a link out)."""

    log_url: str = ""  # the Actions run that promotes
    environment_url: str = ""  # the Stage's environment (its annotation)


def _is_web_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def environment_url(stage: Stage) -> str:
    """The Stage's environment URL from its annotation; "" when absent or not an http(s) URL (the
    `workflows generate` check reports those)."""
    value = (stage.metadata.annotations or {}).get(ENVIRONMENT_URL_ANNOTATION, "").strip()
    return value if _is_web_url(value) else ""


def environment_urls(project: Project, stages: list[str]) -> dict[str, str]:
    """Stage -> environment URL, for the Stages that have one."""
    found = {name: environment_url(project.stages[name]) for name in stages}
    return {name: url for name, url in found.items() if url}


def environment_url_problems(project: Project) -> list[Problem]:
    """An annotation that is not an http(s) URL, with its file, line and column."""
    problems: list[Problem] = []
    for name, stage in sorted(project.stages.items()):
        value = (stage.metadata.annotations or {}).get(ENVIRONMENT_URL_ANNOTATION)
        if value is None or _is_web_url(value.strip()):
            continue
        where = project.locate("Stage", name, ("metadata", "annotations", ENVIRONMENT_URL_ANNOTATION))
        problems.append(
            dataclasses.replace(
                where,
                message=f"{value!r} is not an http(s) URL: GitHub shows it as the environment's link",
                hint="e.g. https://dev.example.com, or remove the annotation",
            )
        )
    return problems
