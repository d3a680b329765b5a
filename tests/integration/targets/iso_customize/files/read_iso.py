# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Describe an ISO with independent readers only (isoinfo, xorriso, bsdtar, tarfile): JSON on stdout.

Usage: python read_iso.py ISO
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET


def run(argv):
    return subprocess.run(argv, check=True, capture_output=True).stdout


def names(iso, tree=None):
    argv = ['isoinfo', '-f', '-i', iso] + ([tree] if tree else [])
    return run(argv).decode().split()


def main():
    iso = sys.argv[1]
    info = run(['isoinfo', '-d', '-i', iso]).decode()
    joliet = 'NO Joliet present' not in info
    rock_ridge = 'NO Rock Ridge present' not in info
    out = {
        'iso9660': names(iso),
        'joliet_names': names(iso, '-J') if joliet else [],
        'rock_ridge_names': names(iso, '-R') if rock_ridge else [],
        'joliet': joliet,
        'rock_ridge': rock_ridge,
        'volume_id': [line.split(':', 1)[1].strip() for line in info.splitlines() if line.startswith('Volume id:')][0],
        'el_torito': [line for line in run(['xorriso', '-indev', iso, '-report_el_torito', 'plain']).decode().splitlines() if line.startswith('El Torito')],
        'bootcfg': {
            'bios': run(['bsdtar', '-xOf', iso, 'BOOT.CFG' if not rock_ridge else 'boot.cfg']).decode(),
            'uefi': run(['bsdtar', '-xOf', iso, 'EFI/BOOT/BOOT.CFG' if not rock_ridge else 'efi/boot/boot.cfg']).decode(),
        },
    }
    imgdb = run(['bsdtar', '-xOf', iso, 'IMGDB.TGZ' if not rock_ridge else 'imgdb.tgz'])
    with tarfile.open(fileobj=io.BytesIO(imgdb), mode='r:gz') as tar:
        members = {m.name: (tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}
    profile = [data for name, data in members.items() if name.startswith('var/db/esximg/profiles/') and data][0]
    root = ET.fromstring(profile)
    out['imgdb'] = {
        'members': sorted(members),
        'acceptance_level': root.findtext('acceptancelevel'),
        'identity': {tag: root.findtext(tag) for tag in ('name', 'creator', 'profileID', 'description', 'readonly')},
        'modified_time': root.findtext('modifiedtime'),
        'profile': {v.findtext('vib-id'): {p.get('payload-name'): p.text for p in v.findall('payloads/payload')} for v in root.findall('viblist/vib')},
        'vib_files': sorted(n for n in members if n.startswith('var/db/esximg/vibs/')),
        'bulletins': sorted(n for n in members if n.startswith('var/db/esximg/bulletins/')),
    }
    st = os.stat(iso)
    out['stat'] = {'inode': st.st_ino, 'mtime_ns': st.st_mtime_ns, 'size': st.st_size}
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
