# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import io
import stat
import zipfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._depot import open_depot
from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError, UnsafeArchiveError
from ansible_collections.esxi.customizer.plugins.module_utils._limits import Limits
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures


FIXTURES = shared_fixtures()
ITI = FIXTURES / 'itiligent-esxi-custom-iso' if FIXTURES else None
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found (set ESXI_SHARED_FIXTURES)')

# file -> (platform versions, [(vib id, relative path, packed size)], [(bulletin id, component name, component version)])
REAL_BUNDLES = {
    'net51-r8169-6.011.00-2vft.510.0.0.799733-offline_bundle.zip': (
        ['6.0.0', '5.5.0'],
        [('VFrontDe_bootbank_net51-r8169_6.011.00-2vft.510.0.0.799733', 'net51-r8169-6.011.00-2vft.510.0.0.799733.x86_64.vib',
          27118)],
        [('net51-r8169-6.011.00-2vft.510.0.0.799733', None, None)]),
    'net-igb-5.3.2-99-offline_bundle.zip': (
        ['5.5.0', '6.0.0'], [('Intel_bootbank_net-igb_5.3.2-99', 'net-igb-5.3.2-99.x86_64.vib', 104192)],
        [('net-igb-5.3.2-99', None, None)]),
    'r8125-bundle.zip': (
        ['5.*'], [('Realtek_bootbank_net-r8125_9.011.00-10', 'vib20/net-r8125/Realtek_bootbank_net-r8125_9.011.00-10.vib',
                   110432)],
        [('net-r8125', None, None)]),
    'nvme-community-driver_1.0.1.0-1vmw.670.0.0.8169922-offline_bundle-17658145.zip': (
        ['6.7.0'], [('VMW_bootbank_nvme-community_1.0.1.0-1vmw.670.0.0.8169922',
                     'vib20/nvme-community/VMW_bootbank_nvme-community_1.0.1.0-1vmw.670.0.0.8169922.vib', 87876)],
        [('nvme-community-driver_1.0.1.0-1vmw.670.0.0.8169922', 'nvme-community-driver', '1.0.1.0-1vmw.670.0.0.8169922')]),
    'ESXi650-VMKUSB-NIC-FLING-39176435-16775917.zip': (
        ['6.*'], [('VMW_bootbank_vmkusb-nic-fling_2.1-6vmw.650.2.50.39176435',
                   'vib20/vmkusb-nic-fling/VMW_bootbank_vmkusb-nic-fling_2.1-6vmw.650.2.50.39176435.vib', 453556)],
        [('ESXi650-VMKUSB-NIC-FLING-39176435', None, None)]),
    'nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip': (
        ['7.0.0'], [('VMW_bootbank_nvme-community_1.0.1.0-3vmw.700.1.0.15843807',
                     'vib20/nvme-community/VMW_bootbank_nvme-community_1.0.1.0-3vmw.700.1.0.15843807.vib', 96854)],
        [('VMware-nvme-community_1.0.1.0-3vmw.700.1.0.15843807', 'VMware-nvme-community', '1.0.1.0-3vmw.700.1.0.15843807')]),
    'VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240.zip': (
        ['8.0.0'], [('vmw_bootbank_if-re_1.101.01-5vmw.800.1.0.20613240',
                     'vib20/if-re/vmw_bootbank_if-re_1.101.01-5vmw.800.1.0.20613240.vib', 226382)],
        [('VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240', 'VMware-Re-Driver', '1.101.01-5vmw.800.1.0.20613240')]),
    'ESXi80U3-VMKUSB-NIC-FLING-75399077-component-24052746.zip': (
        ['8.0'], [('VMW_bootbank_vmkusb-nic-fling_1.14-1vmw.803.0.0.75399077',
                   'vib20/vmkusb-nic-fling/VMW_bootbank_vmkusb-nic-fling_1.14-1vmw.803.0.0.75399077.vib', 356920)],
        [('VMware-vmkusb-nic-fling_1.14-1vmw.803.0.0.75399077', 'VMware-vmkusb-nic-fling', '1.14-1vmw.803.0.0.75399077')]),
    'ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip': (
        ['9.0'], [('VMW_bootbank_vmkusb-nic-fling_1.15-1vmw.900.0.84947163',
                   'vib20/vmkusb-nic-fling/VMW_bootbank_vmkusb-nic-fling_1.15-1vmw.900.0.84947163.vib', 305202)],
        [('VMware-vmkusb-nic-fling_1.15-1vmw.900.0.84947163', 'VMware-vmkusb-nic-fling', '1.15-1vmw.900.0.84947163')]),
}


@needs_fixtures
@pytest.mark.parametrize('name', sorted(REAL_BUNDLES))
def test_real_bundles_index(name):
    versions, vibs, bulletins = REAL_BUNDLES[name]
    with open_depot(str(ITI / name)) as depot:
        assert depot.platform_versions == versions
        assert [(v.vib_id, v.relative_path, v.packed_size) for v in depot.vibs] == vibs
        assert [(b.id, b.component_name, b.component_version) for b in depot.bulletins] == bulletins
        assert all(b.vib_ids == [v[0] for v in vibs] for b in depot.bulletins)
        assert all(b.xml_bytes.startswith(b'<bulletin>') for b in depot.bulletins)
        assert all(v.checksum.checksum_type == 'sha-256' and len(v.checksum.value) == 64 for v in depot.vibs)
        assert depot.warnings == []


@needs_fixtures
def test_nested_zip_is_opened_through():
    with open_depot(str(ITI / 'ESXi650-VMKUSB-NIC-FLING-39176435-16775917.zip')) as depot:
        assert depot.source.label.endswith('!ESXi650-VMKUSB-NIC-FLING-39176435-offline_bundle-16775917.zip')
        # the inner zip is stored in the outer one: it is read in place, no temporary copy
        assert depot.source.real_path.endswith('ESXi650-VMKUSB-NIC-FLING-39176435-16775917.zip')
        assert depot.vendors == [('VMware', 'VMW')]


@needs_fixtures
def test_component_bulletin_bytes_are_the_metadata_file():
    name = 'VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240.zip'
    with zipfile.ZipFile(ITI / name) as outer:
        with zipfile.ZipFile(io.BytesIO(outer.read('metadata.zip'))) as meta:
            expected = meta.read('bulletins/VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240.xml')
    with open_depot(str(ITI / name)) as depot:
        assert depot.components[0].xml_bytes == expected
        assert depot.components[0].component_ui_name == 'VMware Realtek Network Driver for ESXi'


def _vib():
    return packages.build_vib('net-test', '1.0-1', vendor='TEST', pci_ids=[('10ec', '8168')])


def _write(tmp_path, data, name='bundle.zip'):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _rezip(data, transform):
    """Copy a zip, letting ``transform(name, bytes)`` return a list of (ZipInfo-or-name, bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            for target, content in transform(info.filename, src.read(info)):
                dst.writestr(target, content)
    return out.getvalue()


@pytest.mark.parametrize('layout', ['vmware', 'flat'])
def test_fixturegen_bundles(tmp_path, layout):
    bundle = packages.build_offline_bundle([_vib()], layout=layout, component=True)
    with open_depot(_write(tmp_path, bundle)) as depot:
        [vib] = depot.vibs
        assert vib.vib_id == 'TEST_bootbank_net-test_1.0-1'
        assert vib.member == ('vib20/net-test/TEST_bootbank_net-test_1.0-1.vib' if layout == 'vmware'
                              else 'net-test.x86_64.vib')
        assert depot.components[0].component_name == 'TEST-net-test'


def test_deflated_nested_zip_uses_a_temporary_copy(tmp_path):
    inner = packages.build_offline_bundle([_vib()])
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as outer:
        outer.writestr('README.txt', b'read me')
        outer.writestr('real-offline_bundle.zip', inner)
    with open_depot(_write(tmp_path, out.getvalue())) as depot:
        assert depot.source.real_path is None
        assert [v.vib_id for v in depot.vibs] == ['TEST_bootbank_net-test_1.0-1']


@pytest.mark.parametrize('bad_name, message', [
    ('../evil.txt', 'contains ".."'),
    ('/etc/evil.txt', 'is absolute'),
])
def test_unsafe_member_names(tmp_path, bad_name, message):
    bundle = _rezip(packages.build_offline_bundle([_vib()]),
                    lambda n, d: [(n, d)] + ([(bad_name, b'x')] if n == 'index.xml' else []))
    with pytest.raises(UnsafeArchiveError, match=message):
        open_depot(_write(tmp_path, bundle))


def test_symlink_member(tmp_path):
    link = zipfile.ZipInfo('vib20/link.vib')
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    extra = [(link, b'/etc/shadow')]
    bundle = _rezip(packages.build_offline_bundle([_vib()]), lambda n, d: [(n, d)] + (extra if n == 'index.xml' else []))
    with pytest.raises(UnsafeArchiveError, match='is a symbolic link'):
        open_depot(_write(tmp_path, bundle))


def test_zip_bomb_member(tmp_path):
    bundle = _rezip(packages.build_offline_bundle([_vib()]),
                    lambda n, d: [(n, d)] + ([('zeros.bin', b'\x00' * (32 * 1024 * 1024))] if n == 'index.xml' else []))
    with pytest.raises(UnsafeArchiveError, match='compression ratio above 200:1'):
        open_depot(_write(tmp_path, bundle))
    with pytest.raises(UnsafeArchiveError, match='max_uncompressed_size'):
        open_depot(_write(tmp_path, bundle), Limits(max_uncompressed_size=1024 * 1024, max_compression_ratio=10 ** 6))


def test_not_a_bundle(tmp_path):
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, 'w') as archive:
        archive.writestr('hello.txt', b'hi')
    with pytest.raises(FormatError, match='not an offline bundle: no index.xml'):
        open_depot(_write(tmp_path, plain.getvalue()))


def test_truncated_zip(tmp_path):
    bundle = packages.build_offline_bundle([_vib()])
    path = _write(tmp_path, bundle[:len(bundle) // 2])
    with pytest.raises(FormatError, match='not a valid zip archive'):
        open_depot(path)


def test_missing_vib_and_wrong_packed_size(tmp_path):
    bundle = packages.build_offline_bundle([_vib()])
    without_vib = _rezip(bundle, lambda n, d: [] if n.endswith('.vib') else [(n, d)])
    with pytest.raises(FormatError, match="metadata says VIB TEST_bootbank_net-test_1.0-1 is at 'vib20/net-test/"):
        open_depot(_write(tmp_path, without_vib))
    shorter = _rezip(bundle, lambda n, d: [(n, d[:-1] if n.endswith('.vib') else d)])
    with pytest.raises(FormatError, match='bytes in the bundle but the metadata says'):
        open_depot(_write(tmp_path, shorter))


def test_entity_xml_in_index(tmp_path):
    evil = b'<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><vendorList>&b;</vendorList>'
    bundle = _rezip(packages.build_offline_bundle([_vib()]), lambda n, d: [(n, evil if n == 'index.xml' else d)])
    with pytest.raises(FormatError, match='index.xml contains a DTD or entity definition'):
        open_depot(_write(tmp_path, bundle))


def test_missing_metadata_zip(tmp_path):
    bundle = _rezip(packages.build_offline_bundle([_vib()]), lambda n, d: [] if n == 'metadata.zip' else [(n, d)])
    with pytest.raises(FormatError, match="names metadata 'metadata.zip', which is not in the bundle"):
        open_depot(_write(tmp_path, bundle))


def test_damaged_version_field_is_a_format_error(tmp_path):
    """zipfile raises NotImplementedError for an absurd 'version needed' field; that is corruption, not a crash."""
    data = bytearray(packages.build_offline_bundle([_vib()]))
    central = data.index(b'PK\x01\x02')
    data[central + 6] = 84  # version needed to extract: 8.4
    with pytest.raises(FormatError, match='not a valid zip archive .zip file version 8.4'):
        open_depot(_write(tmp_path, bytes(data)))


def _nest_meta(data, transform):
    """Rewrite the metadata.zip inside a bundle with ``transform(name, bytes) -> [(name, bytes)]``."""
    def outer(name, content):
        if name != 'metadata.zip':
            return [(name, content)]
        return [(name, _rezip(content, transform))]
    return _rezip(data, outer)


def test_namespaced_depot_metadata(tmp_path):
    ns = b' xmlns="http://www.vmware.com/depotmanagement"'

    def add_ns(name, data):
        for root in (b'<vendorList', b'<metaList', b'<metadataResponse', b'<bulletin', b'<vib'):
            if data.startswith(root):
                return [(name, root + ns + data[len(root):])]
        return [(name, data)]
    bundle = _nest_meta(_rezip(packages.build_offline_bundle([_vib()], component=True), add_ns), add_ns)
    with open_depot(_write(tmp_path, bundle)) as depot:
        assert depot.vendors == [('VMware', 'VMX')] and depot.platform_versions == ['7.0.0']
        assert [v.vib_id for v in depot.vibs] == ['TEST_bootbank_net-test_1.0-1']
        assert depot.components[0].component_name == 'TEST-net-test'
