# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Driver ``.map`` and ``.ids`` files → PCI IDs (esxi-formats.md sections 7.2, 7.3).

A map line binds hardware to a driver:

* vmklinux: ``regtype=linux,bus=pci,id=10ec:8169 0000:0000,driver=r8169,class=network``
  (``0000:0000`` subsystem = any);
* native: ``regtype=native,bus=pci,id=80861049..............,driver=ne1000`` — up to 24 hex nibbles:
  vendor(4) device(4) subvendor(4) subdevice(4) class(4) prog-if(2) [revision(2)], as in vmkapi's
  ``vmk_PCIDeviceID`` (``classCode``, ``progIFRevID``), where ``.`` is a wildcard nibble; the usual
  22-character form leaves the revision out, a 16-character one the class too;
* ACPI: ``regtype=native,bus=acpi,id=PNP0D10,driver=vmkusb``; other buses (``logical``, ``usb`` ...)
  keep their id as text in ``acpi_id``, like ACPI.

``.ids`` files (pci.ids syntax) only name vendors and devices; they enrich the map entries.
ESX 4.x ``simple.map`` lines (``0e11:0046 0e11:4091 storage cciss``) are parsed by :func:`parse_simple_map`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError

_HEX4 = re.compile(r'^[0-9a-fA-F]{4}$')
_LINUX_ID = re.compile(r'^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?:\s+([0-9a-fA-F]{4}):([0-9a-fA-F]{4}))?$')
_NATIVE_ID = re.compile(r'^[0-9a-fA-F.]{4,24}$')
_ACPI_ID = re.compile(r'^[0-9A-Za-z_*.-]{1,64}$')
_OTHER_ID = re.compile(r'^[^\s,]{1,128}$')
_KEY = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')


@dataclass(frozen=True)
class PciId:
    """One map entry. Hex fields are lower case; None = matches anything; partial wildcards keep their dots."""

    driver: str
    vendor: str | None = None
    device: str | None = None
    subvendor: str | None = None
    subdevice: str | None = None
    device_class: str | None = None  # class code ('010802') for native, class name ('network') for vmklinux
    bus: str = 'pci'
    regtype: str = 'native'
    acpi_id: str | None = None
    source: str | None = None
    vendor_name: str | None = None
    device_name: str | None = None
    revision: str | None = None  # 24-character native ids only

    def as_dict(self) -> dict[str, str | None]:
        return {
            'revision': self.revision,
            'vendor': self.vendor,
            'device': self.device,
            'subvendor': self.subvendor,
            'subdevice': self.subdevice,
            'class': self.device_class,
            'driver': self.driver,
            'bus': self.bus,
            'regtype': self.regtype,
            'acpi_id': self.acpi_id,
            'source': self.source,
            'vendor_name': self.vendor_name,
            'device_name': self.device_name,
        }


def _nibbles(group):
    group = group.lower()
    if set(group) == {'.'}:
        return None
    return group


def _fields(line, source, lineno):
    fields = {}
    for part in line.split(','):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition('=')
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise FormatError('line %d: %r is not a key=value field' % (lineno, part), path=source)
        fields[key.lower()] = value.strip()
    return fields


def parse_map_line(line: str, source: str | None = None, lineno: int = 0) -> PciId:
    """One non-comment map line → PciId; FormatError naming the file and line when malformed."""
    fields = _fields(line, source, lineno)
    for key in ('regtype', 'bus', 'id', 'driver'):
        if not fields.get(key):
            raise FormatError('line %d: no %s= field in %r' % (lineno, key, line), path=source)
    regtype, bus, ident, driver = (fields['regtype'].lower(), fields['bus'].lower(), fields['id'], fields['driver'])
    if bus == 'acpi':
        if not _ACPI_ID.match(ident):
            raise FormatError('line %d: bad ACPI id %r' % (lineno, ident), path=source)
        return PciId(driver=driver, bus='acpi', regtype=regtype, acpi_id=ident, source=source)
    if bus != 'pci':
        # logical/usb/... buses: not PCI hardware, but a real map line; keep it rather than refuse the package
        if not _OTHER_ID.match(ident):
            raise FormatError('line %d: bad %s id %r' % (lineno, bus, ident), path=source)
        return PciId(driver=driver, bus=bus, regtype=regtype, acpi_id=ident, source=source)
    if regtype == 'linux':
        match = _LINUX_ID.match(ident)
        if not match:
            raise FormatError('line %d: vmklinux id %r is not "VVVV:DDDD SSSS:ssss"' % (lineno, ident), path=source)
        vendor, device, subvendor, subdevice = (g.lower() if g else None for g in match.groups())
        if subvendor == '0000' and subdevice == '0000':
            subvendor = subdevice = None  # 0000:0000 means any subsystem
        return PciId(
            driver=driver,
            vendor=vendor,
            device=device,
            subvendor=subvendor,
            subdevice=subdevice,
            device_class=fields.get('class') or None,
            bus='pci',
            regtype='linux',
            source=source,
        )
    if regtype == 'native':
        if not _NATIVE_ID.match(ident):
            raise FormatError('line %d: native id %r is not up to 24 hex digits or "." wildcards' % (lineno, ident), path=source)
        padded = ident.ljust(24, '.')  # vendor device subvendor subdevice (16) + class/prog-if (6) + revision (2)
        groups = [padded[0:4], padded[4:8], padded[8:12], padded[12:16], padded[16:22], padded[22:24]]
        vendor, device, subvendor, subdevice, klass, revision = (_nibbles(g) for g in groups)
        return PciId(
            driver=driver,
            vendor=vendor,
            device=device,
            subvendor=subvendor,
            subdevice=subdevice,
            device_class=klass,
            bus='pci',
            regtype='native',
            source=source,
            revision=revision,
        )
    raise FormatError('line %d: unknown regtype %r' % (lineno, regtype), path=source)


def parse_map(text: str | bytes, source: str | None = None, errors: list[str] | None = None) -> list[PciId]:
    """All entries of a ``.map`` file (bytes or str); blank lines and ``#`` comments are skipped.

    A malformed line raises FormatError, or, when an ``errors`` list is given, is recorded there (as
    the error text) and skipped, so that the good lines of a file still count.
    """
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    if text.startswith('\ufeff'):
        raise FormatError(
            'starts with a UTF-8 byte order mark (saved by a Windows editor?); driver maps are plain ASCII and the first line would not be understood',
            path=source,
        )
    entries = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        try:
            entries.append(parse_map_line(line, source, lineno))
        except FormatError as err:
            if errors is None:
                raise
            errors.append(str(err))
    return entries


def parse_simple_map(text: str | bytes, source: str | None = None) -> list[PciId]:
    """ESX 4.x ``simple.map``: ``vendor:device subvendor:subdevice class driver`` per line."""
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    entries = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 4:
            raise FormatError('line %d: expected "vendor:device subvendor:subdevice class driver"' % lineno, path=source)
        try:
            vendor, device = parts[0].lower().split(':')
            subvendor, subdevice = parts[1].lower().split(':')
        except ValueError:
            raise FormatError('line %d: bad id in %r' % (lineno, line), path=source) from None
        if not all(_HEX4.match(x) for x in (vendor, device, subvendor, subdevice)):
            raise FormatError('line %d: bad id in %r' % (lineno, line), path=source)
        if subvendor == '0000' and subdevice == '0000':
            subvendor = subdevice = None
        entries.append(
            PciId(driver=parts[3], vendor=vendor, device=device, subvendor=subvendor, subdevice=subdevice, device_class=parts[2], regtype='esx4', source=source)
        )
    return entries


@dataclass
class IdsTable:
    """Names from a ``.ids`` file: vendors[vid] = name, devices[(vid, did)] = name, subsystems[(vid, did, sv, sd)]."""

    vendors: dict
    devices: dict
    subsystems: dict

    def device_ids(self) -> list[tuple[str, str]]:
        return sorted(self.devices)


def parse_ids(text: str | bytes, source: str | None = None) -> IdsTable:
    """pci.ids syntax: ``vvvv  name`` / TAB ``dddd  name`` / TAB TAB ``ssss ssss  name``."""
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    table = IdsTable({}, {}, {})
    vendor = device = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith('#'):
            continue
        depth = len(raw) - len(raw.lstrip('\t'))
        body = raw.strip()
        parts = body.split(None, 1)
        name = parts[1].strip() if len(parts) > 1 else ''
        if depth == 0:
            if parts[0] == 'C':  # device class section: ids files for drivers do not need it
                vendor = device = None
                continue
            if not _HEX4.match(parts[0]):
                raise FormatError('line %d: %r is not a vendor line (4 hex digits and a name)' % (lineno, raw), path=source)
            vendor, device = parts[0].lower(), None
            table.vendors[vendor] = name
        elif depth == 1:
            if vendor is None:
                continue
            if not _HEX4.match(parts[0]):
                raise FormatError('line %d: %r is not a device line' % (lineno, raw), path=source)
            device = parts[0].lower()
            table.devices[(vendor, device)] = name
        else:
            if vendor is None or device is None:
                continue
            sub = body.split(None, 2)
            if len(sub) < 2 or not (_HEX4.match(sub[0]) and _HEX4.match(sub[1])):
                raise FormatError('line %d: %r is not a subsystem line' % (lineno, raw), path=source)
            table.subsystems[(vendor, device, sub[0].lower(), sub[1].lower())] = sub[2].strip() if len(sub) > 2 else ''
    return table


def merge_pci_ids(map_entries: Iterable[PciId], ids_tables: Sequence[IdsTable] = (), ids_driver_names: Iterable[str] = ()) -> list[PciId]:
    """Map entries named from the ``.ids`` tables, plus ``.ids`` devices no map line covers.

    ``ids_driver_names`` gives, per table, the driver to attribute uncovered devices to (the file stem).
    """
    vendors, devices = {}, {}
    for table in ids_tables:
        vendors.update(table.vendors)
        devices.update(table.devices)
    result, covered = [], set()
    for entry in map_entries:
        covered.add((entry.vendor, entry.device))
        if entry.bus == 'pci':
            entry = PciId(**{**entry.__dict__, 'vendor_name': vendors.get(entry.vendor), 'device_name': devices.get((entry.vendor, entry.device))})
        result.append(entry)
    for table, driver in zip(ids_tables, ids_driver_names):
        for (vendor, device), name in sorted(table.devices.items()):
            if (vendor, device) not in covered:
                covered.add((vendor, device))
                result.append(
                    PciId(driver=driver, vendor=vendor, device=device, regtype='ids', source='ids', vendor_name=table.vendors.get(vendor), device_name=name)
                )
    return result


def format_map_line(entry: PciId) -> str:
    """Inverse of :func:`parse_map_line` for PCI/ACPI entries (used by tests and when building maps)."""
    if entry.bus != 'pci':
        return 'regtype=%s,bus=%s,id=%s,driver=%s' % (entry.regtype, entry.bus, entry.acpi_id, entry.driver)
    if entry.regtype == 'linux':
        sub = '%s:%s' % (entry.subvendor or '0000', entry.subdevice or '0000')
        line = 'regtype=linux,bus=pci,id=%s:%s %s,driver=%s' % (entry.vendor, entry.device, sub, entry.driver)
        return line + (',class=%s' % entry.device_class if entry.device_class else '')
    groups = ((entry.vendor, 4), (entry.device, 4), (entry.subvendor, 4), (entry.subdevice, 4), (entry.device_class, 6))
    ident = ''.join(g or '.' * n for g, n in groups) + (entry.revision or '')
    return 'regtype=native,bus=pci,id=%s,driver=%s' % (ident, entry.driver)
