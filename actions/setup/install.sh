#!/usr/bin/env bash
# Install kargo-actions from this action's own checkout into a virtual environment and put it on PATH.
#
# The environment holds only the dependencies (from pyproject.toml, installed by uv when it is there, else
# pip); the package itself is this checkout, linked by a .pth file, so a cached environment never runs
# stale code. KARGO_ACTIONS_VENV names the environment's folder (actions/cache restores it); a folder
# whose stamp matches pyproject.toml (and uv.lock) is used as it is: the warm path spawns no installer.
#   --if-missing   do nothing when `kargo-actions` already runs (the other actions call this)
set -euo pipefail

if [ "${1:-}" = "--if-missing" ] && command -v kargo-actions >/dev/null 2>&1; then
  exit 0
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${KARGO_ACTIONS_PYTHON:-python3}"
venv="${KARGO_ACTIONS_VENV:-${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/kargo-actions-venv}"
stamp="$({ cat "$root/pyproject.toml"; cat "$root/uv.lock" 2>/dev/null || true; } | sha256sum | cut -c1-16)-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

if [ "$(cat "$venv/.kargo-actions-stamp" 2>/dev/null || true)" != "$stamp" ]; then
  rm -rf "$venv"
  requirements="$(mktemp)"
  "$python" - "$root/pyproject.toml" >"$requirements" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
PY
  if command -v uv >/dev/null 2>&1; then
    uv venv --quiet --python "$python" "$venv"
    uv pip install --quiet --python "$venv/bin/python" -r "$requirements"
  else
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  fi
  rm -f "$requirements"
  echo "$stamp" >"$venv/.kargo-actions-stamp"
fi

# The package from this checkout, and a console script calling it.
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$root" >"$site/kargo_actions_checkout.pth"
cat >"$venv/bin/kargo-actions" <<SH
#!/bin/sh
exec "$venv/bin/python" -m kargo_actions "\$@"
SH
chmod +x "$venv/bin/kargo-actions"

if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$venv/bin" >>"$GITHUB_PATH"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "venv=$venv" >>"$GITHUB_OUTPUT"
fi
export PATH="$venv/bin:$PATH"
echo "kargo-actions $("$venv/bin/kargo-actions" --version | awk '{print $NF}') from $root in $venv"
