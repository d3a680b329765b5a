#!/usr/bin/python
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: disk_image
short_description: Write an ESXi installer ISO as a bootable USB stick / disk image (BIOS and UEFI)
version_added: 0.1.0
author: esxi.customizer contributors (!UNKNOWN)
description:
  - Writes a raw disk image O(dest) from the ESXi installer ISO O(src) (stock or made by M(esxi.customizer.iso_customize))
    in the layout VMware documents for USB installers. Write it to a USB stick with C(dd), or attach it as a virtual
    disk or BMC virtual media (USB/removable disk); it boots the ESXi installer with legacy BIOS and with UEFI.
  - The image has an MBR partition table with one bootable FAT32 partition (type C(0x0c), from 1 MiB to the end) that
    holds every file of the ISO under the names a mounted ISO shows.
  - BIOS boot uses syslinux's MBR code and C(syslinux --install); C(ISOLINUX.CFG) becomes C(SYSLINUX.CFG) with
    C(-p 1) added to its C(APPEND -c boot.cfg) lines, as VMware's USB procedure says.
  - UEFI boot uses C(EFI/BOOT/BOOTX64.EFI) of the ISO (ESXi's mboot.efi), which reads C(EFI/BOOT/BOOT.CFG) beside it.
  - ESXi's BIOS boot menu modules (C(mboot.c32), C(menu.c32)) only run under C(ldlinux.sys) of the same syslinux
    generation as the ISO's C(ISOLINUX.BIN) (VMware ISOs use syslinux 3.86; syslinux 5 and later use another module
    format). The task fails before writing anything when the installer found (O(syslinux)) does not match, unless
    O(bios_boot=false).
  - File data is streamed from the ISO into the FAT file system (mtools), never extracted to disk or read whole into
    memory. The image is written to a temporary file beside O(dest) and renamed; on any failure an earlier O(dest) is
    unchanged and no temporary file remains.
  - The request (identity of O(src), options, tool versions) is recorded in the unused space between the MBR and the
    partition. When O(dest) already records the same request the task reports no change and does not rewrite it.
    The same inputs and tool versions give a byte-identical image (fixed timestamps, serial and disk signature).
extends_documentation_fragment:
  - esxi.customizer._attributes
  - esxi.customizer._attributes.IN_PROCESS
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Shows the request recorded in the existing image and the new one.
  idempotent:
    support: full
options:
  src:
    description:
      - The ESXi installer ISO. It is only read.
    type: path
    required: true
  dest:
    description:
      - The disk image file to write. Its directory must exist. An existing O(dest) must be a regular file (this
        module does not write to block devices; C(dd) the image to the stick).
    type: path
    required: true
  size:
    description:
      - Size of the image, for example V(2G) or V(600MiB) (rounded up to a MiB; at least 64 MiB).
      - By default the content plus 5 % and 16 MiB, rounded up to a MiB.
      - Fails when the files do not fit.
    type: str
  kickstart:
    description:
      - A kickstart file to put on the image as C(/KS.CFG); C(ks=usb:/KS.CFG) is then set in the kernel options of
        both C(boot.cfg) (replacing an existing C(ks=)).
      - Without it, a C(ks=cdrom:/PATH) in a C(boot.cfg) of the ISO (as M(esxi.customizer.iso_customize) writes it)
        whose file is on the ISO becomes C(ks=usb:/PATH), since the image has no CD-ROM.
    type: path
  kernelopt_add:
    description:
      - Kernel option tokens merged into C(kernelopt=) of both C(boot.cfg) after O(kickstart). C(key=value) replaces an
        existing token with the same key, a bare flag is added once, C(-key) removes the key or flag.
    type: list
    elements: str
    default: []
  bios_boot:
    description:
      - Make the image bootable with legacy BIOS (syslinux MBR, C(ldlinux.sys), C(SYSLINUX.CFG)).
      - V(false) writes a UEFI-only image and needs no syslinux.
    type: bool
    default: true
  syslinux:
    description:
      - The syslinux installer for FAT images (the mtools-based C(syslinux) of syslinux 3.x, run with C(-o <offset>),
        or of 4.0 and later, run with C(--install --offset)); a name looked up on E(PATH), C(/usr/sbin) and C(/sbin),
        or a path. Its release comes from C(--version), else from the C(SYSLINUX x.yy) banner it embeds.
      - Its release must match the ISO's C(ISOLINUX.BIN) (any 3.x/4.x for a 3.x ISO; the same major.minor from 5.0).
    type: str
    default: syslinux
  syslinux_mbr:
    description:
      - The MBR boot code file (C(mbr.bin) of syslinux). By default the first of the usual Debian/Fedora locations.
    type: path
  label:
    description:
      - FAT volume label, 1-11 characters C(A-Z 0-9 _ -) and space.
    type: str
    default: ESXI
  force:
    description:
      - Rebuild O(dest) even when its recorded request matches.
    type: bool
    default: false
  mode:
    description:
      - Permissions of the written image, as an octal number in a string (V("0640")).
      - Default - what the process umask gives a new file (0666 masked). An up-to-date output only gets its mode changed.
      - The image holds the kickstart (and with it the root password hash) when O(kickstart) is set, so V("0600") keeps it private.
    type: raw
  checksum:
    description:
      - Compute the sha256 of the image (returned as RV(sha256)). V(false) skips it and RV(sha256) is null.
    type: bool
    default: true
requirements:
  - pycdlib >= 1.20, < 2
  - mtools and mkfs.vfat (dosfstools) on the managed host
  - syslinux (installer and C(mbr.bin)) when O(bios_boot=true)
notes:
  - C(cdromBoot) in the kernel options is left as it is; remove it with O(kernelopt_add=[-cdromBoot]) if wanted.
  - Runs on the host that holds O(src) and O(dest); the image is a sparse file until it is copied.
seealso:
  - module: esxi.customizer.iso_customize
  - module: esxi.customizer.iso_info
"""

EXAMPLES = r"""
- name: USB installer image with a kickstart, from a customized ISO
  esxi.customizer.disk_image:
    src: /srv/iso/esxi80-custom.iso
    dest: /srv/images/esxi80-usb.img
    kickstart: /srv/ks/esxi.ks
  register: usb

- name: Write it to a stick (the module never writes devices itself)
  ansible.builtin.command:
    argv: [dd, "if={{ usb.dest }}", of=/dev/sdX, bs=4M, conv=fsync]
  when: usb.changed

- name: UEFI-only image for BMC virtual media (no syslinux needed)
  esxi.customizer.disk_image:
    src: /srv/iso/VMware-VMvisor-Installer-8.0U3-24022510.x86_64.iso
    dest: /srv/images/esxi80-uefi.img
    bios_boot: false
    size: 1G

- name: BIOS and UEFI image of a VMware ISO (syslinux 3.86 installer built from source)
  esxi.customizer.disk_image:
    src: /srv/iso/VMware-VMvisor-Installer-7.0U3n-21930508.x86_64.iso
    dest: /srv/images/esxi70-usb.img
    syslinux: /opt/syslinux-3.86/linux/syslinux
"""

RETURN = r"""
dest:
  description: Absolute path of the image.
  returned: always
  type: str
  sample: /srv/images/esxi80-usb.img
size:
  description: Size of the image in bytes.
  returned: always
  type: int
  sample: 683671552
sha256:
  description: sha256 of the image (null in check mode when it would change, or with O(checksum=false)).
  returned: always
  type: str
  sample: 9a850924f9c7f3ca9858d9a0f29e64aac628eec5fc46c79df87734e6efef6716
boot:
  description: The boot configuration on the image.
  returned: always
  type: dict
  contains:
    bios:
      description: C(/BOOT.CFG) (keys C(path), C(kernel), C(kernelopt), C(modules), C(title), C(timeout), C(prefix), C(build)).
      type: dict
    uefi:
      description: C(/EFI/BOOT/BOOT.CFG), same keys; null when the ISO has none.
      type: dict
    syslinux_cfg:
      description: Text of C(SYSLINUX.CFG); absent with O(bios_boot=false).
      type: str
bios_boot:
  description: Whether the image boots with legacy BIOS.
  returned: always
  type: bool
syslinux_version:
  description: Release of the syslinux installer used (C(major.minor)); null with O(bios_boot=false).
  returned: always
  type: str
  sample: "6.04"
esxi_version:
  description: ESXi version of the ISO.
  returned: always
  type: str
  sample: 8.0.3
partition:
  description: The FAT partition.
  returned: always
  type: dict
  contains:
    start:
      description: Byte offset of the partition (C(mtools -i image@@start)).
      type: int
      sample: 1048576
    size:
      description: Partition size in bytes.
      type: int
    type:
      description: MBR partition type.
      type: str
      sample: "0x0c"
    filesystem:
      description: Always C(FAT32).
      type: str
    label:
      description: Volume label.
      type: str
files:
  description: Number of files on the FAT file system besides the syslinux loader.
  returned: always
  type: int
manifest_digest:
  description: Digest of the request recorded in the image; equal digests mean an up-to-date image.
  returned: always
  type: str
warnings:
  description: Problems of the source ISO that the image inherits (for example no UEFI loader).
  returned: when there are any
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.formatters import human_to_bytes

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._module_result import exit_with
from ansible_collections.esxi.customizer.plugins.module_utils._deps import missing_libraries, outdated_libraries
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.image import build_disk_image


def _size(module, text):
    if text is None:
        return None
    try:
        value = human_to_bytes(text.replace('iB', 'B').replace('ib', 'b')) if not text.strip().isdigit() else int(text)
    except ValueError as err:
        module.fail_json(msg='size %r is not a size (examples: 2G, 600MiB, 1073741824): %s' % (text, err))
    if value <= 0:
        module.fail_json(msg='size must be positive, not %r' % text)
    return value


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path', required=True),
            dest=dict(type='path', required=True),
            size=dict(type='str'),
            kickstart=dict(type='path'),
            kernelopt_add=dict(type='list', elements='str', default=[]),
            bios_boot=dict(type='bool', default=True),
            syslinux=dict(type='str', default='syslinux'),
            syslinux_mbr=dict(type='path'),
            label=dict(type='str', default='ESXI'),
            force=dict(type='bool', default=False),
            checksum=dict(type='bool', default=True),
            mode=dict(type='raw'),
        ),
        supports_check_mode=True,
    )
    for library, error in missing_libraries():
        module.fail_json(msg=missing_required_lib(library), exception=error)
    for message in outdated_libraries():
        module.fail_json(msg=message)
    p = module.params
    try:
        result = build_disk_image(
            p['src'],
            p['dest'],
            size=_size(module, p['size']),
            kickstart=p['kickstart'],
            kernelopt_add=p['kernelopt_add'],
            bios_boot=p['bios_boot'],
            syslinux=p['syslinux'],
            mbr=p['syslinux_mbr'],
            label=p['label'],
            force=p['force'],
            check_mode=module.check_mode,
            checksum=p['checksum'],
            mode=p['mode'],
        )
    except EsxiCustomizerError as err:
        module.fail_json(msg=str(err))
    exit_with(module, result)


if __name__ == '__main__':
    main()
