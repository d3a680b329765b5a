# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""syslinux for BIOS boot of a disk image: SYSLINUX.CFG from ISOLINUX.CFG, release detection and compatibility.

BIOS compatibility: ESXi's ``mboot.c32``/``menu.c32`` are COM32 modules of the syslinux release its
``ISOLINUX.BIN`` comes from (3.86 on VMware media); syslinux 5 changed the module format, so the installer that
writes ``ldlinux.sys`` must be of the same generation. :func:`syslinux_compatible` decides.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ansible_collections.esxi.customizer.plugins.module_utils._errors import DiskImageError

if TYPE_CHECKING:  # tools.py imports this module; the runner is only a type here
    from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.tools import CommandRunner

_ISOLINUX_VERSION = re.compile(rb'ISOLINUX (\d+)\.(\d+)')
_SYSLINUX_VERSION = re.compile(r'(?:syslinux|SYSLINUX)\s+(\d+)\.(\d+)')
_EMBEDDED_BANNER = re.compile(rb'SYSLINUX (\d+)\.(\d+) ')
MAX_INSTALLER = 16 * 1024 * 1024


def syslinux_cfg(isolinux_cfg: bytes) -> bytes:
    """VMware's USB recipe: ISOLINUX.CFG with ``-p 1`` in every ``APPEND -c <file>`` line that has no ``-p``.

    ``-p 1`` goes right after ``-c <file>``: mboot reads its options with getopt, which stops at the first
    kernel option (``APPEND -c boot.cfg ks=... -p 1`` would hand ``-p 1`` to the kernel instead).
    """
    out = []
    for line in isolinux_cfg.splitlines(keepends=True):
        body = line.rstrip(b'\r\n')
        ending = line[len(body) :]
        tokens = body.split()
        if len(tokens) > 2 and tokens[0].lower() == b'append' and b'-c' in tokens[1:-1] and b'-p' not in tokens[1:]:
            at = tokens.index(b'-c', 1) + 2
            indent = body[: len(body) - len(body.lstrip())]
            body = indent + b' '.join(tokens[:at] + [b'-p', b'1'] + tokens[at:])
        out.append(body + ending)
    return b''.join(out)


def isolinux_version(data: bytes) -> tuple[int, int] | None:
    """``(major, minor)`` from the banner inside ISOLINUX.BIN (``ISOLINUX 3.86 2010-04-01``), None if absent."""
    match = _ISOLINUX_VERSION.search(data)
    return (int(match.group(1)), int(match.group(2))) if match else None


def syslinux_installer_version(text: str) -> tuple[int, int] | None:
    match = _SYSLINUX_VERSION.search(text or '')
    return (int(match.group(1)), int(match.group(2))) if match else None


def version_text(version) -> str:
    """``(3, 86)`` -> ``3.86``, ``(6, 4)`` -> ``6.04`` (syslinux writes minor versions with two digits)."""
    return '%d.%02d' % tuple(version) if version else '(unknown version)'


def syslinux_compatible(iso_version, installer_version) -> bool:
    """Whether ``ldlinux.sys`` of ``installer_version`` can run the ISO's COM32 modules.

    Before 5.00 modules are COM32R binaries (3.x modules run on 4.x); from 5.00 they are ELF objects linked
    against the exact ldlinux.c32 of their release, so major.minor must match.
    """
    if iso_version is None or installer_version is None:
        return False
    if iso_version[0] < 5 and installer_version[0] < 5:
        return True
    return tuple(iso_version) == tuple(installer_version)


def installer_version(runner: CommandRunner, path: str) -> tuple[int, int]:
    """Release of a syslinux installer: ``--version`` (4.x and later), else the banner of the ``ldlinux.sys`` it
    embeds (3.x installers have no ``--version``; their binary carries ``SYSLINUX 3.86 2010-04-01``)."""
    rc, out, err = runner.run([path, '--version'])
    version = syslinux_installer_version(out + err) if rc == 0 or 'syslinux' in (out + err).lower() else None
    if version is None:
        try:
            with open(path, 'rb') as stream:
                match = _EMBEDDED_BANNER.search(stream.read(MAX_INSTALLER))
        except OSError as exc:
            raise DiskImageError('cannot be read (%s)' % exc.strerror, path=path) from None
        version = (int(match.group(1)), int(match.group(2))) if match else None
    if version is None:
        raise DiskImageError(
            'is not a syslinux installer I can identify (no version from --version: %s; no SYSLINUX banner '
            'inside)' % ((err or out).strip()[:200] or 'rc %d' % rc),
            path=path,
        )
    return version


def syslinux_install_argv(path: str, version, offset: int, *, image: str) -> list[str]:
    """Install command: 3.x installers take ``-o <byte offset>`` only; 4.0 added ``--install`` (required) and
    ``--offset``."""
    if version[0] < 4:
        return [path, '-o', str(offset), image]
    return [path, '--install', '--offset', str(offset), image]
