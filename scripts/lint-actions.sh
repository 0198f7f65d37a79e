#!/usr/bin/env bash
# zizmor and actionlint over every action and workflow the repository tracks (the lint job of ci.yml).
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t workflows < <(git ls-files -- '.github/workflows/*.yml' '.github/workflows/*.yaml' \
  '*/.github/workflows/*.yml' '*/.github/workflows/*.yaml')
mapfile -t actions < <(git ls-files -- 'action.yml' 'action.yaml' '*/action.yml' '*/action.yaml')
if [ ${#workflows[@]} -eq 0 ]; then
  echo "no workflows found: run this from a git checkout" >&2
  exit 2
fi

# With a token zizmor also runs its online audits (impostor commits, a pin's comment naming another tag).
offline=()
if [ -z "${GH_TOKEN:-}" ]; then
  unset GH_TOKEN
  offline=(--offline)
fi
echo "zizmor: ${#workflows[@]} workflows, ${#actions[@]} actions"
zizmor --persona regular "${offline[@]}" "${workflows[@]}" "${actions[@]}"
echo "actionlint: ${#workflows[@]} workflows"
actionlint "${workflows[@]}"
