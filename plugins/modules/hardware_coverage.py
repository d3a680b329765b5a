#!/usr/bin/python
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: hardware_coverage
short_description: Which of a server's PCI devices an ESXi image and driver packages drive
version_added: 0.1.0
author: esxi.customizer contributors (!UNKNOWN)
description:
  - Answers, before any build or boot, whether the installer ISO O(src) (its own drivers, "inbox") and the driver
    packages O(packages) drive each PCI device of O(devices) / O(devices_from), and with which driver module, VIB and
    component.
  - Reads the driver maps of both kinds (vmklinux C(.map) and native C(*.map.d/*.map)) and the C(.ids) device names from
    every driver payload of the image and the packages (C(vgz), C(tgz), ESXi 9.0 C(vzstd), xz inside gzip), streaming,
    with memory flat in payload size; nothing is extracted and no root is needed.
  - What an ISO payload claims is cached by its sha-256 (C(~/.cache/esxi-customizer/coverage), or the C(coverage)
    directory beside E(ESXI_CUSTOMIZER_CACHE_DIR)), so the next query of the same image (or of another image with the
    same stock payloads) reads only the image database.
  - A device claimed by two drivers gets a warning. A map entry that needs a field the device list does not give (the
    subsystem IDs, or the PCI class, which C(lspci -n) gives and a bare C(vvvv:dddd) does not) is reported as a possible
    match, which does not count as supported.
extends_documentation_fragment:
  - esxi.customizer._attributes
  - esxi.customizer._attributes.IN_PROCESS
  - esxi.customizer._attributes.INFO_MODULE
options:
  src:
    description:
      - An ESXi installer ISO, stock or customized, or a base depot zip (with O(profile)). Its DPU (esxio) VIBs are not
        counted.
    type: path
  profile:
    description:
      - The image profile of the depot O(src). Default - its only profile, or the C(-standard) one of a
        C(-standard)/C(-no-tools) pair. Only for a depot.
    type: str
  packages:
    description:
      - Driver packages (.vib, offline bundle or component .zip, legacy .tgz), or directories searched (recursively) for them.
    type: list
    elements: path
    default: []
  devices:
    description:
      - PCI IDs, C(vvvv:dddd) or C(vvvv:dddd:ssss:ssss) (with the subsystem vendor and device), optionally followed by
        the class as C(/cccc) or C(/ccccpp) with the programming interface (C(8086:a36d/0c0330) is an xHCI controller).
        Drivers that claim devices by class (NVMe, USB host controllers) need it.
    type: list
    elements: str
    default: []
  devices_from:
    description:
      - A file with the output of C(lspci -n), C(lspci -nn) or C(esxcli hardware pci list) of the server, or PCI IDs one per line.
    type: path
requirements:
  - pycdlib >= 1.20, < 2 (only with O(src))
  - zstandard (or backports.zstd) below Python 3.14, for ESXi 9.x C(vzstd) payloads only
seealso:
  - module: esxi.customizer.package_info
  - module: esxi.customizer.iso_info
"""

EXAMPLES = r"""
- name: Does the customized ISO drive this server's NICs and HBAs?
  esxi.customizer.hardware_coverage:
    src: /srv/esxi/esxi-8.0U3-custom.iso
    devices_from: /srv/inventory/esx01-lspci-n.txt
  register: coverage

- name: Stop before building an installer that would not see a NIC
  ansible.builtin.assert:
    that: coverage.unsupported | length == 0
    fail_msg: "not driven: {{ coverage.unsupported | join(', ') }}"

- name: Which of these driver packages claim a Realtek 2.5 GbE NIC?
  esxi.customizer.hardware_coverage:
    packages: [/srv/drivers]
    devices: ["10ec:8125"]
"""

RETURN = r"""
devices:
  description: One answer per device, in the order given.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The device's PCI ID as given (C(vvvv:dddd) or with the subsystem).
      type: str
      sample: "10ec:8125"
    address:
      description: Its PCI address when the device list gave one.
      type: str
    name:
      description: The device name from the device list or the drivers' C(.ids) data.
      type: str
      sample: RTL8125 2.5GbE Controller
    vendor_name:
      description: The vendor name from the drivers' C(.ids) data.
      type: str
    supported:
      description: Whether at least one driver claims the device for certain.
      type: bool
    drivers:
      description:
        - Every driver whose map claims the device - C(driver) (module), C(vib) (ID), C(vib_name), C(component),
          C(origin) (V(inbox) for the ISO's own, V(package)), C(file) (the ISO or package), C(map) (the map file) and
          C(match) (V(match) or V(possible)).
      type: list
      elements: dict
    warnings:
      description: Two drivers claiming the device, or only possible matches.
      type: list
      elements: str
supported:
  description: The IDs of the supported devices.
  returned: success
  type: list
  elements: str
unsupported:
  description: The IDs of the devices no driver claims for certain.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._deps import missing_libraries, outdated_libraries
from ansible_collections.esxi.customizer.plugins.module_utils._formats.pcilist import parse_device, parse_device_text
from ansible_collections.esxi.customizer.plugins.module_utils._image.coverage import coverage


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path'),
            profile=dict(type='str'),
            packages=dict(type='list', elements='path', default=[]),
            devices=dict(type='list', elements='str', default=[]),
            devices_from=dict(type='path'),
        ),
        required_one_of=[('devices', 'devices_from'), ('src', 'packages')],
        supports_check_mode=True,
    )
    p = module.params
    if p['src']:  # pycdlib only reads the ISO
        for library, error in missing_libraries('pycdlib'):
            module.fail_json(msg=missing_required_lib(library), exception=error)
        for message in outdated_libraries('pycdlib'):
            module.fail_json(msg=message)
    try:
        devices = [parse_device(item, label='devices') for item in p['devices']]
        if p['devices_from']:
            try:
                with open(p['devices_from'], encoding='utf-8', errors='replace') as stream:
                    text = stream.read(4 * 1024 * 1024)
            except OSError as err:
                module.fail_json(msg='%s: cannot read the device list (%s)' % (p['devices_from'], err.strerror or err))
            devices += parse_device_text(text, label=p['devices_from'])
        if not devices:
            module.fail_json(msg='no device to look up: give devices or devices_from')
        result = coverage(devices, src=p['src'], profile=p['profile'], packages=p['packages'])
    except EsxiCustomizerError as err:
        module.fail_json(msg=str(err))
    for warning in result.pop('warnings'):
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
