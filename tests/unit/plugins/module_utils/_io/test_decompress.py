# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import importlib
import io
import lzma
import os

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError, MissingLibraryError, UnsafeArchiveError
from ansible_collections.esxi.customizer.plugins.module_utils._io import decompress
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import Limits
from ansible_collections.esxi.customizer.tests.fixturegen import packages


def _importable(name):
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


BACKENDS = [name for name in ('compression.zstd', 'backports.zstd', 'zstandard') if _importable(name)]


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Each zstd library this Python has (unit requirements install backports.zstd and zstandard)."""
    monkeypatch.setattr(decompress, '_zstd_found', (request.param, importlib.import_module(request.param)))
    return request.param


def _read(data, kind='zstd', limits=Limits(), size=None):
    with decompress.open_inner(io.BytesIO(data), kind, limits=limits, label='p.v00', compressed_size=size) as stream:
        out = []
        while True:
            chunk = stream.read(100000)
            if not chunk:
                return b''.join(out)
            out.append(chunk)


def test_both_libraries_are_tested():
    assert {'backports.zstd', 'zstandard'} <= set(BACKENDS) or 'compression.zstd' in BACKENDS


def test_zstd_round_trip(backend):
    data = os.urandom(300000) + bytes(700000)
    assert _read(packages.zstd_bytes(data)) == data
    assert decompress.zstd_backend() == backend


def test_several_frames_and_zero_padding(backend):
    assert _read(packages.zstd_bytes(b'a' * 5000) + packages.zstd_bytes(b'b' * 7000)) == b'a' * 5000 + b'b' * 7000
    if backend == 'zstandard':  # the standard library's reader refuses padding after a frame; ESXi writes none
        assert _read(packages.zstd_bytes(b'c' * 100) + bytes(512)) == b'c' * 100


def test_truncated_frame(backend):
    frame = packages.zstd_bytes(os.urandom(200000))
    with pytest.raises(FormatError, match=r'^p\.v00: corrupt or truncated zstd data'):
        _read(frame[: len(frame) - 10])


def test_a_frame_asking_for_a_huge_window_is_refused(backend):
    # frame header: magic, descriptor 0x00 (window descriptor present, no size), window 2 GiB (exponent 21 -> log 31)
    frame = decompress.ZSTD_MAGIC + bytes([0x00, 0xA8]) + b'\x01\x00\x00'
    with pytest.raises(FormatError, match='corrupt or truncated zstd data'):
        _read(frame)


def test_bomb_is_stopped_by_the_ratio(backend):
    bomb = packages.zstd_bytes(bytes(256 << 20))
    with pytest.raises(UnsafeArchiveError, match='compression ratio above 200:1'):
        _read(bomb, size=len(bomb))


def test_bomb_is_stopped_by_the_size_cap(backend):
    with pytest.raises(UnsafeArchiveError, match='max_uncompressed_size'):
        _read(packages.zstd_bytes(os.urandom(1 << 20) * 3), limits=Limits(max_uncompressed_size=2 << 20))


def test_xz():
    data = os.urandom(100000)
    assert _read(lzma.compress(data, check=lzma.CHECK_CRC32), kind='xz') == data
    with pytest.raises(FormatError, match='corrupt or truncated xz data'):
        _read(lzma.compress(data)[:-20], kind='xz')


def test_no_library(no_zstd):
    assert decompress.zstd_backend() is None
    with pytest.raises(MissingLibraryError, match=r'^p\.v00: reading zstd needs the Python package zstandard \(pip install zstandard\)'):
        _read(packages.zstd_bytes(b'x'))
    # xz needs nothing beyond Python
    assert _read(lzma.compress(b'x'), kind='xz') == b'x'


def test_sniff():
    assert decompress.sniff_compression(packages.zstd_bytes(b'x')) == 'zstd'
    assert decompress.sniff_compression(lzma.compress(b'x')) == 'xz'
    assert decompress.sniff_compression(b'\x1f\x8b') is None
