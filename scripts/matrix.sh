#!/usr/bin/env bash
# The supported ansible-core releases on the Pythons they run on: unit tests on each pair, sanity on the oldest and
# the newest (the main stages of make test run everything on ansible-core 2.19 / Python 3.11). Each pair gets its own
# venv under build/matrix; ansible-test builds its test venvs from there (scripts/ansible-test.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# ansible-core release, Python, what runs
pairs=(
    "2.17.14 3.10 units sanity"
    "2.18.19 3.11 units"
    "2.20.10 3.12 units"
    "2.21.5 3.13 units sanity"
)
ran=0
for pair in "${pairs[@]}"; do
    read -r core py stages <<<"$pair"
    python=$(command -v "python$py" || true)
    if [ -z "$python" ]; then
        echo "matrix: SKIPPED ansible-core $core: no python$py on this machine"
        continue
    fi
    venv=$root/build/matrix/$core-py$py
    if [ ! -f "$venv/.installed" ]; then
        rm -rf "$venv"
        "$python" -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$core" 2>&1 | grep -v '^WARNING: Location' || true
        "$venv/bin/ansible-test" --version >/dev/null
        touch "$venv/.installed"
    fi
    for stage in $stages; do
        started=$(date +%s)
        VENV=$venv ANSIBLE_TEST_PYTHON=$py "$root/scripts/ansible-test.sh" "$stage" --requirements > "$root/build/matrix/$core-py$py-$stage.log" 2>&1 || {
            tail -40 "$root/build/matrix/$core-py$py-$stage.log"
            echo "matrix: FAILED $stage on ansible-core $core / Python $py (log: build/matrix/$core-py$py-$stage.log)"
            exit 1
        }
        echo "matrix: passed $stage on ansible-core $core / Python $py in $(($(date +%s) - started)) s"
    done
    ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || { echo "matrix: no pair could run (no python3.10-3.13 found)"; exit 1; }
