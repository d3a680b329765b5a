# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hardware_coverage's answers on the real packages and on fixture ISOs (inbox drivers with real-format maps)."""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.pcilist import parse_device
from ansible_collections.esxi.customizer.plugins.module_utils._image import coverage as cov
from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures

FIXTURES = shared_fixtures()
ITI = FIXTURES / 'itiligent-esxi-custom-iso' if FIXTURES else None
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found')
needs_xorriso = pytest.mark.skipif(not shutil.which('xorriso'), reason='xorriso is needed')


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('ESXI_CUSTOMIZER_CACHE_DIR', str(tmp_path / 'cache'))


def _answer(result, key):
    return [a for a in result['devices'] if a['id'] == key][0]


@needs_fixtures
@pytest.mark.parametrize(
    'package, device, driver',
    [
        ('net-r8125-9.011.00-10.vib', '10ec:8125', 'r8125'),
        ('r8125-bundle.zip', '10ec:8125', 'r8125'),
        ('nvme-community-driver_1.0.1.0-1vmw.670.0.0.8169922-offline_bundle-17658145.zip', '106b:2005', 'nvme_community'),
        ('nvme-community-driver_1.0.1.0-1vmw.670.0.0.8169922-offline_bundle-17658145.zip', '144d:a808/010802', 'nvme_community'),
        ('nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip', '144d:a808/010802', 'nvme_community'),
        ('ESXi650-VMKUSB-NIC-FLING-39176435-16775917.zip', '8086:a36d/0c0330', 'vmkusb_nic_fling'),
        ('ESXi80U3-VMKUSB-NIC-FLING-75399077-component-24052746.zip', '8086:a36d/0c0330', 'vmkusb_nic_fling'),
        ('ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip', '8086:a36d/0c0330', 'vmkusb_nic_fling'),
    ],
)
def test_real_packages(package, device, driver):
    result = cov.coverage([parse_device(device), parse_device('1234:5678')], packages=[str(ITI / package)])
    answer = _answer(result, device)
    assert answer['supported'] and [d['driver'] for d in answer['drivers'] if d['match'] == 'match'] == [driver]
    assert all(d['origin'] == 'package' and d['file'] == str(ITI / package) for d in answer['drivers'])
    assert result['unsupported'] == ['1234:5678'] and not _answer(result, '1234:5678')['drivers']


@needs_fixtures
def test_a_directory_of_packages_and_two_drivers_for_one_device():
    result = cov.coverage([parse_device('10ec:8125')], packages=[str(ITI)])
    answer = result['devices'][0]
    matched = sorted({d['driver'] for d in answer['drivers'] if d['match'] == 'match'})
    assert matched == ['if_re', 'r8125'] and answer['name'] == 'RTL8125 2.5GbE Controller'
    assert answer['warnings'] == ["10ec:8125 is claimed by 2 drivers (if_re, r8125): which one loads depends on ESXi's order"]


@needs_xorriso
def test_inbox_drivers_of_a_fixture_iso_and_the_cache(tmp_path):
    src = str(tmp_path / 'esxi70.iso')
    fixiso.build_esxi_iso(src, style='70')
    devices = [parse_device('14e4:16d7'), parse_device('8086:0953'), parse_device('1000:0097'), parse_device('dead:beef')]
    first = cov.coverage(devices, src=src)
    assert first['supported'] == ['14e4:16d7', '8086:0953', '1000:0097'] and first['unsupported'] == ['dead:beef']
    bnxt = _answer(first, '14e4:16d7')['drivers']
    assert [(d['driver'], d['vib_name'], d['origin'], d['component']) for d in bnxt] == [('bnxtnet', 'bnxtnet', 'inbox', 'VMware-bnxtnet')]
    cached = os.listdir(tmp_path / 'cache' / 'coverage')
    assert cached
    # a second query reads no payload: the cache answers (the payload files could be gone from the reader's view)
    calls = []
    real = cov.PackageVib.pci_ids
    cov.PackageVib.pci_ids = property(lambda self: calls.append(self.vib_id) or real.fget(self))
    try:
        second = cov.coverage(devices, src=src)
    finally:
        cov.PackageVib.pci_ids = real
    assert second == first and calls == []


@needs_fixtures
@needs_xorriso
def test_an_iso_customized_with_r8125_answers_alone(tmp_path):
    src = str(tmp_path / 'esxi6x.iso')
    fixiso.build_esxi_iso(src, style='6x')
    custom = str(tmp_path / 'custom.iso')
    customize_iso(src, custom, add=[str(ITI / 'net-r8125-9.011.00-10.vib')])
    answer = cov.coverage([parse_device('10ec:8125')], src=custom)['devices'][0]
    assert answer['supported'] and [(d['vib'], d['origin']) for d in answer['drivers']] == [('Realtek_bootbank_net-r8125_9.011.00-10', 'inbox')]


@needs_xorriso
def test_vzstd_inbox_drivers_of_a_90_image(tmp_path):
    src = str(tmp_path / 'esxi90.iso')
    fixiso.build_esxi_iso(src, style='90')
    answer = cov.coverage([parse_device('8086:10d3')], src=src)['devices'][0]
    assert answer['supported'] and [d['driver'] for d in answer['drivers']] == ['ne1000']


def test_nothing_to_read_from():
    with pytest.raises(EsxiCustomizerError, match='give src'):
        cov.coverage([parse_device('10ec:8125')])


def test_a_depot_answers_as_the_iso_it_was_made_from(tmp_path):
    """A base depot with its profile is a source like the ISO: the same inbox answers, the profile option checked."""
    from ansible_collections.esxi.customizer.plugins.module_utils._image.bundle_export import export_bundle

    src = str(tmp_path / 'esxi70.iso')
    fixiso.build_esxi_iso(src, style='70')
    depot = str(tmp_path / 'depot70.zip')
    export_bundle(src, depot, vendor_name='VMware', vendor_code='VMW')
    devices = [parse_device('14e4:16d7'), parse_device('8086:0953'), parse_device('dead:beef')]
    from_iso = cov.coverage(devices, src=src)
    from_depot = cov.coverage(devices, src=depot, profile='ESXi-7.0U3n-21930508-standard')
    assert from_depot['supported'] == from_iso['supported'] == ['14e4:16d7', '8086:0953']
    assert _answer(from_depot, '14e4:16d7')['drivers'][0]['origin'] == 'inbox'
    with pytest.raises(EsxiCustomizerError, match='profile chooses the image profile of a depot'):
        cov.coverage(devices, src=src, profile='ESXi-7.0U3n-21930508-standard')
