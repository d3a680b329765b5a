# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from ansible_collections.esxi.customizer.tests.unit.plugins.modules.compat import run_module

from ansible_collections.esxi.customizer.plugins.modules import package_info
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures


FIXTURES = shared_fixtures()
ITI = FIXTURES / 'itiligent-esxi-custom-iso' if FIXTURES else None
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found (set ESXI_SHARED_FIXTURES)')


def run(capsys, **args):
    return run_module(capsys, package_info.main, **args)


@needs_fixtures
def test_component(capsys):
    code, result = run(capsys, path=str(ITI / 'VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240.zip'))
    assert code == 0 and result['changed'] is False
    assert result['package_type'] == 'component'
    assert result['components'][0]['name'] == 'VMware-Re-Driver'
    [vib] = result['vibs']
    assert (vib['id'], vib['acceptance_level'], vib['vmkapi'], vib['min_esxi_version'], vib['signed']) == (
        'vmw_bootbank_if-re_1.101.01-5vmw.800.1.0.20613240',
        'certified',
        '2.10.0.0',
        '8.0',
        True,
    )
    assert vib['payloads'] == [
        {
            'name': 'ifre',
            'type': 'vgz',
            'size': 221108,
            'uncompressed_size': None,
            'checksum_ok': True,
            'injectable': True,
            'checksums': [
                {'type': 'sha-256', 'verify_process': None, 'ok': True, 'note': ''},
                {'type': 'sha-256', 'verify_process': 'gunzip', 'ok': True, 'note': ''},
                {'type': 'sha-1', 'verify_process': 'gunzip', 'ok': True, 'note': ''},
            ],
        }
    ]
    assert len(vib['pci_ids']) == 9 and vib['pci_ids'][0]['class'] is None
    assert vib['vib_checksum_ok'] is True and vib['depends'] == [{'name': 'vmkapi_2_10_0_0', 'relation': None, 'version': None}]


@needs_fixtures
def test_vzstd_payload_is_read_and_injectable(capsys):
    code, result = run(capsys, path=str(ITI / 'ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip'))
    assert code == 0
    [vib] = result['vibs']
    payload = vib['payloads'][0]
    assert (payload['type'], payload['injectable'], payload['checksum_ok']) == ('vzstd', True, True)
    assert (vib['vmkapi'], vib['min_esxi_version']) == ('3.0.0.0', '9.0')
    assert {e['class'] for e in vib['pci_ids'] if e['bus'] == 'pci'} == {'0c0300', '0c0310', '0c0320', '0c0330'}


@needs_fixtures
def test_vzstd_payload_without_a_zstd_library(capsys, no_zstd):
    code, result = run(capsys, path=str(ITI / 'ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip'))
    assert code == 0
    [vib] = result['vibs']
    assert vib['payloads'][0]['injectable'] is False
    assert any('pip install zstandard' in w for w in vib['warnings'])


def test_bad_checksum_fails_with_a_message(capsys, tmp_path):
    vib = packages.build_vib('net-bad', '1.0-1')
    members = packages.ar_members(vib)
    digest = hashlib.sha256(dict(members)['net-bad']).hexdigest()
    desc = dict(members)['descriptor.xml'].replace(digest.encode(), b'0' * 64)
    path = tmp_path / 'bad.vib'
    path.write_bytes(packages.ar_archive([(n, desc if n == 'descriptor.xml' else d) for n, d in members]))
    code, result = run(capsys, path=str(path))
    assert code == 1 and result['failed']
    assert result['msg'].startswith('%s: payload net-bad: sha-256' % path) and 'mismatch' in result['msg']
    code, result = run(capsys, path=str(path), verify_checksums=False)
    assert code == 0 and result['vibs'][0]['payloads'][0]['checksum_ok'] is None


def test_not_a_package_fails_cleanly(capsys, tmp_path):
    path = tmp_path / 'notes.txt'
    path.write_text('hello')
    code, result = run(capsys, path=str(path))
    assert code == 1 and 'unknown file signature' in result['msg'] and 'Traceback' not in json.dumps(result)


def test_limits_are_options(capsys, tmp_path):
    path = tmp_path / 'big.tgz'
    path.write_bytes(packages.build_legacy_tgz('r8169'))
    code, result = run(capsys, path=str(path), max_uncompressed_size=1000)
    assert code == 1 and 'max_uncompressed_size' in result['msg']


def test_vib_file_checksum_from_bundle_metadata(capsys, tmp_path):
    """A VIB whose bytes changed where no payload checksum looks (an ar header mtime) is caught by the metadata sha-256."""
    vib = packages.build_vib('net-meta', '1.0-1', gnu_style=True)
    bundle = packages.build_offline_bundle([vib])
    tampered_vib = vib.replace(str(packages.FIXED_MTIME).encode(), str(packages.FIXED_MTIME + 1).encode(), 1)
    assert len(tampered_vib) == len(vib) and tampered_vib != vib
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, tampered_vib if info.filename.endswith('.vib') else src.read(info))
    path = tmp_path / 'tampered.zip'
    path.write_bytes(out.getvalue())
    code, result = run(capsys, path=str(path))
    assert code == 1
    assert result['msg'] == (
        '%s!vib20/net-meta/ESXCUST_bootbank_net-meta_1.0-1.vib: the .vib file does not match the checksum in the bundle metadata (corrupt bundle)' % path
    )


def test_partial_bundle_warning_and_24_character_map_ids(capsys, tmp_path):
    """A bulletin naming a VIB the bundle lacks is a package warning; a 24-character native id keeps its revision."""
    files = packages.driver_files('ixgben', [('8086', '154d')])
    files['etc/vmware/default.map.d/ixgben.map'] = b'regtype=native,bus=pci,id=8086154d........02000001,driver=ixgben\n'
    vib_a = packages.build_vib('net-ixgben', '1.0-1', vendor='INT', payloads=[('net-ixgben', 'vgz', packages.gzip_bytes(packages.vmtar(files)))])
    vib_b = packages.build_vib('net-other', '1.0-1', vendor='INT')
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(packages.build_offline_bundle([vib_a, vib_b], component=True))) as src,
        zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename == 'metadata.zip':
                meta_out = io.BytesIO()
                with zipfile.ZipFile(io.BytesIO(data)) as meta, zipfile.ZipFile(meta_out, 'w') as new_meta:
                    for member in meta.infolist():
                        if not member.filename.startswith(('vibs/net-other', 'vmware.xml')):
                            new_meta.writestr(member.filename, meta.read(member))
                data = meta_out.getvalue()
            if 'net-other' not in info.filename:
                dst.writestr(info.filename, data)
    path = tmp_path / 'partial.zip'
    path.write_bytes(out.getvalue())
    code, result = run(capsys, path=str(path))
    assert code == 0, result
    assert result['package_warnings'] == [
        'bulletin INT-net-ixgben_1.0-1 lists VIB INT_bootbank_net-other_1.0-1, which this bundle does not carry (neither its metadata nor a .vib file)'
    ]
    [vib] = result['vibs']
    assert vib['pci_ids'] == [
        {
            'vendor': '8086',
            'device': '154d',
            'subvendor': None,
            'subdevice': None,
            'class': '020000',
            'driver': 'ixgben',
            'bus': 'pci',
            'acpi_id': None,
            'vendor_name': 'Intel Corporation',
            'device_name': 'ixgben 154d controller',
            'revision': '01',
        }
    ]
