"""`kargo-actions workflows`: generate the pipeline's workflows and step actions, dispatch auto-promotions."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kargo_actions.cli.context import AppContext, pass_app
from kargo_actions.cli.ledger_options import ledger_options

if TYPE_CHECKING:
    from kargo_actions.model.analysis import AnalysisTemplate, ClusterAnalysisTemplate
    from kargo_actions.model.project import Project


@click.group("workflows")
def workflows_group() -> None:
    """GitHub workflows and actions of the pipeline: generate them, dispatch auto-promotions."""


def _origin_url(repo: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "remote", "get-url", "origin"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def _uses_github_checks(project: Project) -> bool:
    """Whether an (Cluster)AnalysisTemplate measures with the github-checks provider (the verify job then
    reads check runs)."""
    from kargo_actions.verification.templates import provider_kind

    templates: list[AnalysisTemplate | ClusterAnalysisTemplate] = [
        *project.analysis_templates.values(),
        *project.cluster_analysis_templates.values(),
    ]
    return any(provider_kind(m) == "github-checks" for t in templates for m in t.spec.metrics)


@workflows_group.command("generate")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the workflows go.  [default: REPO/.github/workflows]",
)
@click.option(
    "--uses",
    default=None,
    metavar="OWNER/REPO@SHA",
    help="The kargo-actions the workflows call: OWNER/REPO@<40-hex commit> (an optional `# vX.Y.Z` "
    "comment) or ./PATH to a checkout (env KARGO_ACTIONS_USES).  [default: the installed release's commit "
    "with a `# vX.Y.Z` comment; from a development checkout, its HEAD]",
)
@click.option(
    "--allow-unpinned",
    is_flag=True,
    help="Accept a tag or branch as --uses (zizmor flags it: whoever moves it changes what your jobs run).",
)
@click.option("--runs-on", default="ubuntu-latest", show_default=True, help="The jobs' runner label.")
@click.option(
    "--repository-url",
    default=None,
    help="This repository's URL: its git subscriptions trigger discovery on push.  [default: the origin remote]",
)
@click.option(
    "--dashboard",
    is_flag=True,
    help="Also kargo-dashboard.yml: the static dashboard built after every discovery and promotion and "
    "published to GitHub Pages (Settings > Pages > Source: GitHub Actions).",
)
@click.option(
    "--github-app/--no-github-app",
    default=None,
    help="The promote and reconcile jobs use a GitHub App's token (actions/create-github-app-token), so "
    "their pushes and pull requests start workflows and required checks report.  [default: when Settings "
    "githubApp is set; it names the App's variable and secret, else KARGO_APP_ID and KARGO_APP_PRIVATE_KEY]",
)
@click.option(
    "--job-deployments",
    is_flag=True,
    help="Let the jobs' `environment:` make GitHub's own deployment too, for GitHub Enterprise Server and "
    "act, which refuse `deployment: false`; a promotion then shows as more than one deployment.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a workflow is missing or stale.")
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite workflows edited outside their `kargo-actions: begin user` regions.",
)
@pass_app
def generate_command(
    app: AppContext,
    /,
    out_dir: Path | None,
    uses: str | None,
    allow_unpinned: bool,
    runs_on: str,
    repository_url: str | None,
    dashboard: bool,
    github_app: bool | None,
    job_deployments: bool,
    check: bool,
    force: bool,
) -> int:
    """Write kargo-discover.yml and kargo-promote.yml (and kargo-reconcile.yml, kargo-dashboard.yml).

    kargo-reconcile.yml comes when a promotion can wait (git-wait-for-pr, git-merge-pr,
    gha-wait-for-workflow, http, argocd-wait): the promote job then leaves it Running (`promote
    --no-wait`) and kargo-reconcile.yml resumes it on the event that can move it.

    Regenerating gives the same files. Steps between `# kargo-actions: begin user NAME` and `# kargo-actions:
    end user NAME` are yours and are kept; so are the commits of pinned `uses:` lines (and their `# vX.Y.Z`
    comments) that Dependabot or Renovate bumped, unless this version's pin is newer or --uses names one. An
    edit anywhere else makes this refuse the file (exit 2) unless --force, which drops it.
    """
    from kargo_actions.errors import InvalidInputError, Problem
    from kargo_actions.github.deployment_links import environment_url_problems
    from kargo_actions.github.pins import default_uses, parse_uses
    from kargo_actions.github.workflow_parts import deployment_maker
    from kargo_actions.github.workflows import WorkflowOptions, generated_workflows, write_workflows
    from kargo_actions.manifests import load_project
    from kargo_actions.model.settings import GitHubApp

    from_env = os.environ.get("KARGO_ACTIONS_USES", "")
    if uses or from_env:
        source = "--uses" if uses else "KARGO_ACTIONS_USES"
        chosen = parse_uses(uses or from_env, allow_unpinned=allow_unpinned, source=source)
    else:
        chosen = default_uses()
    project = load_project(app.config_dir)
    problems = environment_url_problems(project)
    if problems:
        raise InvalidInputError(problems)
    spec = project.settings.spec
    app_settings = spec.github_app
    if github_app is None:
        github_app = app_settings is not None
    config_dir = app.config_dir
    try:
        shown = config_dir.resolve().relative_to(app.repo.resolve()).as_posix()
    except ValueError:
        shown = str(config_dir)
    options = WorkflowOptions(
        uses=chosen.value,
        config_dir=shown,
        runs_on=runs_on,
        repository_url=_origin_url(app.repo) if repository_url is None else repository_url,
        dashboard=dashboard,
        github_app=(app_settings or GitHubApp()) if github_app else None,
        reconcile_interval=spec.reconcile_interval,
        workflows_dir=str(out_dir or app.repo / ".github" / "workflows"),
        job_deployments=job_deployments,
        verify_reads_checks=_uses_github_checks(project),
        deployments=deployment_maker(project, os.environ),
    )
    if chosen.note:
        click.echo(chosen.note, err=True)
    target = out_dir or app.repo / ".github" / "workflows"
    replace = [chosen.pinned_repository] if chosen.explicit and chosen.pinned_repository else []
    files = generated_workflows(project, options)
    report = write_workflows(target, files, force=force, check=check, replace_pins=replace)
    for name, pins in report.kept_pins.items():
        click.echo(
            f"note: kept {', '.join(pins)} in {name}: the file's own pin, bumped since and not older by its "
            "version comment (pass --uses to replace kargo-actions' pin)",
            err=True,
        )
    if app.json:
        app.emit_json(
            {
                "uses": chosen.value,
                "written": list(report.written),
                "unchanged": list(report.unchanged),
                "refused": dict(report.refused),
                "keptPins": {name: list(pins) for name, pins in report.kept_pins.items()},
            }
        )
    else:
        for name in report.written:
            click.echo(f"{'stale' if check else 'wrote'} {target / name}")
        for name in report.unchanged:
            click.echo(f"unchanged {target / name}")
    if report.refused:
        raise InvalidInputError(
            [
                Problem(
                    file=str(target / name),
                    message=f"not overwritten: {why}",
                    hint="move your edits between `kargo-actions: begin user` lines, or pass --force to drop them",
                )
                for name, why in report.refused.items()
            ]
        )
    return 1 if check and report.written else 0


@workflows_group.command("generate-actions")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the per-step actions go.  [default: REPO/actions/steps]",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when an action is missing or stale.")
@pass_app
def generate_actions_command(app: AppContext, /, out_dir: Path | None, check: bool) -> int:
    """Write actions/steps/<step>/action.yml for every built-in step (inputs = config fields, outputs = outputs)."""
    from kargo_actions.promotion.step_actions import generate

    target = out_dir or app.repo / "actions" / "steps"
    report = generate(target, check=check)
    changed = report.stale if check else (*report.written, *report.removed)
    if app.json:
        app.emit_json({"stale" if check else "written": list(changed)})
    else:
        for name in changed:
            click.echo(f"{'stale' if check else 'wrote'} {target / name}")
    return 1 if check and report.stale else 0


@workflows_group.command("dispatch")
@click.option(
    "--workflow",
    default="kargo-promote.yml",
    show_default=True,
    help="The promote workflow (file name or id) to dispatch.",
)
@click.option(
    "--after-stage",
    metavar="STAGE",
    default=None,
    help="Only Stages fed by STAGE (after its promotion).  [default: every Stage, as after discovery]",
)
@click.option(
    "--ref",
    default=None,
    help="The branch or tag the runs start on.  [default: GITHUB_REF's branch or tag]",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; dispatch nothing.")
@ledger_options
@pass_app
def dispatch_command(
    app: AppContext,
    /,
    workflow: str,
    after_stage: str | None,
    ref: str | None,
    dry_run: bool,
    **ledger_opts: str | None,
) -> int:
    """Dispatch the promote workflow for every Stage that auto-promotes and has new Freight to take.

    Events made with GITHUB_TOKEN start no workflow, workflow_dispatch excepted: so discovery and each
    promotion end with this. The Freight is chosen as `promote --auto` would choose it (selection policy,
    availability, holds); a Stage already holding it is skipped. Needs `actions: write`.
    """
    from kargo_actions.cli.ledger_options import open_project_ledger
    from kargo_actions.errors import InvalidInputError, Problem
    from kargo_actions.manifests import load_project
    from kargo_actions.promotion.dispatch import dispatch_all, plan_dispatches

    project = load_project(app.config_dir)
    with open_project_ledger(app, project.settings, **ledger_opts) as ledger:
        plan = plan_dispatches(project, ledger, after_stage)
    started: dict[str, str] = {}
    if not dry_run and any(not d.skipped for d in plan):
        from kargo_actions.github.client import GitHubClient

        # the branch (or tag) name, as the dispatch API documents its `ref`
        where = ref or os.environ.get("GITHUB_REF", "").removeprefix("refs/heads/").removeprefix("refs/tags/")
        if not where:
            raise InvalidInputError(
                [
                    Problem(
                        path="--ref",
                        message="no ref to dispatch on",
                        hint="pass --ref BRANCH or set GITHUB_REF",
                    )
                ]
            )
        client = GitHubClient.from_env()
        started = {d.stage: url for d, url in dispatch_all(plan, workflow, where, client)}
    if app.json:
        app.emit_json([{**d.to_json(), "run": started.get(d.stage, "")} for d in plan])
    else:
        for d in plan:
            if d.skipped:
                click.echo(f"{d.stage}: not dispatched ({d.skipped})")
            else:
                verb = "would dispatch" if dry_run else "dispatched"
                click.echo(
                    f"{d.stage}: {verb} {workflow} with Freight {d.freight[:12]} {started.get(d.stage, '')}"
                )
    return 0
