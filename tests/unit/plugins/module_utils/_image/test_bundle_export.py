# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bundle_export: an ISO's image as an offline bundle, read back with the package reader and compared with the originals."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zipfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import ChecksumError, EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._formats import bundle as docs
from ansible_collections.esxi.customizer.plugins.module_utils._formats.zipwrite import ZipLayout
from ansible_collections.esxi.customizer.plugins.module_utils._image import bundle_export
from ansible_collections.esxi.customizer.plugins.module_utils._image.bundle_export import boot_file_candidates, export_bundle
from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import load_package
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures

pytestmark = pytest.mark.skipif(not shutil.which('xorriso'), reason='xorriso is needed')
FIXTURES = shared_fixtures()
ITI = FIXTURES / 'itiligent-esxi-custom-iso' if FIXTURES else None
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found')
R8125 = 'net-r8125-9.011.00-10.vib'
NVME70 = 'nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip'
VENDOR = {'vendor_name': 'ACME Corp', 'vendor_code': 'ACM'}


def _sha(path):
    with open(path, 'rb') as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def _vib_members_of(package_path):
    """{vib file name: {member: bytes}} of a .vib or a bundle/component zip."""
    if package_path.endswith('.vib'):
        with open(package_path, 'rb') as stream, load_package(package_path) as package:
            return {'%s.vib' % package.vibs[0].vib_id: dict(packages.ar_members(stream.read()))}
    with zipfile.ZipFile(package_path) as archive:
        return {os.path.basename(n): dict(packages.ar_members(archive.read(n))) for n in archive.namelist() if n.endswith('.vib')}


@pytest.fixture(scope='module')
def customized(tmp_path_factory):
    if FIXTURES is None:
        pytest.skip('shared fixtures not found')
    base = tmp_path_factory.mktemp('bundle')
    found = {}
    for style, package in (('6x', R8125), ('70', NVME70)):
        src = str(base / ('esxi-%s.iso' % style))
        fixiso.build_esxi_iso(src, style=style)
        out = str(base / ('custom-%s.iso' % style))
        customize_iso(src, out, add=[str(ITI / package)])
        found[style] = (out, package)
    return found


@needs_fixtures
@pytest.mark.parametrize('style', ['6x', '70'])
def test_round_trip(customized, tmp_path, style):
    iso, package = customized[style]
    dest = str(tmp_path / 'bundle.zip')
    result = export_bundle(iso, dest, **VENDOR)
    assert result['changed'] and result['sha256'] == _sha(dest) and result['size'] == os.path.getsize(dest)
    with EsxiImage.open(iso) as image:
        profile_ids = list(image.profile.vibs)
    assert result['vibs'] == profile_ids
    with load_package(dest) as bundle:
        assert sorted(v.vib_id for v in bundle.vibs) == sorted(profile_ids)
        for vib in bundle.vibs:
            assert all(check.checksum_ok for check in vib.verify_payloads(strict=True)), vib.vib_id
            assert vib.verify_vib_file() is True, vib.vib_id
        assert bundle.warnings == []
        if style == '70':
            assert bundle.kind == 'component' and len(bundle.components) == len(profile_ids)
    # the injected VIB's members are the original package's, byte for byte
    original = _vib_members_of(str(ITI / package))
    exported = _vib_members_of(dest)
    for name, members in original.items():
        assert exported[name] == members, name
    with zipfile.ZipFile(dest) as archive:
        names = archive.namelist()
        metadata = zipfile.ZipFile(archive.open('metadata.zip'))
        meta = metadata.namelist()
        assert archive.read('index.xml').startswith(b'<vendorList><vendor><name>ACME Corp</name><code>ACM</code>')
    assert {'index.xml', 'vendor-index.xml', 'metadata.zip'} <= set(names)
    assert len([n for n in meta if n.startswith('vibs/')]) == len(profile_ids)
    assert [n for n in meta if n.startswith('profiles/')] and [n for n in meta if n.startswith('bulletins/')]


@needs_fixtures
def test_reproducible_idempotent_and_check_mode(customized, tmp_path):
    iso, _package = customized['70']
    one, two = str(tmp_path / 'one.zip'), str(tmp_path / 'two.zip')
    export_bundle(iso, one, **VENDOR)
    export_bundle(iso, two, **VENDOR)
    assert _sha(one) == _sha(two)
    before = os.stat(one)
    again = export_bundle(iso, one, **VENDOR)
    assert not again['changed'] and os.stat(one).st_mtime_ns == before.st_mtime_ns and again['diff'] == []
    other = export_bundle(iso, one, check_mode=True, vendor_name='Other', vendor_code='OTH')
    assert other['changed'] and other['sha256'] is None and os.stat(one).st_mtime_ns == before.st_mtime_ns
    checked = export_bundle(iso, str(tmp_path / 'three.zip'), check_mode=True, **VENDOR)
    assert checked['changed'] and not (tmp_path / 'three.zip').exists()
    assert sorted(os.listdir(tmp_path)) == ['one.zip', 'two.zip']


@needs_fixtures
def test_a_tampered_payload_is_refused_with_its_name(customized, tmp_path):
    iso, _package = customized['70']
    tampered = str(tmp_path / 'tampered.iso')
    shutil.copyfile(iso, tampered)
    with EsxiImage.open(tampered) as image:
        entry = image.reader.find('/NVMECOMM.V00')
        offset = entry.extent * image.reader.logical_block_size + entry.size // 2
    with open(tampered, 'r+b') as stream:
        stream.seek(offset)
        byte = stream.read(1)
        stream.seek(offset)
        stream.write(bytes([byte[0] ^ 0xFF]))
    dest = tmp_path / 'bundle.zip'
    dest.write_bytes(b'an earlier bundle')
    with pytest.raises(
        ChecksumError, match=r'VIB VMW_bootbank_nvme-community_1\.0\.1\.0-3vmw\.700\.1\.0\.15843807: payload nvmecomm \(/NVMECOMM\.V00 on the ISO\)'
    ):
        export_bundle(tampered, str(dest), **VENDOR)
    assert dest.read_bytes() == b'an earlier bundle'
    assert sorted(os.listdir(tmp_path)) == ['bundle.zip', 'tampered.iso']
    # the drivers alone are intact elsewhere: a selection without the damaged VIB still exports
    intact = export_bundle(tampered, str(dest), include=['ne1000'], **VENDOR)
    assert [vib_id.split('_')[2] for vib_id in intact['vibs']] == ['ne1000']


@needs_fixtures
def test_non_vmware_is_what_the_customization_added_and_goes_back_into_an_iso(customized, tmp_path):
    iso, _package = customized['70']
    dest = str(tmp_path / 'drivers.zip')
    result = export_bundle(iso, dest, include='non_vmware', **VENDOR)
    assert result['vibs'] == ['VMW_bootbank_nvme-community_1.0.1.0-3vmw.700.1.0.15843807']
    with load_package(dest) as bundle:
        assert bundle.kind == 'component' and [c.name for c in bundle.components] == ['VMware-nvme-community']
    # the exported bundle is a package iso_customize takes
    stock = str(tmp_path / 'stock.iso')
    fixiso.build_esxi_iso(stock, style='70')
    again = customize_iso(stock, str(tmp_path / 'again.iso'), add=[dest])
    assert [a['id'] for a in again['added']] == result['vibs']


@needs_fixtures
def test_include_a_list_and_bad_requests(customized, tmp_path):
    iso, _package = customized['70']
    picked = export_bundle(iso, str(tmp_path / 'two.zip'), include=['ne1000', 'VMware-nvme-community'], **VENDOR)
    assert sorted(v.split('_')[2] for v in picked['vibs']) == ['ne1000', 'nvme-community']
    with pytest.raises(EsxiCustomizerError, match='include: nope is neither a VIB nor a component'):
        export_bundle(iso, str(tmp_path / 'x.zip'), include=['nope'], **VENDOR)
    with pytest.raises(ValueError, match='vendor_code must be 3 letters or digits'):
        export_bundle(iso, str(tmp_path / 'x.zip'), vendor_name='ACME', vendor_code='ACME')
    assert sorted(os.listdir(tmp_path)) == ['two.zip']


def test_esxio_vibs_are_left_out_with_a_warning(tmp_path):
    iso = str(tmp_path / 'esxi90.iso')
    fixiso.build_esxi_iso(iso, style='90')
    result = export_bundle(iso, str(tmp_path / 'b.zip'), **VENDOR)
    assert not any(vib_id.split('_')[2] in ('esxio-base', 'nmlx5-core-esxio') for vib_id in result['vibs'])
    assert result['warnings'] == [
        '2 esxio (DPU) VIB(s) are not in the bundle: their payloads are inside esxiodpt.tgz, not ISO files '
        '(VMW_bootbank_esxio-base_1.0.0.88-1vmw.900.0.0.24755229, VMW_bootbank_nmlx5-core-esxio_1.0.0.90-1vmw.900.0.0.24755229)'
    ]
    with pytest.raises(EsxiCustomizerError, match='for the DPU'):
        export_bundle(iso, str(tmp_path / 'c.zip'), include=['esxio-base'], **VENDOR)


def test_isolinux_boot_info_table_is_undone():
    with open(fixiso.ISOLINUX_BIN, 'rb') as stream:
        original = stream.read()
    patched = bytearray(original)
    patched[8:64] = os.urandom(56)
    assert original in boot_file_candidates(bytes(patched))


@needs_fixtures
def test_software_spec(customized, tmp_path):
    iso, _package = customized['70']
    spec = tmp_path / 'spec.json'
    result = export_bundle(iso, str(tmp_path / 'b.zip'), spec_path=str(spec), **VENDOR)
    expected = {'base_image': {'version': '7.0.3-0.105.21930508'}, 'components': {'VMware-nvme-community': '1.0.1.0-3vmw.700.1.0.15843807'}}
    assert result['software_spec'] == expected and json.loads(spec.read_text()) == expected
    assert not export_bundle(iso, str(tmp_path / 'b.zip'), spec_path=str(spec), **VENDOR)['changed']
    spec.write_text('{}')
    assert export_bundle(iso, str(tmp_path / 'b.zip'), spec_path=str(spec), **VENDOR)['changed'] and json.loads(spec.read_text()) == expected
    six = customized['6x'][0]
    with pytest.raises(EsxiCustomizerError, match='software_spec: the image has no components'):
        export_bundle(six, str(tmp_path / 'c.zip'), spec_path=str(tmp_path / 'six.json'), **VENDOR)
    assert not (tmp_path / 'six.json').exists() and not (tmp_path / 'c.zip').exists()


@pytest.fixture(scope='module')
def plain70(tmp_path_factory):
    """A 7.0 fixture ISO whose base tardisk spans many chunks of the reader when they are 4 KiB."""
    iso = str(tmp_path_factory.mktemp('plain70') / 'esxi70.iso')
    fixiso.build_esxi_iso(iso, style='70', big_payload_bytes=100_001)
    return iso


def _small_chunks(monkeypatch):
    # every payload through several buffers of a ring of two: the buffers are reused while workers still hash
    monkeypatch.setattr(bundle_export, 'CHUNK', 4096)
    monkeypatch.setattr(bundle_export, '_RING_BUFFERS', 2)
    monkeypatch.setattr(bundle_export, 'WRITEBACK_PIECE', 16384)


def test_small_chunks_and_forced_zip64_still_make_the_same_readable_bundle(plain70, tmp_path, monkeypatch):
    plain = export_bundle(plain70, str(tmp_path / 'plain.zip'), **VENDOR)
    _small_chunks(monkeypatch)
    assert export_bundle(plain70, str(tmp_path / 'small.zip'), **VENDOR)['sha256'] == plain['sha256'] == _sha(tmp_path / 'plain.zip')
    # every member, offset and the end records past a zip64 threshold of 1000 bytes: the path a > 2 GiB .vib takes
    monkeypatch.setattr(docs, 'zip_layout', lambda: ZipLayout(date_time=docs.ZIP_DATE, zip64_limit=1000))
    dest = str(tmp_path / 'zip64.zip')
    result = export_bundle(plain70, dest, **VENDOR)
    assert result['sha256'] == _sha(dest) != plain['sha256']
    with zipfile.ZipFile(dest) as archive:
        assert archive.testzip() is None
        assert all(info.flag_bits & 0x08 for info in archive.infolist() if info.filename.endswith('.vib'))
        with zipfile.ZipFile(str(tmp_path / 'plain.zip')) as other:
            assert {i.filename: archive.read(i) for i in archive.infolist()} == {i.filename: other.read(i) for i in other.infolist()}
    with load_package(dest) as bundle:
        assert sorted(v.vib_id for v in bundle.vibs) == sorted(result['vibs'])
        for vib in bundle.vibs:
            assert all(check.checksum_ok for check in vib.verify_payloads(strict=True)), vib.vib_id
            assert vib.verify_vib_file() is True, vib.vib_id
    if shutil.which('unzip'):
        done = subprocess.run(['unzip', '-tq', dest], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def _tamper(src, dest, path):
    shutil.copyfile(src, dest)
    with EsxiImage.open(dest) as image:
        entry = image.reader.find(path)
        offset = entry.extent * image.reader.logical_block_size + entry.size - 3
    with open(dest, 'r+b') as stream:
        stream.seek(offset)
        byte = stream.read(1)
        stream.seek(offset)
        stream.write(bytes([byte[0] ^ 0x01]))


def test_a_tampered_last_chunk_of_the_big_payload_is_refused(plain70, tmp_path, monkeypatch):
    _small_chunks(monkeypatch)
    tampered = str(tmp_path / 'tampered.iso')
    _tamper(plain70, tampered, '/S.V00')
    dest = tmp_path / 'bundle.zip'
    dest.write_bytes(b'an earlier bundle')
    with pytest.raises(ChecksumError, match=r'VIB VMware_bootbank_esx-base_[^:]+: payload s \(/S\.V00 on the ISO\) does not match its descriptor'):
        export_bundle(tampered, str(dest), **VENDOR)
    assert dest.read_bytes() == b'an earlier bundle' and sorted(os.listdir(tmp_path)) == ['bundle.zip', 'tampered.iso']


def test_an_iso_that_shrinks_while_it_is_read_is_refused(plain70, tmp_path, monkeypatch):
    _small_chunks(monkeypatch)
    with EsxiImage.open(plain70) as image:
        entry = image.reader.find('/S.V00')
        start = entry.extent * image.reader.logical_block_size
        cut, end = start + 3 * 4096, start + entry.size
    real = os.preadv

    def shrinking(fd, buffers, offset):
        return 0 if cut <= offset < end else real(fd, buffers, offset)  # the file "ends" after three chunks of the tardisk

    monkeypatch.setattr(os, 'preadv', shrinking)
    dest = tmp_path / 'bundle.zip'
    dest.write_bytes(b'an earlier bundle')
    with pytest.raises(ChecksumError, match=r'payload s \(/S\.V00 on the ISO\) does not match its descriptor \(sha-256 \w+, computed \w+ over 12288 bytes\)'):
        export_bundle(plain70, str(dest), **VENDOR)
    assert dest.read_bytes() == b'an earlier bundle' and os.listdir(tmp_path) == ['bundle.zip']
