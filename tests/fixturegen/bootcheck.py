# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot an ISO or disk image in QEMU (SeaBIOS or OVMF) and wait for marker strings on the serial log.

    python tests/fixturegen/bootcheck.py ISO [--firmware bios|uefi] [--medium cdrom|disk] [--marker TEXT ...]

prints a JSON result and exits 0 when every marker was seen. Stdlib only and free of package-relative
imports, so it also runs as a plain script. The marker constants used by iso.py live here.

Facts this relies on (seen on the Debian build machine): with ``-nographic`` SeaBIOS mirrors the VGA
console to the serial port; OVMF copies its console to serial too. KVM may be present but broken under
nested virtualisation ("KVM internal error" in isolinux), so 'auto' falls back to TCG when that happens.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BIOS_MARKER = 'ESXI-FIXTURE-BIOS-OK'
UEFI_MARKER = 'ESXI-FIXTURE-UEFI-OK'
EFI_TREE_MARKER = 'ESXI-FIXTURE-EFI-TREE-OK'
# what the loaders of a fixture patch's esx-base print instead (iso.build_esxi_iso(patch=True))
PATCH_UEFI_MARKER = 'ESXI-FIXTURE-PATCH-UEFI-OK'
PATCH_EFI_TREE_MARKER = 'ESXI-FIXTURE-PATCH-EFI-TREE-OK'
BOOTCFG_BEGIN = 'ESXI-FIXTURE-BOOTCFG-BEGIN'
BOOTCFG_END = 'ESXI-FIXTURE-BOOTCFG-END'
BIOS_PROMPT = 'boot: '  # ISOLINUX prompt after cat.c32 has shown BOOT.CFG

# What each medium/firmware pair prints when booting a fixture ISO (cdrom) or a USB-style image (disk).
DEFAULT_MARKERS = {
    ('bios', 'cdrom'): (BIOS_MARKER,),
    ('uefi', 'cdrom'): (UEFI_MARKER, EFI_TREE_MARKER),
    ('bios', 'disk'): (BIOS_MARKER,),
    ('uefi', 'disk'): (EFI_TREE_MARKER,),
}

OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd'
OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd'
QEMU = 'qemu-system-x86_64'

_kvm_broken = False  # set after a "KVM internal error" so later boots go straight to TCG


class BootResult:
    """Outcome of one boot: ``ok`` is True when every marker was seen before the timeout."""

    def __init__(self, path, firmware, medium, markers, seen, log, seconds, accel, timed_out, returncode, argv):
        self.path, self.firmware, self.medium = path, firmware, medium
        self.markers, self.seen, self.log = list(markers), list(seen), log
        self.seconds, self.accel, self.timed_out, self.returncode, self.argv = seconds, accel, timed_out, returncode, argv

    @property
    def missing(self):
        return [m for m in self.markers if m not in self.seen]

    @property
    def ok(self):
        return not self.missing

    def as_dict(self, log_chars: int = 4000) -> dict:
        return {
            'path': self.path,
            'firmware': self.firmware,
            'medium': self.medium,
            'ok': self.ok,
            'markers': self.markers,
            'seen': self.seen,
            'missing': self.missing,
            'seconds': round(self.seconds, 2),
            'accel': self.accel,
            'timed_out': self.timed_out,
            'returncode': self.returncode,
            'log_tail': self.log[-log_chars:],
        }

    def __repr__(self):
        return 'BootResult(ok=%r, firmware=%r, medium=%r, seen=%r, missing=%r, %.1fs, %s)' % (
            self.ok,
            self.firmware,
            self.medium,
            self.seen,
            self.missing,
            self.seconds,
            self.accel,
        )


def clean_log(raw: bytes) -> str:
    """Serial log as text without carriage returns and terminal escape sequences."""
    text = raw.decode('latin-1').replace('\r', '')
    out, i = [], 0
    while i < len(text):
        if text[i] == '\x1b':
            j = i + 1
            if j < len(text) and text[j] == '[':
                j += 1
                while j < len(text) and not ('@' <= text[j] <= '~'):
                    j += 1
            i = j + 1
            continue
        out.append(text[i])
        i += 1
    return ''.join(out)


def unwrap_console(text: str, width: int = 80) -> str:
    """Undo the console's hard wrap of long lines (the modules= line) at ``width`` or ``width - 1`` columns."""
    out: list[str] = []
    join = False
    for line in text.split('\n'):
        if join and out:
            out[-1] += line
        else:
            out.append(line)
        join = len(line) in (width - 1, width)
    return '\n'.join(out)


def bootcfg_from_log(log: str) -> str | None:
    """The BOOT.CFG text a fixture boot loader showed on the console (None when it did not show one).

    UEFI: between BOOTCFG_BEGIN and BOOTCFG_END (first occurrence). BIOS: after BIOS_MARKER up to the
    ISOLINUX ``boot:`` prompt (boot with markers=(BIOS_MARKER, BIOS_PROMPT) to wait for it), with the
    80-column VGA wrap undone (a line of exactly 79/80 characters is taken as wrapped).
    """
    start = log.find(BOOTCFG_BEGIN)
    if start >= 0:
        end = log.find(BOOTCFG_END, start)
        # the grub fixture loader sets a 4000-column terminal, so its output is not wrapped
        return log[start + len(BOOTCFG_BEGIN) : end].strip('\n') if end >= 0 else None
    start = log.find(BIOS_MARKER)
    end = log.find(BIOS_PROMPT, start + 1) if start >= 0 else -1
    if end < 0:
        return None
    return unwrap_console(log[start + len(BIOS_MARKER) : end].strip('\n'))


def cache_dir() -> str:
    """Where built boot loaders and the KVM verdict are kept ($ESXI_FIXTURE_CACHE or ~/.cache/esxi-customizer-fixtures)."""
    path = os.environ.get('ESXI_FIXTURE_CACHE') or os.path.join(os.path.expanduser('~'), '.cache', 'esxi-customizer-fixtures')
    os.makedirs(path, exist_ok=True)
    return path


def _kvm_verdict_path() -> str:
    return os.path.join(cache_dir(), 'kvm-broken-%s' % os.uname().release)


def kvm_usable() -> bool:
    """/dev/kvm opens and no earlier boot on this kernel hit "KVM internal error" (ESXI_FIXTURE_QEMU_ACCEL=tcg forces TCG)."""
    if _kvm_broken or os.environ.get('ESXI_FIXTURE_QEMU_ACCEL', 'auto') == 'tcg' or os.path.exists(_kvm_verdict_path()):
        return False
    try:
        fd = os.open('/dev/kvm', os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def qemu_argv(path: str, firmware: str, medium: str, log_path: str, vars_path: str | None, accel: str) -> list[str]:
    argv = [QEMU, '-nographic', '-monitor', 'none', '-serial', 'file:%s' % log_path, '-m', '256', '-nic', 'none', '-no-reboot', '-accel', accel]
    if firmware == 'uefi':
        argv += [
            '-machine',
            'q35',
            '-drive',
            'if=pflash,format=raw,unit=0,readonly=on,file=%s' % OVMF_CODE,
            '-drive',
            'if=pflash,format=raw,unit=1,file=%s' % vars_path,
        ]
    if medium == 'cdrom':
        argv += ['-drive', 'file=%s,format=raw,media=cdrom,readonly=on' % path, '-boot', 'd']
    else:
        argv += ['-drive', 'file=%s,format=raw,media=disk,snapshot=on' % path, '-boot', 'c']
    return argv


def boot(path: str, firmware: str = 'bios', medium: str = 'cdrom', markers=None, timeout: float = 120, accel: str = 'auto') -> BootResult:
    """Boot ``path`` and wait until every marker is on the serial log (or ``timeout`` seconds pass).

    QEMU is killed as soon as all markers were seen. accel: 'auto' (KVM when /dev/kvm works, else TCG), 'kvm', 'tcg'.
    """
    global _kvm_broken  # pylint: disable=global-statement
    if firmware not in ('bios', 'uefi'):
        raise ValueError('firmware must be bios or uefi, not %r' % firmware)
    if medium not in ('cdrom', 'disk'):
        raise ValueError('medium must be cdrom or disk, not %r' % medium)
    if not os.path.isfile(path):
        raise FileNotFoundError('%s: no such image to boot' % path)
    markers = list(markers if markers is not None else DEFAULT_MARKERS[(firmware, medium)])
    chosen = accel if accel != 'auto' else ('kvm' if kvm_usable() else 'tcg')
    result = _boot_once(os.path.abspath(path), firmware, medium, markers, timeout, chosen)
    if chosen == 'kvm' and accel == 'auto' and result.returncode == 'kvm-error':
        _kvm_broken = True
        with open(_kvm_verdict_path(), 'w', encoding='ascii') as stream:
            stream.write('KVM internal error while booting %s\n' % path)
        result = _boot_once(os.path.abspath(path), firmware, medium, markers, timeout, 'tcg')
    return result


def _boot_once(path, firmware, medium, markers, timeout, accel) -> BootResult:
    work = tempfile.mkdtemp(prefix='esxi-bootcheck-')
    try:
        log_path = os.path.join(work, 'serial.log')
        err_path = os.path.join(work, 'qemu.err')
        vars_path = None
        if firmware == 'uefi':
            vars_path = os.path.join(work, 'OVMF_VARS.fd')
            shutil.copyfile(OVMF_VARS, vars_path)
        argv = qemu_argv(path, firmware, medium, log_path, vars_path, accel)
        start = time.monotonic()
        with open(err_path, 'wb') as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)  # pylint: disable=consider-using-with
        seen, timed_out, returncode = [], False, None
        try:
            while True:
                time.sleep(0.1)
                log = _read_log(log_path)
                seen = [m for m in markers if m in log]
                if len(seen) == len(markers):
                    break
                if proc.poll() is not None:
                    returncode = proc.returncode
                    break
                if b'KVM internal error' in _read_bytes(err_path):
                    returncode = 'kvm-error'
                    break
                if time.monotonic() - start > timeout:
                    timed_out = True
                    break
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        seconds = time.monotonic() - start
        log = _read_log(log_path)
        seen = [m for m in markers if m in log]
        stderr = _read_bytes(err_path).decode('utf-8', 'replace').strip()
        if stderr and returncode not in (None, 0):
            log += '\n[qemu stderr] %s' % stderr[-2000:]
        return BootResult(path, firmware, medium, markers, seen, log, seconds, accel, timed_out, returncode, argv)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, 'rb') as stream:
            return stream.read()
    except FileNotFoundError:
        return b''


def _read_log(path: str) -> str:
    return clean_log(_read_bytes(path))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='Boot an image in QEMU and wait for serial markers.')
    parser.add_argument('image')
    parser.add_argument('--firmware', choices=('bios', 'uefi'), default='bios')
    parser.add_argument('--medium', choices=('cdrom', 'disk'), default='cdrom')
    parser.add_argument('--marker', action='append', help='text to wait for (repeatable; default: the fixture markers)')
    parser.add_argument('--timeout', type=float, default=120)
    parser.add_argument('--accel', choices=('auto', 'kvm', 'tcg'), default='auto')
    args = parser.parse_args(argv)
    result = boot(args.image, args.firmware, args.medium, args.marker, args.timeout, args.accel)
    print(json.dumps(result.as_dict(), indent=2))
    return 0 if result.ok else 1


if __name__ == '__main__':
    sys.exit(main())
