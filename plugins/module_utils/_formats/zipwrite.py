# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bytes of a zip archive, computed without writing them: the offline bundle's writer does its own I/O.

:class:`ZipLayout` encodes exactly what :mod:`zipfile` writes: a whole member (:meth:`ZipLayout.member`) as
``ZipFile.writestr`` does on a seekable file, a streamed stored member (:meth:`ZipLayout.stream_header`, the data,
:meth:`ZipLayout.descriptor`) as ``ZipFile.open(..., 'w')`` does on an unseekable one (bit 3: CRC and sizes in a data
descriptor after the data), the central directory and end records (zip64 where zipfile puts them) as ``close``
does. The caller hashes and writes the bytes in one sequential pass: nothing is patched afterwards, so a digest of
the file can follow the writer. ``zip64_limit`` is zipfile's, lowered only by tests.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

ZIP64_LIMIT = (1 << 31) - 1
"""zipfile's threshold: above it a size or offset goes into a zip64 extra field."""
_FILECOUNT_LIMIT = (1 << 16) - 1
_DEFAULT_VERSION = 20
_ZIP64_VERSION = 45
_STORED, _DEFLATED = 0, 8
_DATA_DESCRIPTOR = 1 << 3
_UTF8_NAME = 1 << 11
_LOCAL = struct.Struct('<4s2B4HL2L2H')
_CENTRAL = struct.Struct('<4s4B4HL2L5H2L')
_END = struct.Struct('<4s4H2LH')
_END64 = struct.Struct('<4sQ2H2L4Q')
_END64_LOCATOR = struct.Struct('<4sLQL')


@dataclass
class _Entry:
    name: bytes
    flags: int
    method: int
    offset: int
    size: int
    compressed: int = 0
    crc: int = 0
    version: int = _DEFAULT_VERSION


class ZipLayout:
    """Member headers, data descriptors and the central directory of one archive, in the order they are written.

    Every member gets ``date_time``, ``external_attr`` and ``create_system``: fixed values make the same contents
    the same bytes.
    """

    def __init__(self, *, date_time: tuple = (1980, 1, 1, 0, 0, 0), external_attr: int = 0o644 << 16, create_system: int = 3, zip64_limit: int = ZIP64_LIMIT):
        self._dostime = date_time[3] << 11 | date_time[4] << 5 | (date_time[5] // 2)
        self._dosdate = (date_time[0] - 1980) << 9 | date_time[1] << 5 | date_time[2]
        self._external_attr = external_attr
        self._create_system = create_system
        self._limit = zip64_limit
        self._entries: list[_Entry] = []
        self._open: _Entry | None = None
        self._zip64_open = False
        self.offset = 0
        """Bytes of the archive so far, the data of a streamed member included once its header is out."""

    @staticmethod
    def _name(name: str) -> tuple[bytes, int]:
        try:
            return name.encode('ascii'), 0
        except UnicodeEncodeError:
            return name.encode('utf-8'), _UTF8_NAME

    def _local_header(self, entry: _Entry, *, zip64: bool) -> bytes:
        crc, compressed, size = (0, 0, 0) if entry.flags & _DATA_DESCRIPTOR else (entry.crc, entry.compressed, entry.size)
        extra = b''
        if zip64:
            extra = struct.pack('<HHQQ', 1, 16, size, compressed)
            size = compressed = 0xFFFFFFFF
            entry.version = _ZIP64_VERSION
        return (
            _LOCAL.pack(
                b'PK\x03\x04', entry.version, 0, entry.flags, entry.method, self._dostime, self._dosdate, crc, compressed, size, len(entry.name), len(extra)
            )
            + entry.name
            + extra
        )

    def _zip64(self, size: int) -> bool:
        # zipfile's rule (compressed data may outgrow the input): decided before the data is seen
        return size * 1.05 > self._limit

    def member(self, name: str, data: bytes, *, compress: bool, level: int | None = None) -> bytes:
        """A whole member: local header and (raw-deflated at ``level``, zlib's default when None, or stored) data."""
        if self._open is not None:
            raise ValueError('the streamed member %r has no data descriptor yet' % self._open.name)
        encoded, flags = self._name(name)
        if compress:
            packer = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION if level is None else level, zlib.DEFLATED, -15)
            body = packer.compress(data) + packer.flush()
        else:
            body = data
        entry = _Entry(encoded, flags, _DEFLATED if compress else _STORED, self.offset, len(data), len(body), zlib.crc32(data))
        zip64 = self._zip64(len(data))
        if not zip64 and len(body) > self._limit:
            raise ValueError('member %r: its compressed size needs zip64' % name)
        out = self._local_header(entry, zip64=zip64) + body
        self._entries.append(entry)
        self.offset += len(out)
        return out

    def stream_header(self, name: str, size: int, *, force_zip64: bool = False) -> bytes:
        """The local header of a stored member of ``size`` bytes the caller writes next, then :meth:`descriptor`."""
        if self._open is not None:
            raise ValueError('the streamed member %r has no data descriptor yet' % self._open.name)
        encoded, flags = self._name(name)
        entry = _Entry(encoded, flags | _DATA_DESCRIPTOR, _STORED, self.offset, size, size)
        self._zip64_open = force_zip64 or self._zip64(size)
        header = self._local_header(entry, zip64=self._zip64_open)
        self._open = entry
        self.offset += len(header) + size
        return header

    def descriptor(self, crc: int) -> bytes:
        """The data descriptor after the streamed member's data: its CRC-32 and sizes (8 bytes each under zip64)."""
        entry, self._open = self._open, None
        if entry is None:
            raise ValueError('no streamed member is open')
        entry.crc = crc
        out = struct.pack('<LLQQ' if self._zip64_open else '<LLLL', 0x08074B50, crc, entry.compressed, entry.size)
        self._entries.append(entry)
        self.offset += len(out)
        return out

    def finish(self, comment: bytes = b'') -> bytes:
        """The central directory and the end records (zip64 ones when the count, offset or size needs them)."""
        if self._open is not None:
            raise ValueError('the streamed member %r has no data descriptor yet' % self._open.name)
        comment = comment[:0xFFFF]  # what zipfile keeps of a longer one
        start = self.offset
        parts = []
        for entry in self._entries:
            fields = []
            size, compressed, offset = entry.size, entry.compressed, entry.offset
            if size > self._limit or compressed > self._limit:
                fields += [size, compressed]
                size = compressed = 0xFFFFFFFF
            if offset > self._limit:
                fields.append(offset)
                offset = 0xFFFFFFFF
            extra = struct.pack('<HH%dQ' % len(fields), 1, 8 * len(fields), *fields) if fields else b''
            version = max(entry.version, _ZIP64_VERSION) if fields else entry.version
            parts.append(
                _CENTRAL.pack(
                    b'PK\x01\x02',
                    version,
                    self._create_system,
                    version,
                    0,
                    entry.flags,
                    entry.method,
                    self._dostime,
                    self._dosdate,
                    entry.crc,
                    compressed,
                    size,
                    len(entry.name),
                    len(extra),
                    0,
                    0,
                    0,
                    self._external_attr,
                    offset,
                )
            )
            parts += [entry.name, extra]
        central = b''.join(parts)
        count, central_size, central_offset = len(self._entries), len(central), start
        tail = b''
        if count > _FILECOUNT_LIMIT or central_offset > self._limit or central_size > self._limit:
            end64_offset = start + central_size
            tail = _END64.pack(b'PK\x06\x06', 44, 45, 45, 0, 0, count, count, central_size, central_offset)
            tail += _END64_LOCATOR.pack(b'PK\x06\x07', 0, end64_offset, 1)
            count, central_size, central_offset = min(count, 0xFFFF), min(central_size, 0xFFFFFFFF), min(central_offset, 0xFFFFFFFF)
        out = central + tail + _END.pack(b'PK\x05\x06', 0, 0, count, count, central_size, central_offset, len(comment)) + comment
        self.offset += len(out)
        return out
