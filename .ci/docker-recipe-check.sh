#!/usr/bin/env bash
# Opt-in (minutes; not part of CI): replay docker/Dockerfile's install and smoke steps in a
# fresh Python 3.12 venv, the nearest thing to building the image without a Docker engine.
#   bash .ci/docker-recipe-check.sh [python3.12]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-python3.12}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
cp -r pyproject.toml README.md femdiff demos cases meshes tests "$work/"
cd "$work"
# the RUN lines of the Dockerfile, with `python -m pip` and the venv's tools
grep -E '^(RUN| \&\&)' "$OLDPWD/docker/Dockerfile" \
  | sed -E 's/^RUN //; s/^ \&\& //; s/ \\$//' > steps.sh
echo "replaying:"; cat steps.sh
set -x
while IFS= read -r step; do bash -c "$step"; done < steps.sh
echo "docker recipe OK"
