# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one set of stream wrappers every reader and writer uses.

Every decompressing read in the package readers goes through :func:`gunzip_stream` or
:class:`CountingReader`, so a bomb is stopped by :class:`~.limits.Limits`. :class:`SliceReader` and
:class:`FileSlice` are seekable windows on a larger stream or file (payload members are handed out
without copying them; :class:`FileSlice` also exposes its descriptor and offset for kernel copies).
:class:`BoundedReader`, :class:`PrependReader` and :class:`HashingReader` are the forward-only helpers the
archive readers need.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from typing import IO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError, UnsafeArchiveError
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import Limits, check_expansion

COPY_CHUNK = 1024 * 1024


class SliceReader(io.RawIOBase):
    """Read-only, seekable view of ``length`` bytes at ``start`` of ``base`` (which must support seek)."""

    def __init__(self, base: IO[bytes] | io.RawIOBase, start: int, length: int, *, close_base: bool = True):
        super().__init__()
        self._base = base
        self._start = start
        self._length = length
        self._pos = 0
        self._close_base = close_base

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._length + offset
        else:
            raise ValueError('invalid whence %r' % whence)
        if pos < 0:
            raise ValueError('negative seek position %d' % pos)
        self._pos = pos
        return pos

    def readinto(self, buffer: bytearray | memoryview) -> int:
        want = min(len(buffer), self._length - self._pos)
        if want <= 0:
            return 0
        self._base.seek(self._start + self._pos)
        data = self._base.read(want)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self._length - self._pos
        buf = bytearray(max(0, min(size, self._length - self._pos)))
        got = self.readinto(buf)
        return bytes(buf[:got])

    def close(self) -> None:
        if not self.closed and self._close_base:
            self._base.close()
        super().close()


class CountingReader(io.RawIOBase):
    """Forward-only reader over a zlib/gzip stream that enforces :class:`Limits` while it inflates.

    ``wbits`` 31 = gzip (concatenated members are followed, as gzip(1) does). Truncated or corrupt input
    raises FormatError naming ``label``.
    """

    def __init__(self, raw: IO[bytes] | io.RawIOBase, limits: Limits, label: str, *, wbits: int = 31, compressed_size: int | None = None):
        super().__init__()
        self._raw = raw
        self._limits = limits
        self._label = label
        self._wbits = wbits
        self._inflater = zlib.decompressobj(wbits)
        self._pending = memoryview(b'')
        self._tail = b''
        self._eof = False
        self._compressed_size = compressed_size
        self.consumed = 0
        self.produced = 0

    def readable(self) -> bool:
        return True

    def _next_input(self):
        if self._tail:
            data, self._tail = self._tail, b''
            return data
        data = self._raw.read(COPY_CHUNK)
        self.consumed += len(data)
        return data

    def _fill(self):
        while not self._pending and not self._eof:
            data = self._next_input()
            if not data:
                if not self._inflater.eof:
                    raise FormatError('compressed stream is empty or truncated (unexpected end of data)', path=self._label)
                self._eof = True
                break
            if self._inflater.eof:
                if not data.strip(b'\x00'):
                    continue  # zero padding after the last gzip member, which gzip(1) ignores too
                self._inflater = zlib.decompressobj(self._wbits)  # another gzip member follows
            try:
                out = self._inflater.decompress(data, COPY_CHUNK)
            except zlib.error as err:
                raise FormatError('corrupt compressed data (%s)' % err, path=self._label) from None
            self._tail = self._inflater.unconsumed_tail or self._inflater.unused_data
            self.produced += len(out)
            check_expansion(self.produced, self._compressed_size or self.consumed, self._limits, label=self._label)
            self._pending = memoryview(out)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        self._fill()
        if not self._pending:
            return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]  # a view: no copy of the rest
        return n


def gunzip_stream(raw: IO[bytes] | io.RawIOBase, limits: Limits, label: str, *, compressed_size: int | None = None) -> io.BufferedReader:
    """A buffered, limit-enforcing gunzip reader over the binary stream ``raw``."""
    return io.BufferedReader(CountingReader(raw, limits, label, wbits=31, compressed_size=compressed_size), buffer_size=COPY_CHUNK)


def read_capped(stream: IO[bytes] | io.RawIOBase, cap: int, label: str, *, what: str) -> bytes:
    """Read a whole small document (XML, .map, .ids) but never more than ``cap`` bytes."""
    data = stream.read(cap + 1)
    if len(data) > cap:
        raise UnsafeArchiveError('%s is larger than %d bytes (max_metadata_size)' % (what, cap), path=label)
    return data


def file_size(fileobj: IO[bytes] | io.RawIOBase) -> int:
    """Size of a seekable stream without moving its position."""
    try:
        return os.fstat(fileobj.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        pos = fileobj.tell()
        end = fileobj.seek(0, io.SEEK_END)
        fileobj.seek(pos)
        return end


class FileSlice(io.RawIOBase):
    """A read-only view of one byte range of a file on disk; exposes its fd and offset for kernel copies."""

    def __init__(self, path: str, offset: int, length: int):
        super().__init__()
        self._f = open(path, 'rb')  # pylint: disable=consider-using-with
        size = os.fstat(self._f.fileno()).st_size
        if offset + length > size:
            self._f.close()
            raise FormatError('ends at byte %d but the file holds only %d bytes (truncated?)' % (offset + length, size), path=path)
        self.path = path
        self.kernel_fd = self._f.fileno()
        self.kernel_offset = offset
        self.length = length
        self._pos = 0
        self.check = None  # set by FileSliceContent for a payload the writer checks while it copies (iso_writer)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        # pycdlib asks for a fileno to copy the file mode on Rock Ridge ISOs; the mode is passed
        # explicitly instead, and the kernel copy uses ``kernel_fd``.
        raise io.UnsupportedOperation('fileno')

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._pos = pos
        elif whence == os.SEEK_CUR:
            self._pos += pos
        else:
            self._pos = self.length + pos
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        # straight from pread: no intermediate buffer to copy through (the bulk readers call this)
        want = self.length - self._pos if size is None or size < 0 else min(size, self.length - self._pos)
        if want <= 0:
            return b''
        data = os.pread(self.kernel_fd, want, self.kernel_offset + self._pos)
        self._pos += len(data)
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        want = min(len(buf), self.length - self._pos)
        if want <= 0:
            return 0
        data = os.pread(self.kernel_fd, want, self.kernel_offset + self._pos)
        buf[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


class BoundedReader(io.RawIOBase):
    """At most ``size`` bytes of ``stream``; the stream ending before that is a FormatError naming ``what``."""

    def __init__(self, stream: IO[bytes] | io.RawIOBase, size: int, label: str, *, what: str):
        super().__init__()
        self._stream, self._left, self._label, self._what = stream, size, label, what

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if self._left <= 0:
            return 0
        data = self._stream.read(min(len(buffer), self._left))
        if not data:
            raise FormatError('%s is truncated (%d bytes missing)' % (self._what, self._left), path=self._label)
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)


class PrependReader(io.RawIOBase):
    """``raw`` with ``prefix`` put back in front (a reader sniffed the first bytes)."""

    def __init__(self, prefix: bytes, raw: IO[bytes] | io.RawIOBase):
        super().__init__()
        self._prefix, self._raw = prefix, raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class HashingReader(io.RawIOBase):
    """Pass-through reader that counts the bytes read and hashes them with each of ``algorithms``."""

    def __init__(self, raw: IO[bytes] | io.RawIOBase, algorithms: tuple[str, ...] = ('sha256',)):
        super().__init__()
        self._raw = raw
        self.hashes = {name: hashlib.new(name) for name in algorithms}
        self.length = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self._raw.read(len(buffer))
        for digest in self.hashes.values():
            digest.update(data)
        self.length += len(data)
        buffer[: len(data)] = data
        return len(data)
