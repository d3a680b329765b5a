# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.esxi.customizer.tests.unit.plugins.modules.compat import run_module

from ansible_collections.esxi.customizer.plugins.modules import hardware_coverage
from ansible_collections.esxi.customizer.tests.fixturegen import packages


def run(capsys, **args):
    return run_module(capsys, hardware_coverage.main, **args)


def test_devices_from_an_lspci_file(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv('ESXI_CUSTOMIZER_CACHE_DIR', str(tmp_path / 'cache'))
    vib = tmp_path / 'net-x.vib'
    vib.write_bytes(packages.build_vib('net-x', '1.0-1', pci_ids=[('8086', '10d3')]))
    lspci = tmp_path / 'lspci.txt'
    lspci.write_text('03:00.0 0200: 8086:10d3 (rev 01)\n04:00.0 0200: 8086:1533 (rev 03)\n')
    code, result = run(capsys, packages=[str(tmp_path)], devices_from=str(lspci), devices=['8086:10d3:15d9:0000'])
    assert code == 0 and not result['changed']
    assert result['supported'] == ['8086:10d3:15d9:0000', '8086:10d3/0200'] and result['unsupported'] == ['8086:1533/0200']
    assert result['devices'][1]['address'] == '03:00.0' and result['devices'][1]['drivers'][0]['vib_name'] == 'net-x'


def test_a_bad_device_fails_clearly(capsys, tmp_path):
    code, result = run(capsys, packages=[str(tmp_path)], devices=['not-a-device'])
    assert code == 1 and "'not-a-device' is not a PCI ID" in result['msg']
