# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Unix ``ar`` container of a VIB (esxi-formats.md section 4.1), read as a stream.

Only the 60-byte headers are read; member data is located by offset and never loaded, so a caller
can hand a payload to a writer straight from the package file. Both VMware style names
(``descriptor.xml``) and GNU style names (``descriptor.xml/``, ESXi-CPT) are accepted, as are GNU
long names (``/<offset>`` into the ``//`` member) and BSD ``#1/<len>`` names; symbol tables (``/``,
``/SYM64/``, ``__.SYMDEF``) that ``ar s`` may add are skipped. Numeric header fields other than the
size are not interpreted: real VIBs carry values such as ``0o0`` there.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import DEFAULT_LIMITS, Limits
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import file_size

AR_MAGIC = b'!<arch>\n'
HEADER_SIZE = 60
_HEADER_END = b'`\n'
_BAD_NAME = re.compile(r'[\x00-\x1f\x7f/\\]')


@dataclass(frozen=True)
class ArMember:
    """One member: its name, where its data starts in the archive, and how long it is."""

    name: str
    offset: int
    size: int
    header_offset: int


_SYMBOL_TABLES = ('/', '/SYM64/', '__.SYMDEF', '__.SYMDEF SORTED')


def _gnu_long_name(text, long_names, label, *, header_offset):
    """Resolve a GNU ``/<offset>`` name against the ``//`` table (entries end with ``/\\n``)."""
    if long_names is None:
        raise FormatError(
            'ar member at offset %d refers to a GNU long name (%r) but the archive has no "//" name table before it' % (header_offset, text), path=label
        )
    start = int(text[1:])
    end = long_names.find(b'\n', start)
    if start >= len(long_names) or end < 0:
        raise FormatError('ar member at offset %d has a GNU long name offset %d outside the "//" name table' % (header_offset, start), path=label)
    try:
        return long_names[start:end].decode('ascii').rstrip('/')
    except UnicodeDecodeError:
        raise FormatError('ar member at offset %d has a non-ASCII long name' % header_offset, path=label) from None


def _member_name(raw_name, data_offset, size, *, fileobj, label, header_offset, long_names=None):
    """Decode a header name field; returns (name, data_offset, size) adjusted for BSD long names."""
    try:
        text = raw_name.decode('ascii').rstrip(' \x00')  # space padded; some hand-rolled writers pad with NULs
    except UnicodeDecodeError:
        raise FormatError('ar member at offset %d has a non-ASCII name' % header_offset, path=label) from None
    if text.startswith('#1/'):
        try:
            name_len = int(text[3:])
        except ValueError:
            raise FormatError('ar member at offset %d has a bad BSD name length %r' % (header_offset, text), path=label) from None
        if name_len > size or name_len > 4096:
            raise FormatError('ar member at offset %d has a BSD name longer than its data' % header_offset, path=label)
        fileobj.seek(data_offset)
        raw = fileobj.read(name_len)
        text = raw.rstrip(b'\x00').decode('ascii', 'replace')
        data_offset += name_len
        size -= name_len
    elif re.match(r'^/\d+$', text):
        text = _gnu_long_name(text, long_names, label, header_offset=header_offset)
    elif text.endswith('/'):
        text = text[:-1]
    if not text or text in ('.', '..') or _BAD_NAME.search(text):
        raise FormatError('ar member at offset %d has an invalid name %r' % (header_offset, text), path=label)
    return text, data_offset, size


def read_members(
    fileobj: IO[bytes] | io.RawIOBase, label: str | None = None, total_size: int | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> list[ArMember]:
    """List the members of the ar archive in ``fileobj`` (seekable; positions are absolute).

    Raises FormatError for a bad magic, a truncated header, a bad size field, a member whose data runs
    past the end of the file, or an invalid name.
    """
    if total_size is None:
        total_size = file_size(fileobj)
    fileobj.seek(0)
    magic = fileobj.read(len(AR_MAGIC))
    if magic != AR_MAGIC:
        raise FormatError('not a VIB: no ar archive signature ("!<arch>") at the start of the file', path=label)
    members = []
    long_names = None
    pos = len(AR_MAGIC)
    while pos < total_size:
        fileobj.seek(pos)
        header = fileobj.read(HEADER_SIZE)
        if len(header) == 1 and header == b'\n':
            break  # final padding byte some writers leave after an odd-sized last member
        if len(header) < HEADER_SIZE:
            raise FormatError('ar archive is truncated: incomplete member header at offset %d' % pos, path=label)
        if header[58:60] != _HEADER_END:
            raise FormatError('ar member header at offset %d is corrupt (bad terminator)' % pos, path=label)
        size_field = header[48:58].strip(b' \x00')
        if not size_field.isdigit():
            raise FormatError('ar member header at offset %d has a bad size field %r' % (pos, size_field.decode('latin-1')), path=label)
        size = int(size_field)
        data_offset = pos + HEADER_SIZE
        if data_offset + size > total_size:
            raise FormatError(
                'ar member at offset %d claims %d bytes but the file ends after %d; the archive is truncated' % (pos, size, total_size - data_offset),
                path=label,
            )
        pos_next = data_offset + size + (size & 1)
        raw_name = header[:16].rstrip(b' \x00')
        if raw_name.decode('latin-1') in _SYMBOL_TABLES:
            pos = pos_next  # GNU/BSD symbol index written by "ar s": not a VIB member
            continue
        if raw_name == b'//':
            if size > limits.max_metadata_size:
                raise FormatError('ar long-name table at offset %d is larger than %d bytes' % (pos, limits.max_metadata_size), path=label)
            fileobj.seek(data_offset)
            long_names = fileobj.read(size)
            pos = pos_next
            continue
        name, start, length = _member_name(header[:16], data_offset, size, fileobj=fileobj, label=label, header_offset=pos, long_names=long_names)
        members.append(ArMember(name, start, length, pos))
        if len(members) > limits.max_members:
            raise FormatError('ar archive has more than %d members (max_members)' % limits.max_members, path=label)
        pos = pos_next
    return members


def member_header(name: str, size: int) -> bytes:
    """The 60-byte header :func:`write_archive` writes before a member (VMware style: zero mtime/uid/gid/mode)."""
    encoded = name.encode('ascii')
    if not encoded or len(encoded) > 16 or _BAD_NAME.search(name):
        raise ValueError('invalid ar member name %r' % name)
    return b'%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (encoded, 0, 0, 0, b'0', size)


def write_archive(out: IO[bytes], members: Iterable[tuple[str, bytes | bytearray] | tuple[str, IO[bytes] | io.RawIOBase, int]]) -> None:
    """Write an ar archive (VMware style: zero mtime/uid/gid/mode) to the binary stream ``out``.

    ``members`` is an iterable of (name, data) where data is bytes or a readable binary stream;
    for a stream, give (name, stream, size). Names longer than 16 characters are refused, as VIB
    member names are payload names (at most 15).
    """
    out.write(AR_MAGIC)
    for item in members:
        name, data = item[0], item[1]
        if isinstance(data, (bytes, bytearray)):
            size = len(data)
            stream = io.BytesIO(data)
        else:
            size = item[2]
            stream = data
        out.write(member_header(name, size))
        left = size
        while left:
            chunk = stream.read(min(left, 1024 * 1024))
            if not chunk:
                raise ValueError('member %s: stream ended %d bytes early' % (name, left))
            out.write(chunk)
            left -= len(chunk)
        if size & 1:
            out.write(b'\n')
