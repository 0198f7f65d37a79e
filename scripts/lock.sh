#!/usr/bin/env bash
# Compile the hashed lock files in requirements/ from pyproject.toml with `uv pip compile` (universal: one
# file for every platform and Python >= 3.11; every artifact's sha256):
#   requirements/run.txt     the package's dependencies           (actions/setup)
#   requirements/render.txt  those plus the extra render          (actions/setup, scripts/demo.sh)
#   requirements/dev.txt     everything: extras dev and render    (scripts/test.sh)
# run.txt and render.txt take their versions from dev.txt, so the three agree. Versions already pinned are
# kept while pyproject.toml allows them; to move them, delete requirements/ first (or pass --upgrade).
# Run it after changing a dependency in pyproject.toml. `--check` writes nothing and exits 1 when the
# files are out of date (tests/project/test_lock.py runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
uv="$PWD/.venv/bin/uv"
if [ ! -x "$uv" ]; then uv="$(command -v uv || true)"; fi
if [ -z "$uv" ]; then
  echo "uv is needed: pip install -e '.[dev]' (it is a dev dependency)" >&2
  exit 2
fi

check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
# --check compiles in a copy, starting from the committed pins as uv would, and compares.
work=.
if [ "$check" = 1 ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp pyproject.toml "$work/"
  if [ -d requirements ]; then cp -R requirements "$work/"; fi
fi

compile() {
  (cd "$work" && "$uv" pip compile pyproject.toml --universal --generate-hashes --quiet \
    --python-version 3.11 --custom-compile-command "bash scripts/lock.sh" "$@")
}
mkdir -p "$work/requirements"
compile --extra dev --extra render -o requirements/dev.txt "$@"
compile -c requirements/dev.txt -o requirements/run.txt "$@"
compile --extra render -c requirements/dev.txt -o requirements/render.txt "$@"

if [ "$check" = 1 ]; then
  if ! diff -ru requirements "$work/requirements" >&2; then
    echo "requirements/ is out of date with pyproject.toml: run \`bash scripts/lock.sh\` and commit requirements/" >&2
    exit 1
  fi
  echo "requirements/ is current with pyproject.toml"
fi
