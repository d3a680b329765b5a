# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import shutil

import pytest
from ansible_collections.esxi.customizer.tests.unit.plugins.modules.compat import patch_module_args

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._image.compare import compare_images, compare_named
from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.plugins.modules import image_compare
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso
from ansible_collections.esxi.customizer.tests.fixturegen import packages

pytestmark = pytest.mark.skipif(not shutil.which('xorriso'), reason='xorriso is needed')


@pytest.fixture(scope='module')
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp('compare')
    stock, custom = str(base / 'stock.iso'), str(base / 'custom.iso')
    fixiso.build_esxi_iso(stock, style='70')
    new = base / 'net-new.vib'
    new.write_bytes(packages.build_vib('net-new', '1.0-1', vmkapi='2_6_0_0', acceptance_level='partner'))
    newer = base / 'ne1000.vib'
    newer.write_bytes(packages.build_vib('ne1000', '9.9.9-1', vendor='VMW', acceptance_level='accepted', vmkapi='2_6_0_0'))
    customize_iso(stock, custom, add=[str(new), str(newer)], remove=['crx'], kernelopt_add=['-cdromBoot', 'netdevice=vmnic1'], boot_timeout=3)
    return stock, custom


def test_stock_against_customized(pair):
    stock, custom = pair
    with EsxiImage.open(stock) as a, EsxiImage.open(custom) as b:
        result = compare_images(a, b)
    assert not result['same']
    vibs = result['vibs']
    assert [v['name'] for v in vibs['only_b']] == ['net-new'] and [v['name'] for v in vibs['only_a']] == ['crx']
    assert [(v['name'], v['version_b']) for v in vibs['upgraded']] == [('ne1000', '9.9.9-1')] and vibs['downgraded'] == []
    with EsxiImage.open(stock) as a:
        stock_count = len(a.profile.vibs)
    assert len(vibs['unchanged']) == stock_count - 2  # all but crx (removed) and ne1000 (upgraded)
    components = result['components']
    # ne1000's component goes with the VIB it replaced; bare .vib files bring none
    assert [c['name'] for c in components['only_a']] == ['VMware-crx', 'VMware-ne1000'] and components['only_b'] == []
    for key in ('bios', 'uefi'):
        boot = result['boot'][key]
        assert boot['kernelopt_added'] == ['netdevice=vmnic1'] and boot['kernelopt_removed'] == ['cdromBoot']
        assert boot['modules_added'] == ['net_new.v00'] and boot['modules_removed'] == ['crx.v00']
        assert boot['changed']['timeout'] == {'a': '5', 'b': '3'}
    assert 'name' in result['profile'] and result['profile']['name']['b'].endswith('-custom')
    # the diff is iso_customize's: one module a line, the VIB IDs, each part only where it differs
    diffs = {d['after_header'].rsplit(': ', 1)[1]: d for d in result['diff']}
    assert set(diffs) == {'/BOOT.CFG', '/EFI/BOOT/BOOT.CFG', 'image profile', 'image profile VIBs'}
    assert all(d['before_header'].startswith(stock) and d['after_header'].startswith(custom) for d in result['diff'])
    assert '  /net_new.v00\n' in diffs['/BOOT.CFG']['after'] and 'net_new' not in diffs['/BOOT.CFG']['before']
    assert any(line.startswith('ESXCUST_bootbank_net-new_1.0-1') for line in diffs['image profile VIBs']['after'].splitlines())


def test_an_image_against_itself(pair):
    stock, _custom = pair
    with EsxiImage.open(stock) as a, EsxiImage.open(stock) as b:
        result = compare_images(a, b)
    assert result['same'] and result['diff'] == [] and result['profile'] == {}
    assert result['boot']['bios'] == {
        'kernelopt_added': [],
        'kernelopt_removed': [],
        'modules_added': [],
        'modules_removed': [],
        'module_order_changed': False,
        'changed': {},
    }


def test_versions_in_esxi_order():
    result = compare_named({'a': '1.10-1', 'b': '2.0-1', 'c': '1.0-1'}, {'a': '1.9-1', 'b': '10.0-1', 'd': '1'}, what='VIB')
    assert [(v['name'], v['version_a'], v['version_b']) for v in result['downgraded']] == [('a', '1.10-1', '1.9-1')]
    assert [v['name'] for v in result['upgraded']] == ['b'] and result['only_a'] == [{'name': 'c', 'version': '1.0-1'}]


def test_module(capsys, pair):
    stock, custom = pair
    with patch_module_args({'a': stock, 'b': custom, '_ansible_diff': True}):
        with pytest.raises(SystemExit) as exc:
            image_compare.main()
    result = json.loads(capsys.readouterr().out)
    assert exc.value.code == 0 and not result['changed'] and not result['same'] and result['diff'][0]['before_header'] == stock + ': /BOOT.CFG'


def test_an_iso_against_the_depot_made_from_it(pair, tmp_path):
    """Either side may be a depot: the depot bundle_export made of the ISO holds the same VIBs and profile."""
    from ansible_collections.esxi.customizer.plugins.module_utils._image.bundle_export import export_bundle
    from ansible_collections.esxi.customizer.plugins.module_utils._image.source_image import open_source_image

    stock, _custom = pair
    depot = str(tmp_path / 'depot.zip')
    export_bundle(stock, depot, vendor_name='VMware', vendor_code='VMW')
    with open_source_image(stock) as (a, _none), open_source_image(depot, option='b_profile') as (b, from_depot):
        result = compare_images(a, b)
    assert from_depot is not None and from_depot.profile == a.profile.name
    vibs = result['vibs']
    assert vibs['only_a'] == vibs['only_b'] == vibs['upgraded'] == vibs['downgraded'] == [] and vibs['unchanged']
    assert result['profile'] == {}
    with pytest.raises(EsxiCustomizerError, match='a_profile chooses the image profile of a depot'):
        with open_source_image(stock, 'x', option='a_profile'):
            pass
