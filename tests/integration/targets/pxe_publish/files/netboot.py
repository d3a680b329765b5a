# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real network servers and clients for the pxe_publish integration test (stdlib + Debian binaries).

netboot.py start ROOT LIFETIME   start in.tftpd (tftpd-hpa) and python's http.server on 127.0.0.1, both
                                 wrapped in `timeout LIFETIME` so they stop by themselves; prints JSON
netboot.py stop PID...           stop them earlier (the task list does, in an always: block)
netboot.py fetch ISO --tftp PORT | --http URL  --cfg REMOTE [--extra REMOTE[=ISO_PATH]]...
    fetches the boot.cfg REMOTE with the real client (tftp-hpa's tftp / urllib), then every file it names
    (kernel + modules, joined with prefix= as mboot does), and the extra files; extracts the ISO with
    xorriso (an independent reader) and prints JSON {remote: {fetched, iso, size}} of sha256 digests.
netboot.py uefi-boot ROOT BOOTFILE MAC MARKER [TIMEOUT]
netboot.py bios-boot ROOT MAC MARKER [TIMEOUT]      (SeaBIOS + pxelinux.0 from Debian's pxelinux)
    network-boots QEMU with OVMF (its NIC ROM is iPXE) from QEMU's own TFTP server serving ROOT with
    DHCP boot file BOOTFILE, until MARKER shows on the serial console; prints JSON {seen, fetched, seconds}
    where fetched lists the URLs the firmware / iPXE downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import re
import tempfile
import time
import urllib.request

OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd'
OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd'


def free_port(kind) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start(root: str, lifetime: str) -> dict:
    tftp_port, http_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    log = open(os.path.join(os.path.dirname(os.path.abspath(root)), 'servers.log'), 'ab')
    common = dict(stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    tftpd = subprocess.Popen(['timeout', lifetime, 'in.tftpd', '--foreground', '--listen', '--address', '127.0.0.1:%d' % tftp_port, '--secure', root], **common)
    httpd = subprocess.Popen(['timeout', lifetime, sys.executable, '-m', 'http.server', '--bind', '127.0.0.1', '--directory', root, str(http_port)], **common)
    return {'tftp_port': tftp_port, 'http_port': http_port, 'pids': [tftpd.pid, httpd.pid]}


def stop(pids) -> dict:
    stopped = []
    for pid in pids:
        try:
            os.killpg(int(pid), signal.SIGTERM)  # the session leader is `timeout`; its group holds the server
            stopped.append(int(pid))
        except ProcessLookupError:
            pass
    return {'stopped': stopped}


def tftp_get(port: int, remote: str, local: str) -> None:
    proc = subprocess.run(
        ['tftp', '-m', 'binary', '127.0.0.1', str(port), '-c', 'get', remote, local], capture_output=True, text=True, timeout=120, check=False
    )
    # tftp-hpa exits 0 even on "Error code 1: File not found": its output is the verdict
    if proc.returncode != 0 or proc.stdout.strip() or proc.stderr.strip():
        raise SystemExit('tftp get %s failed: %s %s' % (remote, proc.stdout.strip(), proc.stderr.strip()))


def http_get(url: str, local: str) -> None:
    with urllib.request.urlopen(url, timeout=60) as response, open(local, 'wb') as out:
        shutil.copyfileobj(response, out)


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def parse_bootcfg(text: str) -> dict:
    values = {}
    for line in text.splitlines():
        line = ' '.join(line.split())
        if line and not line.startswith('#') and '=' in line:
            key, value = line.split('=', 1)
            values[key.strip().lower()] = value.strip()
    return values


def fetch(args) -> dict:
    iso = args[0]
    opts = {'extra': []}
    rest = args[1:]
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == '--extra':
            opts['extra'].append(value)
        else:
            opts[flag.lstrip('-')] = value
    work = tempfile.mkdtemp(prefix='netboot-')
    try:
        extracted = os.path.join(work, 'iso')
        subprocess.run(['xorriso', '-osirrox', 'on', '-indev', iso, '-extract', '/', extracted], check=True, capture_output=True)
        iso_digests = {}
        for dirpath, _dirs, names in os.walk(extracted):
            for name in names:
                full = os.path.join(dirpath, name)
                iso_digests[os.path.relpath(full, extracted).lower()] = sha256(full)

        def get(remote, local):
            if 'tftp' in opts:
                tftp_get(int(opts['tftp']), remote, local)
            else:
                http_get(opts['http'].rstrip('/') + '/' + remote if '://' not in remote else remote, local)

        cfg_local = os.path.join(work, 'boot.cfg')
        get(opts['cfg'], cfg_local)
        with open(cfg_local, encoding='utf-8') as handle:
            cfg = parse_bootcfg(handle.read())
        prefix = cfg.get('prefix', '')
        names = [cfg['kernel']] + [item.split()[0] for item in cfg.get('modules', '').split('---') if item.split()]
        result = {'boot_cfg': cfg, 'modules': names, 'files': {}}
        wanted = [(prefix + '/' + name if prefix else name, name) for name in names]
        for item in opts['extra']:
            remote, _sep, iso_path = item.partition('=')
            wanted.append((remote, iso_path or None))
        for index, (remote, iso_path) in enumerate(wanted):
            local = os.path.join(work, 'f%d' % index)
            get(remote, local)
            entry = {'fetched': sha256(local), 'size': os.path.getsize(local)}
            if iso_path:
                entry['iso'] = iso_digests.get(iso_path.lower().lstrip('/'), 'not on the ISO')
            else:
                with open(local, encoding='utf-8', errors='replace') as handle:
                    entry['text'] = handle.read()
            result['files'][remote] = entry
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def uefi_boot(root: str, bootfile: str, mac: str, marker: str, timeout: float = 240) -> dict:
    work = tempfile.mkdtemp(prefix='netboot-qemu-')
    log_path = os.path.join(work, 'serial.log')
    vars_path = os.path.join(work, 'vars.fd')
    shutil.copyfile(OVMF_VARS, vars_path)
    argv = [
        'qemu-system-x86_64',
        '-machine',
        'q35',
        '-m',
        '512',
        '-display',
        'none',
        '-monitor',
        'none',
        '-no-reboot',
        '-serial',
        'file:%s' % log_path,
        '-drive',
        'if=pflash,format=raw,unit=0,readonly=on,file=%s' % OVMF_CODE,
        '-drive',
        'if=pflash,format=raw,unit=1,file=%s' % vars_path,
        '-netdev',
        'user,id=n0,tftp=%s,bootfile=%s' % (root, bootfile),
        '-device',
        'virtio-net-pci,netdev=n0,mac=%s' % mac,
        '-boot',
        'n',
    ]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    text = ''
    try:
        while time.monotonic() - start < timeout:
            with open(log_path, 'rb') if os.path.exists(log_path) else open(os.devnull, 'rb') as handle:
                text = re.sub(r'\x1b\[[0-9;?]*[A-Za-z]', '', handle.read().decode('utf-8', 'replace')).replace('\r', '')
            if marker in text or proc.poll() is not None:
                break
            time.sleep(0.5)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    fetched = re.findall(r'(tftp://\S+)\.\.\. ok', text)
    return {'seen': marker in text, 'fetched': fetched, 'seconds': round(time.monotonic() - start, 1), 'log_tail': text[-1500:] if marker not in text else ''}


PXELINUX = '/usr/lib/PXELINUX/pxelinux.0'
SYSLINUX_BIOS = '/usr/lib/syslinux/modules/bios'


def bios_boot(root: str, mac: str, marker: str, timeout: float = 120) -> dict:
    """SeaBIOS + the e1000 iPXE ROM network-boot Debian's pxelinux.0 from QEMU's TFTP server.

    pxelinux.0 and its ldlinux.c32/libcom32.c32 are the site's own files (the module documents that they sit in
    the TFTP root); they are linked in beside the published tree in a scratch root, so the tree stays untouched.
    """
    work = tempfile.mkdtemp(prefix='netboot-bios-')
    tftp = os.path.join(work, 'tftp')
    os.mkdir(tftp)
    for entry in os.listdir(root):
        os.symlink(os.path.join(root, entry), os.path.join(tftp, entry))
    shutil.copy(PXELINUX, tftp)
    for name in ('ldlinux.c32', 'libcom32.c32'):
        shutil.copy(os.path.join(SYSLINUX_BIOS, name), tftp)
    log_path = os.path.join(work, 'serial.log')
    argv = [
        'qemu-system-x86_64',
        '-m',
        '256',
        '-nographic',
        '-monitor',
        'none',
        '-no-reboot',
        '-netdev',
        'user,id=n0,tftp=%s,bootfile=pxelinux.0' % tftp,
        '-device',
        'e1000,netdev=n0,mac=%s' % mac,
        '-boot',
        'n',
    ]
    start = time.monotonic()
    text = ''
    with open(log_path, 'wb') as log:
        # -nographic: SeaBIOS and pxelinux write their console to stdout (the serial port)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            while time.monotonic() - start < timeout:
                with open(log_path, 'rb') as handle:
                    text = re.sub(r'\x1b\[[0-9;?]*[A-Za-z]', '', handle.read().decode('utf-8', 'replace')).replace('\r', '')
                if marker in text or proc.poll() is not None:
                    break
                time.sleep(0.5)
        finally:
            proc.kill()
            proc.wait()
            shutil.rmtree(work, ignore_errors=True)
    return {
        'seen': marker in text,
        'pxelinux': 'PXELINUX' in text,
        'failed_com32': 'Failed to load COM32' in text,
        'seconds': round(time.monotonic() - start, 1),
        'log_tail': text[-1500:],
    }


def main(argv) -> None:
    if argv[0] == 'start':
        print(json.dumps(start(argv[1], argv[2])))
    elif argv[0] == 'stop':
        print(json.dumps(stop(argv[1:])))
    elif argv[0] == 'fetch':
        print(json.dumps(fetch(argv[1:])))
    elif argv[0] == 'bios-boot':
        print(json.dumps(bios_boot(argv[1], argv[2], argv[3], *[float(x) for x in argv[4:5]])))
    elif argv[0] == 'uefi-boot':
        print(json.dumps(uefi_boot(argv[1], argv[2], argv[3], argv[4], *[float(x) for x in argv[5:6]])))
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
