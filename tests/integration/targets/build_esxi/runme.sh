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
"${fixturegen[@]}" legacy-tgz "$work/in/oem-r8169.tgz" --vmkapi 2_2_0_0 > /dev/null  # a 5.5-generation module: 6.7 loads it
(cd "$work/in" && sha256sum esxi67.iso net-demo.vib oem-r8169.tgz > SHA256SUMS)

vcsim_state=${VCSIM_STATE_DIR:-$(cat "$collection/tests/vcsim-state.path" 2>/dev/null || echo /tmp/esxi-customizer-vcsim)}
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
    "$python" - "$work" "$1" "$vcsim_state/esx.json" "$collection" > "$work/vars.json" <<'PY'
import json, sys
work, out, esx = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
print(json.dumps({
    'esxi_iso_url': 'file://%s/in/esxi67.iso' % work,
    'esxi_iso_checksum': 'sha256:file://%s/in/SHA256SUMS' % work,
    'esxi_expect_version': '6.7',
    'esxi_drivers': [{'url': 'file://%s/in/net-demo.vib' % work, 'checksum': 'sha256:file://%s/in/SHA256SUMS' % work},
                     {'path': '%s/in/oem-r8169.tgz' % work}],
    'esxi_output_dir': out,
    'esxi_kickstart_template': '%s/examples/ks.cfg.j2' % sys.argv[4],
    'esxi_ks_root_password_hash': '$6$test$lekcnR1zo8tbfK95EcRU6qWvwuDQWpLvO5Aj6NDII5.zy5xowvyw9avk0WMrRUcG4.CSUuT90XmJ/mBcnTNWd/',
    'esxi_pxe_enabled': True,
    'esxi_usb_enabled': True,
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

# 0. Everyday mistakes stop the run before anything is fetched or written, and the message names the setting.
write_vars "$work/out"
mistake() {  # mistake NAME EXPECTED-TEXT ANSIBLE-PLAYBOOK-ARGS...
    local name=$1 expect=$2
    shift 2
    if ansible-playbook "$collection/build_esxi.yml" "$@" -e "esxi_output_dir=$work/mistake-out" > "$work/mistake-$name.log" 2>&1; then
        cat "$work/mistake-$name.log"; echo "mistake $name was not refused" >&2; exit 1
    fi
    grep -qF -- "$expect" "$work/mistake-$name.log" || { cat "$work/mistake-$name.log"; echo "mistake $name: no '$expect'" >&2; exit 1; }
    [ ! -e "$work/mistake-out" ] || { echo "mistake $name wrote $work/mistake-out" >&2; exit 1; }
    echo "MISTAKE $name refused: $expect"
}
mistake no-settings 'no base ISO: set esxi_iso_url'
mistake inventory-typo 'no base ISO: set esxi_iso_url' -i "$work/no-such-inventory.yml"
mistake drivers-typo 'esxi_driver is not a setting of build_esxi.yml: did you mean esxi_drivers?' -e "@$work/vars.json" -e '{"esxi_driver": []}'
mistake driver-key 'esxi_drivers entry 1 has an unknown key file' -e "@$work/vars.json" -e '{"esxi_drivers": [{"file": "/srv/x.vib"}]}'
mistake url-checksum 'esxi_drivers entry 1: a url needs its checksum' -e "@$work/vars.json" -e '{"esxi_drivers": [{"url": "file:///srv/x.vib"}]}'
mistake kickstart-typo 'esxi_kickstart_templat is not a setting of build_esxi.yml: did you mean esxi_kickstart_template?' \
    -e "@$work/vars.json" -e '{"esxi_kickstart_templat": "x"}'
"$python" - > "$work/dup-inventory.json" <<'PY'
import json
print(json.dumps({'all': {'hosts': {'esx01': {'esxi_mac': '00:50:56:aa:bb:01'}, 'esx02': {'esxi_mac': '00-50-56-AA-BB-01'},
                                    'esx03': {'esxi_mac': 'not-a-mac'}}}}))
PY
mistake duplicate-mac 'hosts esx01, esx02 have the same esxi_mac 00:50:56:aa:bb:01' -i "$work/dup-inventory.json" -e "@$work/vars.json"
mistake bad-mac "host esx03: esxi_mac 'not-a-mac' is not a MAC address" -i "$work/dup-inventory.json" -e "@$work/vars.json"

# A wrong datastore password fails in seconds, before any download or build (preflight).
"$python" - "$work/vars.json" "$work/wrongpw.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
v['esxi_datastore'] = dict(v['esxi_datastore'], password='wrong-password')
json.dump(v, open(sys.argv[2], 'w'))
PY
start=$(date +%s.%N)
mistake datastore-password 'answered HTTP 401' -e "@$work/wrongpw.json"
printf 'PREFLIGHT wrong password refused after %.1f s, nothing downloaded\n' "$(echo "$(date +%s.%N) - $start" | bc)"

# A real build that sets no kickstart and no drivers embeds neither: no KS.CFG, no ks= in either boot.cfg, no VIB added.
"$python" - "$work/vars.json" "$work/bare.json" "$work/bare" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for key in ('esxi_kickstart_template', 'esxi_ks_root_password_hash', 'esxi_drivers'):
    v.pop(key)
v.update(esxi_output_dir=sys.argv[3], esxi_datastore_enabled=False, esxi_pxe_enabled=False)
json.dump(v, open(sys.argv[2], 'w'))
PY
ansible-playbook "$collection/build_esxi.yml" -e "@$work/bare.json" > "$work/bare.log" 2>&1 || { cat "$work/bare.log"; exit 1; }
bare_iso=$(find "$work/bare" -maxdepth 1 -name '*.iso')
# (set -e ignores a command negated with !: each check fails the script explicitly)
if isoinfo -f -i "$bare_iso" | grep -qi 'KS.CFG'; then echo "bare build embeds a kickstart" >&2; exit 1; fi
if bsdtar -xOf "$bare_iso" BOOT.CFG | grep -q 'ks='; then echo "bare build: ks= in BOOT.CFG" >&2; exit 1; fi
if bsdtar -xOf "$bare_iso" EFI/BOOT/BOOT.CFG | grep -q 'ks='; then echo "bare build: ks= in EFI/BOOT/BOOT.CFG" >&2; exit 1; fi
bsdtar -xOf "$bare_iso" IMGDB.TGZ | "$python" -c '
import io, sys, tarfile
names = tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read())).getnames()
assert not [n for n in names if "net-demo" in n], names'
echo "BARE build: no KS.CFG, no ks=, $(grep -c . <(isoinfo -f -i "$bare_iso")) files"

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
[ -z "$(find "$work/fresh" -name '*.iso' -not -path '*/cache/*')" ]
[ ! -e "$work/fresh/tftpboot" ]

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
    # one check a line: set -e does not stop at a failure before the last && of a list
    [ "$bios" = "$n" ]
    [ "$uefi" = "$n" ]
    [ "$isos" = 1 ]
done

# 5. Per-host kickstarts: one template rendered with each host's variables, published beside the PXE tree and
#    fetched over HTTP from it (a real HTTP server on a free loopback port).
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$python" - "$work/vars.json" "$work/ksvars.json" "$work/ksout" "$collection" "$port" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
v.update(esxi_output_dir=sys.argv[3], esxi_datastore_enabled=False, esxi_usb_enabled=False,
         esxi_pxe_http_url='http://127.0.0.1:%s/esxi67' % sys.argv[5],
         esxi_pxe_kickstart_template='%s/examples/host-ks.cfg.j2' % sys.argv[4])
json.dump(v, open(sys.argv[2], 'w'))
PY
"$python" - > "$work/ks-inventory.json" <<'PY'
import json
print(json.dumps({'esxi_hosts': {
    'vars': {'esxi_ks_root_password_hash': '$6$test$lekcnR1zo8tbfK95EcRU6qWvwuDQWpLvO5Aj6NDII5.zy5xowvyw9avk0WMrRUcG4.CSUuT90XmJ/mBcnTNWd/'},
    'hosts': {'esx01': {'esxi_mac': '00:50:56:aa:bb:01', 'esxi_ks_ip': '10.1.0.11', 'esxi_ks_gateway': '10.1.0.1'},
              'esx02': {'esxi_mac': '00:50:56:aa:bb:02', 'esxi_ks_ip': '10.1.0.12', 'esxi_ks_gateway': '10.1.0.1'},
              'esx03': {'esxi_ks_ip': '10.1.0.13'}}}}))
PY
ansible-playbook "$collection/build_esxi.yml" -i "$work/ks-inventory.json" -e "@$work/ksvars.json" --diff > "$work/ks.log" 2>&1 \
    || { cat "$work/ks.log"; exit 1; }
grep -q 'these inventory hosts have no esxi_mac and get no PXE config: esx03' "$work/ks.log"
grep -q 'PXE hosts skipped (no esxi_mac): esx03' "$work/ks.log"
if grep -q 'lekcnR1zo8' "$work/ks.log"; then echo "the kickstart's password hash is in the output" >&2; exit 1; fi  # diff mode too
"$python" -m http.server --bind 127.0.0.1 --directory "$work/ksout/tftpboot" "$port" > "$work/http.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/" > /dev/null && break; sleep 0.1; done
for n in 1 2; do
    mac=01-00-50-56-aa-bb-0$n
    curl -sf "http://127.0.0.1:$port/esxi67/$mac/ks.cfg" > "$work/ks-$n.cfg"
    grep -q -- "--ip=10.1.0.1$n " "$work/ks-$n.cfg"
    grep -q -- "--hostname=esx0$n" "$work/ks-$n.cfg"
    grep -q "ks=http://127.0.0.1:$port/esxi67/$mac/ks.cfg" "$work/ksout/tftpboot/esxi67/$mac/boot.cfg"
done
echo "KICKSTARTS per host fetched over HTTP: $(grep -h -o -- '--ip=[0-9.]*' "$work"/ks-*.cfg | paste -sd' ')"

# 6. One kickstart on the ISO for many hosts: its %pre picks the settings of the machine by its NIC's MAC address.
#    The %pre is run by busybox (the shell of ESXi's %pre) with a fake localcli that lists the NICs of one machine.
"$python" - "$work/vars.json" "$work/macvars.json" "$work/macout" "$collection" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
v.update(esxi_output_dir=sys.argv[3], esxi_datastore_enabled=False, esxi_usb_enabled=False, esxi_pxe_enabled=False,
         esxi_kickstart_template='%s/examples/ks-by-mac.cfg.j2' % sys.argv[4])
json.dump(v, open(sys.argv[2], 'w'))
PY
ansible-playbook "$collection/build_esxi.yml" -i "$work/ks-inventory.json" -e "@$work/macvars.json" --diff > "$work/mac.log" 2>&1 \
    || { cat "$work/mac.log"; exit 1; }
if grep -q 'lekcnR1zo8' "$work/mac.log"; then echo "the kickstart's password hash is in the output" >&2; exit 1; fi
mac_iso=$(find "$work/macout" -maxdepth 1 -name '*.iso')
bsdtar -xOf "$mac_iso" KS.CFG > "$work/mac-ks.cfg"
grep -q '^%include /tmp/esxi-host.cfg$' "$work/mac-ks.cfg"
# the %pre section, with its output file moved into the work directory
sed -n '/^%pre --interpreter=busybox$/,$p' "$work/mac-ks.cfg" | sed 1d | sed "s#/tmp/esxi-host.cfg#$work/esxi-host.cfg#" > "$work/pre.sh"
mkdir -p "$work/fakebin"
fake_nics() {  # fake_nics MAC...: a localcli that lists one NIC per MAC, as the installer's does
    {
        echo '#!/bin/sh'
        echo 'echo "Name    PCI Device    Driver  Admin Status  Link Status  Speed  Duplex  MAC Address        MTU   Description"'
        echo 'echo "------  ------------  ------  ------------  -----------  -----  ------  -----------------  ----  -----------"'
        local n=0 mac
        for mac in "$@"; do
            echo "echo \"vmnic$n  0000:0$n:00.0  e1000e  Up            Up           1000   Full    $mac  1500  Intel Corporation 82574L\""
            n=$((n + 1))
        done
    } > "$work/fakebin/localcli"
    chmod +x "$work/fakebin/localcli"
}
for n in 1 2; do
    # the host's MAC on its second NIC, upper case: the match must not depend on either
    fake_nics 00:0c:29:00:00:99 "00:50:56:AA:BB:0$n"
    rm -f "$work/esxi-host.cfg"
    PATH="$work/fakebin:$PATH" busybox sh "$work/pre.sh" > "$work/pre-$n.log" 2>&1 || { cat "$work/pre-$n.log"; exit 1; }
    grep -q -- "--ip=10.1.0.1$n " "$work/esxi-host.cfg"
    grep -q -- "--hostname=esx0$n" "$work/esxi-host.cfg"
    grep -q -- "--device=00:50:56:aa:bb:0$n " "$work/esxi-host.cfg"
    cp "$work/esxi-host.cfg" "$work/esxi-host-$n.cfg"
done
fake_nics 00:0c:29:00:00:99
rm -f "$work/esxi-host.cfg"
if PATH="$work/fakebin:$PATH" busybox sh "$work/pre.sh" > "$work/pre-none.log" 2>&1; then echo "%pre accepted a machine of no inventory host" >&2; exit 1; fi
[ ! -e "$work/esxi-host.cfg" ]
grep -q 'no inventory host has a NIC of this machine' "$work/pre-none.log"
echo "KICKSTART by MAC: $(grep -h -o -- '--ip=[0-9.]*' "$work"/esxi-host-*.cfg | paste -sd' '), unknown machine stopped"

# 7. Remote PXE servers: the ISO is built once here and its tree published on two "servers" reached over a real ssh
#    connection (tests/services/sshd.sh on a loopback port) with the system's own Python, which has no pycdlib.
#    One host is pinned to the second server; a re-run changes nothing; state absent leaves nothing.
sshd_state=$vcsim_state/sshd/sshd.json
[ -f "$sshd_state" ] || { echo "sshd not running: run tests/services/sshd.sh start" >&2; exit 1; }
remote_python=/usr/bin/python3
if "$remote_python" -c 'import pycdlib' 2>/dev/null; then echo "note: $remote_python has pycdlib; the test still runs"; fi
"$python" - "$sshd_state" "$work" "$remote_python" > "$work/remote-inventory.json" <<'PY'
import json, sys
ssh, work, python = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
def server(name):
    return {'ansible_host': ssh['hostname'], 'ansible_port': ssh['port'], 'ansible_user': ssh['user'],
            'ansible_ssh_private_key_file': ssh['key'], 'ansible_python_interpreter': python,
            'ansible_ssh_common_args': '-F /dev/null -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes' % ssh['known_hosts'],
            'esxi_pxe_dest': '%s/%s-root' % (work, name), 'esxi_pxe_staging_dir': '%s/%s-staging' % (work, name),
            'esxi_pxe_http_url': 'http://%s.example.com/esxi67' % name}
print(json.dumps({
    'pxe_servers': {'hosts': {'pxe1': server('pxe1'), 'pxe2': server('pxe2')}},
    'esxi_hosts': {'hosts': {'esx01': {'esxi_mac': '00:50:56:aa:bb:01'},
                             'esx02': {'esxi_mac': '00:50:56:aa:bb:02', 'esxi_pxe_server': 'pxe2'}}}}))
PY
"$python" - "$work/vars.json" "$work/remotevars.json" "$work/remoteout" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
v.update(esxi_output_dir=sys.argv[3], esxi_datastore_enabled=False, esxi_usb_enabled=False, esxi_pxe_servers='pxe_servers')
v.pop('esxi_pxe_http_url')
json.dump(v, open(sys.argv[2], 'w'))
PY
mkdir -p "$work/pxe1-root" "$work/pxe2-root"
echo "not ours" > "$work/pxe1-root/foreign.txt"
for attempt in first second; do
    ansible-playbook "$collection/build_esxi.yml" -i "$work/remote-inventory.json" -e "@$work/remotevars.json" \
        > "$work/remote-$attempt.log" 2>&1 || { cat "$work/remote-$attempt.log"; exit 1; }
done
[ "$(recap_changed "$work/remote-second.log")" = 0 ] || { cat "$work/remote-second.log"; exit 1; }
grep -q 'PXE trees: pxe1:' "$work/remote-first.log"
for s in pxe1 pxe2; do
    root=$work/$s-root
    [ -f "$root/esxi67/boot.cfg" ]
    [ -f "$root/esxi67/mboot.efi" ]
    [ -f "$root/pxelinux.cfg/esxi67.menu" ]
    grep -q "prefix=http://$s.example.com/esxi67" "$root/esxi67/boot.cfg"
    # the tree matches the ISO file for file
    [ "$(find "$root/esxi67" -maxdepth 1 -type f -name '*.v00' | wc -l)" -gt 0 ]
    ls "$work/$s-staging/"*.pxe.tar > /dev/null
done
# esx01 (no server named) is on both, esx02 only on pxe2
[ -f "$work/pxe1-root/pxelinux.cfg/01-00-50-56-aa-bb-01" ]
[ -f "$work/pxe2-root/pxelinux.cfg/01-00-50-56-aa-bb-01" ]
[ ! -e "$work/pxe1-root/pxelinux.cfg/01-00-50-56-aa-bb-02" ]
[ -f "$work/pxe2-root/pxelinux.cfg/01-00-50-56-aa-bb-02" ]
remote_files=$(find "$work/pxe1-root" -type f | wc -l)
ansible-playbook "$collection/build_esxi.yml" -i "$work/remote-inventory.json" -e "@$work/remotevars.json" -e esxi_pxe_state=absent \
    > "$work/remote-absent.log" 2>&1 || { cat "$work/remote-absent.log"; exit 1; }
grep -q 'PXE publication esxi67 removed from pxe1, pxe2' "$work/remote-absent.log"
[ "$(find "$work/pxe1-root" -type f)" = "$work/pxe1-root/foreign.txt" ]
[ -z "$(find "$work/pxe2-root" "$work/pxe1-staging" "$work/pxe2-staging" -type f)" ]
echo "REMOTE PXE over ssh: $remote_files files on pxe1, re-run changed=0, absent left only the foreign file"

# 8. A download that takes a while shows its progress: the base ISO from an HTTP server on loopback that sends it at
#    about 512 KiB/s; job_progress prints a line a second from the size of get_url's temp file.
slow_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$python" - "$work/in" "$slow_port" > "$work/slow-http.log" 2>&1 <<'PY' &
import functools, http.server, os, sys, time
class Slow(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, source, outputfile):
        while True:
            block = source.read(64 * 1024)
            if not block:
                return
            outputfile.write(block)
            outputfile.flush()
            time.sleep(0.125)
server = http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[2])), functools.partial(Slow, directory=sys.argv[1]))
server.serve_forever()
PY
slow_server=$!
trap 'kill "$server" "$slow_server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$slow_port/SHA256SUMS" && break; sleep 0.1; done
ansible-playbook "$collection/build_esxi.yml" -e "@$work/bare.json" -e "esxi_output_dir=$work/slow" \
    -e "esxi_iso_url=http://127.0.0.1:$slow_port/esxi67.iso" -e "esxi_iso_checksum=sha256:http://127.0.0.1:$slow_port/SHA256SUMS" \
    -e build_iso_progress_interval=1 > "$work/slow.log" 2>&1 || { cat "$work/slow.log"; exit 1; }
lines=$(grep -cE '^download of esxi67\.iso: [0-9.]+ (B|KiB|MiB), [0-9.]+ (B|KiB|MiB)/s' "$work/slow.log" || true)
[ "$lines" -ge 1 ] || { cat "$work/slow.log"; echo "no progress line for the slow download" >&2; exit 1; }
cmp "$work/in/esxi67.iso" "$work/slow/cache/esxi67.iso"
echo "DOWNLOAD progress: $lines lines for $(stat -c %s "$work/in/esxi67.iso") bytes at about 512 KiB/s, e.g."
grep -m 2 -E '^download of esxi67\.iso: ' "$work/slow.log"

# 9. The quarterly patch: esxi_patch rebases the build onto a patch depot (the fixture 6.7 patch, exported by
#    bundle_export from its ISO) before the drivers go in; the drivers and the kickstart stay.
"${fixturegen[@]}" iso "$work/in/patch67.iso" --style 6x --patch > /dev/null
"$python" - "$collection" "$work/in/patch67.iso" "$work/in/patch67-depot.zip" <<'PY'
import os, sys
sys.path.insert(0, os.path.abspath(os.path.join(sys.argv[1], '..', '..', '..')))
from ansible_collections.esxi.customizer.plugins.module_utils._image.bundle_export import export_bundle
export_bundle(sys.argv[2], sys.argv[3], vendor_name='VMware', vendor_code='VMW')
PY
printf '{"esxi_patch": {"path": "%s"}, "esxi_output_dir": "%s", "esxi_pxe_enabled": false, "esxi_datastore_enabled": false}\n' \
    "$work/in/patch67-depot.zip" "$work/patched" > "$work/patch.json"
ansible-playbook "$collection/build_esxi.yml" -e "@$work/vars.json" -e "@$work/patch.json" > "$work/patched.log" 2>&1 || { cat "$work/patched.log"; exit 1; }
ansible-playbook "$collection/build_esxi.yml" -e "@$work/vars.json" -e "@$work/patch.json" > "$work/patched2.log" 2>&1 || { cat "$work/patched2.log"; exit 1; }
[ "$(recap_changed "$work/patched2.log")" -eq 0 ] || { cat "$work/patched2.log"; echo "the patched re-run changed something" >&2; exit 1; }
"$python" - "$collection" "$(find "$work/patched" -maxdepth 1 -name '*.iso')" <<'PY'
import os, sys
sys.path.insert(0, os.path.abspath(os.path.join(sys.argv[1], '..', '..', '..')))
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import read_iso_facts
facts = read_iso_facts(sys.argv[2])
versions = {v['name']: v['version'] for v in facts['vibs']}
assert facts['problems'] == [], facts['problems']
assert versions['esx-base'] == '6.7.0-3.216.23299997', versions['esx-base']
assert 'net-demo' in versions and facts['kickstart'] == 'cdrom:/KS.CFG', (sorted(versions), facts['kickstart'])
assert facts['profile']['name'] == 'ESXi-6.7.0-20240304001-standard-custom', facts['profile']['name']
print('PATCH rebase: esx-base %s, profile %s, drivers and kickstart kept, re-run changed=0' % (versions['esx-base'], facts['profile']['name']))
PY
