# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.drivermap import parse_map_line
from ansible_collections.esxi.customizer.plugins.module_utils._formats.pcilist import Device, claims, parse_device, parse_device_text

LSPCI_N = """00:00.0 0600: 8086:3e30 (rev 0d)
00:14.0 0c03: 8086:a36d (rev 10)
03:00.0 0200: 10ec:8125 (rev 05)
"""
LSPCI_NN = """03:00.0 Ethernet controller [0200]: Realtek Semiconductor Co., Ltd. RTL8125 2.5GbE Controller [10ec:8125] (rev 05)
04:00.0 Non-Volatile memory controller [0108]: Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983 [144d:a808]
"""
ESXCLI = """0000:03:00.0
   Address: 0000:03:00.0
   Segment: 0x0000
   Vendor Name: Realtek
   Device Name: RTL8125 2.5GbE Controller
   Vendor ID: 0x10ec
   Device ID: 0x8125
   SubVendor ID: 0x1043
   SubDevice ID: 0x87d7
   Device Class: 0x0200

0000:04:00.0
   Address: 0000:04:00.0
   Vendor ID: 0x144d
   Device ID: 0xa808
   SubVendor ID: 0x144d
   SubDevice ID: 0xa801
   Device Class: 0x0108
"""


def test_ids():
    assert parse_device('10EC:8125') == Device('10ec', '8125')
    assert parse_device('10ec:8125:1043:87d7') == Device('10ec', '8125', '1043', '87d7')
    assert parse_device('8086:a36d/0c0330') == Device('8086', 'a36d', device_class='0c0330')
    assert parse_device('8086:a36d/0c0330').key == '8086:a36d/0c0330'
    with pytest.raises(FormatError, match="'10ec-8125' is not a PCI ID"):
        parse_device('10ec-8125')


def test_lspci_and_esxcli_outputs():
    assert [(d.key, d.address) for d in parse_device_text(LSPCI_N)] == [
        ('8086:3e30/0600', '00:00.0'),
        ('8086:a36d/0c03', '00:14.0'),
        ('10ec:8125/0200', '03:00.0'),
    ]
    nn = parse_device_text(LSPCI_NN)
    assert [(d.key, d.name) for d in nn] == [
        ('10ec:8125/0200', 'Realtek Semiconductor Co., Ltd. RTL8125 2.5GbE Controller'),
        ('144d:a808/0108', 'Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983'),
    ]
    esxcli = parse_device_text(ESXCLI)
    assert [(d.key, d.address, d.name) for d in esxcli] == [
        ('10ec:8125:1043:87d7/0200', '0000:03:00.0', 'RTL8125 2.5GbE Controller'),
        ('144d:a808:144d:a801/0108', '0000:04:00.0', None),
    ]
    assert [d.key for d in parse_device_text('10ec:8125\n# a comment\n8086:10d3:15d9:0000\n')] == ['10ec:8125', '8086:10d3:15d9:0000']


def test_bad_device_text_names_the_line():
    with pytest.raises(FormatError, match="devices.txt: line 2: 'hello world' is no PCI device line"):
        parse_device_text('10ec:8125\nhello world\n', label='devices.txt')
    with pytest.raises(FormatError, match='holds no PCI device'):
        parse_device_text('\n\n', label='empty.txt')


@pytest.mark.parametrize(
    'line, device, expected',
    [
        ('regtype=native,bus=pci,id=10ec8125..............,driver=r8125', '10ec:8125', 'match'),
        ('regtype=native,bus=pci,id=10ec8125..............,driver=r8125', '10ec:8126', None),
        ('regtype=native,bus=pci,id=10ec81251043....,driver=x', '10ec:8125', 'possible'),
        ('regtype=native,bus=pci,id=10ec81251043....,driver=x', '10ec:8125:1043:87d7', 'match'),
        ('regtype=native,bus=pci,id=10ec81251043....,driver=x', '10ec:8125:1028:0001', None),
        ('regtype=native,bus=pci,id=................010802,driver=nvme', '144d:a808', None),
        ('regtype=native,bus=pci,id=................010802,driver=nvme', '144d:a808/0108', 'possible'),
        ('regtype=native,bus=pci,id=................010802,driver=nvme', '144d:a808/010802', 'match'),
        ('regtype=native,bus=pci,id=................010802,driver=nvme', '144d:a808/0200', None),
        ('regtype=native,bus=pci,id=8086....,driver=wild', '8086:1234', 'match'),
        ('regtype=linux,bus=pci,id=8086:10d3 0000:0000,driver=e1000e,class=network', '8086:10d3', 'match'),
        ('regtype=linux,bus=pci,id=8086:10d3 15d9:0000,driver=e1000e', '8086:10d3:15d9:0000', 'match'),
        ('regtype=native,bus=acpi,id=PNP0C09,driver=acpi_ec', '8086:10d3', None),
    ],
)
def test_claims(line, device, expected):
    assert claims(parse_map_line(line), parse_device(device)) == expected
