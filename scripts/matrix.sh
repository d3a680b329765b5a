#!/usr/bin/env bash
# The supported ansible-core releases on the Pythons they run on: unit tests on each pair, sanity on the oldest and
# the newest (the main stages of make test run sanity and units on ansible-core 2.19 / Python 3.11). Each pair gets
# its own venv under build/matrix; ansible-test builds its test venvs from there (scripts/ansible-test.sh).
#
# Usage: matrix.sh              sanity and units of every pair, as listed below
#        matrix.sh integration  the integration targets once, on the newest pair (make integration; the services
#                               must be running), or on the dev venv when this machine has no Python for it
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# ansible-core release, Python, what runs
pairs=(
    "2.17.14 3.10 sanity units"
    "2.18.19 3.11 units"
    "2.20.10 3.12 units"
    "2.21.5 3.13 sanity units"
)
# A Python that runs: pyenv puts shims for every installed version on PATH, but a shim fails unless that version is
# selected, so the version's own binary is looked for as well.
find_python() {
    local candidate
    for candidate in "$(command -v "python$1" || true)" "$HOME"/.pyenv/versions/"$1".*/bin/"python$1" "/usr/bin/python$1" "/usr/local/bin/python$1"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import venv' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
}

# The venv of ansible-core $1 on Python $2 (made once), printed; nothing when there is no such Python here.
pair_venv() {
    local python venv=$root/build/matrix/$1-py$2
    python=$(find_python "$2")
    [ -n "$python" ] || return 0
    if [ ! -f "$venv/.installed" ]; then
        rm -rf "$venv"
        "$python" -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$1" 2>&1 | grep -v '^WARNING: Location' >&2 || true
        "$venv/bin/ansible-test" --version >/dev/null
        touch "$venv/.installed"
    fi
    echo "$venv"
}

if [ "${1:-}" = integration ]; then
    read -r core py _stages <<<"${pairs[-1]}"
    venv=$(pair_venv "$core" "$py")
    if [ -z "$venv" ]; then
        echo "matrix: no Python $py here: integration on the dev venv instead of ansible-core $core"
        exec "$root/scripts/ansible-test.sh" integration --requirements
    fi
    echo "matrix: integration on ansible-core $core / Python $py"
    export VENV=$venv ANSIBLE_TEST_PYTHON=$py
    exec "$root/scripts/ansible-test.sh" integration --requirements
fi

ran=0
# sanity first (the quicker answer), then units
for stage in sanity units; do
    for pair in "${pairs[@]}"; do
        read -r core py stages <<<"$pair"
        case " $stages " in *" $stage "*) ;; *) continue ;; esac
        venv=$(pair_venv "$core" "$py")
        if [ -z "$venv" ]; then
            echo "matrix: SKIPPED $stage on ansible-core $core: no Python $py on this machine"
            continue
        fi
        started=$(date +%s)
        log=$root/build/matrix/$core-py$py-$stage.log
        VENV=$venv ANSIBLE_TEST_PYTHON=$py "$root/scripts/ansible-test.sh" "$stage" --requirements > "$log" 2>&1 || {
            tail -40 "$log"
            echo "matrix: FAILED $stage on ansible-core $core / Python $py (log: build/matrix/$core-py$py-$stage.log)"
            exit 1
        }
        echo "matrix: passed $stage on ansible-core $core / Python $py in $(($(date +%s) - started)) s"
        ran=$((ran + 1))
    done
done
[ "$ran" -gt 0 ] || { echo "matrix: no pair could run (no python3.10-3.13 found)"; exit 1; }
