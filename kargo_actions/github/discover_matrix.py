"""kargo-discover.yml's jobs when one job is not enough (more Warehouses than Settings
discoveryShardThreshold): a plan job runs `discover --plan-groups` on the event, and a matrix job per
Warehouse group it names discovers that group with its own caches (discovery/shards.py).

Each group keeps KARGO_ACTIONS_CACHE (git mirrors, registry metadata, chart indexes) with actions/cache
under a key of its sources, so the next run of the group starts warm; every group records its Freight by
compare-and-swap on the ledger, and `fail-fast: false` lets the others finish when one fails, whose
Warehouses its job summary names as not discovered.
"""

from __future__ import annotations

from kargo_actions.github.workflow_parts import WorkflowOptions, checkout_and_setup, quoted, user_region

CACHE = "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3"
CACHE_DIR = "${{ runner.temp }}/kargo-actions-cache"
PLAN = "fromJSON(needs.plan.outputs.plan)"


def sharded_discover_jobs(options: WorkflowOptions, auto: bool) -> list[str]:
    """The `plan` and `discover` jobs (the plan reads what a dispatch names from the event itself)."""
    return [
        "  plan:",
        f"    runs-on: {options.runs_on}",
        "    timeout-minutes: 10",
        "    permissions:",
        "      contents: read # the manifests",
        "    outputs:",
        "      plan: ${{ steps.plan.outputs.result }}",
        "    steps:",
        *checkout_and_setup(options),
        "      - name: Plan the Warehouse groups this event concerns",
        "        id: plan",
        f"        uses: {options.action('')}",
        "        with:",
        '          command: "discover --plan-groups"',
        f"          config-dir: {quoted(options.config_dir)}",
        '          output: "json"',
        "  discover:",
        "    needs: plan",
        f"    if: ${{{{ {PLAN}.count > 0 }}}}",
        "    name: discover ${{ matrix.group }}",
        f"    runs-on: {options.runs_on}",
        "    timeout-minutes: 30",
        "    strategy:",
        "      fail-fast: false # a failed group leaves the others' Freight recorded",
        "      matrix:",
        f"        include: ${{{{ {PLAN}.groups }}}}",
        "    permissions:",
        "      contents: write # Freight tags and the ledger branch",
        *(
            ["      actions: write # dispatch the promote workflow for Stages that auto-promote"]
            if auto
            else []
        ),
        "    steps:",
        *checkout_and_setup(options),
        "      - name: Restore the group's discovery caches",
        f"        uses: {CACHE}",
        "        with:",
        f"          path: {CACHE_DIR}",
        "          key: kargo-discover-${{ matrix.key }}-${{ github.run_id }}-${{ github.run_attempt }}",
        "          restore-keys: kargo-discover-${{ matrix.key }}-",
        *user_region("      ", "before-discover"),
        "      - name: Discover",
        "        id: discover",
        f"        uses: {options.action('discover')}",
        "        env:",
        f"          KARGO_ACTIONS_CACHE: {CACHE_DIR}",
        "        with:",
        f"          config-dir: {quoted(options.config_dir)}",
        "          warehouses: ${{ matrix.warehouses }}",
        "          signing-key: ${{ secrets.KARGO_SIGNING_KEY }} # Freight tags are signed when it is set",
        f"          dispatch-auto-promotions: {quoted('true' if auto else 'false')}",
        f"          promote-workflow: {quoted(options.promote_workflow)}",
        *user_region("      ", "after-discover"),
        "      - name: Name the Warehouses not discovered",
        "        if: ${{ failure() }}",
        "        env:",
        "          KA_GROUP: ${{ matrix.group }}",
        "          KA_WAREHOUSES: ${{ matrix.warehouses }}",
        "          KA_EXIT: ${{ steps.discover.outputs.exit-code }}",
        "        run: |",
        '          if [ "$KA_EXIT" = 1 ]; then',
        '            what="of $KA_WAREHOUSES, those with a failed subscription (the table above); the others are recorded"',
        "          else",
        '            what="$KA_WAREHOUSES"',
        "          fi",
        '          printf \'### %s: Warehouses not discovered\\n\\n%s\\n\' "$KA_GROUP" "$what" >>"$GITHUB_STEP_SUMMARY"',
        '          echo "::error title=kargo-discover $KA_GROUP::not discovered: $what"',
    ]
