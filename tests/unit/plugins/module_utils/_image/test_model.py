# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import io
import os
import shutil
import subprocess
import struct
import tarfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage, profile_name_version, read_iso_facts
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import ImageDatabase
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures
from ansible_collections.esxi.customizer.tests.unit.plugins.module_utils.counting_file import CountingFile

pytestmark = pytest.mark.skipif(shutil.which('xorriso') is None, reason='xorriso is needed to build test ISOs')

BUILD = '7.0.2-0.0.17630552'
BASE_ID = 'VMware_bootbank_esx-base_7.0.2-0.0.17630552'
NET_ID = 'ACME_bootbank_net-test_1.0-1'
PAYLOAD_SIZE = 3 * 1024 * 1024


def vib_xml(vendor, name, version, level, payloads, vfat_names=False, extra_provides=()) -> bytes:
    """``vfat_names``: payloads carry ``vfat-name``/``boot-order`` like the esx-base copy in a 7.x database."""
    # like every real esx-base, it provides esx-version (the base ESX the installer looks for)
    provides = '<provide name="esx-version" version="%s"/>' % version if name == 'esx-base' else ''
    provides += ''.join('<provide name="%s"/>' % extra for extra in extra_provides)
    body = ''.join(
        '<payload name="%s" type="%s" size="1"%s/>' % (p + ((' vfat-name="%s" boot-order="%d"' % (p[0].upper(), n)) if vfat_names else '',))
        for n, p in enumerate(payloads)
    )
    return (
        '<vib version="5.0"><type>bootbank</type><name>%s</name><version>%s</version><vendor>%s</vendor>'
        '<summary>s</summary><description>d</description><relationships><depends/><conflicts/><replaces/>'
        '<provides>%s</provides><compatibleWith/></relationships><acceptance-level>%s</acceptance-level>'
        '<payloads>%s</payloads></vib>' % (name, version, vendor, provides, level, body)
    ).encode()


BASE_PAYLOADS = [
    ('b', 'boot', 'b.b00'),
    ('k', 'boot', 'k.b00'),
    ('s', 'vgz', 's.v00'),
    ('isolinux.bin', 'boot_iso_bios', 'isolinux.b00'),
    ('efiboot.img', 'eltorito_image_efi', 'efiboot..e00'),
    ('precheck.py', 'upgrade', 'precheck.u00'),
]
NET_PAYLOADS = [('net-test', 'vgz', 'net_test.v00')]


def imgdb_tgz(base_version='7.0.2-0.0.17630552', net_payloads=None, acceptance='partner', profiles=1, vfat_names=False, base_provides=()) -> bytes:
    base_id = 'VMware_bootbank_esx-base_%s' % base_version
    net_payloads = NET_PAYLOADS if net_payloads is None else net_payloads
    entries = [(base_id, BASE_PAYLOADS), (NET_ID, net_payloads)]
    viblist = ''.join(
        '<vib><vib-id>%s</vib-id><payloads>%s</payloads></vib>' % (vib_id, ''.join('<payload payload-name="%s">%s</payload>' % (p[0], p[2]) for p in payloads))
        for vib_id, payloads in entries
    )
    profile = (
        '<imageprofile><name>ESXi-7.0.2-test-standard</name><creator>tests</creator><profileID>ab</profileID>'
        '<creationtime>2026-01-01T00:00:00+00:00</creationtime><modifiedtime>2026-01-01T00:00:00+00:00</modifiedtime>'
        '<serialno>1</serialno><description>unit test profile</description><readonly>true</readonly>'
        '<viblist>%s</viblist><acceptancelevel>%s</acceptancelevel></imageprofile>' % (viblist, acceptance)
    ).encode()
    members = {'var/db/esximg/profiles/test%s' % ('-%d' % n if n else ''): profile for n in range(profiles)}
    members.update(
        {
            'var/db/esximg/vibs/esx-base-1.xml': vib_xml(
                'VMware', 'esx-base', base_version, 'certified', [(p[0], p[1]) for p in BASE_PAYLOADS], vfat_names, base_provides
            ),
            'var/db/esximg/vibs/net-test-2.xml': vib_xml('ACME', 'net-test', '1.0-1', 'partner', [(p[0], p[1]) for p in net_payloads]),
        }
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


MODULES = ['/k.b00', '/s.v00', '/net_test.v00', '/imgdb.tgz']


def bootcfg(modules=None, build=BUILD, kernelopt='cdromBoot runweasel ks=cdrom:/KS.CFG') -> bytes:
    return (
        'bootstate=0\ntitle=Loading ESXi installer\ntimeout=5\nprefix=\nkernel=/b.b00\nkernelopt=%s\nmodules=%s\n'
        'build=%s\nupdated=0\n' % (kernelopt, ' --- '.join(MODULES if modules is None else modules), build)
    ).encode()


def esxi_files(**changes) -> dict:
    files = {
        'ISOLINUX.BIN': os.urandom(8192),
        'EFIBOOT.IMG': b'\0' * 32768,
        'B.B00': b'b',
        'K.B00': b'k',
        'S.V00': b's',
        'NET_TEST.V00': b'\x5a' * PAYLOAD_SIZE,
        'IMGDB.TGZ': imgdb_tgz(),
        'KS.CFG': b'vmaccepteula\n',
        'UPGRADE/PRECHECK.PY': b'#\n',
        'BOOT.CFG': bootcfg(),
        'EFI/BOOT/BOOT.CFG': bootcfg(),
    }
    for name, value in changes.items():
        name = name.replace('__', '/').replace('_dot_', '.')
        if value is None:
            files.pop(name)
        else:
            files[name] = value
    return files


def make_iso(tmp_path, name, files, joliet_rock_ridge=False, efi=True, extra=()) -> str:
    tree = tmp_path / (name + '.tree')
    for rel, data in files.items():
        rel = rel.lower() if joliet_rock_ridge else rel
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(data)
    out = tmp_path / (name + '.iso')
    case = str.lower if joliet_rock_ridge else str
    cmd = ['xorriso'] + ([] if joliet_rock_ridge else ['-rockridge', 'off']) + ['-as', 'mkisofs', '-quiet']
    cmd += ['-J', '-R'] if joliet_rock_ridge else []
    cmd += list(extra) + [
        '-V',
        'ESXI-7.0.2-TEST',
        '-A',
        'ESXIMAGE',
        '-o',
        str(out),
        '-c',
        case('BOOT.CAT'),
        '-b',
        case('ISOLINUX.BIN'),
        '-no-emul-boot',
        '-boot-load-size',
        '4',
        '-boot-info-table',
    ]
    cmd += ['-eltorito-alt-boot', '-e', case('EFIBOOT.IMG'), '-no-emul-boot'] if efi else []
    cmd += [str(tree)]
    subprocess.run(cmd, check=True, capture_output=True)
    return str(out)


@pytest.mark.parametrize('joliet_rock_ridge', [False, True], ids=['plain', 'joliet-rr'])
def test_sound_iso_facts(tmp_path, joliet_rock_ridge):
    facts = read_iso_facts(make_iso(tmp_path, 'good', esxi_files(), joliet_rock_ridge))
    assert facts['problems'] == []
    assert facts['esxi_version'] == '7.0.2'
    assert facts['build'] == BUILD
    assert facts['volume_id'] == 'ESXI-7.0.2-TEST'
    assert facts['profile'] == {
        'name': 'ESXi-7.0.2-test-standard',
        'creator': 'tests',
        'acceptance_level': 'partner',
        'description': 'unit test profile',
        'profile_id': 'ab',
        'creation_time': '2026-01-01T00:00:00+00:00',
        'modified_time': '2026-01-01T00:00:00+00:00',
    }
    vibs = {vib['name']: vib for vib in facts['vibs']}
    assert vibs['net-test']['id'] == NET_ID
    assert vibs['net-test']['vendor'] == 'ACME' and vibs['net-test']['version'] == '1.0-1'
    assert vibs['net-test']['acceptance_level'] == 'partner'
    assert vibs['net-test']['payloads'] == [{'name': 'net-test', 'type': 'vgz', 'local_name': 'net_test.v00', 'file': '/NET_TEST.V00', 'size': PAYLOAD_SIZE}]
    base_files = {p['name']: p['file'] for p in vibs['esx-base']['payloads']}
    assert base_files == {
        'b': '/B.B00',
        'k': '/K.B00',
        's': '/S.V00',
        'isolinux.bin': '/ISOLINUX.BIN',
        'efiboot.img': '/EFIBOOT.IMG',
        'precheck.py': '/UPGRADE/PRECHECK.PY',
    }
    for platform, path in (('bios', '/BOOT.CFG'), ('uefi', '/EFI/BOOT/BOOT.CFG')):
        boot = facts['boot'][platform]
        assert boot['path'] == path
        assert boot['kernel'] == '/b.b00'
        assert boot['kernelopt'] == 'cdromBoot runweasel ks=cdrom:/KS.CFG'
        assert boot['modules'] == MODULES
        assert (boot['title'], boot['timeout'], boot['prefix']) == ('Loading ESXi installer', 5, '')
    assert [(e['platform'], e['path'].upper(), e['load_size']) for e in facts['el_torito']] == [('bios', '/ISOLINUX.BIN', 4), ('uefi', '/EFIBOOT.IMG', 64)]
    assert facts['filesystems']['joliet'] is joliet_rock_ridge
    assert facts['filesystems']['rock_ridge'] is joliet_rock_ridge
    assert facts['kickstart'] == 'cdrom:/KS.CFG'


def test_version_falls_back_to_esx_base(tmp_path):
    cfg = bootcfg(build='')
    path = make_iso(tmp_path, 'nobuild', esxi_files(BOOT_dot_CFG=cfg, EFI__BOOT__BOOT_dot_CFG=cfg, IMGDB_dot_TGZ=imgdb_tgz('6.7.0-0.0.8169922')))
    with EsxiImage.open(path) as image:
        assert image.build == '6.7.0-0.0.8169922'
        assert image.version == '6.7.0'
        assert image.problems() == []


def test_each_kind_of_problem(tmp_path):
    missing_file = read_iso_facts(make_iso(tmp_path, 'nofile', esxi_files(NET_TEST_dot_V00=None)))['problems']
    assert missing_file == [
        '/BOOT.CFG lists /net_test.v00, which is not on the ISO',
        '/EFI/BOOT/BOOT.CFG lists /net_test.v00, which is not on the ISO',
        'VIB %s payload net-test: file /NET_TEST.V00 is missing from the ISO' % NET_ID,
    ]
    without_net = bootcfg(['/k.b00', '/s.v00', '/imgdb.tgz'])
    not_in_cfg = read_iso_facts(make_iso(tmp_path, 'nocfg', esxi_files(BOOT_dot_CFG=without_net, EFI__BOOT__BOOT_dot_CFG=without_net)))
    assert not_in_cfg['problems'] == ['VIB %s payload net-test: net_test.v00 is not in the modules of /BOOT.CFG and /EFI/BOOT/BOOT.CFG' % NET_ID]
    disagree = read_iso_facts(
        make_iso(tmp_path, 'disagree', esxi_files(EFI__BOOT__BOOT_dot_CFG=bootcfg(['/k.b00', '/s.v00', '/imgdb.tgz'], kernelopt='cdromBoot runweasel')))
    )['problems']
    assert disagree == [
        'BIOS and UEFI boot.cfg disagree on modules (only in /BOOT.CFG: net_test.v00)',
        "BIOS and UEFI boot.cfg disagree on kernelopt: 'cdromBoot runweasel ks=cdrom:/KS.CFG' vs 'cdromBoot runweasel'",
        'VIB %s payload net-test: net_test.v00 is not in the modules of /EFI/BOOT/BOOT.CFG' % NET_ID,
    ]
    ghost = bootcfg(MODULES[:-1] + ['/ghost.v00', '/imgdb.tgz'])
    extra = read_iso_facts(make_iso(tmp_path, 'ghost', esxi_files(BOOT_dot_CFG=ghost, EFI__BOOT__BOOT_dot_CFG=ghost)))
    assert extra['problems'] == ['/BOOT.CFG lists /ghost.v00, which is not on the ISO', '/EFI/BOOT/BOOT.CFG lists /ghost.v00, which is not on the ISO']
    no_uefi_cfg = read_iso_facts(make_iso(tmp_path, 'nouefi', esxi_files(EFI__BOOT__BOOT_dot_CFG=None)))
    assert no_uefi_cfg['problems'] == ['the ISO has a UEFI boot entry but no /EFI/BOOT/BOOT.CFG']
    assert no_uefi_cfg['boot']['uefi'] is None


def test_no_image_database_is_a_problem(tmp_path):
    modules = MODULES[:-1]
    cfg = bootcfg(modules)
    facts = read_iso_facts(make_iso(tmp_path, 'nodb', esxi_files(IMGDB_dot_TGZ=None, BOOT_dot_CFG=cfg, EFI__BOOT__BOOT_dot_CFG=cfg)))
    assert facts['problems'] == ['no image database (IMGDB.TGZ) on the ISO']
    assert facts['vibs'] == [] and facts['profile'] is None
    assert facts['esxi_version'] == '7.0.2'


def test_bad_inputs(tmp_path):
    with pytest.raises(FormatError, match='is not an ESXi installer ISO: it has no /BOOT.CFG'):
        EsxiImage.open(make_iso(tmp_path, 'linux', esxi_files(BOOT_dot_CFG=None)))
    with pytest.raises(FormatError, match=r'baddb.iso:/IMGDB.TGZ: is not a readable gzip/tar archive'):
        EsxiImage.open(make_iso(tmp_path, 'baddb', esxi_files(IMGDB_dot_TGZ=b'garbage' * 100)))
    broken_profile = io.BytesIO()
    with tarfile.open(fileobj=broken_profile, mode='w:gz') as tar:
        info = tarfile.TarInfo('var/db/esximg/profiles/p')
        info.size = 5
        tar.addfile(info, io.BytesIO(b'<oops'))
    with pytest.raises(FormatError, match=r'IMGDB.TGZ:var/db/esximg/profiles/p: it is not well-formed XML'):
        EsxiImage.open(make_iso(tmp_path, 'badxml', esxi_files(IMGDB_dot_TGZ=broken_profile.getvalue())))
    with pytest.raises(EsxiCustomizerError, match='does not exist'):
        EsxiImage.open(str(tmp_path / 'nothing.iso'))


def test_facts_read_metadata_only(tmp_path):
    path = make_iso(tmp_path, 'count', esxi_files())
    with CountingFile(path, 'r') as handle:
        with EsxiImage.open(path, fileobj=handle) as image:
            facts = image.facts()
    assert facts['problems'] == []
    assert handle.bytes_read < PAYLOAD_SIZE / 8, handle.bytes_read


@pytest.mark.skipif(shared_fixtures() is None, reason='shared fixtures not found')
def test_real_67_database_in_an_iso(tmp_path):
    """The real 6.7 GA image database: every boot-loaded payload gets a file and a boot.cfg entry."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        tar.add(str(shared_fixtures() / 'esxi67-imgdb-ljvblfz' / 'var'), arcname='var')
    db = ImageDatabase.from_tgz(buf.getvalue())
    locals_ = []
    for vib_id, payloads in db.profile.vibs.items():
        for payload_name, local in payloads.items():
            if db.vibs[vib_id].payload(payload_name).type in ('boot', 'vgz', 'tgz'):
                locals_.append(local)
    kernel = 'b.b00'
    cfg = bootcfg(['/' + name for name in locals_ if name != kernel] + ['/imgdb.tgz'], build='', kernelopt='runweasel')
    files = {'ISOLINUX.BIN': os.urandom(4096), 'EFIBOOT.IMG': b'\0' * 4096, 'IMGDB.TGZ': buf.getvalue(), 'BOOT.CFG': cfg, 'EFI/BOOT/BOOT.CFG': cfg}
    files.update({name.upper(): b'x' for name in locals_})
    facts = read_iso_facts(make_iso(tmp_path, 'real67', files))
    assert facts['problems'] == []
    assert facts['esxi_version'] == '6.7.0'
    assert facts['build'] == '6.7.0-0.0.8169922'
    assert facts['profile']['acceptance_level'] == 'partner'
    assert len(facts['vibs']) == 136
    assert facts['kickstart'] is None


VMWARE_MASTER = ['-relaxed-filenames', '-l', '-allow-leading-dots']
"""Names as on VMware's own ISOs: VMWARE-ESX-BASE-OSL.TXT, .DISCINFO (pycdlib then sees interchange level 4)."""


def test_vmware_mastered_names_subdirectories_and_a_crowded_root(tmp_path):
    files = esxi_files(
        **{
            'VMWARE-ESX-BASE-OSL.TXT': b'osl\n',
            '_dot_DISCINFO': b'7.0.2\n',
            'README': b'readme\n',
            'EFI__BOOT__BOOTX64.EFI': b'MZ' * 100,
            'UPGRADE__PROFILE.XML': b'<imageprofile/>',
        }
    )
    files.update({'FILL%03d.V00' % n: b'%d' % n for n in range(160)})
    path = make_iso(tmp_path, 'vmware', files, extra=VMWARE_MASTER)
    listing = subprocess.run(['isoinfo', '-f', '-i', path], check=True, capture_output=True, text=True).stdout.split()
    assert '/VMWARE-ESX-BASE-OSL.TXT;1' in listing and '/.DISCINFO;1' in listing
    with EsxiImage.open(path) as image:
        assert image.problems() == []
        for name in ('/vmware-esx-base-osl.txt', '/.discinfo', '/efi/boot/bootx64.efi', '/upgrade/precheck.py', '/FILL159.V00'):
            assert image.reader.find(name) is not None, name
        assert len([e for e in image.reader.files() if e.path.count('/') == 1]) > 150
        facts = image.facts()
    base = {p['name']: p['file'] for v in facts['vibs'] if v['name'] == 'esx-base' for p in v['payloads']}
    assert base['precheck.py'] == '/UPGRADE/PRECHECK.PY'


def test_loader_grammar_variants_in_both_boot_cfg(tmp_path):
    """Upper-case keys, CRLF, comments, no final newline, per-module options, empty prefix, no build= (6.x)."""
    cfg = (
        b'# written by hand\r\nBOOTSTATE=0\r\nTITLE=Loading ESXi installer\r\nPREFIX=\r\nKERNEL=/b.b00\r\n'
        b'KERNELOPT=runweasel cdromBoot\r\n#MODULES=/old.v00\r\nMODULES=/k.b00 --- /s.v00 foo=1 --- /net_test.v00 --- /imgdb.tgz\r\n'
        b'UPDATED=0'
    )
    files = esxi_files(BOOT_dot_CFG=cfg, EFI__BOOT__BOOT_dot_CFG=cfg, IMGDB_dot_TGZ=imgdb_tgz('6.7.0-0.0.8169922'))
    path = make_iso(tmp_path, 'grammar', files)
    facts = read_iso_facts(path)
    assert facts['problems'] == []
    assert facts['build'] == '6.7.0-0.0.8169922' and facts['esxi_version'] == '6.7.0'
    boot = facts['boot']['bios']
    assert boot['modules'] == ['/k.b00', '/s.v00 foo=1', '/net_test.v00', '/imgdb.tgz']
    assert boot['kernelopt'] == 'runweasel cdromBoot' and boot['prefix'] == ''


def test_esxi_50_bios_only_with_dashed_module_names(tmp_path):
    """5.0 GA: only a BIOS El Torito entry, no EFI/ tree, module names keep '-' (ata-pata.v00), 'b.b00 ks=usb'."""
    net = [('net-test', 'vgz', 'net-test.v00')]
    cfg = bootcfg(['/b.b00 ks=usb', '/k.b00', '/s.v00', '/net-test.v00', '/imgdb.tgz'], build='', kernelopt='runweasel')
    cfg = cfg.replace(b'kernel=/b.b00', b'kernel=/tboot.b00')
    files = esxi_files(
        BOOT_dot_CFG=cfg,
        EFI__BOOT__BOOT_dot_CFG=None,
        EFIBOOT_dot_IMG=None,
        NET_TEST_dot_V00=None,
        IMGDB_dot_TGZ=imgdb_tgz('5.0.0-0.0.469512', net_payloads=net, base_provides=('vmkapi_2_0_0_0',)),
    )
    files.update({'NET-TEST.V00': b'n', 'TBOOT.B00': b't'})
    path = make_iso(tmp_path, 'esxi50', files, efi=False, extra=VMWARE_MASTER)
    facts = read_iso_facts(path)
    assert facts['problems'] == []
    assert facts['esxi_version'] == '5.0.0' and facts['boot']['uefi'] is None
    assert [e['platform'] for e in facts['el_torito']] == ['bios']
    net_vib = [v for v in facts['vibs'] if v['name'] == 'net-test'][0]
    assert net_vib['payloads'][0]['file'] == '/NET-TEST.V00'


def test_profile_acceptance_spelling_vfat_names_and_several_profiles(tmp_path):
    db = imgdb_tgz(acceptance='PartnerSupported', profiles=2, vfat_names=True)
    facts = read_iso_facts(make_iso(tmp_path, 'variants', esxi_files(IMGDB_dot_TGZ=db)))
    assert facts['profile']['acceptance_level'] == 'partner'
    assert facts['problems'] == ['image database has 2 image profiles; the installer uses one']
    base = [v for v in facts['vibs'] if v['name'] == 'esx-base'][0]
    assert {p['name']: p['file'] for p in base['payloads']}['s'] == '/S.V00'


@pytest.mark.parametrize(
    'name, version',
    [
        ('ESXi-6.7.0-8169922-standard', '6.7.0'),
        ('ESXi-7.0U3c-19193900-standard', '7.0.3'),
        ('ESXi-8.0a-20842819-standard', '8.0.0'),
        ('DellEMC-ESXi-7.0U2-17630552-A04', '7.0.2'),
        ('HPE-ESXi-6.7.0-Update3-iso-Gen9plus', '6.7.0'),
        ('ESXi-5.0.0-469512-standard', '5.0.0'),
        ('custom image', None),
        (None, None),
    ],
)
def test_version_from_profile_names(name, version):
    assert profile_name_version(name) == version


def test_replacing_a_50_style_dashed_driver_on_a_bios_only_iso(tmp_path):
    """5.0 GA keeps '-' in local names (NET-TEST.V00); the replacement gets the '_' name, the old file goes."""
    from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso
    from ansible_collections.esxi.customizer.tests.fixturegen import packages

    net = [('net-test', 'vgz', 'net-test.v00')]
    cfg = bootcfg(['/b.b00 ks=usb', '/k.b00', '/s.v00', '/net-test.v00', '/imgdb.tgz'], build='', kernelopt='runweasel')
    files = esxi_files(
        BOOT_dot_CFG=cfg.replace(b'kernel=/b.b00', b'kernel=/tboot.b00'),
        EFI__BOOT__BOOT_dot_CFG=None,
        EFIBOOT_dot_IMG=None,
        NET_TEST_dot_V00=None,
        IMGDB_dot_TGZ=imgdb_tgz('5.0.0-0.0.469512', net_payloads=net, base_provides=('vmkapi_2_0_0_0',)),
    )
    files.update({'NET-TEST.V00': b'n', 'TBOOT.B00': b't'})
    src = make_iso(tmp_path, 'esxi50', files, efi=False, extra=VMWARE_MASTER)
    vib = tmp_path / 'net-test.vib'
    vib.write_bytes(packages.build_vib('net-test', '2.0-1', vmkapi='2_0_0_0'))
    dest = str(tmp_path / 'out.iso')
    result = customize_iso(src, dest, add=[str(vib)], skip_compatibility_check=True)
    assert (result['replaced'][0]['file'], result['added'][0]['file']) == ('/NET-TEST.V00', '/NET_TEST.V00')
    assert result['boot']['bios']['modules'] == ['/b.b00 ks=usb', '/k.b00', '/s.v00', '/net_test.v00', '/imgdb.tgz']
    listing = subprocess.run(['isoinfo', '-f', '-i', dest], check=True, capture_output=True, text=True).stdout.split()
    assert '/NET_TEST.V00;1' in listing and not [name for name in listing if name.startswith('/NET-TEST')]
    assert read_iso_facts(dest)['problems'] == []


def test_hidden_uefi_boot_image_is_no_problem_but_an_entry_beyond_the_volume_is_refused(tmp_path):
    # mkisofs -hide EFIBOOT.IMG: the image has no directory record; firmware still finds it through the catalog
    path = make_iso(tmp_path, 'hidden', esxi_files(), extra=['-hide', 'EFIBOOT.IMG'])
    with EsxiImage.open(path) as image:
        assert image.reader.find('/EFIBOOT.IMG') is None
        uefi = image.el_torito()[1]
        assert (uefi.platform, uefi.path, uefi.size) == ('uefi', None, 32768)
        assert image.problems() == []
    # the same entry pointed past the end of the volume is a broken ISO
    with open(path, 'rb') as handle:
        data = bytearray(handle.read())
    catalog = [i for i in range(0, len(data), 2048) if data[i : i + 2] == b'\x01\x00' and data[i + 30 : i + 32] == b'\x55\xaa'][0]
    struct.pack_into('<I', data, catalog + 64 + 32 + 8, len(data) // 2048 + 100)
    broken = tmp_path / 'broken.iso'
    broken.write_bytes(bytes(data))
    with pytest.raises(FormatError, match='broken.iso: is not a readable ISO 9660 image'):
        EsxiImage.open(str(broken))


def test_removing_a_vib_whose_payload_is_vzstd_takes_its_module_too(tmp_path):
    """Every payload type the installer takes from boot.cfg modules (vzstd included) leaves the ISO with its VIB."""
    from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso

    net = [('net-test', 'vzstd', 'net_test.v00')]
    path = make_iso(tmp_path, 'vzstd', esxi_files(IMGDB_dot_TGZ=imgdb_tgz(net_payloads=net)))
    assert read_iso_facts(path)['problems'] == []
    dest = str(tmp_path / 'out.iso')
    result = customize_iso(path, dest, remove=['net-test'])
    assert result['removed'][0]['file'] == '/NET_TEST.V00'
    assert '/net_test.v00' not in result['boot']['bios']['modules'] + result['boot']['uefi']['modules']
    facts = read_iso_facts(dest)
    assert facts['problems'] == [] and 'net-test' not in [v['name'] for v in facts['vibs']]


def test_huge_module_lists_are_read_in_linear_time_with_bounded_messages(tmp_path):
    # 30,000 modules in each boot.cfg, different ones: comparing them used to re-parse a list per module (hours at 65k)
    bios = ['/b%05d.v00' % n for n in range(30000)]
    uefi = ['/u%05d.v00' % n for n in range(30000)]
    files = esxi_files(BOOT_dot_CFG=bootcfg(bios), EFI__BOOT__BOOT_dot_CFG=bootcfg(uefi))
    problems = read_iso_facts(make_iso(tmp_path, 'huge', files))['problems']
    assert any(p.startswith('BIOS and UEFI boot.cfg disagree on modules (only in /BOOT.CFG: b00000.v00') and 'and 29990 more' in p for p in problems)
    assert any(p == '/BOOT.CFG lists 30000 files that are not on the ISO: ' + ', '.join(bios[:10]) + ' and 29990 more' for p in problems)
    assert max(len(p) for p in problems) < 2000
