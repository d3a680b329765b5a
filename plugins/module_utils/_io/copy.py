# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one copy engine: byte ranges between descriptors in the kernel, with one fallback, and hash-while-copy.

:class:`Copier` uses ``os.copy_file_range`` (no user-space buffers) while the kernel agrees and falls back to a
1 MiB ``pread``/``pwrite`` loop on the errno values in :data:`NO_KERNEL_COPY` (another file system, an old
kernel, a platform without the call). :class:`FollowingHasher` hashes the output on a second thread right
behind the copy (hashlib releases the GIL, so both cores work). :func:`copy_range_hashed` is the two together.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from typing import Protocol

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import hash_range

COPY_CHUNK = 1 << 20
HASH_PIECE = 16 << 20
"""How much is copied before the hasher is told: small enough for it to follow closely."""
# errno values meaning "the kernel will not copy between these two files": fall back, never fail.
NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.EPERM}
if hasattr(errno, 'ENOTSUP'):
    NO_KERNEL_COPY.add(errno.ENOTSUP)


def _load_sync_file_range():
    """libc's sync_file_range (Linux) through ctypes, or None: Python's os module does not expose it."""
    if not os.uname().sysname == 'Linux':
        return None
    try:
        import ctypes

        func = ctypes.CDLL(None, use_errno=True).sync_file_range
        func.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
        func.restype = ctypes.c_int
        return func
    except (ImportError, OSError, AttributeError):
        return None


_SYNC_FILE_RANGE_WRITE = 2


class Writeback:
    """Starts disk writeback of each finished piece right away, so the final fsync has little left to wait for."""

    def __init__(self):
        self._func = _load_sync_file_range()

    def start(self, fd: int, offset: int, length: int) -> None:
        if self._func is not None and self._func(fd, offset, length, _SYNC_FILE_RANGE_WRITE) != 0:
            self._func = None  # unsupported here; fsync still makes the data durable


class Copier:
    """Copies byte ranges between fds; kernel-side while the kernel agrees, else through a buffer."""

    def __init__(self, allow_kernel: bool = True):
        self.writeback = Writeback()
        self.kernel = allow_kernel and hasattr(os, 'copy_file_range')
        self.kernel_bytes = 0
        self.buffered_bytes = 0

    def copy(self, sfd: int, dfd: int, length: int, *, src_offset: int, dest_offset: int, label: str | None = None) -> None:
        """Copy ``length`` bytes at ``src_offset`` of ``sfd`` to ``dest_offset`` of ``dfd``; a short source is a FormatError."""
        soff, doff = src_offset, dest_offset
        done = 0
        while self.kernel and done < length:
            try:
                n = os.copy_file_range(sfd, dfd, length - done, soff + done, doff + done)
            except OSError as err:
                if err.errno in NO_KERNEL_COPY:
                    self.kernel = False
                    break
                raise
            if n == 0:
                raise FormatError('ends before byte %d (truncated?)' % (soff + length), path=label)
            done += n
            self.kernel_bytes += n
        while done < length:
            data = os.pread(sfd, min(COPY_CHUNK, length - done), soff + done)
            if not data:
                raise FormatError('ends before byte %d (truncated?)' % (soff + length), path=label)
            written = 0
            while written < len(data):
                written += os.pwrite(dfd, data[written:], doff + done + written)
            done += len(data)
            self.buffered_bytes += len(data)

    @property
    def method(self) -> str:
        if self.kernel_bytes and not self.buffered_bytes:
            return 'copy_file_range'
        if self.kernel_bytes:
            return 'copy_file_range+buffered'
        return 'buffered'


class Sink(Protocol):
    """What a :class:`FollowingHasher` feeds: a hashlib object, or a payload's check."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        """Take the next bytes."""


class FollowingHasher:
    """Hashes the output on a second thread while it is being written.

    A writer reports each byte range it has finished (flushed to the OS and final); the hasher reads it from the
    page cache right behind the copy instead of in a second pass. ``fd`` is the hasher's own descriptor of the
    output (it closes it). ``start`` is where the hashed range begins (a member inside a larger output, e.g. a tar).
    ``sink`` (anything with ``update``, e.g. a payload's check) takes the bytes instead of the hasher's own sha256;
    ``holes`` (the default) reads a finished range past the end of the file as zeros, else it is a FormatError.
    """

    def __init__(self, fd: int, *, start: int = 0, sink: Sink | None = None, holes: bool = True):
        self.fd = fd
        self._start = start
        self._done = {}
        self._limit = None
        self._cond = threading.Condition()
        self._own = sink is None
        self._digest = hashlib.sha256() if sink is None else sink
        self._holes = holes
        self._error = None
        self._thread = threading.Thread(target=self._run, name='esxi-customizer-sha256', daemon=True)
        self._thread.start()

    def finished(self, start: int, end: int) -> None:
        with self._cond:
            self._done[start] = max(end, self._done.get(start, end))
            self._cond.notify()

    def close(self, size: int) -> str | None:
        """Everything below ``size`` is final; return the hex digest (None with a ``sink``), or raise what it hit."""
        with self._cond:
            self._limit = size
            self._cond.notify()
        self._thread.join()
        self._close_fd()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest() if self._own else None

    def abort(self) -> None:
        """Stop (idempotent; also after :meth:`close`)."""
        with self._cond:
            if self._limit is None:
                self._limit = -1
            self._cond.notify()
        self._thread.join()
        self._close_fd()

    def _close_fd(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _next_range(self, pos):
        """(end, last): hash up to ``end``; ``last`` when nothing will follow."""
        with self._cond:
            while True:
                end = self._done.pop(pos, None)
                if end is not None:
                    return end, False
                if self._limit is not None:
                    return max(self._limit, pos), True
                self._cond.wait()

    def _run(self):
        pos = self._start
        try:
            last = False
            while not last:
                end, last = self._next_range(pos)
                if end > pos:
                    hash_range(self.fd, self._digest, start=pos, end=end, holes=self._holes)
                pos = max(pos, end)
        except (OSError, EsxiCustomizerError) as err:  # a check's own refusal too, handed over by close()
            self._error = err


def copy_range_hashed(sfd: int, dfd: int, length: int, *, src_offset: int, dest_offset: int = 0, label: str | None = None, copier: Copier | None = None) -> str:
    """Copy ``length`` bytes at ``src_offset`` of ``sfd`` to ``dest_offset`` of ``dfd`` (readable); return their sha256."""
    copier = copier or Copier()
    hasher = FollowingHasher(os.dup(dfd), start=dest_offset)
    try:
        for off in range(0, length, HASH_PIECE):
            n = min(HASH_PIECE, length - off)
            copier.copy(sfd, dfd, n, src_offset=src_offset + off, dest_offset=dest_offset + off, label=label)
            hasher.finished(dest_offset + off, dest_offset + off + n)
        return hasher.close(dest_offset + length)
    finally:
        hasher.abort()
