# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The master boot record of a disk image: one bootable partition, CHS fields, syslinux's boot code."""

from __future__ import annotations

import os
import struct

from ansible_collections.esxi.customizer.plugins.module_utils._errors import DiskImageError

SECTOR = 512
PARTITION_START = 2048
"""First sector of the FAT partition: 1 MiB alignment, like fdisk and every USB stick sold."""
PARTITION_TYPE = 0x0C  # FAT32 with LBA addressing
MBR_CANDIDATES = ('/usr/lib/syslinux/mbr/mbr.bin', '/usr/lib/SYSLINUX/mbr.bin', '/usr/share/syslinux/mbr.bin', '/usr/lib/syslinux/mbr.bin')


def chs(lba: int, heads: int = 255, sectors: int = 63) -> bytes:
    """CHS triple of an LBA as stored in an MBR entry; beyond 1023 cylinders the conventional maximum."""
    cylinder, rest = divmod(lba, heads * sectors)
    head, sector = divmod(rest, sectors)
    if cylinder > 1023:
        return b'\xfe\xff\xff'
    return bytes((head, ((cylinder >> 2) & 0xC0) | (sector + 1), cylinder & 0xFF))


def mbr_sector(boot_code: bytes, disk_signature: int, start: int, *, count: int, part_type: int = PARTITION_TYPE, bootable: bool = True) -> bytes:
    """The 512-byte MBR: boot code (at most 440 bytes), disk signature, one partition entry, 0x55AA."""
    if len(boot_code) > 440:
        raise ValueError('MBR boot code is %d bytes, at most 440 fit' % len(boot_code))
    if start <= 0 or count <= 0 or start + count > 0xFFFFFFFF:
        raise ValueError('partition %d+%d does not fit an MBR entry' % (start, count))
    sector = bytearray(SECTOR)
    sector[: len(boot_code)] = boot_code
    struct.pack_into('<I', sector, 440, disk_signature & 0xFFFFFFFF)
    entry = bytes((0x80 if bootable else 0x00,)) + chs(start) + bytes((part_type,)) + chs(start + count - 1) + struct.pack('<II', start, count)
    sector[446:462] = entry
    sector[510:512] = b'\x55\xaa'
    return bytes(sector)


def find_mbr(explicit: str | None = None) -> str:
    for candidate in [explicit] if explicit else MBR_CANDIDATES:
        if os.path.isfile(candidate):
            return candidate
    if explicit:
        raise DiskImageError('does not exist', path=explicit)
    raise DiskImageError('syslinux MBR boot code (mbr.bin) not found in %s (install the syslinux-common package)' % ', '.join(MBR_CANDIDATES))
