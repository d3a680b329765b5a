#!/usr/bin/env bash
# job_progress against the vSphere simulator (tests/services/vcsim.sh): an upload made slow by a throttling proxy runs
# as an async task; job_progress must print progress lines (checked in the output here) and return what a plain run
# of the module returns (checked in play.yml).
set -eu

collection=
IFS=: read -r -a paths <<< "${ANSIBLE_COLLECTIONS_PATH:-}"
for p in "${paths[@]}"; do
    if [ -d "$p/ansible_collections/esxi/customizer" ]; then
        collection=$p/ansible_collections/esxi/customizer
        break
    fi
done
[ -n "$collection" ] || { echo "esxi.customizer not found on ANSIBLE_COLLECTIONS_PATH" >&2; exit 1; }
vcsim_state=${VCSIM_STATE_DIR:-$(cat "$collection/tests/vcsim-state.path" 2>/dev/null || echo /tmp/esxi-customizer-vcsim)}
[ -f "$vcsim_state/esx.json" ] || { echo "vSphere simulator not running: run tests/services/vcsim.sh start" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python=$(command -v python3 || command -v python)

if ! ansible-playbook play.yml -i localhost, -c local -e "ansible_python_interpreter=$python" \
    -e "vcsim_state_dir=$vcsim_state" -e "work_dir=$work" > "$work/play.log" 2>&1; then
    cat "$work/play.log"
    exit 1
fi
cat "$work/play.log"

# the lines job_progress printed while the throttled upload ran (how many depends on the machine: at least one)
lines=$(grep -cE '^datastore upload: [0-9.]+ (B|KiB|MiB) of 16\.0 MiB \([0-9]+ %\)' "$work/play.log" || true)
echo "progress lines printed: $lines"
[ "$lines" -ge 1 ] || { echo "job_progress printed no progress line" >&2; exit 1; }
grep -qE '^datastore upload: done, 16\.0 MiB in ' "$work/play.log" || { echo "job_progress printed no final line" >&2; exit 1; }
