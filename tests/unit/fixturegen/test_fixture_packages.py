# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The package builders, checked with independent readers (tarfile, zipfile, gzip, bsdtar, readelf)."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import struct
import subprocess
import tarfile
import zipfile
from xml.etree import ElementTree

import pytest

from ansible_collections.esxi.customizer.tests.fixturegen import packages


def _bsdtar_list(tmp_path, data):
    if not shutil.which('bsdtar'):
        pytest.skip('bsdtar not installed (scripts/install-system-deps.sh installs libarchive-tools)')
    path = tmp_path / 'x.vib'
    path.write_bytes(data)
    out = subprocess.run(['bsdtar', '-tvf', str(path)], check=True, capture_output=True, text=True).stdout
    return [line.split()[-1] for line in out.splitlines()], out


def test_ar_vmware_style_readable_by_bsdtar_with_zero_fields(tmp_path):
    data = packages.ar_archive([('descriptor.xml', b'abc'), ('sig.pkcs7', b''), ('net-foo', b'xy')])
    names, listing = _bsdtar_list(tmp_path, data)
    assert names == ['descriptor.xml', 'sig.pkcs7', 'net-foo']
    assert 'Jan  1  1970' in listing
    # odd-sized member data is padded with one newline so the next header starts even
    assert data[8 + 60 : 8 + 60 + 4] == b'abc\n'
    assert len(data) % 2 == 0


def test_ar_gnu_style_has_slash_names_and_mode(tmp_path):
    data = packages.ar_archive([('descriptor.xml', b'abcd')], gnu_style=True)
    assert data[8:24] == b'descriptor.xml/ '
    assert data[48:56].strip() == b'100000'
    names, listing = _bsdtar_list(tmp_path, data)
    assert names == ['descriptor.xml']
    assert '2011' in listing


def test_vmtar_layout_checksum_and_offsets():
    files = {'etc/vmware/default.map.d/foo.map': b'map\n', 'usr/lib/vmware/vmkmod/foo': b'\x7fELF' + b'x' * 5000}
    data = packages.vmtar(files)
    headers = []
    pos = 0
    while data[pos : pos + 512] != b'\0' * 512:
        headers.append(data[pos : pos + 512])
        pos += 512
    names = [h[:100].rstrip(b'\0').decode() for h in headers]
    assert names[:3] == ['etc/', 'etc/vmware/', 'etc/vmware/default.map.d/']
    assert 'usr/lib/vmware/vmkmod/foo' in names
    for header in headers:
        assert header[257:265] == b'visor  \0'
        stored = int(header[148:154], 8)
        assert stored == sum(header[:148]) + 8 * 32 + sum(header[156:])
    for name, content in files.items():
        header = headers[names.index(name)]
        offset = struct.unpack('<I', header[496:500])[0]
        size = int(header[124:135], 8)
        assert offset % 4096 == 0 and offset >= 512 * len(headers) + 1024
        assert data[offset : offset + size] == content
    module_header = headers[names.index('usr/lib/vmware/vmkmod/foo')]
    assert module_header[156:157] == b'7'
    assert len(data) % 512 == 0


def test_gzip_deterministic_and_readable():
    one = packages.gzip_bytes(b'hello')
    assert one == packages.gzip_bytes(b'hello')
    assert one[4:8] == b'\0\0\0\0'  # mtime 0
    assert gzip.decompress(one) == b'hello'


def test_tar_gz_gnu_explicit_dirs_root_owned():
    data = packages.tar_gz({'usr/share/x.ids': b'1', 'etc/vmware/a.map': b'22'})
    with tarfile.open(fileobj=io.BytesIO(data), mode='r:gz') as tar:
        members = tar.getmembers()
        assert [m.name for m in members if m.isdir()] == ['etc', 'etc/vmware', 'usr', 'usr/share']
        assert all(m.uid == 0 and m.gid == 0 for m in members)
        assert tar.extractfile('etc/vmware/a.map').read() == b'22'
    assert gzip.decompress(data)[257:265] == b'ustar  \0'  # GNU "old" tar magic
    assert data == packages.tar_gz({'etc/vmware/a.map': b'22', 'usr/share/x.ids': b'1'})


def test_vmkmod_elf_sections(tmp_path):
    elf = packages.vmkmod_elf('igbn', license='BSD', vmkapi='2_4_0_0', vmklinux=True)
    assert elf[:4] == b'\x7fELF' and elf[4] == 2
    assert struct.unpack('<HH', elf[16:20]) == (1, 62)
    assert b'license=BSD\0' in elf
    assert b'nsRequired=com.vmware.vmkapi#v2_4_0_0\0' in elf
    assert b'nsRequired=com.vmware.driverAPI#9.2.1.0\0' in elf
    if shutil.which('readelf'):
        path = tmp_path / 'igbn'
        path.write_bytes(elf)
        out = subprocess.run(['readelf', '-S', str(path)], check=True, capture_output=True, text=True).stdout
        assert '.vmkmodinfo' in out and '.vmkrequiredns' in out
    old = packages.vmkmod_elf('old', license=None)
    assert b'.vmkmodinfo' not in old and b'license=' not in old
    assert struct.unpack('<H', old[16:18]) == (1,)


def test_driver_files_native_and_linux():
    native = packages.driver_files('ne1000', [('8086', '10d3')])
    assert native['etc/vmware/default.map.d/ne1000.map'] == b'regtype=native,bus=pci,id=808610d3..............,driver=ne1000\n'
    assert b'8086  Intel Corporation\n\t10d3  ' in native['usr/share/hwdata/default.pciids.d/ne1000.ids']
    linux = packages.driver_files('r8169', [('10ec', '8169')], style='linux')
    assert linux['etc/vmware/driver.map.d/r8169.map'] == b'regtype=linux,bus=pci,id=10ec:8169 0000:0000,driver=r8169,class=network\n'
    assert 'usr/share/hwdata/driver.pciids.d/r8169.ids' in linux
    assert b'com.vmware.driverAPI' in linux['usr/lib/vmware/vmkmod/r8169']


def test_build_vib_descriptor_checksums_match_payload():
    vib = packages.build_vib('net-foo', '1.0.0-1', pci_ids=[('10ec', '8125')], signature=b'')
    members = packages.ar_members(vib)
    assert [m[0] for m in members] == ['descriptor.xml', 'sig.pkcs7', 'net-foo']
    root = ElementTree.fromstring(members[0][1])
    payload_bytes = members[2][1]
    payload = root.find('payloads/payload')
    assert payload.get('type') == 'vgz' and int(payload.get('size')) == len(payload_bytes)
    sums = [(c.get('checksum-type'), c.get('verify-process'), c.text) for c in payload.findall('checksum')]
    plain = gzip.decompress(payload_bytes)
    assert sums == [
        ('sha-256', 'gunzip', hashlib.sha256(plain).hexdigest()),
        ('sha-256', None, hashlib.sha256(payload_bytes).hexdigest()),
        ('sha-1', 'gunzip', hashlib.sha1(plain).hexdigest()),
    ]
    assert plain[257:265] == b'visor  \0'
    files = [f.text for f in root.findall('file-list/file')]
    assert 'usr/lib/vmware/vmkmod/net_foo' in files and 'etc/vmware/default.map.d/net_foo.map' in files
    assert root.findtext('acceptance-level') == 'community'
    assert [c.get('name') for c in root.findall('relationships/depends/constraint')] == ['vmkapi_2_5_0_0']


def test_build_vib_tgz_payload_and_relations():
    vib = packages.build_vib(
        'net-bar',
        '2.0',
        vendor='ACME',
        payload_type='tgz',
        acceptance_level='partner',
        conflicts=['net-old'],
        replaces=[('net-bar', '<<', '2.0')],
        signature=b'SIG',
    )
    facts = packages.vib_facts(vib)
    assert facts['id'] == 'ACME_bootbank_net-bar_2.0'
    assert facts['signature'] == b'SIG'
    name, ptype, data = facts['payloads'][0]
    assert (name, ptype) == ('net-bar', 'tgz')
    with tarfile.open(fileobj=io.BytesIO(data), mode='r:gz') as tar:
        assert 'usr/lib/vmware/vmkmod/net_bar' in tar.getnames()
    root = ElementTree.fromstring(facts['descriptor'])
    replace = root.find('relationships/replaces/constraint')
    assert (replace.get('name'), replace.get('relation'), replace.get('version')) == ('net-bar', '<<', '2.0')


def test_offline_bundle_vmware_layout_component():
    vib = packages.build_vib('net-foo', '1.0.0-1')
    bundle = packages.build_offline_bundle([vib], component={'name': 'ACME-net-foo', 'version': '1.0.0-1'})
    outer = zipfile.ZipFile(io.BytesIO(bundle))
    assert outer.namelist()[:3] == ['index.xml', 'vendor-index.xml', 'metadata.zip']
    relpath = 'vib20/net-foo/ESXCUST_bootbank_net-foo_1.0.0-1.vib'
    assert outer.read(relpath) == vib
    meta = zipfile.ZipFile(io.BytesIO(outer.read('metadata.zip')))
    names = meta.namelist()
    vib_xml = ElementTree.fromstring(meta.read([n for n in names if n.startswith('vibs/')][0]))
    assert vib_xml.findtext('relative-path') == relpath
    assert vib_xml.findtext('packed-size') == str(len(vib))
    assert vib_xml.findtext('checksum') == hashlib.sha256(vib).hexdigest()
    bulletin = ElementTree.fromstring(meta.read([n for n in names if n.startswith('bulletins/')][0]))
    assert bulletin.find('componentNameSpec').get('name') == 'ACME-net-foo'
    assert [v.text for v in bulletin.findall('vibList/vibID')] == ['ESXCUST_bootbank_net-foo_1.0.0-1']
    vmware = ElementTree.fromstring(meta.read('vmware.xml'))
    assert vmware.findtext('bulletin/vibList/vib/vibFile/relativePath') == relpath


def test_offline_bundle_flat_layout():
    vib = packages.build_vib('net-foo', '1.0.0-1', gnu_style=True)
    outer = zipfile.ZipFile(io.BytesIO(packages.build_offline_bundle([vib], layout='flat')))
    assert 'net-foo.x86_64.vib' in outer.namelist()
    meta = zipfile.ZipFile(io.BytesIO(outer.read('metadata.zip')))
    bulletin = meta.read([n for n in meta.namelist() if n.startswith('bulletins/')][0])
    assert b'componentNameSpec' not in bulletin


@pytest.mark.parametrize(
    'kwargs, expected',
    [
        ({}, {'usr/lib/vmware/vmkmod/r8169', 'etc/vmware/r8169.map', 'usr/share/hwdata/driver.pciids.d/r8169.ids'}),
        ({'omit': 'ids'}, {'usr/lib/vmware/vmkmod/r8169', 'etc/vmware/r8169.map'}),
        (
            {'map_dir': 'etc/vmware/driver.map.d', 'extra': {'etc/readme': b'x'}},
            {'usr/lib/vmware/vmkmod/r8169', 'etc/vmware/driver.map.d/r8169.map', 'usr/share/hwdata/driver.pciids.d/r8169.ids', 'etc/readme'},
        ),
        ({'legacy4x': True}, {'usr/lib/vmware/vmkmod/r8169', 'etc/vmware/simple.map', 'usr/share/hwdata/driver.pciids.d/r8169.ids'}),
    ],
)
def test_legacy_tgz_variants(kwargs, expected):
    data = packages.build_legacy_tgz(**kwargs)
    with tarfile.open(fileobj=io.BytesIO(data), mode='r:gz') as tar:
        files = {m.name for m in tar.getmembers() if m.isfile()}
        assert files == expected
        module = tar.extractfile('usr/lib/vmware/vmkmod/r8169').read()
    assert (b'license=' in module) is not kwargs.get('legacy4x', False)
