# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compressions ESXi puts inside a payload's gzip layer: xz (base tardisks) and zstd (9.0 ``vzstd``).

ESXi's boot loader only undoes the outer gzip (esxi-semantics §7.1); what is inside is handled by the kernel, so a
reader of a ``vzstd`` payload sees gzip → zstd → vmtar and a re-compressed base tardisk gzip → xz → vmtar.
:func:`open_inner` wraps an already gunzipped stream in a streaming, limit-enforcing reader of the inner layer.

xz comes with Python (:mod:`lzma`). zstd comes from the standard library's :mod:`compression.zstd` (Python 3.14+),
else ``backports.zstd``, else ``zstandard`` (requirements.txt installs the latter below 3.14). Without one of
them only the operations that must decompress zstd fail, with :class:`MissingLibraryError` naming the package.
"""

from __future__ import annotations

import importlib
import io
import lzma
from typing import IO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError, MissingLibraryError
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import Limits, check_expansion

XZ_MAGIC = b'\xfd7zXZ\x00'
ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
ZSTD_PACKAGE = 'zstandard'
"""What to install when no zstd library is found (the one requirements.txt names)."""
# zstd frames may ask for a window of up to 2 GiB; ESXi's are 8 MiB (level 18). 128 MiB is zstd's own default cap.
_MAX_ZSTD_WINDOW_LOG = 27

_ZSTD_BACKENDS = ('compression.zstd', 'backports.zstd', 'zstandard')
_zstd_found: tuple[str, object] | None = None
_zstd_errors: list[str] = []


def _find_zstd() -> tuple[str, object] | None:
    global _zstd_found  # pylint: disable=global-statement
    if _zstd_found is None and not _zstd_errors:
        for name in _ZSTD_BACKENDS:
            try:
                _zstd_found = (name, importlib.import_module(name))
                break
            except ImportError as err:
                _zstd_errors.append('%s: %s' % (name, err))
    return _zstd_found


def zstd_backend() -> str | None:
    """The module that decompresses zstd here (``compression.zstd``, ``backports.zstd``, ``zstandard``), or None."""
    found = _find_zstd()
    return found[0] if found else None


def zstd_missing_reason() -> str:
    """The sentence an operation that needs zstd says when no library is there."""
    return 'reading zstd needs the Python package %s (pip install %s) or Python 3.14+' % (ZSTD_PACKAGE, ZSTD_PACKAGE)


def sniff_compression(head: bytes) -> str | None:
    """``'xz'``, ``'zstd'`` or None for the first bytes of a (gunzipped) stream."""
    if head.startswith(XZ_MAGIC):
        return 'xz'
    if head.startswith(ZSTD_MAGIC):
        return 'zstd'
    return None


def _zstd_reader(raw: IO[bytes] | io.RawIOBase, label: str):
    found = _find_zstd()
    if found is None:
        raise MissingLibraryError(zstd_missing_reason(), path=label)
    name, lib = found
    if name == 'zstandard':
        return _ZstandardReader(raw, lib), (lib.ZstdError, EOFError)
    options = {lib.DecompressionParameter.window_log_max: _MAX_ZSTD_WINDOW_LOG}
    return lib.ZstdFile(raw, 'rb', options=options), (lib.ZstdError, EOFError)


class _ZstandardReader:
    """``read(n)`` over zstandard's decompressobj, the one of its APIs that tells a truncated frame from a whole one.

    Input goes in small pieces because decompressobj has no output cap: a zstd block can expand 32768 times, so
    2 KiB in is at most 64 MiB out before the ratio check sees it.
    """

    _FEED = 2048

    def __init__(self, raw, lib):
        self._raw = raw
        self._lib = lib
        self._dec = self._new()
        self._pending = memoryview(b'')
        self._input = memoryview(b'')  # views, so that taking a piece copies nothing
        self._done = False
        self._frame_started = False

    def _new(self):
        return self._lib.ZstdDecompressor(max_window_size=1 << _MAX_ZSTD_WINDOW_LOG).decompressobj()

    def read(self, size: int) -> bytes:
        while not self._pending and not self._done:
            if self._dec.eof:
                # another frame may follow (zero padding after the last one is ignored)
                self._input = memoryview(self._dec.unused_data + bytes(self._input))
                self._dec = self._new()
                self._frame_started = False
            if not self._input:
                self._input = memoryview(self._raw.read(1 << 20))
                if not self._input:
                    if self._frame_started:
                        raise EOFError('the zstd frame ends before its last block')
                    self._done = True
                    break
            if not self._frame_started:
                self._input = memoryview(bytes(self._input).lstrip(b'\x00'))
                if not self._input:
                    continue
                self._frame_started = True
            piece, self._input = self._input[: self._FEED], self._input[self._FEED :]
            self._pending = memoryview(self._dec.decompress(piece))
        out, self._pending = self._pending[:size], self._pending[size:]
        return bytes(out)

    def close(self) -> None:
        self._pending = memoryview(b'')


class InnerReader(io.RawIOBase):
    """Forward-only reader of the xz or zstd stream in ``raw``, stopped by :class:`Limits` like the gzip reader."""

    def __init__(self, raw: IO[bytes] | io.RawIOBase, kind: str, *, limits: Limits, label: str, compressed_size: int | None = None):
        super().__init__()
        self._counter = _Counting(raw)
        self._kind = kind
        self._limits = limits
        self._label = label
        self._compressed_size = compressed_size
        if kind == 'xz':
            self._dec = lzma.LZMAFile(self._counter, 'rb')
            self._errors = (lzma.LZMAError, EOFError)
        elif kind == 'zstd':
            self._dec, self._errors = _zstd_reader(self._counter, label)
        else:
            raise ValueError('no inner decompressor for %r' % kind)
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        try:
            data = self._dec.read(len(buffer))
        except self._errors as err:
            raise FormatError('corrupt or truncated %s data (%s)' % (self._kind, err), path=self._label) from None
        self.produced += len(data)
        check_expansion(self.produced, self._compressed_size or self._counter.consumed, self._limits, label=self._label)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed and getattr(self, '_dec', None) is not None:  # __init__ may have failed (no zstd library)
            self._dec.close()
        super().close()


class _Counting(io.RawIOBase):
    """Counts what the decompressor pulls, for the ratio check when the compressed size is not known."""

    def __init__(self, raw: IO[bytes] | io.RawIOBase):
        super().__init__()
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self._raw.read(len(buffer))
        self.consumed += len(data)
        buffer[: len(data)] = data
        return len(data)


def open_inner(stream: IO[bytes], kind: str, *, limits: Limits, label: str, compressed_size: int | None = None) -> io.BufferedReader:
    """A buffered reader of the decompressed ``kind`` ('xz' or 'zstd') stream read from ``stream``."""
    return io.BufferedReader(InnerReader(stream, kind, limits=limits, label=label, compressed_size=compressed_size), buffer_size=1 << 20)
