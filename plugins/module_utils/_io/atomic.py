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
import re
import signal
import stat
import threading
from typing import BinaryIO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError

TEMP_SUFFIX = '.tmp'
TEMP_MARK = 'esxicust'
# .<target name>.esxicust-<writer pid>-<random>.tmp: recognisably ours, and says whether its writer still runs
_TEMP_RE = re.compile(r'^\.(?P<name>.+)\.%s-(?P<pid>\d+)-[0-9a-f]{8}%s$' % (TEMP_MARK, re.escape(TEMP_SUFFIX)), re.S)


class Interrupted(EsxiCustomizerError):
    """The process was asked to stop (SIGTERM): raised where it was, so every temp file is removed on the way out."""


def _on_sigterm(signum, frame):
    raise Interrupted('stopped by SIGTERM; nothing was put in place and the temporary files were removed')


def stop_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into :class:`Interrupted` (as SIGINT is KeyboardInterrupt), so that clean-up runs; main thread only."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main interpreter, or no signals here
        pass


def _writer_gone(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, under another user
    return False


def _temp_stem(name: str) -> str:
    # no '@': external tools read 'file@@offset' as an offset into file (mtools)
    return name[:200].replace('@', '_')


def sweep_stale(dir_fd: int, name: str | None = None) -> list[str]:
    """Remove temp files of ours (for target ``name``, or any) that a writer which no longer runs left behind (kill -9).

    Only names of our own pattern whose writer process is gone are touched; returns the names removed.
    """
    removed = []
    try:
        entries = os.listdir(dir_fd)
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_RE.match(entry)
        if not match or (name is not None and match.group('name') != _temp_stem(name)) or not _writer_gone(int(match.group('pid'))):
            continue
        try:
            if stat.S_ISREG(os.stat(entry, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                os.unlink(entry, dir_fd=dir_fd)
                removed.append(entry)
        except OSError:
            pass
    return removed


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


def parse_mode(value: object, *, option: str = 'mode') -> int | None:
    """``0640``, ``'0640'``, ``'640'`` or ``'0o640'`` -> 0o640; None stays None (then the umask decides)."""
    if value is None or value == '':
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip().lower()
        text = text[2:] if text.startswith('0o') else text
        if not re.match(r'^[0-7]{1,4}$', text):
            raise EsxiCustomizerError('%s %r must be an octal file mode such as 0640 (quote it in YAML: "0640")' % (option, value))
        number = int(text, 8)
    if not 0 <= number <= 0o7777:
        raise EsxiCustomizerError('%s %r is not a file mode' % (option, value))
    return number


def apply_mode(path: str, mode: int | None, *, check_mode: bool = False) -> bool:
    """Give an existing output ``mode`` (an up-to-date file is not rewritten for it); True when it changed."""
    if mode is None or stat.S_IMODE(os.stat(path).st_mode) == mode:
        return False
    if not check_mode:
        os.chmod(path, mode)
    return True


def default_mode() -> int:
    """0666 filtered by the process umask: what ``open(..., 'w')`` would create."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


RELEASE_LATER_SIZE = 16 << 20
"""A replaced file at least this large is let go of on a thread of its own (see :func:`_hold_large_target`)."""


def _hold_large_target(dir_fd: int, name: str) -> int | None:
    """A descriptor of the large regular file ``name`` about to be replaced, or None.

    The rename that replaces a file drops its last name; the file system then frees its pages and blocks inside the
    rename (0.07-0.09 s for 400 MiB on ext4, measured), while the caller waits. Holding a descriptor across the rename
    moves that work to the descriptor's close, which :func:`_release_later` does off the caller's path. Nothing about
    the new file's durability changes; the old bytes are gone from every name either way.
    """
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode) or st.st_size < RELEASE_LATER_SIZE:
            return None
        return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0), dir_fd=dir_fd)
    except OSError:
        return None  # gone, or not ours to read: the rename frees it as before


def _release_later(fd: int | None) -> None:
    if fd is not None:
        # a daemon thread: a process that exits first has the kernel close it, as it would any descriptor
        threading.Thread(target=os.close, args=(fd,), name='esxi-customizer-release', daemon=True).start()


class AtomicFile:
    """A new version of ``name`` in the directory ``dir_fd`` (or of the path ``dest``), written to a temp file.

    Use as a context manager: write through :attr:`fd` (or :meth:`open`), then :meth:`commit`; leaving the block
    without committing (an exception, a signal turned into one) removes the temp file. ``mode`` None is
    :func:`default_mode`. The temp name is ``.<name>.esxicust-<pid>-<random>.tmp`` beside the target; one left behind
    by a writer that was killed is removed by the next writer of the same target (``sweep``; a writer of many files
    into one directory sweeps it once itself).
    """

    def __init__(self, dest: str | None = None, *, dir_fd: int | None = None, name: str | None = None, mode: int | None = None, sweep: bool = True):
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
        self.tmp_name = '.%s.%s-%d-%s%s' % (_temp_stem(name), TEMP_MARK, os.getpid(), os.urandom(4).hex(), TEMP_SUFFIX)
        stop_cleanly_on_sigterm()
        try:
            self.swept = sweep_stale(dir_fd, name) if sweep else []
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
        replaced = _hold_large_target(self.dir_fd, self.name)
        try:
            os.rename(self.tmp_name, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
            self._done = True
            if durable and sync_dir:
                fsync_dir(dir_fd=self.dir_fd)
        finally:
            _release_later(replaced)
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
