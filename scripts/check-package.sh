#!/usr/bin/env bash
# Build the collection tarball and check it the way Galaxy and users meet it:
#   galaxy-importer (with ansible-lint and flake8, as Galaxy / Automation Hub run it) accepts it;
#   installed from the tarball, `ansible-playbook esxi.customizer.build_esxi --syntax-check` works;
#   ansible-builder finds its Python and system requirements (and nothing test-only) and creates an EE context.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/build/package
venv=$root/build/package-venv
python=${PYTHON:-python3}
rm -rf "$work"
mkdir -p "$work"
if [ ! -f "$venv/.installed" ] || [ "$root/requirements-package.txt" -nt "$venv/.installed" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/requirements-package.txt" 2>&1 | grep -v '^WARNING: Location' || true
    "$venv/bin/python" -c 'import galaxy_importer, ansible_builder'
    touch "$venv/.installed"
fi
export PATH=$venv/bin:$PATH

"$root/.venv/bin/ansible-galaxy" collection build --output-path "$work" "$root" >/dev/null
tarball=$(ls "$work"/esxi-customizer-*.tar.gz)
echo "built $(basename "$tarball") ($(stat -c %s "$tarball") bytes)"

tar tzf "$tarball" > "$work/contents.txt"
unwanted=$(grep -E '^(\.venv|\.hypothesis|\.ruff_cache|build|bench|scripts)/|^(Makefile|requirements-dev\.txt|\.ansible-lint|pyproject\.toml)$' "$work/contents.txt" || true)
if [ -n "$unwanted" ]; then
    echo "developer tooling in the tarball:"; echo "$unwanted"; exit 1
fi
for needed in LICENSE README.md roles/build_iso/README.md meta/runtime.yml meta/execution-environment.yml bindep.txt requirements.txt playbooks/build_esxi.yml; do
    grep -qx "$needed" "$work/contents.txt" || { echo "missing from the tarball: $needed"; exit 1; }
done

cat > "$work/importer.cfg" <<'CFG'
[galaxy-importer]
RUN_ANSIBLE_TEST = False
RUN_ANSIBLE_LINT = True
RUN_FLAKE8 = True
CHECK_REQUIRED_TAGS = False
CFG
GALAXY_IMPORTER_CONFIG=$work/importer.cfg "$venv/bin/python" -m galaxy_importer.main "$tarball" > "$work/importer.log" 2>&1 || {
    tail -20 "$work/importer.log"; echo "galaxy-importer refused the tarball"; exit 1
}
if grep -q '^ERROR' "$work/importer.log" || ! grep -q 'Importer processing completed successfully' "$work/importer.log"; then
    grep '^ERROR' "$work/importer.log" || tail -20 "$work/importer.log"; exit 1
fi
echo "galaxy-importer: accepted, $(grep -c '^WARNING' "$work/importer.log" || true) warning(s) (see build/package/importer.log)"

# --force, and no ANSIBLE_COLLECTIONS_PATH: make exports one where the checkout is already installed, and
# ansible-galaxy would then install nothing
env -u ANSIBLE_COLLECTIONS_PATH "$root/.venv/bin/ansible-galaxy" collection install --force -p "$work/collections" "$tarball" > "$work/install.log" 2>&1 || {
    cat "$work/install.log"; echo "the tarball does not install"; exit 1
}
[ -f "$work/collections/ansible_collections/esxi/customizer/playbooks/build_esxi.yml" ] || { cat "$work/install.log"; echo "the installed collection has no playbooks/build_esxi.yml"; exit 1; }
(cd "$work" && ANSIBLE_COLLECTIONS_PATH=$work/collections "$root/.venv/bin/ansible-playbook" esxi.customizer.build_esxi --syntax-check > "$work/syntax.log" 2>&1) || {
    cat "$work/syntax.log"; echo "ansible-playbook esxi.customizer.build_esxi --syntax-check failed"; exit 1
}
echo "esxi.customizer.build_esxi: syntax check passed from the installed tarball"

ansible-builder introspect --sanitize "$work/collections" > "$work/introspect.txt"
for needed in 'pycdlib>=1.20,<2' 'zstandard' 'mtools' 'dosfstools' 'syslinux'; do
    grep -qF "$needed" "$work/introspect.txt" || { cat "$work/introspect.txt"; echo "ansible-builder introspect misses $needed"; exit 1; }
done
if grep -E 'pytest|hypothesis|ruff|xorriso|qemu|ansible-lint' "$work/introspect.txt"; then
    echo "test-only requirements would go into an execution environment"; exit 1
fi
cat > "$work/execution-environment.yml" <<EE
---
version: 3
images:
  base_image:
    name: quay.io/fedora/fedora:latest
dependencies:
  python_interpreter:
    package_system: python3
    python_path: /usr/bin/python3
  ansible_core:
    package_pip: ansible-core
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: collections/$(basename "$tarball")
        type: file
additional_build_files:
  - src: $tarball
    dest: collections
EE
(cd "$work" && ansible-builder create -f execution-environment.yml -c context > create.log 2>&1) || { cat "$work/create.log"; exit 1; }
containerfile=$work/context/Containerfile
[ -f "$containerfile" ] || containerfile=$work/context/Dockerfile
if ! { [ -f "$containerfile" ] && grep -q 'introspect' "$containerfile" && grep -q 'install-from-bindep' "$containerfile" \
    && grep -qF "collections/$(basename "$tarball")" "$work/context/_build/requirements.yml"; }; then
    echo "ansible-builder create wrote no usable context"; find "$work/context" | head -40; exit 1
fi
echo "ansible-builder: introspect finds $(grep -c 'from collection esxi.customizer' "$work/introspect.txt") requirements; create wrote build/package/context"
