# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small ESXi-shaped installer ISOs (6.x / 7.0 / 8.0 styles) that boot to markers in QEMU.

Layout from shared/reference/esxi-formats.md sections 1-3: BOOT.CFG + EFI/BOOT/BOOT.CFG, IMGDB.TGZ with
an image profile and vibs/*.xml whose payload local names match the ISO files and boot.cfg modules,
El Torito BIOS (Debian ISOLINUX.BIN) + UEFI (EFIBOOT.IMG), BOOT.CAT. The ISO is written by
``xorriso -as mkisofs`` (an independent writer). :func:`build_esxi_iso` returns the facts it put there.

Boot markers: ISOLINUX.CFG ``SAY``s :data:`BIOS_MARKER` and then shows /BOOT.CFG (syslinux cat.c32);
EFIBOOT.IMG holds a grub EFI binary that prints :data:`UEFI_MARKER`, finds the ISO9660 tree, shows
EFI/BOOT/BOOT.CFG between :data:`BOOTCFG_BEGIN`/:data:`BOOTCFG_END` and chain-loads the ISO-tree
EFI/BOOT/BOOTX64.EFI (like VMware's isobounce -> mboot.efi), which prints :data:`EFI_TREE_MARKER`.
"""

from __future__ import annotations

import hashlib
import os
import re
import random
import shutil
import subprocess
import tempfile
import zlib
from xml.sax.saxutils import escape

from . import packages
from .bootcheck import BIOS_MARKER, BOOTCFG_BEGIN, BOOTCFG_END, EFI_TREE_MARKER, PATCH_EFI_TREE_MARKER, PATCH_UEFI_MARKER, UEFI_MARKER, cache_dir

ISOLINUX_BIN = '/usr/lib/ISOLINUX/isolinux.bin'
SYSLINUX_BIOS_MODULES = '/usr/lib/syslinux/modules/bios'
# cat.c32 shows BOOT.CFG at boot; mboot.c32 is what the stock ISOLINUX.CFG names (never run here).
SYSLINUX_FILES = ('ldlinux.c32', 'libcom32.c32', 'libutil.c32', 'cat.c32', 'mboot.c32', 'menu.c32')
GRUB_EFI_DIR = '/usr/lib/grub/x86_64-efi'
GRUB_MODULES = (
    'serial',
    'terminal',
    'terminfo',
    'echo',
    'search',
    'search_fs_file',
    'iso9660',
    'fat',
    'part_msdos',
    'part_gpt',
    'cat',
    'chain',
    'halt',
    'test',
    'normal',
)
FIXED_MTIME = 1700000000  # file times in the tree, so two builds give the same ISO

BREAKAGES = (
    'profile-payload-not-on-iso',
    'profile-payload-not-in-bootcfg',
    'bootcfg-mismatch',
    'bootcfg-module-not-on-iso',
    'no-bootcfg',
    'corrupt-imgdb',
    'non-esxi',
)
# files a 'non-esxi' ISO keeps: a bootable disc with the same loaders but nothing of ESXi
_NON_ESXI_KEEP = ('/ISOLINUX.BIN', '/ISOLINUX.CFG', '/EFIBOOT.IMG', '/EFI/BOOT/BOOTX64.EFI', '/README.TXT')

TYPE_LETTER = {'vgz': 'v', 'tgz': 't', 'boot': 'b', 'upgrade': 'u', 'text': 't', 'eltorito_image_efi': 'e', 'installer_vgz': 'i', 'vzstd': 'v'}


def local_name(payload_name: str, payload_type: str, taken) -> str:
    """Bootbank/ISO local name per section 3.5: ``short[:8].ext<hex seq>``, '-' -> '_', lower case."""
    short = payload_name[:8].replace('-', '_').lower()
    letter = TYPE_LETTER.get(payload_type, 'b' if payload_type.startswith('boot') else payload_type[0])
    for seq in range(256):
        name = '%.8s.%s%s' % (short, letter, ('%x' % seq).zfill(2))
        if name not in taken:
            return name
    raise ValueError('no free local name for %s' % payload_name)


# --- style tables (section 1.2 / 2.5) ------------------------------------------------------------
# module entry: (payload_name, payload_type, local_name, vib_name, content kind); vib_name None = not a VIB payload

_BASE_6X = [
    ('b', 'boot', 'b.b00', 'esx-base', 'boot'),
    ('jumpstrt', 'boot', 'jumpstrt.gz', 'esx-base', 'emptygz'),
    ('useropts', 'boot', 'useropts.gz', 'esx-base', 'emptygz'),
    ('features', 'boot', 'features.gz', 'esx-base', 'emptygz'),
    ('k', 'boot', 'k.b00', 'esx-base', 'boot'),
    ('chardevs', 'boot', 'chardevs.b00', 'esx-base', 'boot'),
    ('user', 'boot', 'user.b00', 'esx-base', 'boot'),
    ('procfs', 'boot', 'procfs.b00', 'esx-base', 'boot'),
    ('uc_intel', 'boot', 'uc_intel.b00', 'cpu-microcode', 'boot'),
    ('uc_amd', 'boot', 'uc_amd.b00', 'cpu-microcode', 'boot'),
    ('vmx', 'vgz', 'vmx.v00', 'esx-base', 'vgz'),
    ('vim', 'vgz', 'vim.v00', 'esx-base', 'vgz'),
    ('sb', 'vgz', 'sb.v00', 'esx-base', 'vgz'),
    ('s', 'vgz', 's.v00', 'esx-base', 'big'),
    ('ata-pata', 'vgz', 'ata_pata.v00', 'ata-pata-amd', 'vgz'),
    ('ata-pata', 'vgz', 'ata_pata.v01', 'ata-pata-via', 'vgz'),
    ('ne1000', 'vgz', 'ne1000.v00', 'ne1000', 'driver-native'),
    ('net-e100', 'vgz', 'net_e100.v00', 'net-e1000', 'driver-linux'),
    ('net-e100', 'vgz', 'net_e100.v01', 'net-e1000e', 'driver-linux'),
    ('nvme', 'vgz', 'nvme.v00', 'nvme', 'driver-native'),
    ('vmkusb', 'vgz', 'vmkusb.v00', 'vmkusb', 'driver-native'),
    ('lsu-lsi-', 'vgz', 'lsu_lsi_.v00', 'lsu-lsi-lsi-mr3-plugin', 'vgz'),
    ('weaselin', 'tgz', 'weaselin.t00', 'esx-base', 'tgz'),
    ('esx-ui', 'vgz', 'esx_ui.v00', 'esx-ui', 'vgz'),
    ('vsan', 'vgz', 'vsan.v00', 'vsan', 'vgz'),
    ('tools', 'tgz', 'tools.t00', 'tools-light', 'tgz'),
    ('xorg', 'vgz', 'xorg.v00', 'esx-xserver', 'vgz'),
]

_BASE_7X = [
    ('jumpstrt', 'boot', 'jumpstrt.gz', 'esx-base', 'emptygz'),
    ('useropts', 'boot', 'useropts.gz', 'esx-base', 'emptygz'),
    ('features', 'boot', 'features.gz', 'esx-base', 'emptygz'),
    ('k', 'boot', 'k.b00', 'esx-base', 'boot'),
    ('uc_intel', 'boot', 'uc_intel.b00', 'cpu-microcode', 'boot'),
    ('uc_amd', 'boot', 'uc_amd.b00', 'cpu-microcode', 'boot'),
    ('uc_hygon', 'boot', 'uc_hygon.b00', 'cpu-microcode', 'boot'),
    ('procfs', 'boot', 'procfs.b00', 'esx-base', 'boot'),
    ('vmx', 'vgz', 'vmx.v00', 'esx-base', 'vgz'),
    ('vim', 'vgz', 'vim.v00', 'esx-base', 'vgz'),
    ('tpm', 'vgz', 'tpm.v00', 'esx-base', 'vgz'),
    ('sb', 'vgz', 'sb.v00', 'esx-base', 'vgz'),
    ('s', 'vgz', 's.v00', 'esx-base', 'big'),
    ('bnxtnet', 'vgz', 'bnxtnet.v00', 'bnxtnet', 'driver-native'),
    ('ne1000', 'vgz', 'ne1000.v00', 'ne1000', 'driver-native'),
    ('nvme-pci', 'vgz', 'nvme_pci.v00', 'nvme-pcie', 'driver-native'),
    ('lsi-msgp', 'vgz', 'lsi_msgp.v00', 'lsi-msgpt3', 'driver-native'),
    ('lsi-msgp', 'vgz', 'lsi_msgp.v01', 'lsi-msgpt35', 'driver-native'),
    ('vmkusb', 'vgz', 'vmkusb.v00', 'vmkusb', 'driver-native'),
    ('crx', 'vgz', 'crx.v00', 'crx', 'vgz'),
    ('esx-dvfi', 'vgz', 'esx_dvfi.v00', 'esx-dvfilter-generic-fastpath', 'vgz'),
    ('esx-ui', 'vgz', 'esx_ui.v00', 'esx-ui', 'vgz'),
    ('esxupdt', 'vgz', 'esxupdt.v00', 'esx-update', 'vgz'),
    ('weaselin', 'vgz', 'weaselin.v00', 'esx-base', 'vgz'),
    ('loadesx', 'vgz', 'loadesx.v00', 'loadesx', 'vgz'),
    ('vsan', 'vgz', 'vsan.v00', 'vsan', 'vgz'),
    ('tools', 'tgz', 'tools.t00', 'tools-light', 'tgz'),
    ('xorg', 'vgz', 'xorg.v00', 'esx-xserver', 'vgz'),
    ('gc', 'vgz', 'gc.v00', 'gc', 'vgz'),
]

# 8.0U3 and 9.x: the module list of a real 8.0U3 ISO's boot.cfg (../shared/fixtures/bootcfg-isolinux-samples/
# esxi-8.0.3-uefi-http-prefix.boot.cfg, build 8.0.3-0.0.24022510), after the base tardisks sb.v00 and s.v00.
_REAL_80U3_MODULES = (
    'atlantic.v00 bcm_mpi3.v00 bnxtnet.v00 bnxtroce.v00 brcmfcoe.v00 cndi_igc.v00 dwi2c.v00 elxiscsi.v00 elxnet.v00 i40en.v00 '
    'iavmd.v00 icen.v00 igbn.v00 intelgpi.v00 ionic_cl.v00 ionic_en.v00 irdman.v00 iser.v00 ixgben.v00 lpfc.v00 lpnic.v00 '
    'lsi_mr3.v00 lsi_msgp.v00 lsi_msgp.v01 lsi_msgp.v02 mtip32xx.v00 ne1000.v00 nenic.v00 nfnic.v00 nhpsa.v00 nipmi.v00 '
    'nmlx5_cc.v00 nmlx5_co.v00 nmlx5_rd.v00 ntg3.v00 nvme_pci.v00 nvmerdma.v00 nvmetcp.v00 nvmxnet3.v00 nvmxnet3.v01 pvscsi.v00 '
    'qcnic.v00 qedentv.v00 qedrntv.v00 qfle3.v00 qfle3f.v00 qfle3i.v00 qflge.v00 rdmahl.v00 rste.v00 sfvmk.v00 smartpqi.v00 '
    'vmkata.v00 vmksdhci.v00 vmkusb.v00 vmw_ahci.v00 bmcal.v00 clusters.v00 crx.v00 drivervm.v00 elx_esx_.v00 btldr.v00 '
    'dvfilter.v00 esx_ui.v00 esxupdt.v00 tpmesxup.v00 weaselin.v00 esxio_co.v00 infravis.v00 loadesx.v00 lsuv2_hp.v00 '
    'lsuv2_in.v00 lsuv2_ls.v00 lsuv2_nv.v00 lsuv2_oe.v00 lsuv2_oe.v01 lsuv2_sm.v00 native_m.v00 qlnative.v00 trx.v00 '
    'vcls_pod.v00 vdfs.v00 vds_vsip.v00 vmware_e.v00 hbrsrv.v00 vsan.v00 vsanheal.v00 vsanmgmt.v00 tools.t00 xorg.v00 gc.v00'
).split()
_DRIVER_STEMS = frozenset(
    'atlantic bcm_mpi3 bnxtnet bnxtroce brcmfcoe cndi_igc elxiscsi elxnet i40en iavmd icen igbn ionic_en irdman iser ixgben lpfc '
    'lpnic lsi_mr3 lsi_msgp mtip32xx ne1000 nenic nfnic nhpsa nmlx5_co nmlx5_rd ntg3 nvme_pci nvmerdma nvmetcp nvmxnet3 pvscsi '
    'qcnic qedentv qedrntv qfle3 qfle3f qfle3i qflge rste sfvmk smartpqi vmkata vmksdhci vmkusb vmw_ahci'.split()
)
# local name -> VIB name where the VIB is not simply the stem with '-' for '_' (names as on real 8.0 media)
_VIB_NAMES = {
    'nvme_pci.v00': 'nvme-pcie',
    'lsi_msgp.v00': 'lsi-msgpt2',
    'lsi_msgp.v01': 'lsi-msgpt3',
    'lsi_msgp.v02': 'lsi-msgpt35',
    'nvmxnet3.v01': 'nvmxnet3-ens',
    'nmlx5_co.v00': 'nmlx5-core',
    'nmlx5_rd.v00': 'nmlx5-rdma',
    'esx_ui.v00': 'esx-ui',
    'esxupdt.v00': 'esx-update',
    'weaselin.v00': 'esx-base',
    'esxio_co.v00': 'esxio-combiner',
    'dvfilter.v00': 'esx-dvfilter-generic-fastpath',
    'lsuv2_oe.v00': 'lsuv2-oem-dell-plugin',
    'lsuv2_oe.v01': 'lsuv2-oem-hp-plugin',
    'tools.t00': 'tools-light',
    'xorg.v00': 'esx-xserver',
}
_EARLY_8X = [m for m in _BASE_7X if m[2] in ('jumpstrt.gz', 'useropts.gz', 'features.gz', 'k.b00', 'uc_intel.b00', 'uc_amd.b00', 'uc_hygon.b00', 'procfs.b00')]
_EARLY_8X += [m for m in _BASE_7X if m[2] in ('vmx.v00', 'vim.v00', 'tpm.v00', 'sb.v00', 's.v00')]


def _real_module_table(locals_, driver_type: str) -> list:
    """Module entries for a real module list; ``driver_type`` is the payload type of the driver VIBs (9.x: vzstd)."""
    table = []
    for local in locals_:
        stem = local.split('.')[0]
        vib_name = _VIB_NAMES.get(local, stem.replace('_', '-'))
        if local == 'tools.t00':
            table.append(('tools', 'tgz', local, vib_name, 'tgz'))
        elif stem in _DRIVER_STEMS:
            table.append((vib_name[:8], driver_type, local, vib_name, 'driver-native'))
        else:
            table.append((stem.replace('_', '-'), 'vgz', local, vib_name, 'vgz'))  # payload names: 15 characters at most
    return table


_BASE_80U3 = _EARLY_8X + _real_module_table(_REAL_80U3_MODULES, 'vgz')
# 9.x: no procfs (esxi-semantics 7.4), the driver payloads zstd inside gzip (vzstd), the base tardisks still vgz.
_BASE_9X = [m for m in _EARLY_8X if m[2] != 'procfs.b00'] + _real_module_table(_REAL_80U3_MODULES, 'vzstd')
# DPU (esxio) VIBs of 8.0+ images: in the profile, payloads in esxiodpt.tgz, never in the x86 boot.cfg; the
# nmlx5 twin installs the same module file as its embeddedEsx namesake (esxi-semantics 7.5).
_ESXIO_VIBS = [('esxio-base', 'esxio-ba', 'esxio_ba.v00'), ('nmlx5-core-esxio', 'nmlx5-co', 'nmlx5_co.v01')]

# esx-base payloads that are not boot modules: natural names on the ISO, VFAT names only in the profile
_ESX_BASE_EXTRA = [
    ('isolinux.bin', 'boot_iso_bios', 'isolinux.b00'),
    ('mboot.c32', 'boot_com32_bios', 'mboot.c3.b00'),
    # what Debian's ISOLINUX.BIN loads next (VMware's older isolinux does without): an ISO made from the fixture's
    # depot then boots in BIOS mode to the stock ISOLINUX.CFG menu (menu.c32, as in 6.7's esx-base)
    ('ldlinux.c32', 'boot_com32_bios', 'ldlinux..b00'),
    ('libcom32.c32', 'boot_com32_bios', 'libcom32.b00'),
    ('libutil.c32', 'boot_com32_bios', 'libutil..b00'),
    ('menu.c32', 'boot_com32_bios', 'menu.c32.b00'),
    ('BOOTx64.EFI', 'boot_loader_efi', 'bootx64..b00'),
    ('efiboot.img', 'eltorito_image_efi', 'efiboot..e00'),
    ('README', 'text', 'readme.t00'),
    ('precheck.py', 'upgrade', 'precheck.u00'),
]

# where each of those is on the ISO (esxi-semantics 5.1)
_EXTRA_ISO_PATHS = {
    'isolinux.bin': '/ISOLINUX.BIN',
    'mboot.c32': '/MBOOT.C32',
    'ldlinux.c32': '/LDLINUX.C32',
    'libcom32.c32': '/LIBCOM32.C32',
    'libutil.c32': '/LIBUTIL.C32',
    'menu.c32': '/MENU.C32',
    'BOOTx64.EFI': '/EFI/BOOT/BOOTX64.EFI',
    'efiboot.img': '/EFIBOOT.IMG',
    'README': '/README',
    'precheck.py': '/UPGRADE/PRECHECK.PY',
}

STYLES = {
    '6x': {
        'esxi_version': '6.7.0',
        'build': '8169922',
        'profile': 'ESXi-6.7.0-8169922-standard',
        'vib_suffix': 'vmw.670.0.0.8169922',
        'base_version': '6.7.0-0.0.8169922',
        'bootcfg_build': '',
        'kernel': ('tboot', 'boot', 'tboot.b00', 'esx-tboot', 'boot'),
        'kernelopt': 'runweasel',
        'prefix': None,
        'vmkapi': '2_5_0_0',
        'modules': _BASE_6X,
        'tail': ['imgdb.tgz', 'imgpayld.tgz'],
        'platform': '6.7.0',
        'components': False,
    },
    '70': {
        'esxi_version': '7.0.3',
        'build': '21930508',
        'profile': 'ESXi-7.0U3n-21930508-standard',
        'vib_suffix': 'vmw.703.0.105.21930508',
        'base_version': '7.0.3-0.105.21930508',
        'bootcfg_build': '7.0.3-0.105.21930508',
        'kernel': ('b', 'boot', 'b.b00', 'esx-base', 'boot'),
        'kernelopt': 'cdromBoot runweasel',
        'prefix': '',
        'vmkapi': '2_9_0_0',
        'modules': _BASE_7X,
        'tail': ['imgdb.tgz', 'basemisc.tgz', 'resvibs.tgz', 'imgpayld.tgz'],
        'platform': '7.0.3',
        'components': True,
    },
    '80': {
        'esxi_version': '8.0.3',
        'build': '24022510',
        'profile': 'ESXi-8.0U3-24022510-standard',
        'vib_suffix': 'vmw.803.0.0.24022510',
        'base_version': '8.0.3-0.0.24022510',
        'bootcfg_build': '8.0.3-0.0.24022510',
        'kernel': ('b', 'boot', 'b.b00', 'esx-base', 'boot'),
        'kernelopt': 'cdromBoot runweasel',
        'prefix': '',
        'vmkapi': '2_13_0_0',
        'modules': _BASE_80U3,
        'tail': ['imgdb.tgz', 'basemisc.tgz', 'resvibs.tgz', 'esxiodpt.tgz', 'imgpayld.tgz'],
        'platform': '8.0.3',
        'components': True,
        'esxio': True,
    },
    # 9.x: the product is "ESX", versions have four parts (esxi-semantics 7.4); 9.0 GA build 24755229.
    '90': {
        'esxi_version': '9.0.0.0',
        'build': '24755229',
        'profile': 'ESX-9.0.0.0.24755229-standard',
        'vib_suffix': 'vmw.900.0.0.24755229',
        'base_version': '9.0.0.0-0.0.24755229',
        'bootcfg_build': '9.0.0.0-24755229',
        'kernel': ('b', 'boot', 'b.b00', 'esx-base', 'boot'),
        'kernelopt': 'runweasel cdromBoot',
        'prefix': '',
        'vmkapi': '3_0_0_0',
        'modules': _BASE_9X,
        'tail': ['imgdb.tgz', 'basemisc.tgz', 'resvibs.tgz', 'esxiodpt.tgz', 'imgpayld.tgz'],
        'platform': '9.0',
        'components': True,
        'esxio': True,
        'title': 'Loading ESX installer',
        'updated': '1',
        # a 9.0 image provides zstd-compression, on which every 9.0 vzstd VIB depends
        'extra_provides': [('zstd-compression', '1.0')],
    },
}

# A later patch of each style (iso.build_esxi_iso(patch=True)): every VMware VIB newer, esx-base's loaders printing the
# PATCH markers; bundle_export of that ISO is the fixture patch depot (a full depot, as VMware's patch depots are).
PATCHES = {
    '6x': {'build': '23299997', 'profile': 'ESXi-6.7.0-20240304001-standard', 'vib_suffix': 'vmw.670.3.216.23299997', 'base_version': '6.7.0-3.216.23299997'},
    '70': {
        'build': '24585291',
        'profile': 'ESXi-7.0U3s-24585291-standard',
        'vib_suffix': 'vmw.703.0.135.24585291',
        'base_version': '7.0.3-0.135.24585291',
        'bootcfg_build': '7.0.3-0.135.24585291',
    },
    '80': {
        'build': '24674464',
        'profile': 'ESXi-8.0U3e-24674464-standard',
        'vib_suffix': 'vmw.803.0.55.24674464',
        'base_version': '8.0.3-0.55.24674464',
        'bootcfg_build': '8.0.3-0.55.24674464',
    },
    '90': {
        'build': '24957456',
        'profile': 'ESX-9.0.1.0.24957456-standard',
        'vib_suffix': 'vmw.901.0.0.24957456',
        'base_version': '9.0.1.0-0.0.24957456',
        'bootcfg_build': '9.0.1.0-24957456',
    },
}


def style_spec(style: str, patch: bool = False) -> dict:
    """The spec of ``style``, or of its fixture patch (:data:`PATCHES`) with the patch markers."""
    spec = dict(STYLES[style])
    spec['markers'] = (UEFI_MARKER, EFI_TREE_MARKER)
    if patch:
        spec.update(PATCHES[style])
        spec['markers'] = (PATCH_UEFI_MARKER, PATCH_EFI_TREE_MARKER)
    return spec


_DRIVER_IDS = {
    'ne1000': [('8086', '10d3'), ('8086', '105e')],
    'bnxtnet': [('14e4', '16d7')],
    'nvme-pcie': [('8086', '0953')],
    'nvme': [('8086', '0953')],
    'lsi-msgpt3': [('1000', '0097')],
    'lsi-msgpt35': [('1000', '00af')],
    'vmkusb': [('8086', '1e31')],
    'net-e1000': [('8086', '100e')],
    'net-e1000e': [('8086', '10d3')],
}
_VMW_SIGNATURE = b'-----BEGIN PKCS7-----\nRVNYSSBGSVhUVVJFIE5PVCBBIFJFQUwgU0lHTkFUVVJF\n-----END PKCS7-----\n'


# --- payload contents ---------------------------------------------------------------------------


def _module_bytes(kind: str, payload_name: str, vib_name: str, vmkapi: str, ptype: str = 'vgz') -> bytes:
    tag = ('ESXi fixture payload %s of %s\n' % (payload_name, vib_name)).encode('ascii')
    if kind == 'boot':
        return packages.gzip_bytes(tag)  # boot modules are gzip'ed too (and so carry a sha-256 gunzip checksum)
    if kind == 'emptygz':
        return packages.gzip_bytes(b'')
    if kind in ('vgz', 'big'):
        return packages.gzip_bytes(packages.vmtar({'etc/vmware/fixture/%s.txt' % payload_name.replace('.', '_'): tag}))
    if kind.startswith('driver-'):
        style = kind.split('-', 1)[1]
        module = vib_name.replace('-', '_')
        files = packages.driver_files(module, _DRIVER_IDS.get(vib_name, [('15ad', '07b0')]), style, vmkapi=vmkapi, license='GPL' if style == 'linux' else 'BSD')
        return (packages.vzstd_bytes if ptype == 'vzstd' else packages.gzip_bytes)(packages.vmtar(files))
    if kind == 'tgz':
        return packages.tar_gz({'opt/fixture/%s/README' % payload_name: tag})
    raise ValueError(kind)


def _write_big_gzip(path: str, nbytes: int) -> packages.PayloadDigest:
    """Stream ``nbytes`` of pseudo-random data as a stored (level 0) gzip to ``path``, hashing on the way."""
    import gzip  # pylint: disable=import-outside-toplevel

    block = random.Random(0).randbytes(1 << 20)
    plain_sha256, plain_sha1, written = hashlib.sha256(), hashlib.sha1(), 0
    with open(path, 'wb') as raw, gzip.GzipFile(fileobj=raw, mode='wb', compresslevel=0, mtime=0) as out:
        counter = 0
        while written < nbytes:
            chunk = (counter.to_bytes(8, 'little') + block[8:])[: nbytes - written]
            out.write(chunk)
            plain_sha256.update(chunk)
            plain_sha1.update(chunk)
            written += len(chunk)
            counter += 1
    file_sha256 = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b''):
            file_sha256.update(chunk)
    return packages.PayloadDigest(os.path.getsize(path), file_sha256.hexdigest(), plain_sha256.hexdigest(), plain_sha1.hexdigest(), written)


# --- boot loaders --------------------------------------------------------------------------------


def _cached(key_parts, suffix: str, build) -> str:
    """Path of a cached artifact keyed by content hash; ``build(tmp_path)`` makes it when missing."""
    digest = hashlib.sha256()
    for part in key_parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode('utf-8'))
        digest.update(b'\0')
    path = os.path.join(cache_dir(), '%s%s' % (digest.hexdigest()[:24], suffix))
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.tmp-')
        os.close(fd)
        try:
            build(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return path


def grub_config(marker: str, chain: bool) -> str:
    """Embedded grub.cfg: print the marker on serial, show EFI/BOOT/BOOT.CFG of the ISO/USB tree, then
    chain-load the tree's BOOTX64.EFI (chain=True, the EFIBOOT.IMG side) or power off."""
    lines = [
        'serial --unit=0 --speed=115200',
        # serial only: OVMF already copies its console to the serial port, so 'console' would double characters
        'terminal_output serial',
        'terminfo -g 4000x50 serial',  # no hard wrap of the long modules= line
        'echo %s' % marker,
        # modules in the image are only installed, not loaded: without these, search cannot see a USB image's partition
        'insmod part_msdos',
        'insmod part_gpt',
        'insmod fat',
        'insmod iso9660',
        # lower-case first: plain ISO9660 and FAT match it case-insensitively, Rock Ridge (-J -R remaster) exactly
        'if search --no-floppy --set=root --file /efi/boot/boot.cfg; then',
        '  set cfg=/efi/boot/boot.cfg; set efi=/efi/boot/bootx64.efi',
        'elif search --no-floppy --set=root --file /EFI/BOOT/BOOT.CFG; then',
        '  set cfg=/EFI/BOOT/BOOT.CFG; set efi=/EFI/BOOT/BOOTX64.EFI',
        'fi',
        'echo %s' % BOOTCFG_BEGIN,
        'cat $cfg',
        'echo %s' % BOOTCFG_END,
    ]
    if chain:
        lines += ['chainloader $efi', 'boot', 'echo ESXI-FIXTURE-CHAINLOAD-FAILED']
    lines.append('halt')
    return '\n'.join(lines) + '\n'


def grub_efi(marker: str, chain: bool) -> str:
    """Path of a cached small standalone grub EFI binary (grub-mkstandalone, limited modules)."""
    config = grub_config(marker, chain)
    moddep = os.path.join(GRUB_EFI_DIR, 'moddep.lst')
    grub_id = open(moddep, 'rb').read() if os.path.exists(moddep) else b''

    def build(tmp):
        with tempfile.TemporaryDirectory() as work:
            cfg = os.path.join(work, 'grub.cfg')
            with open(cfg, 'w', encoding='ascii') as stream:
                stream.write(config)
            _run(
                [
                    'grub-mkstandalone',
                    '-O',
                    'x86_64-efi',
                    '-o',
                    tmp,
                    '--install-modules=%s' % ' '.join(GRUB_MODULES),
                    '--locales=',
                    '--fonts=',
                    '--themes=',
                    'boot/grub/grub.cfg=%s' % cfg,
                ]
            )

    return _cached(['grub', config, GRUB_MODULES, grub_id], '.efi', build)


def efiboot_img(efi_binary: str) -> str:
    """Path of a cached FAT image holding EFI/BOOT/BOOTX64.EFI (mkfs.vfat + mtools)."""
    with open(efi_binary, 'rb') as stream:
        payload = stream.read()
    kib = max(1024, (len(payload) + 256 * 1024) // 1024 // 64 * 64 + 64)

    def build(tmp):
        os.unlink(tmp)
        _run(['mkfs.vfat', '--invariant', '-i', '45535849', '-n', 'ESXIEFI', '-C', tmp, str(kib)])
        env = dict(os.environ, MTOOLS_SKIP_CHECK='1')
        _run(['mmd', '-i', tmp, '::/EFI', '::/EFI/BOOT'], env=env)
        _run(['mcopy', '-m', '-i', tmp, efi_binary, '::/EFI/BOOT/BOOTX64.EFI'], env=env)

    return _cached(['efiboot', kib, payload], '.img', build)


def isolinux_cfg(profile: str, esxi_version: str) -> str:
    """Stock ISOLINUX.CFG shape (section 2.3) whose default label shows BOOT.CFG instead of running mboot.

    No SERIAL line: with qemu -nographic SeaBIOS already mirrors the console to serial.
    """
    return (
        '\n'.join(
            [
                'DEFAULT fixture',
                'MENU TITLE ESXi-%s Boot Menu' % esxi_version,
                'NOHALT 1',
                'PROMPT 0',
                'TIMEOUT 1',
                'SAY %s' % BIOS_MARKER,
                'LABEL fixture',
                '  COM32 cat.c32',
                '  APPEND boot.cfg',
                '  MENU LABEL Show boot.cfg (test fixture)',
                'LABEL install',
                '  KERNEL mboot.c32',
                '  APPEND -c boot.cfg',
                '  MENU LABEL %s ^Installer' % profile,
                'LABEL hddboot',
                '  LOCALBOOT 0x80',
                '  MENU LABEL ^Boot from local disk',
            ]
        )
        + '\n'
    )


def _run(argv, env=None):
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (argv[0], result.returncode, (result.stderr or result.stdout).strip()[-2000:]))
    return result.stdout


# --- image database --------------------------------------------------------------------------------


def bootcfg_text(style: dict, kernel: str, modules: list[str], kernelopt: str, title: str) -> str:
    lines = ['bootstate=0', 'title=%s' % title, 'timeout=5']
    if style['prefix'] is not None:
        lines.append('prefix=%s' % style['prefix'])
    lines += [
        'kernel=%s' % kernel,
        'kernelopt=%s' % kernelopt,
        'modules=%s' % ' --- '.join(modules),
        'build=%s' % style['bootcfg_build'],
        'updated=%s' % style.get('updated', '0'),
    ]
    return '\n'.join(lines) + '\n'


def profile_xml(name: str, creator: str, description: str, acceptance: str, vibs: list[dict]) -> bytes:
    """Image profile (section 3.3), children in the order of the real 6.7 GA profile."""
    items = []
    for vib in vibs:
        payloads = ''.join('<payload payload-name="%s">%s</payload>' % (escape(p['name']), escape(p['local'])) for p in vib['payloads'])
        items.append('<vib><vib-id>%s</vib-id><payloads>%s</payloads></vib>' % (escape(vib['id']), payloads))
    text = (
        '<imageprofile><name>%s</name><creator>%s</creator><profileID>%s</profileID>'
        '<creationtime>2024-06-25T00:00:00.000001+00:00</creationtime><modifiedtime>2024-06-25T00:00:00.000001+00:00</modifiedtime>'
        '<serialno>%d</serialno><description>%s</description><readonly>true</readonly><viblist>%s</viblist>'
        '<acceptancelevel>%s</acceptancelevel></imageprofile>'
    ) % (
        escape(name),
        escape(creator),
        hashlib.md5(name.encode('utf-8')).hexdigest(),
        len(vibs),
        escape(description),  # nosec - an id
        ''.join(items),
        escape(acceptance),
    )
    return text.encode('utf-8')


def component_xml(vib: dict, platform: str) -> bytes:
    """A 7.x component bulletin (section 5) for one VIB of the image."""
    comp_version = vib['version']
    return (
        (
            '<bulletin><id>%s</id><vendor>%s</vendor><summary>%s</summary><severity>general</severity>'
            '<category>enhancement</category><urgency>important</urgency><releaseType>extension</releaseType>'
            '<description>%s</description><kbUrl></kbUrl><contact></contact>'
            '<componentNameSpec uiString="%s" name="%s"/><componentVersionSpec uiString="%s" version="%s"/>'
            '<releaseDate>2024-06-25T00:00:00.000001+00:00</releaseDate><platforms>'
            '<softwarePlatform locale="" version="%s" productLineID="embeddedEsx"/></platforms>'
            '<vibList><vibID>%s</vibID></vibList></bulletin>'
        )
        % tuple(
            escape(x)
            for x in (
                vib['component'] + '_' + comp_version,
                vib['vendor'],
                vib['name'],
                vib['name'],
                vib['name'],
                vib['component'],
                comp_version,
                comp_version,
                platform,
                vib['id'],
            )
        )
    ).encode('utf-8')


_ACCEPTANCE_RANK = {'certified': 1, 'accepted': 2, 'partner': 3, 'community': 4}


# --- the builder ------------------------------------------------------------------------------------


def _iso_name(path: str, joliet_rock_ridge: bool) -> str:
    return path.lower() if joliet_rock_ridge else path.upper()


def build_esxi_iso(dest: str, style: str = '70', joliet_rock_ridge: bool = False, extra_vibs=(), breakage=None, **kw) -> dict:
    """Write an ESXi-shaped installer ISO to ``dest`` (atomically) and return the facts it holds.

    style: '6x' | '70' | '80' (8.0U3) | '90' (9.0). joliet_rock_ridge: lower-case tree with -J -R (a user remaster) instead of plain
    ISO9660 upper-case 8.3 names. extra_vibs: .vib bytes (packages.build_vib) already integrated into the image.
    breakage: one name or a list from :data:`BREAKAGES`. Keywords: big_payload_bytes (s.v00 streamed to this size),
    kernelopt, title, profile_name, volume_id, patch (the style's fixture patch, :data:`PATCHES`),
    extra_files ({'/KS.CFG': b'...'}), imgdb_files (the IMGDB.TGZ members instead of
    the generated ones, e.g. a real image database).
    """
    if style not in STYLES:
        raise ValueError('unknown style %r (use one of %s)' % (style, ', '.join(STYLES)))
    spec = style_spec(style, patch=bool(kw.get('patch')))
    breaks = [breakage] if isinstance(breakage, str) else list(breakage or ())
    for item in breaks:
        if item not in BREAKAGES:
            raise ValueError('unknown breakage %r (use %s)' % (item, ', '.join(BREAKAGES)))
    big = int(kw.get('big_payload_bytes') or 0)
    profile_name = kw.get('profile_name', spec['profile'])
    volume_id = kw.get('volume_id', profile_name.upper()[:32])
    kernelopt = kw.get('kernelopt', spec['kernelopt'])
    title = kw.get('title', spec.get('title', 'Loading ESXi installer'))
    dest = os.path.abspath(dest)
    workdir = tempfile.mkdtemp(prefix='.%s.' % os.path.basename(dest), dir=os.path.dirname(dest))
    tmp_iso = os.path.join(workdir, 'out.iso')
    try:
        facts = _build_tree(
            os.path.join(workdir, 'tree'),
            spec,
            style,
            joliet_rock_ridge,
            extra_vibs,
            breaks,
            big,
            profile_name,
            kernelopt,
            title,
            kw.get('extra_files') or {},
            imgdb_override=kw.get('imgdb_files'),
        )
        _write_iso(os.path.join(workdir, 'tree'), tmp_iso, volume_id, joliet_rock_ridge)
        os.replace(tmp_iso, dest)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    facts.update(
        {
            'path': dest,
            'style': style,
            'volume_id': volume_id,
            'application_id': 'ESXIMAGE',
            'joliet': joliet_rock_ridge,
            'rock_ridge': joliet_rock_ridge,
            'size': os.path.getsize(dest),
        }
    )
    return facts


def _shim_provides(vib_name: str) -> list:
    match = re.match(r'^shim-vmklinux-9-2-(\d)-0$', vib_name)
    return ['com.vmware.driverAPI-9.2.%s.0' % match.group(1)] if match else []


def base_provides(spec: dict) -> list:
    """What esx-base provides, as on real media: esx-version, every stable vmkapi level from the oldest still
    supported up to the release's, and the release's own vmkapi_incompat level (esxi-semantics §2.4)."""
    major, minor = (int(n) for n in spec['vmkapi'].split('_')[:2])
    oldest = 2 if spec['esxi_version'].startswith('6.') else 4
    levels = ['vmkapi_%d_%d_0_0' % (major, n) for n in range(oldest if major == 2 else 0, minor + 1)]
    extra = list(spec.get('extra_provides', ()))
    return [('esx-version', spec['base_version']), ('esximage', '1.0')] + levels + ['vmkapi_incompat_%s' % spec['vmkapi']] + extra


def _depends(spec: dict, record: dict) -> tuple:
    """Driver VIBs need their release's vmkapi; 9.0 vzstd VIBs also zstd-compression = 1.0, as the real ones."""
    found = []
    if any(p['kind'].startswith('driver') for p in record['payloads']):
        found.append('vmkapi_%s' % spec['vmkapi'])
    if any(p['type'] == 'vzstd' for p in record['payloads']):
        found.append(('zstd-compression', '=', '1.0'))
    return tuple(found)


def _vib_record(vendor, vib_name, version, vib_type, acceptance, signed, component=None):
    return {
        'vendor': vendor,
        'name': vib_name,
        'version': version,
        'type': vib_type,
        'acceptance_level': acceptance,
        'id': packages.vib_id(vendor, vib_type, vib_name, version),
        'payloads': [],
        'signed': signed,
        'component': component or '%s-%s' % ('VMware' if vendor in ('VMware', 'VMW') else vendor, vib_name),
    }


def _build_tree(tree, spec, style, jr, extra_vibs, breaks, big, profile_name, kernelopt, title, extra_files, imgdb_override=None):
    os.makedirs(tree)
    files: dict[str, bytes] = {}
    vibs: dict[str, dict] = {}
    big_digest = None

    def vib_for(vib_name):
        if vib_name not in vibs:
            vmware_core = vib_name.startswith(('esx-', 'cpu-', 'vsan', 'tools', 'lsu-', 'crx', 'gc', 'loadesx'))
            vendor = 'VMware' if vmware_core else 'VMW'
            if vib_name.startswith('esx-') or vib_name in ('cpu-microcode', 'vsan', 'crx', 'gc', 'loadesx'):
                version = spec['base_version']
            else:
                version = '1.0.0.%d-1%s' % (zlib.crc32(vib_name.encode()) % 90 + 10, spec['vib_suffix'])
            vib_type = 'locker' if vib_name == 'tools-light' else 'bootbank'
            vibs[vib_name] = _vib_record(vendor, vib_name, version, vib_type, 'certified' if vendor == 'VMware' else 'accepted', True)
        return vibs[vib_name]

    modules_order = [spec['kernel']] + list(spec['modules'])
    payload_data = {}
    for payload_name, ptype, local, vib_name, kind in modules_order:
        if kind == 'big' and big:
            path = os.path.join(tree, _iso_name(local, jr))
            big_digest = _write_big_gzip(path, big)
            payload_data[local] = big_digest
        else:
            payload_data[local] = _module_bytes(kind, payload_name, vib_name, spec['vmkapi'], ptype)
            files['/' + local] = payload_data[local]
        record = vib_for(vib_name)
        record['payloads'].append(
            {'name': payload_name, 'type': ptype, 'local': local, 'module': True, 'kind': kind, 'vfat_name': local if local.endswith('.gz') else None}
        )
    esxio_payloads = {}
    for vib_name, payload_name, local in _ESXIO_VIBS if spec.get('esxio') else ():
        module = vib_name.replace('-esxio', '').replace('-', '_')
        payload_data[local] = esxio_payloads[local] = packages.gzip_bytes(
            packages.vmtar(packages.driver_files(module, [('15b3', '101d')], 'native', vmkapi=spec['vmkapi']))
        )
        record = vib_for(vib_name)
        record['esxio'] = True
        record['payloads'].append({'name': payload_name, 'type': 'vgz', 'local': local, 'module': False, 'kind': 'esxio', 'vfat_name': None})
    if style == '6x':
        # 6.7 keeps vmklinux: the shim VIBs provide its driver API (payload-less here; real ones carry a small module)
        for n in (1, 2, 3):
            vib_for('shim-vmklinux-9-2-%d-0' % n)
    # the loader files first: esx-base's descriptor describes the very bytes on the ISO (bundle_export rebuilds it)
    loaders = {
        '/ISOLINUX.BIN': _read(ISOLINUX_BIN),
        '/EFIBOOT.IMG': _read(efiboot_img(grub_efi(spec['markers'][0], chain=True))),
        '/EFI/BOOT/BOOTX64.EFI': _read(grub_efi(spec['markers'][1], chain=False)),
        '/UPGRADE/PRECHECK.PY': b'# ESXi fixture upgrade precheck placeholder\n',
        '/README': b'ESXi fixture payload README of esx-base\n',
    }
    for name in SYSLINUX_FILES:
        loaders['/' + name.upper()] = _read(os.path.join(SYSLINUX_BIOS_MODULES, name))
    for payload_name, ptype, local in _ESX_BASE_EXTRA:
        payload_data[local] = loaders[_EXTRA_ISO_PATHS[payload_name]]
        vib_for('esx-base')['payloads'].append({'name': payload_name, 'type': ptype, 'local': local, 'module': False, 'kind': 'boot-loader', 'vfat_name': None})

    kernel_local = spec['kernel'][2]
    module_locals = [m[2] for m in spec['modules']]
    taken = set(payload_data)
    for vib_bytes in extra_vibs:
        vf = packages.vib_facts(vib_bytes)
        record = _vib_record(vf['vendor'], vf['name'], vf['version'], vf['type'], vf['acceptance_level'], bool(vf['signature']))
        record['descriptor'], record['signature'] = vf['descriptor'], vf['signature']
        for pname, ptype, pdata in vf['payloads']:
            local = local_name(pname, ptype, taken)
            taken.add(local)
            payload_data[local] = pdata
            files['/' + local] = pdata
            module_locals.append(local)
            record['payloads'].append({'name': pname, 'type': ptype, 'local': local, 'module': True, 'kind': 'extra', 'vfat_name': None})
        vibs[vf['name']] = record

    # descriptors (stock VIBs) with checksums of the bytes that really are on the ISO
    for record in vibs.values():
        if 'descriptor' in record:
            continue
        plist = [(p['name'], p['type'], payload_data[p['local']]) for p in record['payloads']]
        attrs = {p['name']: {'vfat-name': p['vfat_name']} for p in record['payloads'] if p['vfat_name']}
        module = record['name'].replace('-', '_')
        file_list = [
            f
            for p in record['payloads']
            if p['type'] in ('vgz', 'tgz', 'vzstd') and isinstance(payload_data[p['local']], bytes)
            for f in packages.payload_file_list(p['type'], payload_data[p['local']])
        ]
        record['descriptor'] = packages.descriptor_xml(
            record['name'],
            record['version'],
            record['vendor'],
            record['acceptance_level'],
            plist,
            file_list,
            depends=_depends(spec, record),
            provides=base_provides(spec) if record['name'] == 'esx-base' else _shim_provides(record['name']),
            vib_type=record['type'],
            summary='%s: ESXi fixture VIB' % module,
            platform_version=spec['platform'][:3] if style != '6x' else None,
            product_line='esxio' if record.get('esxio') else 'embeddedEsx',
            extra_payload_attrs=attrs,
        )
        record['signature'] = _VMW_SIGNATURE

    profile_vibs = list(vibs.values())
    acceptance = max((v['acceptance_level'] for v in profile_vibs), key=lambda lvl: _ACCEPTANCE_RANK.get(lvl, 4))
    acceptance = 'partner' if _ACCEPTANCE_RANK[acceptance] < 3 else acceptance
    description = 'ESXi %s build %s fixture image (esxi.customizer tests)' % (spec['esxi_version'], spec['build'])
    profile = profile_xml(profile_name, 'VMware, Inc.', description, acceptance, profile_vibs)

    imgdb_files = {'var/db/esximg/profiles/%s%d' % (profile_name, zlib.crc32(profile_name.encode()) % 10**9): profile}
    for record in profile_vibs:
        base = 'var/db/esximg/vibs/%s-%d' % (record['name'], zlib.crc32(record['id'].encode()))
        imgdb_files[base + '.xml'] = record['descriptor']
        if record['signature']:
            imgdb_files[base + '.xml.orig'] = record['descriptor']
            imgdb_files[base + '.xml.sig'] = record['signature']
        if spec['components']:
            imgdb_files['var/db/esximg/bulletins/%s.xml' % record['component']] = component_xml(record, spec['platform'])
    if spec['components']:
        reserved = _vib_record('VMW', 'ne1000', '0.8.4-1vmw.700.1.0.15843807', 'bootbank', 'accepted', True, 'Intel-ne1000')
        imgdb_files['var/db/esximg/reservedComponents/Intel-ne1000_0.8.4-1vmw.700.1.0.15843807.xml'] = component_xml(reserved, spec['platform'])
    imgdb = packages.tar_gz(imgdb_files if imgdb_override is None else imgdb_override)
    reserved_vib = packages.build_vib('ne1000', '0.8.4-1vmw.700.1.0.15843807', vendor='VMW', acceptance_level='accepted')
    boot_payloads = {'var/db/payloads/boot/%s' % m[2]: payload_data[m[2]] for m in modules_order if m[1] == 'boot' and isinstance(payload_data[m[2]], bytes)}
    tails = {
        'imgdb.tgz': imgdb,
        'imgpayld.tgz': packages.tar_gz(boot_payloads),
        'basemisc.tgz': packages.tar_gz({'var/db/payloads/boot/useropts': b'', 'var/db/payloads/boot_loader_efi/BOOTx64.EFI': b'MZ fixture'}),
        'resvibs.tgz': packages.tar_gz({'var/db/reservedVibs/ne1000-0.8.4.vib': reserved_vib}),
        'esxiodpt.tgz': packages.tar_gz({'esxio/index.xml': packages.INDEX_XML, **{'esxio/payloads/%s' % n: d for n, d in esxio_payloads.items()}}),
    }
    for name in spec['tail']:
        files['/' + name] = tails[name]
        module_locals.append(name)
    # stock order: driver VIBs added to the image sit before the base tail (imgdb.tgz ... imgpayld.tgz)
    module_locals = [m for m in module_locals if m not in spec['tail']] + list(spec['tail'])

    breakage_facts = {}
    bios_modules = list(module_locals)
    if 'profile-payload-not-on-iso' in breaks:
        victim = 'ne1000.v00'
        files.pop('/' + victim)
        bios_modules.remove(victim)
        breakage_facts['profile-payload-not-on-iso'] = victim
    if 'profile-payload-not-in-bootcfg' in breaks:
        victim = 'vmkusb.v00'
        bios_modules.remove(victim)
        breakage_facts['profile-payload-not-in-bootcfg'] = victim
    if 'bootcfg-module-not-on-iso' in breaks:
        bios_modules.insert(bios_modules.index('imgdb.tgz'), 'ghost.v00')
        breakage_facts['bootcfg-module-not-on-iso'] = 'ghost.v00'
    uefi_modules = list(bios_modules)
    if 'bootcfg-mismatch' in breaks:
        victim = 'xorg.v00'
        uefi_modules.remove(victim)
        breakage_facts['bootcfg-mismatch'] = victim
    bios_cfg = bootcfg_text(spec, '/' + kernel_local, ['/' + m for m in bios_modules], kernelopt, title)
    uefi_cfg = bootcfg_text(spec, '/' + kernel_local, ['/' + m for m in uefi_modules], kernelopt, title)
    if 'corrupt-imgdb' in breaks:
        files['/imgdb.tgz'] = imgdb[: len(imgdb) // 2]
        breakage_facts['corrupt-imgdb'] = 'imgdb.tgz'
    if 'no-bootcfg' not in breaks:
        files['/BOOT.CFG'] = bios_cfg.encode('ascii')
        files['/EFI/BOOT/BOOT.CFG'] = uefi_cfg.encode('ascii')
    else:
        breakage_facts['no-bootcfg'] = 'BOOT.CFG'

    # boot loaders and the rest of the root
    files.update(loaders)
    files['/ISOLINUX.CFG'] = isolinux_cfg(profile_name, spec['esxi_version']).encode('ascii')
    files['/UPGRADE/PROFILE.XML'] = profile
    files['/README.TXT'] = b'ESXi installer fixture made by esxi.customizer tests/fixturegen\n'
    if style != '6x':
        files['/.DISCINFO'] = ('%s\nESXi %s\n' % (spec['build'], spec['esxi_version'])).encode('ascii')
        files['/EFI/BOOT/CRYPTO64.EFI'] = b'MZ ESXi fixture crypto64 placeholder\n'
    for path, data in extra_files.items():
        files['/' + path.strip('/').upper()] = data

    if 'non-esxi' in breaks:
        files = {p: d for p, d in files.items() if p in _NON_ESXI_KEEP or p.endswith('.C32')}
        breakage_facts['non-esxi'] = 'no BOOT.CFG, IMGDB.TGZ or modules'
    tree_files = {}
    for path, data in files.items():
        name = _iso_name(path, jr)
        target = os.path.join(tree, name.lstrip('/'))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, 'wb') as stream:
            stream.write(data)
        tree_files[name] = len(data)
    if big_digest is not None:
        tree_files[_iso_name('/s.v00', jr)] = big_digest.size
    tree_files[_iso_name('/BOOT.CAT', jr)] = 2048  # written by xorriso (-c)
    for root, dirs, names in os.walk(tree, topdown=False):
        for name in dirs + names:
            os.utime(os.path.join(root, name), (FIXED_MTIME, FIXED_MTIME))
    os.utime(tree, (FIXED_MTIME, FIXED_MTIME))  # the root directory record too

    def boot_facts(cfg_path, modules):
        return {
            'path': cfg_path,
            'kernel': '/' + kernel_local,
            'kernelopt': kernelopt,
            'modules': ['/' + m for m in modules],
            'title': title,
            'timeout': '5',
            'prefix': spec['prefix'],
            'build': spec['bootcfg_build'],
            'updated': spec.get('updated', '0'),
            'bootstate': '0',
        }

    el_torito = [
        {'platform': 'x86', 'path': _iso_name('/ISOLINUX.BIN', jr), 'emulation': 'none', 'load_size': 4, 'boot_info_table': True},
        {'platform': 'efi', 'path': _iso_name('/EFIBOOT.IMG', jr), 'emulation': 'none'},
    ]
    vib_facts = []
    for record in profile_vibs:
        vib_facts.append(
            {
                'id': record['id'],
                'name': record['name'],
                'version': record['version'],
                'vendor': record['vendor'],
                'type': record['type'],
                'acceptance_level': record['acceptance_level'],
                'signed': bool(record['signature']),
                'payloads': {p['name']: p['local'] for p in record['payloads']},
                'payload_list': [{'name': p['name'], 'type': p['type'], 'local_name': p['local'], 'boot_module': p['module']} for p in record['payloads']],
            }
        )
    if 'non-esxi' in breaks:
        return {
            'esxi_version': None,
            'build': None,
            'profile': None,
            'vibs': [],
            'boot': {},
            'bootcfg_text': {},
            'files': sorted(tree_files),
            'file_sizes': tree_files,
            'el_torito': el_torito,
            'boot_catalog': _iso_name('/BOOT.CAT', jr),
            'imgdb_files': [],
            'breakage': breakage_facts,
            'markers': {'bios': [BIOS_MARKER], 'uefi': list(spec['markers']), 'efi_tree': [spec['markers'][1]]},
        }
    return {
        'esxi_version': spec['esxi_version'],
        'build': spec['build'],
        'profile': {'name': profile_name, 'creator': 'VMware, Inc.', 'acceptance_level': acceptance, 'description': description},
        'vibs': vib_facts,
        'boot': {'bios': boot_facts(_iso_name('/BOOT.CFG', jr), bios_modules), 'uefi': boot_facts(_iso_name('/EFI/BOOT/BOOT.CFG', jr), uefi_modules)},
        'bootcfg_text': {'bios': bios_cfg, 'uefi': uefi_cfg},
        'files': sorted(tree_files),
        'file_sizes': tree_files,
        'el_torito': el_torito,
        'boot_catalog': _iso_name('/BOOT.CAT', jr),
        'imgdb_files': sorted(imgdb_files),
        'breakage': breakage_facts,
        'markers': {'bios': [BIOS_MARKER], 'uefi': list(spec['markers']), 'efi_tree': [spec['markers'][1]]},
    }


def _read(path: str) -> bytes:
    with open(path, 'rb') as stream:
        return stream.read()


def _write_iso(tree: str, out: str, volume_id: str, jr: bool) -> None:
    """xorriso -as mkisofs: plain ISO9660 like VMware (no RR/Joliet), or -J -R like VMware's remaster docs."""
    names = ('isolinux.bin', 'boot.cat', 'efiboot.img') if jr else ('ISOLINUX.BIN', 'BOOT.CAT', 'EFIBOOT.IMG')
    argv = ['xorriso', '-as', 'mkisofs', '-o', out, '-V', volume_id, '-A', 'ESXIMAGE', '-sysid', '', '-relaxed-filenames']
    argv += ['-J', '-R'] if jr else ['--norock', '-l', '-allow-leading-dots']
    argv += [
        '-c',
        names[1],
        '-b',
        names[0],
        '-no-emul-boot',
        '-boot-load-size',
        '4',
        '-boot-info-table',
        '-eltorito-alt-boot',
        '-e',
        names[2],
        '-no-emul-boot',
        tree,
    ]
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(FIXED_MTIME))
    _run(argv, env=env)
