# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tar archives read as forward-only streams, with the header sizes capped.

Python's tarfile reads a GNU long-name/long-link or pax header whole into memory before it yields the member it
describes; a 1 MB gzip can declare a 1 GiB header. Every tar the collection reads (image databases, legacy driver
tgz, tar payloads) goes through :func:`open_tar_stream` (or :func:`open_tar_file` for a seekable one whose members are read by
offset), which refuses a header above :data:`MAX_HEADER` first.
"""

from __future__ import annotations

import tarfile
from typing import IO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import UnsafeArchiveError

MAX_HEADER = 1024 * 1024
"""Long names and pax records of real archives are well under a KiB; a MiB is far above any of them."""
_HEADER_TYPES = {
    tarfile.GNUTYPE_LONGNAME: 'GNU long-name',
    tarfile.GNUTYPE_LONGLINK: 'GNU long-link',
    tarfile.XHDTYPE: 'pax',
    tarfile.XGLTYPE: 'pax global',
    tarfile.SOLARIS_XHDTYPE: 'Solaris extended',
}


def _capped_info(label: str) -> type:
    class CappedTarInfo(tarfile.TarInfo):
        def _proc_member(self, tarfile):  # pylint: disable=redefined-outer-name  # called for every header tarfile reads
            kind = _HEADER_TYPES.get(self.type)
            if kind and self.size > MAX_HEADER:
                raise UnsafeArchiveError(
                    'has a %s header declaring %d bytes (more than %d): refusing a possible archive bomb' % (kind, self.size, MAX_HEADER), path=label
                )
            return super()._proc_member(tarfile)

    return CappedTarInfo


def open_tar_stream(fileobj: IO[bytes], *, label: str) -> tarfile.TarFile:
    """``tarfile.open(fileobj, 'r|')`` with capped headers; errors name ``label``. Decompress before (capped too)."""
    return tarfile.open(fileobj=fileobj, mode='r|', tarinfo=_capped_info(label))


def open_tar_file(fileobj: IO[bytes], *, label: str) -> tarfile.TarFile:
    """``tarfile.open(fileobj, 'r:')`` (seekable, uncompressed: members are skipped, not read) with capped headers."""
    return tarfile.open(fileobj=fileobj, mode='r:', tarinfo=_capped_info(label))
