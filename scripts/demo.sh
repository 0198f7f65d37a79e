#!/usr/bin/env bash
# Install kargo-actions (with its renderers, the extra render) into .venv and run it on the bundled demo
# pipeline (examples/image-updater): validate the Kargo manifests, draw the pipeline, assemble a Freight
# (dry run) from a sample image, then the full local demo (`kargo-actions demo`): a registry and a git
# server on free ports of 127.0.0.1, demo image tags pushed with skopeo, `discover` creating Freight,
# `promote` test -> uat (prod refused by its soak gate), `status`.
# Run as root, it installs docker-registry, skopeo and git with apt-get when they are missing.
# Needs python3 (>= 3.11) with venv; no network beyond the Python and Debian package indexes, no GitHub account.
# `bash scripts/demo.sh --keep` leaves the servers running for the README's tour until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
# The locked versions with the renderers, every hash checked (requirements/render.txt), then the package.
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/render.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
ka() { .venv/bin/kargo-actions --repo examples/image-updater "$@"; }

echo "== validate the pipeline's manifests"
ka validate
echo
echo "== the pipeline (Mermaid)"
ka graph --format mermaid
echo
echo "== a Freight assembled from one image (dry run: nothing recorded)"
ka --output json freight assemble --warehouse web --dry-run \
  --image "localhost:5000/demo/web:1.0.0@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
echo
missing=()
for tool in docker-registry skopeo git; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing ${missing[*]} with apt-get (run as root)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  missing=()
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "== discovery demo skipped: ${missing[*]} not installed"
  echo "   install them (Debian: sudo apt-get install ${missing[*]}) and rerun for the full local demo"
  exit 0
fi
echo "== the local pipeline: a registry and git server, demo images, discover, promote, status"
.venv/bin/kargo-actions demo "$@"
