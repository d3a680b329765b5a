# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""customize_iso end to end on fixture ISOs, checked with independent readers (isoinfo, xorriso, tarfile)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso, package_fit
from ansible_collections.esxi.customizer.plugins.module_utils._errors import ConflictError, EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import read_iso_facts
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures as _shared_dir

pytestmark = pytest.mark.skipif(
    not (shutil.which('xorriso') and shutil.which('isoinfo') and shutil.which('bsdtar')), reason='xorriso, isoinfo and bsdtar are needed'
)


@pytest.fixture(scope='module')
def src70(tmp_path_factory):
    path = tmp_path_factory.mktemp('src') / 'esxi70.iso'
    fixiso.build_esxi_iso(str(path), style='70')
    return str(path)


@pytest.fixture(scope='module')
def src6x_jr(tmp_path_factory):
    path = tmp_path_factory.mktemp('src') / 'esxi6x-jr.iso'
    fixiso.build_esxi_iso(str(path), style='6x', joliet_rock_ridge=True)
    return str(path)


@pytest.fixture()
def inputs(tmp_path):
    vib = tmp_path / 'net-comm.vib'
    vib.write_bytes(packages.build_vib('net-comm', '1.2.3-1', vmkapi='2_5_0_0'))
    ks = tmp_path / 'ks.cfg'
    ks.write_text('vmaccepteula\ninstall --firstdisk\n')
    return str(vib), str(ks)


def bsdtar(path, member):
    return subprocess.run(['bsdtar', '-xOf', path, member], check=True, capture_output=True).stdout


def imgdb_members(path, member='IMGDB.TGZ'):
    with tarfile.open(fileobj=io.BytesIO(bsdtar(path, member)), mode='r:gz') as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


def test_inject_kickstart_and_read_back_independently(tmp_path, src70, inputs):
    vib, ks = inputs
    dest = str(tmp_path / 'out.iso')
    result = customize_iso(src70, dest, add=[vib], kickstart=ks)
    assert result['changed'] and result['added'][0]['file'] == '/NET_COMM.V00'
    listing = subprocess.run(['isoinfo', '-f', '-i', dest], check=True, capture_output=True, text=True).stdout.split()
    assert '/NET_COMM.V00;1' in listing and '/KS.CFG;1' in listing and '/ESXICUST.JSN;1' in listing
    payload = dict(packages.ar_members(open(vib, 'rb').read()))['net-comm']
    assert bsdtar(dest, 'NET_COMM.V00') == payload  # bytes unchanged
    assert bsdtar(dest, 'KS.CFG') == b'vmaccepteula\ninstall --firstdisk\n'
    for cfg in ('BOOT.CFG', 'EFI/BOOT/BOOT.CFG'):
        text = bsdtar(dest, cfg).decode()
        assert '/gc.v00 --- /net_comm.v00 --- /imgdb.tgz' in text and 'ks=cdrom:/KS.CFG' in text
    members = imgdb_members(dest)
    profile = [data for name, data in members.items() if name.startswith('var/db/esximg/profiles/') and data][0]
    root = ET.fromstring(profile)
    entries = {v.findtext('vib-id'): {p.get('payload-name'): p.text for p in v.findall('payloads/payload')} for v in root.findall('viblist/vib')}
    assert entries['ESXCUST_bootbank_net-comm_1.2.3-1'] == {'net-comm': 'net_comm.v00'}
    assert root.findtext('acceptancelevel') == 'community'
    assert any(name.startswith('var/db/esximg/vibs/net-comm') and name.endswith('.xml') for name in members)
    report = subprocess.run(['xorriso', '-indev', dest, '-report_el_torito', 'plain'], check=True, capture_output=True, text=True).stdout
    assert 'BIOS' in report and 'UEFI' in report and 'boot-info-table' in report
    facts = read_iso_facts(dest)
    assert facts['problems'] == [] and facts['kickstart'] == 'cdrom:/KS.CFG'
    manifest = json.loads(bsdtar(dest, 'ESXICUST.JSN'))
    assert manifest['digest'] == result['manifest_digest']


def test_second_run_is_unchanged_without_rewriting(tmp_path, src70, inputs):
    vib, ks = inputs
    dest = str(tmp_path / 'out.iso')
    first = customize_iso(src70, dest, add=[vib], kickstart=ks)
    before = os.stat(dest)
    second = customize_iso(src70, dest, add=[vib], kickstart=ks)
    after = os.stat(dest)
    assert not second['changed'] and second['diff'] == []
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert second['sha256'] == first['sha256'] and second['size'] == first['size']
    forced = customize_iso(src70, dest, add=[vib], kickstart=ks, force=True)
    assert forced['changed'] and os.stat(dest).st_ino != before.st_ino and forced['sha256'] == first['sha256']
    changed = customize_iso(src70, dest, add=[vib], kickstart=ks, boot_timeout=1)
    assert changed['changed'] and changed['sha256'] != first['sha256']


def test_check_mode_writes_nothing(tmp_path, src70, inputs):
    vib, _ks = inputs
    dest = tmp_path / 'out.iso'
    result = customize_iso(src70, str(dest), add=[vib], check_mode=True)
    assert result['changed'] and result['sha256'] is None and not dest.exists()
    assert [d['before_header'] for d in result['diff']] == ['/BOOT.CFG', '/EFI/BOOT/BOOT.CFG', 'image profile', 'image profile VIBs']
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.tmp')]


def test_reproducible(tmp_path, src70, inputs):
    vib, ks = inputs
    a, b = str(tmp_path / 'a.iso'), str(tmp_path / 'b.iso')
    customize_iso(src70, a, add=[vib], kickstart=ks)
    customize_iso(src70, b, add=[vib], kickstart=ks)
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        assert fa.read() == fb.read()


def test_joliet_rock_ridge_source_gets_lower_case_names(tmp_path, src6x_jr, inputs):
    vib, ks = inputs
    dest = str(tmp_path / 'out.iso')
    customize_iso(src6x_jr, dest, add=[vib], kickstart=ks)
    joliet = subprocess.run(['isoinfo', '-J', '-f', '-i', dest], check=True, capture_output=True, text=True).stdout.split()
    rock = subprocess.run(['isoinfo', '-R', '-f', '-i', dest], check=True, capture_output=True, text=True).stdout.split()
    assert '/net_comm.v00' in joliet and '/ks.cfg' in joliet
    assert '/net_comm.v00' in rock and '/ks.cfg' in rock
    assert read_iso_facts(dest)['problems'] == []


def test_failures_are_clear_and_leave_dest(tmp_path, src70, inputs):
    vib, _ks = inputs
    dest = tmp_path / 'out.iso'
    dest.write_bytes(b'earlier build')
    with pytest.raises(EsxiCustomizerError, match='missing.vib: does not exist'):
        customize_iso(src70, str(dest), add=[str(tmp_path / 'missing.vib')])
    not_iso = tmp_path / 'linux.iso'
    not_iso.write_bytes(b'\x00' * 4096)
    with pytest.raises(EsxiCustomizerError, match='linux.iso'):
        customize_iso(str(not_iso), str(dest), add=[vib])
    with pytest.raises(EsxiCustomizerError, match='vmklinux'):
        old = tmp_path / 'old.vib'
        old.write_bytes(packages.build_vib('net-old', '1-1', style='linux', vmklinux=True, vmkapi='2_2_0_0'))
        customize_iso(src70, str(dest), add=[str(old)])
    assert dest.read_bytes() == b'earlier build'
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.tmp')]


def test_legacy_driver_tgz_and_volume_id(tmp_path):
    src = tmp_path / 'esxi6x.iso'
    # vmklinux drivers need the driver API a shim VIB provides (6.7: shim-vmklinux-9-2-1-0 and its siblings)
    shim = packages.build_vib('shim-vmklinux-9-2-1-0', '6.7.0-0.0.8169922', vendor='VMW', provides=('com.vmware.driverAPI-9.2.1.0',), vmkapi='2_2_0_0')
    fixiso.build_esxi_iso(str(src), style='6x', extra_vibs=(shim,))
    tgz = tmp_path / 'r8169.tgz'
    tgz.write_bytes(packages.build_legacy_tgz(vmkapi='2_2_0_0'))  # a 5.5-generation module: ESXi 6.7 provides vmkapi 2.2
    dest = str(tmp_path / 'out.iso')
    result = customize_iso(str(src), dest, add=[str(tgz)], volume_id='ESXI-LEGACY')
    assert result['added'][0]['id'] == 'OEM_bootbank_r8169_1.0' and result['added'][0]['file'] == '/R8169.T00'
    assert bsdtar(dest, 'R8169.T00') == tgz.read_bytes()  # the tgz itself is the payload
    facts = read_iso_facts(dest)
    assert facts['problems'] == [] and facts['volume_id'] == 'ESXI-LEGACY'


def shared_fixtures():
    found = _shared_dir()
    if found is None or not (found / 'itiligent-esxi-custom-iso').is_dir():
        pytest.skip('shared fixtures not found (set ESXI_SHARED_FIXTURES)')
    return str(found / 'itiligent-esxi-custom-iso')


@pytest.mark.parametrize(
    'package, member',
    [
        ('nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip', 'NVMECOMM.V00'),
        ('ESXi650-VMKUSB-NIC-FLING-39176435-16775917.zip', 'VMKUSB_N.V00'),
    ],
)
def test_real_bundle_payload_lands_unchanged(tmp_path, src70, package, member):
    from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import load_package

    path = os.path.join(shared_fixtures(), package)
    dest = str(tmp_path / 'out.iso')
    # the 6.5 Fling depends on vmkapi_incompat_2_4_0_0 (6.5's own API): 7.0 refuses it unless forced
    forced = package.startswith('ESXi650')
    if forced:
        with pytest.raises(ConflictError, match='vmkapi_incompat_2_4_0_0, but no VIB in the image or the request provides it'):
            customize_iso(src70, dest, add=[path])
        assert not os.path.exists(dest)
    result = customize_iso(src70, dest, add=[path], skip_dependency_check=forced)
    with load_package(path) as pkg:
        vib = pkg.vibs[0]
        with vib.open_payload(vib.payload_names()[0]) as stream:
            payload = stream.read()
    assert result['added'][0]['file'] == '/' + member
    assert bsdtar(dest, member) == payload
    members = imgdb_members(dest)
    if pkg.components:
        assert 'var/db/esximg/bulletins/%s.xml' % pkg.components[0].id in members
    problems = read_iso_facts(dest)['problems']
    assert [p for p in problems if 'vmkapi_incompat_2_4_0_0' in p] if forced else problems == []


def test_replace_and_remove_end_to_end(tmp_path, src70):
    newer = tmp_path / 'ne1000.vib'
    newer.write_bytes(packages.build_vib('ne1000', '1.0.0.99-1', vmkapi='2_6_0_0'))
    dest = str(tmp_path / 'out.iso')
    result = customize_iso(src70, dest, add=[str(newer)], remove=['crx'])
    assert [r['name'] for r in result['replaced']] == ['ne1000'] and [r['name'] for r in result['removed']] == ['crx']
    listing = subprocess.run(['isoinfo', '-f', '-i', dest], check=True, capture_output=True, text=True).stdout.split()
    assert '/NE1000.V00;1' in listing and '/CRX.V00;1' not in listing
    assert bsdtar(dest, 'NE1000.V00') == dict(packages.ar_members(newer.read_bytes()))['ne1000']
    facts = read_iso_facts(dest)
    assert facts['problems'] == []
    ids = [v['id'] for v in facts['vibs']]
    assert 'ESXCUST_bootbank_ne1000_1.0.0.99-1' in ids and not [i for i in ids if '_crx_' in i]
    assert len([i for i in ids if '_ne1000_' in i]) == 1
    assert '/crx.v00' not in bsdtar(dest, 'EFI/BOOT/BOOT.CFG').decode()


def _remaster(src, dest, mutate, efi=True):
    """``src``'s tree mastered again like VMware's (relaxed 8.3 names, leading dots) without ;1 versions (-N)."""
    tree = str(dest) + '.tree'
    subprocess.run(['xorriso', '-osirrox', 'on', '-indev', src, '-extract', '/', tree], check=True, capture_output=True)
    subprocess.run(['chmod', '-R', 'u+w', tree], check=True)
    mutate(tree)
    argv = [
        'xorriso',
        '-as',
        'mkisofs',
        '-quiet',
        '-o',
        str(dest),
        '-V',
        'ESXI-7.0.3-TEST',
        '-A',
        'ESXIMAGE',
        '-N',
        '-relaxed-filenames',
        '-l',
        '-allow-leading-dots',
        '--norock',
        '-c',
        'BOOT.CAT',
        '-b',
        'ISOLINUX.BIN',
        '-no-emul-boot',
        '-boot-load-size',
        '4',
        '-boot-info-table',
    ]
    argv += ['-eltorito-alt-boot', '-e', 'EFIBOOT.IMG', '-no-emul-boot'] if efi else []
    subprocess.run(argv + [tree], check=True, capture_output=True)
    return str(dest)


def test_bios_only_vmware_mastered_iso_end_to_end(tmp_path, src70, inputs):
    """5.0 GA shape: BIOS El Torito entry only, no EFI/ tree; VMware names (VMWARE-ESX-BASE-OSL.TXT), no ;1 versions."""

    def bios_only(tree):
        shutil.rmtree(os.path.join(tree, 'EFI'))
        os.remove(os.path.join(tree, 'EFIBOOT.IMG'))
        with open(os.path.join(tree, 'VMWARE-ESX-BASE-OSL.TXT'), 'wb') as f:
            f.write(b'open source licenses\n')

    src = _remaster(src70, tmp_path / 'bios.iso', bios_only, efi=False)
    vib, ks = inputs
    dest = str(tmp_path / 'out.iso')
    result = customize_iso(src, dest, add=[vib], kickstart=ks, remove=['ne1000'], volume_id='esxi-7.0.3-lab')
    assert any('BIOS mode only' in w for w in result['warnings'])
    assert set(result['boot']) == {'bios'}
    listing = subprocess.run(['isoinfo', '-f', '-i', dest], check=True, capture_output=True, text=True).stdout.split()
    assert '/NET_COMM.V00;1' in listing and '/VMWARE-ESX-BASE-OSL.TXT' in listing and '/NE1000.V00' not in listing
    text = bsdtar(dest, 'BOOT.CFG').decode()
    assert '/net_comm.v00 --- /imgdb.tgz' in text and '/ne1000.v00' not in text and 'ks=cdrom:/KS.CFG' in text
    facts = read_iso_facts(dest)
    assert facts['problems'] == [] and facts['volume_id'] == 'ESXI-7.0.3-LAB'
    assert [(e['platform'], e['boot_info_table']) for e in facts['el_torito']] == [('bios', True)]
    again = customize_iso(src, dest, add=[vib], kickstart=ks, remove=['ne1000'], volume_id='esxi-7.0.3-lab')
    assert not again['changed']


def _rchar():
    with open('/proc/self/io') as handle:
        return int([line for line in handle if line.startswith('rchar:')][0].split()[1])


@pytest.mark.skipif(not os.path.exists('/proc/self/io'), reason='needs /proc/self/io to count bytes read')
def test_up_to_date_check_reads_metadata_not_payloads(tmp_path, inputs):
    """The re-run decision reads volume metadata, boot.cfg, IMGDB.TGZ and the manifest: never the payloads."""
    src = str(tmp_path / 'big.iso')
    fixiso.build_esxi_iso(src, style='70', big_payload_bytes=64 << 20)
    vib, ks = inputs
    dest = str(tmp_path / 'out.iso')
    customize_iso(src, dest, add=[vib], kickstart=ks)
    before = _rchar()
    again = customize_iso(src, dest, add=[vib], kickstart=ks, checksum=False)
    read = _rchar() - before
    assert not again['changed']
    assert read < 8 << 20, read  # two ISOs of > 64 MiB each; a payload read would show up here


@pytest.mark.parametrize(
    'style, package, fits, reason',
    [
        ('6x', 'net51-r8169-6.011.00-2vft.510.0.0.799733-offline_bundle.zip', False, 'vmkapi_2_1_0_0'),
        ('6x', 'ESXi650-VMKUSB-NIC-FLING-39176435-16775917.zip', False, 'vmkapi_incompat_2_4_0_0'),
        ('70', 'ESXi650-VMKUSB-NIC-FLING-39176435-16775917.zip', False, 'vmkapi_incompat_2_4_0_0'),
        ('6x', 'nvme-community-driver_1.0.1.0-1vmw.670.0.0.8169922-offline_bundle-17658145.zip', True, None),
        ('6x', 'net-r8125-9.011.00-10.vib', True, None),
        ('70', 'nvme-community-driver_1.0.1.0-3vmw.700.1.0.15843807-component-18902434.zip', True, None),
        ('70', 'ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip', False, 'needs vmkapi 3.0.0.0, first provided by ESXi 9.0'),
    ],
)
def test_package_fit_answers_before_a_build(tmp_path, style, package, fits, reason):
    src = tmp_path / ('esxi-%s.iso' % style)
    fixiso.build_esxi_iso(str(src), style=style)
    before = src.read_bytes()
    fit = package_fit(os.path.join(shared_fixtures(), package), str(src))
    assert fit['fits'] is fits, fit['problems']
    if reason:
        assert any(reason in problem for problem in fit['problems']), fit['problems']
    else:
        assert fit['problems'] == []
    assert src.read_bytes() == before and sorted(os.listdir(tmp_path)) == [src.name]


def test_check_mode_compares_with_the_current_dest(tmp_path, src70, inputs):
    vib, ks = inputs
    dest = tmp_path / 'out.iso'
    customize_iso(src70, str(dest), add=[vib], kickstart=ks)
    before = dest.read_bytes()
    other = tmp_path / 'other.cfg'
    other.write_text('vmaccepteula\ninstall --firstdisk --novmfsondisk\nrootpw --iscrypted $6$secret\n')
    result = customize_iso(src70, str(dest), add=[vib], kickstart=str(other), check_mode=True)
    assert result['changed']
    assert [d['before_header'] for d in result['diff']] == ['/KS.CFG']  # the driver and boot.cfg are already there
    assert 'secret' not in repr(result['diff']) and 'sha256: ' in result['diff'][0]['after']
    assert dest.read_bytes() == before


def test_warnings_only_where_they_apply(tmp_path):
    src = tmp_path / 'esxi6x.iso'
    fixiso.build_esxi_iso(str(src), style='6x')
    result = customize_iso(str(src), str(tmp_path / 'out.iso'), add=[os.path.join(shared_fixtures(), 'net-r8125-9.011.00-10.vib')], check_mode=True)
    assert result['added'] and not [w for w in result['warnings'] if 'removed vmklinux' in w]


def test_mode_is_applied_and_changed_alone_without_a_rewrite(tmp_path, src70, inputs):
    vib, _ks = inputs
    dest = tmp_path / 'out.iso'
    customize_iso(src70, str(dest), add=[vib], mode='0640')
    assert dest.stat().st_mode & 0o777 == 0o640
    inode = dest.stat().st_ino
    checked = customize_iso(src70, str(dest), add=[vib], mode='0600', check_mode=True)
    assert checked['changed'] and dest.stat().st_mode & 0o777 == 0o640
    result = customize_iso(src70, str(dest), add=[vib], mode='0600')
    assert result['changed'] and dest.stat().st_mode & 0o777 == 0o600 and dest.stat().st_ino == inode
    assert not customize_iso(src70, str(dest), add=[vib], mode='0600')['changed']


def test_kickstart_content_gives_the_bytes_of_the_same_kickstart_file(tmp_path, src70, inputs):
    vib, ks = inputs
    from_file = customize_iso(src70, str(tmp_path / 'file.iso'), add=[vib], kickstart=ks)
    text = open(ks, encoding='utf-8').read()
    from_text = customize_iso(src70, str(tmp_path / 'text.iso'), add=[vib], kickstart_content=text)
    assert from_text['manifest_digest'] == from_file['manifest_digest']
    assert from_text['sha256'] == from_file['sha256']
    assert bsdtar(str(tmp_path / 'text.iso'), 'KS.CFG') == text.encode()
    again = customize_iso(src70, str(tmp_path / 'text.iso'), add=[vib], kickstart_content=text)
    assert not again['changed']
    changed = customize_iso(src70, str(tmp_path / 'text.iso'), add=[vib], kickstart_content=text + 'reboot\n', check_mode=True)
    assert changed['changed']


def test_kickstart_content_and_file_together_are_refused(tmp_path, src70, inputs):
    vib, ks = inputs
    with pytest.raises(EsxiCustomizerError, match='not both'):
        customize_iso(src70, str(tmp_path / 'x.iso'), add=[vib], kickstart=ks, kickstart_content='vmaccepteula\n')
    assert not (tmp_path / 'x.iso').exists()


def test_source_identity_sees_a_same_size_kickstart_change(tmp_path, src70):
    """What disk_image, bundle_export and the PXE archive decide 'unchanged' by: another address, same size."""
    from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import IsoReader
    from ansible_collections.esxi.customizer.plugins.module_utils._image.manifest import source_identity

    identities = []
    for address in ('10.0.0.11', '10.0.0.12'):
        dest = str(tmp_path / ('%s.iso' % address))
        customize_iso(src70, dest, kickstart_content='network --ip=%s\n' % address)
        with IsoReader.open(dest) as reader:
            identities.append(source_identity(dest, reader.files()))
    assert identities[0][0] == identities[1][0] and identities[0][1] != identities[1][1]
