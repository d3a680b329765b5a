# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A server's PCI devices as users have them at hand, and whether a driver map entry claims one.

Accepted: ``vvvv:dddd`` or ``vvvv:dddd:ssss:ssss`` (subsystem vendor and device), either followed by ``/cccc`` or
``/ccccpp`` (class and subclass, with the programming interface: ``/0c0330`` is an xHCI controller), the output of ``lspci -n`` or
``lspci -nn`` (``03:00.0 0200: 8086:10d3 (rev 01)``, ``... Ethernet controller [0200]: Intel ... [8086:10d3]``) and
of ``esxcli hardware pci list`` (blocks of ``Vendor ID: 0x8086`` lines).

A map entry (:class:`~.drivermap.PciId`) matches when every field it names equals the device's, ``.`` being a
one-digit wildcard (esxi-formats §7). A field the entry names but the device list does not carry (the subsystem from
``lspci -n``, the programming interface of a class) makes it a *possible* match; an entry for a whole class says
nothing about a device whose class is not given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.drivermap import PciId

_ID = re.compile(r'^\s*([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?::([0-9a-fA-F]{4}):([0-9a-fA-F]{4}))?(?:/([0-9a-fA-F]{4}(?:[0-9a-fA-F]{2})?))?\s*$')
_LSPCI_N = re.compile(r'^\s*(?P<address>[0-9a-fA-F:.]+)\s+(?P<class>[0-9a-fA-F]{4}):\s+(?P<vendor>[0-9a-fA-F]{4}):(?P<device>[0-9a-fA-F]{4})')
_LSPCI_NN = re.compile(
    r'^\s*(?P<address>[0-9a-fA-F:.]+)\s+(?P<name>.*?)\s*\[(?P<class>[0-9a-fA-F]{4})\]:\s*'
    r'(?P<product>.*?)\s*\[(?P<vendor>[0-9a-fA-F]{4}):(?P<device>[0-9a-fA-F]{4})\]'
)
_ESXCLI_FIELD = re.compile(r'^\s*(Address|Vendor ID|Device ID|SubVendor ID|SubDevice ID|Device Class|Device Name)\s*:\s*(.*?)\s*$')


@dataclass(frozen=True)
class Device:
    """One PCI function; hex fields lower case, None when the source did not say."""

    vendor: str
    device: str
    subvendor: str | None = None
    subdevice: str | None = None
    device_class: str | None = None  # 4 (class, subclass) or 6 (with programming interface) hex digits
    address: str | None = None
    name: str | None = None

    @property
    def key(self) -> str:
        ident = '%s:%s' % (self.vendor, self.device)
        if self.subvendor and self.subdevice:
            ident += ':%s:%s' % (self.subvendor, self.subdevice)
        return ident + ('/%s' % self.device_class if self.device_class else '')


def _hex(value: str, digits: int) -> str | None:
    text = value.strip().lower()
    text = text[2:] if text.startswith('0x') else text
    if not re.match(r'^[0-9a-f]+$', text):
        return None
    return text.rjust(digits, '0')[-digits:]


def parse_device(text: str, *, label: str = 'devices') -> Device:
    match = _ID.match(text)
    if not match:
        raise FormatError('%r is not a PCI ID (vvvv:dddd or vvvv:dddd:ssss:ssss, optionally /class)' % text, path=label)
    vendor, device, subvendor, subdevice, klass = (group.lower() if group else None for group in match.groups())
    return Device(vendor, device, subvendor, subdevice, klass)


def _esxcli_device(fields: dict) -> Device | None:
    vendor, device = _hex(fields.get('Vendor ID', ''), 4), _hex(fields.get('Device ID', ''), 4)
    if not vendor or not device:
        return None
    return Device(
        vendor,
        device,
        _hex(fields.get('SubVendor ID', ''), 4),
        _hex(fields.get('SubDevice ID', ''), 4),
        _hex(fields.get('Device Class', ''), 4),
        fields.get('Address') or None,
        fields.get('Device Name') or None,
    )


def parse_device_text(text: str, *, label: str = 'devices_from') -> list[Device]:
    """Every device in the text of ``lspci -n``, ``lspci -nn``, ``esxcli hardware pci list`` or a list of PCI IDs."""
    found, block = [], {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith('#'):
            if block:
                device = _esxcli_device(block)
                found += [device] if device else []
                block = {}
            continue
        esxcli = _ESXCLI_FIELD.match(line)
        if esxcli:
            if esxcli.group(1) == 'Address' and block:
                device = _esxcli_device(block)
                found += [device] if device else []
                block = {}
            block[esxcli.group(1)] = esxcli.group(2)
            continue
        if _ID.match(line):
            found.append(parse_device(line, label=label))
            continue
        nn = _LSPCI_NN.match(line)
        if nn:
            found.append(
                Device(nn['vendor'].lower(), nn['device'].lower(), device_class=nn['class'].lower(), address=nn['address'], name=nn['product'] or None)
            )
            continue
        plain = _LSPCI_N.match(line)
        if plain:
            found.append(Device(plain['vendor'].lower(), plain['device'].lower(), device_class=plain['class'].lower(), address=plain['address']))
            continue
        if line.startswith((' ', '\t')) or ':' in line and not re.search(r'[0-9a-fA-F]{4}:[0-9a-fA-F]{4}', line):
            continue  # other lines of an esxcli block (Segment, Bus, ...) or a header
        raise FormatError('line %d: %r is no PCI device line of lspci -n, lspci -nn or esxcli hardware pci list' % (lineno, line[:120]), path=label)
    if block:
        device = _esxcli_device(block)
        found += [device] if device else []
    if not found:
        raise FormatError('holds no PCI device (expected lspci -n, lspci -nn or esxcli hardware pci list output)', path=label)
    return found


def _field_match(pattern: str | None, value: str | None) -> str:
    """'yes', 'no' or 'unknown' for one map field (None pattern = any) against one device field."""
    if pattern is None:
        return 'yes'
    if value is None:
        return 'unknown'
    if len(value) < len(pattern):
        known = all(p in ('.', v) for p, v in zip(pattern, value))
        return 'unknown' if known else 'no'
    return 'yes' if all(p in ('.', v) for p, v in zip(pattern, value)) else 'no'


def claims(entry: PciId, device: Device) -> str | None:
    """'match', 'possible' (the entry needs a field the device list lacks) or None."""
    if entry.bus != 'pci':
        return None
    if entry.vendor is None and entry.device is None and device.device_class is None:
        return None  # an entry for a whole class (NVMe, xHCI) says nothing about a device of unknown class
    states = [
        _field_match(entry.vendor, device.vendor),
        _field_match(entry.device, device.device),
        _field_match(entry.subvendor, device.subvendor),
        _field_match(entry.subdevice, device.subdevice),
    ]
    if entry.regtype == 'native' and entry.device_class:
        states.append(_field_match(entry.device_class, device.device_class))
    if 'no' in states:
        return None
    return 'possible' if 'unknown' in states else 'match'
