#!/usr/bin/env bash
# Run one kargo-actions command for an action: `run.sh COMMAND [ARGS...]`.
# Secrets are masked before anything runs (env.sh); with KA_OUTPUT=json (the default) the command's JSON
# result is printed and turned into step outputs (freight, promotion, status, exit-code, result), written
# to $GITHUB_OUTPUT with random heredoc delimiters by kargo_actions.github.output. Exits with the command's code.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
format="${KA_OUTPUT:-json}"
result="$(mktemp "${RUNNER_TEMP:-/tmp}/kargo-result.XXXXXX")"
set +e
kargo-actions -o "$format" "$@" >"$result"
code=$?
set -e
cat "$result"
# The interpreter kargo-actions runs in (setup puts its environment's bin first on PATH).
python="$(dirname "$(command -v kargo-actions)")/python"
if [ ! -x "$python" ]; then python=python3; fi
if [ "$format" = json ]; then
  "$python" -m kargo_actions.github.output "$code" "$result"
else
  "$python" -m kargo_actions.github.output "$code"
fi
exit "$code"
