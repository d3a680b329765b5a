#!/usr/bin/python
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_export
short_description: Export the image of an ESXi installer ISO as an offline bundle
version_added: 0.1.0
author: esxi.customizer contributors (!UNKNOWN)
description:
  - Writes an offline bundle (depot zip) O(dest) with the VIBs of the image profile of the installer ISO O(src), stock or
    made by M(esxi.customizer.iso_customize), for C(esxcli software vib install -d), C(esxcli software profile update -d),
    PowerCLI Image Builder, and the other modules of this collection (it is a package M(esxi.customizer.package_info) and
    M(esxi.customizer.iso_customize) read).
  - Every VIB is rebuilt from the ISO byte for byte - its original C(descriptor.xml) and C(sig.pkcs7) from the image
    database, each payload from its file on the ISO (any tree, any case), the boot-info table the ISO tool wrote into
    C(ISOLINUX.BIN) undone. Each payload is checked against its size and C(sha-256) while it is copied; a payload that
    does not match fails the task naming the VIB and the payload, and nothing is written.
  - The metadata holds every VIB's depot XML, the image's components (7.0 and later; for an image without components,
    one bulletin with all of its VIBs, as Image Builder exports it) and, with O(include=all), the image profile.
  - DPU (esxio) VIBs of 8.0 and later images are left out with a warning - their payloads are inside C(esxiodpt.tgz),
    not files of the ISO.
  - Payloads are streamed from the ISO into the zip (stored, zip64 when needed), never held in memory; the bundle is
    written to a temporary file beside O(dest) and renamed. The same ISO and options give the same bytes; the zip
    comment records what made it, and a re-run with the same inputs reports no change.
extends_documentation_fragment:
  - esxi.customizer._attributes
  - esxi.customizer._attributes.IN_PROCESS
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Shows the VIB IDs of the existing bundle and of the new one.
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
      - The bundle (.zip) to write. Its directory must exist.
    type: path
    required: true
  vendor_name:
    description:
      - The vendor name in the bundle's C(index.xml).
    type: str
    default: esxi.customizer
  vendor_code:
    description:
      - The vendor code in C(index.xml), three letters or digits (vLCM and PowerCLI require exactly three).
    type: str
    default: ECZ
  include:
    description:
      - Which VIBs of the image profile go into the bundle.
      - V(all) (the default) - every VIB (esxio ones excepted); the bundle also carries the image profile.
      - V(non_vmware) - the VIBs the customizations recorded in the ISO's manifest added, else (an ISO not made by
        M(esxi.customizer.iso_customize)) those whose vendor is neither VMware nor VMW.
      - A list of VIB names, VIB IDs or component names.
    type: raw
    default: all
  software_spec:
    description:
      - Also write this file, the image's software specification (JSON, as C(esxcli), PowerCLI C(New-IsoImage -SoftwareSpec)
        and vLCM read it) - C(base_image.version) and, as C(components), the components the customizations recorded in the
        ISO's manifest added (the ISO holds no base-image or add-on metadata, so everything else counts as base image).
      - Only for 7.0 and later images (6.x images have no components).
    type: path
  force:
    description:
      - Write O(dest) even when the bundle there records the same source and options.
    type: bool
    default: false
  mode:
    description:
      - Permissions of the written bundle, as an octal number in a string (V("0644")).
      - Default - what the process umask gives a new file (0666 masked). An up-to-date bundle only gets its mode changed.
    type: raw
  checksum:
    description:
      - Compute the sha256 of the bundle (returned as RV(sha256)). V(false) skips it and RV(sha256) is null.
    type: bool
    default: true
requirements:
  - pycdlib >= 1.20, < 2
notes:
  - The ar headers of a rebuilt C(.vib) are VMware's (zero mtime, owner and mode); a package whose headers were written
    another way (some tools write a mode of C(0o0)) gives a C(.vib) with identical members but another file checksum.
  - No vLCM base image or add-on metadata is written; vLCM imports the bundle's components.
seealso:
  - module: esxi.customizer.iso_customize
  - module: esxi.customizer.package_info
"""

EXAMPLES = r"""
- name: The customized image as a bundle for esxcli and Image Builder
  esxi.customizer.bundle_export:
    src: /srv/esxi/esxi-8.0U3-custom.iso
    dest: /srv/esxi/esxi-8.0U3-custom-bundle.zip
    vendor_name: ACME Corp
    vendor_code: ACM

- name: Only the drivers the customization added, to install them on running hosts
  esxi.customizer.bundle_export:
    src: /srv/esxi/esxi-8.0U3-custom.iso
    dest: /srv/esxi/drivers-bundle.zip
    include: non_vmware
"""

RETURN = r"""
dest:
  description: The bundle's path.
  returned: always
  type: str
vibs:
  description: The IDs of the VIBs in the bundle, in image profile order.
  returned: always
  type: list
  elements: str
profile:
  description: The name of the ISO's image profile.
  returned: always
  type: str
esxi_version:
  description: The ESXi version of the ISO.
  returned: always
  type: str
  sample: 8.0.3
size:
  description: Size of the bundle in bytes; null in check mode when it would be written.
  returned: always
  type: int
sha256:
  description: SHA-256 of the bundle; null with O(checksum=false) and in check mode when it would be written.
  returned: always
  type: str
software_spec:
  description: The software specification written to O(software_spec).
  returned: when O(software_spec) is set
  type: dict
  sample: {"base_image": {"version": "8.0.3-0.0.24022510"}, "components": {"VMware-vmkusb-nic-fling": "1.14-1vmw.803.0.0.75399077"}}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._deps import missing_libraries, outdated_libraries
from ansible_collections.esxi.customizer.plugins.module_utils._image.bundle_export import export_bundle
from ansible_collections.esxi.customizer.plugins.module_utils._module_result import exit_with


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path', required=True),
            dest=dict(type='path', required=True),
            vendor_name=dict(type='str', default='esxi.customizer'),
            vendor_code=dict(type='str', default='ECZ'),
            include=dict(type='raw', default='all'),
            software_spec=dict(type='path'),
            force=dict(type='bool', default=False),
            mode=dict(type='raw'),
            checksum=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    for library, error in missing_libraries():
        module.fail_json(msg=missing_required_lib(library), exception=error)
    for message in outdated_libraries():
        module.fail_json(msg=message)
    p = module.params
    include = p['include']
    if isinstance(include, str) and include not in ('all', 'non_vmware'):
        include = [item.strip() for item in include.split(',') if item.strip()]
    try:
        result = export_bundle(
            p['src'],
            p['dest'],
            vendor_name=p['vendor_name'],
            vendor_code=p['vendor_code'],
            include=include,
            spec_path=p['software_spec'],
            force=p['force'],
            check_mode=module.check_mode,
            checksum=p['checksum'],
            mode=p['mode'],
        )
    except EsxiCustomizerError as err:
        module.fail_json(msg=str(err))
    except ValueError as err:
        module.fail_json(msg='invalid request: %s' % err)
    exit_with(module, result)


if __name__ == '__main__':
    main()
