# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The edit vocabulary between the planner and the ISO writer: what changes, and where new contents come from.

Contents have a ``length`` and an ``open()`` that returns a seekable binary stream; the writer copies a
:class:`FileSliceContent` in the kernel (its stream exposes descriptor and offset), the others through pycdlib.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import IO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import FileSlice

# 8.3 ISO9660 level-1 names in d-characters: what the ESXi boot loaders and the installer's CD-ROM
# module are known to read (esxi-formats §1.1).
_ISO_NAME_RE = re.compile(r'^[A-Z0-9_]{1,8}(\.[A-Z0-9_]{0,3})?$')


class BytesContent:
    """Contents held in memory: only for small generated files (boot.cfg, imgdb.tgz, kickstart)."""

    def __init__(self, data: bytes):
        self.data = bytes(data)
        self.length = len(self.data)

    def open(self) -> io.BytesIO:
        return io.BytesIO(self.data)


class FileSliceContent:
    """``length`` bytes at ``offset`` of a file on disk (a payload member inside a .vib, or a whole file)."""

    def __init__(self, path: str, offset: int = 0, length: int | None = None, *, check: Callable[[], object] | None = None):
        self.path = path
        self.offset = offset
        if length is None:
            length = os.path.getsize(path) - offset
        self.length = length
        # a depot payload: a factory of checks (update/finish/abort) the writer feeds while it copies the slice
        self.check = check

    def open(self) -> FileSlice:
        stream = FileSlice(self.path, self.offset, self.length)
        stream.check = self.check
        return stream


class StreamContent:
    """``length`` bytes from a seekable stream ``opener()`` returns (a payload inside a compressed zip member)."""

    def __init__(self, opener: Callable[[], IO[bytes] | io.RawIOBase], length: int):
        self.opener = opener
        self.length = length

    def open(self) -> IO[bytes] | io.RawIOBase:
        return self.opener()


class IsoEdits:
    """What to change in the source image. ISO paths are ISO9660 paths like ``/BOOT.CFG`` (``;1`` optional).

    * ``add``: ``{'/NET_R812.V00': source}`` new files in the ISO root, 8.3 upper-case names;
    * ``replace``: ``{'/BOOT.CFG': source}`` new contents for existing files (every tree sees them);
    * ``remove``: ``['/OLD_DRV.V00']`` files to delete from every tree;
    * ``volume_id``: a new primary volume identifier, or None to keep the source's.
    """

    def __init__(
        self,
        add: Mapping[str, BytesContent | FileSliceContent | StreamContent] | None = None,
        replace: Mapping[str, BytesContent | FileSliceContent | StreamContent] | None = None,
        remove: Iterable[str] | None = None,
        *,
        volume_id: str | None = None,
    ):
        self.add = dict(add or {})
        self.replace = dict(replace or {})
        self.remove = list(remove or [])
        self.volume_id = volume_id


def check_root_name(name: str) -> str:
    """Refuse a name the boot loaders could not read: new files are 8.3 upper-case ISO9660 names."""
    bare = name.strip('/').split(';')[0]
    if '/' in bare or not _ISO_NAME_RE.match(bare):
        raise EsxiCustomizerError('%r is not an 8.3 upper-case ISO9660 file name for the ISO root' % name)
    return bare


def normalize_volume_id(volume_id: str) -> str:
    """``volume_id`` as the primary volume descriptor holds it: upper case (like VMware's own, the profile name
    upper-cased), 1-32 characters ``A-Z 0-9 _ - .`` or space; EsxiCustomizerError for anything else."""
    value = str(volume_id).strip().upper()
    if not re.match(r'^[A-Z0-9_\-. ]{1,32}$', value):
        raise EsxiCustomizerError(
            'volume_id %r must be 1-32 characters A-Z 0-9 _ - . or space (ISO 9660 allows no more; '
            'it is %d characters)' % (volume_id, len(str(volume_id).strip()))
        )
    return value
