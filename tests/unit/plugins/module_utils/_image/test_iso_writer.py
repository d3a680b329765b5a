# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The streaming ISO writer, checked with independent readers (xorriso, isoinfo, bsdtar)."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import struct
import subprocess
import time

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._io import copy as copy_engine
from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._image.edits import BytesContent, FileSliceContent, IsoEdits
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_writer import write_iso

pytestmark = pytest.mark.skipif(not shutil.which('xorriso') or not shutil.which('isoinfo'), reason='xorriso and isoinfo are needed')

BOOT_CFG = (
    b'bootstate=0\ntitle=Loading ESXi installer\ntimeout=5\nprefix=\nkernel=/b.b00\nkernelopt=cdromBoot runweasel\n'
    b'modules=/jumpstrt.gz --- /s.v00 --- /imgdb.tgz\nbuild=7.0.3-0.0.1\nupdated=0\n'
)


def _isolinux_bytes():
    # Any bytes work for the boot-info-table checks; use the real isolinux.bin when installed.
    for path in ('/usr/lib/ISOLINUX/isolinux.bin', '/usr/lib/syslinux/isolinux.bin'):
        if os.path.exists(path):
            with open(path, 'rb') as f:
                return f.read()
    return bytes(range(256)) * 64


def make_iso(tmp_path, name='src.iso', joliet_rr=False, big=0, extra_args=(), catalog='BOOT.CAT', extra_files=None):
    """An ESXi-shaped ISO: ISOLINUX.BIN (boot-info-table) + EFIBOOT.IMG El Torito entries, two BOOT.CFG."""
    tree = tmp_path / ('tree-' + name)
    (tree / 'EFI' / 'BOOT').mkdir(parents=True)
    for rel, data in (extra_files or {}).items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(data)
    (tree / 'ISOLINUX.BIN').write_bytes(_isolinux_bytes())
    (tree / 'BOOT.CFG').write_bytes(BOOT_CFG)
    (tree / 'EFI' / 'BOOT' / 'BOOT.CFG').write_bytes(BOOT_CFG)
    (tree / 'EFIBOOT.IMG').write_bytes(b'\xeb\x3c\x90EFIBOOT' + bytes(65536 - 10))
    (tree / 'B.B00').write_bytes(b'kernel\n' * 100)
    (tree / 'S.V00').write_bytes(os.urandom(300000 + big))
    (tree / 'IMGDB.TGZ').write_bytes(b'not really a tgz')
    out = tmp_path / name
    args = [
        'xorriso',
        '-as',
        'mkisofs',
        '-quiet',
        '-V',
        'ESXI-7.0.3-TEST',
        '-A',
        'ESXIMAGE',
        '-o',
        str(out),
        '-c',
        catalog,
        '-b',
        'ISOLINUX.BIN',
        '-no-emul-boot',
        '-boot-load-size',
        '4',
        '-boot-info-table',
        '-eltorito-alt-boot',
        '-eltorito-platform',
        'efi',
        '-b',
        'EFIBOOT.IMG',
        '-no-emul-boot',
    ]
    args += ['-J', '-R'] if joliet_rr else ['--norock']
    subprocess.run(args + list(extra_args) + [str(tree)], check=True, capture_output=True)
    return out


def isoinfo_names(path, tree='-l'):
    out = subprocess.run(
        ['isoinfo', tree, '-f', '-i', str(path)] if tree != '-l' else ['isoinfo', '-f', '-i', str(path)], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def el_torito(path):
    out = subprocess.run(['xorriso', '-indev', str(path), '-report_el_torito', 'plain'], check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.startswith('El Torito')]


def bsdtar_read(path, member):
    return subprocess.run(['bsdtar', '-xOf', str(path), member], check=True, capture_output=True).stdout


def extent_of(path, iso_name):
    out = subprocess.run(['isoinfo', '-l', '-i', str(path)], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.rstrip().endswith(' ' + iso_name):
            return int(line.split('[')[1].split()[0])
    raise AssertionError('%s not listed' % iso_name)


def edits(tmp_path):
    payload = tmp_path / 'driver.vib'
    payload.write_bytes(b'HEADER' * 10 + b'PAYLOAD-BYTES' * 3000 + b'TRAILER')
    return IsoEdits(
        add={'/NET_R812.V00': FileSliceContent(str(payload), 60, 13 * 3000), '/KS.CFG': BytesContent(b'vmaccepteula\n')},
        replace={'/BOOT.CFG': BytesContent(BOOT_CFG.replace(b'/imgdb.tgz', b'/net_r812.v00 --- /imgdb.tgz'))},
        remove=['/B.B00'],
    )


def test_edits_land_and_both_el_torito_entries_survive(tmp_path):
    src = make_iso(tmp_path)
    before = src.read_bytes()
    dest = tmp_path / 'out.iso'
    result = write_iso(str(src), str(dest), edits(tmp_path))

    assert src.read_bytes() == before
    data = dest.read_bytes()
    assert result.size == len(data) and result.sha256 == hashlib.sha256(data).hexdigest()
    names = isoinfo_names(dest)
    assert '/NET_R812.V00;1' in names and '/KS.CFG;1' in names and '/B.B00;1' not in names and '/BOOT.CAT;1' in names
    assert bsdtar_read(dest, 'NET_R812.V00') == b'PAYLOAD-BYTES' * 3000
    assert bsdtar_read(dest, 'KS.CFG') == b'vmaccepteula\n'
    assert b'/net_r812.v00 --- /imgdb.tgz' in bsdtar_read(dest, 'BOOT.CFG')
    assert bsdtar_read(dest, 'EFI/BOOT/BOOT.CFG') == BOOT_CFG
    assert bsdtar_read(dest, 'S.V00') == bsdtar_read(src, 'S.V00')
    report = el_torito(dest)
    assert any('BIOS' in line and 'boot img' in line for line in report)
    assert any('UEFI' in line and 'boot img' in line for line in report)
    assert any('/ISOLINUX.BIN' in line for line in report) and any('/EFIBOOT.IMG' in line for line in report)
    assert any('boot-info-table' in line for line in report)
    # plain ISO9660 source stays plain: no Joliet, no Rock Ridge
    info = subprocess.run(['isoinfo', '-d', '-i', str(dest)], check=True, capture_output=True, text=True).stdout
    assert 'NO Joliet present' in info and 'NO Rock Ridge present' in info


def test_boot_info_table_is_recomputed_for_the_new_layout(tmp_path):
    src = make_iso(tmp_path)
    dest = tmp_path / 'out.iso'
    write_iso(str(src), str(dest), edits(tmp_path))
    image = bsdtar_read(dest, 'ISOLINUX.BIN')
    pvd_lba, file_lba, length, checksum = struct.unpack_from('<4I', image, 8)
    assert pvd_lba == 16
    assert file_lba == extent_of(dest, 'ISOLINUX.BIN;1')
    assert length == len(image)
    words = image[64:] + b'\x00' * (-len(image) % 4)
    assert checksum == sum(struct.unpack('<%dI' % (len(words) // 4), words)) & 0xFFFFFFFF
    assert image[64:] == _isolinux_bytes()[64:]
    # the UEFI image is byte for byte the source's
    assert bsdtar_read(dest, 'EFIBOOT.IMG') == bsdtar_read(src, 'EFIBOOT.IMG')


def test_joliet_and_rock_ridge_sources_get_lower_case_names(tmp_path):
    src = make_iso(tmp_path, joliet_rr=True)
    dest = tmp_path / 'out.iso'
    write_iso(str(src), str(dest), edits(tmp_path))
    assert '/net_r812.v00' in isoinfo_names(dest, '-J') and '/ks.cfg' in isoinfo_names(dest, '-J')
    assert '/net_r812.v00' in isoinfo_names(dest, '-R') and '/b.b00' not in isoinfo_names(dest, '-R')
    assert '/NET_R812.V00;1' in isoinfo_names(dest)
    # bsdtar prefers Rock Ridge names
    assert bsdtar_read(dest, 'net_r812.v00') == b'PAYLOAD-BYTES' * 3000
    assert len(el_torito(dest)) >= 6


@pytest.mark.parametrize('joliet_rr', [False, True])
def test_output_is_reproducible_across_runs_and_time_zones(tmp_path, monkeypatch, joliet_rr):
    src = make_iso(tmp_path, joliet_rr=joliet_rr)
    first = tmp_path / 'a.iso'
    write_iso(str(src), str(first), edits(tmp_path))
    time.sleep(1.1)  # a clock read anywhere would now give a different second
    monkeypatch.setenv('TZ', 'Asia/Kolkata')
    time.tzset()
    try:
        second = tmp_path / 'b.iso'
        write_iso(str(src), str(second), edits(tmp_path))
    finally:
        monkeypatch.delenv('TZ')
        time.tzset()
    assert first.read_bytes() == second.read_bytes()


def test_epoch_defaults_to_the_source_volume_date(tmp_path):
    src = make_iso(tmp_path)
    dest = tmp_path / 'out.iso'
    write_iso(str(src), str(dest), edits(tmp_path))
    src_pvd = src.read_bytes()[16 * 2048 : 17 * 2048]
    dest_pvd = dest.read_bytes()[16 * 2048 : 17 * 2048]
    assert dest_pvd[813:830] == src_pvd[813:830]  # creation date kept
    assert dest_pvd[830:846] == src_pvd[813:829]  # modification date pinned to it (hundredths may differ in offset byte)


def test_buffered_fallback_gives_identical_bytes(tmp_path, monkeypatch):
    src = make_iso(tmp_path)
    fast = tmp_path / 'fast.iso'
    r1 = write_iso(str(src), str(fast), edits(tmp_path))
    assert r1.copy_method == 'copy_file_range'
    slow = tmp_path / 'slow.iso'
    r2 = write_iso(str(src), str(slow), edits(tmp_path), allow_kernel_copy=False)
    assert r2.copy_method == 'buffered'

    def refuse(*args):
        raise OSError(errno.EXDEV, 'cross-device')

    monkeypatch.setattr(os, 'copy_file_range', refuse)
    xdev = tmp_path / 'xdev.iso'
    r3 = write_iso(str(src), str(xdev), edits(tmp_path))
    assert r3.copy_method == 'buffered'
    assert fast.read_bytes() == slow.read_bytes() == xdev.read_bytes()


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith('.tmp'))


def test_write_failure_leaves_previous_dest_and_no_temp_file(tmp_path, monkeypatch):
    src = make_iso(tmp_path)
    dest = tmp_path / 'out.iso'
    dest.write_bytes(b'previous build')
    before = src.read_bytes()

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(copy_engine.Copier, 'copy', full)
    with pytest.raises(EsxiCustomizerError, match='no space left'):
        write_iso(str(src), str(dest), edits(tmp_path))
    assert dest.read_bytes() == b'previous build'
    assert src.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_real_enospc_on_a_tiny_tmpfs(tmp_path):
    mnt = tmp_path / 'small'
    mnt.mkdir()
    src = make_iso(tmp_path)
    if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', str(mnt)], capture_output=True, check=False).returncode != 0:
        pytest.skip('cannot mount a tmpfs here (needs root)')
    try:
        (mnt / 'out.iso').write_bytes(b'previous build')
        with pytest.raises(EsxiCustomizerError, match='no space left'):
            write_iso(str(src), str(mnt / 'out.iso'), edits(tmp_path))
        assert (mnt / 'out.iso').read_bytes() == b'previous build'
        assert _leftovers(mnt) == []
    finally:
        subprocess.run(['umount', str(mnt)], check=True)


def test_truncated_source_fails_before_writing(tmp_path):
    src = make_iso(tmp_path)
    cut = tmp_path / 'cut.iso'
    cut.write_bytes(src.read_bytes()[: -(300 << 10) - 100000])  # past xorriso's 300 KiB tail padding
    with pytest.raises(FormatError, match='truncated'):
        write_iso(str(cut), str(tmp_path / 'out.iso'), edits(tmp_path))
    assert not (tmp_path / 'out.iso').exists() and _leftovers(tmp_path) == []


def test_not_an_iso_is_a_clear_error(tmp_path):
    bogus = tmp_path / 'bogus.iso'
    bogus.write_bytes(b'\x00' * 70000)
    with pytest.raises(FormatError, match='bogus.iso: not a readable ISO9660 image'):
        write_iso(str(bogus), str(tmp_path / 'out.iso'), IsoEdits())


def test_bad_names_and_same_dest_are_refused(tmp_path):
    src = make_iso(tmp_path)
    with pytest.raises(EsxiCustomizerError, match='8.3'):
        write_iso(str(src), str(tmp_path / 'o.iso'), IsoEdits(add={'/net-r8125.v00': BytesContent(b'x')}))
    with pytest.raises(EsxiCustomizerError, match='differ'):
        write_iso(str(src), str(src), IsoEdits())
    with pytest.raises(EsxiCustomizerError, match='volume_id'):
        write_iso(str(src), str(tmp_path / 'o.iso'), IsoEdits(volume_id='lower case'))
    assert _leftovers(tmp_path) == []


def test_volume_id_is_set(tmp_path):
    src = make_iso(tmp_path)
    dest = tmp_path / 'out.iso'
    write_iso(str(src), str(dest), IsoEdits(volume_id='ESXI-CUSTOM-1'))
    info = subprocess.run(['isoinfo', '-d', '-i', str(dest)], check=True, capture_output=True, text=True).stdout
    assert 'Volume id: ESXI-CUSTOM-1' in info


def test_larger_payload_is_hashed_while_copied(tmp_path):
    src = make_iso(tmp_path, big=40 << 20)  # more than two hash pieces in one extent
    dest = tmp_path / 'out.iso'
    result = write_iso(str(src), str(dest), edits(tmp_path))
    assert result.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert bsdtar_read(dest, 'S.V00') == bsdtar_read(src, 'S.V00')


def test_volume_id_is_set_in_the_joliet_descriptor_too(tmp_path):
    src = make_iso(tmp_path, joliet_rr=True)
    dest = tmp_path / 'out.iso'
    write_iso(str(src), str(dest), IsoEdits(volume_id='ESXI-CUSTOM-1'))
    primary = subprocess.run(['isoinfo', '-d', '-i', str(dest)], check=True, capture_output=True, text=True).stdout
    assert 'Volume id: ESXI-CUSTOM-1' in primary
    data = dest.read_bytes()
    svds = [data[sector * 2048 : (sector + 1) * 2048] for sector in range(17, 32)]
    joliet = [d for d in svds if d[0] == 2 and d[1:6] == b'CD001'][0]
    assert joliet[40:72].decode('utf-16_be').rstrip() == 'ESXI-CUSTOM-1'


def test_records_without_version_numbers_are_replaced_and_removed(tmp_path):
    # mkisofs -N writes BOOT.CFG instead of BOOT.CFG;1; the edits must find those records as they are
    src = make_iso(tmp_path, extra_args=['-N'])
    assert '/BOOT.CFG' in isoinfo_names(src)
    dest = tmp_path / 'out.iso'
    write_iso(str(src), str(dest), edits(tmp_path))
    names = isoinfo_names(dest)
    assert not {'/B.B00', '/B.B00;1'} & names and '/NET_R812.V00;1' in names
    assert b'/net_r812.v00 --- /imgdb.tgz' in bsdtar_read(dest, 'BOOT.CFG')


def _catalog_entries(path):
    """(platform id, sector count) of every El Torito entry, read from the boot catalog bytes."""
    data = open(path, 'rb').read()
    for sector in range(17, 32):
        desc = data[sector * 2048 : (sector + 1) * 2048]
        if desc[0] == 0 and desc[1:6] == b'CD001' and desc[7:30].startswith(b'EL TORITO'):
            catalog = struct.unpack_from('<I', desc, 71)[0] * 2048
            break
    entries = [(data[catalog + 1], struct.unpack_from('<H', data, catalog + 32 + 6)[0])]
    offset = catalog + 64
    while data[offset] in (0x90, 0x91):
        platform, count = data[offset + 1], struct.unpack_from('<H', data, offset + 2)[0]
        for index in range(count):
            entry = offset + 32 * (index + 1)
            entries.append((platform, struct.unpack_from('<H', data, entry + 6)[0]))
        offset += 32 * (count + 1)
    return entries, catalog


def test_uefi_entry_with_load_size_zero_and_catalog_in_a_subdirectory(tmp_path):
    # Some masters write 0 ("whole image") as the UEFI entry's load size; the catalog may sit in a sub-directory.
    src = make_iso(tmp_path, catalog='EFI/BOOT.CAT')
    entries, catalog = _catalog_entries(src)
    assert [platform for platform, _count in entries] == [0x00, 0xEF]
    with open(src, 'r+b') as f:
        f.seek(catalog + 64 + 32 + 6)
        f.write(struct.pack('<H', 0))
    assert _catalog_entries(src)[0][1] == (0xEF, 0)
    dest = tmp_path / 'out.iso'
    write_iso(str(src), str(dest), edits(tmp_path))
    assert _catalog_entries(dest)[0] == [(0x00, 4), (0xEF, 0)]
    assert '/EFI/BOOT.CAT;1' in isoinfo_names(dest)
    assert bsdtar_read(dest, 'EFIBOOT.IMG') == bsdtar_read(src, 'EFIBOOT.IMG')
    assert any('UEFI' in line and 'boot img' in line for line in el_torito(dest))


def test_vmware_names_and_a_root_of_200_files(tmp_path):
    """VMware's own names (VMWARE-ESX-BASE-OSL.TXT, .DISCINFO: pycdlib sees a relaxed interchange level), a root directory
    spanning several sectors, files in UPGRADE/ and EFI/BOOT/: edits land and every other file keeps its bytes."""
    extra = {'VMWARE-ESX-BASE-OSL.TXT': b'osl\n', '.DISCINFO': b'7.0.3\n', 'UPGRADE/PRECHECK.PY': b'#\n', 'EFI/BOOT/BOOTX64.EFI': b'MZ' * 2000}
    extra.update({'DRV%03d.V00' % n: b'driver %d\n' % n for n in range(200)})
    src = make_iso(tmp_path, extra_args=['-relaxed-filenames', '-l', '-allow-leading-dots'], extra_files=extra)
    import pycdlib

    probe = pycdlib.PyCdlib()
    probe.open(str(src))
    assert probe.interchange_level >= 3  # not the strict level 1 of plain 8.3 names
    probe.close()
    dest = tmp_path / 'out.iso'
    write_iso(str(src), str(dest), edits(tmp_path))
    names = isoinfo_names(dest)
    assert {'/VMWARE-ESX-BASE-OSL.TXT;1', '/.DISCINFO;1', '/UPGRADE/PRECHECK.PY;1', '/EFI/BOOT/BOOTX64.EFI;1', '/NET_R812.V00;1'} <= names
    assert len([n for n in names if n.startswith('/DRV')]) == 200
    for member in ('DRV199.V00', 'VMWARE-ESX-BASE-OSL.TXT', 'EFI/BOOT/BOOTX64.EFI', '.DISCINFO'):
        assert bsdtar_read(dest, member) == bsdtar_read(src, member), member


def test_hidden_uefi_boot_image_is_carried_over(tmp_path):
    from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import IsoReader

    def uefi_image(path):
        with IsoReader(str(path)) as reader:
            entry = [e for e in reader.el_torito() if e.platform == 'uefi'][0]
        assert entry.path is None
        with open(path, 'rb') as handle:
            handle.seek(entry.extent * 2048)
            return handle.read(entry.size)

    src = make_iso(tmp_path, extra_args=['-hide', 'EFIBOOT.IMG'])
    dest = tmp_path / 'out.iso'
    write_iso(str(src), str(dest), edits(tmp_path))
    assert uefi_image(dest) == uefi_image(src) == b'\xeb\x3c\x90EFIBOOT' + bytes(65536 - 10)


def _frontier_trace(monkeypatch):
    """Record, at each report to the hasher, how many reported bytes it cannot reach yet (waiting for a gap)."""
    reports, pending = {}, []
    real = copy_engine.FollowingHasher.finished

    def finished(self, start, end):
        reports[start] = max(end, reports.get(start, end))
        pos = 0
        while pos in reports:
            pos = reports[pos]
        pending.append(sum(e - s for s, e in reports.items() if s >= pos))
        real(self, start, end)

    monkeypatch.setattr(copy_engine.FollowingHasher, 'finished', finished)
    return reports, pending


def test_hash_follows_the_copy_with_files_added_and_removed(tmp_path, monkeypatch):
    src = make_iso(tmp_path, big=40 << 20)  # S.V00 spans several hash pieces
    dest = tmp_path / 'out.iso'
    reports, pending = _frontier_trace(monkeypatch)
    result = write_iso(str(src), str(dest), edits(tmp_path))
    data = dest.read_bytes()
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    # The added files' extents lie before S.V00 and B.B00's freed sector stays a hole: if either were
    # reported late, the hasher would sit on the whole payload until the end of the copy.
    assert max(pending) < 4 << 20
    nosha = tmp_path / 'nosha.iso'
    assert write_iso(str(src), str(nosha), edits(tmp_path), checksum=False).sha256 is None
    assert nosha.read_bytes() == data


def test_failure_mid_copy_with_the_hasher_running_leaves_no_temp_file(tmp_path, monkeypatch):
    import threading

    src = make_iso(tmp_path, big=40 << 20)
    dest = tmp_path / 'out.iso'
    dest.write_bytes(b'previous build')
    real = copy_engine.Copier.copy
    calls = []

    def fail_later(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 6:
            raise OSError(errno.EIO, 'Input/output error')
        return real(self, *args, **kwargs)

    monkeypatch.setattr(copy_engine.Copier, 'copy', fail_later)
    with pytest.raises(EsxiCustomizerError, match='Input/output error'):
        write_iso(str(src), str(dest), edits(tmp_path))
    assert len(calls) == 6
    assert dest.read_bytes() == b'previous build' and _leftovers(tmp_path) == []
    assert not [t for t in threading.enumerate() if t.name == 'esxi-customizer-sha256']


def test_gaps_between_extents():
    from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_writer import _gaps

    class Ino:
        def __init__(self, loc, length):
            self.loc, self.data_length = loc, length

        def extent_location(self):
            return self.loc

    inodes = [Ino(30, 5000), Ino(20, 2048), Ino(99, 0), Ino(21, 1), Ino(40, 10)]
    assert list(_gaps(inodes, 2048)) == [(0, 20 * 2048), (22 * 2048, 30 * 2048), (33 * 2048, 40 * 2048)]
