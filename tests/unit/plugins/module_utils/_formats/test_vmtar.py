# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import gzip
import io
import lzma
import struct
import tarfile
import zipfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError, MissingLibraryError, UnsafeArchiveError, UnsupportedError
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import Limits
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vmtar import list_payload, read_payload_file, scan_payload, sniff_inner
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures


FIXTURES = shared_fixtures()
ITI = FIXTURES / 'itiligent-esxi-custom-iso' if FIXTURES else None
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found (set ESXI_SHARED_FIXTURES)')

FILES = {
    'etc/vmware/default.map.d/drv.map': b'regtype=native,bus=pci,id=10ec8168..............,driver=drv\n',
    'usr/lib/vmware/vmkmod/drv': b'\x7fELF' + b'm' * 5000,
    'usr/share/hwdata/default.pciids.d/drv.ids': b'10ec  Realtek\n\t8168  NIC\n',
}


def read_all(data, ptype):
    got = {}

    def consume(entry, stream):
        got[entry.name] = stream.read()

    entries = scan_payload(io.BytesIO(data), ptype, 'p', want=lambda e: True, consume=consume)
    return entries, got


def test_vmtar_files_and_contents():
    entries, got = read_all(packages.gzip_bytes(packages.vmtar(FILES)), 'vgz')
    assert got == FILES
    by_name = {e.name: e for e in entries}
    assert by_name['usr/lib/vmware/vmkmod'].type == 'dir'
    assert by_name['usr/lib/vmware/vmkmod/drv'].type == 'file'  # typeflag 7 (shared file) is a file
    assert by_name['usr/lib/vmware/vmkmod/drv'].offset % 4096 == 0


def test_consumer_may_leave_data_unread():
    seen = []
    scan_payload(io.BytesIO(packages.gzip_bytes(packages.vmtar(FILES))), 'vgz', 'p', want=lambda e: True, consume=lambda e, s: seen.append((e.name, s.read(3))))
    assert seen == [(name, FILES[name][:3]) for name in sorted(FILES)]


def test_tgz_payload_same_api():
    entries, got = read_all(packages.tar_gz(FILES), 'tgz')
    assert got == FILES
    assert sorted(e.name for e in entries if e.type == 'file') == sorted(FILES)


def test_read_payload_file():
    data = packages.gzip_bytes(packages.vmtar(FILES))
    assert (
        read_payload_file(io.BytesIO(data), 'vgz', '/usr/share/hwdata/default.pciids.d/drv.ids', label='p')
        == FILES['usr/share/hwdata/default.pciids.d/drv.ids']
    )
    with pytest.raises(KeyError):
        read_payload_file(io.BytesIO(data), 'vgz', 'nope', label='p')


@needs_fixtures
def test_real_vgz_payload_listing():
    with zipfile.ZipFile(ITI / 'nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip') as z:
        vib = z.read('vib20/nvme-community/VMW_bootbank_nvme-community_1.0.1.0-3vmw.700.1.0.15843807.vib')
    payload = dict(packages.ar_members(vib))['nvmecomm']
    entries, got = read_all(payload, 'vgz')
    files = [(e.name, e.size, e.offset) for e in entries if e.type == 'file']
    assert files == [
        ('usr/lib/vmware/vmkmod/nvme_community', 307504, 8192),
        ('etc/vmware/default.map.d/nvme_community.map', 70, 319488),
        ('etc/vmware/default.map.d/nvme_community_106b2005.map', 283, 323584),
    ]
    assert got['etc/vmware/default.map.d/nvme_community.map'] == (b'regtype=native,bus=pci,id=................010802,driver=nvme_community')
    assert got['usr/lib/vmware/vmkmod/nvme_community'][:4] == b'\x7fELF'


@needs_fixtures
def _real_vzstd_member():
    with zipfile.ZipFile(ITI / 'ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip') as z:
        vib = z.read('vib20/vmkusb-nic-fling/VMW_bootbank_vmkusb-nic-fling_1.15-1vmw.900.0.84947163.vib')
    return dict(packages.ar_members(vib))['vmkusb-n']


@needs_fixtures
def test_real_vzstd_payload_is_read():
    entries = list_payload(io.BytesIO(_real_vzstd_member()), 'vzstd', 'vmkusb-n')
    files = sorted(e.name for e in entries if e.type == 'file')
    assert files == [
        'etc/vmware/ihv.map.d/vmkusb_nic_fling_acpi.map',
        'etc/vmware/ihv.map.d/vmkusb_nic_fling_pci.map',
        'usr/lib/vmware/vmkmod/vmkusb_nic_fling',
    ]
    text = read_payload_file(io.BytesIO(_real_vzstd_member()), 'vzstd', 'etc/vmware/ihv.map.d/vmkusb_nic_fling_pci.map', label='vmkusb-n')
    assert b'0c0330' in text


@needs_fixtures
def test_real_vzstd_payload_without_a_zstd_library(no_zstd):
    with pytest.raises(MissingLibraryError, match='vmkusb-n: reading zstd needs the Python package zstandard'):
        list_payload(io.BytesIO(_real_vzstd_member()), 'vzstd', 'vmkusb-n')


@pytest.mark.parametrize('inner', ['vgz', 'vzstd', 'xz'])
def test_inner_compressions_are_read(inner):
    plain = packages.vmtar(FILES)
    data = {'vgz': packages.gzip_bytes, 'vzstd': packages.vzstd_bytes, 'xz': lambda d: gzip.compress(lzma.compress(d, check=lzma.CHECK_CRC32))}[inner](plain)
    found = {}
    entries = scan_payload(
        io.BytesIO(data),
        'vgz' if inner == 'xz' else inner,
        'p',
        want=lambda e: e.name.endswith('.ids'),
        consume=lambda e, s: found.setdefault(e.name, s.read()),
    )
    assert sorted(e.name for e in entries if e.type == 'file') == sorted(FILES)
    assert found == {'usr/share/hwdata/default.pciids.d/drv.ids': FILES['usr/share/hwdata/default.pciids.d/drv.ids']}


@pytest.mark.parametrize('inner', ['vzstd', 'xz'])
def test_corrupt_or_truncated_inner_streams(inner):
    plain = packages.vmtar({'usr/lib/vmware/vmkmod/drv': bytes(range(256)) * 400})
    layer = packages.zstd_bytes(plain) if inner == 'vzstd' else lzma.compress(plain)
    ptype = 'vzstd' if inner == 'vzstd' else 'vgz'
    with pytest.raises(FormatError, match='corrupt or truncated %s data' % ('zstd' if inner == 'vzstd' else 'xz')):
        list_payload(io.BytesIO(gzip.compress(layer[: len(layer) // 2])), ptype, 'p')
    if inner == 'xz':
        # xz checks its blocks; a zstd frame need not (the payload's checksums catch that: test_vib)
        flipped = bytearray(layer)
        flipped[len(layer) // 2] ^= 0xFF
        with pytest.raises(FormatError, match='p: corrupt or truncated xz data'):
            scan_payload(io.BytesIO(gzip.compress(bytes(flipped))), ptype, 'p', want=lambda e: True, consume=lambda e, s: s.read())


def test_zstd_bomb_is_stopped():
    # 64 MiB of zeros is a few KB of zstd: the ratio check stops it long before the end
    bomb = packages.vzstd_bytes(packages.vmtar({'usr/lib/vmware/vmkmod/zero': b'\x00' * (64 << 20)}))
    with pytest.raises(UnsafeArchiveError, match='compression ratio above 200:1'):
        scan_payload(io.BytesIO(bomb), 'vzstd', 'bomb', want=lambda e: True, consume=lambda e, s: s.read(), compressed_size=len(bomb))


def test_zstd_around_something_else_is_a_format_error():
    with pytest.raises(FormatError, match='holds no vmtar or tar archive inside its compressed layers'):
        list_payload(io.BytesIO(packages.vzstd_bytes(b'just text' * 100)), 'vzstd', 'p')


def test_sniff_inner():
    assert sniff_inner(packages.vmtar(FILES)[:512]) == 'vmtar'
    assert sniff_inner(b'\x28\xb5\x2f\xfd') == 'zstd'
    assert sniff_inner(b'random') == 'unknown'


def _corrupt(data, offset, value):
    raw = bytearray(data)
    raw[offset : offset + len(value)] = value
    return bytes(raw)


def test_bad_vmtar_headers():
    plain = packages.vmtar(FILES)
    with pytest.raises(FormatError, match='bad checksum'):
        list_payload(io.BytesIO(gzip.compress(_corrupt(plain, 0, b'X'))), 'vgz', 'p')
    with pytest.raises(FormatError, match='does not contain a vmtar or tar archive'):
        list_payload(io.BytesIO(gzip.compress(_corrupt(plain, 257, b'junk!!'))), 'vgz', 'p')
    with pytest.raises(FormatError, match='not gzip-compressed'):
        list_payload(io.BytesIO(plain), 'vgz', 'p')


def test_truncated_payloads():
    data = packages.gzip_bytes(packages.vmtar(FILES))
    with pytest.raises(FormatError, match='truncated'):
        read_all(data[: len(data) // 2], 'vgz')
    tgz = packages.tar_gz(FILES)
    with pytest.raises(FormatError, match='truncated'):
        read_all(tgz[: len(tgz) - 30], 'tgz')


def test_data_offset_past_end():
    plain = bytearray(packages.vmtar({'a/f': b'1234'}))
    # header 1 is the dir 'a/', header 2 is the file: move its data offset far past the end
    header = plain[512:1024]
    struct.pack_into('<I', header, 496, 10**6)
    header[148:156] = b' ' * 8
    header[148:156] = ('%06o' % sum(header)).encode() + b'\x00 '
    plain[512:1024] = header
    with pytest.raises(FormatError, match='past the end of the payload'):
        read_all(gzip.compress(bytes(plain)), 'vgz')


def _tar_with(member):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(member, io.BytesIO(b'x' * member.size) if member.isreg() else None)
    return gzip.compress(raw.getvalue())


@pytest.mark.parametrize(
    'name, kind, message',
    [
        ('../etc/passwd', tarfile.REGTYPE, 'contains ".."'),
        ('/etc/passwd', tarfile.REGTYPE, 'is absolute'),
        ('usr/lib/link', tarfile.SYMTYPE, 'is a symlink'),
        ('usr/lib/hard', tarfile.LNKTYPE, 'is a hardlink'),
        ('dev/sda', tarfile.BLKTYPE, 'device or fifo'),
    ],
)
def test_unsafe_tar_members(name, kind, message):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = 1 if kind == tarfile.REGTYPE else 0
    info.linkname = '/etc/shadow' if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ''
    with pytest.raises(UnsafeArchiveError, match=message):
        list_payload(io.BytesIO(_tar_with(info)), 'tgz', 'p')


def test_unsafe_vmtar_members():
    plain = packages.vmtar({'a/f': b'1'})
    header = bytearray(packages.vmtar_header('../../f', b'0', 0o644, 1, 4096))
    bad = bytes(header) + plain[512:]
    with pytest.raises(UnsafeArchiveError, match='contains ".."'):
        list_payload(io.BytesIO(gzip.compress(bad)), 'vgz', 'p')
    link = packages.vmtar_header('usr/x', b'2', 0o777, 0, 0)
    with pytest.raises(UnsafeArchiveError, match='is a symlink'):
        list_payload(io.BytesIO(gzip.compress(link + b'\x00' * 1024)), 'vgz', 'p')
    assert [e.type for e in list_payload(io.BytesIO(gzip.compress(link + b'\x00' * 1024)), 'vgz', 'p', limits=Limits(allow_links=True))] == ['symlink']


def test_gzip_bomb_payload():
    bomb = gzip.compress(packages.vmtar({'a/f': b'\x00' * (16 * 1024 * 1024)}))
    limits = Limits(max_uncompressed_size=1024 * 1024)
    with pytest.raises(UnsafeArchiveError, match='max_uncompressed_size'):
        scan_payload(io.BytesIO(bomb), 'vgz', 'bomb', limits=limits, want=lambda e: True, consume=lambda e, s: s.read())


def test_other_payload_types_are_unsupported():
    with pytest.raises(UnsupportedError, match='payload type boot has no file list'):
        list_payload(io.BytesIO(b''), 'boot', 'p')


def test_tar_member_with_a_huge_declared_size():
    """A tgz header claiming 8 GiB for a 10-byte member ends in a named error, without reading or storing 8 GiB."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo('usr/lib/vmware/vmkmod/x')
        info.size = 10
        tar.addfile(info, io.BytesIO(b'x' * 10))
    data = bytearray(raw.getvalue())
    header = data[:512]
    header[124:136] = b'77777777777\x00'
    header[148:156] = b' ' * 8
    header[148:156] = ('%06o' % sum(header)).encode() + b'\x00 '
    data[:512] = header
    tgz = gzip.compress(bytes(data))
    for want in (lambda e: False, lambda e: True):
        with pytest.raises(FormatError, match='p: payload is not a valid tar archive .unexpected end of data'):
            scan_payload(io.BytesIO(tgz), 'tgz', 'p', want=want, consume=lambda e, s: s.read())


def test_vmtar_member_with_a_huge_declared_size():
    plain = bytearray(packages.vmtar({'a/f': b'1234'}))
    header = plain[512:1024]
    header[124:136] = b'77777777777\x00'
    header[148:156] = b' ' * 8
    header[148:156] = ('%06o' % sum(header)).encode() + b'\x00 '
    plain[512:1024] = header
    with pytest.raises(FormatError, match='payload member a/f is truncated'):
        read_all(gzip.compress(bytes(plain)), 'vgz')


def test_empty_wanted_file_with_offset_zero():
    """An empty .ids/.map whose header says offset 0 (no data to point at) is read as empty, not as overlapping."""
    files = {'usr/share/hwdata/default.pciids.d/drv.ids': b'', 'etc/vmware/default.map.d/drv.map': FILES['etc/vmware/default.map.d/drv.map']}
    plain = bytearray(packages.vmtar(files))
    for index in range(len(plain) // 512):
        header = plain[index * 512 : (index + 1) * 512]
        if header.startswith(b'usr/share/hwdata/default.pciids.d/drv.ids'):
            struct.pack_into('<I', header, 496, 0)
            header[148:156] = b' ' * 8
            header[148:156] = ('%06o' % sum(header)).encode() + b'\x00 '
            plain[index * 512 : (index + 1) * 512] = header
            break
    else:
        raise AssertionError('no ids header')
    _entries, got = read_all(gzip.compress(bytes(plain)), 'vgz')
    assert got == files


def _with_checksum(header, signed):
    blanked = header[:148] + b' ' * 8 + header[156:]
    total = sum(b - 256 if signed and b > 127 else b for b in blanked)
    return header[:148] + b'%06o\0 ' % total + header[156:]


def test_header_checksum_signed_or_unsigned():
    plain = packages.vmtar(FILES)
    names = [entry.name for entry in list_payload(io.BytesIO(gzip.compress(plain)), 'vgz', 'p')]
    # a byte >= 0x80 (in the unused link name of a regular file) makes the two sums differ by 256
    header = _corrupt(plain[:512], 200, b'\xe9')
    for signed in (False, True):
        data = _with_checksum(header, signed) + plain[512:]
        assert [entry.name for entry in list_payload(io.BytesIO(gzip.compress(data)), 'vgz', 'p')] == names
    wrong = header[:148] + b'%06o\0 ' % (int(_with_checksum(header, True)[148:154], 8) - 1) + header[156:]
    with pytest.raises(FormatError, match='bad checksum'):
        list_payload(io.BytesIO(gzip.compress(wrong + plain[512:])), 'vgz', 'p')
