"""Generate the pipeline's GitHub workflows from its manifests, and plan auto-promotion dispatches.

kargo-discover.yml: discovery on a schedule (from the Warehouses' intervals), on `repository_dispatch`
(image builds announce a push), on `push` to the branches the git subscriptions watch (paths from their
includePaths), and by hand. kargo-promote.yml: `workflow_dispatch` with the Stage as a choice, the
Freight (empty: the newest available) and `auto` (set by auto-promotion dispatches), one job in
`environment: <stage>`, a concurrency group per Stage that never cancels a running promotion, and only the
permissions the pipeline's steps need. When a step can wait, the promote job leaves the promotion Running
(`promote --no-wait`) and kargo-reconcile.yml (github/reconcile_workflow.py) resumes it.

Regenerating is idempotent. Each file records a digest of what was generated; lines between
`# kargo-actions: begin user NAME` and `# kargo-actions: end user NAME` are the user's and are kept, and so
are the commits (and `# vX.Y.Z` comments) of pinned `uses:` lines, which Dependabot bumps (github/pins.py).
An edit anywhere else makes `generate` refuse to overwrite the file (exit 2) unless forced.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import field
from pathlib import Path

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.github.pins import keep_pins, without_pins
from kargo_actions.github.workflow_parts import (
    CHECKOUT,
    DASHBOARD_FILE,
    DISCOVER_FILE,
    DISPATCH_EVENT,
    GENERATED_MARK,
    PROMOTE_FILE,
    RECONCILE_FILE,
    WorkflowOptions,
    app_token_step,
    argocd_env,
    auto_promotes,
    can_wait,
    checkout_and_setup,
    cron_for,
    dashboard_job,
    environment,
    header,
    job_permissions,
    promotable_stages,
    quoted,
    steps_used,
    token_input,
    user_region,
)
from kargo_actions.model.project import Project
from kargo_actions.struct import struct

UPLOAD_PAGES = "actions/upload-pages-artifact@fc324d3547104276b827a68afc52ff2a11cc49c9 # v5.0.0"
DEPLOY_PAGES = "actions/deploy-pages@cd2ce8fcbc39b97be8ca5fce6e763baed58fa128 # v5.0.0"
_DIGEST = re.compile(r"^# kargo-actions digest: (sha256:[0-9a-f]{64})$", re.MULTILINE)
_BEGIN = re.compile(r"^[ \t]*# kargo-actions: begin user (\S+).*$")
_END = re.compile(r"^[ \t]*# kargo-actions: end user (\S+).*$")
# the names other modules and tests import from here
__all__ = [
    "CHECKOUT",
    "PROMOTE_FILE",
    "RECONCILE_FILE",
    "WorkflowOptions",
    "cron_for",
    "generated_workflows",
    "promotable_stages",
]


def _path_filters(selectors: Sequence[str]) -> list[str] | None:
    """GitHub `paths` globs for Kargo includePaths; None when one cannot be expressed (a regex)."""
    globs: list[str] = []
    for selector in selectors:
        if selector.startswith(("regex:", "regexp:")):
            return None
        if selector.startswith("glob:"):
            globs.append(selector.removeprefix("glob:"))
        else:
            prefix = selector.rstrip("/")
            globs += [prefix, f"{prefix}/**"]
    return globs


@struct
class PushTrigger:
    branches: tuple[str, ...]
    paths: tuple[str, ...] | None  # None: any path (GitHub applies no path filter to tag pushes anyway)
    warehouses: tuple[str, ...]
    tags: bool = False  # a subscription selects tags: any tag push triggers


def push_trigger(project: Project, repository_url: str) -> PushTrigger | None:
    """The push trigger for git subscriptions of this repository (all of them when its URL is unknown)."""
    from kargo_actions.freight.identity import normalize_git_url

    own = normalize_git_url(repository_url) if repository_url else ""
    branches: set[str] = set()
    paths: set[str] = set()
    any_path = False
    tags = False
    warehouses: set[str] = set()
    for name, warehouse in sorted(project.warehouses.items()):
        for sub in warehouse.spec.subscriptions:
            git = sub.git
            if git is None or (own and normalize_git_url(git.repo_url) != own):
                continue
            warehouses.add(name)
            if git.commit_selection_strategy == "NewestFromBranch":
                branches.add(git.branch or "main")
            else:
                tags = True  # a new tag is what such a subscription waits for
            globs = _path_filters(git.include_paths) if git.include_paths else None
            if globs is None:
                any_path = True
            else:
                paths.update(globs)
    if not warehouses:
        return None
    return PushTrigger(
        tuple(sorted(branches)), None if any_path else tuple(sorted(paths)), tuple(sorted(warehouses)), tags
    )


def discover_workflow(project: Project, options: WorkflowOptions) -> str:
    """The text of kargo-discover.yml (digest not yet filled in)."""
    by_cron: dict[str, list[str]] = {}
    for name, warehouse in sorted(project.warehouses.items()):
        by_cron.setdefault(cron_for(warehouse.spec.interval), []).append(name)
    push = push_trigger(project, options.repository_url)
    auto = auto_promotes(project)
    lines = [*header(options.config_dir, "discovery of every Warehouse"), "name: kargo-discover", "on:"]
    if by_cron:
        lines.append("  schedule:")
        for cron, names in by_cron.items():
            lines.append(f"    - cron: {quoted(cron)} # {', '.join(names)}")
    lines += [
        "  repository_dispatch:",
        f"    # An image build announces a push: event_type {DISPATCH_EVENT},",
        '    # client_payload {"warehouses": "NAME ..."} (optional: default every Warehouse).',
        f"    types: [{DISPATCH_EVENT}]",
    ]
    if push is not None:
        lines.append("  push:")
        if push.branches:
            lines.append("    branches:")
            lines += [f"      - {quoted(b)}" for b in push.branches]
        if push.tags:
            lines += ["    tags:", '      - "*"']
        if push.paths is not None:
            lines.append("    paths:")
            lines += [f"      - {quoted(p)}" for p in push.paths]
    lines += [
        "  workflow_dispatch:",
        "    inputs:",
        "      warehouses:",
        '        description: "Warehouses to discover, separated by spaces (empty: every Warehouse)"',
        "        type: string",
        "        required: false",
        '        default: ""',
        "permissions: {}",
        "concurrency:",
        "  group: kargo-discover",
        "  cancel-in-progress: false",
        "jobs:",
    ]
    if len(project.warehouses) > project.settings.spec.discovery_shard_threshold:
        from kargo_actions.github.discover_matrix import sharded_discover_jobs

        lines += [*sharded_discover_jobs(options, auto), *dashboard_job("discover", options)]
        return "\n".join(lines) + "\n"
    lines += [
        "  discover:",
        f"    runs-on: {options.runs_on}",
        "    timeout-minutes: 30",
        "    permissions:",
        "      contents: write # Freight tags and the ledger branch",
        *(
            ["      actions: write # dispatch the promote workflow for Stages that auto-promote"]
            if auto
            else []
        ),
        "    steps:",
        *checkout_and_setup(options),
        *user_region("      ", "before-discover"),
        "      - name: Discover",
        "        id: discover",
        f"        uses: {options.action('discover')}",
        "        with:",
        f"          config-dir: {quoted(options.config_dir)}",
        f"          warehouses: {quoted(_warehouse_expression(by_cron, push))}",
        "          signing-key: ${{ secrets.KARGO_SIGNING_KEY }} # Freight tags are signed when it is set",
        f"          dispatch-auto-promotions: {quoted('true' if auto else 'false')}",
        f"          promote-workflow: {quoted(options.promote_workflow)}",
        *user_region("      ", "after-discover"),
        *dashboard_job("discover", options),
    ]
    return "\n".join(lines) + "\n"


def _warehouse_expression(by_cron: Mapping[str, list[str]], push: PushTrigger | None) -> str:
    """Which Warehouses a run discovers: per event (a schedule names its own), else every one ('')."""
    parts = ["inputs.warehouses", "github.event.client_payload.warehouses"]
    if len(by_cron) > 1:
        table = json.dumps({cron: " ".join(names) for cron, names in by_cron.items()}, separators=(",", ":"))
        parts.append(f"github.event_name == 'schedule' && fromJSON('{table}')[github.event.schedule]")
    if push is not None:
        parts.append(f"github.event_name == 'push' && '{' '.join(push.warehouses)}'")
    return "${{ " + " || ".join(parts) + " || '' }}"


def promote_workflow(project: Project, options: WorkflowOptions) -> str:
    """The text of kargo-promote.yml (digest not yet filled in)."""
    stages = promotable_stages(project)
    if not stages:
        raise InvalidInputError(
            [Problem(file=options.config_dir, message="no Stage with promotion steps: nothing to promote")]
        )
    warehouses = {s: (project.stages[s].warehouses or [""])[0] for s in stages}
    table = json.dumps(warehouses, separators=(",", ":"))
    uses = steps_used(project)
    auto = auto_promotes(project)
    verified = [s for s in stages if project.stages[s].spec.verification is not None]
    # Stages with verification: the promote job leaves it (and their auto-promotion dispatches) to a verify job.
    in_verified = f"contains(fromJSON('{json.dumps(verified, separators=(',', ':'))}'), inputs.stage)"
    dispatch = "true" if auto else "false"
    if auto and verified:
        dispatch = f"${{{{ !{in_verified} }}}}"
    waits = can_wait(project)
    own_deployment = options.deployments == "promotion"  # else the promote job's environment makes it
    lines = [
        *header(options.config_dir, "one promotion of a Freight into a Stage"),
        "name: kargo-promote",
        "run-name: ${{ format('{0} {1} {2}', inputs.auto && 'auto-promote' || 'promote', inputs.stage, "
        "inputs.freight || '(newest)') }}",
        "on:",
        "  workflow_dispatch:",
        "    inputs:",
        "      stage:",
        '        description: "The Stage to promote into"',
        "        type: choice",
        "        required: true",
        "        options:",
        *[f"          - {quoted(s)}" for s in stages],
        "      freight:",
        '        description: "Freight ID, unique ID prefix or alias (empty: the newest available to the Stage)"',
        "        type: string",
        "        required: false",
        '        default: ""',
        "      auto:",
        '        description: "Auto-promotion: decide as `promote --auto` would for this Stage (policy, hold, '
        'selectionPolicy; freight ignored) and set no hold"',
        "        type: boolean",
        "        required: false",
        "        default: false",
        "permissions: {}",
        "concurrency:",
        "  # One promotion per Stage at a time; a running promotion is never cancelled.",
        "  group: kargo-promote-${{ inputs.stage }}",
        "  cancel-in-progress: false",
        "jobs:",
        "  promote:",
        f"    runs-on: {options.runs_on}",
        "    timeout-minutes: 60",
        *environment(project, options, "inputs.stage", job_deployment=own_deployment is False),
        "    permissions:",
        *job_permissions(project, options, deployments=own_deployment),
        *(_promote_outputs(waits) if verified else []),
        "    steps:",
        *checkout_and_setup(options),
        *app_token_step(project, options, deployments=own_deployment),
        *user_region("      ", "before-promote"),
        "      - name: Promote",
        "        id: promote",
        f"        uses: {options.action('promote')}",
        *argocd_env(uses),
        "        with:",
        f"          config-dir: {quoted(options.config_dir)}",
        "          stage: ${{ inputs.stage }}",
        "          freight: ${{ inputs.freight }}",
        "          auto: ${{ inputs.auto }}",
        f"          warehouse: ${{{{ fromJSON('{table}')[inputs.stage] }}}}",
        *(['          verify: "false"'] if verified else []),
        # a step that waits (a pull request, a workflow run) ends the job; kargo-reconcile.yml resumes it
        *(
            ['          wait: "false"', f"          reconcile-workflow: {quoted(RECONCILE_FILE)}"]
            if waits
            else []
        ),
        f"          dispatch-auto-promotions: {quoted(dispatch)}",
        f"          promote-workflow: {quoted(options.promote_workflow)}",
        *token_input(options),
        *user_region("      ", "after-promote"),
        *(_verify_job(project, in_verified, auto, waits, options) if verified else []),
        *dashboard_job("[promote, verify]" if verified else "promote", options),
    ]
    return "\n".join(lines) + "\n"


def _promote_outputs(waits: bool) -> list[str]:
    lines = ["    outputs:", "      promotion: ${{ steps.promote.outputs.promotion }}"]
    return [*lines, "      waiting: ${{ steps.promote.outputs.waiting }}"] if waits else lines


def _verify_job(
    project: Project, in_verified: str, auto: bool, waits: bool, options: WorkflowOptions
) -> list[str]:
    """The verify job: after a promotion into a Stage with verification, its AnalysisTemplates run (the
    verify action) in the Stage's environment (its secrets reach the metrics), then downstream
    auto-promotions are dispatched. A promotion left waiting is not verified here: the reconcile job that
    finishes it verifies it."""
    done = " && needs.promote.outputs.waiting != 'true'" if waits else ""
    permissions = [
        "      contents: write # the verification record and Stage state on the ledger branch",
        "      statuses: write # kargo/verified/<stage> on the Freight's commit",
    ]
    if options.verify_reads_checks:
        permissions.append("      checks: read # the github-checks provider reads the commit's check runs")
    if auto:
        permissions.append("      actions: write # dispatch the promote workflow for downstream Stages")
    # autoRollback: a failed verification promotes the Stage back in this job, with the promote job's rights
    rolls_back = any(
        project.stages[s].spec.verification is not None and project.auto_rollback(s) is not None
        for s in promotable_stages(project)
    )
    if rolls_back:
        permissions = _merged(permissions, job_permissions(project, options))
    return [
        "  verify:",
        "    needs: promote",
        f"    if: needs.promote.outputs.promotion != ''{done} && {in_verified}",
        f"    runs-on: {options.runs_on}",
        "    timeout-minutes: 60",
        *environment(project, options, "inputs.stage"),
        "    permissions:",
        *permissions,
        "    steps:",
        *checkout_and_setup(options),
        *(app_token_step(project, options) if rolls_back else []),
        *user_region("      ", "before-verify"),
        "      - name: Verify",
        "        id: verify",
        f"        uses: {options.action('verify')}",
        *(argocd_env(steps_used(project)) if rolls_back else []),
        "        with:",
        f"          config-dir: {quoted(options.config_dir)}",
        "          stage: ${{ inputs.stage }}",
        f"          dispatch-auto-promotions: {quoted('true' if auto else 'false')}",
        f"          promote-workflow: {quoted(options.promote_workflow)}",
        *(token_input(options) if rolls_back else []),
        *user_region("      ", "after-verify"),
    ]


def _merged(own: list[str], more: list[str]) -> list[str]:
    """`permissions:` lines of both lists, one per scope, `write` winning over `read`."""
    by_scope: dict[str, str] = {}
    for line in [*own, *more]:
        scope = line.split(":", 1)[0].strip()
        kept = by_scope.get(scope)
        if kept is None or (" write" in line.split("#", 1)[0] and " write" not in kept.split("#", 1)[0]):
            by_scope[scope] = line
    return list(by_scope.values())


def dashboard_workflow(options: WorkflowOptions) -> str:
    """The text of kargo-dashboard.yml: `dashboard --out` from the ledger, published to GitHub Pages."""
    lines = [
        *header(options.config_dir, "the static dashboard, published to GitHub Pages"),
        "name: kargo-dashboard",
        "on:",
        "  workflow_call: {} # by the discover and promote workflows when they finish",
        "  workflow_dispatch: {}",
        "permissions: {}",
        "jobs:",
        "  build:",
        f"    runs-on: {options.runs_on}",
        "    timeout-minutes: 15",
        "    permissions:",
        "      contents: read # the manifests and the ledger branch",
        "    steps:",
        *checkout_and_setup(options),
        *user_region("      ", "before-dashboard"),
        "      - name: Build the dashboard",
        f"        uses: {options.action('')}",
        "        with:",
        '          command: "dashboard --out _kargo-dashboard"',
        f"          config-dir: {quoted(options.config_dir)}",
        '          output: "text"',
        "      - name: Upload the site",
        f"        uses: {UPLOAD_PAGES}",
        "        with:",
        '          path: "_kargo-dashboard"',
        "  deploy:",
        "    needs: build",
        f"    runs-on: {options.runs_on}",
        "    timeout-minutes: 15",
        "    concurrency:",
        "      # One deployment at a time; a newer site waits for the running one, then replaces it.",
        "      group: kargo-dashboard-deploy",
        "      cancel-in-progress: false",
        "    permissions:",
        "      pages: write # publish the site",
        "      id-token: write # deploy-pages proves the site's origin with an OIDC token",
        "    environment:",
        "      name: github-pages",
        "      url: ${{ steps.deploy.outputs.page_url }}",
        "    steps:",
        "      - name: Publish to GitHub Pages",
        "        id: deploy",
        f"        uses: {DEPLOY_PAGES}",
    ]
    return "\n".join(lines) + "\n"


def generated_workflows(project: Project, options: WorkflowOptions) -> dict[str, str]:
    """File name -> text with its digest, for every workflow the pipeline needs."""
    from kargo_actions.github.freeze_workflow import FREEZE_FILE, freeze_workflow
    from kargo_actions.github.reconcile_workflow import reconcile_workflow

    files = {
        DISCOVER_FILE: seal(discover_workflow(project, options)),
        PROMOTE_FILE: seal(promote_workflow(project, options)),
        FREEZE_FILE: seal(freeze_workflow(options)),
    }
    # promotion windows: reconcile's schedule runs the auto-promotions they deferred once they open
    if can_wait(project) or project.promotion_windows():
        files[RECONCILE_FILE] = seal(reconcile_workflow(project, options))
    if options.dashboard:
        files[DASHBOARD_FILE] = seal(dashboard_workflow(options))
    return files


def _regions(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """(the lines with every user region emptied, region name -> its lines)."""
    skeleton: list[str] = []
    regions: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if current is None:
            skeleton.append(line)
            begin = _BEGIN.match(line)
            if begin:
                current = begin.group(1)
                regions[current] = []
            continue
        end = _END.match(line)
        if end and end.group(1) == current:
            skeleton.append(line)
            current = None
        else:
            regions[current].append(line)
    return skeleton, regions


def digest(text: str) -> str:
    """sha256 of the generated part: user regions, pinned commits and the digest line itself left out."""
    return _digest(without_pins(text))


def _digest(text: str) -> str:
    skeleton, _ = _regions(_DIGEST.sub("# kargo-actions digest: -", text))
    return "sha256:" + hashlib.sha256("\n".join(skeleton).encode()).hexdigest()


def _recorded_digest_holds(recorded: str, text: str) -> bool:
    """Whether the file is as generated: its digest, or the one of releases whose digest covered the pins."""
    return recorded in (digest(text), _digest(text))


def seal(text: str) -> str:
    """The text with its digest line filled in."""
    return _DIGEST.sub(f"# kargo-actions digest: {digest(text)}", text, count=1)


@struct
class Merge:
    """The outcome of regenerating one file over what is on disk."""

    text: str
    changed: bool
    problem: str = ""  # non-empty: the file was edited outside user regions; `text` is not to be written
    kept_pins: tuple[str, ...] = ()  # the file's pins kept over generated ones (bumped by Dependabot)


def merge(existing: str | None, generated: str, replace_pins: Collection[str] = ()) -> Merge:
    """The new file: `generated` with the user regions and the pins of `existing` carried over (except the
    pins of the repositories in `replace_pins`, given by --uses)."""
    if existing is None:
        return Merge(generated, True)
    recorded = _DIGEST.search(existing)
    if recorded is None or not existing.startswith(GENERATED_MARK):
        return Merge(existing, False, "not generated by kargo-actions (no digest line)")
    if not _recorded_digest_holds(recorded.group(1), existing):
        return Merge(existing, False, "edited outside the `kargo-actions: begin user` regions")
    _, kept = _regions(existing)
    skeleton_lines = generated.splitlines()
    out: list[str] = []
    lost = {name for name, lines in kept.items() if any(line.strip() for line in lines)}
    for line in skeleton_lines:
        out.append(line)
        begin = _BEGIN.match(line)
        if begin and begin.group(1) in kept:
            out.extend(kept[begin.group(1)])
            lost.discard(begin.group(1))
    if lost:
        return Merge(existing, False, f"user region(s) {', '.join(sorted(lost))} no longer exist")
    pinned = keep_pins(existing, "\n".join(out) + "\n", replace_pins)
    return Merge(pinned.text, pinned.text != existing, kept_pins=pinned.kept)


@struct
class WriteReport:
    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    refused: Mapping[str, str] = field(default_factory=dict)
    kept_pins: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # file -> pins kept (see merge)


def write_workflows(
    out_dir: Path,
    files: Mapping[str, str],
    *,
    force: bool = False,
    check: bool = False,
    replace_pins: Collection[str] = (),
) -> WriteReport:
    """Write each file unless a user's edit outside the marked regions would be lost (then refuse it)."""
    written: list[str] = []
    unchanged: list[str] = []
    refused: dict[str, str] = {}
    kept: dict[str, tuple[str, ...]] = {}
    for name, generated in files.items():
        target = out_dir / name
        existing = target.read_text(encoding="utf-8") if target.is_file() else None
        result = merge(existing, generated, replace_pins)
        if result.problem and not force:
            refused[name] = result.problem
            continue
        if result.kept_pins:
            kept[name] = result.kept_pins
        text = generated if result.problem else result.text
        if existing == text:
            unchanged.append(name)
            continue
        written.append(name)
        if not check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return WriteReport(tuple(written), tuple(unchanged), refused, kept)
