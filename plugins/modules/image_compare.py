#!/usr/bin/python
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_compare
short_description: How two ESXi installer images differ - VIBs, components, profile and both boot.cfg
version_added: 0.1.0
author: esxi.customizer contributors (!UNKNOWN)
description:
  - Compares the image O(b) with the image O(a) (for example a stock image and its customized output, or two patch
    levels), as Image Builder's C(Compare-EsxImageProfile) does, and the boot.cfg files besides. Each side is an
    installer ISO or a base depot (offline bundle) with one of its image profiles, laid out as the ISO
    M(esxi.customizer.iso_customize) would make of it.
  - VIBs and components are compared by name; versions in ESXi's own order, so C(upgraded) of RV(vibs) holds what ESXi
    calls newer in O(b).
  - An ISO is only read (metadata - directory records, boot.cfg and the image database; no payload). A depot's boot
    archives are assembled in anonymous temporary files while it is compared (as for a build), so a depot side costs
    about a copy of its boot modules.
  - In diff mode the task shows what O(a) and O(b) differ in, as M(esxi.customizer.iso_customize) shows its changes -
    both C(boot.cfg) with one module per line, the profile identity, the profile's VIB IDs and the kickstart digest,
    each only when it differs.
extends_documentation_fragment:
  - esxi.customizer._attributes
  - esxi.customizer._attributes.IN_PROCESS
  - esxi.customizer._attributes.INFO_MODULE
options:
  a:
    description:
      - The first image (the "before") - an ESXi installer ISO, or a base depot zip.
    type: path
    required: true
  b:
    description:
      - The second image (the "after") - an ESXi installer ISO, or a base depot zip.
    type: path
    required: true
  a_profile:
    description:
      - The image profile of the depot O(a). Default - its only profile, or the C(-standard) one of a
        C(-standard)/C(-no-tools) pair. Only for a depot.
    type: str
  b_profile:
    description:
      - The image profile of the depot O(b), as O(a_profile).
    type: str
requirements:
  - pycdlib >= 1.20, < 2
seealso:
  - module: esxi.customizer.iso_info
  - module: esxi.customizer.iso_customize
"""

EXAMPLES = r"""
- name: What did the customization change?
  esxi.customizer.image_compare:
    a: /srv/iso/VMware-VMvisor-Installer-8.0U3-24022510.x86_64.iso
    b: /srv/esxi/esxi-8.0U3-custom.iso
  register: changes

- name: What does the patch depot change against the ISO in use?
  esxi.customizer.image_compare:
    a: /srv/esxi/esxi-8.0U3-custom.iso
    b: /srv/depots/VMware-ESXi-8.0U3e-24677879-depot.zip
    b_profile: ESXi-8.0U3e-24677879-standard

- name: Show the VIBs it added
  ansible.builtin.debug:
    msg: "{{ changes.vibs.only_b | map(attribute='name') | list }}"
"""

RETURN = r"""
same:
  description: Whether the two images have the same version, VIBs, components, profile identity and boot.cfg.
  returned: success
  type: bool
esxi_version:
  description: The ESXi version of each side (keys C(a) and C(b)).
  returned: success
  type: dict
vibs:
  description:
    - The VIBs by name - C(only_a) and C(only_b) (each with C(name) and C(version)), C(upgraded) and C(downgraded) (each
      with C(name), C(version_a) and C(version_b)), C(unchanged) (C(name), C(version)).
  returned: success
  type: dict
components:
  description: The 7.x+ components by name, in the same form as RV(vibs).
  returned: success
  type: dict
profile:
  description: The profile fields (C(name), C(creator), C(description), C(acceptance_level)) that differ, each with C(a) and C(b).
  returned: success
  type: dict
boot:
  description:
    - For C(bios) (C(/BOOT.CFG)) and C(uefi) (C(/EFI/BOOT/BOOT.CFG)) - C(kernelopt_added), C(kernelopt_removed),
      C(modules_added), C(modules_removed), C(module_order_changed), and C(changed) (the other keys whose values differ, each
      with C(a) and C(b)); C(present_a)/C(present_b) when one side has no such file; null when neither has.
  returned: success
  type: dict
"""

import contextlib

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._deps import missing_libraries, outdated_libraries
from ansible_collections.esxi.customizer.plugins.module_utils._image.compare import compare_images
from ansible_collections.esxi.customizer.plugins.module_utils._image.source_image import open_source_image
from ansible_collections.esxi.customizer.plugins.module_utils._module_result import exit_with


def main():
    module = AnsibleModule(
        argument_spec=dict(
            a=dict(type='path', required=True),
            b=dict(type='path', required=True),
            a_profile=dict(type='str'),
            b_profile=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    for library, error in missing_libraries():
        module.fail_json(msg=missing_required_lib(library), exception=error)
    for message in outdated_libraries():
        module.fail_json(msg=message)
    try:
        p = module.params
        with contextlib.ExitStack() as stack:
            a = stack.enter_context(open_source_image(p['a'], p['a_profile'], option='a_profile'))[0]
            b = stack.enter_context(open_source_image(p['b'], p['b_profile'], option='b_profile'))[0]
            result = compare_images(a, b)
    except EsxiCustomizerError as err:
        module.fail_json(msg=str(err))
    result['changed'] = False
    exit_with(module, result)


if __name__ == '__main__':
    main()
