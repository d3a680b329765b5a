#!/usr/bin/python
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pxe_publish
short_description: Publish an ESXi installer ISO as a PXE / UEFI / iPXE / HTTP network-boot tree with per-host configs
version_added: 0.1.0
author: esxi.customizer contributors (!UNKNOWN)
description:
  - Extracts every file of an ESXi installer ISO into O(dest)/O(name)/ with lower-case names (TFTP and HTTP
    servers are case-sensitive, C(boot.cfg) names are lower case) and rewrites both C(boot.cfg) files of
    that tree for network boot the way VMware documents it - C(prefix=) set, no leading C(/) on C(kernel=)
    and modules, C(cdromBoot) removed, C(ks=) set when a kickstart URL is given.
  - "BIOS: writes C(pxelinux.cfg/<name>.menu) (C(KERNEL <name>/mboot.c32), C(APPEND -c <name>/boot.cfg),
    C(IPAPPEND 2)) and, per host, C(pxelinux.cfg/01-<mac>)."
  - "UEFI: copies C(efi/boot/bootx64.efi) to C(<name>/mboot.efi) (plus C(crypto64.efi) when the ISO has it); the
    DHCP boot file is C(<name>/mboot.efi), which itself looks for C(<name>/01-<mac>/boot.cfg) before C(<name>/boot.cfg)."
  - "iPXE: writes C(<name>/boot.ipxe) and, per host, C(<name>/01-<mac>/boot.ipxe); they boot C(mboot.c32) (BIOS) or
    the ISO's EFI loader (UEFI) with C(-c) pointing at the host's C(boot.cfg), over O(http_url) when set,
    else over TFTP from C(${next-server})."
  - Every host in O(hosts) gets its own C(<name>/01-<mac>/boot.cfg) (kickstart URL, kernel options, title) that
    refers to the shared tree, so 1000 hosts cost one tree plus a few small files each.
  - The tree is synced idempotently, every file is replaced atomically (temporary file in the same directory,
    then rename) so a host booting during a publish never reads a half-written file, and a manifest kept
    in C(<name>/.esxi-customizer-pxe.json) records what was published. Re-running with an unchanged ISO
    and options writes nothing and does not read the ISO data; files of an earlier publish of the same
    O(name) that are no longer wanted are removed; files in O(dest) this module did not publish are never
    overwritten or removed.
  - "Remote PXE servers: with O(archive) the module writes the whole publication (exactly the files it would write
    into O(dest)) as one uncompressed POSIX tar file instead; copy it to the server and run the module there with
    the tar as O(src) and the server root as O(dest). Publishing an archive needs no pycdlib, only
    the Python standard library, and has the same semantics as publishing the ISO (manifest, atomic files,
    idempotence, removal of files no longer wanted)."
extends_documentation_fragment:
  - esxi.customizer._attributes
  - esxi.customizer._attributes.IN_PROCESS
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the C(boot.cfg) files that would be written (tree and per-host); binary files are only listed
        in RV(files_written). Kickstart contents are never shown.
      - With O(archive), the diff compares the C(boot.cfg) files with those in the archive already at O(archive).
  idempotent:
    support: full
options:
  src:
    description:
      - The (customized) ESXi installer ISO to publish, or a publication archive written by O(archive), on the host
        running the module. An archive is recognised by its content (a tar whose first member is
        C(.esxi-customizer-publication.json)), not by its file name.
      - With an archive, O(hosts), O(http_url), O(kickstart_url), O(kernelopt_add) and O(bootloaders) must not be
        given (the archive was built with them), O(name) must be left out or equal the archive's name, and every
        member is checked against the size and sha256 the archive lists; a damaged archive, or one with links,
        devices, absolute paths or C(..), publishes nothing.
      - Required with O(state=present). With O(state=absent) it is only used to derive O(name) when O(name) is not given.
    type: path
  dest:
    description:
      - Root directory of the TFTP / HTTP server (for example C(/srv/tftp)). It must exist.
      - No symbolic link may exist below it on the paths this module writes (C(<name>/), C(pxelinux.cfg/)).
      - Exactly one of O(dest) and O(archive) is required; O(state=absent) needs O(dest).
    type: path
  archive:
    description:
      - Write the publication of the ISO O(src) as one uncompressed POSIX (pax) tar file at this path instead of into
        O(dest), to publish it on other hosts later with the archive as O(src). Its directory must exist.
      - The tar holds exactly the files a publish into O(dest) writes (the C(<name>/) tree with both rewritten
        C(boot.cfg), C(pxelinux.cfg/) files, per-host files, host kickstarts), preceded by a member
        C(.esxi-customizer-publication.json) that lists every file with its size and sha256.
      - It is reproducible (the same ISO and options give the same bytes), written atomically, and not rewritten
        when the ISO (its size, first MiB and last 64 KiB) and the options did not change.
      - "The archive holds the host kickstarts (O(hosts[].kickstart)), which may contain password hashes: keep it as
        private as the kickstarts themselves (see O(mode))."
      - Only with O(state=present); an existing file at this path is replaced.
    type: path
  mode:
    description:
      - Permissions of the file written by O(archive), as an octal number in a string (V("0600")).
      - Default - what the process umask gives a new file (0666 masked). An up-to-date archive only gets its mode changed.
      - Only with O(archive); the files published into O(dest) are always world-readable (see the notes).
    type: raw
  name:
    description:
      - Sub-directory of O(dest) that receives the tree, also the C(prefix=) of C(boot.cfg) when O(http_url) is not set.
      - Letters, digits, C(.), C(_), C(+) and C(-) only.
      - With an archive as O(src), the name is the one the archive was built with.
      - Defaults to C(esxi-<version>-<build>) read from the ISO, for example C(esxi-6.7.0-8169922). Setting it explicitly
        lets a re-run skip parsing the ISO altogether.
    type: str
  http_url:
    description:
      - URL under which O(dest)/O(name) is served over HTTP(S), for example C(http://10.0.0.1/esxi/esxi-8.0.3-24022510).
      - When set, C(prefix=) in every C(boot.cfg) is this absolute URL (iPXE and native UEFI HTTP boot load the
        modules over HTTP), and the iPXE scripts fetch the loader and C(boot.cfg) from it.
      - When not set, C(prefix=) is O(name), relative to the TFTP root.
    type: str
  kickstart_url:
    description:
      - Kickstart location for every host that has no own O(hosts[].kickstart_url); written as C(ks=) into C(kernelopt=).
      - Any location the ESXi installer accepts (C(http://), C(https://), C(ftp://), C(nfs://), ...). A C(ks=cdrom:) kept
        from the ISO cannot be read by a network-booted host; the module warns about it.
    type: str
  kernelopt_add:
    description:
      - Kernel options merged into C(kernelopt=) of every C(boot.cfg), for example V(netdevice=vmnic1) or V(noIOMMU).
      - "C(key=value) replaces an existing C(key=); a bare flag is added once; C(-key) removes C(key=...) and C(key)."
    type: list
    elements: str
    default: []
  hosts:
    description:
      - Hosts that get their own boot configuration, identified by the MAC address they boot from.
    type: list
    elements: dict
    default: []
    suboptions:
      mac:
        description:
          - MAC address in any common form (C(00:50:56:aa:bb:cc), C(00-50-56-AA-BB-CC), C(0050.56aa.bbcc)); written
            lower case with dashes, prefixed with the Ethernet type C(01-), as pxelinux and mboot look it up.
        type: str
        required: true
      kickstart_url:
        description:
          - Kickstart location for this host; overrides O(kickstart_url).
        type: str
      kernelopt_add:
        description:
          - Kernel options for this host, merged after O(kernelopt_add).
        type: list
        elements: str
      hostname:
        description:
          - Host name shown in the boot loader title and in the comments of the generated files.
        type: str
      kickstart:
        description:
          - Contents of this host's kickstart file, published as C(<name>/01-<mac>/ks.cfg) beside its C(boot.cfg); its
            C(ks=) then points at C(<http_url>/01-<mac>/ks.cfg) unless the host sets its own O(hosts[].kickstart_url).
          - Needs O(http_url) (the installer fetches kickstarts over HTTP). Never logged or shown in a diff.
        type: str
  bootloaders:
    description:
      - Which network boot loaders to publish configurations for. The extracted tree and the per-host C(boot.cfg)
        are always written.
      - Default - all three, V([bios, uefi, ipxe]).
    type: list
    elements: str
    choices: [bios, uefi, ipxe]
  state:
    description:
      - V(present) publishes; V(absent) removes exactly the files an earlier publish of O(name) wrote (per its manifest)
        and the directories it created, if empty. Files changed by someone since are left in place with a warning.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - pycdlib >= 1.20, < 2 (only read when the ISO is not the one of the previous publish; not needed to publish an archive)
notes:
  - The BIOS configuration assumes C(pxelinux.0) (syslinux 3.86 as VMware documents, or lpxelinux for HTTP) lives in the
    root of O(dest); this module does not provide it, nor the DHCP configuration.
  - Files are world-readable (mode 0644, directories 0755) because TFTP and web servers usually run as another user.
  - Publishing two names with the same host MAC is refused (C(pxelinux.cfg/01-<mac>) can point at one tree only);
    remove the host from the other publication first.
  - Concurrent runs against the same O(dest) are serialised with a lock on the O(dest) directory.
seealso:
  - module: esxi.customizer.iso_customize
  - module: esxi.customizer.iso_info
"""

EXAMPLES = r"""
- name: Publish a customized installer on the TFTP server, with one kickstart per host
  esxi.customizer.pxe_publish:
    src: /srv/iso/esxi-8.0.3-custom.iso
    dest: /srv/tftp
    name: esxi-8.0.3-custom
    kickstart_url: http://10.0.0.1/ks/default.cfg
    kernelopt_add:
      - netdevice=vmnic0
    hosts:
      - mac: 00:50:56:aa:bb:01
        hostname: esx01
        kickstart_url: http://10.0.0.1/ks/esx01.cfg
      - mac: 00:50:56:aa:bb:02
        hostname: esx02
        kickstart_url: http://10.0.0.1/ks/esx02.cfg
  register: esxi_pxe

- name: UEFI HTTP boot / iPXE over HTTP (dest is also served by a web server)
  esxi.customizer.pxe_publish:
    src: /srv/iso/esxi-8.0.3-custom.iso
    dest: /var/www/html/esxi
    name: esxi-8.0.3
    http_url: http://10.0.0.1/esxi/esxi-8.0.3
    bootloaders: [uefi, ipxe]

- name: Build the publication once on the controller, as one tar file
  esxi.customizer.pxe_publish:
    src: /srv/iso/esxi-8.0.3-custom.iso
    archive: /srv/iso/esxi-8.0.3-custom.pxe.tar
    mode: '0600'  # it holds the host kickstarts
    name: esxi-8.0.3-custom
    http_url: http://pxe.example.com/tftp/esxi-8.0.3-custom
    hosts:
      - mac: 00:50:56:aa:bb:01
        hostname: esx01
        kickstart: "{{ lookup('ansible.builtin.template', 'esx01.ks.j2') }}"
  delegate_to: localhost
  run_once: true

- name: Copy the archive to every PXE server
  ansible.builtin.copy:
    src: /srv/iso/esxi-8.0.3-custom.pxe.tar
    dest: /var/tmp/esxi-8.0.3-custom.pxe.tar
    mode: '0600'

- name: Publish it there (needs only the Python standard library on the PXE server)
  esxi.customizer.pxe_publish:
    src: /var/tmp/esxi-8.0.3-custom.pxe.tar
    dest: /srv/tftp

- name: Take the publication down again
  esxi.customizer.pxe_publish:
    dest: /srv/tftp
    name: esxi-8.0.3-custom
    state: absent
"""

RETURN = r"""
name:
  description: The publication's name (sub-directory of O(dest)).
  returned: always
  type: str
  sample: esxi-6.7.0-8169922
path:
  description: Absolute path of the published tree (with O(archive), the path of the archive).
  returned: always
  type: str
  sample: /srv/tftp/esxi-6.7.0-8169922
archive:
  description: Absolute path of the archive written (or, in check mode, that would be written).
  returned: when O(archive) is set
  type: str
  sample: /srv/iso/esxi-8.0.3-custom.pxe.tar
prefix:
  description: The C(prefix=) written into every C(boot.cfg) (O(name), or O(http_url)).
  returned: when O(state=present)
  type: str
  sample: esxi-6.7.0-8169922
version:
  description: ESXi version of the ISO.
  returned: when O(state=present)
  type: str
  sample: 6.7.0
build:
  description: ESXi build string of the ISO.
  returned: when O(state=present)
  type: str
  sample: 6.7.0-0.0.8169922
files_written:
  description:
    - Files (relative to O(dest)) written by this run, or that would be written in check mode.
    - With O(archive), every file of the archive when it is (or would be) written, else empty.
  returned: always
  type: list
  elements: str
  sample: [esxi-6.7.0-8169922/01-00-50-56-aa-bb-01/boot.cfg]
files_removed:
  description: Files (relative to O(dest)) of an earlier publish that this run removed (or would remove); empty with O(archive).
  returned: always
  type: list
  elements: str
  sample: [pxelinux.cfg/01-00-50-56-aa-bb-09]
files_kept:
  description: Files an earlier publish wrote that were changed by someone since; they are left in place and forgotten.
  returned: always
  type: list
  elements: str
  sample: []
hosts:
  description: For every host in O(hosts), its normalised MAC and the files written for it (relative to O(dest)).
  returned: always
  type: dict
  sample:
    00-50-56-aa-bb-01:
      - esxi-6.7.0-8169922/01-00-50-56-aa-bb-01/boot.cfg
      - pxelinux.cfg/01-00-50-56-aa-bb-01
      - esxi-6.7.0-8169922/01-00-50-56-aa-bb-01/boot.ipxe
boot_cfg:
  description: The default C(boot.cfg) written to C(<name>/boot.cfg).
  returned: when O(state=present)
  type: str
  sample: "bootstate=0\ntitle=Loading ESXi installer\ntimeout=5\nprefix=esxi-6.7.0-8169922\nkernel=tboot.b00\n..."
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._module_result import exit_with
from ansible_collections.esxi.customizer.plugins.module_utils._deps import missing_libraries, outdated_libraries
from ansible_collections.esxi.customizer.plugins.module_utils._publish.pxe import BOOTLOADERS, Request
from ansible_collections.esxi.customizer.plugins.module_utils._publish.pxe_archive import is_publication_archive, run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path'),
            dest=dict(type='path'),
            archive=dict(type='path'),
            mode=dict(type='raw'),
            name=dict(type='str'),
            http_url=dict(type='str'),
            kickstart_url=dict(type='str'),
            kernelopt_add=dict(type='list', elements='str', default=[]),
            hosts=dict(
                type='list',
                elements='dict',
                default=[],
                options=dict(
                    mac=dict(type='str', required=True),
                    kickstart_url=dict(type='str'),
                    kernelopt_add=dict(type='list', elements='str'),
                    hostname=dict(type='str'),
                    kickstart=dict(type='str', no_log=True),
                ),
            ),
            bootloaders=dict(type='list', elements='str', choices=list(BOOTLOADERS)),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        required_if=[('state', 'present', ('src',))],
        required_one_of=[('dest', 'archive')],
        mutually_exclusive=[('dest', 'archive')],
        supports_check_mode=True,
    )
    params = module.params
    request = Request(
        src=params['src'],
        dest=params['dest'],
        name=params['name'],
        http_url=params['http_url'],
        kickstart_url=params['kickstart_url'],
        kernelopt_add=params['kernelopt_add'],
        hosts=params['hosts'],
        bootloaders=params['bootloaders'],
    )
    # publishing an archive needs the standard library only: PXE servers without pycdlib
    from_archive = bool(params['src']) and is_publication_archive(params['src'])
    needs_iso = not from_archive and (params['state'] == 'present' or params['name'] is None)
    for library, error in missing_libraries() if needs_iso else ():
        module.fail_json(msg=missing_required_lib(library), exception=error)
    for message in outdated_libraries() if needs_iso else ():
        module.fail_json(msg=message)
    try:
        result = run(request, state=params['state'], archive=params['archive'], mode=params['mode'], check_mode=module.check_mode)
    except EsxiCustomizerError as err:
        module.fail_json(msg=str(err))
    except OSError as err:
        # full disk, permissions...: the sync engine and the archive writer have already removed their temporary file
        where = params['archive'] or params['dest']
        module.fail_json(msg='%s: publishing failed: %s%s' % (where, err.strerror or err, ' (%s)' % err.filename if err.filename else ''))
    exit_with(module, result)


if __name__ == '__main__':
    main()
