# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The edit plan: names, boot.cfg, image database, relationships, acceptance, compatibility, digest."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import tarfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import (
    ChecksumError,
    CompatibilityError,
    ConflictError,
    EsxiCustomizerError,
)
from ansible_collections.esxi.customizer.plugins.module_utils._image import plan as plan_mod
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import load_package
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import ImageDatabase
from ansible_collections.esxi.customizer.plugins.module_utils._image.plan import KICKSTART_OPTION, Request, build_plan, release_tuple
from ansible_collections.esxi.customizer.plugins.module_utils._image.manifest import MANIFEST_PATH
from ansible_collections.esxi.customizer.plugins.module_utils._image.views import diff_views, image_views
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso
from ansible_collections.esxi.customizer.tests.fixturegen import packages

pytestmark = pytest.mark.skipif(not shutil.which('xorriso'), reason='the fixture ISOs are written by xorriso')

_ISOS = {}


def fixture_iso(tmp_path_factory, style='70', **kw):
    key = (style, tuple(sorted(kw.items())))
    if key not in _ISOS:
        path = tmp_path_factory.mktemp('iso') / ('esxi-%s.iso' % style)
        fixiso.build_esxi_iso(str(path), style=style, **kw)
        _ISOS[key] = str(path)
    return _ISOS[key]


def vib_file(tmp_path, name, version='1.0.0-1', **kw):
    path = tmp_path / ('%s-%s.vib' % (name, version))
    path.write_bytes(packages.build_vib(name, version, **kw))
    return str(path)


def plan_for(src, paths=(), **options):
    with contextlib.ExitStack() as stack:
        image = stack.enter_context(EsxiImage.open(src))
        pkgs = [stack.enter_context(load_package(p)) for p in paths]
        return build_plan(image, pkgs, Request(add=paths, **options), src_path=src)


def bios_cfg(plan):
    return plan.edits.replace['/BOOT.CFG;1'].data.decode()


def test_release_tuple():
    assert release_tuple('7.0U3') == release_tuple('7.0.3') == (7, 0, 3)
    assert release_tuple('6.7') == (6, 7, 0)
    assert release_tuple(None) is None


def test_new_vib_gets_installer_local_name_file_boot_entries_and_db_entry(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    # payload 'lsi-msgp' is taken twice on the 7.0 fixture (lsi_msgp.v00, .v01): the next free one is v02
    plan = plan_for(src, [vib_file(tmp_path, 'lsi-msgpt99', payload_name='lsi-msgp', vmkapi='2_6_0_0')])
    assert [a['file'] for a in plan.added] == ['/LSI_MSGP.V02']
    assert '/LSI_MSGP.V02' in plan.edits.add
    for path in ('/BOOT.CFG;1', '/EFI/BOOT/BOOT.CFG;1'):
        cfg = plan.edits.replace[path].data.decode()
        assert '/gc.v00 --- /lsi_msgp.v02 --- /imgdb.tgz' in cfg
    assert plan.acceptance_level == {'before': 'partner', 'after': 'community'}
    assert any('Secure Boot' in w for w in plan.warnings)
    assert '/IMGDB.TGZ;1' in plan.edits.replace
    assert MANIFEST_PATH in plan.edits.add


def test_same_name_vib_replaces_the_stock_one(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    plan = plan_for(src, [vib_file(tmp_path, 'ne1000', '1.0.0.99-1', vmkapi='2_6_0_0')])
    assert [r['name'] for r in plan.replaced] == ['ne1000'] and plan.replaced[0]['reason'] == 'same name'
    assert 'downgrade' not in plan.replaced[0]
    assert plan.edits.remove == ['/NE1000.V00;1']
    assert [a['file'] for a in plan.added] == ['/NE1000.V00']  # the freed local name is reused
    cfg = bios_cfg(plan)
    assert cfg.count('/ne1000.v00') == 1 and '/gc.v00 --- /ne1000.v00 --- /imgdb.tgz' in cfg


def test_an_older_version_replaces_only_with_allow_downgrade(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    older = vib_file(tmp_path, 'ne1000', '0.9.0-1', vmkapi='2_6_0_0')
    with pytest.raises(ConflictError, match=r'ne1000 0.9.0-1 would replace the newer ne1000 1.0.0.\d+-1vmw.703.* \(a downgrade\); set allow_downgrade'):
        plan_for(src, [older])
    plan = plan_for(src, [older], allow_downgrade=True)
    assert plan.replaced[0]['downgrade'] is True and plan.added[0]['version'] == '0.9.0-1'
    assert any('downgraded from 1.0.0.' in w for w in plan.warnings)


def test_replaces_and_conflicts_are_honoured(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    plan = plan_for(src, [vib_file(tmp_path, 'usb-new', replaces=('vmkusb',), vmkapi='2_6_0_0')])
    assert [r['name'] for r in plan.replaced] == ['vmkusb'] and plan.replaced[0]['reason'] == 'replaced by usb-new'
    assert '/vmkusb.v00' not in bios_cfg(plan)
    with pytest.raises(ConflictError, match='net-other_1.0.0-1 and VMW_bootbank_bnxtnet_.* conflict with each other .*declares conflicts bnxtnet'):
        plan_for(src, [vib_file(tmp_path, 'net-other', conflicts=('bnxtnet',), vmkapi='2_6_0_0')])


def test_remove_and_dependency_refusal(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    plan = plan_for(src, remove=['crx', 'no-such-vib'])
    assert [r['name'] for r in plan.removed] == ['crx'] and plan.edits.remove == ['/CRX.V00;1']
    assert '/crx.v00' not in bios_cfg(plan)
    assert any('no VIB or component named no-such-vib' in w for w in plan.warnings)
    dependent = packages.build_vib('nic-tool', '1.0-1', depends=('ne1000', 'vmkapi_2_6_0_0'))
    src2 = fixture_iso(tmp_path_factory, extra_vibs=(dependent,))
    with pytest.raises(ConflictError, match=r'removing ne1000 would leave 1 VIB\(s\) without ne1000, which it provides: nic-tool'):
        plan_for(src2, remove=['ne1000'])


def test_acceptance_level_rules(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    community = vib_file(tmp_path, 'net-comm', vmkapi='2_6_0_0')
    accepted = vib_file(tmp_path, 'net-acc', acceptance_level='accepted', vmkapi='2_6_0_0')
    assert plan_for(src, [accepted]).acceptance_level['after'] == 'partner'  # never raised by default
    assert plan_for(src, [accepted], acceptance_level='community').acceptance_level['after'] == 'community'  # lower kept
    with pytest.raises(ConflictError, match='more trusted than'):
        plan_for(src, [community], acceptance_level='partner')
    assert plan_for(src, [community]).acceptance_level['after'] == 'community'


def test_compatibility_refusals_and_override(tmp_path, tmp_path_factory):
    src70 = fixture_iso(tmp_path_factory)
    vmklinux = vib_file(tmp_path, 'net-old', style='linux', vmklinux=True, vmkapi='2_2_0_0')
    with pytest.raises(CompatibilityError, match='vmklinux'):
        plan_for(src70, [vmklinux])
    # ESXi 7.0 provides neither vmklinux's driver API nor vmkapi 2.2: only both overrides let it through, with warnings
    with pytest.raises(ConflictError, match='vmkapi_2_2_0_0, but no VIB in the image or the request provides it'):
        plan_for(src70, [vmklinux], skip_compatibility_check=True)
    forced = plan_for(src70, [vmklinux], skip_compatibility_check=True, skip_dependency_check=True)
    assert forced.added and any('skip_dependency_check is set; the installer will refuse this image' in w for w in forced.warnings)
    with pytest.raises(CompatibilityError, match='ESXi 8.0U3, newer than this ISO'):
        plan_for(src70, [vib_file(tmp_path, 'net-new', vmkapi='2_13_0_0')])
    with pytest.raises(CompatibilityError, match='4.x'):
        plan_for(src70, [vib_file(tmp_path, 'net-esx4', license=None)])
    src80 = fixture_iso(tmp_path_factory, style='80')
    bare = tmp_path / 'nogunzip.vib'
    bare.write_bytes(packages.build_vib('net-bare', '1.0-1', vmkapi='2_6_0_0', checksum_order='legacy'))
    assert b'checksum-type="sha-256" verify-process="gunzip"' not in bare.read_bytes()
    with pytest.raises(CompatibilityError, match='sha-256 gunzip'):
        plan_for(src80, [str(bare)])


def test_payload_checksum_mismatch_is_refused(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    members = packages.ar_members(packages.build_vib('net-bad', '1.0-1', vmkapi='2_6_0_0'))
    descriptor = members[0][1].decode()
    start = descriptor.index('<checksum checksum-type="sha-256">') + len('<checksum checksum-type="sha-256">')
    wrong = descriptor[:start] + ('0' if descriptor[start] != '0' else '1') + descriptor[start + 1 :]
    path = tmp_path / 'net-bad.vib'
    path.write_bytes(packages.ar_archive([(members[0][0], wrong.encode())] + members[1:]))
    with pytest.raises(ChecksumError):
        plan_for(src, [str(path)])


def test_boot_options_and_kickstart(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    ks = tmp_path / 'ks.cfg'
    ks.write_text('vmaccepteula\n')
    plan = plan_for(src, kickstart=str(ks), kernelopt_add=['-cdromBoot', 'allowLegacyCPU=true'], boot_title='Lab', boot_timeout=2)
    for key in ('bios', 'uefi'):
        assert plan.boot[key]['kernelopt'] == 'runweasel allowLegacyCPU=true ' + KICKSTART_OPTION
        assert plan.boot[key]['title'] == 'Lab' and plan.boot[key]['timeout'] == 2
    assert plan.edits.add['/KS.CFG'].data == b'vmaccepteula\n'
    assert '/IMGDB.TGZ;1' not in plan.edits.replace  # the database is untouched
    replaced = plan_for(src, kernelopt='runweasel ks=http://10.0.0.1/ks.cfg')
    assert replaced.boot['uefi']['kernelopt'] == 'runweasel ks=http://10.0.0.1/ks.cfg'


def test_digest_is_stable_and_tracks_inputs_and_options(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    vib = vib_file(tmp_path, 'net-comm', vmkapi='2_6_0_0')
    first = plan_for(src, [vib])
    assert plan_for(src, [vib]).digest == first.digest
    assert plan_for(src, [vib], boot_timeout=3).digest != first.digest
    with open(vib, 'ab') as f:
        f.write(b'\n')  # different bytes, same name
    assert plan_for(src, [vib]).digest != first.digest


def test_diff_shows_both_bootcfg_the_profile_and_the_vib_list(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    plan = plan_for(src, [vib_file(tmp_path, 'net-comm', vmkapi='2_6_0_0')])
    with EsxiImage.open(src) as image:
        diff = diff_views(image_views(image), plan.views)
    headers = [d['before_header'] for d in diff]
    assert headers == ['/BOOT.CFG', '/EFI/BOOT/BOOT.CFG', 'image profile', 'image profile VIBs']
    assert 'ESXCUST_bootbank_net-comm_1.0.0-1' in diff[3]['after'] and 'net-comm' not in diff[3]['before']
    assert '/net_comm.v00' in diff[1]['after'] and '/net_comm.v00' not in diff[1]['before']
    assert 'name: ESXi-7.0U3n-21930508-standard-custom' in diff[2]['after'] and 'creator: VMware, Inc.' in diff[2]['before']


def test_a_kickstart_only_change_shows_the_kickstart_digest_and_nothing_else(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    first, second = tmp_path / 'a.cfg', tmp_path / 'b.cfg'
    first.write_text('rootpw --iscrypted $6$x\n')
    second.write_text('rootpw --iscrypted $6$y\n')
    before = plan_for(src, kickstart=str(first))
    after = plan_for(src, kickstart=str(second))
    diff = diff_views(before.views, after.views)
    assert [d['before_header'] for d in diff] == ['/KS.CFG']
    assert diff[0]['after'] == 'sha256: %s\n' % hashlib.sha256(second.read_bytes()).hexdigest()
    assert 'rootpw' not in repr(diff)


def remaster(src, dest, mutate=None, efi=True, args=('-relaxed-filenames', '-l', '-allow-leading-dots', '--norock')):
    """The fixture ISO's tree, changed by ``mutate(tree)``, mastered again by xorriso like VMware's (or BIOS-only)."""
    tree = str(dest) + '.tree'
    subprocess.run(['xorriso', '-osirrox', 'on', '-indev', src, '-extract', '/', tree], check=True, capture_output=True)
    subprocess.run(['chmod', '-R', 'u+w', tree], check=True)
    if mutate:
        mutate(tree)
    argv = ['xorriso', '-as', 'mkisofs', '-quiet', '-o', str(dest), '-V', 'ESXI-7.0.3-TEST', '-A', 'ESXIMAGE'] + list(args)
    argv += ['-c', 'BOOT.CAT', '-b', 'ISOLINUX.BIN', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table']
    argv += ['-eltorito-alt-boot', '-e', 'EFIBOOT.IMG', '-no-emul-boot'] if efi else []
    subprocess.run(argv + [tree], check=True, capture_output=True)
    return str(dest)


def bios_only(tree):
    shutil.rmtree(os.path.join(tree, 'EFI'))
    os.remove(os.path.join(tree, 'EFIBOOT.IMG'))


def test_bios_only_iso_gets_the_driver_in_its_one_boot_cfg_and_says_so(tmp_path, tmp_path_factory):
    src = remaster(fixture_iso(tmp_path_factory), tmp_path / 'bios.iso', bios_only, efi=False)
    plan = plan_for(src, [vib_file(tmp_path, 'net-comm', vmkapi='2_6_0_0')])
    assert '/gc.v00 --- /net_comm.v00 --- /imgdb.tgz' in bios_cfg(plan)
    assert set(plan.boot) == {'bios'} and not [p for p in plan.edits.replace if 'EFI' in p]
    assert any('no /EFI/BOOT/BOOT.CFG' in w and 'BIOS mode only' in w for w in plan.warnings)
    with_efi = plan_for(fixture_iso(tmp_path_factory), [vib_file(tmp_path, 'net-comm', vmkapi='2_6_0_0')])
    assert not any('BIOS mode only' in w for w in with_efi.warnings)


def test_local_names_avoid_files_already_on_the_iso_and_replacement_edits_both_boot_cfg(tmp_path, tmp_path_factory):
    # an OEM file that the profile does not know holds NET_COMM.V00; a ghost boot.cfg entry holds net_comm.v01
    def crowd(tree):
        with open(os.path.join(tree, 'NET_COMM.V00'), 'wb') as f:
            f.write(b'oem file')
        for cfg in ('BOOT.CFG', 'EFI/BOOT/BOOT.CFG'):
            path = os.path.join(tree, cfg)
            with open(path, 'rb') as f:
                data = f.read()
            with open(path, 'wb') as f:
                f.write(data.replace(b' --- /imgdb.tgz', b' --- /net_comm.v01 --- /imgdb.tgz'))

    src = remaster(fixture_iso(tmp_path_factory), tmp_path / 'crowded.iso', crowd)
    plan = plan_for(src, [vib_file(tmp_path, 'net-comm', vmkapi='2_6_0_0'), vib_file(tmp_path, 'ne1000', '1.0.0.99-1', vmkapi='2_6_0_0')])
    assert sorted(a['file'] for a in plan.added) == ['/NE1000.V00', '/NET_COMM.V02']
    for path in ('/BOOT.CFG;1', '/EFI/BOOT/BOOT.CFG;1'):
        cfg = plan.edits.replace[path].data.decode()
        assert cfg.count('/ne1000.v00') == 1 and '/net_comm.v02' in cfg and '/net_comm.v01' in cfg


def test_volume_id_is_upper_cased_or_refused_before_anything_is_written(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    plan = plan_for(src, volume_id='ESXi-8.0U3-lab')
    assert plan.edits.volume_id == 'ESXI-8.0U3-LAB'
    assert any("'ESXi-8.0U3-lab' written as 'ESXI-8.0U3-LAB'" in w for w in plan.warnings)
    assert plan.manifest['options']['volume_id'] == 'ESXI-8.0U3-LAB'
    assert plan_for(src, volume_id='ESXI-8.0U3-LAB').digest == plan.digest
    with pytest.raises(EsxiCustomizerError, match='1-32 characters.*it is 33'):
        plan_for(src, volume_id='X' * 33)
    with pytest.raises(EsxiCustomizerError, match='1-32 characters'):
        plan_for(src, volume_id='ESXI/8')


def test_output_over_2_gib_is_warned_about(tmp_path, tmp_path_factory, monkeypatch):
    src = fixture_iso(tmp_path_factory)
    vib = vib_file(tmp_path, 'net-comm', vmkapi='2_6_0_0')
    plan = plan_for(src, [vib])
    assert not any('2 GiB' in w for w in plan.warnings)
    source_size = os.path.getsize(src)
    assert source_size < plan.size_estimate < source_size + 1024 * 1024
    monkeypatch.setattr(plan_mod, 'UEFI_MAX_VOLUME', plan.size_estimate - 1)
    warned = plan_for(src, [vib])
    assert any('more than 2 GiB' in w and 'UEFI' in w for w in warned.warnings)


def test_partner_supported_spelling_is_not_rewritten(tmp_path, tmp_path_factory):
    def respell(tree):
        path = os.path.join(tree, 'IMGDB.TGZ')
        with tarfile.open(path) as tar:
            members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
        with tarfile.open(path, 'w:gz') as tar:
            for info, data in members:
                if data is not None and info.name.startswith('var/db/esximg/profiles/'):
                    data = data.replace(b'<acceptancelevel>partner<', b'<acceptancelevel>PartnerSupported<')
                    info.size = len(data)
                tar.addfile(info, io.BytesIO(data) if data is not None else None)

    src = remaster(fixture_iso(tmp_path_factory), tmp_path / 'spelling.iso', respell)
    ks = tmp_path / 'ks.cfg'
    ks.write_text('vmaccepteula\n')
    plan = plan_for(src, kickstart=str(ks))
    assert plan.acceptance_level == {'before': 'partner', 'after': 'partner'}
    assert '/IMGDB.TGZ;1' not in plan.edits.replace


def test_the_plan_edits_a_copy_of_the_image_database(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    with EsxiImage.open(src) as image:
        before_vibs = list(image.imgdb.profile.vibs)
        before_level = image.imgdb.profile.acceptance_level
        before_tgz = image.imgdb.to_tgz()
        vib = vib_file(tmp_path, 'net-copycheck', vmkapi='2_6_0_0')
        with load_package(vib) as package:
            plan = build_plan(image, [package], Request(add=[vib], remove=['vmkusb']), src_path=src)
        assert [a['name'] for a in plan.added] == ['net-copycheck'] and plan.removed
        assert list(image.imgdb.profile.vibs) == before_vibs
        assert image.imgdb.profile.acceptance_level == before_level
        assert image.imgdb.to_tgz() == before_tgz


def _shared_or_skip():
    """The shared real fixtures, or a skip (never a TypeError) where they are not beside the checkout."""
    from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures

    root = shared_fixtures()
    if root is None:
        pytest.skip('shared fixtures not found (set ESXI_SHARED_FIXTURES)')
    return root


def _db70_members():
    """The real 7.0.0 image database samples (bulletins, reserved components, VIBs) plus a profile listing every VIB."""
    from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import VibRecord

    root = _shared_or_skip() / 'esxi70-imgdb-samples-eturra' / 'samples' / 'esximg'
    members, entries = {}, []
    for path in sorted(root.rglob('*.xml')):
        members['var/db/esximg/%s' % path.relative_to(root)] = path.read_bytes()
        if path.parent.name == 'vibs':
            record = VibRecord.from_xml(path.read_bytes(), path.name)
            payloads = ''.join('<payload payload-name="%s">%s.v%02d</payload>' % (p.name, p.name[:8].lower(), n) for n, p in enumerate(record.payloads))
            entries.append('<vib><vib-id>%s</vib-id><payloads>%s</payloads></vib>' % (record.vib_id, payloads))
    members['var/db/esximg/profiles/HPE-Custom-AddOn_700.0.0.10.5.0.108-Apr2020'] = (
        '<imageprofile><name>HPE-ESXi-7.0.0-Apr2020</name><creator>Hewlett Packard Enterprise</creator><profileID>ab</profileID>'
        '<creationtime>2020-04-02T12:00:00+00:00</creationtime><modifiedtime>2020-04-02T12:00:00+00:00</modifiedtime>'
        '<serialno>1</serialno><description>HPE custom image</description><readonly>true</readonly>'
        '<viblist>%s</viblist><acceptancelevel>partner</acceptancelevel></imageprofile>' % ''.join(entries)
    ).encode()
    return members


@pytest.fixture(scope='module')
def src70_real(tmp_path_factory):
    path = tmp_path_factory.mktemp('iso70real') / 'hpe70.iso'
    fixiso.build_esxi_iso(str(path), style='70', imgdb_files=_db70_members())
    return str(path)


def test_removing_one_vib_of_a_multi_vib_component_is_refused_naming_the_component(src70_real):
    with pytest.raises(ConflictError, match=r'VIB amscli belongs to component amsdComponent together with amsd: remove the whole component'):
        plan_for(src70_real, remove=['amscli'])
    with pytest.raises(ConflictError, match='component HPE-Utility-Component'):
        plan_for(src70_real, remove=['bootcfg'])


def test_removing_a_component_by_name_removes_its_vibs_and_keeps_every_bulletin_whole(src70_real):
    plan = plan_for(src70_real, remove=['amsdComponent'])
    assert sorted(r['name'] for r in plan.removed) == ['amscli', 'amsd']
    assert plan.components_removed == ['amsdComponent_700.3.5.0-26']
    db = ImageDatabase.from_tgz(io.BytesIO(plan.edits.replace['/IMGDB.TGZ;1'].data), path='out')
    assert 'amsdComponent_700.3.5.0-26' not in db.components
    profile = set(db.profile.vibs)
    broken = [c.id for c in db.components.values() if not c.reserved and not set(c.vib_ids) <= profile]
    with EsxiImage.open(src70_real) as image:
        before = [c.id for c in image.imgdb.components.values() if not c.reserved and not set(c.vib_ids) <= set(image.imgdb.profile.vibs)]
    assert broken == before  # nothing new; only what the sample itself lacks (tools-light lives in the locker DB)


def test_a_customized_profile_stops_claiming_to_be_the_vendor_image(src70_real, tmp_path):
    plan = plan_for(src70_real, remove=['amsdComponent'])
    with tarfile.open(fileobj=io.BytesIO(plan.edits.replace['/IMGDB.TGZ;1'].data)) as tar:
        profile = next(tar.extractfile(m).read() for m in tar.getmembers() if '/profiles/' in m.name)
    assert b'<name>HPE-ESXi-7.0.0-Apr2020-custom</name>' in profile and b'<creator>esxi.customizer</creator>' in profile
    assert b'<readonly>false</readonly>' in profile and b'<profileID>ab</profileID>' not in profile
    assert b'Customized by esxi.customizer from HPE-ESXi-7.0.0-Apr2020: removed amscli, amsd.' in profile
    named = plan_for(src70_real, remove=['amsdComponent'], profile_name='Lab-7.0', profile_vendor='ACME IT', profile_description='lab hosts')
    assert named.profile['name'] == 'Lab-7.0' and named.profile['creator'] == 'ACME IT' and named.profile['description'] == 'lab hosts'
    again = plan_for(src70_real, remove=['amsdComponent'])
    assert again.profile == plan.profile  # the ID is derived from the content: reproducible


def test_the_diff_lists_modules_one_per_line(tmp_path, tmp_path_factory):
    src = fixture_iso(tmp_path_factory)
    plan = plan_for(src, [vib_file(tmp_path, 'net-comm', vmkapi='2_6_0_0')])
    with EsxiImage.open(src) as image:
        diff = diff_views(image_views(image), plan.views)
    added = set(diff[0]['after'].splitlines()) - set(diff[0]['before'].splitlines())
    assert added == {'  /net_comm.v00'}
    assert max(len(line) for line in diff[0]['after'].splitlines()) < 200


@pytest.fixture(scope='module')
def src67_real(tmp_path_factory):
    """A 6.x-shaped ISO carrying the real 6.7 GA image database (136 VIBs)."""

    root = _shared_or_skip() / 'esxi67-imgdb-ljvblfz'
    members = {str(path.relative_to(root)): path.read_bytes() for path in (root / 'var' / 'db' / 'esximg').rglob('*') if path.is_file()}
    path = tmp_path_factory.mktemp('iso67real') / 'esxi67ga.iso'
    fixiso.build_esxi_iso(str(path), style='6x', imgdb_files=members)
    return str(path)


@pytest.mark.parametrize(
    'name, message',
    [
        ('shim-vmklinux-9-2-3-0', r'removing shim-vmklinux-9-2-3-0 would leave 64 VIB\(s\) without com.vmware.driverAPI-9.2.3.0, which it provides: '),
        ('misc-drivers', r'removing misc-drivers would leave 3 VIB\(s\) without com.vmware.driverAPI-9.2, which it provides: shim-vmklinux-9-2-'),
    ],
)
def test_removals_that_break_the_real_67_image_name_what_they_break(src67_real, name, message):
    with pytest.raises(ConflictError, match=message):
        plan_for(src67_real, remove=[name])


def test_the_real_67_image_takes_drivers_that_fit_and_refuses_the_51_one(src67_real):

    packages_dir = _shared_or_skip() / 'itiligent-esxi-custom-iso'
    plan = plan_for(
        src67_real,
        [str(packages_dir / 'nvme-community-driver_1.0.1.0-1vmw.670.0.0.8169922-offline_bundle-17658145.zip'), str(packages_dir / 'net-r8125-9.011.00-10.vib')],
    )
    assert sorted(a['name'] for a in plan.added) == ['net-r8125', 'nvme-community'] and plan.problems == []
    with pytest.raises(ConflictError, match='requires vmkapi_2_1_0_0, but no VIB in the image or the request provides it'):
        plan_for(src67_real, [str(packages_dir / 'net51-r8169-6.011.00-2vft.510.0.0.799733-offline_bundle.zip')])
