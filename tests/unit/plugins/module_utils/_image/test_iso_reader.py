# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import io
import os
import random
import shutil
import subprocess

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import IsoReader, PyCdlib, normalize
from ansible_collections.esxi.customizer.tests.unit.plugins.module_utils.counting_file import CountingFile

pytestmark = pytest.mark.skipif(shutil.which('xorriso') is None, reason='xorriso is needed to build test ISOs')

PAYLOAD_SIZE = 4 * 1024 * 1024


def make_iso(tmp_path, name: str, files: dict, joliet_rock_ridge: bool, volume_id: str = 'ESXI-TEST-ISO') -> str:
    """Build an ISO with xorriso (an independent writer) from ``{relative path: bytes}``."""
    tree = tmp_path / (name + '.tree')
    for rel, data in files.items():
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    out = tmp_path / (name + '.iso')
    boot = [n for n in files if n.lower() == 'isolinux.bin'][0]
    efi = [n for n in files if n.lower() == 'efiboot.img'][0]
    cmd = ['xorriso'] + ([] if joliet_rock_ridge else ['-rockridge', 'off']) + ['-as', 'mkisofs', '-quiet']
    cmd += ['-J', '-R'] if joliet_rock_ridge else []
    cmd += [
        '-V',
        volume_id,
        '-A',
        'ESXIMAGE',
        '-o',
        str(out),
        '-c',
        'BOOT.CAT',
        '-b',
        boot,
        '-no-emul-boot',
        '-boot-load-size',
        '4',
        '-boot-info-table',
        '-eltorito-alt-boot',
        '-e',
        efi,
        '-no-emul-boot',
        str(tree),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    return str(out)


def tree_files(lower: bool) -> dict:
    files = {
        'ISOLINUX.BIN': os.urandom(6000),
        'EFIBOOT.IMG': b'\0' * 65536,
        'BOOT.CFG': b'kernel=/b.b00\n',
        'EFI/BOOT/BOOT.CFG': b'kernel=/b.b00\nmodules=/big.v00\n',
        'BIG.V00': b'\xab' * PAYLOAD_SIZE,
        'README': b'no extension\n',
        'UPGRADE/PRECHECK.PY': b'print(1)\n',
    }
    return {(k.lower() if lower else k): v for k, v in files.items()}


@pytest.fixture(scope='module')
def isos(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('isos')
    return {
        'plain': make_iso(tmp, 'plain', tree_files(lower=False), joliet_rock_ridge=False),
        'jr': make_iso(tmp, 'jr', tree_files(lower=True), joliet_rock_ridge=True),
    }


def test_normalize():
    assert normalize('/EFI/BOOT/BOOT.CFG;1') == '/efi/boot/boot.cfg'
    assert normalize('README.;1') == '/readme'
    assert normalize('\\efi\\boot\\') == '/efi/boot'


def test_plain_iso_facts(isos):
    with IsoReader(isos['plain']) as iso:
        assert iso.trees == ['iso9660']
        assert (iso.has_joliet, iso.has_rock_ridge) == (False, False)
        assert iso.volume_id == 'ESXI-TEST-ISO'
        assert iso.application_id == 'ESXIMAGE'
        paths = sorted(entry.path for entry in iso.files())
        assert paths == ['/BIG.V00', '/BOOT.CAT', '/BOOT.CFG', '/EFI/BOOT/BOOT.CFG', '/EFIBOOT.IMG', '/ISOLINUX.BIN', '/README', '/UPGRADE/PRECHECK.PY']
        big = iso.find('/big.v00')
        assert big.iso_path == '/BIG.V00;1' and big.size == PAYLOAD_SIZE and big.extent > 16
        assert big.joliet_path is None and big.rr_path is None
        assert iso.find('efi/boot/boot.cfg;1').path == '/EFI/BOOT/BOOT.CFG'
        assert iso.find('/README.').path == '/README'
        assert iso.find('/nothere') is None
        assert iso.read('/efi/boot/boot.cfg') == b'kernel=/b.b00\nmodules=/big.v00\n'
        assert iso.boot_catalog.path == '/BOOT.CAT'


def test_joliet_rock_ridge_iso_is_found_in_every_tree(isos):
    with IsoReader(isos['jr']) as iso:
        assert iso.trees == ['iso9660', 'joliet', 'rock_ridge']
        entry = iso.find('/EFI/BOOT/BOOT.CFG')
        assert entry.iso_path == '/EFI/BOOT/BOOT.CFG;1'
        assert entry.rr_path == '/efi/boot/boot.cfg'
        assert entry.joliet_path == '/efi/boot/boot.cfg'
        assert iso.find('/efi/boot/boot.cfg') is entry
        upgrade = iso.find('/UPGRADE/PRECHECK.PY')
        assert upgrade.rr_path == '/upgrade/precheck.py'
        assert len(iso.files()) == 8  # the Joliet names joined the ISO 9660 entries, no duplicates


@pytest.mark.parametrize('style', ['plain', 'jr'])
def test_el_torito_entries(isos, style):
    with IsoReader(isos[style]) as iso:
        bios, uefi = iso.el_torito()
        assert (bios.platform, bios.path.upper(), bios.load_size, bios.media) == ('bios', '/ISOLINUX.BIN', 4, 'no-emulation')
        assert bios.boot_info_table is True and bios.bootable
        assert (uefi.platform, uefi.path.upper(), uefi.boot_info_table, uefi.size) == ('uefi', '/EFIBOOT.IMG', False, 65536)


def test_stream_is_chunked_and_complete(isos):
    with IsoReader(isos['plain']) as iso:
        chunks = list(iso.stream('/BIG.V00', chunk_size=1024 * 1024))
        assert [len(c) for c in chunks] == [1024 * 1024] * 4
        assert b''.join(chunks) == b'\xab' * PAYLOAD_SIZE
        with pytest.raises(FormatError, match='more than the 1024 expected'):
            iso.read('/BIG.V00', max_size=1024)
        with pytest.raises(FormatError, match='has no file /NOPE'):
            iso.read('/NOPE')


def test_opening_and_listing_do_not_read_payloads(isos):
    with CountingFile(isos['plain'], 'r') as handle:
        with IsoReader(isos['plain'], fileobj=handle) as iso:
            iso.files()
            iso.el_torito()
            iso.read('/BOOT.CFG')
        # volume descriptors, path tables, directories, boot catalog, ISOLINUX.BIN (boot-info-table check)
        assert handle.bytes_read < 256 * 1024, handle.bytes_read
        assert handle.bytes_read < PAYLOAD_SIZE / 16


def test_bad_inputs(tmp_path, isos):
    with pytest.raises(EsxiCustomizerError, match='does not exist'):
        IsoReader(str(tmp_path / 'missing.iso'))
    with pytest.raises(EsxiCustomizerError, match='is a directory'):
        IsoReader(str(tmp_path))
    junk = tmp_path / 'junk.iso'
    junk.write_bytes(os.urandom(200 * 1024))
    with pytest.raises(FormatError, match=r'junk.iso: is not an ISO 9660 image \(no primary volume descriptor; 204800 bytes\)'):
        IsoReader(str(junk))
    empty = tmp_path / 'empty.iso'
    empty.write_bytes(b'')
    with pytest.raises(FormatError, match='empty.iso: is not an ISO 9660 image'):
        IsoReader(str(empty))
    data = open(isos['plain'], 'rb').read()
    truncated = tmp_path / 'truncated.iso'
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r'truncated.iso: is truncated: the volume is \d+ bytes but the file has only \d+'):
        IsoReader(str(truncated))
    for cut in (40 * 1024, 200000):  # inside the volume descriptors, inside the directory records
        short = tmp_path / ('short%d.iso' % cut)
        short.write_bytes(data[:cut])
        with pytest.raises(FormatError, match='short%d.iso: is truncated: the volume is' % cut):
            IsoReader(str(short))
    corrupt = bytearray(data)
    root_extent = int.from_bytes(data[16 * 2048 + 156 + 2 : 16 * 2048 + 156 + 6], 'little')
    corrupt[root_extent * 2048 : root_extent * 2048 + 2048] = b'\x7f' * 2048
    (tmp_path / 'corrupt.iso').write_bytes(bytes(corrupt))
    with pytest.raises(FormatError, match='corrupt.iso: (is not a readable ISO 9660 image|has corrupt directory records)'):
        IsoReader(str(tmp_path / 'corrupt.iso'))


def test_a_rock_ridge_name_holding_a_slash_is_refused(tmp_path):
    files = tree_files(lower=True)
    files['abcqdef.v00'] = b'module'
    path = make_iso(tmp_path, 'slash', files, joliet_rock_ridge=True)
    data = open(path, 'rb').read()
    assert data.count(b'abcqdef.v00') >= 1
    with open(path, 'wb') as out:  # the NM entry now names a path: what a hand-made remaster produced
        out.write(data.replace(b'abcqdef.v00', b'abc/def.v00'))
    with pytest.raises(FormatError, match=r"slash.iso: has a Rock Ridge file name 'abc/def.v00' that is not a file name"):
        with IsoReader(path) as reader:
            reader.files()


@pytest.mark.parametrize('length', [64, 2048, 2049, 38912, 38913, 100003])
def test_the_boot_info_table_checksum_is_pycdlibs(length):
    pycdlib = pytest.importorskip('pycdlib')
    ours, theirs = PyCdlib(), pycdlib.PyCdlib()
    ours.logical_block_size = theirs.logical_block_size = 2048
    data = random.Random(length).randbytes(length + 3000)  # what follows the file on the image is read too
    for declared in (length, length - 1):
        expected = theirs._calculate_eltorito_boot_info_table_csum(io.BytesIO(data), declared)
        assert ours._calculate_eltorito_boot_info_table_csum(io.BytesIO(data), declared) == expected
    # an image that ends inside the boot file: pycdlib pads the short sector with zeros
    assert ours._calculate_eltorito_boot_info_table_csum(io.BytesIO(data[:1000]), 5000) == theirs._calculate_eltorito_boot_info_table_csum(
        io.BytesIO(data[:1000]), 5000
    )
