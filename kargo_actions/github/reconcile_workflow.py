"""kargo-reconcile.yml: resume promotions waiting on a step, on the event that can move them.

A promotion whose step waits (a pull request, a workflow run, an HTTP check) is recorded Running by
`promote --no-wait` and the job ends. This workflow runs `reconcile` when such a wait may be over: a
promotion pull request of this repository closed, a workflow a gha-dispatch-workflow step starts
completed, a `kargo-reconcile` repository_dispatch (another repository's pull request merged), and on a
schedule (Settings reconcileInterval) as a safety net. A plan job finds the Stages that can move; one job
per Stage resumes them in `environment: <stage>` and in the promote workflow's concurrency group. No
dashboard job: a reusable workflow called on workflow_run could write caches (actionlint's
cache-call-unrestricted); the next discovery or promotion publishes the dashboard.
"""

from __future__ import annotations

from pathlib import Path

from kargo_actions.github.workflow_parts import (
    RECONCILE_EVENT,
    WorkflowOptions,
    app_token_step,
    argocd_env,
    auto_promotes,
    checkout_and_setup,
    cron_for,
    environment,
    header,
    job_permissions,
    quoted,
    step_configs,
    steps_used,
    token_input,
    user_region,
)
from kargo_actions.model.project import Project

# The branch git-push's generateTargetBranch pushes a promotion to (kargo/promotion/<promotion name>).
PROMOTION_BRANCH_PREFIX = "kargo/promotion/"
# On a pull_request event the ref is the pull request's merge ref, gone once it is closed: check out the
# default branch, where the manifests are; other events run on the branch they name.
_REF = "${{ github.event_name == 'pull_request' && github.event.repository.default_branch || '' }}"


def _literal(value: object) -> str | None:
    """The value when it is a plain string, not an expression evaluated at promotion time."""
    return value if isinstance(value, str) and value and "${{" not in value else None


def promotion_pr_branches(project: Project) -> list[str]:
    """Source branches the git-open-pr steps name literally (besides kargo/promotion/*)."""
    found = {_literal(c.get("sourceBranch")) for c in step_configs(project, "git-open-pr")}
    return sorted(b for b in found if b is not None and not b.startswith(PROMOTION_BRANCH_PREFIX))


def dispatched_workflows(project: Project, options: WorkflowOptions) -> tuple[list[str], bool]:
    """(names of the workflows of this repository gha-dispatch-workflow steps start, whether some step names
    its workflow only by an expression). workflow_run matches workflows by name: a workflow file's `name:`,
    or its path when it has none."""
    from kargo_actions.freight.identity import normalize_git_url

    own = normalize_git_url(options.repository_url) if options.repository_url else ""
    names: list[str] = []
    unknown = False
    for config in step_configs(project, "gha-dispatch-workflow"):
        file, repo_url = _literal(config.get("workflowFile")), _literal(config.get("repoURL"))
        if file is None or repo_url is None:
            unknown = True
            continue
        if own and normalize_git_url(repo_url) != own:
            continue  # another repository's runs send no workflow_run here
        name = _workflow_name(options.workflows_dir, file)
        if name not in names:
            names.append(name)
    return sorted(names), unknown


def _workflow_name(workflows_dir: str, file: str) -> str:
    path = f".github/workflows/{file}"
    if not workflows_dir or file.isdigit():
        return path
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        document = YAML(typ="safe", pure=True).load((Path(workflows_dir) / file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError):
        return path
    name = document.get("name") if isinstance(document, dict) else None
    return name if isinstance(name, str) and name else path


def _pull_request_filter(project: Project) -> str:
    heads = [f"startsWith(github.event.pull_request.head.ref, '{PROMOTION_BRANCH_PREFIX}')"]
    # an expression's string literal doubles its quotes
    heads += [
        "github.event.pull_request.head.ref == '{}'".format(b.replace("'", "''"))
        for b in promotion_pr_branches(project)
    ]
    return (
        "github.event_name != 'pull_request' || (github.event.pull_request.head.repo.full_name == "
        f"github.repository && ({' || '.join(heads)}))"
    )


def _triggers(project: Project, options: WorkflowOptions) -> list[str]:
    lines = [
        "on:",
        "  pull_request:",
        "    # a promotion pull request merged (or closed): the plan job starts only for promotion branches",
        "    types: [closed]",
    ]
    if "gha-wait-for-workflow" in steps_used(project):
        names, unknown = dispatched_workflows(project, options)
        if names:
            lines += [
                "  workflow_run: # zizmor: ignore[dangerous-triggers] runs nothing of the run; reads its id",
                "    # the workflows gha-dispatch-workflow steps start (by name; a file without `name:` is its path)",
                "    workflows:",
                *[f"      - {quoted(n)}" for n in names],
                "    types: [completed]",
            ]
        else:
            why = "name their workflow by expression" if unknown else "start workflows of other repositories"
            lines.append(f"  # no workflow_run: the gha-dispatch-workflow steps {why}; the schedule resumes")
    lines += [
        "  repository_dispatch:",
        "    # another repository's promotion pull request merged (docs/github.md): event_type "
        f"{RECONCILE_EVENT},",
        '    # client_payload {"stage": "STAGE"} (optional: default every Stage).',
        f"    types: [{RECONCILE_EVENT}]",
        "  schedule:",
        f"    - cron: {quoted(cron_for(options.reconcile_interval))} # Settings reconcileInterval "
        f"({options.reconcile_interval}): the safety net",
        "  workflow_dispatch:",
        "    inputs:",
        "      stage:",
        '        description: "Only this Stage (empty: every Stage with a promotion that can move)"',
        "        type: string",
        "        required: false",
        '        default: ""',
    ]
    return lines


def reconcile_workflow(project: Project, options: WorkflowOptions) -> str:
    """The text of kargo-reconcile.yml (digest not yet filled in)."""
    uses = steps_used(project)
    auto = auto_promotes(project)
    lines = [
        *header(options.config_dir, "resume promotions waiting on a pull request, a workflow run or a check"),
        "name: kargo-reconcile",
        *_triggers(project, options),
        "permissions: {}",
        "jobs:",
        "  plan:",
        f"    if: {_pull_request_filter(project)}",
        f"    runs-on: {options.runs_on}",
        "    timeout-minutes: 10",
        "    permissions:",
        "      contents: read # the manifests and the ledger branch",
        "    outputs:",
        "      stages: ${{ steps.plan.outputs.stages }}",
        "    steps:",
        *checkout_and_setup(options, _REF),
        "      - name: Plan",
        "        id: plan",
        f"        uses: {options.action('reconcile')}",
        "        with:",
        f"          config-dir: {quoted(options.config_dir)}",
        "          stage: ${{ inputs.stage }}",
        '          plan: "true"',
        "  resume:",
        "    needs: plan",
        "    if: needs.plan.outputs.stages != '' && needs.plan.outputs.stages != '[]'",
        "    strategy:",
        "      fail-fast: false",
        "      matrix:",
        "        stage: ${{ fromJSON(needs.plan.outputs.stages) }}",
        "    concurrency:",
        "      # the promote workflow's group: a resume and a promotion of one Stage never run at once",
        "      group: kargo-promote-${{ matrix.stage }}",
        "      cancel-in-progress: false",
        f"    runs-on: {options.runs_on}",
        "    timeout-minutes: 60",
        "    # the Stage's environment secrets (ARGOCD_AUTH_TOKEN); its required reviewers are asked again",
        *environment(project, options, "matrix.stage"),
        "    permissions:",
        # a promotion resumed to its end is verified here (github-checks metrics read check runs)
        *job_permissions(project, options, verifies=True),
        "    steps:",
        *checkout_and_setup(options, _REF),
        *app_token_step(project, options, verifies=True),
        *user_region("      ", "before-reconcile"),
        "      - name: Resume",
        "        id: reconcile",
        f"        uses: {options.action('reconcile')}",
        *argocd_env(uses),
        "        with:",
        f"          config-dir: {quoted(options.config_dir)}",
        "          stage: ${{ matrix.stage }}",
        *([f"          dispatch-workflow: {quoted(options.promote_workflow)}"] if auto else []),
        *token_input(options),
        *user_region("      ", "after-reconcile"),
    ]
    return "\n".join(lines) + "\n"
