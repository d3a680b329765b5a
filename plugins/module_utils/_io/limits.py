# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Archive safety limits and the guarded streams that enforce them.

Every decompressing read in the package readers goes through :func:`gunzip_stream` or
:class:`CountingReader`, so a zip/gzip bomb is stopped after at most ``max_uncompressed_size`` bytes
instead of filling memory or disk. :class:`SliceReader` gives a seekable window on a larger stream,
which is how payload members are handed out without copying them.
"""

from __future__ import annotations

import io
import os
import zlib
from dataclasses import dataclass

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError, UnsafeArchiveError

MiB = 1024 * 1024
GiB = 1024 * MiB
COPY_CHUNK = 1024 * 1024


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


def check_expansion(produced, consumed, limits, label):
    """Raise UnsafeArchiveError when ``produced`` output bytes from ``consumed`` input bytes look like a bomb."""
    if produced > limits.max_uncompressed_size:
        raise UnsafeArchiveError('expands to more than %d bytes (max_uncompressed_size); refusing a possible '
                                 'decompression bomb' % limits.max_uncompressed_size, path=label)
    if produced > limits.ratio_floor and produced > limits.max_compression_ratio * max(consumed, 1):
        raise UnsafeArchiveError('compression ratio above %d:1 (max_compression_ratio); refusing a possible '
                                 'decompression bomb' % limits.max_compression_ratio, path=label)


class SliceReader(io.RawIOBase):
    """Read-only, seekable view of ``length`` bytes at ``start`` of ``base`` (which must support seek)."""

    def __init__(self, base, start, length, close_base=True):
        super().__init__()
        self._base = base
        self._start = start
        self._length = length
        self._pos = 0
        self._close_base = close_base

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._pos

    def seek(self, offset, whence=io.SEEK_SET):
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

    def readinto(self, buffer):
        want = min(len(buffer), self._length - self._pos)
        if want <= 0:
            return 0
        self._base.seek(self._start + self._pos)
        data = self._base.read(want)
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def read(self, size=-1):
        if size is None or size < 0:
            size = self._length - self._pos
        buf = bytearray(max(0, min(size, self._length - self._pos)))
        got = self.readinto(buf)
        return bytes(buf[:got])

    def close(self):
        if not self.closed and self._close_base:
            self._base.close()
        super().close()


class CountingReader(io.RawIOBase):
    """Forward-only reader over a zlib/gzip stream that enforces :class:`Limits` while it inflates.

    ``wbits`` 31 = gzip (concatenated members are followed, as gzip(1) does). Truncated or corrupt input
    raises FormatError naming ``label``.
    """

    def __init__(self, raw, limits, label, wbits=31, compressed_size=None):
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

    def readable(self):
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
            check_expansion(self.produced, self._compressed_size or self.consumed, self._limits, self._label)
            self._pending = memoryview(out)

    def readinto(self, buffer):
        self._fill()
        if not self._pending:
            return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]  # a view: no copy of the rest
        return n


def gunzip_stream(raw, limits, label, compressed_size=None):
    """A buffered, limit-enforcing gunzip reader over the binary stream ``raw``."""
    return io.BufferedReader(CountingReader(raw, limits, label, 31, compressed_size), buffer_size=COPY_CHUNK)


def read_capped(stream, cap, label, what):
    """Read a whole small document (XML, .map, .ids) but never more than ``cap`` bytes."""
    data = stream.read(cap + 1)
    if len(data) > cap:
        raise UnsafeArchiveError('%s is larger than %d bytes (max_metadata_size)' % (what, cap), path=label)
    return data


def safe_member_path(name, label, what='member', strip_root=False):
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


def file_size(fileobj):
    """Size of a seekable stream without moving its position."""
    try:
        return os.fstat(fileobj.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        pos = fileobj.tell()
        end = fileobj.seek(0, io.SEEK_END)
        fileobj.seek(pos)
        return end
