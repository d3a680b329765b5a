#!/usr/bin/python
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: package_info
short_description: Read and validate an ESXi driver package (VIB, offline bundle, component or legacy driver tgz)
version_added: 0.1.0
author: esxi.customizer contributors (!UNKNOWN)
description:
  - Reads a C(.vib) file, an offline bundle or 7.x+ component zip (nested zips included), or a legacy
    ESXi 5.0 style 3-file driver C(.tgz), and reports every VIB it holds.
  - Payload checksums (C(sha-256), C(sha-1), and the C(verify-process="gunzip") ones) are verified by
    streaming; a mismatch fails the task.
  - Payload contents are read to list the installed files, the PCI IDs from the driver C(.map) and C(.ids)
    files, and to check the vmkernel modules (vmkapi version, vmklinux, ESX 4.x binaries).
  - Archives are checked for unsafe members (absolute paths, C(..), links) and decompression bombs
    before anything is read; see O(max_uncompressed_size) and O(max_compression_ratio).
  - ESXi 9.0 C(vzstd) payloads (gzip around zstd) and xz inside gzip are read like C(vgz) ones, checksums of
    the member, of the gzip layer (C(sha-256-gunzip1)) and of the decompressed payload included.
  - zstd needs the standard library's C(compression.zstd) (Python 3.14+) or the C(zstandard) (or C(backports.zstd))
    package; without one a C(vzstd) payload's contents and decompressed checksums are not read, which
    RV(vibs[].warnings) says, with the package to install.
extends_documentation_fragment:
  - esxi.customizer._attributes
  - esxi.customizer._attributes.IN_PROCESS
  - esxi.customizer._attributes.INFO_MODULE
options:
  path:
    description:
      - Path of the package on the host running the module.
      - A C(.vib) (ar archive), a C(.zip) offline bundle or component, or a legacy driver C(.tgz)
        (C(usr/lib/vmware/vmkmod/<module>), a C(.map) and a C(.ids) file).
    type: path
    required: true
  verify_checksums:
    description:
      - Verify the payload checksums declared in each VIB descriptor, and the VIB file checksums
        declared in bundle metadata.
      - When V(false), RV(vibs[].payloads[].checksum_ok) is V(null).
    type: bool
    default: true
  max_uncompressed_size:
    description:
      - Largest number of bytes any zip member or gzip stream of the package may expand to.
      - Protects against decompression bombs.
    type: int
    default: 4294967296
  max_compression_ratio:
    description:
      - Largest expansion ratio (uncompressed / compressed) accepted once a stream has produced more
        than 4 MiB.
    type: int
    default: 200
  iso:
    description:
      - An ESXi installer ISO to check the package against, before any build - "does this package fit this ISO".
      - Runs the same checks as M(esxi.customizer.iso_customize) would (driver generation, dependencies through what the
        image provides, conflicts, acceptance, platform, 8.0 checksums, downgrades) and returns the verdict as RV(fit).
        Nothing is written.
    type: path
requirements:
  - pycdlib >= 1.20, < 2 (only with O(iso))
  - zstandard (or backports.zstd) below Python 3.14, for ESXi 9.x C(vzstd) payloads only
notes:
  - The package is only read; nothing is extracted to disk except, for a deflated zip nested inside
    another zip, one temporary copy of the inner zip that is deleted when the module ends.
seealso:
  - name: VIB and depot formats
    description: The on-disk formats this module reads.
    link: https://github.com/esxi-customizer/esxi.customizer
"""

EXAMPLES = r"""
- name: Inspect a driver bundle before injecting it
  esxi.customizer.package_info:
    path: /srv/esxi/drivers/VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240.zip
  register: pkg

- name: Refuse vmklinux drivers for an ESXi 8 image
  ansible.builtin.assert:
    that: pkg.vibs | selectattr('vmklinux') | list | length == 0
    fail_msg: "{{ pkg.vibs | selectattr('vmklinux') | map(attribute='id') | join(', ') }} need vmklinux (ESXi <= 6.7)"

- name: Check a driver against the ISO it is meant for, before a build
  esxi.customizer.package_info:
    path: /srv/esxi/drivers/net51-r8169-6.011.00-2vft.510.0.0.799733-offline_bundle.zip
    iso: /srv/iso/VMware-VMvisor-Installer-6.7.0-8169922.x86_64.iso
  register: fit
  failed_when: not fit.fit.fits

- name: Read a legacy 3-file driver tgz with a tighter bomb limit
  esxi.customizer.package_info:
    path: /srv/esxi/drivers/r8169.tgz
    max_uncompressed_size: 268435456
"""

RETURN = r"""
fit:
  description: Whether the package fits O(iso), as M(esxi.customizer.iso_customize) would decide.
  returned: when O(iso) is set
  type: dict
  contains:
    iso:
      description: Absolute path of the ISO.
      type: str
    fits:
      description: True when iso_customize would add the package to the ISO without an override.
      type: bool
    problems:
      description: Each reason it would be refused (empty when it fits).
      type: list
      elements: str
      sample: ["VMW_bootbank_net51-r8169_6.011.00-2vft.510.0.0.799733 requires vmkapi_2_1_0_0, but no VIB in the image or the request provides it"]
    replaces:
      description: VIB ids on the ISO the package would replace.
      type: list
      elements: str
    warnings:
      description: What iso_customize would warn about (unsigned VIBs, a lowered acceptance level...).
      type: list
      elements: str
package_type:
  description: What the file is.
  returned: success
  type: str
  choices: [vib, bundle, component, legacy_tgz]
  sample: component
package_warnings:
  description: Package-level remarks (for example a bulletin naming a VIB the bundle does not carry).
  returned: success
  type: list
  elements: str
  sample: []
components:
  description: The 7.x+ components (bulletins with a component name and version) of a bundle; empty otherwise.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Component name.
      type: str
      sample: VMware-Re-Driver
    version:
      description: Component version.
      type: str
      sample: 1.101.01-5vmw.800.1.0.20613240
    ui_name:
      description: Display name.
      type: str
    ui_version:
      description: Display version.
      type: str
    bulletin_id:
      description: Bulletin id.
      type: str
    vendor:
      description: Vendor.
      type: str
    vib_ids:
      description: VIB ids of the component.
      type: list
      elements: str
profiles:
  description:
    - The image profiles of a base depot (C(VMware-ESXi-<version>-<build>-depot.zip), patch bundles), like Image
      Builder's C(Get-EsxImageProfile); empty for driver bundles, components, VIBs and driver tgz.
    - M(esxi.customizer.iso_customize) builds an installer ISO from one of them (its O(esxi.customizer.iso_customize#module:profile)).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Profile name.
      type: str
      sample: ESXi-8.0U3-24022510-standard
    vendor:
      description: Who made it (the profile's C(creator)).
      type: str
      sample: VMware, Inc.
    acceptance_level:
      description: Acceptance level of the profile (C(certified), C(accepted), C(partner), C(community)).
      type: str
      sample: partner
    description:
      description: Profile description.
      type: str
    esxi_version:
      description: ESXi version of its esx-base VIB (C(8.0.3)); null when it lists no esx-base.
      type: str
      sample: 8.0.3
    vib_count:
      description: Number of VIBs the profile lists.
      type: int
      sample: 92
    vib_ids:
      description: The VIB ids the profile lists, in its order.
      type: list
      elements: str
vibs:
  description: One entry per VIB in the package.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: VIB id, C(<vendor>_<type>_<name>_<version>).
      type: str
      sample: vmw_bootbank_if-re_1.101.01-5vmw.800.1.0.20613240
    name:
      description: VIB name.
      type: str
    version:
      description: VIB version.
      type: str
    vendor:
      description: Vendor code.
      type: str
    type:
      description: VIB type (C(bootbank), C(locker), C(meta)).
      type: str
    acceptance_level:
      description: C(certified), C(accepted), C(partner) or C(community).
      type: str
    summary:
      description: One-line summary.
      type: str
    description:
      description: Longer description.
      type: str
    release_date:
      description: Release date as written in the descriptor.
      type: str
    depends:
      description: Dependency constraints.
      type: list
      elements: dict
      contains:
        name:
          description: Name of the required VIB or capability.
          type: str
        relation:
          description: Version relation (C(=), C(>=), ...) or null.
          type: str
        version:
          description: Version or null.
          type: str
    conflicts:
      description: Conflict constraints (same shape as RV(vibs[].depends)).
      type: list
      elements: dict
    replaces:
      description: Replace constraints (same shape as RV(vibs[].depends)).
      type: list
      elements: dict
    provides:
      description: Provide constraints (same shape as RV(vibs[].depends)).
      type: list
      elements: dict
    software_tags:
      description: Software tags.
      type: list
      elements: str
    software_platforms:
      description: The C(softwarePlatform) requirements (7.x+), each with version, locale and product_line_id.
      type: list
      elements: dict
    payloads:
      description: Payloads of the VIB.
      type: list
      elements: dict
      contains:
        name:
          description: Payload name (the ar member name).
          type: str
        type:
          description: Payload type (C(vgz), C(tgz), C(vzstd), C(boot), ...).
          type: str
        size:
          description: Payload size in bytes.
          type: int
        uncompressed_size:
          description: Declared uncompressed size, or null.
          type: int
        checksum_ok:
          description:
            - V(true) when every checksum that could be computed matched (at least one), V(null) when none could be
              computed or O(verify_checksums=false). A mismatch fails the task.
          type: bool
        checksums:
          description: Declared checksums with C(type), C(verify_process) and C(ok) (null when not verifiable).
          type: list
          elements: dict
        injectable:
          description: Whether this collection can read and inject the payload (false for C(vzstd) when no zstd library is installed).
          type: bool
    files:
      description: Files the payloads install (from the payloads; from the descriptor file list when unreadable).
      type: list
      elements: str
    pci_ids:
      description:
        - Hardware the driver claims, from its C(.map) files (named from its C(.ids) files). Null fields are wildcards.
        - C(class) is a PCI class code for native drivers and a class name (C(network)) for vmklinux drivers.
        - ACPI entries have C(bus=acpi) and C(acpi_id); entries of other buses (C(logical), ...) carry their id in C(acpi_id) too.
      type: list
      elements: dict
      contains:
        vendor:
          description: PCI vendor id (4 hex digits) or null.
          type: str
        device:
          description: PCI device id or null.
          type: str
        subvendor:
          description: Subsystem vendor id or null.
          type: str
        subdevice:
          description: Subsystem device id or null.
          type: str
        class:
          description: Class code or class name, or null.
          type: str
        driver:
          description: Driver (module) name.
          type: str
        bus:
          description: C(pci), C(acpi) or another bus named by the map.
          type: str
        acpi_id:
          description: Id of a non-PCI entry (ACPI or other bus), else null.
          type: str
        revision:
          description: PCI revision (2 hex digits) of a 24-character native map id, else null.
          type: str
    vmkapi:
      description: Highest vmkapi version the VIB needs (from its C(vmkapi_*) depends, else its modules), or null.
      type: str
      sample: 2.10.0.0
    min_esxi_version:
      description: Lowest ESXi release providing that vmkapi version, or null when unknown.
      type: str
      sample: '8.0'
    vmklinux:
      description: Whether the driver needs vmklinux (com.vmware.driverAPI), which ESXi 7.0 removed.
      type: bool
    esx4:
      description: Whether a vmkernel module was built for ESX(i) 4.x (no C(.vmkmodinfo)/C(license=)); such modules do not load on 5.0+.
      type: bool
    modules:
      description: The vmkernel modules found, with C(path), C(license), C(version), C(vmkapi), C(vmklinux), C(esx4).
      type: list
      elements: dict
    signed:
      description: Whether the VIB carries a signature (non-empty C(sig.pkcs7)); the signature itself is not verified.
      type: bool
    vib_checksum_ok:
      description: For a VIB in a bundle, whether the C(.vib) file matches the metadata checksum; null when there is none.
      type: bool
    warnings:
      description: Remarks about this VIB (vmklinux, ESX 4.x, unreadable zstd payloads, unknown vmkapi).
      type: list
      elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.esxi.customizer.plugins.module_utils._errors import ChecksumError, EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import Limits
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import INJECTABLE_PAYLOAD_TYPES, load_package
from ansible_collections.esxi.customizer.plugins.module_utils._deps import missing_libraries, outdated_libraries
from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import package_fit
from ansible_collections.esxi.customizer.plugins.module_utils._image.depot_source import profile_facts
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import payload_compression_supported, raise_for_mismatch


def _constraints(items):
    return [c.as_dict() for c in items]


def _pci(entry):
    data = entry.as_dict()
    return {
        key: data[key] for key in ('vendor', 'device', 'subvendor', 'subdevice', 'class', 'driver', 'bus', 'acpi_id', 'vendor_name', 'device_name', 'revision')
    }


def _payloads(vib, verify):
    checks = {c.name: c for c in vib.verify_payloads()} if verify else {}
    result = []
    for payload in vib.descriptor.payloads:
        check = checks.get(payload.name)
        if check is not None:
            raise_for_mismatch(check, vib.label)
        injectable, _reason = payload_compression_supported(payload)
        if check is not None:
            checksums = [{'type': r.checksum_type, 'verify_process': r.verify_process, 'ok': r.ok, 'note': r.note} for r in check.results]
        else:
            checksums = [{'type': c.checksum_type, 'verify_process': c.verify_process, 'ok': None, 'note': ''} for c in payload.checksums]
        result.append(
            {
                'name': payload.name,
                'type': payload.type,
                'size': payload.size,
                'uncompressed_size': payload.uncompressed_size,
                'checksum_ok': check.checksum_ok if check is not None else None,
                'checksums': checksums,
                'injectable': injectable and payload.type in INJECTABLE_PAYLOAD_TYPES,
            }
        )
    return result


def describe_vib(vib, verify=True):
    d = vib.descriptor
    vib_checksum_ok = vib.verify_vib_file() if verify else None
    if vib_checksum_ok is False:
        raise ChecksumError('the .vib file does not match the checksum in the bundle metadata (corrupt bundle)', path=vib.label)
    return {
        'id': vib.vib_id,
        'name': d.name,
        'version': d.version,
        'vendor': d.vendor,
        'type': d.type,
        'acceptance_level': d.acceptance_level,
        'summary': d.summary,
        'description': d.description,
        'release_date': d.release_date,
        'depends': _constraints(d.depends),
        'conflicts': _constraints(d.conflicts),
        'replaces': _constraints(d.replaces),
        'provides': _constraints(d.provides),
        'software_tags': list(d.software_tags),
        'software_platforms': [{'version': p.version, 'locale': p.locale, 'product_line_id': p.product_line_id} for p in d.system_requires.software_platforms],
        'payloads': _payloads(vib, verify),
        'files': vib.files,
        'pci_ids': [_pci(e) for e in vib.pci_ids],
        'vmkapi': vib.vmkapi_string,
        'min_esxi_version': vib.min_esxi_release,
        'vmklinux': vib.vmklinux,
        'esx4': vib.esx4,
        'modules': [
            {
                'path': m.path,
                'license': m.license,
                'version': m.version,
                'vmkapi': '.'.join(str(n) for n in m.vmkapi) if m.vmkapi else None,
                'vmklinux': m.vmklinux,
                'esx4': m.esx4,
            }
            for m in vib.modules
        ],
        'signed': vib.signed,
        'vib_checksum_ok': vib_checksum_ok,
        'warnings': vib.all_warnings(),
    }


def describe_package(pkg, verify=True):
    return {
        'package_type': pkg.kind,
        'package_warnings': list(pkg.warnings),
        'components': [
            {
                'name': c.component_name,
                'version': c.component_version,
                'ui_name': c.component_ui_name,
                'ui_version': c.component_ui_version,
                'bulletin_id': c.id,
                'vendor': c.vendor,
                'vib_ids': list(c.vib_ids),
            }
            for c in pkg.components
        ],
        'profiles': [profile_facts(profile) for profile in pkg.profiles],
        'vibs': [describe_vib(v, verify) for v in pkg.vibs],
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            verify_checksums=dict(type='bool', default=True),
            max_uncompressed_size=dict(type='int', default=4 * 1024**3),
            max_compression_ratio=dict(type='int', default=200),
            iso=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['max_uncompressed_size'] < 1 or params['max_compression_ratio'] < 1:
        module.fail_json(msg='max_uncompressed_size and max_compression_ratio must be positive')
    limits = Limits(max_uncompressed_size=params['max_uncompressed_size'], max_compression_ratio=params['max_compression_ratio'])
    try:
        with load_package(params['path'], limits) as pkg:
            result = describe_package(pkg, params['verify_checksums'])
        if params['iso']:
            for library, error in missing_libraries('pycdlib'):
                module.fail_json(msg=missing_required_lib(library), exception=error)
            for message in outdated_libraries('pycdlib'):
                module.fail_json(msg=message)
            result['fit'] = package_fit(params['path'], params['iso'])
    except EsxiCustomizerError as err:
        module.fail_json(msg=str(err))
    except OSError as err:
        module.fail_json(msg='%s: cannot read the package (%s)' % (params['path'], err))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
