#!/usr/bin/env bash
# End-to-end test of build_esxi.yml (issue 8): fixture ISO + drivers -> customized ISO -> PXE tree +
# datastore (govmomi simulator from tests/services/vcsim.sh), checked with iso_info and re-run for changed=0;
# then the same build with inventories of 20 and 200 hosts to show what the host count costs.
set -eu

collection=
IFS=: read -r -a paths <<< "${ANSIBLE_COLLECTIONS_PATH:-}"
for p in "${paths[@]}"; do
    if [ -f "$p/ansible_collections/esxi/customizer/build_esxi.yml" ]; then
        collection=$p/ansible_collections/esxi/customizer
        break
    fi
done
[ -n "$collection" ] || { echo "esxi.customizer not found on ANSIBLE_COLLECTIONS_PATH" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python=$(command -v python3 || command -v python)
fixturegen=("$python" "$collection/tests/fixturegen/cli.py")

mkdir -p "$work/in"
"${fixturegen[@]}" iso "$work/in/esxi67.iso" --style 6x > "$work/iso.json"
"${fixturegen[@]}" vib "$work/in/net-demo.vib" --name net-demo --version 1.0.0-1 --vmkapi 2_5_0_0 > /dev/null
"${fixturegen[@]}" legacy-tgz "$work/in/oem-r8169.tgz" > /dev/null
(cd "$work/in" && sha256sum esxi67.iso net-demo.vib oem-r8169.tgz > SHA256SUMS)

vcsim_state=${VCSIM_STATE_DIR:-/tmp/esxi-customizer-vcsim}
[ -f "$vcsim_state/esx.json" ] || { echo "vSphere simulator not running: run tests/services/vcsim.sh start" >&2; exit 1; }

# inventory.py HOSTS: an inventory of HOSTS ESXi hosts, each with its MAC and kickstart URL.
inventory() {
    "$python" - "$1" <<'PY'
import json, sys
n = int(sys.argv[1])
hosts = {'esx%03d' % i: {'esxi_mac': '00:50:56:%02x:%02x:%02x' % (i >> 16 & 255, i >> 8 & 255, i & 255),
                         'esxi_kickstart_url': 'http://127.0.0.1/ks/esx%03d.cfg' % i} for i in range(1, n + 1)}
print(json.dumps({'esxi_hosts': {'hosts': hosts}}))
PY
}

write_vars() {  # write_vars OUTDIR
    "$python" - "$work" "$1" "$vcsim_state/esx.json" > "$work/vars.json" <<'PY'
import json, sys
work, out, esx = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
print(json.dumps({
    'esxi_iso_url': 'file://%s/in/esxi67.iso' % work,
    'esxi_iso_checksum': 'sha256:file://%s/in/SHA256SUMS' % work,
    'esxi_expect_version': '6.7',
    'esxi_drivers': [{'url': 'file://%s/in/net-demo.vib' % work, 'checksum': 'sha256:file://%s/in/SHA256SUMS' % work},
                     {'path': '%s/in/oem-r8169.tgz' % work}],
    'esxi_output_dir': out,
    'esxi_pxe_enabled': True,
    'esxi_pxe_http_url': 'http://127.0.0.1:8080/tftpboot/esxi67',
    'esxi_pxe_name': 'esxi67',
    'esxi_datastore_enabled': True,
    'esxi_datastore': {'hostname': esx['hostname'], 'port': esx['port'], 'username': esx['username'],
                       'password': esx['password'], 'validate_certs': False, 'datacenter': esx['datacenter'],
                       'datastore': 'LocalDS_0', 'path': 'builds/%s/esxi67-custom.iso' % out.rsplit('/', 1)[-1]},
}))
PY
}

run_build() {  # run_build HOSTS OUTDIR LOG
    inventory "$1" > "$work/inventory-$1.json"
    write_vars "$2"
    ansible-playbook "$collection/build_esxi.yml" -i "$work/inventory-$1.json" -e "@$work/vars.json" > "$3" 2>&1 \
        || { cat "$3"; exit 1; }
}

recap_changed() {  # sum of changed= over the PLAY RECAP of LOG
    sed -n '/PLAY RECAP/,$p' "$1" | grep -o 'changed=[0-9]*' | cut -d= -f2 | paste -sd+ - | bc
}

# 1. A build with 3 hosts, then the same build again: nothing may change.
run_build 3 "$work/out" "$work/first.log"
[ "$(recap_changed "$work/first.log")" -gt 0 ]
run_build 3 "$work/out" "$work/second.log"
second_changed=$(recap_changed "$work/second.log")
if [ "$second_changed" != 0 ]; then
    cat "$work/second.log"
    echo "second run changed $second_changed things" >&2
    exit 1
fi

# Check mode: after the build it predicts no change; on a fresh output dir it succeeds and writes no output.
ansible-playbook "$collection/build_esxi.yml" --check -i "$work/inventory-3.json" -e "@$work/vars.json" > "$work/check.log" 2>&1 \
    || { cat "$work/check.log"; exit 1; }
[ "$(recap_changed "$work/check.log")" = 0 ] || { cat "$work/check.log"; exit 1; }
"$python" - "$work/vars.json" "$work/checkvars.json" "$work/fresh" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
v['esxi_output_dir'] = sys.argv[3]
v['esxi_datastore_enabled'] = False
json.dump(v, open(sys.argv[2], 'w'))
PY
ansible-playbook "$collection/build_esxi.yml" --check -i "$work/inventory-3.json" -e "@$work/checkvars.json" > "$work/check-fresh.log" 2>&1 \
    || { cat "$work/check-fresh.log"; exit 1; }
grep -q 'would be rewritten' "$work/check-fresh.log"
[ -z "$(find "$work/fresh" -name '*.iso' -not -path '*/cache/*')" ] && [ ! -e "$work/fresh/tftpboot" ]

# 2. Check what it made: the ISO (iso_info), the PXE tree and per-host configs, the datastore copy.
ansible-playbook verify.yml -e "@$work/vars.json" -e "work=$work" -e "iso_facts_file=$work/iso.json" \
    -e "ds_dir=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["datastores"]["LocalDS_0"])' "$vcsim_state/esx.json")"

# 3. The role in a play over the hosts themselves: one build (run_once on the controller), a config per play host,
#    and again nothing changes on the second run (the hosts are never contacted: ansible_connection is irrelevant).
for attempt in first second; do
    ansible-playbook play_on_hosts.yml -i "$work/inventory-3.json" -e "work=$work" -e "out_dir=$work/onhosts" \
        > "$work/onhosts-$attempt.log" 2>&1 || { cat "$work/onhosts-$attempt.log"; exit 1; }
done
[ "$(recap_changed "$work/onhosts-second.log")" = 0 ] || { cat "$work/onhosts-second.log"; exit 1; }
[ "$(find "$work/onhosts/tftpboot/pxelinux.cfg" -name '01-*' | wc -l)" = 3 ]
[ "$(find "$work/onhosts" -maxdepth 1 -name '*.iso' | wc -l)" = 1 ]
# one result line for the build task, whatever the number of hosts (run_once)
[ "$(sed -n '/Write the customized ISO/,/^$/p' "$work/onhosts-first.log" | grep -c -- '-> localhost')" = 1 ]

# 4. Scale: 20 and 200 hosts, each a fresh output dir (one ISO build + N per-host configs).
for n in 20 200; do
    start=$(date +%s.%N)
    run_build "$n" "$work/out$n" "$work/scale$n.log"
    end=$(date +%s.%N)
    bios=$(find "$work/out$n/tftpboot/pxelinux.cfg" -name '01-*' | wc -l)
    uefi=$(find "$work/out$n/tftpboot" -mindepth 2 -maxdepth 2 -name '01-*' -type d | wc -l)
    isos=$(find "$work/out$n" -name '*.iso' -not -path '*/cache/*' | wc -l)
    printf 'SCALE hosts=%s seconds=%.1f pxelinux_configs=%s uefi_configs=%s isos_built=%s\n' \
        "$n" "$(echo "$end - $start" | bc)" "$bios" "$uefi" "$isos"
    [ "$bios" = "$n" ] && [ "$uefi" = "$n" ] && [ "$isos" = 1 ]
done
