"""What the promote and reconcile actions say about waiting promotions, from a command's JSON result.

`python -m kargo_actions.github.resume waiting` (promote action, after `promote --no-wait`): for each
promotion left Running, one line saying what it waits for and which event of kargo-reconcile.yml resumes
it, as a notice, in the job summary and as the `waiting` / `resume` outputs.
`python -m kargo_actions.github.resume stages` (reconcile action, after `reconcile --plan`): the Stages
that can move, as the JSON list a matrix takes (`stages` output). The result comes in KA_RESULT.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from kargo_actions.github.output import append_step_summary, write_outputs

# A pull request's or a workflow run's page: https://HOST/OWNER/REPO/pull/N, .../actions/runs/N
_PAGE = re.compile(r"^https?://[^/]+/(?P<repository>[^/]+/[^/]+)/(?:pull|actions/runs)/\d+")


def suspended(document: Any) -> Iterator[Mapping[str, Any]]:
    """Every promotion in the result that is Running with a `wait` (in results, decisions, lists)."""
    if isinstance(document, list):
        for item in document:
            yield from suspended(item)
    elif isinstance(document, dict):
        if document.get("phase") == "Running" and isinstance(document.get("wait"), dict):
            yield document
            return
        for value in document.values():
            if isinstance(value, (dict, list)):
                yield from suspended(value)


def waited_for(wait: Mapping[str, Any]) -> str:
    """What the promotion waits for, in a few words: the step's own description, else from the kind."""
    kind = wait.get("kind")
    if wait.get("description"):
        return str(wait["description"])
    if kind == "pull-request" and wait.get("prNumber"):
        return f"PR #{wait['prNumber']} to be merged"
    if kind == "workflow-run" and wait.get("runID"):
        return f"workflow run {wait['runID']} to complete"
    return str(wait.get("url") or kind or "a step to finish")


def how_resumed(wait: Mapping[str, Any], repository: str, workflow: str) -> str:
    """The event of the reconcile workflow that resumes a promotion waiting on `wait`."""
    kind = wait.get("kind")
    page = _PAGE.match(str(wait.get("url") or ""))
    elsewhere = page is not None and repository != "" and page["repository"].lower() != repository.lower()
    if kind in ("pull-request", "workflow-run") and not elsewhere:
        event = "pull_request closed" if kind == "pull-request" else "workflow_run completed"
        return f"resumed by {workflow} on the {event} event"
    if elsewhere and page is not None:
        return (
            f"resumed by {workflow} on a kargo-reconcile repository_dispatch from {page['repository']} "
            "(docs/github.md) or on its schedule"
        )
    return f"resumed by {workflow} on its schedule (or a kargo-reconcile repository_dispatch)"


def waiting_lines(document: Any, repository: str, workflow: str) -> list[str]:
    lines: list[str] = []
    for promotion in suspended(document):
        wait = promotion["wait"]
        line = f"{promotion.get('stage', '')}: {promotion.get('name', '')} is waiting for {waited_for(wait)}"
        if wait.get("deadline"):
            line += f" (until {wait['deadline']})"
        lines.append(f"{line}; {how_resumed(wait, repository, workflow)}")
    return lines


def plan_stages(document: Any) -> list[str]:
    """The distinct Stages of a `reconcile --plan` result that something would move in (actions
    would-resume, would-start, would-close, would-time-out), in its order: a Stage whose promotion still
    waits or is being run starts no job."""
    items = document if isinstance(document, list) else []
    stages = [
        item["stage"]
        for item in items
        if isinstance(item, dict)
        and isinstance(item.get("stage"), str)
        and str(item.get("action", "would-")).startswith("would-")
    ]
    return list(dict.fromkeys(stages))


def _command(text: str) -> str:
    """A workflow command's message (GitHub's escaping of %, CR and LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in (["waiting"], ["stages"]):
        print(
            "usage: python -m kargo_actions.github.resume waiting|stages (result in KA_RESULT)",
            file=sys.stderr,
        )
        return 2
    text = os.environ.get("KA_RESULT", "").strip()
    try:
        document = json.loads(text) if text else None
    except json.JSONDecodeError:
        document = None  # a text result: nothing to read
    if args == ["stages"]:
        write_outputs({"stages": json.dumps(plan_stages(document))})
        return 0
    workflow = os.environ.get("KA_RECONCILE_WORKFLOW") or "kargo-reconcile.yml"
    lines = waiting_lines(document, os.environ.get("GITHUB_REPOSITORY", ""), workflow)
    write_outputs({"waiting": "true" if lines else "false", "resume": "\n".join(lines)})
    for line in lines:
        print(f"::notice title=Promotion waiting::{_command(line)}")
    if lines:
        append_step_summary("\n### Waiting promotions\n\n" + "".join(f"- {line}\n" for line in lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
