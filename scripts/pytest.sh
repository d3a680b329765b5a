#!/usr/bin/env bash
# Fast developer loop: run the unit tests with the project venv's pytest, outside ansible-test.
# The collection is reached through a symlinked ansible_collections tree (fine for pytest,
# which, unlike ansible-test, does not resolve the path).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
links=$root/build/pytest-path
mkdir -p "$links/ansible_collections/esxi"
ln -sfn "$root" "$links/ansible_collections/esxi/customizer"
cd "$links/ansible_collections/esxi/customizer"
PYTHONPATH=$links exec "$venv/bin/python" -m pytest -p no:cacheprovider "${@:-tests/unit}"
