# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read an ISO 9660 image with pycdlib: file index, case-insensitive lookup, streamed reads, El Torito.

ESXi ISOs are plain ISO 9660 with upper-case 8.3 names; re-mastered ones may add Joliet and Rock Ridge
trees with lower-case names.  Everything that boots them (isolinux, the UEFI ISO9660 driver, the
installer kernel) matches names case-insensitively, so :meth:`IsoReader.find` does too, in every tree,
ignoring the ``;1`` version and a trailing ``.``.

Opening reads only metadata: volume descriptors, directory records, the boot catalog (and, as pycdlib
does when it detects a boot-info-table, the small BIOS boot file).  File contents are read only through
:meth:`IsoReader.open_file`/:meth:`IsoReader.stream`/:meth:`IsoReader.read`, in chunks.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import os
import stat
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, FormatError

try:
    import pycdlib
    from pycdlib.pycdlibexception import PyCdlibException

    HAS_PYCDLIB = True
    PYCDLIB_IMPORT_ERROR = None
    _PyCdlibBase = pycdlib.PyCdlib
except ImportError as exc:  # the module reports missing_required_lib('pycdlib')
    HAS_PYCDLIB = False
    PYCDLIB_IMPORT_ERROR = exc
    _PyCdlibBase = object

    class PyCdlibException(Exception):
        pass


class PyCdlib(_PyCdlibBase):
    """pycdlib with its El Torito boot-info-table checksum summed in C.

    Opening an image checks whether each boot file carries a boot-info table by summing it as 32-bit words; pycdlib does
    that one ``struct.unpack_from`` at a time (3.6 ms for a 38 KiB ISOLINUX.BIN, on every open). Same bytes read, same
    sum: every sector of the boot file, padded to 2048 bytes, after the table's first 64 bytes.
    """

    def _calculate_eltorito_boot_info_table_csum(self, data_fp, data_len):
        bsize = self.logical_block_size
        sectors = -(-data_len // bsize)
        data = b''.join(data_fp.read(bsize).ljust(2048, b'\x00') for sector in range(sectors))[64:]
        data = data[: len(data) - len(data) % 4]
        return sum(struct.unpack('<%dI' % (len(data) // 4), data)) & 0xFFFFFFFF


SECTOR = 2048
IDENTITY_HEAD = 1024 * 1024
IDENTITY_TAIL = 64 * 1024
IDENTITY_SMALL_FILE = 64 * 1024
CHUNK_SIZE = 1024 * 1024
PLATFORMS = {0x00: 'bios', 0x01: 'ppc', 0x02: 'mac', 0xEF: 'uefi'}
MEDIA_TYPES = {0: 'no-emulation', 1: 'floppy-1.2M', 2: 'floppy-1.44M', 3: 'floppy-2.88M', 4: 'hard-disk'}

# what a corrupt image can make pycdlib raise besides its own exceptions
_PARSE_ERRORS = (PyCdlibException, struct.error, ValueError, IndexError, KeyError, UnicodeDecodeError, AttributeError, RecursionError)


def normalize(path: str) -> str:
    """Lookup key for a path in any tree: ``/`` separated, lower case, no ``;1``, no trailing ``.``."""
    parts = []
    for part in path.replace('\\', '/').split('/'):
        if not part:
            continue
        if ';' in part:
            part = part.rsplit(';', 1)[0]
        part = part.rstrip('.')
        if part:
            parts.append(part.lower())
    return '/' + '/'.join(parts)


def _iso_display(identifier: str) -> str:
    """``README.;1`` -> ``README``; ``BOOT.CFG;1`` -> ``BOOT.CFG``."""
    return identifier.rsplit(';', 1)[0].rstrip('.') if ';' in identifier else identifier


def pvd_epoch(pvd: object) -> int | None:
    """A primary volume descriptor's creation (else modification) time as a Unix time, or None when unset."""
    for date in (pvd.volume_creation_date, pvd.volume_modification_date):
        if getattr(date, 'year', 0):
            try:
                secs = calendar.timegm((date.year, date.month, date.dayofmonth, date.hour, date.minute, date.second, 0, 0, 0))
            except (OverflowError, ValueError):
                continue
            return secs - date.gmtoffset * 15 * 60
    return None


def source_identity(path: str, files: Iterable[IsoEntry]) -> tuple[int, str]:
    """sha256 over the source's size, first MiB, last 64 KiB, file listing (path, extent, size) and small files.

    Volume descriptors, path tables and directory records of ESXi ISOs sit in the first MiB, and the
    listing pins every file's place and length; a re-run decides from this without reading the payloads.
    The small files are read whole: a kickstart, a boot.cfg or our manifest can change without changing its size
    (another address or password hash), and then neither the listing nor the first MiB shows it.
    """
    digest = hashlib.sha256()
    size = os.path.getsize(path)
    digest.update(b'size %d\n' % size)
    with open(path, 'rb') as f:
        digest.update(f.read(IDENTITY_HEAD))
        f.seek(max(0, size - IDENTITY_TAIL))
        digest.update(f.read(IDENTITY_TAIL))
        for entry in sorted(files, key=lambda e: e.path):
            digest.update(('%s %d %d\n' % (entry.path, entry.extent, entry.size)).encode('utf-8', 'surrogateescape'))
            if entry.size <= IDENTITY_SMALL_FILE and entry.extents == 1:
                f.seek(entry.extent * SECTOR)
                digest.update(f.read(entry.size))
    return size, digest.hexdigest()


@dataclass
class IsoEntry:
    """A file on the ISO, with its name in each tree that has it."""

    path: str  # ISO 9660 path without version (``/EFI/BOOT/BOOT.CFG``); Joliet/RR path for tree-only files
    size: int
    extent: int  # first logical block
    extents: int = 1  # directory records (more than one = multi-extent file)
    iso_path: str | None = None  # exactly as pycdlib wants it (``/EFI/BOOT/BOOT.CFG;1``)
    joliet_path: str | None = None
    rr_path: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit('/', 1)[-1]

    def pycdlib_kwargs(self) -> dict:
        if self.iso_path:
            return {'iso_path': self.iso_path}
        if self.rr_path:
            return {'rr_path': self.rr_path}
        return {'joliet_path': self.joliet_path}


@dataclass(frozen=True)
class ElToritoEntry:
    """One El Torito boot entry (the initial/default entry first)."""

    platform: str  # bios | uefi | ppc | mac | 0x..
    path: str | None  # ISO path of the boot file (None if it has no directory record)
    load_size: int  # sectors of 512 bytes loaded at boot (0 = whole image for some firmware)
    extent: int
    media: str
    bootable: bool
    boot_info_table: bool
    size: int | None = None  # bytes of the boot file (from the catalog when the image has no directory record)


class IsoReader:
    """An open ISO image; use as a context manager or call :meth:`close`."""

    def __init__(self, path: str, fileobj: BinaryIO | None = None):
        """Open ``path`` (or read ``fileobj``, kept open by the caller, naming it ``path`` in errors)."""
        if not HAS_PYCDLIB:
            raise EsxiCustomizerError('the Python library pycdlib (>= 1.15) is required to read ISO images')
        self.path = path
        self._own_fp = fileobj is None
        self.fileobj = fileobj if fileobj is not None else self._open_checked(path)
        self.iso = PyCdlib()
        try:
            self._precheck()
            self.iso.open_fp(self.fileobj)
        except _PARSE_ERRORS as err:
            self.close()
            raise FormatError('is not a readable ISO 9660 image (%s)' % (err or type(err).__name__), path=path)
        except OSError as err:
            self.close()
            raise FormatError('cannot be read (%s)' % err, path=path)
        except EsxiCustomizerError:
            self.close()
            raise
        try:
            self._check_size()
            self._files = []
            self._index = {}
            self._build_index()
        except _PARSE_ERRORS as err:
            self.close()
            raise FormatError('has corrupt directory records (%s)' % (err or type(err).__name__), path=path)
        except EsxiCustomizerError:
            self.close()
            raise

    def _precheck(self) -> None:
        """Find the primary volume descriptor ourselves, so that a non-ISO or a truncated ISO gets a plain answer."""
        size = self._file_size()
        for sector in range(16, 16 + 64):
            self.fileobj.seek(sector * SECTOR)
            descriptor = self.fileobj.read(SECTOR)
            if len(descriptor) < SECTOR or descriptor[1:6] != b'CD001':
                break
            if descriptor[0] == 255:  # set terminator before any primary descriptor
                break
            if descriptor[0] == 1:
                (blocks,) = struct.unpack_from('<I', descriptor, 80)
                (block_size,) = struct.unpack_from('<H', descriptor, 128)
                if blocks * block_size > size:
                    raise FormatError('is truncated: the volume is %d bytes but the file has only %d' % (blocks * block_size, size), path=self.path)
                return
        raise FormatError('is not an ISO 9660 image (no primary volume descriptor; %d bytes)' % size, path=self.path)

    @staticmethod
    def _open_checked(path: str):
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise EsxiCustomizerError('does not exist', path=path)
        except OSError as err:
            raise EsxiCustomizerError('cannot be accessed (%s)' % err.strerror, path=path)
        if stat.S_ISDIR(info.st_mode):
            raise EsxiCustomizerError('is a directory, not an ISO image file', path=path)
        if not stat.S_ISREG(info.st_mode) and not stat.S_ISBLK(info.st_mode):
            raise EsxiCustomizerError('is not a regular file', path=path)
        try:
            return open(path, 'rb')
        except OSError as err:
            raise EsxiCustomizerError('cannot be opened (%s)' % err.strerror, path=path)

    @classmethod
    def open(cls, path: str, fileobj: BinaryIO | None = None) -> IsoReader:
        return cls(path, fileobj)

    def close(self) -> None:
        try:
            self.iso.close()
        except Exception:  # pylint: disable=broad-except
            pass  # not initialised (open failed): nothing to release
        if self._own_fp and self.fileobj is not None:
            self.fileobj.close()
            self.fileobj = None

    def __enter__(self) -> IsoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- volume facts ------------------------------------------------------------------------

    @property
    def logical_block_size(self) -> int:
        return self.iso.pvd.logical_block_size()

    @property
    def volume_size(self) -> int:
        """Bytes the primary volume descriptor says the image has."""
        return self.iso.pvd.space_size * self.logical_block_size

    def _file_size(self) -> int:
        self.fileobj.seek(0, os.SEEK_END)
        return self.fileobj.tell()

    def _check_size(self) -> None:
        actual = self._file_size()
        if actual < self.volume_size:
            raise FormatError('is truncated: the volume is %d bytes but the file has only %d' % (self.volume_size, actual), path=self.path)

    @staticmethod
    def _identifier(value) -> str:
        if hasattr(value, 'text'):
            value = value.text
        if isinstance(value, bytes):
            value = value.decode('utf-8', 'replace')
        return (value or '').strip()

    def volume_epoch(self) -> int | None:
        """The volume creation (else modification) time as a Unix time, or None when unset."""
        return pvd_epoch(self.iso.pvd)

    def source_identity(self) -> tuple[int, str]:
        """(size, identity sha256) of the image file: what a manifest records of its source."""
        return source_identity(self.path, self.files())

    @property
    def volume_id(self) -> str:
        return self._identifier(self.iso.pvd.volume_identifier)

    @property
    def application_id(self) -> str:
        return self._identifier(self.iso.pvd.application_identifier)

    @property
    def system_id(self) -> str:
        return self._identifier(self.iso.pvd.system_identifier)

    @property
    def has_joliet(self) -> bool:
        return self.iso.has_joliet()

    @property
    def has_rock_ridge(self) -> bool:
        return bool(self.iso.has_rock_ridge())

    @property
    def has_udf(self) -> bool:
        return self.iso.has_udf()

    @property
    def trees(self) -> list[str]:
        """Name trees present: always ``iso9660``, plus ``joliet``, ``rock_ridge``, ``udf``."""
        found = ['iso9660']
        for name, present in (('joliet', self.has_joliet), ('rock_ridge', self.has_rock_ridge), ('udf', self.has_udf)):
            if present:
                found.append(name)
        return found

    # -- file index --------------------------------------------------------------------------

    def _rr_name(self, record) -> str | None:
        rock_ridge = record.rock_ridge
        name = rock_ridge.name() if rock_ridge is not None else None
        if not name:
            return None
        text = name.decode('utf-8', 'surrogateescape')
        if '/' in text or '\x00' in text or text in ('.', '..'):
            # a name that is a path: a mounted ISO, a PXE tree and a FAT image would each put the file elsewhere
            raise FormatError(
                'has a Rock Ridge file name %r that is not a file name (it holds "/" or NUL, or is . or ..); remaster the ISO with proper names' % text,
                path=self.path,
            )
        return text

    def _walk(self, root, decode):
        """Yield (path, rr_path, [records]) for every file below ``root``; a multi-extent file is one item."""
        stack = [('', '', root)]
        while stack:
            prefix, rr_prefix, directory = stack.pop()
            pending = []
            for child in directory.children:
                if child.is_dot() or child.is_dotdot():
                    continue
                name = decode(child)
                rr_name = self._rr_name(child) or name
                if child.is_dir():
                    stack.append((prefix + '/' + name, rr_prefix + '/' + rr_name, child))
                    continue
                if pending and pending[0] == name:
                    pending[2].append(child)
                    continue
                if pending:
                    yield prefix + '/' + pending[0], rr_prefix + '/' + pending[1], pending[2]
                pending = [name, rr_name, [child]]
            if pending:
                yield prefix + '/' + pending[0], rr_prefix + '/' + pending[1], pending[2]

    def _build_index(self) -> None:
        by_key = {}
        by_extent = {}
        for path, rr_path, records in self._walk(self.iso.pvd.root_directory_record(), _iso9660_name):
            size = sum(record.get_data_length() for record in records)
            entry = IsoEntry(_iso_display_path(path), size, records[0].extent_location(), len(records), iso_path=path)
            if self.has_rock_ridge and self._rr_name(records[0]):
                entry.rr_path = rr_path
            self._files.append(entry)
            by_key[normalize(entry.path)] = entry
            if size:
                by_extent.setdefault(entry.extent, entry)
        if self.has_joliet:
            for path, _rr_path, records in self._walk(self.iso.joliet_vd.root_directory_record(), _joliet_name):
                size = sum(record.get_data_length() for record in records)
                extent = records[0].extent_location()
                entry = by_key.get(normalize(path)) or (by_extent.get(extent) if size else None)
                if entry is None or entry.joliet_path is not None:
                    entry = IsoEntry(path, size, extent, len(records))
                    self._files.append(entry)
                entry.joliet_path = path
        for entry in self._files:
            for candidate in (entry.iso_path, entry.rr_path, entry.joliet_path, entry.path):
                if candidate:
                    self._index.setdefault(normalize(candidate), entry)

    def files(self) -> list[IsoEntry]:
        """Every file (ISO 9660 tree order; files only found in Joliet come last)."""
        return list(self._files)

    def find(self, path: str) -> IsoEntry | None:
        """The file at ``path`` in any tree, matched case-insensitively; None if absent."""
        return self._index.get(normalize(path))

    def exists(self, path: str) -> bool:
        return self.find(path) is not None

    def _require(self, path) -> IsoEntry:
        entry = path if isinstance(path, IsoEntry) else self.find(path)
        if entry is None:
            raise FormatError('has no file %s' % path, path=self.path)
        return entry

    # -- reading file data -------------------------------------------------------------------

    def open_file(self, path: str | IsoEntry) -> io.RawIOBase:
        """A read-only file object for a file's bytes (pycdlib streams it from the image)."""
        entry = self._require(path)
        try:
            return self.iso.open_file_from_iso(**entry.pycdlib_kwargs())
        except _PARSE_ERRORS as err:
            raise FormatError('cannot open %s (%s)' % (entry.path, err), path=self.path)

    def stream(self, path: str | IsoEntry, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Yield a file's bytes in chunks; FormatError if the image ends early."""
        entry = self._require(path)
        remaining = entry.size
        with self.open_file(entry) as handle:
            while remaining > 0:
                chunk = handle.read(min(chunk_size, remaining))
                if not chunk:
                    raise FormatError('is truncated: %s ends %d bytes early' % (entry.path, remaining), path=self.path)
                remaining -= len(chunk)
                yield chunk

    def read(self, path: str | IsoEntry, max_size: int = 64 * 1024 * 1024) -> bytes:
        """A small file's bytes; refuses files larger than ``max_size`` (use :meth:`stream`)."""
        entry = self._require(path)
        if entry.size > max_size:
            raise FormatError('%s is %d bytes, more than the %d expected' % (entry.path, entry.size, max_size), path=self.path)
        return b''.join(self.stream(entry))

    # -- El Torito ---------------------------------------------------------------------------

    def _entry_by_extent(self, extent: int) -> IsoEntry | None:
        for entry in self._files:
            if entry.extent == extent and entry.iso_path:
                return entry
        return None

    @property
    def boot_catalog(self) -> IsoEntry | None:
        catalog = self.iso.eltorito_boot_catalog
        if catalog is None or not catalog.dirrecords:
            return None
        return self._entry_by_extent(catalog.dirrecords[0].extent_location())

    def el_torito(self) -> list[ElToritoEntry]:
        """Boot entries: the initial (default) entry, then every section entry in catalog order."""
        catalog = self.iso.eltorito_boot_catalog
        if catalog is None:
            return []
        entries = [(catalog.validation_entry.platform_id, catalog.initial_entry)]
        for section in catalog.sections:
            entries.extend((section.platform_id, entry) for entry in section.section_entries)
        return [self._describe(platform, entry) for platform, entry in entries]

    def _describe(self, platform_id: int, entry) -> ElToritoEntry:
        boot_file = self._entry_by_extent(entry.load_rba)
        size = boot_file.size if boot_file else None
        if size is None and entry.inode is not None:
            size = entry.inode.data_length  # a hidden boot image: pycdlib knows its length from the catalog
        return ElToritoEntry(
            platform=PLATFORMS.get(platform_id, '0x%02x' % platform_id),
            path=boot_file.path if boot_file else None,
            load_size=entry.sector_count,
            extent=entry.load_rba,
            media=MEDIA_TYPES.get(entry.boot_media_type, str(entry.boot_media_type)),
            bootable=entry.boot_indicator == 0x88,
            boot_info_table=entry.inode is not None and entry.inode.boot_info_table is not None,
            size=size,
        )


def _iso9660_name(record) -> str:
    return record.file_identifier().decode('ascii', 'replace')


def _joliet_name(record) -> str:
    return record.file_identifier().decode('utf-16_be', 'replace')


def _iso_display_path(iso_path: str) -> str:
    return '/'.join(_iso_display(part) for part in iso_path.split('/'))
