# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where each VIB payload type sits on an installer ISO (esxi-semantics §5.1): one table, read and written.

The ISO reader (:meth:`.model.EsxiImage.payload_file`, and through it bundle_export) looks payloads up here; the
depot renderer (:mod:`.depot_source`) puts them where this says.

* Payloads the boot loader loads (``boot``, ``vgz``, ``tgz``, ``installer_vgz``, ``vzstd``) are root files under their
  profile local name, upper-cased (``/B.B00``, ``/S.V00``) [C].
* Loader and installer files keep their natural (payload) names: ``boot_loader_efi`` in ``/EFI/BOOT/`` (mboot.efi as
  ``BOOTX64.EFI``), ``upgrade`` in ``/UPGRADE/`` [I: listings of real media], every other type (``boot_iso_bios``
  ``ISOLINUX.BIN``, ``boot_com32_bios`` ``MBOOT.C32``..., ``eltorito_image_efi`` ``EFIBOOT.IMG``, ``text``
  ``README``, ``boot_pxe_bios``) in the root [I where the references say so]. Readers also try the root for the
  first two (remastered media flatten them).
"""

from __future__ import annotations

import re

BOOT_LOADED_TYPES = frozenset(('boot', 'vgz', 'tgz', 'installer_vgz', 'vzstd'))
"""Payload types the installer takes from boot.cfg-loaded modules (/tardisks, /var/db/payloads/boot)."""

TARDISK_TYPES = frozenset(('vgz', 'tgz', 'installer_vgz', 'vzstd'))
"""Boot-loaded types that become tardisks (every boot-loaded type but ``boot``)."""

NATURAL_DIRS = {'upgrade': ('/UPGRADE/', '/'), 'boot_loader_efi': ('/EFI/BOOT/', '/')}
"""Directories a payload that boot.cfg does not load is looked for in, under its own name; the first is where it goes."""

EL_TORITO_TYPES = {'boot_iso_bios': 'bios', 'eltorito_image_efi': 'uefi'}
"""The payload types whose file is an El Torito boot image, and the platform of its entry."""

_NOT_D_CHARACTER = re.compile(r'[^A-Z0-9_.]')


def iso_file_name(name: str) -> str:
    """A payload name as an ISO 9660 file name: upper case, characters outside ``A-Z 0-9 _ .`` as ``_``."""
    return _NOT_D_CHARACTER.sub('_', name.upper())


def lookup_paths(payload_type: str, payload_name: str, local_name: str) -> list[str]:
    """ISO paths a payload's file may be at, most likely first (matched case-insensitively by the reader)."""
    found = ['/' + local_name]
    if payload_type not in BOOT_LOADED_TYPES:
        found += [directory + payload_name for directory in NATURAL_DIRS.get(payload_type, ('/',))]
    return found


def iso_path(payload_type: str, payload_name: str, local_name: str) -> str:
    """Where a depot renderer writes a payload: its local name for boot modules, else its natural name."""
    if payload_type in BOOT_LOADED_TYPES:
        return '/' + local_name.upper()
    return NATURAL_DIRS.get(payload_type, ('/',))[0] + iso_file_name(payload_name)
