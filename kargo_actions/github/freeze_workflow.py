"""kargo-freeze.yml: stop the line from the Actions tab (`freeze` / `unfreeze`, promotion/freezes.py).

An incident commander runs it by hand (workflow_dispatch): the Stages (or all), the reason, an optional
end; or `unfreeze` to lift it. The freeze is a ledger record, so it holds every pipeline run from then on:
promote jobs refuse (exit 3), auto-promotions are deferred until it is lifted.
"""

from __future__ import annotations

from kargo_actions.github.workflow_parts import (
    WorkflowOptions,
    checkout_and_setup,
    header,
    quoted,
    user_region,
)

FREEZE_FILE = "kargo-freeze.yml"


def freeze_workflow(options: WorkflowOptions) -> str:
    """The text of kargo-freeze.yml (digest not yet filled in)."""
    lines = [
        *header(options.config_dir, "stop the line: freeze or unfreeze Stages by hand"),
        "name: kargo-freeze",
        "run-name: ${{ format('{0} {1}', inputs.unfreeze && 'unfreeze' || 'freeze', inputs.stages) }}",
        "on:",
        "  workflow_dispatch:",
        "    inputs:",
        "      stages:",
        '        description: "Stages to freeze or unfreeze, separated by spaces or commas; all: every Stage"',
        "        type: string",
        "        required: true",
        '        default: "all"',
        "      reason:",
        '        description: "Why (required to freeze): shown in every refusal, status, dashboard and summaries"',
        "        type: string",
        "        required: false",
        '        default: ""',
        "      until:",
        '        description: "When the freeze ends by itself: RFC 3339 time or a duration (2h); empty: until unfrozen"',
        "        type: string",
        "        required: false",
        '        default: ""',
        "      unfreeze:",
        '        description: "Lift the freeze of these Stages instead of setting one"',
        "        type: boolean",
        "        required: false",
        "        default: false",
        "permissions: {}",
        "concurrency:",
        "  group: kargo-freeze",
        "  cancel-in-progress: false",
        "jobs:",
        "  freeze:",
        f"    runs-on: {options.runs_on}",
        "    timeout-minutes: 10",
        "    permissions:",
        "      contents: write # the freeze record on the ledger branch",
        "      actions: write # unfreeze: dispatch the promote workflow for auto-promotions the freeze deferred",
        "    steps:",
        *checkout_and_setup(options),
        *user_region("      ", "before-freeze"),
        "      - name: Freeze",
        f"        uses: {options.action('freeze')}",
        "        with:",
        f"          config-dir: {quoted(options.config_dir)}",
        "          stages: ${{ inputs.stages }}",
        "          reason: ${{ inputs.reason }}",
        "          until: ${{ inputs.until }}",
        "          unfreeze: ${{ inputs.unfreeze }}",
        f"          dispatch-workflow: {quoted(options.promote_workflow)}",
        *user_region("      ", "after-freeze"),
    ]
    return "\n".join(lines) + "\n"
