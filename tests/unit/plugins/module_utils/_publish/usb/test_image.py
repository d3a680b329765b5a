# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""disk_image pieces: MBR bytes, syslinux.cfg rewrite, version rules, manifest decision, plan, and whole builds
read back with independent tools (sfdisk, mtools, fsck.fat)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb import image as di
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb import fat as usb_fat
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb import manifest as usb_manifest
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb import mbr as usb_mbr
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb import syslinux as usb_syslinux
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb import tools as usb_tools
from ansible_collections.esxi.customizer.plugins.module_utils._errors import DiskImageError, FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, UnsupportedError
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures as _shared_dir

HAVE_BUILD_TOOLS = all(shutil.which(tool) or shutil.which(tool, path='/usr/sbin:/sbin') for tool in ('mkfs.vfat', 'mcopy', 'mmd', 'syslinux', 'xorriso'))
needs_tools = pytest.mark.skipif(not HAVE_BUILD_TOOLS, reason='mkfs.vfat, mtools, syslinux and xorriso are needed')
MTOOLS_ENV = dict(os.environ, MTOOLS_SKIP_CHECK='1')


def shared_fixtures():
    found = _shared_dir()
    return str(found) if found is not None else None


# -- MBR -------------------------------------------------------------------------------------


def test_mbr_sector_layout():
    code = b'\xfa' * 440
    sector = usb_mbr.mbr_sector(code, 0x11223344, 2048, count=129024)
    assert len(sector) == 512
    assert sector[:440] == code
    assert struct.unpack_from('<I', sector, 440)[0] == 0x11223344
    entry = sector[446:462]
    assert entry[0] == 0x80 and entry[4] == 0x0C
    assert struct.unpack_from('<II', entry, 8) == (2048, 129024)
    # CHS of LBA 2048 with 255 heads / 63 sectors: cylinder 0, head 32, sector 33
    assert entry[1:4] == bytes((32, 33, 0))
    assert sector[462:510] == bytes(48)  # the other three entries are empty
    assert sector[510:] == b'\x55\xaa'


def test_chs_beyond_1023_cylinders_is_the_conventional_maximum():
    assert usb_mbr.chs(1024 * 255 * 63) == b'\xfe\xff\xff'
    assert usb_mbr.chs(0) == bytes((0, 1, 0))


def test_mbr_refuses_oversized_code_and_partitions():
    with pytest.raises(ValueError):
        usb_mbr.mbr_sector(b'x' * 441, 0, 2048, count=10)
    with pytest.raises(ValueError):
        usb_mbr.mbr_sector(b'', 0, 2048, count=0xFFFFFFFF)


@pytest.mark.skipif(not shutil.which('sfdisk', path='/usr/sbin:/sbin:' + os.environ.get('PATH', '')), reason='sfdisk needed')
def test_sfdisk_reads_our_partition_table(tmp_path):
    img = tmp_path / 'disk.img'
    with open(img, 'wb') as stream:
        stream.write(usb_mbr.mbr_sector(b'', 0xCAFE0001, 2048, count=129024))
        stream.truncate(64 * 1024 * 1024)
    sfdisk = shutil.which('sfdisk', path='/usr/sbin:/sbin:' + os.environ.get('PATH', ''))
    table = json.loads(subprocess.run([sfdisk, '--json', str(img)], check=True, capture_output=True, text=True).stdout)['partitiontable']
    assert table['label'] == 'dos' and table['id'] == '0xcafe0001'
    [part] = table['partitions']
    assert (part['start'], part['size'], part['type'], part.get('bootable')) == (2048, 129024, 'c', True)


# -- syslinux.cfg ----------------------------------------------------------------------------


STOCK = (
    b'DEFAULT menu.c32\r\nMENU TITLE ESXi-7.0.3 Boot Menu\r\nNOHALT 1\r\nPROMPT 0\r\nTIMEOUT 80\r\n'
    b'LABEL install\r\n  KERNEL mboot.c32\r\n  APPEND -c boot.cfg\r\n  MENU LABEL ESXi ^Installer\r\n'
    b'LABEL hddboot\r\n  LOCALBOOT 0x80\r\n  MENU LABEL ^Boot from local disk\r\n'
)


def test_syslinux_cfg_adds_partition_option_and_keeps_everything_else():
    out = usb_syslinux.syslinux_cfg(STOCK)
    assert out == STOCK.replace(b'APPEND -c boot.cfg\r\n', b'APPEND -c boot.cfg -p 1\r\n')
    assert usb_syslinux.syslinux_cfg(out) == out  # applying twice adds nothing


def test_syslinux_cfg_puts_p_before_kernel_options():
    # mboot parses its options with getopt: -p must come before the first kernel option
    line = b'  append -c boot.cfg ks=cdrom:/KS1.CFG +++\n'
    assert usb_syslinux.syslinux_cfg(line) == b'  append -c boot.cfg -p 1 ks=cdrom:/KS1.CFG +++\n'
    for untouched in (b'APPEND boot.cfg\n', b'APPEND -c boot.cfg -p 2\n', b'APPEND -c\n', b'  COM32 cat.c32\n'):
        assert usb_syslinux.syslinux_cfg(untouched) == untouched


def test_syslinux_cfg_of_a_real_isolinux_cfg():
    shared = shared_fixtures()
    if shared is None:
        pytest.skip('shared fixtures not found (set ESXI_SHARED_FIXTURES)')
    with open(os.path.join(shared, 'bootcfg-isolinux-samples', 'esxi-6.0-custom.ISOLINUX.CFG'), 'rb') as stream:
        data = stream.read()
    out = usb_syslinux.syslinux_cfg(data).decode()
    appends = [line.strip() for line in out.splitlines() if line.strip().upper().startswith('APPEND')]
    assert appends == [
        'APPEND -c boot.cfg -p 1 ks=cdrom:/KS1.CFG +++',
        'APPEND -c boot.cfg -p 1 ks=http://192.168.10.3:/FromHTTP/KS1.CFG +++',
        'APPEND -c boot.cfg -p 1',
    ]
    assert len(out.splitlines()) == len(data.splitlines())


# -- versions --------------------------------------------------------------------------------


def test_isolinux_version_from_banner():
    assert usb_syslinux.isolinux_version(b'\0\0ISOLINUX 3.86 2010-04-01 ETCD Copyright') == (3, 86)
    assert usb_syslinux.isolinux_version(b'nothing here') is None
    if os.path.isfile(fixiso.ISOLINUX_BIN):
        with open(fixiso.ISOLINUX_BIN, 'rb') as stream:
            assert usb_syslinux.isolinux_version(stream.read()) is not None


def test_installer_version():
    assert usb_syslinux.syslinux_installer_version('syslinux 6.04  Copyright 1994-2015 H. Peter Anvin et al') == (6, 4)
    assert usb_syslinux.syslinux_installer_version('SYSLINUX 3.86 2010-04-01  Copyright') == (3, 86)
    assert usb_syslinux.syslinux_installer_version('bash: syslinux: not found') is None


class ScriptedRunner(usb_tools.CommandRunner):
    def __init__(self, answer):
        self.answer = answer

    def run(self, argv, stdin=None, env=None, *, cwd=None):
        return self.answer


def test_installer_version_from_option_or_embedded_banner(tmp_path):
    old = tmp_path / 'syslinux-3.86'
    old.write_bytes(b'\x7fELF...' + b'\0' * 100 + b'SYSLINUX 3.86 2010-04-01 Copyright (C) 1994-2010 H. Peter Anvin' + b'\0' * 10)
    usage = (1, '', 'Usage: %s [-sfr][-d directory][-o offset] device' % old)
    assert usb_syslinux.installer_version(ScriptedRunner(usage), str(old)) == (3, 86)
    assert usb_syslinux.installer_version(ScriptedRunner((0, 'syslinux 6.04  Copyright 1994-2015 H. Peter Anvin et al', '')), str(old)) == (6, 4)
    junk = tmp_path / 'notsyslinux'
    junk.write_bytes(b'#!/bin/sh\nexit 1\n')
    with pytest.raises(DiskImageError, match='not a syslinux installer'):
        usb_syslinux.installer_version(ScriptedRunner((1, '', 'nope')), str(junk))
    if shutil.which('syslinux'):
        assert usb_syslinux.installer_version(usb_tools.CommandRunner(), shutil.which('syslinux'))[0] >= 4


def test_install_argv_by_generation():
    assert usb_syslinux.syslinux_install_argv('/s', (3, 86), 1048576, image='img') == ['/s', '-o', '1048576', 'img']
    assert usb_syslinux.syslinux_install_argv('/s', (6, 4), 1048576, image='img') == ['/s', '--install', '--offset', '1048576', 'img']


@pytest.mark.parametrize(
    'iso_version, installer, ok',
    [
        ((3, 86), (3, 86), True),
        ((3, 86), (4, 7), True),
        ((3, 86), (6, 4), False),
        ((3, 86), (5, 1), False),
        ((6, 4), (6, 4), True),
        ((6, 3), (6, 4), False),
        ((6, 4), (3, 86), False),
        (None, (6, 4), False),
        ((6, 4), None, False),
    ],
)
def test_syslinux_compatibility_rule(iso_version, installer, ok):
    assert usb_syslinux.syslinux_compatible(iso_version, installer) is ok


# -- names and sizes -------------------------------------------------------------------------


def test_fat_path_check():
    assert usb_fat.check_fat_path('/EFI/BOOT/BOOT.CFG') == '/EFI/BOOT/BOOT.CFG'
    assert usb_fat.check_fat_path('/vmware-esx-base-osl.txt') == '/vmware-esx-base-osl.txt'
    for bad in ('/a:b', '/x/../y', '/name.', '/tab\tname', '/' + 'n' * 256, '/'):
        with pytest.raises(DiskImageError):
            usb_fat.check_fat_path(bad)


def test_parent_dirs_come_before_children():
    assert usb_fat.parent_dirs(['/A', '/EFI/BOOT/X', '/UPGRADE/Y', '/EFI/Z']) == ['/EFI', '/UPGRADE', '/EFI/BOOT']


def test_sizes():
    assert usb_fat.default_size([10], 0) == usb_fat.MIN_SIZE
    big = [400 * usb_fat.MIB]
    size = usb_fat.default_size(big, 3)
    assert size % usb_fat.MIB == 0 and size > 400 * usb_fat.MIB + usb_mbr.PARTITION_START * usb_mbr.SECTOR
    assert usb_fat.cluster_sectors((size // 512) - 2048) == 8
    assert usb_fat.cluster_sectors(64 * 2048 - 2048) == 1
    with pytest.raises(DiskImageError):
        usb_fat.cluster_sectors(1000)


# -- manifest --------------------------------------------------------------------------------


def test_manifest_round_trip_and_decision(tmp_path):
    doc = {'format': usb_manifest.MANIFEST_FORMAT, 'digest': 'abc', 'size': 4096, 'request': {'x': 1}}
    blob = usb_manifest.encode_manifest(doc)
    assert usb_manifest.decode_manifest(blob + b'\0' * 100) == doc
    assert usb_manifest.decode_manifest(b'\0' * 600) is None
    assert usb_manifest.decode_manifest(blob[:-1]) is None  # truncated
    assert usb_manifest.decode_manifest(usb_manifest.MANIFEST_MAGIC + struct.pack('<I', 3) + b'{x}') is None
    img = tmp_path / 'img'
    with open(img, 'wb') as stream:
        stream.write(usb_mbr.mbr_sector(b'', 1, 2048, count=10))
        stream.seek(usb_manifest.MANIFEST_OFFSET)
        stream.write(blob)
        stream.truncate(4096 * 300)
    assert usb_manifest.read_image_manifest(str(img)) == doc
    assert usb_manifest.read_image_manifest(str(tmp_path / 'absent')) is None
    assert usb_manifest.up_to_date(doc, 'abc', 4096)
    assert not usb_manifest.up_to_date(doc, 'abd', 4096)  # another request
    assert not usb_manifest.up_to_date(doc, 'abc', 8192)  # image changed size since
    assert not usb_manifest.up_to_date(None, 'abc', 4096)


def test_manifest_without_mbr_signature_is_not_ours(tmp_path):
    img = tmp_path / 'img'
    img.write_bytes(b'\0' * usb_manifest.MANIFEST_OFFSET + usb_manifest.encode_manifest({'format': usb_manifest.MANIFEST_FORMAT}))
    assert usb_manifest.read_image_manifest(str(img)) is None


# -- plan and build on fixture ISOs ----------------------------------------------------------


@pytest.fixture(scope='module')
def src70(tmp_path_factory):
    if not shutil.which('xorriso'):
        pytest.skip('xorriso is needed to build fixture ISOs')
    path = tmp_path_factory.mktemp('src') / 'esxi70.iso'
    fixiso.build_esxi_iso(str(path), style='70')
    return str(path)


@pytest.fixture(scope='module')
def src6x_jr(tmp_path_factory):
    if not shutil.which('xorriso'):
        pytest.skip('xorriso is needed to build fixture ISOs')
    path = tmp_path_factory.mktemp('src') / 'esxi6x-jr.iso'
    fixiso.build_esxi_iso(str(path), style='6x', joliet_rock_ridge=True)
    return str(path)


def test_plan_files_bootcfg_and_kickstart(src70, tmp_path):
    ks = tmp_path / 'ks.cfg'
    ks.write_bytes(b'vmaccepteula\n')
    with EsxiImage.open(src70) as image:
        plan = di.plan_image(image, src70, kickstart=str(ks), kernelopt_add=['-cdromBoot'], syslinux_version=(6, 4))
        iso_files = {entry.path for entry in image.reader.files()}
    assert plan.files['/KS.CFG'] == b'vmaccepteula\n'
    assert '/ISOLINUX.CFG' not in plan.files and b'-c boot.cfg -p 1' in plan.files['/SYSLINUX.CFG']
    for key in ('/BOOT.CFG', '/EFI/BOOT/BOOT.CFG'):
        text = plan.files[key].decode()
        assert 'kernelopt=runweasel ks=usb:/KS.CFG\n' in text
    assert plan.boot['bios']['kernelopt'] == plan.boot['uefi']['kernelopt'] == 'runweasel ks=usb:/KS.CFG'
    # ISOLINUX.CFG is renamed; LDLINUX.C32 comes from the syslinux installer, matching its ldlinux.sys
    assert '/LDLINUX.C32' in iso_files
    assert set(plan.files) == (iso_files - {'/ISOLINUX.CFG', '/LDLINUX.C32'}) | {'/SYSLINUX.CFG', '/KS.CFG'}
    assert plan.dirs[0] == '/EFI' and '/EFI/BOOT' in plan.dirs
    assert plan.request['kickstart_sha256'] and plan.request['syslinux'] == '6.04'


def test_plan_digest_depends_on_every_option(src70, tmp_path):
    def digest(**kw):
        with EsxiImage.open(src70) as image:
            return di.plan_image(image, src70, syslinux_version=(6, 4), **kw).digest

    base = digest()
    assert digest() == base
    others = [digest(kernelopt_add=['x=1']), digest(size=200 * usb_fat.MIB), digest(label='OTHER'), digest(mbr_sha256='00')]
    assert len({base, *others}) == 5


def test_cdrom_kickstart_of_a_customized_iso_becomes_usb(tmp_path):
    if not shutil.which('xorriso'):
        pytest.skip('xorriso is needed to build fixture ISOs')
    src = str(tmp_path / 'ks.iso')
    fixiso.build_esxi_iso(src, style='80', kernelopt='runweasel ks=cdrom:/KS.CFG', extra_files={'/KS.CFG': b'vmaccepteula\n'})
    with EsxiImage.open(src) as image:
        plan = di.plan_image(image, src, syslinux_version=(6, 4))
        assert plan.boot['bios']['kernelopt'] == plan.boot['uefi']['kernelopt'] == 'runweasel ks=usb:/KS.CFG'
        assert not isinstance(plan.files['/KS.CFG'], bytes)  # the ISO's own file, copied as it is
        explicit = tmp_path / 'other.cfg'
        explicit.write_bytes(b'other\n')
        plan = di.plan_image(image, src, kickstart=str(explicit), syslinux_version=(6, 4))
        assert plan.files['/KS.CFG'] == b'other\n' and plan.boot['bios']['kernelopt'] == 'runweasel ks=usb:/KS.CFG'
    src2 = str(tmp_path / 'ks-missing.iso')
    fixiso.build_esxi_iso(src2, style='80', kernelopt='runweasel ks=cdrom:/NOPE.CFG')
    with EsxiImage.open(src2) as image:  # a kickstart that is not on the ISO is left for the user to see
        assert di.plan_image(image, src2, syslinux_version=(6, 4)).boot['bios']['kernelopt'] == 'runweasel ks=cdrom:/NOPE.CFG'


def test_plan_uses_rock_ridge_names(src6x_jr):
    with EsxiImage.open(src6x_jr) as image:
        plan = di.plan_image(image, src6x_jr, syslinux_version=(6, 4))
    assert '/boot.cfg' in plan.files and '/syslinux.cfg' in plan.files and '/efi/boot/bootx64.efi' in plan.files


def test_incompatible_syslinux_is_refused_before_anything_is_written(src70, tmp_path):
    with EsxiImage.open(src70) as image:
        with pytest.raises(UnsupportedError) as err:
            di.plan_image(image, src70, syslinux_version=(3, 86))
        assert 'Failed to load COM32 file' in str(err.value) and 'bios_boot=false' in str(err.value)
        plan = di.plan_image(image, src70, bios_boot=False, syslinux_version=None)
    assert '/ISOLINUX.CFG' in plan.files and not any(p.lower() == '/syslinux.cfg' for p in plan.files)


def test_too_small_size_is_refused(src70):
    with EsxiImage.open(src70) as image:
        with pytest.raises(DiskImageError, match='below the FAT32 minimum'):
            di.plan_image(image, src70, size=10 * usb_fat.MIB, syslinux_version=(6, 4))


def test_files_that_do_not_fit_the_size_are_refused(tmp_path):
    if not shutil.which('xorriso'):
        pytest.skip('xorriso is needed to build fixture ISOs')
    src = str(tmp_path / 'big.iso')
    fixiso.build_esxi_iso(src, style='70', big_payload_bytes=70 * usb_fat.MIB)
    with EsxiImage.open(src) as image:
        with pytest.raises(DiskImageError, match='too small: the files need about') as err:
            di.plan_image(image, src, size=64 * usb_fat.MIB, syslinux_version=(6, 4))
        assert 'default size would be' in str(err.value)
        assert di.plan_image(image, src, syslinux_version=(6, 4)).size >= 70 * usb_fat.MIB


def test_a_failing_source_stops_the_tool(tmp_path):
    pidfile = tmp_path / 'pid'

    def chunks():
        yield b'x' * 1000
        while not pidfile.exists() or not pidfile.read_text().strip():
            pass
        raise FormatError('is truncated', path='src.iso')

    with pytest.raises(FormatError):
        usb_tools.CommandRunner().run(['sh', '-c', 'echo $$ > "%s"; exec cat >/dev/null' % pidfile], stdin=chunks())
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left running
        os.kill(int(pidfile.read_text()), 0)


class FailingRunner(usb_tools.CommandRunner):
    """Real commands, except that copying ``fail_on`` fails like a full disk would."""

    def __init__(self, fail_on):
        self.fail_on = fail_on
        self.calls = []

    def run(self, argv, stdin=None, env=None, *, cwd=None):
        self.calls.append(list(argv))
        if argv[-1].endswith(self.fail_on):
            if stdin is not None:
                for _chunk in stdin:
                    pass
            return 1, '', 'Disk full'
        return super().run(argv, stdin=stdin, env=env, cwd=cwd)


@needs_tools
def test_build_check_mode_idempotence_and_readback(src70, tmp_path):
    dest = str(tmp_path / 'usb.img')
    ks = tmp_path / 'ks.cfg'
    ks.write_bytes(b'vmaccepteula\ninstall --firstdisk\n')
    planned = di.build_disk_image(src70, dest, kickstart=str(ks), check_mode=True)
    assert planned['changed'] and not os.path.exists(dest) and planned['sha256'] is None
    first = di.build_disk_image(src70, dest, kickstart=str(ks))
    assert first['changed'] and first['manifest_digest'] == planned['manifest_digest']
    assert os.path.getsize(dest) == first['size']
    mtime = os.stat(dest).st_mtime_ns
    again = di.build_disk_image(src70, dest, kickstart=str(ks))
    assert not again['changed'] and again['sha256'] == first['sha256'] and os.stat(dest).st_mtime_ns == mtime
    assert di.build_disk_image(src70, dest, kickstart=str(ks), check_mode=True)['changed'] is False
    assert [name for name in os.listdir(tmp_path) if name.endswith('.tmp')] == []
    # independent readers: mtools for the FAT, fsck.fat on the partition
    image = '%s@@%d' % (dest, first['partition']['start'])
    listing = subprocess.run(['mdir', '-a', '-b', '-i', image, '::/'], check=True, capture_output=True, text=True, env=MTOOLS_ENV).stdout
    names = {line.rsplit('/', 1)[-1].upper() for line in listing.split()}
    assert {'KS.CFG', 'SYSLINUX.CFG', 'LDLINUX.SYS', 'LDLINUX.C32', 'BOOT.CFG', 'S.V00'} <= names and 'ISOLINUX.CFG' not in names
    efi_cfg = subprocess.run(['mtype', '-i', image, '::/EFI/BOOT/BOOT.CFG'], check=True, capture_output=True, env=MTOOLS_ENV).stdout
    assert b'ks=usb:/KS.CFG' in efi_cfg
    assert subprocess.run(['mtype', '-i', image, '::/KS.CFG'], check=True, capture_output=True, env=MTOOLS_ENV).stdout == ks.read_bytes()
    fsck = shutil.which('fsck.fat', path='/usr/sbin:/sbin:' + os.environ.get('PATH', ''))
    if fsck:
        part = tmp_path / 'part.img'
        with open(dest, 'rb') as source, open(part, 'wb') as target:
            source.seek(first['partition']['start'])
            shutil.copyfileobj(source, target)
        result = subprocess.run([fsck, '-n', str(part)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


@needs_tools
def test_same_request_gives_the_same_bytes(src70, tmp_path):
    one = di.build_disk_image(src70, str(tmp_path / 'a.img'))
    two = di.build_disk_image(src70, str(tmp_path / 'b.img'))
    assert one['sha256'] == two['sha256']


@needs_tools
def test_failure_leaves_earlier_image_and_no_temp_file(src70, tmp_path):
    dest = tmp_path / 'usb.img'
    dest.write_bytes(b'earlier image')
    with pytest.raises(EsxiCustomizerError) as err:
        di.build_disk_image(src70, str(dest), runner=FailingRunner('/S.V00'))
    assert 'copying /S.V00 failed' in str(err.value) and 'Disk full' in str(err.value)
    assert dest.read_bytes() == b'earlier image'
    assert sorted(os.listdir(tmp_path)) == ['usb.img']


@needs_tools
def test_bad_inputs(src70, tmp_path):
    not_iso = tmp_path / 'not.iso'
    not_iso.write_bytes(b'hello' * 1000)
    with pytest.raises(EsxiCustomizerError, match='not.iso'):
        di.build_disk_image(str(not_iso), str(tmp_path / 'x.img'))
    with pytest.raises(EsxiCustomizerError, match='does not exist'):
        di.build_disk_image(str(tmp_path / 'missing.iso'), str(tmp_path / 'x.img'))
    with pytest.raises(EsxiCustomizerError, match='does not exist'):
        di.build_disk_image(src70, str(tmp_path / 'x.img'), kickstart=str(tmp_path / 'no-ks.cfg'))
    with pytest.raises(EsxiCustomizerError, match='directory'):
        di.build_disk_image(src70, str(tmp_path / 'nodir' / 'x.img'))
    os.symlink(src70, tmp_path / 'link.img')
    with pytest.raises(EsxiCustomizerError, match='not a regular file'):
        di.build_disk_image(src70, str(tmp_path / 'link.img'))
    with pytest.raises(EsxiCustomizerError, match='label'):
        di.build_disk_image(src70, str(tmp_path / 'x.img'), label='much too long label')
    with pytest.raises(EsxiCustomizerError, match='not an executable'):
        di.build_disk_image(src70, str(tmp_path / 'x.img'), syslinux=str(tmp_path / 'nosyslinux'))
    assert sorted(os.listdir(tmp_path)) == ['link.img', 'not.iso']


@needs_tools
def test_a_dest_whose_path_holds_the_mtools_offset_marker(src70, tmp_path):
    where = tmp_path / 'builds@@2026'
    where.mkdir()
    dest = where / 'esxi@@lab.img'
    result = di.build_disk_image(src70, str(dest), bios_boot=False, mode='0600')
    assert result['changed'] and dest.exists() and dest.stat().st_mode & 0o777 == 0o600
    link = tmp_path / 'plain.img'  # this reader must not see the marker in the name either
    link.symlink_to(dest)
    listing = subprocess.run(['mdir', '-i', '%s@@%d' % (link, 1024 * 1024), '-b', '::/'], env=MTOOLS_ENV, check=True, capture_output=True, text=True).stdout
    assert '::/BOOT.CFG' in listing.upper()
    assert [name for name in os.listdir(where) if name.endswith('.tmp')] == []
