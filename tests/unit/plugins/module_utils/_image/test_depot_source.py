# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A base depot as iso_customize's source: fixture ISO -> bundle_export -> depot -> installer ISO, read back with
iso_info's reader, xorriso and (when qemu is there) booted in SeaBIOS and OVMF."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import zipfile
from collections import Counter

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._formats.ar import read_members
from ansible_collections.esxi.customizer.plugins.module_utils._errors import ChecksumError, EsxiCustomizerError, FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import ImageProfile
from ansible_collections.esxi.customizer.plugins.module_utils._image.bundle_export import export_bundle
from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso
from ansible_collections.esxi.customizer.plugins.module_utils._image.depot_source import choose_profile, profile_facts
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import IsoReader
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import read_iso_facts
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import load_package
from ansible_collections.esxi.customizer.tests.fixturegen import bootcheck, packages
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures

pytestmark = pytest.mark.skipif(not shutil.which('xorriso'), reason='xorriso is needed')
needs_qemu = pytest.mark.skipif(
    not shutil.which(bootcheck.QEMU) or not os.path.exists(bootcheck.OVMF_CODE),
    reason='qemu-system-x86 / ovmf missing (scripts/install-system-deps.sh installs them)',
)
NVME70_COMPONENT = 'nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip'
TAILS = ('imgdb.tgz', 'basemisc.tgz', 'resvibs.tgz', 'esxiodpt.tgz', 'imgpayld.tgz')


@pytest.fixture(scope='module')
def depots(tmp_path_factory):
    """{style: (fixture ISO, its facts, depot made by bundle_export, ISO made from the depot)}."""
    base = tmp_path_factory.mktemp('depot')
    found = {}
    for style in ('6x', '70', '80'):
        src = str(base / ('esxi-%s.iso' % style))
        facts = fixiso.build_esxi_iso(src, style=style)
        depot = str(base / ('depot-%s.zip' % style))
        export_bundle(src, depot, vendor_name='VMware', vendor_code='VMW')
        out = str(base / ('from-depot-%s.iso' % style))
        result = customize_iso(depot, out)
        assert result['source'] == {'type': 'depot', 'profile': facts['profile']['name']}
        found[style] = (src, facts, depot, out)
    return found


def _modules(facts):
    return [module.lstrip('/') for module in facts['boot']['bios']['modules']]


@pytest.mark.parametrize('style', ['6x', '70', '80'])
def test_depot_iso_matches_the_fixture_iso(depots, style):
    src, _facts, _depot, out = depots[style]
    before, after = read_iso_facts(src), read_iso_facts(out)
    assert after['problems'] == []
    assert after['application_id'] == 'ESXIMAGE'
    assert after['volume_id'] == before['profile']['name'].upper() == before['volume_id']
    for key in ('name', 'creator', 'acceptance_level', 'description', 'profile_id', 'creation_time'):
        assert after['profile'][key] == before['profile'][key], key
    assert (after['esxi_version'], after['build']) == (before['esxi_version'], before['build'])
    # the DPU (esxio) VIBs of the 8.0 fixture never reach the depot: bundle_export leaves them out (their payloads
    # are inside esxiodpt.tgz, not ISO files)
    wanted = sorted(v['id'] for v in before['vibs'] if not v['esxio'])
    assert sorted(v['id'] for v in after['vibs']) == wanted
    assert {v['id']: v['payloads'] for v in after['vibs']} == {v['id']: v['payloads'] for v in before['vibs'] if not v['esxio']}
    for key in ('bios', 'uefi'):
        assert after['boot'][key]['kernel'] == before['boot'][key]['kernel']
        # 6.7 media say cdromBoot runweasel (esxi-formats 2.4); the 6.x fixture keeps the older runweasel
        expected = 'cdromBoot runweasel' if style == '6x' else before['boot'][key]['kernelopt']
        assert after['boot'][key]['kernelopt'] == expected
    old, new = _modules(before), _modules(after)
    # the same modules; the order is ESXi's boot order (esxi-semantics 5.2), which the fixture tables follow for the
    # boot modules and esx-base's tardisks (up to s.v00) and the generated archives, not among the other VIBs
    assert Counter(new) == Counter(old)
    early = old.index('s.v00') + 1
    assert new[:early] == old[:early]
    assert [m for m in new if m in TAILS] == [m for m in old if m in TAILS]
    assert after['boot']['bios']['modules'] == after['boot']['uefi']['modules']
    assert [(e['platform'], e['path'], e['boot_info_table']) for e in after['el_torito']] == [
        ('bios', '/ISOLINUX.BIN', True),
        ('uefi', '/EFIBOOT.IMG', False),
    ]


def test_xorriso_sees_two_el_torito_entries(depots):
    out = depots['70'][3]
    report = subprocess.run(['xorriso', '-indev', out, '-report_el_torito', 'plain'], capture_output=True, text=True, check=True).stdout
    images = [line for line in report.splitlines() if line.startswith('El Torito boot img :')]
    assert len(images) == 2 and ' BIOS ' in images[0] and ' UEFI ' in images[1], report
    assert 'El Torito img path :   1  /ISOLINUX.BIN' in report and 'El Torito img path :   2  /EFIBOOT.IMG' in report


def test_generated_archives_hold_what_the_references_say(depots):
    import tarfile  # the real reader of what the installer unpacks

    src, _facts, _depot, out = depots['70']
    if not shutil.which('isoinfo'):
        pytest.skip('isoinfo is needed')
    listing = set(subprocess.run(['isoinfo', '-f', '-i', out], capture_output=True, text=True, check=True).stdout.split())
    for name in ('/BOOT.CFG', '/EFI/BOOT/BOOT.CFG', '/ISOLINUX.CFG', '/IMGDB.TGZ', '/IMGPAYLD.TGZ', '/BASEMISC.TGZ', '/RESVIBS.TGZ', '/BOOT.CAT'):
        assert name + ';1' in listing, name
    assert {'/EFI/BOOT/BOOTX64.EFI;1', '/UPGRADE/PRECHECK.PY;1', '/MBOOT.C32;1', '/ISOLINUX.BIN;1', '/EFIBOOT.IMG;1', '/README;1'} <= listing
    work = os.path.dirname(out)
    for name in ('IMGPAYLD.TGZ', 'BASEMISC.TGZ'):
        subprocess.run(['xorriso', '-osirrox', 'on', '-indev', out, '-extract', '/' + name, os.path.join(work, name)], capture_output=True, check=True)
    with tarfile.open(os.path.join(work, 'IMGPAYLD.TGZ')) as tar:
        boot = sorted(n for n in tar.getnames() if not tar.getmember(n).isdir())
    facts = read_iso_facts(src)
    loaded = [facts['boot']['bios']['kernel'].lstrip('/')] + _modules(facts)
    assert boot == sorted('var/db/payloads/boot/' + m for m in loaded if m.endswith(('.b00', '.gz')))
    with tarfile.open(os.path.join(work, 'BASEMISC.TGZ')) as tar:
        misc = set(tar.getnames())
    assert {'var/db/payloads/boot/useropts', 'var/db/payloads/boot_loader_efi/BOOTx64.EFI'} <= misc


def test_reproducible_check_mode_and_up_to_date(depots, tmp_path):
    depot, first = depots['70'][2], depots['70'][3]
    dest = str(tmp_path / 'again.iso')
    planned = customize_iso(depot, dest, check_mode=True)
    assert planned['changed'] and planned['size'] is None and os.listdir(str(tmp_path)) == []
    written = customize_iso(depot, dest)
    with open(first, 'rb') as a, open(dest, 'rb') as b:
        assert a.read() == b.read()  # same depot, same request: the same bytes
    assert customize_iso(depot, dest)['changed'] is False
    assert written['manifest_digest'] == planned['manifest_digest']


def test_depot_with_a_driver_and_options(depots, tmp_path):
    depot = depots['70'][2]
    driver = tmp_path / 'net-comm.vib'
    driver.write_bytes(packages.build_vib('net-comm', '1.2.3-1', vmkapi='2_6_0_0'))
    dest = str(tmp_path / 'custom.iso')
    result = customize_iso(
        depot, dest, add=[str(driver)], remove=['vmkusb'], kernelopt_add=['allowLegacyCPU=true'], profile_name='ACME-7.0U3n-custom', profile_vendor='ACME'
    )
    assert result['problems'] == [] and [v['name'] for v in result['added']] == ['net-comm']
    assert [v['name'] for v in result['removed']] == ['vmkusb']
    facts = read_iso_facts(dest)
    assert facts['problems'] == []  # the validator and the ISO's own consistency checks pass
    assert facts['profile']['name'] == 'ACME-7.0U3n-custom' and facts['profile']['acceptance_level'] == 'community'
    assert '/net_comm.v00' in facts['boot']['bios']['modules'] and '/vmkusb.v00' not in facts['boot']['uefi']['modules']
    assert 'allowLegacyCPU=true' in facts['boot']['bios']['kernelopt']
    assert any(v['name'] == 'net-comm' and v['payloads'][0]['file'] == '/NET_COMM.V00' for v in facts['vibs'])
    # and back: the customized depot ISO exports to a bundle whose VIBs are rebuilt byte for byte
    bundle = str(tmp_path / 'custom.zip')
    assert 'VMW_bootbank_vmkusb' not in ' '.join(export_bundle(dest, bundle, vendor_name='ACME', vendor_code='ACM')['vibs'])


def test_package_info_profiles(depots):
    with load_package(depots['70'][2]) as package:
        (profile,) = [profile_facts(p) for p in package.profiles]
    assert profile['name'] == 'ESXi-7.0U3n-21930508-standard' and profile['vendor'] == 'VMware, Inc.'
    assert profile['acceptance_level'] == 'partner' and profile['esxi_version'] == '7.0.3'
    assert profile['vib_count'] == len(profile['vib_ids']) == len(read_iso_facts(depots['70'][0])['vibs'])


def test_real_bundles_have_no_profiles():
    fixtures = shared_fixtures()
    if fixtures is None:
        pytest.skip('shared fixtures not found')
    zips = sorted((fixtures / 'itiligent-esxi-custom-iso').glob('*.zip'))
    assert zips
    for path in zips:
        with load_package(str(path)) as package:
            assert package.profiles == [], path


def test_a_driver_bundle_is_no_source(tmp_path):
    fixtures = shared_fixtures()
    if fixtures is None:
        pytest.skip('shared fixtures not found')
    bundle = fixtures / 'itiligent-esxi-custom-iso' / 'net-igb-5.3.2-99-offline_bundle.zip'
    with pytest.raises(FormatError, match='has no image profile'):
        customize_iso(str(bundle), str(tmp_path / 'x.iso'))
    assert os.listdir(str(tmp_path)) == []


def _profile(name, vib_ids=()):
    viblist = ''.join('<vib><vib-id>%s</vib-id></vib>' % vib_id for vib_id in vib_ids)
    return ImageProfile(('<imageprofile><name>%s</name><creator>VMware, Inc.</creator><viblist>%s</viblist></imageprofile>' % (name, viblist)).encode())


def test_choose_profile():
    standard, no_tools = _profile('ESXi-8.0U3-24022510-standard'), _profile('ESXi-8.0U3-24022510-no-tools')
    assert choose_profile([no_tools, standard], None, label='d.zip') is standard
    assert choose_profile([no_tools, standard], 'ESXi-8.0U3-24022510-no-tools', label='d.zip') is no_tools
    assert choose_profile([standard], None, label='d.zip') is standard
    security = _profile('ESXi-8.0U3s-24022510-standard')
    with pytest.raises(EsxiCustomizerError, match='3 image profiles .*choose one with profile'):
        choose_profile([standard, no_tools, security], None, label='d.zip')
    with pytest.raises(EsxiCustomizerError, match='no image profile ESXi-9'):
        choose_profile([standard], 'ESXi-9', label='d.zip')
    with pytest.raises(FormatError, match='not a base depot'):
        choose_profile([], None, label='d.zip')


def test_profile_option_is_for_depots_only(depots, tmp_path):
    with pytest.raises(EsxiCustomizerError, match='profile chooses the image profile of a depot'):
        customize_iso(depots['70'][0], str(tmp_path / 'x.iso'), profile='ESXi-7.0U3n-21930508-standard')
    with pytest.raises(EsxiCustomizerError, match='has no image profile nope'):
        customize_iso(depots['70'][2], str(tmp_path / 'x.iso'), profile='nope')


@needs_qemu
def test_depot_iso_boots_bios_to_the_stock_menu(depots):
    result = bootcheck.boot(depots['70'][3], 'bios', markers=['ESXi-7.0.3 Boot Menu', 'ESXi-7.0U3n-21930508-standard Installer'], timeout=120)
    assert result.ok, result.log[-3000:]


@needs_qemu
def test_depot_iso_boots_uefi_to_the_iso_tree_loader(depots):
    result = bootcheck.boot(depots['70'][3], 'uefi', timeout=120)
    assert result.ok, result.log[-3000:]
    facts = read_iso_facts(depots['70'][3])
    shown = bootcheck.bootcfg_from_log(result.log)
    assert shown is not None and 'kernel=/b.b00' in shown and ' --- '.join(facts['boot']['uefi']['modules']) in shown


# -- the depot's payloads are checked while they are copied ----------------------------------------------------


def _rewrite_depot(depot, dest, *, compress=zipfile.ZIP_STORED, tamper=None):
    """``depot`` rewritten to ``dest`` through zipfile (fresh CRCs): the .vib members stored with ``compress``, and
    with ``tamper=(VIB name, payload name)`` one byte flipped in the middle of that payload inside its .vib."""
    with load_package(depot) as package:
        members = {vib.name: vib.label.split('!', 1)[1] for vib in package.vibs}
    target = members[tamper[0]] if tamper else None
    with zipfile.ZipFile(depot) as old, zipfile.ZipFile(dest, 'w') as new:
        for info in old.infolist():
            data = bytearray(old.read(info))
            if info.filename == target:
                (member,) = [m for m in read_members(io.BytesIO(data), target, len(data)) if m.name == tamper[1]]
                data[member.offset + member.size // 2] ^= 0xFF
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.compress_type = compress if info.filename.endswith('.vib') else info.compress_type
            new.writestr(copy, bytes(data))
        new.comment = old.comment
    return dest


@pytest.mark.parametrize('compress', [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=['stored', 'deflated'])
@pytest.mark.parametrize(
    ('vib', 'payload'),
    [('vmkusb', 'vmkusb'), ('esx-base', 'b'), ('esx-base', 'isolinux.bin')],
    ids=['tardisk', 'boot-payload-in-imgpayld', 'isolinux-with-boot-info-table'],
)
def test_a_tampered_payload_is_refused_and_nothing_is_written(depots, tmp_path, compress, vib, payload):
    depot = _rewrite_depot(depots['70'][2], str(tmp_path / 'tampered.zip'), compress=compress, tamper=(vib, payload))
    with zipfile.ZipFile(depot) as archive:
        assert archive.testzip() is None  # the zip itself is sound: only the descriptor's checksums can tell
    out = tmp_path / 'out'
    out.mkdir()
    with pytest.raises(ChecksumError) as raised:
        customize_iso(depot, str(out / 'new.iso'))
    message = str(raised.value)
    assert depot in message and 'VIB ' in message and '_bootbank_%s_' % vib in message and re.search(r'payload %s\b' % re.escape(payload), message), message
    assert os.listdir(str(out)) == []  # no ISO, no temporary file
    # an earlier ISO at dest stays byte for byte what it was
    dest = out / 'earlier.iso'
    shutil.copyfile(depots['70'][3], str(dest))
    before = dest.read_bytes()
    with pytest.raises(ChecksumError):
        customize_iso(depot, str(dest), force=True)
    assert dest.read_bytes() == before and os.listdir(str(out)) == ['earlier.iso']


def test_a_depot_with_deflated_vibs_makes_the_same_iso(depots, tmp_path):
    stored_iso = depots['70'][3]
    depot = _rewrite_depot(depots['70'][2], str(tmp_path / 'deflated.zip'), compress=zipfile.ZIP_DEFLATED)
    with load_package(depot) as package:
        assert all(vib.payload_extent(name) is None for vib in package.vibs for name in vib.payload_names())  # the streaming path
    dest = str(tmp_path / 'from-deflated.iso')
    result = customize_iso(depot, dest)
    assert result['changed'] and result['problems'] == []
    before, after = read_iso_facts(stored_iso), read_iso_facts(dest)
    assert after['problems'] == [] and after['vibs'] == before['vibs'] and after['boot'] == before['boot']
    # file for file the same bytes; only the manifest differs, as it records the source zip's identity
    with IsoReader(stored_iso) as a, IsoReader(dest) as b:
        files = {e.path: e for e in a.files()}
        assert sorted(files) == sorted(e.path for e in b.files())
        differ = [path for path in files if path != '/BOOT.CAT' and a.read(path, 1 << 30) != b.read(path, 1 << 30)]
    assert differ == ['/ESXICUST.JSN']


@needs_qemu
@pytest.mark.parametrize(('style', 'driver', 'module'), [('6x', 'net-r8125-9.011.00-10.vib', '/net_8125.t00'), ('70', NVME70_COMPONENT, '/nvmecomm.v00')])
def test_depot_with_a_real_driver_and_a_kickstart_is_consistent_and_boots(depots, tmp_path, style, driver, module):
    fixtures = shared_fixtures()
    if fixtures is None:
        pytest.skip('shared fixtures not found')
    dest = str(tmp_path / 'real.iso')
    result = customize_iso(depots[style][2], dest, add=[str(fixtures / 'itiligent-esxi-custom-iso' / driver)], kickstart_content='vmaccepteula\n')
    assert result['problems'] == [] and len(result['added']) == 1
    facts = read_iso_facts(dest)
    assert facts['problems'] == [] and facts['kickstart'] == 'cdrom:/KS.CFG'
    uefi = bootcheck.boot(dest, 'uefi', timeout=120)
    assert uefi.ok, uefi.log[-3000:]
    shown = bootcheck.bootcfg_from_log(uefi.log)
    assert shown is not None and module in shown and 'ks=cdrom:/KS.CFG' in shown
    # ISOLINUX.CFG is the depot profile's stock menu (a customization renames the profile in the database only)
    bios = bootcheck.boot(dest, 'bios', markers=['%s Installer' % depots[style][1]['profile']['name']], timeout=120)
    assert bios.ok, bios.log[-3000:]
