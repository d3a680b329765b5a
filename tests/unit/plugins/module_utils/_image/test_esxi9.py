# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ESXi 8.0U3 and 9.x images: vzstd drivers, four-part versions, esxio VIBs, boot.cfg keys per loader release."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import CompatibilityError, EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures

pytestmark = pytest.mark.skipif(not (shutil.which('xorriso') and shutil.which('bsdtar')), reason='xorriso and bsdtar are needed')
FIXTURES = shared_fixtures()
ITI = FIXTURES / 'itiligent-esxi-custom-iso' if FIXTURES else None
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found')
FLING90 = 'ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip'
FLING80U3 = 'ESXi80U3-VMKUSB-NIC-FLING-75399077-component-24052746.zip'
REALTEK80 = 'VMware-Re-Driver_1.101.01-5vmw.800.1.0.20613240.zip'


@pytest.fixture(scope='module')
def isos(tmp_path_factory):
    base = tmp_path_factory.mktemp('isos')
    found = {}
    for style in ('80', '90'):
        for jr in (False, True):
            path = str(base / ('esxi-%s%s.iso' % (style, '-jr' if jr else '')))
            found[style + ('jr' if jr else '')] = (path, fixiso.build_esxi_iso(path, style, joliet_rock_ridge=jr))
    return found


def _digest(path):
    with open(path, 'rb') as stream:
        return hashlib.sha256(stream.read()).hexdigest()


@pytest.mark.parametrize('key', ['80', '80jr', '90', '90jr'])
def test_8_and_9_images_are_sound(isos, key):
    path, facts = isos[key]
    with EsxiImage.open(path) as image:
        assert image.problems() == [] and image.bootcfg_warnings() == []
        assert image.version == facts['esxi_version'] == {'80': '8.0.3', '90': '9.0.0.0'}[key[:2]]
        assert image.release == {'80': (8, 0, 3), '90': (9, 0, 0, 0)}[key[:2]]
        vibs = {v['name']: v for v in image.vib_facts()}
        # esxio VIBs stay in the profile although no boot.cfg loads them
        assert {'esxio-base', 'nmlx5-core-esxio', 'nmlx5-core', 'esxio-combiner'} <= set(vibs)
        assert image.bootcfg_bios.title == ('Loading ESX installer' if key.startswith('90') else 'Loading ESXi installer')
        if key.startswith('90'):
            assert image.profile.name == 'ESX-9.0.0.0.24755229-standard' and image.bootcfg_bios.get('updated') == '1'


@needs_fixtures
@pytest.mark.parametrize('key', ['90', '90jr'])
def test_real_90_fling_goes_into_the_90_image(isos, tmp_path, key):
    src, _facts = isos[key]
    before = _digest(src)
    dest = str(tmp_path / 'out.iso')
    result = customize_iso(src, dest, add=[str(ITI / FLING90)])
    assert result['changed'] and [a['id'] for a in result['added']] == ['VMW_bootbank_vmkusb-nic-fling_1.15-1vmw.900.0.84947163']
    assert _digest(src) == before
    with EsxiImage.open(dest) as image:
        assert image.problems() == []
        assert 'vmkusb_n.v00' in image.bootcfg_bios.module_names and 'vmkusb_n.v00' in image.bootcfg_uefi.module_names
        record = image.imgdb.vibs['VMW_bootbank_vmkusb-nic-fling_1.15-1vmw.900.0.84947163']
        assert [p.type for p in record.payloads] == ['vzstd']
    # the payload on the ISO is the component's member, byte for byte
    name = 'vmkusb_n.v00' if key.endswith('jr') else 'VMKUSB_N.V00'
    data = subprocess.run(['bsdtar', '-xOf', dest, name], check=True, capture_output=True).stdout
    assert len(data) == 299608 and hashlib.sha256(data).hexdigest() == '3a17d05157463d7382bfb5a716b950fb6764cf820f5e1e1044afc8fa6552d8bb'
    assert not customize_iso(src, dest, add=[str(ITI / FLING90)])['changed']
    assert sorted(os.listdir(tmp_path)) == ['out.iso']


@needs_fixtures
def test_real_90_fling_is_refused_for_80u3_naming_vmkapi_3(isos, tmp_path):
    src, _facts = isos['80']
    with pytest.raises(CompatibilityError, match=r'needs vmkapi 3\.0\.0\.0, first provided by ESXi 9\.0, newer than this ISO \(8\.0\.3\)'):
        customize_iso(src, str(tmp_path / 'out.iso'), add=[str(ITI / FLING90)])
    assert os.listdir(tmp_path) == []


@needs_fixtures
def test_real_80_drivers_go_into_the_80u3_image(isos, tmp_path):
    src, _facts = isos['80']
    dest = str(tmp_path / 'out.iso')
    result = customize_iso(src, dest, add=[str(ITI / FLING80U3), str(ITI / REALTEK80)])
    assert sorted(a['name'] for a in result['added']) == ['if-re', 'vmkusb-nic-fling']
    with EsxiImage.open(dest) as image:
        assert image.problems() == []


def test_80_vib_without_the_gunzip_checksum_is_refused_for_80_and_90(isos, tmp_path):
    for key in ('80', '90'):
        vmkapi = '2_13_0_0' if key == '80' else '3_0_0_0'
        vib = tmp_path / ('legacy-%s.vib' % key)
        vib.write_bytes(packages.build_vib('net-legacy', '1.0-1', vmkapi=vmkapi, checksum_order='legacy'))
        with pytest.raises(EsxiCustomizerError, match='has no sha-256 gunzip checksum'):
            customize_iso(isos[key][0], str(tmp_path / 'out.iso'), add=[str(vib)])
    assert not (tmp_path / 'out.iso').exists()


def test_a_built_vzstd_vib_goes_into_the_90_image(isos, tmp_path):
    vib = tmp_path / 'net-z.vib'
    vib.write_bytes(
        packages.build_vib('net-z', '1.0-1vmw.900', vmkapi='3_0_0_0', payload_type='vzstd', depends=['vmkapi_3_0_0_0', ('zstd-compression', '=', '1.0')])
    )
    result = customize_iso(isos['90'][0], str(tmp_path / 'out.iso'), add=[str(vib)])
    assert [a['name'] for a in result['added']] == ['net-z']


@pytest.mark.parametrize(
    'key, options, warning',
    [
        ('80', {'errtimeout': 30, 'runtimewd': 1}, None),
        ('80', {'nativehttp': 1}, None),
        ('90', {'nativehttp': 1}, 'bootcfg_options: nativehttp= is ignored by the boot loader of ESXi 9.0: ESXi 9.0 dropped it'),
    ],
)
def test_bootcfg_options_by_loader_release(isos, tmp_path, key, options, warning):
    dest = str(tmp_path / 'out.iso')
    result = customize_iso(isos[key][0], dest, bootcfg_options=options)
    assert result['changed'] and result['warnings'] == ([warning] if warning else [])
    with EsxiImage.open(dest) as image:
        for cfg in (image.bootcfg_bios, image.bootcfg_uefi):
            assert {k: cfg.get(k) for k in options} == {k: str(v) for k, v in options.items()}
    assert not customize_iso(isos[key][0], dest, bootcfg_options=options)['changed']
    removed = customize_iso(isos[key][0], dest, bootcfg_options={k: None for k in options})
    with EsxiImage.open(dest) as image:
        assert removed['changed'] and all(image.bootcfg_bios.get(k) is None for k in options)


def test_bootcfg_options_on_an_older_loader_warn(tmp_path):
    src = str(tmp_path / 'esxi70.iso')
    fixiso.build_esxi_iso(src, style='70')
    result = customize_iso(src, str(tmp_path / 'out.iso'), bootcfg_options={'errtimeout': 10})
    assert result['warnings'] == ['bootcfg_options: errtimeout= is ignored by the boot loader of ESXi 7.0.3: it was added in ESXi 8.0.2']


def test_a_typo_in_bootcfg_options_writes_nothing(isos, tmp_path):
    with pytest.raises(ValueError, match=r'errtimout is not read by any ESXi boot loader.*did you mean errtimeout'):
        customize_iso(isos['80'][0], str(tmp_path / 'out.iso'), bootcfg_options={'errtimout': 10})
    assert os.listdir(tmp_path) == []


def test_vzstd_stock_driver_removed_and_replaced(isos, tmp_path):
    src, facts = isos['90']
    [stock] = [v for v in facts['vibs'] if v['name'] == 'ne1000']
    assert [p['type'] for p in stock['payload_list']] == ['vzstd']
    dest = str(tmp_path / 'removed.iso')
    removed = customize_iso(src, dest, remove=['ne1000'])
    assert [r['name'] for r in removed['removed']] == ['ne1000']
    with EsxiImage.open(dest) as image:
        assert image.problems() == [] and 'ne1000.v00' not in image.bootcfg_bios.module_names
    newer = tmp_path / 'ne1000.vib'
    newer.write_bytes(
        packages.build_vib(
            'ne1000',
            '9.9.9-1vmw.900',
            vendor='VMW',
            acceptance_level='accepted',
            vmkapi='3_0_0_0',
            payload_type='vzstd',
            depends=['vmkapi_3_0_0_0', ('zstd-compression', '=', '1.0')],
        )
    )
    replaced = customize_iso(src, str(tmp_path / 'replaced.iso'), add=[str(newer)])
    assert [r['id'] for r in replaced['replaced']] == [stock['id']]
    with EsxiImage.open(str(tmp_path / 'replaced.iso')) as image:
        assert image.problems() == []
        assert [v.version for v in image.imgdb.vibs_by_name('ne1000')] == ['9.9.9-1vmw.900']
