# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.esxi.customizer.plugins.module_utils._formats.drivermap import (
    PciId,
    format_map_line,
    merge_pci_ids,
    parse_ids,
    parse_map,
    parse_simple_map,
)
from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures


FIXTURES = shared_fixtures()
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found (set ESXI_SHARED_FIXTURES)')


def test_vmklinux_line():
    [entry] = parse_map(b'regtype=linux,bus=pci,id=10ec:8169 0000:0000,driver=r8169,class=network\n', 'r8169.map')
    assert (entry.vendor, entry.device, entry.subvendor, entry.subdevice) == ('10ec', '8169', None, None)
    assert (entry.driver, entry.device_class, entry.regtype, entry.bus) == ('r8169', 'network', 'linux', 'pci')


def test_vmklinux_line_with_subsystem():
    [entry] = parse_map('regtype=linux,bus=pci,id=8086:10C9 103C:323F,driver=igb,class=network')
    assert (entry.vendor, entry.device, entry.subvendor, entry.subdevice) == ('8086', '10c9', '103c', '323f')


@pytest.mark.parametrize(
    'ident, expected',
    [
        ('80861049..............', ('8086', '1049', None, None, None)),
        ('................010802', (None, None, None, None, '010802')),
        ('106b2005..............', ('106b', '2005', None, None, None)),
        ('10ec8125103c0001......', ('10ec', '8125', '103c', '0001', None)),
        ('................0c03..', (None, None, None, None, '0c03..')),
        ('10ec8125103c0001', ('10ec', '8125', '103c', '0001', None)),
        ('15B3101D15B30016', ('15b3', '101d', '15b3', '0016', None)),
    ],
)
def test_native_ids_with_wildcard_nibbles(ident, expected):
    [entry] = parse_map('regtype=native,bus=pci,id=%s,driver=drv' % ident)
    assert (entry.vendor, entry.device, entry.subvendor, entry.subdevice, entry.device_class) == expected
    assert entry.revision is None


@pytest.mark.parametrize(
    'ident, expected',
    [
        ('8086154d..............', ('8086', '154d', None, None, None, None)),  # 22: the usual form
        ('8086154d........020000', ('8086', '154d', None, None, '020000', None)),  # 22 with class + prog-if
        ('8086154d........02000001', ('8086', '154d', None, None, '020000', '01')),  # 24: + revision (vmk_PCIDeviceID progIFRevID)
        ('................010802..', (None, None, None, None, '010802', None)),
        ('8086154d', ('8086', '154d', None, None, None, None)),
    ],
)
def test_native_id_lengths_16_22_24(ident, expected):
    [entry] = parse_map('regtype=native,bus=pci,id=%s,driver=ixgben' % ident)
    assert (entry.vendor, entry.device, entry.subvendor, entry.subdevice, entry.device_class, entry.revision) == expected
    assert parse_map(format_map_line(entry)) == [entry]


def test_other_buses_are_kept_not_refused():
    [entry] = parse_map('regtype=native,bus=logical,id=pnp0501,driver=uart\n', 'uart.map')
    assert (entry.bus, entry.acpi_id, entry.driver, entry.vendor) == ('logical', 'pnp0501', 'uart', None)
    assert parse_map(format_map_line(entry), 'uart.map') == [entry]


def test_windows_line_endings_comments_blank_lines_and_class_variants():
    text = (
        b'# driver map\r\n\r\n   \r\n'
        b'regtype=linux,bus=pci,id=10ec:8169 0000:0000,driver=r8169,class=network\r\n'
        b'  # indented comment\r\n'
        b'regtype=linux, bus=pci, id=1000:0060 1028:1f0a, driver=megaraid_sas, class=storage \r\n'
        b'regtype=linux,bus=pci,id=8086:10d3 0000:0000,class=Network,driver=e1000e\r\n'
        b'regtype=linux,bus=pci,id=14e4:1639 0000:0000,driver=bnx2\r\n'
        b'regtype=native,bus=pci,id=10ec8125..............,driver=if_re,\r\n'
    )
    entries = parse_map(text, 'x.map')
    assert [(e.vendor, e.device, e.subvendor, e.driver, e.device_class) for e in entries] == [
        ('10ec', '8169', None, 'r8169', 'network'),
        ('1000', '0060', '1028', 'megaraid_sas', 'storage'),
        ('8086', '10d3', None, 'e1000e', 'Network'),
        ('14e4', '1639', None, 'bnx2', None),
        ('10ec', '8125', None, 'if_re', None),
    ]


def test_ids_with_crlf_subsystems_vendor_only_blocks_and_classes():
    text = (
        b'# header\r\n\r\n'
        b'1000  LSI Logic / Symbios Logic\r\n'
        b'\t0060  MegaRAID SAS 1078\r\n'
        b'\t\t1028 1f0a  PERC 6/E Adapter RAID Controller\r\n'
        b'\t\t1028 1f0b  PERC 6/i Adapter RAID Controller\r\n'
        b'1028  Dell\r\n'
        b'15ad  VMware\r\n'
        b'\t07b0  VMXNET3 Ethernet Controller\r\n'
        b'C 02  Network controller\r\n'
        b'\t00  Ethernet controller\r\n'
    )
    table = parse_ids(text, 'x.ids')
    assert table.vendors == {'1000': 'LSI Logic / Symbios Logic', '1028': 'Dell', '15ad': 'VMware'}
    assert table.devices == {('1000', '0060'): 'MegaRAID SAS 1078', ('15ad', '07b0'): 'VMXNET3 Ethernet Controller'}
    assert table.subsystems == {
        ('1000', '0060', '1028', '1f0a'): 'PERC 6/E Adapter RAID Controller',
        ('1000', '0060', '1028', '1f0b'): 'PERC 6/i Adapter RAID Controller',
    }


def test_acpi_and_comments():
    text = '# comment\n\nregtype=native,bus=acpi,id=PNP0D10,driver=vmkusb\n'
    [entry] = parse_map(text)
    assert (entry.bus, entry.acpi_id, entry.driver, entry.vendor) == ('acpi', 'PNP0D10', 'vmkusb', None)


@pytest.mark.parametrize(
    'line, message',
    [
        ('regtype=linux,bus=pci,id=10ec8169,driver=r8169', 'is not "VVVV:DDDD SSSS:ssss"'),
        ('regtype=native,bus=pci,id=10ecXX69,driver=x', 'not up to 24 hex digits'),
        ('regtype=native,bus=pci,driver=x', 'no id= field'),
        ('regtype=native,bus=usb,id=12 34,driver=x', "bad usb id '12 34'"),
        ('regtype=weird,bus=pci,id=12345678,driver=x', "unknown regtype 'weird'"),
        ('garbage without fields', 'is not a key=value field'),
    ],
)
def test_bad_map_lines_name_file_and_line(line, message):
    with pytest.raises(FormatError) as err:
        parse_map('# header\n' + line + '\n', 'etc/vmware/default.map.d/x.map')
    assert str(err.value).startswith('etc/vmware/default.map.d/x.map: line 2: ')
    assert message in str(err.value)


def test_simple_map_of_esx4():
    [entry] = parse_simple_map('0e11:0046 0e11:4091 storage cciss\n')
    assert (entry.vendor, entry.device, entry.subvendor, entry.subdevice, entry.device_class, entry.driver) == (
        '0e11',
        '0046',
        '0e11',
        '4091',
        'storage',
        'cciss',
    )
    with pytest.raises(FormatError, match='line 1'):
        parse_simple_map('0e11-0046 x storage cciss')


IDS = """#
# This file is mechanically generated.
#
10ec  Realtek Semiconductor Co., Ltd.
\t8125  RTL8125 2.5GbE Controller
\t\t10ec 0123  Some board
\t8168  RTL8111
8086  Intel Corporation
\t1521  I350 Gigabit Network Connection
"""


def test_ids_parse_and_merge():
    table = parse_ids(IDS)
    assert table.vendors == {'10ec': 'Realtek Semiconductor Co., Ltd.', '8086': 'Intel Corporation'}
    assert table.device_ids() == [('10ec', '8125'), ('10ec', '8168'), ('8086', '1521')]
    assert table.subsystems == {('10ec', '8125', '10ec', '0123'): 'Some board'}
    entries = parse_map('regtype=native,bus=pci,id=10ec8125..............,driver=if_re\n')
    merged = merge_pci_ids(entries, [table], ['if_re'])
    assert [(e.vendor, e.device, e.driver, e.source, e.device_name) for e in merged] == [
        ('10ec', '8125', 'if_re', None, 'RTL8125 2.5GbE Controller'),
        ('10ec', '8168', 'if_re', 'ids', 'RTL8111'),
        ('8086', '1521', 'if_re', 'ids', 'I350 Gigabit Network Connection'),
    ]


def test_ids_bad_lines():
    with pytest.raises(FormatError, match='x.ids: line 1'):
        parse_ids('zz  Not hex\n', 'x.ids')
    with pytest.raises(FormatError, match='is not a device line'):
        parse_ids('10ec  Realtek\n\tnope  x\n', 'x.ids')


def test_fixturegen_map_and_ids_files():
    ids = [('10ec', '8168'), ('8086', '1521')]
    native = parse_map(packages.map_text('drv', ids, 'native'))
    linux = parse_map(packages.map_text('drv', ids, 'linux'))
    assert [(e.vendor, e.device) for e in native] == ids == [(e.vendor, e.device) for e in linux]
    assert parse_ids(packages.ids_text('drv', ids)).device_ids() == sorted(ids)


@needs_fixtures
def test_real_6_7_sample_maps_parse():
    """Every .map / .ids sample of the 6.7 installer filesystem parses."""
    root = FIXTURES / 'esxi67-imgdb-ljvblfz'
    maps = sorted(root.rglob('*.map'))
    ids = sorted(root.rglob('*.ids'))
    assert maps and ids
    entries = [e for path in maps for e in parse_map(path.read_bytes(), path.name)]
    assert {e.regtype for e in entries} <= {'linux', 'native'}
    assert all(e.driver for e in entries)
    assert all(parse_ids(path.read_bytes(), path.name).devices for path in ids)


HEX4 = st.text(alphabet='0123456789abcdef', min_size=4, max_size=4)
OPT4 = st.one_of(st.none(), HEX4)
DRIVER = st.text(alphabet='abcdefghijklmnopqrstuvwxyz_0123456789', min_size=1, max_size=20)
NATIVE = st.builds(
    lambda v, d, sv, sd, c, drv: PciId(driver=drv, vendor=v, device=d, subvendor=sv, subdevice=sd, device_class=c, regtype='native'),
    OPT4,
    OPT4,
    OPT4,
    OPT4,
    st.one_of(st.none(), st.text(alphabet='0123456789abcdef', min_size=6, max_size=6)),
    DRIVER,
)
LINUX = st.builds(
    lambda v, d, sub, c, drv: PciId(
        driver=drv, vendor=v, device=d, subvendor=sub[0] if sub else None, subdevice=sub[1] if sub else None, device_class=c, regtype='linux'
    ),
    HEX4,
    HEX4,
    st.one_of(st.none(), st.tuples(HEX4, HEX4).filter(lambda t: t != ('0000', '0000'))),
    st.one_of(st.none(), st.sampled_from(['network', 'storage'])),
    DRIVER,
)
ACPI = st.builds(
    lambda i, drv: PciId(driver=drv, bus='acpi', acpi_id=i, regtype='native'),
    st.text(alphabet='ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_', min_size=1, max_size=12),
    DRIVER,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(NATIVE, LINUX, ACPI), max_size=20))
def test_map_round_trip(entries):
    text = '\n'.join(format_map_line(e) for e in entries)
    assert parse_map(text) == entries


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('regtype=nativelinuxbus,pciacpiid:.0123456789abcdefdriver \n#\t')), max_size=200))
def test_map_parser_never_crashes(text):
    try:
        entries = parse_map(text, 'fuzz.map')
    except FormatError as err:
        assert str(err).startswith('fuzz.map: line ')
        return
    assert all(isinstance(e, PciId) and e.driver for e in entries)


def test_lenient_parse_keeps_good_lines():
    errors = []
    entries = parse_map('regtype=native,bus=pci,id=zz,driver=a\nregtype=native,bus=pci,id=80861521,driver=igbn\n', 'x.map', errors)
    assert [(e.vendor, e.device) for e in entries] == [('8086', '1521')]
    assert errors == ["x.map: line 1: native id 'zz' is not up to 24 hex digits or \".\" wildcards"]


def test_byte_order_mark_is_named():
    with pytest.raises(FormatError, match='^x.map: starts with a UTF-8 byte order mark'):
        parse_map(b'\xef\xbb\xbfregtype=linux,bus=pci,id=10ec:8169 0000:0000,driver=r8169\r\n', 'x.map')
