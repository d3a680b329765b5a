# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Patch rebase: a customized fixture ISO (or depot) moved onto the fixture patch depot (a later build whose esx-base
loaders print other markers), read back with iso_info's reader and xorriso, and booted in SeaBIOS and OVMF."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import ChecksumError, CompatibilityError, ConflictError, EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._image.bundle_export import export_bundle
from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso, package_fit
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import IsoReader
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import read_iso_facts
from ansible_collections.esxi.customizer.plugins.module_utils._image.rebase import label_and_build, renamed
from ansible_collections.esxi.customizer.tests.fixturegen import bootcheck
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures

pytestmark = pytest.mark.skipif(not shutil.which('xorriso'), reason='xorriso is needed')
needs_qemu = pytest.mark.skipif(
    not shutil.which(bootcheck.QEMU) or not os.path.exists(bootcheck.OVMF_CODE),
    reason='qemu-system-x86 / ovmf missing (scripts/install-system-deps.sh installs them)',
)
# the real driver each style's customized ISO carries (itiligent-esxi-custom-iso fixtures)
DRIVERS = {
    '6x': ('net-r8125-9.011.00-10.vib', 'net-r8125'),
    '70': ('nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip', 'nvme-community'),
    '80': ('ESXi80U3-VMKUSB-NIC-FLING-75399077-component-24052746.zip', 'vmkusb-nic-fling'),
}
KICKSTART = 'vmaccepteula\ninstall --firstdisk --novmfsondisk\nrootpw --iscrypted $6$x$y\n'


def _sha(path):
    with open(path, 'rb') as stream:
        return hashlib.sha256(stream.read()).hexdigest()


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    """{style: {'base', 'custom', 'patch' (depot), 'rebased', 'result'}} for 6x, 70, 80."""
    fixtures = shared_fixtures()
    if fixtures is None:
        pytest.skip('shared fixtures not found')
    root = tmp_path_factory.mktemp('rebase')
    found = {}
    for style, (driver, _name) in DRIVERS.items():
        d = {key: str(root / ('%s-%s' % (style, name))) for key, name in (('base', 'base.iso'), ('custom', 'custom.iso'), ('patch', 'patch.zip'))}
        fixiso.build_esxi_iso(d['base'], style=style)
        patch_iso = str(root / ('%s-patch.iso' % style))
        fixiso.build_esxi_iso(patch_iso, style=style, patch=True)
        d['patch_facts'] = read_iso_facts(patch_iso)
        export_bundle(patch_iso, d['patch'], vendor_name='VMware', vendor_code='VMW')
        d['driver'] = str(fixtures / 'itiligent-esxi-custom-iso' / driver)
        customize_iso(d['base'], d['custom'], add=[d['driver']], kickstart_content=KICKSTART, kernelopt_add=['allowLegacyCPU=true'])
        d['rebased'] = str(root / ('%s-rebased.iso' % style))
        d['result'] = customize_iso(d['custom'], d['rebased'], add=[d['patch']])
        found[style] = d
    return found


@pytest.mark.parametrize('style', ['6x', '70', '80'])
def test_rebase_keeps_the_driver_and_kickstart_and_takes_the_patch(images, style):
    d = images[style]
    patch, spec = d['patch_facts'], fixiso.PATCHES[style]
    before, after = read_iso_facts(d['custom']), read_iso_facts(d['rebased'])
    assert after['problems'] == [] and d['result']['problems'] == []
    assert after['build'] == spec['base_version'] and after['build'] != before['build']
    driver = DRIVERS[style][1]
    # every VIB of the patch is in (the fixture patch depot has no esxio VIBs: bundle_export leaves them out)
    base = {v['name']: v['version'] for v in after['vibs'] if v['name'] != driver and not v['esxio']}
    assert base == {v['name']: v['version'] for v in patch['vibs'] if not v['esxio']}
    kept = [v for v in before['vibs'] if v['name'] == driver]
    assert kept and [v['id'] for v in after['vibs'] if v['name'] == driver] == [kept[0]['id']]
    # the patch profile's label and build replace the old ones; the image stays marked as customized
    assert after['profile']['name'] == spec['profile'] + '-custom'
    assert after['volume_id'] == spec['profile'].upper()[:32]
    assert after['profile']['creator'] == 'esxi.customizer'
    assert 'rebased %s (build %s) onto %s' % (before['profile']['name'], fixiso.STYLES[style]['build'], spec['profile']) in after['profile']['description']
    for key in ('bios', 'uefi'):
        assert after['boot'][key]['kernelopt'] == before['boot'][key]['kernelopt']
        assert 'ks=cdrom:/KS.CFG' in after['boot'][key]['kernelopt'] and 'allowLegacyCPU=true' in after['boot'][key]['kernelopt']
        assert after['boot'][key]['build'] == ('' if style == '6x' else spec['bootcfg_build'])
        assert after['boot'][key]['modules'] == after['boot']['bios']['modules']
    with IsoReader(d['rebased']) as reader:
        assert reader.read('/KS.CFG') == KICKSTART.encode('ascii')
        # the loaders are the patch's bytes: its esx-base payloads, not the source's
        with IsoReader(d['custom']) as old:
            assert reader.read('/EFIBOOT.IMG') != old.read('/EFIBOOT.IMG')
    rebase = d['result']['rebase']
    assert rebase['before']['build'] == fixiso.STYLES[style]['build'] and rebase['after']['build'] == fixiso.PATCHES[style]['build']
    assert rebase['patch_profile'] == spec['profile'] and rebase['added'] == []
    assert any(item.startswith('VMware_bootbank_esx-base_') for item in rebase['replaced'])
    assert any(v['id'].startswith('VMware_bootbank_esx-base_') and v.get('by') for v in d['result']['replaced'])


def test_esxio_vibs_the_patch_lacks_are_carried_out_of_esxiodpt(images):
    d = images['80']
    before, after = read_iso_facts(d['custom']), read_iso_facts(d['rebased'])
    esxio = sorted(v['id'] for v in before['vibs'] if v['esxio'])
    assert len(esxio) == 2 and sorted(v['id'] for v in after['vibs'] if v['esxio']) == esxio
    # their payloads come out of the source's ESXIODPT.TGZ and go into the new one, byte for byte
    archives = []
    for path in (d['custom'], d['rebased']):
        with IsoReader(path) as reader, tarfile.open(fileobj=io.BytesIO(reader.read('/ESXIODPT.TGZ'))) as tar:
            archives.append({m.name.rsplit('/', 1)[-1]: tar.extractfile(m).read() for m in tar if m.isfile()})
    assert sorted(archives[1]) == ['esxio_ba.v00', 'nmlx5_co.v01'] and all(archives[1][name] == archives[0][name] for name in archives[1])


def test_xorriso_sees_both_el_torito_entries(images):
    report = subprocess.run(['xorriso', '-indev', images['70']['rebased'], '-report_el_torito', 'plain'], capture_output=True, text=True, check=True).stdout
    assert 'El Torito boot img :   1  BIOS' in report and 'El Torito boot img :   2  UEFI' in report


def test_reproducible_up_to_date_and_check_mode(images, tmp_path):
    d = images['70']
    again = str(tmp_path / 'again.iso')
    customize_iso(d['custom'], again, add=[d['patch']])
    assert _sha(again) == _sha(d['rebased'])
    rerun = customize_iso(d['custom'], d['rebased'], add=[d['patch']])
    assert rerun['changed'] is False and rerun['rebase']['after']['build'] == '24585291'
    planned = customize_iso(d['custom'], str(tmp_path / 'never.iso'), add=[d['patch']], check_mode=True)
    assert planned['changed'] is True and not os.path.exists(tmp_path / 'never.iso')


def test_rebase_and_a_driver_in_one_run_from_the_stock_iso(images, tmp_path):
    d = images['70']
    dest = str(tmp_path / 'one-run.iso')
    result = customize_iso(d['base'], dest, add=[d['patch'], d['driver']], kickstart_content=KICKSTART)
    facts = read_iso_facts(dest)
    assert facts['problems'] == [] and facts['build'] == '7.0.3-0.135.24585291'
    assert [v['name'] for v in result['added']] == ['nvme-community'] and result['components_added'] == ['VMware-nvme-community_1.0.1.0-3vmw.700.1.0.15843807']
    assert facts['profile']['name'] == 'ESXi-7.0U3s-24585291-standard-custom'


def test_a_depot_source_rebases_like_its_iso(images, tmp_path):
    d = images['70']
    depot = str(tmp_path / 'base-depot.zip')
    export_bundle(d['base'], depot, vendor_name='VMware', vendor_code='VMW')
    from_depot, from_iso = str(tmp_path / 'from-depot.iso'), str(tmp_path / 'from-iso.iso')
    customize_iso(depot, from_depot, add=[d['patch']])
    customize_iso(d['base'], from_iso, add=[d['patch']])
    a, b = read_iso_facts(from_depot), read_iso_facts(from_iso)
    assert a['problems'] == [] and sorted(v['id'] for v in a['vibs']) == sorted(v['id'] for v in b['vibs'])
    assert a['boot']['bios']['modules'] == b['boot']['bios']['modules'] and a['build'] == b['build']


def test_a_patch_without_profile_updates_only_what_the_image_has(images, tmp_path):
    d = images['70']
    rollup = str(tmp_path / 'rollup.zip')
    export_bundle(d['patch'].replace('patch.zip', 'patch.iso'), rollup, vendor_name='VMware', vendor_code='VMW', include=['esx-base', 'esx-update'])
    dest = str(tmp_path / 'rollup.iso')
    result = customize_iso(d['base'], dest, add=[rollup])
    assert result['rebase']['patch_profile'] is None
    assert sorted(item.split('_')[2] for item in result['rebase']['replaced']) == ['esx-base', 'esx-update']
    facts = read_iso_facts(dest)
    assert facts['problems'] == [] and facts['build'] == '7.0.3-0.135.24585291'
    assert {v['name']: v['version'] for v in facts['vibs']}['ne1000'].endswith('vmw.703.0.105.21930508')


def test_refusals_leave_dest_untouched(images, tmp_path):
    d = images['70']
    dest = str(tmp_path / 'dest.iso')
    shutil.copyfile(d['rebased'], dest)
    digest = _sha(dest)
    with pytest.raises(CompatibilityError, match=r'patch of ESXi 8\.0\.3 .* but the image is ESXi 7\.0\.3 .*same major release'):
        customize_iso(d['custom'], dest, add=[images['80']['patch']])
    # back onto the older base: a downgrade, refused unless asked for
    old = str(tmp_path / 'old-base.zip')
    export_bundle(d['base'], old, vendor_name='VMware', vendor_code='VMW')
    with pytest.raises(ConflictError, match=r'VIB esx-base 7\.0\.3-0\.105\.21930508 of the patch is older .*allow_downgrade'):
        customize_iso(d['rebased'], dest, add=[old])
    with pytest.raises(EsxiCustomizerError, match=r'profile: the depot has no image profile nope; it has ESXi-7\.0U3s-24585291-standard'):
        customize_iso(d['custom'], dest, add=[d['patch']], patch_profile='nope')
    with pytest.raises(EsxiCustomizerError, match='add has no patch'):
        customize_iso(d['custom'], dest, add=[d['driver']], patch_profile='ESXi-7.0U3s-24585291-standard')
    with pytest.raises(ConflictError, match='add has 2 patches'):
        customize_iso(d['custom'], dest, add=[d['patch'], old])
    assert _sha(dest) == digest
    assert sorted(os.listdir(tmp_path)) == ['dest.iso', 'old-base.zip']


def test_a_downgrade_when_asked_and_nothing_to_do_at_the_same_build(images, tmp_path):
    d = images['70']
    old = str(tmp_path / 'old-base.zip')
    export_bundle(d['base'], old, vendor_name='VMware', vendor_code='VMW')
    back = customize_iso(d['rebased'], str(tmp_path / 'back.iso'), add=[old], allow_downgrade=True)
    assert read_iso_facts(str(tmp_path / 'back.iso'))['build'] == '7.0.3-0.105.21930508' and back['rebase']['after']['build'] == '21930508'
    same = customize_iso(d['rebased'], str(tmp_path / 'same.iso'), add=[d['patch']])
    assert same['rebase'] is None and any('nothing to rebase' in w for w in same['warnings'])


def test_a_tampered_payload_of_a_kept_vib_is_refused_by_name(images, tmp_path):
    d = images['70']
    tampered = str(tmp_path / 'tampered.iso')
    shutil.copyfile(d['custom'], tampered)
    with IsoReader(tampered) as reader:
        entry = reader.find('/NVMECOMM.V00')
        offset = entry.extent * 2048 + entry.size // 2
    with open(tampered, 'r+b') as stream:
        stream.seek(offset)
        byte = stream.read(1)
        stream.seek(offset)
        stream.write(bytes([byte[0] ^ 0xFF]))
    dest = str(tmp_path / 'out.iso')
    with pytest.raises(ChecksumError, match='nvme-community.*nvmecomm'):
        customize_iso(tampered, dest, add=[d['patch']])
    assert sorted(os.listdir(tmp_path)) == ['tampered.iso']


def test_names():
    assert label_and_build('ESXi-7.0U3n-21930508-standard') == ('7.0U3n', '-', '21930508')
    assert label_and_build('ESX-9.0.0.0.24755229-standard') == ('9.0.0.0', '.', '24755229')
    assert label_and_build('ESXi-6.7.0-20240304001-standard') == ('6.7.0', '-', '20240304001')
    assert label_and_build('my-image') is None
    old = ('7.0U3n', '-', '21930508')
    assert renamed('ACME-ESXi-7.0U3n-21930508-custom', old=old, old_build='21930508', new=('7.0U3s', '24585291')) == 'ACME-ESXi-7.0U3s-24585291-custom'
    assert renamed('ESXI-7.0U3N-21930508-STANDARD', old=old, old_build='21930508', new=('7.0U3s', '24585291'), upper=True) == 'ESXI-7.0U3S-24585291-STANDARD'
    assert renamed('lab-21930508', old=None, old_build='21930508', new=('7.0U3s', '24585291')) == 'lab-24585291'
    assert renamed('lab', old=None, old_build='21930508', new=('7.0U3s', '24585291')) == 'lab'


@needs_qemu
@pytest.mark.parametrize('style', ['70', '80'])
def test_rebased_iso_boots_with_the_patch_loaders(images, style):
    d = images[style]
    name = fixiso.PATCHES[style]['profile'] + '-custom'
    bios = bootcheck.boot(d['rebased'], 'bios', markers=['%s Installer' % name], timeout=120)
    assert bios.ok, bios.log[-3000:]
    uefi = bootcheck.boot(d['rebased'], 'uefi', markers=[bootcheck.PATCH_UEFI_MARKER, bootcheck.PATCH_EFI_TREE_MARKER], timeout=120)
    assert uefi.ok, uefi.log[-3000:]
    shown = bootcheck.bootcfg_from_log(uefi.log)
    assert shown is not None and 'build=%s' % fixiso.PATCHES[style]['bootcfg_build'] in shown and 'ks=cdrom:/KS.CFG' in shown


def test_package_fit_judges_a_patch_by_the_rebased_image(images):
    d = images['70']
    fit = package_fit(d['patch'], d['base'])
    assert fit['fits'] is True and fit['problems'] == []
    assert 'VMware_bootbank_esx-base_7.0.3-0.105.21930508' in fit['replaces']
    assert package_fit(images['80']['patch'], d['base'])['fits'] is False
