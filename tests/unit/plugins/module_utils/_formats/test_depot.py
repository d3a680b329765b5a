# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import io
import stat
import zipfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._formats.depot import open_depot
from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError, UnsafeArchiveError
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import Limits
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures


FIXTURES = shared_fixtures()
ITI = FIXTURES / 'itiligent-esxi-custom-iso' if FIXTURES else None
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found (set ESXI_SHARED_FIXTURES)')

# file -> (platform versions, [(vib id, relative path, packed size)], [(bulletin id, component name, component version)])
REAL_BUNDLES = {
    'net51-r8169-6.011.00-2vft.510.0.0.799733-offline_bundle.zip': (
        ['6.0.0', '5.5.0'],
        [('VFrontDe_bootbank_net51-r8169_6.011.00-2vft.510.0.0.799733', 'net51-r8169-6.011.00-2vft.510.0.0.799733.x86_64.vib', 27118)],
        [('net51-r8169-6.011.00-2vft.510.0.0.799733', None, None)],
    ),
    'net-igb-5.3.2-99-offline_bundle.zip': (
        ['5.5.0', '6.0.0'],
        [('Intel_bootbank_net-igb_5.3.2-99', 'net-igb-5.3.2-99.x86_64.vib', 104192)],
        [('net-igb-5.3.2-99', None, None)],
    ),
    'r8125-bundle.zip': (
        ['5.*'],
        [('Realtek_bootbank_net-r8125_9.011.00-10', 'vib20/net-r8125/Realtek_bootbank_net-r8125_9.011.00-10.vib', 110432)],
        [('net-r8125', None, None)],
    ),
    'nvme-community-driver_1.0.1.0-1vmw.670.0.0.8169922-offline_bundle-17658145.zip': (
        ['6.7.0'],
        [
            (
                'VMW_bootbank_nvme-community_1.0.1.0-1vmw.670.0.0.8169922',
                'vib20/nvme-community/VMW_bootbank_nvme-community_1.0.1.0-1vmw.670.0.0.8169922.vib',
                87876,
            )
        ],
        [('nvme-community-driver_1.0.1.0-1vmw.670.0.0.8169922', 'nvme-community-driver', '1.0.1.0-1vmw.670.0.0.8169922')],
    ),
    'ESXi650-VMKUSB-NIC-FLING-39176435-16775917.zip': (
        ['6.*'],
        [
            (
                'VMW_bootbank_vmkusb-nic-fling_2.1-6vmw.650.2.50.39176435',
                'vib20/vmkusb-nic-fling/VMW_bootbank_vmkusb-nic-fling_2.1-6vmw.650.2.50.39176435.vib',
                453556,
            )
        ],
        [('ESXi650-VMKUSB-NIC-FLING-39176435', None, None)],
    ),
    'nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip': (
        ['7.0.0'],
        [
            (
                'VMW_bootbank_nvme-community_1.0.1.0-3vmw.700.1.0.15843807',
                'vib20/nvme-community/VMW_bootbank_nvme-community_1.0.1.0-3vmw.700.1.0.15843807.vib',
                96854,
            )
        ],
        [('VMware-nvme-community_1.0.1.0-3vmw.700.1.0.15843807', 'VMware-nvme-community', '1.0.1.0-3vmw.700.1.0.15843807')],
    ),
    'VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240.zip': (
        ['8.0.0'],
        [('vmw_bootbank_if-re_1.101.01-5vmw.800.1.0.20613240', 'vib20/if-re/vmw_bootbank_if-re_1.101.01-5vmw.800.1.0.20613240.vib', 226382)],
        [('VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240', 'VMware-Re-Driver', '1.101.01-5vmw.800.1.0.20613240')],
    ),
    'ESXi80U3-VMKUSB-NIC-FLING-75399077-component-24052746.zip': (
        ['8.0'],
        [
            (
                'VMW_bootbank_vmkusb-nic-fling_1.14-1vmw.803.0.0.75399077',
                'vib20/vmkusb-nic-fling/VMW_bootbank_vmkusb-nic-fling_1.14-1vmw.803.0.0.75399077.vib',
                356920,
            )
        ],
        [('VMware-vmkusb-nic-fling_1.14-1vmw.803.0.0.75399077', 'VMware-vmkusb-nic-fling', '1.14-1vmw.803.0.0.75399077')],
    ),
    'ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip': (
        ['9.0'],
        [
            (
                'VMW_bootbank_vmkusb-nic-fling_1.15-1vmw.900.0.84947163',
                'vib20/vmkusb-nic-fling/VMW_bootbank_vmkusb-nic-fling_1.15-1vmw.900.0.84947163.vib',
                305202,
            )
        ],
        [('VMware-vmkusb-nic-fling_1.15-1vmw.900.0.84947163', 'VMware-vmkusb-nic-fling', '1.15-1vmw.900.0.84947163')],
    ),
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
        assert vib.member == ('vib20/net-test/TEST_bootbank_net-test_1.0-1.vib' if layout == 'vmware' else 'net-test.x86_64.vib')
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


@pytest.mark.parametrize(
    'bad_name, message',
    [
        ('../evil.txt', 'contains ".."'),
        ('/etc/evil.txt', 'is absolute'),
    ],
)
def test_unsafe_member_names(tmp_path, bad_name, message):
    bundle = _rezip(packages.build_offline_bundle([_vib()]), lambda n, d: [(n, d)] + ([(bad_name, b'x')] if n == 'index.xml' else []))
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
    bundle = _rezip(
        packages.build_offline_bundle([_vib()]), lambda n, d: [(n, d)] + ([('zeros.bin', b'\x00' * (32 * 1024 * 1024))] if n == 'index.xml' else [])
    )
    with pytest.raises(UnsafeArchiveError, match='compression ratio above 200:1'):
        open_depot(_write(tmp_path, bundle))
    with pytest.raises(UnsafeArchiveError, match='max_uncompressed_size'):
        open_depot(_write(tmp_path, bundle), Limits(max_uncompressed_size=1024 * 1024, max_compression_ratio=10**6))


def test_not_a_bundle(tmp_path):
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, 'w') as archive:
        archive.writestr('hello.txt', b'hi')
    with pytest.raises(FormatError, match='not an offline bundle: no index.xml'):
        open_depot(_write(tmp_path, plain.getvalue()))


def test_truncated_zip(tmp_path):
    bundle = packages.build_offline_bundle([_vib()])
    path = _write(tmp_path, bundle[: len(bundle) // 2])
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
                return [(name, root + ns + data[len(root) :])]
        return [(name, data)]

    bundle = _nest_meta(_rezip(packages.build_offline_bundle([_vib()], component=True), add_ns), add_ns)
    with open_depot(_write(tmp_path, bundle)) as depot:
        assert depot.vendors == [('VMware', 'VMX')] and depot.platform_versions == ['7.0.0']
        assert [v.vib_id for v in depot.vibs] == ['TEST_bootbank_net-test_1.0-1']
        assert depot.components[0].component_name == 'TEST-net-test'


def _files(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _zip_of(files):
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


VIB_A = packages.build_vib('net-a', '1.0-1', vendor='HPE', pci_ids=[('14e4', '16d7')])
VIB_B = packages.build_vib('net-b', '2.0-1', vendor='DEL', pci_ids=[('8086', '1521')])
VENDOR = (
    b'<vendor><name>%s</name><code>%s</code><indexfile>vendor-index.xml</indexfile><patchUrl/>'
    b'<relativePath>%s</relativePath><content><name>VMware ESX</name>'
    b'<type>http://www.vmware.com/depotmanagement/esx</type></content></vendor>'
)


def test_several_vendors_each_under_its_relative_path(tmp_path):
    """index.xml with two vendors, each with <relativePath>x/</relativePath> holding its index, metadata and VIBs."""
    files = {'index.xml': b'<vendorList>' + VENDOR % (b'HPE', b'HPE', b'hpe/') + VENDOR % (b'Dell', b'DEL', b'./dell/') + b'</vendorList>'}
    for folder, vib in (('hpe', VIB_A), ('dell', VIB_B)):
        for name, data in _files(packages.build_offline_bundle([vib])).items():
            if name != 'index.xml':
                files['%s/%s' % (folder, name)] = data
    with open_depot(_write(tmp_path, _zip_of(files))) as depot:
        assert depot.vendors == [('HPE', 'HPE'), ('Dell', 'DEL')]
        assert [(v.vib_id, v.member) for v in depot.vibs] == [
            ('HPE_bootbank_net-a_1.0-1', 'hpe/vib20/net-a/HPE_bootbank_net-a_1.0-1.vib'),
            ('DEL_bootbank_net-b_2.0-1', 'dell/vib20/net-b/DEL_bootbank_net-b_2.0-1.vib'),
        ]
        assert len(depot.bulletins) == 2 and depot.warnings == []


def test_several_metadata_zips_in_a_subfolder(tmp_path):
    """vendor-index.xml lists one <metadata> per version, each its own zip in metadata/; VIBs sit at the root."""
    bundle_a, bundle_b = _files(packages.build_offline_bundle([VIB_A])), _files(packages.build_offline_bundle([VIB_B]))
    entry = '<metadata><productId>embeddedEsx</productId><version>%s</version><locale/><url>%s</url><channelName>default</channelName></metadata>'
    vendor_index = (
        '<metaList>%s%s%s</metaList>'
        % (
            entry % ('7.0.0', 'metadata/HPE-7.0-metadata.zip'),
            entry % ('8.0.0', 'metadata/DEL-8.0-metadata.zip'),
            entry % ('8.0.1', './metadata/DEL-8.0-metadata.zip'),
        )
    ).encode()
    files = {
        'index.xml': bundle_a['index.xml'],
        'vendor-index.xml': vendor_index,
        'metadata/HPE-7.0-metadata.zip': bundle_a['metadata.zip'],
        'metadata/DEL-8.0-metadata.zip': bundle_b['metadata.zip'],
    }
    files.update({n: d for n, d in list(bundle_a.items()) + list(bundle_b.items()) if n.endswith('.vib')})
    with open_depot(_write(tmp_path, _zip_of(files))) as depot:
        assert depot.platform_versions == ['7.0.0', '8.0.0', '8.0.1']
        assert [v.member for v in depot.vibs] == ['vib20/net-a/HPE_bootbank_net-a_1.0-1.vib', 'vib20/net-b/DEL_bootbank_net-b_2.0-1.vib']


@pytest.mark.parametrize(
    'relpath, member',
    [
        ('./net-a.x86_64.vib', 'net-a.x86_64.vib'),
        ('drivers/hpe/net-a.vib', 'drivers/hpe/net-a.vib'),
        ('./drivers//net-a.vib', 'drivers/net-a.vib'),
    ],
)
def test_vib_relative_path_variants(tmp_path, relpath, member):
    bundle = packages.build_offline_bundle([VIB_A], layout='flat')

    def meta(name, data):
        return [(name, data.replace(b'net-a.x86_64.vib', relpath.encode()))]

    def outer(name, data):
        if name == 'metadata.zip':
            return [(name, _rezip(data, meta))]
        return [(member if name.endswith('.vib') else name, data)]

    with open_depot(_write(tmp_path, _rezip(bundle, outer))) as depot:
        assert [(v.relative_path, v.member) for v in depot.vibs] == [(relpath, member)]


def test_bulletin_naming_vibs_the_bundle_lacks(tmp_path):
    both = packages.build_offline_bundle([VIB_A, VIB_B], component=True)

    def drop_b(name, data):
        return [] if name.startswith(('vibs/net-b', 'vmware.xml')) else [(name, data)]

    only_a = _rezip(_nest_meta(both, drop_b), lambda n, d: [] if n.startswith('vib20/net-b') else [(n, d)])
    with open_depot(_write(tmp_path, only_a)) as depot:
        assert [v.vib_id for v in depot.vibs] == ['HPE_bootbank_net-a_1.0-1']
        assert depot.warnings == [
            'bulletin HPE-net-a_1.0-1 lists VIB DEL_bootbank_net-b_2.0-1, which this bundle does not carry (neither its metadata nor a .vib file)'
        ]
    bundle = packages.build_offline_bundle([VIB_A], component=True)
    no_vibs = _rezip(
        _nest_meta(bundle, lambda n, d: [] if n.startswith(('vibs/', 'vmware.xml')) else [(n, d)]), lambda n, d: [] if n.endswith('.vib') else [(n, d)]
    )
    with pytest.raises(
        FormatError,
        match=r'carries none of the VIBs its bulletins list \(HPE_bootbank_net-a_1.0-1\): a '
        r'metadata-only or partial bundle',
    ):
        open_depot(_write(tmp_path, no_vibs, 'meta-only.zip'))


def test_addon_and_base_image_metadata_are_listed_not_fatal(tmp_path):
    extra = [
        ('addons/HPE-Custom-AddOn-801.0.0.11.xml', b'<addon><addonSpec/></addon>'),
        ('baseimages/ESXi-8.0.1.xml', b'<baseImage/>'),
        ('manifests/HPE-hsm.xml', b'<manifest/>'),
    ]
    bundle = _nest_meta(packages.build_offline_bundle([VIB_A], component=True), lambda n, d: [(n, d)] + (extra if n == 'vmware.xml' else []))
    with open_depot(_write(tmp_path, bundle)) as depot:
        assert [v.vib_id for v in depot.vibs] == ['HPE_bootbank_net-a_1.0-1']
        assert depot.extra_metadata == [name for name, _data in extra]
        assert depot.warnings == [
            'the bundle metadata also describes 7.x+ add-ons, base images or hardware support '
            'manifests (addons/HPE-Custom-AddOn-801.0.0.11.xml, baseimages/ESXi-8.0.1.xml, '
            'manifests/HPE-hsm.xml); only its components and VIBs are read'
        ]


def test_nested_zip_with_two_bundles_names_them(tmp_path):
    outer = _zip_of(
        {
            'HPE-net-a-offline_bundle.zip': packages.build_offline_bundle([VIB_A]),
            'DEL-net-b-offline_bundle.zip': packages.build_offline_bundle([VIB_B]),
            'README.txt': b'hi',
        }
    )
    path = _write(tmp_path, outer)
    with pytest.raises(FormatError) as err:
        open_depot(path)
    assert str(err.value) == (
        '%s: not an offline bundle: no index.xml at the top of the zip, and it holds 2 zips '
        '(HPE-net-a-offline_bundle.zip, DEL-net-b-offline_bundle.zip); extract the bundle you want '
        'and give that one' % path
    )


def test_upper_case_extensions(tmp_path):
    inner = _rezip(packages.build_offline_bundle([VIB_A], layout='flat'), lambda n, d: [(n.replace('.vib', '.VIB') if n.endswith('.vib') else n, d)])
    outer = _zip_of({'DRIVER-OFFLINE_BUNDLE.ZIP': inner})
    with open_depot(_write(tmp_path, outer, 'DRIVER.ZIP')) as depot:
        assert [(v.relative_path, v.member) for v in depot.vibs] == [('net-a.x86_64.vib', 'net-a.x86_64.VIB')]


def test_central_directory_lying_about_sizes(tmp_path):
    """A member whose declared compressed size runs past the archive end is refused before anything is read."""
    data = bytearray(_zip_of({'index.xml': b'<vendorList/>', 'zeros.bin': b'\x00' * (64 * 1024 * 1024)}))
    central = data.index(b'PK\x01\x02zeros'[:4], data.index(b'PK\x01\x02') + 1)
    assert data[central + 46 : central + 55] == b'zeros.bin'
    data[central + 20 : central + 24] = (16 * 1024 * 1024).to_bytes(4, 'little')  # compressed size: 16 MiB (ratio 4)
    with pytest.raises(
        UnsafeArchiveError,
        match='zip member zeros.bin claims 16777216 compressed bytes at offset .*, past '
        'the end of the .*-byte archive: the central directory is corrupt or forged',
    ):
        open_depot(_write(tmp_path, bytes(data)))


def test_backslash_separators_of_windows_zip_tools(tmp_path):
    def to_windows(name, data):
        return [(name.replace('/', '\\'), data)]

    bundle = _rezip(_nest_meta(packages.build_offline_bundle([VIB_A], component=True), to_windows), to_windows)
    assert 'vib20\\net-a\\HPE_bootbank_net-a_1.0-1.vib' in _files(bundle)
    with open_depot(_write(tmp_path, bundle)) as depot:
        assert [v.member for v in depot.vibs] == ['vib20/net-a/HPE_bootbank_net-a_1.0-1.vib']
        assert depot.components[0].component_name == 'HPE-net-a'
        with depot.source.open(depot.vibs[0].member) as stream:
            assert stream.read() == VIB_A


def test_online_depot_relative_path_url_in_an_offline_copy(tmp_path):
    bundle = _rezip(
        packages.build_offline_bundle([VIB_A]),
        lambda n, d: [(n, d.replace(b'<relativePath></relativePath>', b'<relativePath>https://vibsdepot.hpe.com/hpe/</relativePath>'))],
    )
    with open_depot(_write(tmp_path, bundle)) as depot:
        assert [v.vib_id for v in depot.vibs] == ['HPE_bootbank_net-a_1.0-1']


def test_re_zipped_bundle_folder(tmp_path):
    """Users unzip a bundle and zip the folder again: index.xml then sits one folder down."""
    files = {'net-a-offline_bundle/' + name: data for name, data in _files(packages.build_offline_bundle([VIB_A])).items()}
    with open_depot(_write(tmp_path, _zip_of(files))) as depot:
        assert [v.member for v in depot.vibs] == ['net-a-offline_bundle/vib20/net-a/HPE_bootbank_net-a_1.0-1.vib']


def test_zip_of_bare_vibs_says_so(tmp_path):
    path = _write(tmp_path, _zip_of({'drivers/net-a.vib': VIB_A, 'drivers/net-b.VIB': VIB_B}))
    with pytest.raises(FormatError) as err:
        open_depot(path)
    assert str(err.value) == (
        '%s: not an offline bundle: no index.xml at the top of the zip and no nested bundle zip; it '
        'holds drivers/net-a.vib, drivers/net-b.VIB, which can be given as .vib files directly' % path
    )
