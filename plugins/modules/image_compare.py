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
  - Compares the installer ISO O(b) with the installer ISO O(a) (for example a stock image and its customized
    output, or two patch levels), as Image Builder's C(Compare-EsxImageProfile) does, and the boot.cfg files besides.
  - VIBs and components are compared by name; versions in ESXi's own order, so C(upgraded) of RV(vibs) holds what ESXi
    calls newer in O(b).
  - Both ISOs are only read (metadata - directory records, boot.cfg and the image database; no payload).
  - In diff mode the task shows what O(a) and O(b) differ in, as M(esxi.customizer.iso_customize) shows its changes -
    both C(boot.cfg) with one module per line, the profile identity, the profile's VIB IDs and the kickstart digest,
    each only when it differs.
extends_documentation_fragment:
  - esxi.customizer._attributes
  - esxi.customizer._attributes.INFO_MODULE
options:
  a:
    description:
      - The first ESXi installer ISO (the "before").
    type: path
    required: true
  b:
    description:
      - The second ESXi installer ISO (the "after").
    type: path
    required: true
requirements:
  - pycdlib >= 1.20, < 2
  - defusedxml >= 0.7
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._deps import missing_libraries, outdated_libraries
from ansible_collections.esxi.customizer.plugins.module_utils._image.compare import compare_images
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.plugins.module_utils._module_result import exit_with


def main():
    module = AnsibleModule(
        argument_spec=dict(a=dict(type='path', required=True), b=dict(type='path', required=True)),
        supports_check_mode=True,
    )
    for library, error in missing_libraries():
        module.fail_json(msg=missing_required_lib(library), exception=error)
    for message in outdated_libraries():
        module.fail_json(msg=message)
    try:
        with EsxiImage.open(module.params['a']) as a, EsxiImage.open(module.params['b']) as b:
            result = compare_images(a, b)
    except EsxiCustomizerError as err:
        module.fail_json(msg=str(err))
    result['changed'] = False
    exit_with(module, result)


if __name__ == '__main__':
    main()
