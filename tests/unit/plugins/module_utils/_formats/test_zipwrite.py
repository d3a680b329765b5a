# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ZipLayout writes what zipfile writes, byte for byte, and what it writes is read by zipfile, unzip and bsdtar."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
import zlib

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._formats import zipwrite
from ansible_collections.esxi.customizer.plugins.module_utils._formats.zipwrite import ZipLayout

DATE = (1980, 1, 1, 0, 0, 0)
WHOLE = [('index.xml', b'<vendorList/>\n' * 50, True), ('metadata.zip', os.urandom(3000), False), ('d\u00e9j\u00e0.txt', b'', True)]
STREAMED = [('vib20/a/a.vib', os.urandom(5001)), ('vib20/b/b.vib', b'x' * 64), ('empty.vib', b'')]


def _info(name):
    info = zipfile.ZipInfo(name, date_time=DATE)
    info.external_attr = 0o644 << 16
    info.create_system = 3
    return info


class _Unseekable(io.RawIOBase):
    """What zipfile sees as a pipe: it then writes every member with a data descriptor."""

    def __init__(self):
        super().__init__()
        self.raw = io.BytesIO()

    def writable(self):
        return True

    def write(self, data):
        return self.raw.write(data)

    def seekable(self):
        return False

    def tell(self):
        raise OSError('unseekable')


@pytest.fixture(params=[zipwrite.ZIP64_LIMIT, 1000], ids=['plain', 'zip64'])
def limit(request, monkeypatch):
    """zipfile's real threshold, or one so small that every size and offset past it takes the zip64 path."""
    monkeypatch.setattr(zipfile, 'ZIP64_LIMIT', request.param)
    return request.param


def test_whole_members_are_what_writestr_writes(limit):
    expected = io.BytesIO()
    with zipfile.ZipFile(expected, 'w') as archive:
        for name, data, compress in WHOLE:
            info = _info(name)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            archive.writestr(info, data, compresslevel=9 if name == 'index.xml' else None)
        archive.comment = b'{"tool": "test"}'
    layout = ZipLayout(date_time=DATE, zip64_limit=limit)
    got = b''.join(layout.member(name, data, compress=compress, level=9 if name == 'index.xml' else None) for name, data, compress in WHOLE)
    got += layout.finish(b'{"tool": "test"}')
    assert got == expected.getvalue() and layout.offset == len(got)
    if limit == 1000:
        assert b'PK\x06\x06' in got and b'PK\x06\x07' in got  # the end records went zip64 too


@pytest.mark.parametrize('force', [False, True])
def test_streamed_members_are_what_zipfile_writes_to_a_pipe(limit, force):
    if sys.version_info < (3, 11) and (force or limit == 1000):
        # zipfile before 3.11 writes "version needed 2.0" in the local header of a streamed zip64 entry; the writer
        # follows 3.11+ (4.5, what a zip64 extra field needs), the same bytes on every controller Python
        pytest.skip('zipfile < 3.11 writes version 2.0 for streamed zip64 entries')
    expected = _Unseekable()
    with zipfile.ZipFile(expected, 'w') as archive:
        for name, data in STREAMED:
            info = _info(name)
            info.file_size = len(data)
            with archive.open(info, 'w', force_zip64=force) as member:
                member.write(data)
    layout = ZipLayout(date_time=DATE, zip64_limit=limit)
    parts = []
    for name, data in STREAMED:
        parts += [layout.stream_header(name, len(data), force_zip64=force), data, layout.descriptor(zlib.crc32(data))]
    parts.append(layout.finish())
    got = b''.join(parts)
    assert got == expected.raw.getvalue() and layout.offset == len(got)


def _mixed(limit):
    layout = ZipLayout(date_time=DATE, zip64_limit=limit)
    parts = []
    for name, data in STREAMED:
        parts += [layout.stream_header(name, len(data)), data, layout.descriptor(zlib.crc32(data))]
    for name, data, compress in WHOLE:
        parts.append(layout.member(name, data, compress=compress))
    parts.append(layout.finish(b'comment'))
    return b''.join(parts)


def test_a_mixed_archive_reads_back(limit, tmp_path):
    path = tmp_path / 'mixed.zip'
    path.write_bytes(_mixed(limit))
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None and archive.comment == b'comment'
        assert {name: archive.read(name) for name, _data in STREAMED} == dict(STREAMED)
        assert [archive.read(name) for name, _data, _c in WHOLE] == [data for _n, data, _c in WHOLE]
        assert archive.getinfo(STREAMED[0][0]).flag_bits & 0x08 and not archive.getinfo('index.xml').flag_bits & 0x08
    if shutil.which('unzip'):
        done = subprocess.run(['unzip', '-tq', str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    if shutil.which('bsdtar'):
        listing = subprocess.run(['bsdtar', '-tvf', str(path)], capture_output=True, text=True, check=True).stdout
        assert ' 5001 ' in listing and 'vib20/a/a.vib' in listing
        assert subprocess.run(['bsdtar', '-xOf', str(path), 'vib20/a/a.vib'], capture_output=True, check=True).stdout == STREAMED[0][1]


def test_misuse_is_refused():
    layout = ZipLayout()
    with pytest.raises(ValueError, match='no streamed member'):
        layout.descriptor(0)
    layout.stream_header('a', 1)
    for call in (lambda: layout.member('b', b'', compress=False), lambda: layout.stream_header('b', 1), layout.finish):
        with pytest.raises(ValueError, match='no data descriptor yet'):
            call()
