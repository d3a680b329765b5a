# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Archive safety limits: the caps every package reader enforces (the streams of :mod:`.streams` apply them).

A zip/gzip bomb is stopped after at most ``max_uncompressed_size`` bytes instead of filling memory or disk.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.esxi.customizer.plugins.module_utils._errors import UnsafeArchiveError

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    """Configurable caps. The defaults are far above any real driver package and far below a bomb."""

    max_uncompressed_size: int = 4 * GiB
    max_compression_ratio: int = 200
    # The ratio is only judged past this many output bytes: tiny all-zero files compress absurdly well.
    ratio_floor: int = 4 * MiB
    max_members: int = 100000
    # XML documents, .map and .ids files are read whole into memory; this caps each one.
    max_metadata_size: int = 32 * MiB
    allow_links: bool = False


DEFAULT_LIMITS = Limits()


def check_expansion(produced: int, consumed: int, limits: Limits, *, label: str) -> None:
    """Raise UnsafeArchiveError when ``produced`` output bytes from ``consumed`` input bytes look like a bomb."""
    if produced > limits.max_uncompressed_size:
        raise UnsafeArchiveError(
            'expands to more than %d bytes (max_uncompressed_size); refusing a possible decompression bomb' % limits.max_uncompressed_size, path=label
        )
    if produced > limits.ratio_floor and produced > limits.max_compression_ratio * max(consumed, 1):
        raise UnsafeArchiveError(
            'compression ratio above %d:1 (max_compression_ratio); refusing a possible decompression bomb' % limits.max_compression_ratio, path=label
        )


def safe_member_path(name: str, label: str, what: str = 'member', *, strip_root: bool = False) -> str:
    """Normalise an archive member path; refuse absolute paths and ``..`` components.

    ``strip_root`` reads ``/usr/x`` as ``usr/x`` (tar -P archives), as GNU tar does when extracting.
    """
    if '\x00' in name:
        raise UnsafeArchiveError('%s name %r contains a NUL byte' % (what, name), path=label)
    if strip_root:
        name = name.lstrip('/')
    if name.startswith(('/', '\\')) or (len(name) > 1 and name[1] == ':'):
        raise UnsafeArchiveError('%s path %r is absolute; archive members must be relative' % (what, name), path=label)
    parts = [p for p in name.replace('\\', '/').split('/') if p not in ('', '.')]
    if '..' in parts:
        raise UnsafeArchiveError('%s path %r contains "..", which would escape the archive' % (what, name), path=label)
    return '/'.join(parts)
