# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import hashlib
import io
import os
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.esxi.customizer.plugins.module_utils._errors import (
    ChecksumError,
    CompatibilityError,
    EsxiCustomizerError,
    FormatError,
    UnsafeArchiveError,
    UnsupportedError,
)
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import load_package
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures


FIXTURES = shared_fixtures()
ITI = FIXTURES / 'itiligent-esxi-custom-iso' if FIXTURES else None
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found (set ESXI_SHARED_FIXTURES)')

# Values read from the files with unzip/ar/readelf (see the report of issue 3):
# kind, vib id, acceptance, signature bytes, [(payload, type, size)], files, PCI IDs (pci, acpi), vmkapi, release, vmklinux
REAL = {
    'net-r8125-9.011.00-10.vib': (
        'vib',
        'Realtek_bootbank_net-r8125_9.011.00-10',
        'community',
        0,
        [('net-8125', 'tgz', 108775)],
        ['etc/vmware/driver.map.d/r8125.map', 'usr/lib/vmware/vmkmod/r8125'],
        (2, 0),
        '2.3.0.0',
        '6.0',
        True,
    ),
    'net51-r8169-6.011.00-2vft.510.0.0.799733-offline_bundle.zip': (
        'bundle',
        'VFrontDe_bootbank_net51-r8169_6.011.00-2vft.510.0.0.799733',
        'community',
        0,
        [('net51-r8', 'tgz', 25351)],
        ['etc/vmware/driver.map.d/r8169.map', 'usr/lib/vmware/vmkmod/r8169', 'usr/share/hwdata/driver.pciids.d/r8169.ids'],
        (2, 0),
        '2.1.0.0',
        '5.1',
        True,
    ),
    'net-igb-5.3.2-99-offline_bundle.zip': (
        'bundle',
        'Intel_bootbank_net-igb_5.3.2-99',
        'community',
        0,
        [('net-igb', 'tgz', 102480)],
        ['etc/vmware/driver.map.d/igb.map', 'usr/lib/vmware/vmkmod/igb', 'usr/share/hwdata/driver.pciids.d/igb.ids'],
        (34, 0),
        '2.2.0.0',
        '5.5',
        True,
    ),
    'r8125-bundle.zip': (
        'bundle',
        'Realtek_bootbank_net-r8125_9.011.00-10',
        'community',
        0,
        [('net-8125', 'tgz', 108775)],
        ['etc/vmware/driver.map.d/r8125.map', 'usr/lib/vmware/vmkmod/r8125'],
        (2, 0),
        '2.3.0.0',
        '6.0',
        True,
    ),
    'nvme-community-driver_1.0.1.0-1vmw.670.0.0.8169922-offline_bundle-17658145.zip': (
        'component',
        'VMW_bootbank_nvme-community_1.0.1.0-1vmw.670.0.0.8169922',
        'certified',
        3377,
        [('nvme-community', 'vgz', 82732)],
        ['etc/vmware/default.map.d/nvme_community.map', 'etc/vmware/default.map.d/nvme_community_106b2005.map', 'usr/lib/vmware/vmkmod/nvme_community'],
        (2, 0),
        '2.5.0.0',
        '6.7',
        False,
    ),
    'ESXi650-VMKUSB-NIC-FLING-39176435-16775917.zip': (
        'bundle',
        'VMW_bootbank_vmkusb-nic-fling_2.1-6vmw.650.2.50.39176435',
        'accepted',
        5930,
        [('vmkusb-n', 'vgz', 445985)],
        ['etc/vmware/ihv.map.d/vmkusb_nic_fling.map', 'usr/lib/vmware/vmkmod/vmkusb_nic_fling'],
        (4, 0),
        '2.4.0.0',
        '6.5',
        False,
    ),
    'nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip': (
        'component',
        'VMW_bootbank_nvme-community_1.0.1.0-3vmw.700.1.0.15843807',
        'certified',
        3377,
        [('nvmecomm', 'vgz', 91682)],
        ['etc/vmware/default.map.d/nvme_community.map', 'etc/vmware/default.map.d/nvme_community_106b2005.map', 'usr/lib/vmware/vmkmod/nvme_community'],
        (5, 0),
        '2.6.0.0',
        '7.0',
        False,
    ),
    'VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240.zip': (
        'component',
        'vmw_bootbank_if-re_1.101.01-5vmw.800.1.0.20613240',
        'certified',
        3377,
        [('ifre', 'vgz', 221108)],
        ['etc/vmware/default.map.d/if_re.map', 'usr/lib/vmware/vmkmod/if_re', 'usr/share/hwdata/default.pciids.d/if_re.ids'],
        (9, 0),
        '2.10.0.0',
        '8.0',
        False,
    ),
    'ESXi80U3-VMKUSB-NIC-FLING-75399077-component-24052746.zip': (
        'component',
        'VMW_bootbank_vmkusb-nic-fling_1.14-1vmw.803.0.0.75399077',
        'certified',
        3377,
        [('vmkusb-n', 'vgz', 351514)],
        ['etc/vmware/ihv.map.d/vmkusb_nic_fling_acpi.map', 'etc/vmware/ihv.map.d/vmkusb_nic_fling_pci.map', 'usr/lib/vmware/vmkmod/vmkusb_nic_fling'],
        (4, 9),
        '2.13.0.0',
        '8.0U3',
        False,
    ),
    'ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip': (
        'component',
        'VMW_bootbank_vmkusb-nic-fling_1.15-1vmw.900.0.84947163',
        'certified',
        3377,
        [('vmkusb-n', 'vzstd', 299608)],
        ['etc/vmware/ihv.map.d/vmkusb_nic_fling_acpi.map', 'etc/vmware/ihv.map.d/vmkusb_nic_fling_pci.map', 'usr/lib/vmware/vmkmod/vmkusb_nic_fling'],
        (4, 9),
        '3.0.0.0',
        '9.0',
        False,
    ),
}


@needs_fixtures
def test_every_fixture_package_is_covered():
    assert sorted(REAL) == sorted(p.name for p in ITI.iterdir() if p.suffix in ('.vib', '.zip'))


@needs_fixtures
@pytest.mark.parametrize('name', sorted(REAL))
def test_real_packages(name):
    kind, vib_id, level, sig_len, payloads, files, (pci, acpi), vmkapi, release, vmklinux = REAL[name]
    with load_package(str(ITI / name)) as pkg:
        assert pkg.kind == kind
        [vib] = pkg.vibs
        assert vib.vib_id == vib_id
        assert vib.descriptor.acceptance_level == level
        assert len(vib.signature) == sig_len and vib.signed == (sig_len > 0)
        assert [(p.name, p.type, p.size) for p in vib.descriptor.payloads] == payloads
        assert [(n, vib.payload_size(n)) for n in vib.payload_names()] == [(p[0], p[2]) for p in payloads]
        assert vib.files == files
        assert sum(e.bus == 'pci' for e in vib.pci_ids) == pci and sum(e.bus == 'acpi' for e in vib.pci_ids) == acpi
        assert (vib.vmkapi_string, vib.min_esxi_release, vib.vmklinux, vib.esx4) == (vmkapi, release, vmklinux, False)
        assert vib.descriptor_bytes.startswith(b'<vib version="5.0">')
        checks = vib.verify_payloads(strict=True)
        assert [c.checksum_ok for c in checks] == [True]
        assert vib.verify_vib_file() is (None if kind == 'vib' else True)
        assert vib.injectable
        if kind == 'component':
            [component] = pkg.components
            assert component.vib_ids == [vib_id]
            assert component.xml_bytes.startswith(b'<bulletin>')
        else:
            assert pkg.components == []


@needs_fixtures
def test_pci_id_values():
    with load_package(str(ITI / 'VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240.zip')) as pkg:
        first = pkg.vibs[0].pci_ids[0].as_dict()
    assert {k: first[k] for k in ('vendor', 'device', 'subvendor', 'subdevice', 'class', 'driver')} == {
        'vendor': '10ec',
        'device': '8125',
        'subvendor': None,
        'subdevice': None,
        'class': None,
        'driver': 'if_re',
    }
    assert first['device_name'] == 'RTL8125 2.5GbE Controller'
    with load_package(str(ITI / 'net51-r8169-6.011.00-2vft.510.0.0.799733-offline_bundle.zip')) as pkg:
        ids = [(e.vendor, e.device, e.device_class, e.driver, e.vendor_name) for e in pkg.vibs[0].pci_ids]
    assert ids == [('10ec', '8167', 'network', 'r8169', 'Realtek'), ('10ec', '8169', 'network', 'r8169', 'Realtek')]


@needs_fixtures
def test_vzstd_component_is_read_and_injectable():
    with load_package(str(ITI / 'ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip')) as pkg:
        vib = pkg.vibs[0]
        assert vib.all_warnings() == []
        # PCI IDs from the payload's map, not the software tags: the zstd layer was read
        assert {e.device_class for e in vib.pci_ids if e.bus == 'pci'} == {'0c0300', '0c0310', '0c0320', '0c0330'}
        assert {e.source for e in vib.pci_ids} == {'etc/vmware/ihv.map.d/vmkusb_nic_fling_acpi.map', 'etc/vmware/ihv.map.d/vmkusb_nic_fling_pci.map'}
        [module] = vib.modules
        assert (module.path, module.vmkapi) == ('usr/lib/vmware/vmkmod/vmkusb_nic_fling', (3, 0, 0, 0))
        [check] = vib.verify_payloads(strict=True)
        assert check.uncompressed_size == 1191424
        assert vib.injectable


@needs_fixtures
def test_vzstd_without_a_zstd_library_names_the_package(no_zstd):
    with load_package(str(ITI / 'ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip')) as pkg:
        vib = pkg.vibs[0]
        assert any('type vzstd' in w and 'needs the Python package zstandard' in w for w in vib.all_warnings())
        # PCI IDs fall back to the PCIID software tags since the payload cannot be opened
        assert {e.device_class for e in vib.pci_ids} == {'0c0300', '0c0310', '0c0320', '0c0330'}
        assert all(e.source == 'software-tags' for e in vib.pci_ids)
        assert vib.modules == [] and not vib.injectable
        # the member checksum and the gzip layer's still verify; the decompressed ones cannot
        [check] = vib.verify_payloads(strict=True)
        assert [(r.checksum_type, r.ok) for r in check.results] == [('sha-256', True), ('sha-256-gunzip1', True), ('sha-256', None), ('sha-1', None)]
        with pytest.raises(UnsupportedError, match='cannot be injected: payload vmkusb-n has type vzstd .*pip install zstandard'):
            vib.check_injectable()


@needs_fixtures
def test_open_payload_streams_exactly_the_member_bytes():
    name = 'nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip'
    with zipfile.ZipFile(ITI / name) as z:
        vib_bytes = z.read('vib20/nvme-community/VMW_bootbank_nvme-community_1.0.1.0-3vmw.700.1.0.15843807.vib')
    expected = dict(packages.ar_members(vib_bytes))['nvmecomm']
    with load_package(str(ITI / name)) as pkg:
        vib = pkg.vibs[0]
        with vib.open_payload('nvmecomm') as stream:
            head = stream.read(1000)
            rest = stream.read()
            stream.seek(0)
            again = stream.read(10)
        assert head + rest == expected and again == expected[:10]
        assert vib.payload_extent('nvmecomm') is None  # deflated in the zip: no direct extent
        assert hashlib.sha256(vib.descriptor_bytes).hexdigest() == hashlib.sha256(dict(packages.ar_members(vib_bytes))['descriptor.xml']).hexdigest()
        assert vib.signature == dict(packages.ar_members(vib_bytes))['sig.pkcs7']


@needs_fixtures
def test_bare_vib_payload_extent():
    path = str(ITI / 'net-r8125-9.011.00-10.vib')
    with load_package(path) as pkg:
        vib = pkg.vibs[0]
        assert vib.payload_extent('net-8125') == (path, 1656, 108775)
        with open(path, 'rb') as handle, vib.open_payload('net-8125') as stream:
            handle.seek(1656)
            assert handle.read(108775) == stream.read()


# --- crafted packages ----------------------------------------------------------------------------


def _write(tmp_path, data, name='pkg.vib'):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_fixturegen_vib_and_bundle(tmp_path):
    vib = packages.build_vib(
        'net-foo',
        '1.2-3',
        vendor='ACME',
        pci_ids=[('8086', '1521'), ('8086', '1522')],
        vmkapi='2_10_0_0',
        acceptance_level='partner',
        platform_version='8.0',
        gnu_style=True,
    )
    with load_package(_write(tmp_path, vib)) as pkg:
        [v] = pkg.vibs
        assert (v.vib_id, v.descriptor.acceptance_level, v.vmkapi_string, v.min_esxi_release) == ('ACME_bootbank_net-foo_1.2-3', 'partner', '2.10.0.0', '8.0')
        assert [(e.vendor, e.device, e.driver) for e in v.pci_ids] == [('8086', '1521', 'net_foo'), ('8086', '1522', 'net_foo')]
        assert v.signature == b'' and not v.signed
        assert v.verify_payloads(strict=True)[0].checksum_ok
    bundle = packages.build_offline_bundle([vib], component=True)
    with load_package(_write(tmp_path, bundle, 'b.zip')) as pkg:
        assert pkg.kind == 'component' and pkg.components[0].component_name == 'ACME-net-foo'
        assert pkg.vib('net-foo').vib_id == 'ACME_bootbank_net-foo_1.2-3'


def test_legacy_tgz_package(tmp_path):
    path = _write(tmp_path, packages.build_legacy_tgz('r8169', pci_ids=(('10ec', '8169'), ('10ec', '8167')), map_dir='etc/vmware/driver.map.d'), 'r8169.tgz')
    with load_package(path) as pkg:
        assert pkg.kind == 'legacy_tgz'
        [vib] = pkg.vibs
        assert vib.vib_id == 'OEM_bootbank_r8169_1.0'
        assert vib.payload_extent('r8169') == (path, 0, os.path.getsize(path))
        assert len(vib.pci_ids) == 2 and vib.vmklinux and vib.vmkapi_string == '2.0.0.0'
        assert vib.verify_payloads(strict=True)[0].checksum_ok is True
        assert vib.descriptor_bytes == vib.descriptor.to_xml()
    with pytest.raises(CompatibilityError, match='license tag'):
        load_package(_write(tmp_path, packages.build_legacy_tgz('cciss', legacy4x=True), 'old.tgz'))


def test_esx4_module_in_a_vib(tmp_path):
    vib = packages.build_vib('scsi-old', '1.0-1', license=None)
    with load_package(_write(tmp_path, vib)) as pkg:
        v = pkg.vibs[0]
        assert v.esx4 and 'Module does not provide a license tag' in v.esx4_reason
        assert any('ESX(i) 4.x' in w for w in v.all_warnings())


def _replace_member(vib, name, data):
    return packages.ar_archive([(n, data if n == name else d) for n, d in packages.ar_members(vib)])


def test_bad_payload_checksum(tmp_path):
    vib = packages.build_vib('net-bad', '1.0-1')
    payload = dict(packages.ar_members(vib))['net-bad']
    corrupted = bytearray(payload)
    corrupted[len(corrupted) // 2] ^= 0xFF
    path = _write(tmp_path, _replace_member(vib, 'net-bad', bytes(corrupted)))
    with load_package(path) as pkg:
        with pytest.raises((ChecksumError, FormatError)) as err:
            pkg.vibs[0].verify_payloads(strict=True)
    assert str(err.value).startswith(path)


def test_bad_checksum_value_only(tmp_path):
    vib = packages.build_vib('net-bad', '1.0-1')
    members = packages.ar_members(vib)
    desc = dict(members)['descriptor.xml'].decode()
    digest = hashlib.sha256(dict(members)['net-bad']).hexdigest()
    desc = desc.replace(digest, '0' * 64).encode()
    path = _write(tmp_path, _replace_member(vib, 'descriptor.xml', desc))
    with load_package(path) as pkg:
        [check] = pkg.vibs[0].verify_payloads()
        assert check.checksum_ok is False
        with pytest.raises(ChecksumError, match='payload net-bad: sha-256  mismatch'):
            pkg.vibs[0].verify_payloads(strict=True)


def test_member_past_eof(tmp_path):
    vib = packages.build_vib('net-cut', '1.0-1')
    path = _write(tmp_path, vib[:-100])
    with pytest.raises(FormatError, match='the archive is truncated'):
        load_package(path)


def test_entity_xml_descriptor(tmp_path):
    evil = b'<!DOCTYPE vib [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><vib version="5.0"><type>bootbank</type><name>&b;</name></vib>'
    vib = packages.ar_archive([('descriptor.xml', evil), ('sig.pkcs7', b'')])
    with pytest.raises(FormatError, match='contains a DTD or entity definition'):
        load_package(_write(tmp_path, vib))


def test_dotdot_paths_and_symlinks_in_payload(tmp_path):
    bad_tar = packages.gzip_bytes(packages.vmtar_header('../../etc/passwd', b'0', 0o644, 0, 0) + b'\x00' * 1024)
    vib = packages.build_vib('net-evil', '1.0-1', payloads=[('net-evil', 'vgz', bad_tar)], files=[])
    with load_package(_write(tmp_path, vib)) as pkg:
        with pytest.raises(UnsafeArchiveError, match='contains ".."'):
            pkg.vibs[0].files
    link_tar = packages.gzip_bytes(packages.vmtar_header('usr/lib/vmware/vmkmod/x', b'2', 0o777, 0, 0) + b'\x00' * 1024)
    vib = packages.build_vib('net-link', '1.0-1', payloads=[('net-link', 'vgz', link_tar)], files=[])
    with load_package(_write(tmp_path, vib, 'link.vib')) as pkg:
        with pytest.raises(UnsafeArchiveError, match='is a symlink'):
            pkg.vibs[0].pci_ids


def test_zip_bomb_bundle(tmp_path):
    vib = packages.build_vib('net-a', '1.0-1')
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(packages.build_offline_bundle([vib])), 'r') as src, zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        dst.writestr('vib20/zeros.bin', b'\x00' * (40 * 1024 * 1024))
    with pytest.raises(UnsafeArchiveError, match='decompression bomb'):
        load_package(_write(tmp_path, out.getvalue(), 'bomb.zip'))


def test_payload_missing_from_ar(tmp_path):
    vib = packages.build_vib('net-x', '1.0-1')
    path = _write(tmp_path, packages.ar_archive([m for m in packages.ar_members(vib) if m[0] != 'net-x']))
    with pytest.raises(FormatError, match='lists payload net-x, but the VIB has no member of that name'):
        load_package(path)


@pytest.mark.parametrize(
    'data, message',
    [
        (b'', 'the file is empty'),
        (b'hello world, not a package', 'unknown file signature'),
    ],
)
def test_not_a_package(tmp_path, data, message):
    path = _write(tmp_path, data, 'x.bin')
    with pytest.raises(FormatError) as err:
        load_package(path)
    assert str(err.value).startswith(path + ': ') and message in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FormatError, match='cannot read the package'):
        load_package(str(tmp_path / 'absent.vib'))
    with pytest.raises(FormatError, match='is a directory'):
        load_package(str(tmp_path))


def _fuzz_sources():
    return {
        'vib': packages.build_vib('net-f', '1.0-1', pci_ids=[('8086', '1521')]),
        'tgz': packages.build_legacy_tgz('r8169', map_dir='etc/vmware/driver.map.d'),
        'zip': packages.build_offline_bundle([packages.build_vib('net-g', '1.0-1', payload_type='tgz')], component=True),
    }


FUZZ_SOURCES = _fuzz_sources()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(FUZZ_SOURCES)), st.data())
def test_damaged_packages_only_raise_our_errors(tmp_path, kind, data):
    """Truncated or bit-flipped packages end in a named error (or read fine), never in another exception."""
    raw = bytearray(FUZZ_SOURCES[kind])
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        for dummy in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    path = _write(tmp_path, bytes(raw), 'fuzz.' + kind)
    try:
        with load_package(path) as pkg:
            for vib in pkg.vibs:
                vib.verify_payloads(strict=True)
                vib.files, vib.pci_ids, vib.all_warnings(), vib.verify_vib_file()
    except EsxiCustomizerError as err:
        assert str(err).startswith(path)


# --- VIB shapes seen in vendor and community packages ---------------------------------------------


def _multi_payload_vib(order=None, drop_sig=False, gnu_style=False):
    """A driver VIB with a vgz (module + map), a tgz (ids + a tool) and a boot payload, payload names of 15 chars."""
    native = packages.driver_files('bnxtnet', [('14e4', '16d7')])
    vgz = packages.gzip_bytes(packages.vmtar({k: v for k, v in native.items() if not k.endswith('.ids')}))
    tgz = packages.tar_gz({k: v for k, v in native.items() if k.endswith('.ids')} | {'opt/bnxt/bin/bnxtnetcli': b'#!/bin/sh\n'})
    boot = packages.gzip_bytes(b'\x7fELF boot module' * 50)
    payloads = [('bnxtnet-driver1', 'vgz', vgz), ('bnxtnet-tools-1', 'tgz', tgz), ('bnxtnet-ucode01', 'boot', boot)]
    vib = packages.build_vib(
        'net-bnxtnet',
        '228.0.130.0-1OEM.800.1.0.20613240',
        vendor='BCM',
        acceptance_level='partner',
        payloads=payloads,
        gnu_style=gnu_style,
        files=sorted(native) + ['opt/bnxt/bin/bnxtnetcli'],
    )
    members = packages.ar_members(vib)
    if drop_sig:
        members = [m for m in members if m[0] != 'sig.pkcs7']
    if order:
        members = [members[i] for i in order]
    return packages.ar_archive(members, gnu_style=gnu_style)


@pytest.mark.parametrize(
    'order, drop_sig, gnu_style', [(None, False, False), (None, False, True), ([4, 2, 0, 3, 1], False, False), (None, True, False), ([3, 2, 1, 0], True, True)]
)
def test_several_payloads_any_member_order(tmp_path, order, drop_sig, gnu_style):
    path = _write(tmp_path, _multi_payload_vib(order, drop_sig, gnu_style))
    with load_package(path) as pkg:
        [vib] = pkg.vibs
        assert vib.payload_names() == ['bnxtnet-driver1', 'bnxtnet-tools-1', 'bnxtnet-ucode01']
        assert [c.checksum_ok for c in vib.verify_payloads(strict=True)] == [True, True, True]
        assert vib.files == [
            'etc/vmware/default.map.d/bnxtnet.map',
            'opt/bnxt/bin/bnxtnetcli',
            'usr/lib/vmware/vmkmod/bnxtnet',
            'usr/share/hwdata/default.pciids.d/bnxtnet.ids',
        ]
        [entry] = vib.pci_ids
        assert (entry.vendor, entry.device, entry.driver, entry.device_name) == ('14e4', '16d7', 'bnxtnet', 'bnxtnet 16d7 controller')
        assert vib.signature == b'' and vib.warnings == []
        assert vib.injection_problems == ['payload bnxtnet-ucode01 has type boot; only vgz, tgz and vzstd payloads of driver VIBs can be injected']


@pytest.mark.parametrize('vib_type', ['locker', 'meta'])
def test_locker_and_meta_vibs_load(tmp_path, vib_type):
    payloads = [] if vib_type == 'meta' else [('tools', 'tgz', packages.tar_gz({'vmtools/windows.iso': b'iso' * 100}))]
    vib = packages.build_vib(
        'tools-light', '12.1.5.20735119-20841705', vendor='VMware', acceptance_level='certified', vib_type=vib_type, payloads=payloads, depends=['esx-version']
    )
    with load_package(_write(tmp_path, vib)) as pkg:
        [v] = pkg.vibs
        assert v.vib_id == 'VMware_%s_tools-light_12.1.5.20735119-20841705' % vib_type
        assert v.files == ([] if vib_type == 'meta' else ['vmtools/windows.iso'])
        assert [c.checksum_ok for c in v.verify_payloads(strict=True)] == [True] * len(payloads)
        assert v.pci_ids == [] and v.modules == [] and v.vmkapi is None


def test_gzip_bomb_in_a_vgz_payload_during_checksum_verification(tmp_path):
    bomb = packages.gzip_bytes(packages.vmtar({'usr/lib/vmware/vmkmod/zero': b'\x00' * (48 * 1024 * 1024)}))
    vib = packages.build_vib('net-bomb', '1.0-1', payloads=[('net-bomb', 'vgz', bomb)], files=[])
    path = _write(tmp_path, vib)
    with load_package(path) as pkg:
        with pytest.raises(UnsafeArchiveError) as err:
            pkg.vibs[0].verify_payloads()
    assert str(err.value).startswith(path) and 'compression ratio above 200:1' in str(err.value)


def test_a_malformed_map_line_is_a_warning_not_a_failure(tmp_path):
    files = packages.driver_files('net_odd', [('8086', '1521')])
    files['etc/vmware/default.map.d/net_odd.map'] += b'regtype=native,bus=pci,id=8086XXXX,driver=net_odd\n'
    files['etc/vmware/default.map.d/other.map'] = b'regtype=native,bus=pci,id=80861522..............,driver=net_odd\n'
    vgz = packages.gzip_bytes(packages.vmtar(files))
    vib = packages.build_vib('net-odd', '1.0-1', payloads=[('net-odd', 'vgz', vgz)])
    with load_package(_write(tmp_path, vib)) as pkg:
        v = pkg.vibs[0]
        assert [(e.device, e.driver, e.source) for e in v.pci_ids] == [
            ('1521', 'net_odd', 'etc/vmware/default.map.d/net_odd.map'),
            ('1522', 'net_odd', 'etc/vmware/default.map.d/other.map'),
        ]
        assert (
            "etc/vmware/default.map.d/net_odd.map: line 2: native id '8086XXXX' is not up to 24 hex digits or \".\" wildcards (line ignored)"
        ) in v.all_warnings()


@pytest.mark.parametrize('spelling', ['SHA-256', 'sha256', 'sha-1'])
def test_vib_file_checksum_type_spellings(tmp_path, spelling):
    vib = packages.build_vib('net-c', '1.0-1')
    value = (hashlib.sha1(vib) if spelling == 'sha-1' else hashlib.sha256(vib)).hexdigest()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(packages.build_offline_bundle([vib]))) as src, zipfile.ZipFile(out, 'w') as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == 'metadata.zip':
                meta_out = io.BytesIO()
                with zipfile.ZipFile(io.BytesIO(data)) as meta, zipfile.ZipFile(meta_out, 'w') as new_meta:
                    for member in meta.infolist():
                        text = meta.read(member)
                        if member.filename.startswith('vibs/'):
                            text = text.replace(
                                b'<checksum checksum-type="sha-256">%s' % hashlib.sha256(vib).hexdigest().encode(),
                                b'<checksum checksum-type="%s">%s' % (spelling.encode(), value.encode()),
                            )
                        new_meta.writestr(member.filename, text)
                data = meta_out.getvalue()
            dst.writestr(info.filename, data)
    with load_package(_write(tmp_path, out.getvalue(), 'b.zip')) as pkg:
        assert pkg.vibs[0].verify_vib_file() is True
