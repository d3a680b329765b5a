"""A tar header that declares a huge long name or pax record is refused before tarfile reads it into memory."""

from __future__ import annotations

import gzip
import io
import resource
import tarfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import UnsafeArchiveError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import ImageDatabase
from ansible_collections.esxi.customizer.plugins.module_utils._formats.legacy_tgz import read_legacy_tgz
from ansible_collections.esxi.customizer.plugins.module_utils._formats.tarstream import MAX_HEADER

GIB = 1024**3


def _header(name: bytes, size: int, typeflag: bytes) -> bytes:
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b'0000644\0'
    block[108:116] = b'0000000\0'
    block[116:124] = b'0000000\0'
    block[124:136] = b'%011o\0' % size
    block[136:148] = b'00000000000\0'
    block[156:157] = typeflag
    block[257:265] = b'ustar  \0'
    block[148:156] = b' ' * 8
    block[148:156] = b'%06o\0 ' % sum(block)
    return bytes(block)


def bomb(typeflag: bytes) -> bytes:
    """A gzip'ed tar whose first header declares a 1 GiB long name / pax record (1 MiB of zeros follow)."""
    return gzip.compress(_header(b'././@LongLink', GIB, typeflag) + bytes(1024 * 1024), mtime=0)


@pytest.mark.parametrize('typeflag', [tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE])
def test_an_image_database_with_a_header_bomb_is_refused_in_flat_memory(typeflag):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(UnsafeArchiveError, match=r'IMGDB.TGZ: has a .* header declaring 1073741824 bytes \(more than %d\)' % MAX_HEADER):
        ImageDatabase.from_tgz(bomb(typeflag), path='IMGDB.TGZ')
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024  # the header is never read (before the cap: 1 GiB and more)


def test_a_legacy_tgz_with_a_header_bomb_is_refused(tmp_path):
    path = tmp_path / 'driver.tgz'
    path.write_bytes(bomb(tarfile.GNUTYPE_LONGNAME))
    with pytest.raises(UnsafeArchiveError, match='driver.tgz: has a GNU long-name header declaring'):
        read_legacy_tgz(str(path))


def test_real_long_names_still_read():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w:gz', format=tarfile.GNU_FORMAT) as tar:
        data = b'<x/>'
        info = tarfile.TarInfo('var/db/esximg/' + 'n' * 150 + '.xml')
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    db = ImageDatabase.from_tgz(out.getvalue(), path='IMGDB.TGZ')
    assert any(name.endswith('n' * 150 + '.xml') for name in db.member_names())
