# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The QEMU boot checker on a generated ISO (SeaBIOS and OVMF), plus its log helpers."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.esxi.customizer.tests.fixturegen import bootcheck, iso

needs_qemu = pytest.mark.skipif(
    not shutil.which(bootcheck.QEMU) or not os.path.exists(bootcheck.OVMF_CODE) or not shutil.which('xorriso'),
    reason='qemu-system-x86 / ovmf / xorriso missing (scripts/install-system-deps.sh installs them)',
)


@pytest.fixture(scope='module')
def iso70(tmp_path_factory):
    return iso.build_esxi_iso(str(tmp_path_factory.mktemp('boot') / 'esxi70.iso'), '70')


@needs_qemu
def test_bios_boot_shows_marker_and_bootcfg(iso70):
    result = bootcheck.boot(iso70['path'], 'bios', markers=[bootcheck.BIOS_MARKER, bootcheck.BIOS_PROMPT], timeout=90)
    assert result.ok, result.log[-3000:]
    assert bootcheck.bootcfg_from_log(result.log) == iso70['bootcfg_text']['bios'].rstrip('\n')


@needs_qemu
def test_uefi_boot_reaches_efiboot_and_iso_tree_loader(iso70):
    result = bootcheck.boot(iso70['path'], 'uefi', timeout=120)
    assert result.ok, result.log[-3000:]
    assert result.seen == [bootcheck.UEFI_MARKER, bootcheck.EFI_TREE_MARKER]
    # the EFIBOOT.IMG loader found the ISO9660 tree and showed EFI/BOOT/BOOT.CFG
    assert bootcheck.bootcfg_from_log(result.log) == iso70['bootcfg_text']['uefi'].rstrip('\n')


@needs_qemu
def test_missing_marker_times_out_and_reports_it(iso70):
    result = bootcheck.boot(iso70['path'], 'bios', markers=[bootcheck.BIOS_MARKER, 'NEVER-PRINTED'], timeout=4)
    assert not result.ok and result.timed_out
    assert result.seen == [bootcheck.BIOS_MARKER] and result.missing == ['NEVER-PRINTED']


def test_boot_rejects_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError):
        bootcheck.boot(str(tmp_path / 'absent.iso'))
    with pytest.raises(ValueError):
        bootcheck.boot(str(tmp_path / 'absent.iso'), firmware='coreboot')


def test_clean_log_and_unwrap():
    raw = b'\x1b[0m\x1b[37mHello\r\n' + b'x' * 80 + b'\r\nyz\r\n'
    text = bootcheck.clean_log(raw)
    assert text == 'Hello\n' + 'x' * 80 + '\nyz\n'
    assert bootcheck.unwrap_console(text) == 'Hello\n' + 'x' * 80 + 'yz\n'
    log = 'junk\n%s\nkernel=/b.b00\n%s\n' % (bootcheck.BOOTCFG_BEGIN, bootcheck.BOOTCFG_END)
    assert bootcheck.bootcfg_from_log(log) == 'kernel=/b.b00'
    assert bootcheck.bootcfg_from_log('nothing here') is None


@needs_qemu
def test_uefi_disk_boot_runs_the_iso_tree_loader(tmp_path):
    """The ISO-tree EFI/BOOT/BOOTX64.EFI also boots from a FAT disk (the USB-image path)."""
    if not shutil.which('mcopy'):
        pytest.skip('mtools missing')
    img = str(tmp_path / 'usb.img')
    bootcfg = tmp_path / 'boot.cfg'
    bootcfg.write_text('kernel=/b.b00\nmodules=/jumpstrt.gz --- /net_demo.v00\n')
    subprocess.run(['mkfs.vfat', '-C', img, '8192'], check=True, capture_output=True)
    subprocess.run(['mmd', '-i', img, '::/EFI', '::/EFI/BOOT'], check=True)
    subprocess.run(['mcopy', '-i', img, iso.grub_efi(iso.EFI_TREE_MARKER, chain=False), '::/EFI/BOOT/BOOTX64.EFI'], check=True)
    subprocess.run(['mcopy', '-i', img, str(bootcfg), '::/EFI/BOOT/BOOT.CFG'], check=True)
    result = bootcheck.boot(img, 'uefi', 'disk', markers=[bootcheck.EFI_TREE_MARKER, bootcheck.BOOTCFG_END], timeout=120)
    assert result.ok, result.log[-3000:]
    assert bootcheck.bootcfg_from_log(result.log) == bootcfg.read_text().rstrip('\n')
