#!/usr/bin/env bash
# Fetch GitHub's OpenAPI description (npm @octokit/openapi) that the GitHub test server is validated against.
# Usage: scripts/fetch-github-openapi.sh [DEST]  (default: .venv/cache/octokit-openapi-VERSION/api.github.com.json)
set -euo pipefail
version=23.0.2
cd "$(dirname "$0")/.."
dest=${1:-.venv/cache/octokit-openapi-$version/api.github.com.json}
[ -s "$dest" ] && exit 0
command -v npm >/dev/null || { echo "npm is needed to fetch @octokit/openapi@$version" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@octokit/openapi@$version" >/dev/null)
tar -xzf "$work"/octokit-openapi-$version.tgz -C "$work" package/generated/api.github.com.json
mkdir -p "$(dirname "$dest")"
mv "$work/package/generated/api.github.com.json" "$dest"
echo "fetched $dest"
