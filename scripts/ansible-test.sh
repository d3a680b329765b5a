#!/usr/bin/env bash
# Run ansible-test without Docker.
#
# ansible-test insists on a real (not symlinked) .../ansible_collections/<ns>/<name> path, so
# the checkout's tracked and untracked-not-ignored files are copied into build/. It also builds
# its venvs without pip and then downloads a get-pip script from a host that is unreachable here;
# a stand-in that uses ensurepip is seeded into its cache first.
#
# Usage: scripts/ansible-test.sh sanity|units|integration [ansible-test args...]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
# Outside the checkout (ansible-test lists files through git, and build/ is ignored there), and
# one per run so that concurrent runs do not share a tree.
work=$(mktemp -d "${TMPDIR:-/tmp}/esxi-customizer-ansible-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/esxi/customizer
mkdir -p "$dest"
(cd "$root" && git ls-files -co --exclude-standard) | while IFS= read -r f; do
    [ -e "$root/$f" ] && printf '%s\0' "$f"
done | (cd "$root" && tar --null -T - -cf -) | (cd "$dest" && tar -xf -)

# Tests find the real third-party fixtures beside the checkout (../shared); the copy is elsewhere, so
# record where they are (tests/fixturegen/shared.py reads it).
if [ -d "$root/../shared/fixtures" ]; then
    (cd "$root/../shared/fixtures" && pwd) > "$dest/tests/shared-fixtures.path"
fi
# ansible-test passes no environment of ours to the targets: the simulators' state directory goes in a file too.
echo "${VCSIM_STATE_DIR:-/tmp/esxi-customizer-vcsim}" > "$dest/tests/vcsim-state.path"

cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
# ansible-core 2.18/2.19 look for get_pip_24_2.py; 2.17 for 23_1_2.
for name in get_pip_23_1_2.py get_pip_24_2.py get_pip_25_2.py; do
    cp "$root/scripts/get_pip_standin.py" "$cache/$name"
done

export PATH=$venv/bin:$PATH
cd "$dest"
ansible-test "$@" --venv --python "${ANSIBLE_TEST_PYTHON:-3.11}"
