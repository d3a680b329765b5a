# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File list and contents of ``vgz`` (gzip → vmtar) and ``tgz`` (gzip → tar) payloads (section 6).

vmtar keeps all 512-byte headers first and the data later at each header's absolute ``offset``
(field at byte 496), so it is read in one forward pass: headers, then the data of the wanted files in
offset order. Plain tar is read with :mod:`tarfile` in stream mode. Neither is ever held in memory
whole: wanted files are handed to a callback as bounded streams (callers usually spool them to a
``SpooledTemporaryFile``). An inner stream that is xz or zstd (base tardisks, ESXi 9.0 ``vzstd``) is
decompressed on the way (:mod:`.._io.decompress`).
"""

from __future__ import annotations

import io
import struct
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError, UnsafeArchiveError, UnsupportedError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.tarstream import open_tar_stream
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import DEFAULT_LIMITS, Limits, safe_member_path
from ansible_collections.esxi.customizer.plugins.module_utils._io.decompress import open_inner, sniff_compression
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import BoundedReader, PrependReader, gunzip_stream

BLOCK = 512
VMTAR_MAGIC = b'visor '
_TYPES = {b'0': 'file', b'\x00': 'file', b'7': 'file', b'1': 'hardlink', b'2': 'symlink', b'3': 'chardev', b'4': 'blockdev', b'5': 'dir', b'6': 'fifo'}


@dataclass(frozen=True)
class TarEntry:
    name: str
    type: str  # file | dir | symlink | hardlink | chardev | blockdev | fifo
    size: int
    mode: int
    offset: int | None = None  # vmtar: absolute data offset in the uncompressed archive
    linkname: str = ''


def sniff_inner(head: bytes) -> str:
    """What a decompressed payload stream starts with: 'vmtar', 'tar', 'xz', 'zstd', 'gzip' or 'unknown'."""
    compression = sniff_compression(head)
    if compression:
        return compression
    if head[:2] == b'\x1f\x8b':
        return 'gzip'
    if len(head) >= 263 and head[257:263] == VMTAR_MAGIC:
        return 'vmtar'
    if len(head) >= 262 and head[257:262] == b'ustar':
        return 'tar'
    return 'unknown'


def _octal(field, label, what):
    text = field.split(b'\x00', 1)[0].strip(b' ')
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise FormatError('vmtar header of %s has a bad %s field %r' % (what, 'numeric', text), path=label) from None


_HIGH_BYTES = bytes(range(128, 256))


def _check_header_checksum(header, label, name):
    stored = _octal(header[148:156], label, name)
    blanked = header[:148] + b' ' * 8 + header[156:]
    unsigned = sum(blanked)
    if stored == unsigned:
        return
    # some tar writers sum signed chars: each byte >= 0x80 counts 256 less (counted in C, not per byte in Python)
    signed = unsigned - 256 * (len(blanked) - len(blanked.translate(None, _HIGH_BYTES)))
    if stored != signed:
        raise FormatError('vmtar header of %s has a bad checksum (corrupt payload)' % name, path=label)


def _check_entry(entry, label, limits):
    if entry.type in ('symlink', 'hardlink') and not limits.allow_links:
        raise UnsafeArchiveError('payload member %s is a %s (to %r); links are refused' % (entry.name, entry.type, entry.linkname), path=label)
    if entry.type in ('chardev', 'blockdev', 'fifo'):
        raise UnsafeArchiveError('payload member %s is a device or fifo, which a driver payload never contains' % entry.name, path=label)


def _read_vmtar_headers(stream, label, limits):
    """Headers up to the first zero block; returns (entries, bytes consumed)."""
    entries, pos = [], 0
    while True:
        header = stream.read(BLOCK)
        pos += len(header)
        if len(header) < BLOCK:
            raise FormatError('vmtar payload is truncated inside its header area', path=label)
        if header == b'\x00' * BLOCK:
            return entries, pos
        raw_name = header[:100].split(b'\x00', 1)[0]
        prefix = header[345:496].split(b'\x00', 1)[0]
        name = (prefix + b'/' + raw_name if prefix else raw_name).decode('utf-8', 'replace')
        if header[257:263] != VMTAR_MAGIC:
            raise FormatError('vmtar header of %s has an invalid magic (expected "visor ")' % name, path=label)
        _check_header_checksum(header, label, name)
        flag = header[156:157]
        if flag in (b'K', b'L'):
            raise UnsupportedError('vmtar payload uses GNU long names (%s); not supported' % name, path=label)
        etype = _TYPES.get(flag, 'other')
        if etype == 'other':
            raise FormatError('vmtar member %s has unknown type flag %r' % (name, flag), path=label)
        path = safe_member_path(name.rstrip('/'), label, 'payload member')
        entry = TarEntry(
            name=path,
            type=etype,
            size=_octal(header[124:136], label, name) if etype == 'file' else 0,
            mode=_octal(header[100:108], label, name),
            offset=struct.unpack('<I', header[496:500])[0],
            linkname=header[157:257].split(b'\x00', 1)[0].decode('utf-8', 'replace'),
        )
        _check_entry(entry, label, limits)
        entries.append(entry)
        if len(entries) > limits.max_members:
            raise FormatError('payload has more than %d members (max_members)' % limits.max_members, path=label)


def _scan_vmtar(stream, label, limits, *, want, consume):
    entries, pos = _read_vmtar_headers(stream, label, limits)
    wanted = sorted((e for e in entries if e.type == 'file' and want(e)), key=lambda e: e.offset)
    for entry in wanted:
        if entry.size == 0:
            consume(entry, io.BytesIO(b''))  # an empty file has no data, whatever offset its header gives
            continue
        if entry.offset < pos:
            raise FormatError(
                'vmtar member %s has data offset %d inside the header area or overlapping another member' % (entry.name, entry.offset), path=label
            )
        skipped = _skip(stream, entry.offset - pos)
        if skipped != entry.offset - pos:
            raise FormatError('vmtar member %s: data offset %d is past the end of the payload' % (entry.name, entry.offset), path=label)
        bounded = BoundedReader(stream, entry.size, label, what='payload member %s' % entry.name)
        consume(entry, io.BufferedReader(bounded))
        while bounded.read(1024 * 1024):
            pass  # whatever the consumer left unread, so that ``pos`` stays exact
        pos = entry.offset + entry.size
    return entries


def _skip(stream, count):
    left = count
    while left > 0:
        data = stream.read(min(left, 1024 * 1024))
        if not data:
            break
        left -= len(data)
    return count - left


def _scan_tar(stream, label, limits, *, want, consume):
    entries = []
    try:
        with open_tar_stream(stream, label=label) as tar:
            for member in tar:
                path = safe_member_path(member.name, label, 'payload member')
                if member.isreg():
                    etype = 'file'
                elif member.isdir():
                    etype = 'dir'
                elif member.issym():
                    etype = 'symlink'
                elif member.islnk():
                    etype = 'hardlink'
                elif member.ischr():
                    etype = 'chardev'
                elif member.isblk():
                    etype = 'blockdev'
                else:
                    etype = 'fifo'
                entry = TarEntry(name=path, type=etype, size=member.size if etype == 'file' else 0, mode=member.mode, linkname=member.linkname or '')
                _check_entry(entry, label, limits)
                entries.append(entry)
                if len(entries) > limits.max_members:
                    raise FormatError('payload has more than %d members (max_members)' % limits.max_members, path=label)
                if etype == 'file' and want(entry):
                    consume(entry, tar.extractfile(member))
    except tarfile.TarError as err:
        raise FormatError('payload is not a valid tar archive (%s)' % err, path=label) from None
    except EOFError:
        raise FormatError('payload tar archive is truncated', path=label) from None
    return entries


def scan_payload(
    raw: IO[bytes] | io.RawIOBase,
    payload_type: str,
    label: str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    want: Callable[[TarEntry], bool] | None = None,
    consume: Callable[[TarEntry, IO[bytes]], object] | None = None,
    compressed_size: int | None = None,
) -> list[TarEntry]:
    """Read a ``vgz``/``tgz`` payload from the binary stream ``raw`` (its member bytes, read forward once).

    Returns the list of TarEntry (files, dirs, ...). For each regular file with ``want(entry)`` true,
    ``consume(entry, stream)`` is called with a stream of exactly that file's bytes (valid only during
    the call). xz and zstd inside the gzip layer are undone too; other payload types raise UnsupportedError,
    a zstd payload without a zstd library MissingLibraryError.
    """
    if payload_type not in ('vgz', 'tgz', 'vzstd', 'installer_vgz'):
        raise UnsupportedError('payload type %s has no file list we can read (only vgz, tgz and vzstd)' % payload_type, path=label)
    want = want or (lambda entry: False)
    consume = consume or (lambda entry, stream: None)
    magic = raw.read(2)
    if magic != b'\x1f\x8b':
        raise FormatError('%s payload is not gzip-compressed' % payload_type, path=label)
    stream = gunzip_stream(PrependReader(magic, raw), limits, label, compressed_size=compressed_size)
    head = stream.peek(BLOCK)[:BLOCK]
    kind = sniff_inner(head)
    if kind in ('xz', 'zstd'):
        stream = open_inner(stream, kind, limits=limits, label=label, compressed_size=compressed_size)
        head = stream.peek(BLOCK)[:BLOCK]
        kind = sniff_inner(head)
        if kind not in ('vmtar', 'tar'):
            raise FormatError('%s payload holds no vmtar or tar archive inside its compressed layers (found %s data)' % (payload_type, kind), path=label)
    if kind == 'vmtar':
        return _scan_vmtar(stream, label, limits, want=want, consume=consume)
    if kind == 'tar':
        return _scan_tar(stream, label, limits, want=want, consume=consume)
    raise FormatError('%s payload does not contain a vmtar or tar archive (found %s data)' % (payload_type, kind), path=label)


def list_payload(
    raw: IO[bytes] | io.RawIOBase, payload_type: str, label: str, *, limits: Limits = DEFAULT_LIMITS, compressed_size: int | None = None
) -> list[TarEntry]:
    """Just the entries of a payload."""
    return scan_payload(raw, payload_type, label, limits=limits, compressed_size=compressed_size)


def read_payload_file(
    raw: IO[bytes] | io.RawIOBase, payload_type: str, path: str, *, label: str, limits: Limits = DEFAULT_LIMITS, max_size: int | None = None
) -> bytes:
    """The bytes of one (small) file inside a payload; KeyError when absent."""
    found = {}
    cap = max_size or limits.max_metadata_size

    def consume(entry, stream):
        data = stream.read(cap + 1)
        if len(data) > cap:
            raise UnsafeArchiveError('payload file %s is larger than %d bytes' % (entry.name, cap), path=label)
        found['data'] = data

    scan_payload(raw, payload_type, label, limits=limits, want=lambda e: e.name == path.strip('/'), consume=consume)
    if 'data' not in found:
        raise KeyError(path)
    return found['data']
