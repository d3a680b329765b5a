# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming, atomic and reproducible ISO writer on top of pycdlib.

pycdlib lays the new image out (volume descriptors, directory records, El Torito catalog and the
recomputed boot-info-table); this module changes only how file data gets into the output:

* unchanged file extents are copied from the source ISO by the kernel (``os.copy_file_range``) at
  their offsets, and new files that are slices of a package file (a VIB's payload member) the same
  way, so payload bytes never pass through Python buffers; when the kernel cannot do it (another
  file system, an old kernel, a platform without the call) a 1 MiB ``pread``/``pwrite`` loop does;
* every clock pycdlib would read is pinned to one instant taken from the source ISO (or given by the
  caller), in UTC, so the same inputs give byte-identical output;
* the image is written to a unique temporary file beside the destination, flushed and fsync'ed,
  renamed over the destination and the directory fsync'ed; on any failure the temporary file is
  removed and the source and any earlier destination are untouched.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import threading
import time as _time
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, BinaryIO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import (
    EsxiCustomizerError,
    FormatError,
)
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import AtomicFile
from ansible_collections.esxi.customizer.plugins.module_utils._io.copy import COPY_CHUNK, HASH_PIECE, Copier, FollowingHasher
from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import remember_sha256
from ansible_collections.esxi.customizer.plugins.module_utils._image.edits import IsoEdits, check_root_name, normalize_volume_id
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import PyCdlib, pvd_epoch
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import FileSlice

if TYPE_CHECKING:  # only for the annotations: the writer does not depend on the depot renderer
    from ansible_collections.esxi.customizer.plugins.module_utils._image.depot_source import BaseLayout

try:
    import pycdlib
    from pycdlib import pycdlibexception

    PYCDLIB_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test only
    pycdlib = None
    pycdlibexception = None
    PYCDLIB_IMPORT_ERROR = exc

SECTOR = 2048


class WriteResult:
    def __init__(self, path: str, size: int, sha256: str | None, *, copy_method: str):
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.copy_method = copy_method


def require_pycdlib() -> None:
    if pycdlib is None:
        raise EsxiCustomizerError('the Python library pycdlib (>= 1.15) is required: %s' % PYCDLIB_IMPORT_ERROR)


def iso_record_path(path: str) -> str:
    """``/boot.cfg`` or ``/BOOT.CFG;1`` -> ``/BOOT.CFG;1`` (the form pycdlib wants)."""
    path = '/' + path.strip('/')
    if ';' not in path:
        path += ';1'
    return path.upper()


def existing_record_path(iso: _StreamingPyCdlib, path: str) -> str:
    """The ISO9660 record path of an existing file as pycdlib finds it.

    ``path`` as given first (the exact record name the reader saw), then the ``/NAME.EXT;1`` form:
    images mastered without version numbers (``mkisofs -N``) have records like ``/BOOT.CFG``.
    """
    candidates = [path, iso_record_path(path), path.split(';')[0]]
    for candidate in dict.fromkeys(candidates):
        try:
            iso.get_record(iso_path=candidate)
        except pycdlibexception.PyCdlibException:
            continue
        return candidate
    raise EsxiCustomizerError('has no file %s to replace or remove' % path, path=iso.source_name)


# --- pinned clock ---------------------------------------------------------------------------


class _PinnedClock:
    """Stands in for the ``time`` module inside pycdlib: one instant, always UTC."""

    def __init__(self, epoch):
        self._epoch = float(epoch)

    def time(self):
        return self._epoch

    def localtime(self, secs=None):
        return _time.gmtime(self._epoch if secs is None else secs)

    def __getattr__(self, name):
        return getattr(_time, name)


_CLOCK_LOCK = threading.Lock()


@contextlib.contextmanager
def pinned_clock(epoch: float) -> Iterator[_PinnedClock]:
    """Make every pycdlib module read ``epoch`` as now and UTC as the local zone, then restore."""
    import pycdlib.dates
    import pycdlib.headervd
    import pycdlib.pycdlib
    import pycdlib.udf

    modules = [pycdlib.pycdlib, pycdlib.headervd, pycdlib.dates, pycdlib.udf]
    clock = _PinnedClock(epoch)
    with _CLOCK_LOCK:
        saved = [(m, m.time) for m in modules]
        try:
            for m in modules:
                m.time = clock
            yield clock
        finally:
            for m, t in saved:
                m.time = t


def volume_epoch(iso: pycdlib.PyCdlib) -> int | None:
    """The source's volume creation (else modification) time as a Unix time, or None when unset."""
    return pvd_epoch(iso.pvd)


# --- copying ----------------------------------------------------------------------------------


class _StreamingPyCdlib(PyCdlib):
    """pycdlib with a data-copy step that copies extents kernel-side (see module docstring)."""

    copier = None
    hasher = None
    source_name = None
    _metadata_done = False

    def _output_file_data(self, outfp, blocksize, ino):
        bsize = self.logical_block_size
        start = ino.extent_location() * bsize
        length = ino.data_length
        pad = (-length) % bsize
        if not self._metadata_done:
            # Volume descriptors, path tables, directory records and the boot catalog are all written
            # before any file data, and nothing after them lands outside a file extent: every byte
            # between file extents (metadata, or sectors freed by a removed or replaced file, which
            # stay zero) is final now. Reporting those gaps keeps the hasher from stalling at the
            # first freed sector until the image is complete.
            outfp.flush()
            for gap_start, gap_end in _gaps(self.inodes, bsize):
                self._mark_finished(gap_start, gap_end)
            self._metadata_done = True
        fd_off = self._kernel_source(ino)
        if fd_off is None or self.copier is None:
            # Small generated contents: pycdlib's own loop (it also patches a boot-info-table).
            yield from super()._output_file_data(outfp, blocksize, ino)
        else:
            sfd, soff, name = fd_off
            outfp.flush()
            check = self._payload_check(ino)
            # A kernel copy keeps the bytes out of Python: the check reads them back from the output (page cache),
            # on a thread of its own right behind the copy, so the copy never waits for the hashing. What is checked
            # is what the ISO holds, before pycdlib writes a boot-info table into ISOLINUX.BIN (after the copy).
            follower = FollowingHasher(os.dup(outfp.fileno()), start=start, sink=check, holes=False) if check is not None else None
            try:
                # Copy in pieces and report each, so the hasher follows a large payload closely.
                piece_start = start
                for off in range(0, length, HASH_PIECE):
                    n = min(HASH_PIECE, length - off)
                    self.copier.copy(sfd, outfp.fileno(), n, src_offset=soff + off, dest_offset=start + off, label=name)
                    if follower is not None:
                        follower.finished(start + off, start + off + n)
                    self.copier.writeback.start(outfp.fileno(), start + off, n)
                    if ino.boot_info_table is None and off + n < length:
                        self._mark_finished(piece_start, start + off + n)
                        piece_start = start + off + n
                if follower is not None:
                    follower.close(start + length)
                    check.finish()
            except BaseException:
                if follower is not None:
                    follower.abort()
                    check.abort()
                raise
            start_unreported = piece_start
            outfp.seek(start + length)
            if pad:
                outfp.write(b'\x00' * pad)
            if ino.boot_info_table is not None:
                # isolinux needs bytes 8..63 to describe where it sits on *this* image.
                outfp.seek(start + 8)
                outfp.write(ino.boot_info_table.record())
                outfp.seek(start + length + pad)
            yield length + pad
        outfp.flush()
        self._mark_finished(start if fd_off is None or self.copier is None else start_unreported, start + length + pad)

    def _write_fp(self, *args, **kwargs):
        # pycdlib writes file data in inode order, and files added by the edits come last even when their
        # extents sit before the big payloads; the hasher can only follow in offset order, so it would wait
        # for them and hash the whole image after the copy. The layout is final here, and each inode's
        # bytes go to its own extent, so the order changes when bytes are written, never which.
        if self._needs_reshuffle:
            self._reshuffle_extents()  # what _write_fp would do first; it clears the flag
        # (Empty files have no extent and are not written.)
        self.inodes.sort(key=lambda ino: ino.extent_location() if ino.data_length else -1)
        return super()._write_fp(*args, **kwargs)

    # pycdlib silently shortens a file whose extent runs past the end of the image; keep the
    # declared lengths while walking the directories so _check_source_extents can refuse it.
    _declared_sizes = False

    def _walk_directories(self, *args, **kwargs):
        self._declared_sizes = True
        try:
            return super()._walk_directories(*args, **kwargs)
        finally:
            self._declared_sizes = False

    def _get_iso_size(self):
        if self._declared_sizes:
            return 1 << 62
        return super()._get_iso_size()

    def _mark_finished(self, start, end):
        if self.hasher is not None and end > start:
            self.hasher.finished(start, end)

    @staticmethod
    def _payload_check(ino):
        """The check of a depot payload copied whole (:class:`~.edits.FileSliceContent` with ``check``), else None."""
        fp = ino.data_fp
        factory = getattr(fp, 'check', None) if isinstance(fp, FileSlice) else None
        if factory is None or ino.fp_offset or ino.data_length != fp.length:
            return None
        return factory()

    def _kernel_source(self, ino):
        if ino.manage_fp:
            return None
        fp = ino.data_fp
        if ino.original_data_location == ino.DATA_ON_ORIGINAL_ISO:
            try:
                return fp.fileno(), ino.orig_extent_loc * self.logical_block_size, self.source_name
            except (AttributeError, io.UnsupportedOperation, ValueError):
                return None
        if isinstance(fp, FileSlice):
            return fp.kernel_fd, fp.kernel_offset + ino.fp_offset, fp.path
        return None


def _gaps(inodes, bsize: int) -> Iterator[tuple[int, int]]:
    """The byte ranges below the last file extent that no file extent (padded to ``bsize``) covers."""
    extents = sorted((i.extent_location() * bsize, i.extent_location() * bsize + -(-i.data_length // bsize) * bsize) for i in inodes if i.data_length)
    pos = 0
    for ext_start, ext_end in extents:
        if ext_start > pos:
            yield pos, ext_start
        pos = max(pos, ext_end)


def open_iso(fp: BinaryIO, name: str) -> _StreamingPyCdlib:
    """Open an ISO from a binary file object with the streaming subclass; errors name ``name``."""
    require_pycdlib()
    iso = _StreamingPyCdlib()
    iso.source_name = name
    try:
        iso.open_fp(fp)
    except pycdlibexception.PyCdlibException as err:
        raise FormatError('not a readable ISO9660 image: %s' % err, path=name) from None
    return iso


def new_iso(base: BaseLayout, name: str, opened: list[IO[bytes] | io.RawIOBase]) -> _StreamingPyCdlib:
    """A new image holding a depot rendering's files (:class:`~.depot_source.BaseLayout`), with BIOS and UEFI
    El Torito entries and the boot catalog; call inside :func:`pinned_clock` (pycdlib dates the volume at once).

    Plain ISO 9660 like VMware's media (no Joliet, no Rock Ridge); interchange level 3, so that loader and upgrade
    files keep their natural names (``SAFEBOOT.C32``, ``FATBOOTSECTOR``); the 8.3 rule holds for boot modules.
    """
    require_pycdlib()
    iso = _StreamingPyCdlib()
    iso.source_name = name
    try:
        iso.new(interchange_level=3, sys_ident='', vol_ident=_volume_identifier(base.volume_id).decode('ascii').rstrip(), app_ident_str=base.application_id)
        directories = sorted({'/'.join(item.path.split('/')[:depth]) for item in base.files for depth in range(2, item.path.count('/') + 1)})
        for directory in directories:
            iso.add_directory(iso_path=directory)
        for item in base.files:
            fp = item.content.open()
            opened.append(fp)
            iso.add_fp(fp, item.content.length, iso_path=iso_record_path(item.path))
        for platform, boot_path in base.el_torito:
            if platform == 'bios':
                iso.add_eltorito(iso_record_path(boot_path), bootcatfile=iso_record_path(base.boot_catalog), boot_load_size=4, boot_info_table=True)
            else:
                iso.add_eltorito(iso_record_path(boot_path), bootcatfile=iso_record_path(base.boot_catalog), efi=True)
    except pycdlibexception.PyCdlibException as err:
        raise EsxiCustomizerError('cannot lay out the installer ISO of the depot: %s' % err, path=name) from None
    return iso


def _check_source_extents(iso, size, name):
    """A truncated source must fail before anything is written, not halfway through the copy."""
    bsize = iso.logical_block_size
    for ino in iso.inodes:
        if ino.original_data_location == ino.DATA_ON_ORIGINAL_ISO and ino.data_length:
            end = ino.orig_extent_loc * bsize + ino.data_length
            if end > size:
                raise FormatError('a file extent ends at byte %d but the image holds only %d bytes (truncated?)' % (end, size), path=name)


def _rock_ridge_mode(iso):
    for path in ('/BOOT.CFG;1', '/ISOLINUX.CFG;1'):
        try:
            rec = iso.get_record(iso_path=path)
        except pycdlibexception.PyCdlibException:
            continue
        if rec.rock_ridge is not None:
            try:
                return rec.rock_ridge.get_file_mode()
            except (pycdlibexception.PyCdlibException, AttributeError):
                pass
    return 0o100444


def apply_edits(iso: _StreamingPyCdlib, edits: IsoEdits, opened: list[IO[bytes] | io.RawIOBase]) -> None:
    """Apply ``edits`` to the open pycdlib object; ``opened`` collects file objects to close later."""
    try:
        for path in edits.remove:
            iso.rm_file(iso_path=existing_record_path(iso, path))
        for path, source in sorted(edits.replace.items()):
            fp = source.open()
            opened.append(fp)
            iso.update_file_contents_fp(fp, source.length, iso_path=existing_record_path(iso, path))
        joliet = iso.has_joliet()
        rock_ridge = iso.has_rock_ridge()
        mode = _rock_ridge_mode(iso) if rock_ridge else None
        for path, source in sorted(edits.add.items()):
            bare = check_root_name(path)
            fp = source.open()
            opened.append(fp)
            kwargs = {'iso_path': '/%s;1' % bare}
            if joliet:
                kwargs['joliet_path'] = '/' + bare.lower()
            if rock_ridge:
                kwargs['rr_name'] = bare.lower()
                kwargs['file_mode'] = mode
            iso.add_fp(fp, source.length, **kwargs)
        if edits.volume_id is not None:
            iso.pvd.volume_identifier = _volume_identifier(edits.volume_id)
            if iso.joliet_vd is not None:
                # Joliet readers (Windows) show the supplementary descriptor's id: UCS-2, 16 characters.
                from pycdlib import utils as pycdlib_utils

                iso.joliet_vd.volume_identifier = pycdlib_utils.encode_space_pad(edits.volume_id[:16].encode('ascii'), 32, 'utf-16_be')
    except pycdlibexception.PyCdlibException as err:
        raise EsxiCustomizerError('cannot apply the ISO edits: %s' % err, path=iso.source_name) from None


def _volume_identifier(volume_id):
    if normalize_volume_id(volume_id) != volume_id:
        raise EsxiCustomizerError('volume_id %r must be 1-32 characters A-Z 0-9 _ - . or space' % volume_id)
    return volume_id.encode('ascii').ljust(32, b' ')


# --- atomic output ----------------------------------------------------------------------------


def _write_failed(err, dest):
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return EsxiCustomizerError('no space left on the device while writing the new image; %s was left unchanged' % dest, path=os.path.dirname(dest))
    return EsxiCustomizerError('cannot write the new image (%s); %s was left unchanged' % (err.strerror or err, dest), path=err.filename or dest)


def write_iso(
    src: str,
    dest: str,
    edits: IsoEdits,
    *,
    epoch: int | None = None,
    checksum: bool = True,
    allow_kernel_copy: bool = True,
    progress: Callable[[int, int], object] | None = None,
    mode: int | None = None,
    base: BaseLayout | None = None,
) -> WriteResult:
    """Write ``src`` with ``edits`` applied to ``dest`` atomically; return a :class:`WriteResult`.

    ``epoch``: the instant every new timestamp gets (default: the source's volume creation date).
    ``base``: a depot rendering (:class:`~.depot_source.BaseLayout`) to start from instead of the ISO ``src``
    (then the depot; its payloads are copied from it).
    """
    require_pycdlib()
    src = os.path.abspath(src)
    dest = os.path.abspath(dest)
    if src == dest or (os.path.exists(dest) and os.path.samefile(src, dest)):
        raise EsxiCustomizerError('dest must differ from src (the source stays untouched)', path=dest)
    destdir = os.path.dirname(dest)
    if not os.path.isdir(destdir):
        raise EsxiCustomizerError('the directory for dest does not exist', path=destdir)
    try:
        srcf = open(src, 'rb')
    except OSError as err:
        raise EsxiCustomizerError('cannot open the source ISO: %s' % (err.strerror or err), path=src) from None
    opened = []
    try:
        iso = None
        if base is None:
            src_size = os.fstat(srcf.fileno()).st_size
            iso = open_iso(srcf, src)
            _check_source_extents(iso, src_size, src)
            if epoch is None:
                epoch = volume_epoch(iso)
        elif epoch is None:
            epoch = base.epoch
        if epoch is None:
            epoch = 0
        copier = Copier(allow_kernel=allow_kernel_copy)
        with pinned_clock(epoch), AtomicFile(dest, mode=mode) as tmp:
            if iso is None:
                iso = new_iso(base, src, opened)
            iso.copier = copier
            apply_edits(iso, edits, opened)
            with tmp.open(buffering=COPY_CHUNK) as out:
                iso.hasher = FollowingHasher(os.dup(tmp.fd)) if checksum else None
                try:
                    iso.write_fp(out, blocksize=COPY_CHUNK, progress_cb=progress)
                    out.flush()
                    size = out.seek(0, os.SEEK_END)
                    # fsync first: the hasher finishes reading from the page cache while the disk catches up
                    os.fsync(tmp.fd)
                    digest = iso.hasher.close(size) if checksum else None
                except pycdlibexception.PyCdlibException as err:
                    raise EsxiCustomizerError('cannot lay out the new image: %s' % err, path=src) from None
                finally:
                    if iso.hasher is not None:
                        iso.hasher.abort()
            tmp.commit()
        if digest is not None:
            remember_sha256(dest, digest)
        return WriteResult(dest, size, digest, copy_method=copier.method)
    except OSError as err:
        raise _write_failed(err, dest) from None
    finally:
        for fp in opened:
            with contextlib.suppress(Exception):
                fp.close()
        srcf.close()
