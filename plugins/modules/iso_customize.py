#!/usr/bin/python
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iso_customize
short_description: Inject, replace and remove drivers and set kickstart and boot options in an ESXi installer ISO
version_added: 0.1.0
author: esxi.customizer contributors (!UNKNOWN)
description:
  - Writes a customized copy O(dest) of the ESXi installer ISO O(src) with driver packages added (VIBs, offline
    bundles, 7.x components, legacy 3-file driver C(.tgz)), VIBs removed, a kickstart file embedded and boot
    options set in both the BIOS (C(/BOOT.CFG)) and UEFI (C(/EFI/BOOT/BOOT.CFG)) boot configuration.
  - Every payload is verified against its checksums and added unchanged as an upper-case 8.3 ISO 9660 file
    named by the installer's local-name rule (with matching lower-case Joliet and Rock Ridge names when the
    source has those trees); it is listed in C(modules=) of both C(boot.cfg) before C(/imgdb.tgz) and added to
    the image database (VIB descriptor with its original bytes as C(.orig), C(.sig) when signed, image profile entry, component for
    7.x components).
  - A VIB whose name is already on the ISO is replaced (its file, C(boot.cfg) entry and database entries go); a
    replacement by an older version is refused unless O(allow_downgrade=true). VIBs the new VIB's C(replaces)
    match (by name or by what they provide) are removed too.
  - Before anything is written the resulting image is validated with the rules of ESXi's installer, which
    checks the image profile before it copies anything, after the server was booted from the medium. Every
    C(depends) must be provided by a VIB of the image (its name and version, or a C(provides)), no VIB may
    conflict with or be obsoleted by another, one version per VIB name, each VIB as trusted as the profile's
    acceptance level, a base ESX (C(esx-version)), VIBs built for the image's release (C(softwarePlatform)), and on
    8.0 and later a C(sha-256) gunzip checksum for every gzip-wrapped payload. Version relations are compared
    as ESXi compares them. A request that introduces a problem is refused, naming which VIB needs what (or which
    remaining VIBs a removal would break); problems the source ISO already had are warnings.
  - On 7.0 and later images, components (bulletins) are kept consistent - O(remove) takes component names too,
    a VIB of a multi-VIB component can only go with its component, and no component listing a VIB that is no
    longer in the image is kept.
  - When VIBs change, the image profile stops claiming to be the vendor's stock image (see O(profile_name)).
  - The output keeps both El Torito boot entries (the BIOS boot-info-table is recomputed, the UEFI image is
    copied unchanged) and C(BOOT.CAT), and stays plain ISO 9660 when the source is.
  - The output is written to a temporary file beside O(dest), flushed, fsync'ed and renamed; on any failure
    O(src) and an earlier O(dest) are unchanged and no temporary file remains. Unchanged file data is copied
    by the kernel, so with O(checksum=false) writing takes about as long as a durable copy of the ISO (C(cp) then
    C(sync)); the sha256 of the output adds about 0.25 s of CPU per 400 MiB.
  - A manifest (C(/ESXICUST.JSN)) in the output records the source (size and an identity hash of its
    metadata), every input's sha256 and the options. When O(dest) already carries the manifest for the same
    request the task reports no change and does not rewrite it; the same inputs always give byte-identical
    output (every timestamp is taken from the source ISO).
  - O(src) may also be a base offline depot (C(VMware-ESXi-<version>-<build>-depot.zip), recognised by content).
    Its image profile (O(profile)) is first laid out as VMware lays out an installer ISO - application id
    C(ESXIMAGE), volume id the profile name upper-cased, ISOLINUX (BIOS) and C(EFIBOOT.IMG) (UEFI) El Torito entries
    and C(BOOT.CAT), both C(boot.cfg) with the modules in ESXi's boot order, C(ISOLINUX.CFG), C(IMGDB.TGZ), the
    boot modules under their local names, loader and upgrade files under their own names, and C(IMGPAYLD.TGZ)
    (plus C(BASEMISC.TGZ) and C(RESVIBS.TGZ) from 7.0U2, C(ESXIODPT.TGZ) from 8.0) - and then customized like an
    ISO. C(RESVIBS.TGZ) is written empty (a depot does not say which VIBs are reserved); C(.DISCINFO) and
    C(UPGRADE/METADATA.ZIP) are not written. Timestamps come from the profile's creation and modification times.
  - B(Patch rebase) - a package in O(add) that carries the base ESXi VIB (C(esx-base)) is a patch (a VMware patch
    depot such as C(VMware-ESXi-8.0U3e-24674464-depot.zip), or a bundle of base VIBs). The image is moved onto it
    first and then customized with the rest of O(add) - the way C(esxcli software profile update) applies a patch -
    every VIB of the patch's image profile (O(patch_profile)) replaces the image's VIB of the same name (or those it
    replaces), VIBs the image lacks are added, and the image's other VIBs (your drivers) stay. A patch without an
    image profile only updates VIBs the image has (as C(esxcli software vib update)). An older VIB is a downgrade,
    refused unless O(allow_downgrade=true); a patch of another major release is refused.
  - A rebase lays the ISO out afresh from the new VIB set (as for a depot O(src)) - kernel, boot modules, boot
    loaders, installer and upgrade files come from the patch, C(build=) is the patch's - and keeps of the source
    its VIBs the patch does not replace (payloads checked against their descriptors while copied; esxio VIBs taken
    out of C(ESXIODPT.TGZ)), the C(kernelopt), C(title) and C(timeout) of each C(boot.cfg), the embedded kickstart,
    and the profile's fields, with the old release label and build in its name and in the volume id replaced by the
    patch profile's (C(ESXi-7.0U3n-21930508-standard) becomes C(ESXi-7.0U3s-24585291-standard-custom)). Other files
    of the source are not carried over. RV(rebase) reports what moved.
extends_documentation_fragment:
  - esxi.customizer._attributes
  - esxi.customizer._attributes.IN_PROCESS
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Compares with the current O(dest) when it exists (else with O(src)) and shows only what differs - both
        C(boot.cfg) files, the image profile identity and acceptance level, its VIB list, and the sha256 of the
        embedded kickstart (never its contents).
  idempotent:
    support: full
options:
  src:
    description:
      - The base ESXi installer ISO, or a base offline depot zip holding an image profile (see O(profile)). It is
        only read.
    type: path
    required: true
  profile:
    description:
      - The image profile of the depot O(src) to build the ISO from (as C(package_info) lists them in RV(esxi.customizer.package_info#module:profiles)).
      - Default - the depot's only profile, or the C(-standard) one of a C(-standard)/C(-no-tools) pair; with any
        other set of profiles the task fails and lists them.
      - Only for a depot O(src); an ISO has exactly one profile.
    type: str
  patch_profile:
    description:
      - The image profile of the patch in O(add) to rebase onto (as C(package_info) lists them).
      - Default - the patch profile whose name ends like the source's (C(-standard), C(-no-tools), C(-s-standard),
        C(-s-no-tools)), else the patch's only profile or the C(-standard) one of a C(-standard)/C(-no-tools) pair;
        with any other set the task fails and lists them.
      - Only with a patch in O(add).
    type: str
  dest:
    description:
      - The customized ISO to write. Must differ from O(src); its directory must exist.
    type: path
    required: true
  add:
    description:
      - Driver packages to inject, in order; each a C(.vib), an offline bundle or 7.x component C(.zip), or a
        legacy 3-file driver C(.tgz) (C(vmkmod) module, C(.map), C(.ids)).
      - Only C(vgz), C(tgz) and C(vzstd) payloads can be injected, except from a patch (a package carrying
        C(esx-base)), onto which the image is rebased (see the description and O(patch_profile)). At most one patch.
    type: list
    elements: path
    default: []
  remove:
    description:
      - Names of VIBs, or on 7.0 and later of components (component name or bulletin id), to remove from the ISO
        (their payload files, C(boot.cfg) entries and database entries). A component's name removes all its VIBs.
      - Refused when a remaining VIB depends on what one of them provides, and for one VIB of a component that has
        other VIBs (name the component instead). A name that is not on the ISO gives a warning.
    type: list
    elements: str
    default: []
  kickstart:
    description:
      - A kickstart file to embed as C(/KS.CFG); C(ks=cdrom:/KS.CFG) is then set in the kernel options of both
        C(boot.cfg) (replacing an existing C(ks=)).
      - Mutually exclusive with O(kickstart_content).
    type: path
  kickstart_content:
    description:
      - The kickstart as text, embedded like O(kickstart) (for example a template rendered with
        C(lookup('ansible.builtin.template', ...)), so the rendered file with its root password hash is never
        written to the controller's disk).
      - Never logged or shown in a diff; the manifest records only its sha256.
      - Mutually exclusive with O(kickstart).
    type: str
  kernelopt:
    description:
      - Replace the kernel options (C(kernelopt=)) of both C(boot.cfg) with this string.
    type: str
  kernelopt_add:
    description:
      - Kernel option tokens merged into C(kernelopt=) of both C(boot.cfg), after O(kernelopt). C(key=value)
        replaces an existing token with the same key, a bare flag is added once, C(-key) removes the key or flag
        (for example V(-cdromBoot)).
    type: list
    elements: str
    default: []
  boot_title:
    description:
      - Set C(title=) in both C(boot.cfg).
    type: str
  boot_timeout:
    description:
      - Set C(timeout=) (seconds) in both C(boot.cfg).
    type: int
  bootcfg_options:
    description:
      - Other boot loader keys to set in both C(boot.cfg), for example C(runtimewd), C(tftpblksize), C(errtimeout),
        C(nobootif) or C(norts); a value of V(null) removes the key.
      - A key no ESXi boot loader reads (a typo) fails, and so do the keys other options or the installer manage
        (C(kernel), C(modules), C(kernelopt), C(title), C(timeout), C(prefix), C(build), C(updated), C(bootstate)).
      - A key the boot loader of the ISO's release does not know yet (C(errtimeout) before 8.0.2) or no longer reads
        (C(nativehttp) from 9.0) is set with a warning naming that release.
    type: dict
    default: {}
  acceptance_level:
    description:
      - Acceptance level of the image profile.
      - By default it is lowered to the least trusted level among the added VIBs, and no lower.
      - A level lower than needed is kept; a level more trusted than a VIB of the resulting image fails.
    type: str
    choices: [community, partner, accepted, certified]
  volume_id:
    description:
      - New ISO volume identifier (1-32 characters C(A-Z 0-9 _ - .) and space). Default keeps the source's.
      - Lower case is upper-cased, as on VMware's ISOs, with a warning; more than 32 characters or another character is an error
        (also in check mode).
    type: str
  skip_compatibility_check:
    description:
      - Inject drivers even when they are of the wrong generation for the ISO (ESXi 4.x modules, vmklinux
        drivers on 7.0 and later, a vmkapi newer than the ISO's release, a C(softwarePlatform) of another release,
        no C(sha-256) gunzip checksum on 8.0 and later).
      - B(Dangerous) - the installer of the ISO refuses such images.
    type: bool
    default: false
  skip_dependency_check:
    description:
      - Write the image even when the validation of its image profile finds problems (a dependency nothing
        provides, a conflict, an obsoleted or duplicate VIB, an acceptance level, a broken component); each problem
        is listed as a warning instead.
      - B(Dangerous) - ESXi's installer validates the image profile before it installs and stops on the same problems, after
        the server was already booted from the ISO. Use it only to build an image for a test of exactly that.
    type: bool
    default: false
  allow_downgrade:
    description:
      - Allow a VIB of the same name with an B(older) version to replace the one on the ISO.
    type: bool
    default: false
  profile_name:
    description:
      - Name of the image profile (what C(esxcli software profile get) and vLCM show for installed hosts).
      - Default - when VIBs are added, replaced or removed, the source's name with C(-custom) appended (once);
        otherwise the source's name.
    type: str
  profile_vendor:
    description:
      - Creator (vendor) of the image profile.
      - Default - when VIBs change, V(esxi.customizer), so that the image does not claim to be the vendor's stock image;
        otherwise the source's.
    type: str
  profile_description:
    description:
      - Description of the image profile.
      - Default - when VIBs change, a line naming the source profile and what was added, replaced and removed, followed by
        the source's description (so a chain of customizations stays readable); otherwise the source's.
      - Whenever the profile identity changes it is also marked not read-only and gets a new profile ID derived from its
        content (equal requests still give byte-identical output).
    type: str
  force:
    description:
      - Rewrite O(dest) even when its manifest says it is up to date.
    type: bool
    default: false
  mode:
    description:
      - Permissions of the written ISO, as an octal number in a string (V("0640")).
      - Default - what the process umask gives a new file (0666 masked). An up-to-date output only gets its mode changed.
    type: raw
  checksum:
    description:
      - Compute the sha256 of the output (returned as RV(sha256)). It is computed while the ISO is written, but
        on a small machine it adds CPU time; V(false) skips it and RV(sha256) is null.
    type: bool
    default: true
requirements:
  - pycdlib >= 1.20, < 2
  - zstandard (or backports.zstd) below Python 3.14, for ESXi 9.x C(vzstd) payloads only
notes:
  - An unsigned (community) VIB cannot be used with UEFI Secure Boot; the task warns about each one.
  - The manifest also records every earlier customization of the source (a customized ISO customized again).
  - Payloads of type C(vzstd) (ESXi 9.0, gzip around zstd) are verified (all four checksums), read and injected like C(vgz)
    ones; the vmkapi check refuses a 9.0 driver (vmkapi 3.0) for an older ISO.
seealso:
  - module: esxi.customizer.iso_info
  - module: esxi.customizer.package_info
"""

EXAMPLES = r"""
- name: Inject a NIC driver and a kickstart into the stock 7.0 installer
  esxi.customizer.iso_customize:
    src: /srv/iso/VMware-VMvisor-Installer-7.0U3n-21930508.x86_64.iso
    dest: /srv/iso/esxi70-custom.iso
    add:
      - /srv/drivers/net-r8125-9.011.00-10.vib
      - /srv/drivers/nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip
    kickstart: /srv/ks/esxi.ks
    boot_timeout: 3
  register: custom_iso

- name: Replace the stock USB NIC driver and remove one that is not needed, without Secure Boot
  esxi.customizer.iso_customize:
    src: /srv/iso/esxi80.iso
    dest: /srv/iso/esxi80-lab.iso
    add:
      - /srv/drivers/ESXi80U3-VMKUSB-NIC-FLING-75399077-component-24052746.zip
    remove:
      - lsi-msgpt35
    kernelopt_add:
      - -cdromBoot
      - allowLegacyCPU=true
    volume_id: ESXI-8.0U3-LAB

- name: The quarterly patch - the stock ISO moved onto the patch depot, with the site's drivers
  esxi.customizer.iso_customize:
    src: /srv/iso/VMware-VMvisor-Installer-7.0U3n-21930508.x86_64.iso
    dest: /srv/iso/esxi70u3s-custom.iso
    add:
      - /srv/depots/VMware-ESXi-7.0U3s-24585291-depot.zip
      - /srv/drivers/net-r8125-9.011.00-10.vib
    patch_profile: ESXi-7.0U3s-24585291-standard
  register: patched

- name: Show what the ISO would get
  esxi.customizer.iso_customize:
    src: /srv/iso/esxi80.iso
    dest: /srv/iso/esxi80-lab.iso
    add: [/srv/drivers/net-community.vib]
  check_mode: true
  diff: true
"""

RETURN = r"""
rebase:
  description: The patch the image was rebased onto (see O(add)), or null when there was none or it changed nothing.
  returned: always
  type: dict
  contains:
    patch:
      description: Path of the patch package.
      type: str
      sample: /srv/depots/VMware-ESXi-7.0U3s-24585291-depot.zip
    patch_profile:
      description: The patch's image profile that was applied (null for a patch without profiles).
      type: str
      sample: ESXi-7.0U3s-24585291-standard
    before:
      description: C(version) (esx-base's C(esx-version)), C(build) and C(profile) name of the source.
      type: dict
      sample: {"version": "7.0.3-0.105.21930508", "build": "21930508", "profile": "ESXi-7.0U3n-21930508-standard"}
    after:
      description: C(version), C(build) and C(profile) name after the rebase (before C(-custom) or O(profile_name)).
      type: dict
      sample: {"version": "7.0.3-0.135.24585291", "build": "24585291", "profile": "ESXi-7.0U3s-24585291-standard"}
    replaced:
      description: IDs of the source's VIBs the patch replaced (also in RV(replaced)).
      type: list
      elements: str
      sample: [VMware_bootbank_esx-base_7.0.3-0.105.21930508]
    added:
      description: IDs of VIBs of the patch the source did not have (also in RV(added)).
      type: list
      elements: str
      sample: []
source:
  description: What O(src) is and the image profile taken from it.
  returned: always
  type: dict
  contains:
    type:
      description: C(iso) or C(depot).
      type: str
      sample: depot
    profile:
      description: Name of the source's image profile (before O(profile_name) renames it).
      type: str
      sample: ESXi-8.0U3-24022510-standard
dest:
  description: Absolute path of the output ISO.
  returned: always
  type: str
  sample: /srv/iso/esxi70-custom.iso
size:
  description: Size of the output in bytes (null in check mode when it would change).
  returned: always
  type: int
  sample: 412090368
sha256:
  description: sha256 of the output (null in check mode when it would change, or with O(checksum=false)).
  returned: always
  type: str
  sample: 8c0ff99962d081aa7b8a61079d4e99b6d5e5952f27b7d9bfb01f726fea429190
added:
  description: VIBs added to the image.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: VIB id (vendor_type_name_version).
      type: str
      sample: Realtek_bootbank_net-r8125_9.011.00-10
    name:
      description: VIB name.
      type: str
    version:
      description: VIB version.
      type: str
    vendor:
      description: VIB vendor.
      type: str
    acceptance_level:
      description: The VIB's acceptance level.
      type: str
      sample: community
    file:
      description: ISO file(s) holding its payloads.
      type: str
      sample: /NET_R812.V00
    signed:
      description: Whether the VIB carries a signature.
      type: bool
    package:
      description: The package file it came from.
      type: str
replaced:
  description: VIBs that were on the ISO and were replaced (same name, or named in a new VIB's C(replaces)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: VIB id.
      type: str
    name:
      description: VIB name.
      type: str
    version:
      description: VIB version.
      type: str
    vendor:
      description: VIB vendor.
      type: str
    acceptance_level:
      description: The VIB's acceptance level.
      type: str
    file:
      description: ISO file(s) removed.
      type: str
    reason:
      description: Why it was replaced.
      type: str
    by:
      description: The id of the VIB that replaced it.
      type: str
removed:
  description: VIBs removed because of O(remove) (directly or with their component).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: VIB id.
      type: str
    name:
      description: VIB name.
      type: str
    version:
      description: VIB version.
      type: str
    vendor:
      description: VIB vendor.
      type: str
    acceptance_level:
      description: The VIB's acceptance level.
      type: str
    file:
      description: ISO file(s) removed.
      type: str
    reason:
      description: C(remove), or C(remove (component <name>)).
      type: str
components_added:
  description: 7.x component ids added to the image database.
  returned: always
  type: list
  elements: str
components_removed:
  description: 7.x component ids removed from the image database (named in O(remove), or no longer complete).
  returned: always
  type: list
  elements: str
profile:
  description: Identity of the output's image profile.
  returned: always
  type: dict
  contains:
    name:
      description: Profile name.
      type: str
      sample: ESXi-7.0U3n-21930508-standard-custom
    creator:
      description: Profile creator (vendor).
      type: str
      sample: esxi.customizer
    profile_id:
      description: Profile ID.
      type: str
    description:
      description: Profile description.
      type: str
    readonly:
      description: C(true) or C(false), as the profile says.
      type: str
problems:
  description: Problems the installer's validation would find in the output image (empty unless the source had
    some or O(skip_dependency_check)/O(skip_compatibility_check) let new ones through).
  returned: always
  type: list
  elements: str
acceptance_level:
  description: Image profile acceptance level before and after.
  returned: always
  type: dict
  contains:
    before:
      description: Level of the source's image profile.
      type: str
      sample: partner
    after:
      description: Level of the output's image profile.
      type: str
      sample: community
boot:
  description: The resulting boot settings of each C(boot.cfg).
  returned: always
  type: dict
  contains:
    bios:
      description: C(/BOOT.CFG) (keys C(path), C(kernel), C(kernelopt), C(modules), C(title), C(timeout), C(prefix), C(build)).
      type: dict
    uefi:
      description: C(/EFI/BOOT/BOOT.CFG), same keys; absent when the ISO has no UEFI C(boot.cfg).
      type: dict
manifest_digest:
  description: Digest of the request recorded in the output's manifest; equal digests mean an up-to-date output.
  returned: always
  type: str
warnings:
  description: Things to know about the result, for example that an unsigned VIB requires Secure Boot to be off.
  returned: when there are any
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._module_result import exit_with
from ansible_collections.esxi.customizer.plugins.module_utils._deps import missing_libraries, outdated_libraries
from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path', required=True),
            dest=dict(type='path', required=True),
            add=dict(type='list', elements='path', default=[]),
            remove=dict(type='list', elements='str', default=[]),
            kickstart=dict(type='path'),
            kickstart_content=dict(type='str', no_log=True),
            kernelopt=dict(type='str'),
            kernelopt_add=dict(type='list', elements='str', default=[]),
            boot_title=dict(type='str'),
            boot_timeout=dict(type='int'),
            bootcfg_options=dict(type='dict', default={}),
            acceptance_level=dict(type='str', choices=['community', 'partner', 'accepted', 'certified']),
            volume_id=dict(type='str'),
            skip_compatibility_check=dict(type='bool', default=False),
            skip_dependency_check=dict(type='bool', default=False),
            allow_downgrade=dict(type='bool', default=False),
            profile_name=dict(type='str'),
            profile_vendor=dict(type='str'),
            profile_description=dict(type='str'),
            force=dict(type='bool', default=False),
            checksum=dict(type='bool', default=True),
            mode=dict(type='raw'),
            profile=dict(type='str'),
            patch_profile=dict(type='str'),
        ),
        mutually_exclusive=[('kickstart', 'kickstart_content')],
        supports_check_mode=True,
    )
    for library, error in missing_libraries():
        module.fail_json(msg=missing_required_lib(library), exception=error)
    for message in outdated_libraries():
        module.fail_json(msg=message)
    p = module.params
    try:
        result = customize_iso(
            p['src'],
            p['dest'],
            add=p['add'],
            remove=p['remove'],
            kickstart=p['kickstart'],
            kickstart_content=p['kickstart_content'],
            kernelopt=p['kernelopt'],
            kernelopt_add=p['kernelopt_add'],
            boot_title=p['boot_title'],
            boot_timeout=p['boot_timeout'],
            bootcfg_options=p['bootcfg_options'],
            acceptance_level=p['acceptance_level'],
            volume_id=p['volume_id'],
            skip_compatibility_check=p['skip_compatibility_check'],
            skip_dependency_check=p['skip_dependency_check'],
            allow_downgrade=p['allow_downgrade'],
            profile_name=p['profile_name'],
            profile_vendor=p['profile_vendor'],
            profile_description=p['profile_description'],
            force=p['force'],
            check_mode=module.check_mode,
            checksum=p['checksum'],
            diff=module._diff,  # pylint: disable=protected-access
            mode=p['mode'],
            profile=p['profile'],
            patch_profile=p['patch_profile'],
        )
    except EsxiCustomizerError as err:
        module.fail_json(msg=str(err))
    except ValueError as err:
        module.fail_json(msg='invalid request: %s' % err)
    exit_with(module, result)


if __name__ == '__main__':
    main()
