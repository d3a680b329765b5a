#!/usr/bin/env bash
# Build the documentation site (module, plugin and role pages from the collection's own docs, plus the guides in
# docs/docsite/rst) with antsibull-docs and Sphinx into build/docs/build/html, and check it:
# warnings are errors, and every module, the role and the guides must have a page.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/build/docs-venv
site=$root/build/docs
python=${PYTHON:-python3}
if [ ! -f "$venv/.installed" ] || [ "$root/requirements-docs.txt" -nt "$venv/.installed" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/requirements-docs.txt" 2>&1 | grep -v '^WARNING: Location' || true
    touch "$venv/.installed"
fi
export PATH=$venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$root/build/collections
[ -d "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/esxi/customizer" ] || { echo "install the collection first (make collection)"; exit 1; }
rm -rf "$site"
mkdir -p "$site"
chmod 755 "$site"
antsibull-docs sphinx-init --use-current --dest-dir "$site" --fail-on-error --project esxi.customizer \
    --title 'esxi.customizer' --copyright 'esxi.customizer contributors' esxi.customizer >/dev/null
# CI is offline: no intersphinx inventories, so the generated links to docs.ansible.com labels cannot resolve.
cat >> "$site/conf.py" <<'CONF'

intersphinx_mapping = {}
suppress_warnings = ['ref.ref']
CONF
(cd "$site" && ./build.sh > build.log 2>&1) || { tail -30 "$site/build.log"; echo "the docs site did not build"; exit 1; }
html=$site/build/html/collections/esxi/customizer
for page in iso_info_module iso_customize_module package_info_module pxe_publish_module datastore_upload_module \
        disk_image_module bundle_export_module hardware_coverage_module image_compare_module build_iso_role settings_problems_filter docsite/guide_pxe_fleet docsite/guide_esxi9; do
    [ -s "$html/$page.html" ] || { echo "no page $page.html"; find "$html" -name '*.html' | head -40; exit 1; }
done
grep -q 'bootcfg_options' "$html/iso_customize_module.html" || { echo "iso_customize page lacks its options"; exit 1; }
grep -q 'build_iso_source_url' "$html/build_iso_role.html" || { echo "role page lacks its variables"; exit 1; }
echo "docs site: $(find "$site/build/html" -name '*.html' | wc -l) pages in build/docs/build/html"
