#!/usr/bin/python
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iso_info
short_description: Describe an ESXi installer ISO (version, image profile, VIBs, boot.cfg, El Torito) and find inconsistencies
version_added: 0.1.0
author: esxi.customizer contributors (!UNKNOWN)
description:
  - Reads an ESXi installer ISO (5.x to 8.x, stock or customized) and reports its ESXi version and build,
    the image profile and every VIB in it with the ISO file of each payload, both C(boot.cfg) files (BIOS
    C(/BOOT.CFG) and UEFI C(/EFI/BOOT/BOOT.CFG)), the El Torito boot entries and the name trees present.
  - Reports in RV(problems) what would break booting or installing, for example a VIB payload whose file
    is missing from the ISO or from C(boot.cfg), BIOS and UEFI C(boot.cfg) that disagree, or a C(boot.cfg)
    module that is not on the ISO.
  - Only metadata is read (directory records, both C(boot.cfg) and C(IMGDB.TGZ)); payload files are never
    read, so this is fast on ISOs of any size.
  - File names are matched case-insensitively in the ISO 9660, Joliet and Rock Ridge trees, like the ESXi
    boot loaders do.
extends_documentation_fragment:
  - esxi.customizer._attributes
  - esxi.customizer._attributes.IN_PROCESS
  - esxi.customizer._attributes.INFO_MODULE
options:
  path:
    description:
      - Path of the ISO image on the host running the module.
    type: path
    required: true
  detail:
    description:
      - V(summary) (the default) returns what fits on a screen - versions, profile, acceptance level, counts of VIBs,
        components and boot modules, both boot.cfg without their module lists, El Torito, kickstart, problems.
      - V(full) adds RV(vibs), RV(components) and the module lists of RV(boot).
    type: str
    choices: [summary, full]
    default: summary
requirements:
  - pycdlib >= 1.20, < 2
notes:
  - An ISO without C(/BOOT.CFG) (for example an ordinary Linux ISO), a truncated or corrupt ISO, and an image
    database that cannot be parsed make the task fail with a message naming the file and the problem.
seealso:
  - module: esxi.customizer.iso_customize
"""

EXAMPLES = r"""
- name: Describe the stock installer, with its VIB list
  esxi.customizer.iso_info:
    path: /srv/iso/VMware-VMvisor-Installer-8.0U3-24022510.x86_64.iso
    detail: full
  register: esxi_iso

- name: Show the version and the drivers it holds
  ansible.builtin.debug:
    msg: "ESXi {{ esxi_iso.esxi_version }} ({{ esxi_iso.build }}): {{ esxi_iso.vibs | map(attribute='name') | join(', ') }}"

- name: The summary fits on a screen (ansible localhost -m esxi.customizer.iso_info -a path=...)
  esxi.customizer.iso_info:
    path: /srv/iso/VMware-VMvisor-Installer-8.0U3-24022510.x86_64.iso

- name: Refuse an inconsistent ISO
  ansible.builtin.assert:
    that: esxi_iso.problems | length == 0
    fail_msg: "{{ esxi_iso.problems | join('; ') }}"
"""

RETURN = r"""
esxi_version:
  description: ESXi release, from C(build=) in C(boot.cfg), else from the esx-base VIB version or the profile name.
  returned: success
  type: str
  sample: 6.7.0
build:
  description: Full build string, from C(build=) in C(boot.cfg), else the esx-base VIB version (same format).
  returned: success
  type: str
  sample: 6.7.0-0.0.8169922
volume_id:
  description: ISO volume identifier.
  returned: success
  type: str
  sample: ESXI-6.7.0-20190702001-STANDARD
application_id:
  description: ISO application identifier (C(ESXIMAGE) on VMware-built ISOs).
  returned: success
  type: str
  sample: ESXIMAGE
size:
  description: Size of the ISO volume in bytes.
  returned: success
  type: int
  sample: 394264576
profile:
  description: The image profile from C(IMGDB.TGZ); V(null) when the ISO has no image database.
  returned: success
  type: dict
  contains:
    name:
      description: Profile name.
      type: str
      sample: ESXi-6.7.0-8169922-standard
    creator:
      description: Profile creator.
      type: str
      sample: VMware, Inc.
    acceptance_level:
      description: Profile acceptance level (C(certified), C(accepted), C(partner) or C(community)).
      type: str
      sample: partner
    description:
      description: Profile description.
      type: str
    profile_id:
      description: Profile identifier.
      type: str
    creation_time:
      description: Creation time (ISO 8601).
      type: str
    modified_time:
      description: Last modification time (ISO 8601).
      type: str
vib_count:
  description: How many VIBs the image profile lists.
  returned: success
  type: int
  sample: 98
component_count:
  description: How many 7.x+ components the image database holds (reserved ones aside).
  returned: success
  type: int
vibs:
  description: The VIBs of the image profile, in profile order.
  returned: with O(detail=full)
  type: list
  elements: dict
  contains:
    id:
      description: VIB id (C(vendor_type_name_version)).
      type: str
      sample: VMW_bootbank_net-enic_2.1.2.38-2vmw.670.0.0.8169922
    name:
      description: VIB name.
      type: str
      sample: net-enic
    version:
      description: VIB version.
      type: str
    vendor:
      description: VIB vendor.
      type: str
    type:
      description: VIB type (C(bootbank), C(locker)).
      type: str
    acceptance_level:
      description: VIB acceptance level.
      type: str
    esxio:
      description:
        - Whether the VIB is for the DPU (ESXio) product line only (8.0+ images). Its payloads are in C(esxiodpt.tgz),
          never in the x86 C(boot.cfg), so their RV(vibs[].payloads[].file) is null.
      type: bool
    payloads:
      description: The VIB's payloads as the image profile maps them.
      type: list
      elements: dict
      contains:
        name:
          description: Payload name.
          type: str
        type:
          description: Payload type (C(vgz), C(tgz), C(boot), ...).
          type: str
        local_name:
          description: Bootbank file name the profile maps the payload to.
          type: str
        file:
          description: ISO path of the file holding the payload; V(null) when it is not on the ISO.
          type: str
          sample: /NET_ENIC.V00
        size:
          description: Size of that file in bytes.
          type: int
components:
  description: Ids of the 7.x+ components (bulletins) in the image database.
  returned: with O(detail=full)
  type: list
  elements: str
boot:
  description: Both boot.cfg files.
  returned: success
  type: dict
  contains:
    bios:
      description: C(/BOOT.CFG), read by isolinux and C(mboot.c32).
      type: dict
      contains:
        path:
          description: ISO path of the file.
          type: str
          sample: /BOOT.CFG
        kernel:
          description: C(kernel=) value.
          type: str
          sample: /b.b00
        kernelopt:
          description: C(kernelopt=) value.
          type: str
          sample: cdromBoot runweasel
        modules:
          description: The C(modules=) items, each a path optionally followed by its options (with O(detail=full)).
          type: list
          elements: str
        module_count:
          description: How many C(modules=) items there are.
          type: int
        title:
          description: C(title=) value.
          type: str
        timeout:
          description: C(timeout=) value in seconds.
          type: int
        prefix:
          description: C(prefix=) value (empty or V(null) on installer ISOs).
          type: str
        build:
          description: C(build=) value.
          type: str
    uefi:
      description: C(/EFI/BOOT/BOOT.CFG), read by C(mboot.efi); same keys as RV(boot.bios); V(null) when absent.
      type: dict
el_torito:
  description: El Torito boot entries, the default (BIOS) entry first.
  returned: success
  type: list
  elements: dict
  contains:
    platform:
      description: C(bios) or C(uefi).
      type: str
    path:
      description: ISO path of the boot file (ISO 9660 name).
      type: str
      sample: /ISOLINUX.BIN
    load_size:
      description: Sectors (512 bytes) the firmware loads.
      type: int
      sample: 4
    boot_info_table:
      description: Whether the boot file carries a valid isolinux boot-info-table.
      type: bool
    bootable:
      description: Whether the entry is marked bootable.
      type: bool
filesystems:
  description: Name trees present on the ISO.
  returned: success
  type: dict
  contains:
    iso9660:
      description: Always V(true).
      type: bool
    joliet:
      description: Whether a Joliet tree exists.
      type: bool
    rock_ridge:
      description: Whether Rock Ridge names exist.
      type: bool
    udf:
      description: Whether a UDF tree exists.
      type: bool
kickstart:
  description: The C(ks=) kernel option of C(boot.cfg), if any.
  returned: success
  type: str
  sample: cdrom:/KS.CFG
bootcfg_warnings:
  description:
    - C(boot.cfg) keys the boot loader of this ISO's ESXi release ignores, each naming the release that added or
      dropped the key (for example C(errtimeout), added in ESXi 8.0.2, on an 8.0.0 ISO), and keys no ESXi boot
      loader reads. The task also warns about each one.
  returned: success
  type: list
  elements: str
  sample:
    - "/BOOT.CFG: errtimeout= is ignored by the boot loader of ESXi 8.0.0: it was added in ESXi 8.0.2"
problems:
  description: Inconsistencies that would break booting or installing; empty for a sound ISO.
  returned: success
  type: list
  elements: str
  sample:
    - "VIB VMW_bootbank_ne1000_0.8.3-4vmw.670.0.0.8169922 payload ne1000: file /NE1000.V00 is missing from the ISO"
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import read_iso_facts
from ansible_collections.esxi.customizer.plugins.module_utils._deps import missing_libraries, outdated_libraries


def main():
    module = AnsibleModule(
        argument_spec=dict(path=dict(type='path', required=True), detail=dict(type='str', default='summary', choices=['summary', 'full'])),
        supports_check_mode=True,
    )
    for library, error in missing_libraries():
        module.fail_json(msg=missing_required_lib(library), exception=error)
    for message in outdated_libraries():
        module.fail_json(msg=message)
    try:
        facts = read_iso_facts(module.params['path'], detail=module.params['detail'])
    except EsxiCustomizerError as err:
        module.fail_json(msg=str(err))
    facts.pop('path', None)
    for warning in facts['bootcfg_warnings']:
        module.warn(warning)
    module.exit_json(changed=False, **facts)


if __name__ == '__main__':
    main()
