# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""FAT32 rules for a disk image: which names it can hold, cluster size, how big the partition must be."""

from __future__ import annotations

from ansible_collections.esxi.customizer.plugins.module_utils._errors import DiskImageError
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.mbr import PARTITION_START, SECTOR

MIB = 1024 * 1024
MIN_SIZE = 64 * MIB
"""FAT32 needs at least 65525 clusters; 64 MiB with 512-byte clusters leaves room for that."""
MIN_CLUSTERS = 66000
# FAT forbids these in long names (plus control characters)
_FAT_FORBIDDEN = set('"*/:<>?\\|')


def check_fat_path(path: str) -> str:
    """A ``/``-rooted path valid on FAT (long names), or DiskImageError."""
    parts = [part for part in path.split('/') if part]
    if not parts:
        raise DiskImageError('empty file name %r' % path)
    for part in parts:
        if part in ('.', '..') or len(part) > 255 or part != part.rstrip(' .') or any(ch in _FAT_FORBIDDEN or ord(ch) < 32 for ch in part):
            raise DiskImageError('the ISO file %r cannot be stored on FAT (name %r)' % (path, part))
    return '/' + '/'.join(parts)


def cluster_sectors(partition_sectors: int) -> int:
    """Sectors per cluster: 4 KiB clusters when the partition is big enough for FAT32, else smaller."""
    for spc in (8, 4, 2, 1):
        if partition_sectors // spc >= MIN_CLUSTERS:
            return spc
    raise DiskImageError('a FAT32 partition of %d sectors is too small' % partition_sectors)


def needed_bytes(file_sizes, dir_count: int, cluster: int) -> int:
    """Bytes of the partition the files, directories, FATs and reserved sectors take with ``cluster``-byte clusters."""
    clusters = sum(-(-size // cluster) for size in file_sizes) + dir_count + 1
    clusters += -(-160 * 1024 // cluster)  # ldlinux.sys + ldlinux.c32 (syslinux 6: ~135 KiB)
    return clusters * cluster + 2 * 4 * (clusters + 2) + 32 * SECTOR + 2 * SECTOR


def default_size(file_sizes, dir_count: int) -> int:
    """Content with 4 KiB clusters, plus 5 % and 16 MiB of slack, rounded up to a MiB; at least MIN_SIZE."""
    need = needed_bytes(file_sizes, dir_count, 4096)
    total = PARTITION_START * SECTOR + need + need // 20 + 16 * MIB
    return max(MIN_SIZE, -(-total // MIB) * MIB)


def parent_dirs(paths) -> list[str]:
    """Every directory above ``paths`` (``/``-rooted), parents before children (the order mmd needs)."""
    dirs = set()
    for path in paths:
        parts = path.split('/')[1:-1]
        dirs.update('/' + '/'.join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(dirs, key=lambda d: (d.count('/'), d))
