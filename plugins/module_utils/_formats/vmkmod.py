# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vmkernel module checks (esxi-formats.md section 7.4): ELF64 relocatable with a ``.vmkmodinfo`` section.

``.vmkmodinfo`` holds NUL-separated ``key=value`` strings: ``license=``, ``version=`` and one
``nsRequired=`` per namespace (``com.vmware.vmkapi#v2_13_0_0``, ``com.vmware.driverAPI#9.2.1.0`` for
vmklinux drivers). A module without ``.vmkmodinfo`` or ``license=`` was built for ESX(i) 4.x and does
not load on 5.0+. The vmkapi version maps to the lowest ESXi release that provides it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError

if TYPE_CHECKING:
    from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import Constraint

ESX4_EXPLANATION = (
    'built for ESX(i) 4.x: ESX 4.x driver binaries do not load on ESXi 5.0 or later '
    '(vmkload_mod fails with "Module does not provide a license tag"); use a driver built for ESXi 5.x or later'
)

# vmkapi (major, minor) -> lowest ESXi release providing it (table in section 7.4).
VMKAPI_RELEASES = {
    (2, 0): '5.0',
    (2, 1): '5.1',
    (2, 2): '5.5',
    (2, 3): '6.0',
    (2, 4): '6.5',
    (2, 5): '6.7',
    (2, 6): '7.0',
    (2, 9): '7.0U3',
    (2, 10): '8.0',
    (2, 11): '8.0U1',
    (2, 12): '8.0U2',
    (2, 13): '8.0U3',
    (3, 0): '9.0',
}
# vmklinux (driverAPI) drivers stopped working when 7.0 removed vmklinux.
VMKLINUX_LAST_RELEASE = '6.7'

_VMKAPI = re.compile(r'(?:^vmkapi_|com\.vmware\.vmkapi#v|^v?)(\d+)[._](\d+)(?:[._](\d+))?(?:[._](\d+))?$')
_MAX_MODINFO = 1024 * 1024

ELF_MAGIC = b'\x7fELF'
ET_REL = 1
EM_X86_64 = 62


def parse_vmkapi(text: str) -> tuple[int, ...] | None:
    """'vmkapi_2_13_0_0' / 'com.vmware.vmkapi#v2_13_0_0' / '2.13.0.0' → (2, 13, 0, 0); None if not a vmkapi version."""
    match = _VMKAPI.search(text.strip())
    if not match:
        return None
    return tuple(int(g or 0) for g in match.groups())


def format_vmkapi(version: Sequence[int] | None) -> str | None:
    return '.'.join(str(n) for n in version) if version else None


def min_esxi_release(version: Sequence[int] | None) -> str | None:
    """Lowest ESXi release known to provide vmkapi ``version``; None when the version is not in the table."""
    if not version:
        return None
    return VMKAPI_RELEASES.get(tuple(version[:2]))


def vmkapi_from_constraints(constraints: Iterable[Constraint]) -> tuple[int, ...] | None:
    """Highest vmkapi version required by ``vmkapi_X_Y_Z_W`` depends (``vmkapi_incompat_*`` are ignored)."""
    found = [parse_vmkapi(c.name) for c in constraints if c.name.startswith('vmkapi_') and 'incompat' not in c.name]
    found = [v for v in found if v]
    return max(found) if found else None


def is_vmklinux_constraint(name: str) -> bool:
    return name.startswith('com.vmware.driverAPI')


@dataclass
class ModuleInfo:
    path: str
    is_elf: bool = False
    relocatable: bool = False
    has_modinfo: bool = False
    license: str | None = None
    version: str | None = None
    ns_required: list = field(default_factory=list)
    vmkapi: tuple | None = None
    vmklinux: bool = False
    esx4: bool = False
    problem: str | None = None

    @property
    def min_esxi_release(self) -> str | None:
        return min_esxi_release(self.vmkapi)


def _read_at(fileobj, offset, size, *, path, what):
    try:
        fileobj.seek(offset)
        data = fileobj.read(size)
    except (OverflowError, OSError, ValueError):  # an offset no file has (>= 2**63)
        raise FormatError('vmkernel module %s is corrupt (%s at offset %d, past any end of file)' % (path, what, offset)) from None
    if len(data) != size:
        raise FormatError('vmkernel module %s is truncated (%s past end of file)' % (path, what))
    return data


def _sections(fileobj, path):
    """{name: (offset, size)} from the ELF64 little-endian section header table."""
    ident = _read_at(fileobj, 0, 64, path=path, what='ELF header')
    (e_type, e_machine, _ver, _entry, _phoff, e_shoff, _flags, _ehsize, _phentsize, _phnum, e_shentsize, e_shnum, e_shstrndx) = struct.unpack_from(
        '<HHIQQQIHHHHHH', ident, 16
    )
    if e_shentsize != 64 or e_shnum == 0 or e_shnum > 65000 or e_shstrndx >= e_shnum:
        raise FormatError('vmkernel module %s has a corrupt ELF section table' % path)
    table = _read_at(fileobj, e_shoff, e_shentsize * e_shnum, path=path, what='section table')
    headers = [struct.unpack_from('<IIQQQQIIQQ', table, i * 64) for i in range(e_shnum)]
    str_off, str_size = headers[e_shstrndx][4], headers[e_shstrndx][5]
    if str_size > _MAX_MODINFO:
        raise FormatError('vmkernel module %s has an oversized section name table' % path)
    names = _read_at(fileobj, str_off, str_size, path=path, what='section names')
    sections = {}
    for sh_name, sh_type, _f, _a, sh_offset, sh_size, _l, _i, _al, _e in headers:
        end = names.find(b'\x00', sh_name)
        name = names[sh_name : end if end >= 0 else None].decode('ascii', 'replace')
        if sh_type != 8:  # SHT_NOBITS has no file data
            sections.setdefault(name, (sh_offset, sh_size))
    return e_type, e_machine, sections


def inspect_module(fileobj: IO[bytes], path: str) -> ModuleInfo:
    """Check a vmkernel module (seekable stream). Never raises for 'wrong generation': that is reported."""
    info = ModuleInfo(path=path)
    fileobj.seek(0)
    head = fileobj.read(16)
    if head[:4] != ELF_MAGIC:
        info.problem = 'not an ELF object, so not a vmkernel module ESXi can load'
        return info
    info.is_elf = True
    if len(head) < 16:
        raise FormatError('vmkernel module %s is truncated (%d bytes of ELF header)' % (path, len(head)))
    if head[4] != 2 or head[5] != 1:
        info.problem = 'not a 64-bit little-endian ELF object (ESXi 5.x+ modules are ELF64 x86-64)'
        return info
    e_type, e_machine, sections = _sections(fileobj, path)
    info.relocatable = e_type == ET_REL
    if e_type != ET_REL or e_machine != EM_X86_64:
        info.problem = 'ELF type %d / machine %d is not an x86-64 relocatable object (a vmkernel module)' % (e_type, e_machine)
        return info
    if '.vmkmodinfo' in sections:
        offset, size = sections['.vmkmodinfo']
        if size > _MAX_MODINFO:
            raise FormatError('vmkernel module %s has an oversized .vmkmodinfo section' % path)
        info.has_modinfo = True
        for item in _read_at(fileobj, offset, size, path=path, what='.vmkmodinfo').split(b'\x00'):
            key, sep, value = item.decode('utf-8', 'replace').strip().partition('=')
            if not sep:
                continue
            if key == 'license':
                info.license = value
            elif key == 'version':
                info.version = value
            elif key == 'nsRequired':
                info.ns_required.append(value)
    apis = [parse_vmkapi(ns) for ns in info.ns_required if ns.startswith('com.vmware.vmkapi#')]
    apis = [v for v in apis if v]
    info.vmkapi = max(apis) if apis else None
    info.vmklinux = any(ns.startswith('com.vmware.driverAPI') for ns in info.ns_required)
    if not info.has_modinfo or not info.license:
        info.esx4 = True
        info.problem = ESX4_EXPLANATION
    return info
