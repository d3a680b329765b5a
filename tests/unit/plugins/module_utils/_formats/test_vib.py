# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import zipfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import ChecksumError, FormatError, UnsafeArchiveError
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import Limits
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import (
    Checksum,
    Descriptor,
    Payload,
    acceptance_rank,
    is_less_trusted,
    lowest_trust,
    normalize_acceptance,
    parse_descriptor,
    raise_for_mismatch,
    sort_checksums,
    verify_payload,
)
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures


FIXTURES = shared_fixtures()
ITI = FIXTURES / 'itiligent-esxi-custom-iso' if FIXTURES else None
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found (set ESXI_SHARED_FIXTURES)')

VIB_IN_ZIP = {
    '80u3': (
        'ESXi80U3-VMKUSB-NIC-FLING-75399077-component-24052746.zip',
        'vib20/vmkusb-nic-fling/VMW_bootbank_vmkusb-nic-fling_1.14-1vmw.803.0.0.75399077.vib',
    ),
    '90': ('ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip', 'vib20/vmkusb-nic-fling/VMW_bootbank_vmkusb-nic-fling_1.15-1vmw.900.0.84947163.vib'),
    'ifre': ('VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240.zip', 'vib20/if-re/vmw_bootbank_if-re_1.101.01-5vmw.800.1.0.20613240.vib'),
}


def real_vib(key):
    if key == 'r8125':
        return (ITI / 'net-r8125-9.011.00-10.vib').read_bytes()
    zip_name, member = VIB_IN_ZIP[key]
    with zipfile.ZipFile(ITI / zip_name) as bundle:
        return bundle.read(member)


def member(vib, name):
    return dict(packages.ar_members(vib))[name]


@needs_fixtures
def test_community_descriptor_every_field():
    d = parse_descriptor(member(real_vib('r8125'), 'descriptor.xml'), 'r8125.vib')
    assert (d.type, d.name, d.version, d.vendor) == ('bootbank', 'net-r8125', '9.011.00-10', 'Realtek')
    assert d.vib_id == 'Realtek_bootbank_net-r8125_9.011.00-10'
    assert d.summary == '[Fling] Realtek 8125 driver for ESXI built by GanFan + IRONsoftware/ksh'
    assert d.description == 'Recent driver for Realtek R8125. Based on official Realtek driver'
    assert d.release_date == '2023-03-30T05:29:00+00:00'
    assert d.urls == [('qq group', '607022025')]
    assert [c.name for c in d.depends] == ['vmkapi_2_3_0_0', 'com.vmware.driverAPI-9.2.2.0']
    assert [c.name for c in d.conflicts] == ['net51-drivers']
    assert [c.name for c in d.replaces] == ['net55-r8125']
    assert d.provides == [] and d.compatible_with == []
    assert d.software_tags == ['driver', 'module']
    assert d.system_requires.maintenance_mode is True and d.system_requires.software_platforms == []
    assert d.files == ['etc/vmware/driver.map.d/r8125.map', 'usr/lib/vmware/vmkmod/r8125']
    assert d.acceptance_level == 'community'
    assert (d.live_install_allowed, d.live_remove_allowed, d.cimom_restart, d.stateless_ready, d.overlay) == (False, False, False, True, False)
    [payload] = d.payloads
    assert (payload.name, payload.type, payload.size, payload.uncompressed_size) == ('net-8125', 'tgz', 108775, None)
    assert [(c.checksum_type, c.verify_process) for c in payload.checksums] == [('sha-256', None), ('sha-1', 'gunzip')]
    assert payload.checksums[0].value == '9c876d6b729c044cf9b93d9b40ed37a00dbdb587d638926d64c23c7c978cda9b'


@needs_fixtures
def test_8x_and_9x_descriptor_details():
    d = parse_descriptor(member(real_vib('80u3'), 'descriptor.xml'))
    assert d.payloads[0].uncompressed_size == 1190912
    [platform] = d.system_requires.software_platforms
    assert (platform.version, platform.locale, platform.product_line_id) == ('8.0', '', 'embeddedEsx')
    assert d.software_tags[:2] == ['RestrictStickyFiles', 'PCIID ................0c0300']
    d9 = parse_descriptor(member(real_vib('90'), 'descriptor.xml'))
    zstd = [c for c in d9.depends if c.name == 'zstd-compression'][0]
    assert (zstd.relation, zstd.version) == ('=', '1.0')
    payload = d9.payloads[0]
    assert (payload.type, payload.size, payload.uncompressed_size) == ('vzstd', 299608, 1191424)
    assert payload.extra_attributes == {'compression-option': 'level=18'}
    assert [c.checksum_type for c in payload.checksums] == ['sha-256', 'sha-256', 'sha-1', 'sha-256-gunzip1']


@needs_fixtures
@pytest.mark.parametrize('key', ['r8125', '80u3', '90', 'ifre'])
def test_to_xml_round_trips_the_model(key):
    d = parse_descriptor(member(real_vib(key), 'descriptor.xml'))
    again = parse_descriptor(d.to_xml())
    assert again == d


@needs_fixtures
def test_to_xml_writes_checksums_in_vmware_order():
    d = parse_descriptor(member(real_vib('r8125'), 'descriptor.xml'))
    d.payloads[0].checksums.insert(0, Checksum('sha-256', 'ab' * 32, 'gunzip'))
    d.payloads[0].checksums.reverse()
    xml = d.to_xml().decode()
    assert xml.index('verify-process="gunzip">abab') < xml.index('checksum-type="sha-256">9c87') < xml.index('checksum-type="sha-1"')
    assert xml.startswith('<vib version="5.0"><type>bootbank</type><name>net-r8125</name>')


@needs_fixtures
def test_every_image_database_descriptor_round_trips():
    """The 6.7 GA and 7.0.0 image databases: 220 VMware-written VIB XMLs (vfat-name, boot-order, txt-mle...)."""
    paths = sorted((FIXTURES / 'esxi67-imgdb-ljvblfz').rglob('vibs/*.xml'))
    paths += sorted((FIXTURES / 'esxi70-imgdb-samples-eturra').rglob('vibs/*.xml'))
    assert len(paths) == 220
    for path in paths:
        d = parse_descriptor(path.read_bytes(), str(path))
        assert parse_descriptor(d.to_xml()) == d, path
    base = parse_descriptor((FIXTURES / 'esxi67-imgdb-ljvblfz/var/db/esximg/vibs/esx-base-591008816.xml').read_bytes())
    installed = parse_descriptor((FIXTURES / 'esxi70-imgdb-samples-eturra/samples/esximg/vibs/esx-base-699708918229420497.xml').read_bytes())
    assert installed.extra_elements == ['<installdate>2020-10-07T11:36:17.746590+00:00</installdate>']
    assert b'</software-tags><installdate>2020-10-07T11:36:17.746590+00:00</installdate><system-requires>' in installed.to_xml()
    b = base.payload('b')
    assert (b.type, b.boot_order, b.size) == ('boot', '10', 123786)
    assert [(c.checksum_type, c.verify_process) for c in b.checksums] == [('sha-256', 'txt-mle'), ('sha-256', 'gunzip'), ('sha-256', None), ('sha-1', 'gunzip')]


def test_sort_checksums_vmware_order():
    sums = [Checksum('sha-1', 'c', 'gunzip'), Checksum('sha-256', 'b'), Checksum('sha-256', 'a', 'gunzip')]
    assert [c.value for c in sort_checksums(sums)] == ['a', 'b', 'c']


def test_acceptance_order_and_helpers():
    assert [acceptance_rank(x) for x in ('certified', 'accepted', 'partner', 'community')] == [1, 2, 3, 4]
    assert lowest_trust(['certified', 'PartnerSupported', 'accepted']) == 'partner'
    assert lowest_trust(['certified', 'community']) == 'community'
    assert is_less_trusted('community', 'partner') and not is_less_trusted('certified', 'accepted')
    assert normalize_acceptance('VMwareCertified') == 'certified'
    with pytest.raises(FormatError, match="unknown acceptance level 'trusted'"):
        normalize_acceptance('trusted')


ENTITY_XML = b'<?xml version="1.0"?><!DOCTYPE vib [<!ENTITY x "boom">]><vib version="5.0"><type>bootbank</type><name>&x;</name></vib>'


def test_entity_definitions_are_refused():
    with pytest.raises(FormatError) as err:
        parse_descriptor(ENTITY_XML, 'evil.vib')
    assert 'evil.vib: descriptor.xml contains a DTD or entity definition' in str(err.value)


@pytest.mark.parametrize(
    'xml, message',
    [
        (b'<vib><type>bootbank</type', 'not well-formed XML'),
        (b'<bulletin/>', 'root element is <bulletin>'),
        (b'<vib><type>bootbank</type><version>1</version><vendor>X</vendor><acceptance-level>community</acceptance-level></vib>', 'has no <name>'),
        (b'<vib><type>b</type><name>n</name><version>1</version><vendor>X</vendor></vib>', 'no <acceptance-level>'),
        (
            b'<vib><type>b</type><name>n</name><version>1</version><vendor>X</vendor><acceptance-level>community</acceptance-level>'
            b'<payloads><payload name="p" type="vgz" size="ten"/></payloads></vib>',
            "non-numeric size='ten'",
        ),
        (
            b'<vib><type>b</type><name>n</name><version>1</version><vendor>X</vendor><acceptance-level>community</acceptance-level>'
            b'<payloads><payload name="this-name-is-too-long" type="vgz" size="1"/></payloads></vib>',
            'longer than 15',
        ),
    ],
)
def test_bad_descriptors(xml, message):
    with pytest.raises(FormatError, match=message):
        parse_descriptor(xml, 'x.vib')


def _payload_for(data, ptype='vgz', order='vmware'):
    sums = [Checksum(t, v, p) for t, p, v in packages.payload_checksums(data, order)]
    return Payload('p', ptype, len(data), checksums=sums)


def test_verify_payload_streams_every_checksum():
    data = packages.gzip_bytes(packages.vmtar({'etc/a': b'hello'}))
    check = verify_payload(_payload_for(data), io.BytesIO(data), 'x.vib')
    assert check.checksum_ok is True
    assert [(r.checksum_type, r.verify_process, r.ok) for r in check.results] == [
        ('sha-256', None, True),
        ('sha-256', 'gunzip', True),
        ('sha-1', 'gunzip', True),
    ]
    assert check.uncompressed_size == len(gzip.decompress(data))


def test_verify_payload_reports_and_raises_mismatch():
    data = packages.gzip_bytes(b'payload bytes' * 10)
    payload = _payload_for(data)
    payload.checksums[1] = Checksum('sha-256', '00' * 32)
    check = verify_payload(payload, io.BytesIO(data), 'x.vib')
    assert check.checksum_ok is False
    with pytest.raises(ChecksumError, match='x.vib: payload p: sha-256  mismatch'):
        raise_for_mismatch(check, 'x.vib')


def test_verify_payload_size_and_truncation():
    data = packages.gzip_bytes(b'abc' * 1000)
    with pytest.raises(FormatError, match='is 10 bytes but descriptor.xml says'):
        verify_payload(_payload_for(data), io.BytesIO(data[:10]), 'x.vib')
    payload = _payload_for(data)
    payload.size = len(data) - 4
    with pytest.raises(FormatError, match='truncated'):
        verify_payload(payload, io.BytesIO(data[:-4]), 'x.vib')


def test_verify_payload_stops_gzip_bombs():
    bomb = gzip.compress(b'\x00' * (64 * 1024 * 1024))
    limits = Limits(max_uncompressed_size=8 * 1024 * 1024)
    payload = Payload('p', 'vgz', len(bomb), checksums=[Checksum('sha-256', '0' * 64, 'gunzip')])
    with pytest.raises(UnsafeArchiveError, match='max_uncompressed_size'):
        verify_payload(payload, io.BytesIO(bomb), 'bomb.vib', limits=limits)
    with pytest.raises(UnsafeArchiveError, match='compression ratio above 200:1'):
        verify_payload(payload, io.BytesIO(bomb), 'bomb.vib')


@needs_fixtures
def test_vzstd_checksums_all_verified():
    vib = real_vib('90')
    d = parse_descriptor(member(vib, 'descriptor.xml'))
    data = member(vib, 'vmkusb-n')
    check = verify_payload(d.payloads[0], io.BytesIO(data))
    states = {(r.checksum_type, r.verify_process): r.ok for r in check.results}
    assert states == {('sha-256', None): True, ('sha-256-gunzip1', None): True, ('sha-256', 'gunzip'): True, ('sha-1', 'gunzip'): True}
    assert check.checksum_ok is True and check.uncompressed_size == d.payloads[0].uncompressed_size == 1191424
    # gunzip1 is the gzip layer only; the gunzip checksums are of the zstd-decompressed vmtar
    assert hashlib.sha256(gzip.decompress(data)).hexdigest() == d.payloads[0].checksums[3].value


@needs_fixtures
def test_vzstd_decompressed_checksum_mismatch_is_reported():
    vib = real_vib('90')
    d = parse_descriptor(member(vib, 'descriptor.xml'))
    payload = d.payloads[0]
    wrong = dataclasses.replace(payload, checksums=[dataclasses.replace(c, value='0' * len(c.value)) if c.verify_process else c for c in payload.checksums])
    check = verify_payload(wrong, io.BytesIO(member(vib, 'vmkusb-n')))
    assert [(r.checksum_type, r.verify_process, r.ok) for r in check.results if r.ok is False] == [('sha-256', 'gunzip', False), ('sha-1', 'gunzip', False)]
    with pytest.raises(ChecksumError, match='sha-256 \\(verify-process gunzip\\) mismatch'):
        raise_for_mismatch(check, 'x.vib')


@needs_fixtures
def test_vzstd_checksums_without_a_zstd_library(no_zstd):
    vib = real_vib('90')
    d = parse_descriptor(member(vib, 'descriptor.xml'))
    check = verify_payload(d.payloads[0], io.BytesIO(member(vib, 'vmkusb-n')))
    states = {(r.checksum_type, r.verify_process): r.ok for r in check.results}
    assert states == {('sha-256', None): True, ('sha-256-gunzip1', None): True, ('sha-256', 'gunzip'): None, ('sha-1', 'gunzip'): None}
    assert check.checksum_ok is True and check.uncompressed_size is None
    assert 'pip install zstandard' in check.notes[0]


def test_descriptor_defaults_build_valid_xml():
    d = Descriptor(type='bootbank', name='x', version='1.0', vendor='OEM', payloads=[Payload('x', 'tgz', 3, checksums=[Checksum('sha-256', 'aa')])])
    assert parse_descriptor(d.to_xml()).vib_id == 'OEM_bootbank_x_1.0'


# --- descriptors as other tools write them (VIB Author, ESXi-CPT, hand-written) --------------------

BASE = packages.descriptor_xml('net-x', '1.0-1', payloads=[('net-x', 'vgz', packages.gzip_bytes(packages.vmtar({'a/b': b'1'})))])


@pytest.mark.parametrize(
    'prefix',
    [
        b'\xef\xbb\xbf',
        b'<?xml version="1.0" encoding="UTF-8"?>\r\n',
        b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n',
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n',
    ],
)
def test_bom_and_xml_declarations(prefix):
    assert parse_descriptor(prefix + BASE, 'x.vib').vib_id == 'ESXCUST_bootbank_net-x_1.0-1'


@pytest.mark.parametrize('root', [b'<vib xmlns="http://www.vmware.com/vib/schema" version="5.0">', b'<v:vib xmlns:v="urn:vib" version="5.0">'])
def test_namespaced_descriptor(root):
    """A default (or prefixed) namespace must not hide the elements: esximage matches local names."""
    xml = BASE.replace(b'<vib version="5.0">', root)
    if root.startswith(b'<v:'):
        xml = xml.replace(b'</vib>', b'</v:vib>')
    d = parse_descriptor(xml, 'x.vib')
    assert (d.vib_id, d.acceptance_level, d.payloads[0].name) == ('ESXCUST_bootbank_net-x_1.0-1', 'community', 'net-x')
    assert len(d.payloads[0].checksums) == 3


def test_crlf_indentation_and_whitespace_around_values():
    xml = (
        BASE.replace(b'><', b'>\r\n    <')
        .replace(b'<name>net-x</name>', b'<name>\r\n  net-x  </name>')
        .replace(b'<acceptance-level>community', b'<acceptance-level> community\r\n')
    )
    d = parse_descriptor(xml, 'x.vib')
    assert (d.name, d.type, d.vendor, d.acceptance_level) == ('net-x', 'bootbank', 'ESXCUST', 'community')
    assert d.software_tags == ['driver', 'module']
    assert all(c.value == c.value.strip() for c in d.payloads[0].checksums)


@pytest.mark.parametrize('version', ['5.0', '1.0', None])
def test_schema_versions(version):
    root = b'<vib>' if version is None else b'<vib version="%s">' % version.encode()
    d = parse_descriptor(BASE.replace(b'<vib version="5.0">', root))
    assert d.schema_version == (version or '5.0') and d.name == 'net-x'


def test_relationships_with_relations_and_versioned_provides():
    xml = packages.descriptor_xml(
        'net-x',
        '1.0-1',
        depends=[('esx-version', '>=', '5.0.0'), 'vmkapi_2_2_0_0'],
        conflicts=[('net-x-old', '<<', '1.0-1')],
        replaces=[('net-x', '<<', '1.0-1')],
        provides=[('net-x', '1.0-1'), 'com.vmware.driverAPI-9.2.2.0'],
    )
    d = parse_descriptor(xml)
    assert [c.as_dict() for c in d.depends] == [
        {'name': 'esx-version', 'relation': '>=', 'version': '5.0.0'},
        {'name': 'vmkapi_2_2_0_0', 'relation': None, 'version': None},
    ]
    assert [(c.name, c.relation, c.version) for c in d.conflicts + d.replaces] == [('net-x-old', '<<', '1.0-1'), ('net-x', '<<', '1.0-1')]
    assert [(c.name, c.relation, c.version) for c in d.provides] == [('net-x', None, '1.0-1'), ('com.vmware.driverAPI-9.2.2.0', None, None)]
    assert b'<provides><provide name="net-x" version="1.0-1" /><provide name="com.vmware.driverAPI-9.2.2.0" />' in d.to_xml().replace(b'"/>', b'" />')
    assert parse_descriptor(d.to_xml()) == d


@needs_fixtures
def test_real_provides_are_read_and_written_back_as_provide_elements():
    xml = (FIXTURES / 'esxi67-imgdb-ljvblfz/var/db/esximg/vibs').glob('esx-base-*.xml')
    d = parse_descriptor(next(xml).read_bytes())
    assert ('esx-version', '6.7.0-0.0.8169922') in [(c.name, c.version) for c in d.provides]
    assert len(d.provides) > 20
    again = parse_descriptor(d.to_xml())
    assert again.provides == d.provides


def test_system_requires_hwplatform_and_several_platforms():
    xml = BASE.replace(
        b'<maintenance-mode>true</maintenance-mode>',
        (
            b'<maintenance-mode install="false">true</maintenance-mode><hwplatform vendor="HPE" model="ProLiant DL380 Gen10"/>'
            b'<softwarePlatform version="7.0.*" locale="" productLineID="embeddedEsx"/>'
            b'<softwarePlatform version="8.0.*" locale="" productLineID="embeddedEsx"/>'
        ),
    )
    d = parse_descriptor(xml)
    req = d.system_requires
    assert req.maintenance_mode is True and req.maintenance_mode_attrs == {'install': 'false'}
    platforms = [(p.version, p.product_line_id) for p in req.software_platforms]
    assert platforms == [('7.0.*', 'embeddedEsx'), ('8.0.*', 'embeddedEsx')]
    assert req.other == ['<hwplatform vendor="HPE" model="ProLiant DL380 Gen10" />']
    assert parse_descriptor(d.to_xml()) == d


@pytest.mark.parametrize(
    'level, token',
    [
        ('certified', 'certified'),
        ('accepted', 'accepted'),
        ('partner', 'partner'),
        ('community', 'community'),
        ('PartnerSupported', 'partner'),
        (' Community ', 'community'),
    ],
)
def test_acceptance_levels_in_descriptors(level, token):
    xml = BASE.replace(b'<acceptance-level>community', b'<acceptance-level>' + level.encode())
    assert parse_descriptor(xml).acceptance_level == token


def test_unknown_acceptance_level_is_a_clear_error():
    xml = BASE.replace(b'<acceptance-level>community', b'<acceptance-level>signed')
    with pytest.raises(FormatError) as err:
        parse_descriptor(xml, '/srv/x.vib')
    assert str(err.value) == ("/srv/x.vib: unknown acceptance level 'signed' (expected one of certified, accepted, partner, community)")


def test_sha1_only_checksums():
    data = packages.gzip_bytes(packages.vmtar({'a/b': b'1'}))
    payload = Payload('p', 'vgz', len(data), checksums=[Checksum('sha-1', hashlib.sha1(data).hexdigest())])
    check = verify_payload(payload, io.BytesIO(data), 'x.vib')
    assert [(r.checksum_type, r.ok) for r in check.results] == [('sha-1', True)] and check.checksum_ok is True
    payload.checksums = [Checksum('sha-1', hashlib.sha1(gzip.decompress(data)).hexdigest(), 'gunzip')]
    assert verify_payload(payload, io.BytesIO(data), 'x.vib').checksum_ok is True


def test_gunzip_checksum_on_tgz_payload_and_uncompressed_size():
    data = packages.tar_gz({'etc/x': b'hello'})
    xml = packages.descriptor_xml('net-x', '1.0-1', payloads=[('net-x', 'tgz', data)], uncompressed_size=True)
    [payload] = parse_descriptor(xml).payloads
    assert payload.uncompressed_size == len(gzip.decompress(data))
    check = verify_payload(payload, io.BytesIO(data), 'x.vib')
    assert check.checksum_ok is True and check.uncompressed_size == payload.uncompressed_size
    payload.uncompressed_size += 1
    check = verify_payload(payload, io.BytesIO(data), 'x.vib')
    assert check.checksum_ok is False and 'descriptor says' in check.notes[0]


def test_vfat_name_boot_order_and_unknown_attributes_round_trip():
    xml = packages.descriptor_xml(
        'net-x',
        '1.0-1',
        payloads=[('net-x', 'vgz', packages.gzip_bytes(b'x'))],
        extra_payload_attrs={'net-x': {'vfat-name': 'net_x.v00', 'boot-order': '5', 'compression-option': 'level=9'}},
    )
    d = parse_descriptor(xml)
    p = d.payloads[0]
    assert (p.vfat_name, p.boot_order, p.extra_attributes) == ('net_x.v00', '5', {'compression-option': 'level=9'})
    assert parse_descriptor(d.to_xml()) == d


@pytest.mark.parametrize('vib_type', ['locker', 'meta'])
def test_locker_and_meta_vibs(vib_type):
    payloads = [] if vib_type == 'meta' else [('tools', 'tgz', packages.tar_gz({'vmtools/x.iso': b'iso'}))]
    d = parse_descriptor(packages.descriptor_xml('tools-light', '12.0', 'VMware', 'certified', payloads=payloads, vib_type=vib_type))
    assert d.vib_id == 'VMware_%s_tools-light_12.0' % vib_type
    assert [p.type for p in d.payloads] == [p[1] for p in payloads]


def test_payload_name_of_15_characters():
    xml = packages.descriptor_xml('x', '1', payloads=[('abcdefghijklmno', 'vgz', packages.gzip_bytes(b'x'))])
    assert parse_descriptor(xml).payloads[0].name == 'abcdefghijklmno'


@pytest.mark.parametrize('field', ['²', '١٢٣', '1_000'])
def test_non_ascii_digits_in_sizes_are_a_format_error_not_a_traceback(field):
    xml = packages.descriptor_xml('net-x', '1.0-1', payloads=[('net-x', 'vgz', packages.gzip_bytes(b'x'))])
    bad = xml.replace(b'size="', ('size="%s' % field).encode('utf-8'), 1)
    with pytest.raises(FormatError, match='non-numeric size'):
        parse_descriptor(bad, label='net-x.vib')
    depot_copy = xml.replace(b'</vib>', ('<relative-path>x.vib</relative-path><packed-size>%s</packed-size></vib>' % field).encode('utf-8'))
    assert parse_descriptor(depot_copy, label='net-x.vib').packed_size is None


def test_bytes_only_checks_the_plain_sha256_and_the_size_but_not_the_gunzip_sums():
    data = gzip.compress(b'payload bytes' * 100, mtime=0)
    wrong_gunzip = Checksum('sha-256', '0' * 64, 'gunzip')
    payload = Payload('p', 'vgz', len(data), checksums=[wrong_gunzip, Checksum('sha-256', hashlib.sha256(data).hexdigest())])
    assert verify_payload(payload, io.BytesIO(data), 'x').checksum_ok is False  # the whole check sees the bad descriptor
    quick = verify_payload(payload, io.BytesIO(data), 'x', bytes_only=True)
    assert quick.checksum_ok is True and [r.verify_process for r in quick.results] == [None]
    tampered = data[:-5] + bytes([data[-5] ^ 1]) + data[-4:]
    assert verify_payload(payload, io.BytesIO(tampered), 'x', bytes_only=True).checksum_ok is False
    # without a plain sha-256 the gunzip sums are all there is: bytes_only checks them
    only_gunzip = Payload('p', 'vgz', len(data), checksums=[Checksum('sha-256', hashlib.sha256(gzip.decompress(data)).hexdigest(), 'gunzip')])
    assert verify_payload(only_gunzip, io.BytesIO(data), 'x', bytes_only=True).checksum_ok is True
    with pytest.raises(FormatError, match='corrupt compressed data'):
        verify_payload(only_gunzip, io.BytesIO(tampered), 'x', bytes_only=True)
