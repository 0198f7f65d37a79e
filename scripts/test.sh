#!/usr/bin/env bash
# Install everything the test suite needs, then run lint, types and every test.
# As root on Debian, missing system packages (git server tools, registry, skopeo, helm deps) come from apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

system_packages=(git openssh-client gnupg docker-registry skopeo apache2-utils prometheus chromium)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for pkg in "${system_packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

python3 -m venv .venv
# The locked versions, every hash checked (requirements/dev.txt, refreshed by scripts/lock.sh), then the
# package itself, editable.
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/dev.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
# GitHub's OpenAPI description for the GitHub test server's contract checks (npm, cached in .venv)
bash scripts/fetch-github-openapi.sh || echo "warning: could not fetch @octokit/openapi; tests/github will skip (fail under CI=true)" >&2

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
set +e
.venv/bin/pytest -n 2 -q "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
