"""`kargo-actions github ...`: GitHub repository settings that enforce the pipeline's gates."""

from __future__ import annotations

import os

import click

from kargo_actions.cli.context import AppContext, pass_app


@click.group("github")
def github_group() -> None:
    """GitHub settings of the repository: environments per Stage and rulesets for the gates."""


def _repository(app: AppContext, repository: str) -> str:
    """--repository, else GITHUB_REPOSITORY, else OWNER/NAME of the pipeline repository's origin remote."""
    from kargo_actions.errors import InvalidInputError, Problem

    chosen = repository or os.environ.get("GITHUB_REPOSITORY", "")
    if chosen:
        return chosen
    import subprocess

    from kargo_actions.github.repourl import repository_from_url

    found = subprocess.run(
        ["git", "-C", str(app.repo), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return repository_from_url(found.stdout.strip()) if found.returncode == 0 else ""
    except ValueError:
        pass
    raise InvalidInputError(
        [
            Problem(
                path="--repository",
                message="no GitHub repository given",
                hint="pass --repository OWNER/NAME or set GITHUB_REPOSITORY",
            )
        ]
    )


@github_group.command("sync")
@click.option(
    "--plan", "mode", flag_value="plan", default=True, help="Print what would change; change nothing."
)
@click.option(
    "--apply", "mode", flag_value="apply", help="Make the changes (a second --apply changes nothing)."
)
@click.option(
    "--repository",
    default="",
    help="OWNER/NAME on GitHub.  [default: GITHUB_REPOSITORY, else the origin remote of --repo]",
)
@pass_app
def sync_command(app: AppContext, mode: str, repository: str) -> int:
    """Environments per Stage (reviewers, wait timer, deployment refs from the Settings manifest) and rulesets
    requiring kargo/gate on promotion PR target branches and protecting Freight tags.

    Needs a token with `administration: write` (a GitHub App or a fine-grained PAT; GITHUB_TOKEN cannot).
    """
    from kargo_actions.github import sync
    from kargo_actions.github.client import GitHubClient
    from kargo_actions.github.sync import apply_sync, plan_sync
    from kargo_actions.manifests import load_project
    from kargo_actions.promotion.github_wanted import wanted_state

    project = load_project(app.config_dir)
    client = GitHubClient.from_env(_repository(app, repository), options=sync.CLIENT_OPTIONS)
    plan = plan_sync(client, wanted_state(project))
    if mode == "plan":
        if app.json:
            app.emit_json({"mode": "plan", **plan.to_json()})
        else:
            click.echo(plan.text())
        return 0
    done = apply_sync(client, plan)
    if app.json:
        app.emit_json({"mode": "apply", **plan.to_json(), "applied": len(done)})
    else:
        click.echo(plan.text())
        click.echo(f"applied {len(done)} change(s) to {plan.repository}")
    return 0
