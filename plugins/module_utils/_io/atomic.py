# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way anything is put in place: temp file beside the target → fsync → rename → fsync the directory.

A reader (a TFTP client, the installer, a second run of ours) sees the old file or the new one, never a
partial one, and after a crash either of them survives, never an empty or half-written file. Every writer of
the collection (ISO, disk image, PXE tree, manifests, caches) goes through :class:`AtomicFile`; nothing else
renames into place.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

TEMP_SUFFIX = '.tmp'


def fsync_dir(path: str | None = None, *, dir_fd: int | None = None) -> None:
    """Make a rename in a directory durable; file systems that cannot fsync a directory are let be."""
    fd = dir_fd
    try:
        if fd is None:
            fd = os.open(path, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        if dir_fd is None:
            os.close(fd)


def default_mode() -> int:
    """0666 filtered by the process umask: what ``open(..., 'w')`` would create."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class AtomicFile:
    """A new version of ``name`` in the directory ``dir_fd`` (or of the path ``dest``), written to a temp file.

    Use as a context manager: write through :attr:`fd` (or :meth:`open`), then :meth:`commit`; leaving the block
    without committing (an exception, a signal turned into one) removes the temp file. ``mode`` None is
    :func:`default_mode`. The temp name is ``.<name>.<random>.tmp`` beside the target.
    """

    def __init__(self, dest: str | None = None, *, dir_fd: int | None = None, name: str | None = None, mode: int | None = None):
        if (dest is None) == (dir_fd is None):
            raise ValueError('give dest, or dir_fd and name')
        self.mode = default_mode() if mode is None else mode
        self._own_dir = dir_fd is None
        if dest is not None:
            self.directory = os.path.dirname(os.path.abspath(dest))
            name = os.path.basename(dest)
            dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        else:
            self.directory = None
        self.dir_fd = dir_fd
        self.name = name
        self.tmp_name = '.%s.%s%s' % (name[:200], os.urandom(4).hex(), TEMP_SUFFIX)
        try:
            self.fd = os.open(self.tmp_name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
        except BaseException:
            self._close_dir()
            raise
        self._done = False

    @property
    def tmp_path(self) -> str:
        """The temp file's path, for external tools that write into it (path-based targets only)."""
        return os.path.join(self.directory, self.tmp_name)

    def open(self, buffering: int = -1) -> BinaryIO:
        """A binary file object on the temp file (it does not close :attr:`fd`)."""
        return os.fdopen(self.fd, 'r+b', buffering=buffering, closefd=False)

    def commit(self, *, sync_dir: bool = True, durable: bool = True) -> os.stat_result:
        """fsync, set the mode, rename over the target, fsync the directory; return the target's stat.

        ``sync_dir`` False leaves the directory fsync to a caller that renames many files into one directory;
        ``durable`` False skips both fsyncs (rebuildable caches only).
        """
        if durable:
            os.fsync(self.fd)
        os.fchmod(self.fd, self.mode)
        os.close(self.fd)
        self.fd = None
        os.rename(self.tmp_name, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        self._done = True
        if durable and sync_dir:
            fsync_dir(dir_fd=self.dir_fd)
        return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)

    def target_is_regular_or_absent(self) -> bool:
        """False when the target is a symlink, directory or device (nothing we may rename over)."""
        try:
            st = os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return True
        return stat.S_ISREG(st.st_mode)

    def abort(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if not self._done:
            self._done = True
            try:
                os.unlink(self.tmp_name, dir_fd=self.dir_fd)
            except OSError:
                pass

    def _close_dir(self) -> None:
        if self._own_dir and self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, *exc) -> None:
        self.abort()
        self._close_dir()


def write_bytes_atomic(dest: str, data: bytes, *, mode: int | None = None, durable: bool = True) -> None:
    """Small contents (a manifest, a cache entry) put in place atomically."""
    with AtomicFile(dest, mode=mode) as out:
        view = memoryview(data)
        while view:
            view = view[os.write(out.fd, view) :]
        out.commit(durable=durable)
