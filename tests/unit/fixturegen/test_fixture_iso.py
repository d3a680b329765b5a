# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ISO generator, checked with independent readers: isoinfo, xorriso, tarfile."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from xml.etree import ElementTree

import pytest

from ansible_collections.esxi.customizer.tests.fixturegen import iso, packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures

TOOLS = ('xorriso', 'isoinfo', 'mkfs.vfat', 'mcopy', 'grub-mkstandalone')
pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in TOOLS) or not os.path.exists(iso.ISOLINUX_BIN),
    reason='ISO tools missing (scripts/install-system-deps.sh installs xorriso, genisoimage, dosfstools, mtools, '
    'grub-efi-amd64-bin, isolinux, syslinux-common)',
)

VARIANTS = [(style, jr) for style in ('6x', '70', '80', '90') for jr in (False, True)]


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    out = {}
    base = tmp_path_factory.mktemp('isos')
    for style, jr in VARIANTS:
        path = str(base / ('%s-%s.iso' % (style, 'jr' if jr else 'plain')))
        out[(style, jr)] = iso.build_esxi_iso(path, style, joliet_rock_ridge=jr)
    return out


def _run(argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _extract(path, iso_path):
    """File bytes from the ISO through xorriso (uses Rock Ridge names when present, like a loop mount)."""
    with tempfile.TemporaryDirectory() as work:
        target = os.path.join(work, 'out')
        subprocess.run(['xorriso', '-indev', path, '-osirrox', 'on', '-extract', iso_path, target], check=True, capture_output=True)
        with open(target, 'rb') as stream:
            return stream.read()


def _iso9660_listing(path):
    """Full ISO9660 paths (without ;1) from isoinfo -f, ignoring Rock Ridge/Joliet."""
    return sorted(line.rsplit(';', 1)[0] for line in _run(['isoinfo', '-f', '-i', path]).splitlines() if ';' in line)


@pytest.mark.parametrize('style, jr', VARIANTS)
def test_listing_matches_facts(built, style, jr):
    facts = built[(style, jr)]
    expected = []
    for name in facts['files']:
        if jr and name == '/.discinfo':
            name = '/_DISCINF.'  # VMware's documented -J -R remaster maps the leading dot away in ISO9660
        if '.' not in os.path.basename(name):
            name += '.'  # ISO 9660 writes the separator of an empty extension (README.)
        expected.append(name.upper())
    assert _iso9660_listing(facts['path']) == sorted(expected)
    if jr:
        rr = sorted(line for line in _run(['isoinfo', '-R', '-f', '-i', facts['path']]).splitlines())
        files = [f for f in rr if '.' in os.path.basename(f) or f in facts['files']]  # not the directories
        assert files == facts['files']
        assert all(f == f.lower() for f in files)


@pytest.mark.parametrize('style, jr', VARIANTS)
def test_volume_descriptor(built, style, jr):
    facts = built[(style, jr)]
    info = _run(['isoinfo', '-d', '-i', facts['path']])
    assert 'Volume id: %s\n' % facts['volume_id'] in info
    assert 'Application id: ESXIMAGE\n' in info
    assert ('NO Joliet present' in info) is not jr
    assert ('Rock Ridge signatures' in info) is jr
    assert facts['volume_id'] == facts['profile']['name'].upper()


@pytest.mark.parametrize('style, jr', VARIANTS)
def test_two_el_torito_entries(built, style, jr):
    facts = built[(style, jr)]
    report = _run(['xorriso', '-indev', facts['path'], '-report_el_torito', 'plain'])
    images = [line.split() for line in report.splitlines() if line.startswith('El Torito boot img :')]
    assert [(row[5], row[6], row[8]) for row in images] == [('1', 'BIOS', 'none'), ('2', 'UEFI', 'none')]
    assert images[0][11] == '4'  # load size of ISOLINUX.BIN
    paths = [line.split()[-1] for line in report.splitlines() if line.startswith('El Torito img path :')]
    assert paths == [e['path'] for e in facts['el_torito']]
    assert 'El Torito cat path : %s' % facts['boot_catalog'] in report
    assert 'boot-info-table' in report


@pytest.mark.parametrize('style, jr', VARIANTS)
def test_bootcfg_and_imgdb_agree_with_iso_files(built, style, jr):
    facts = built[(style, jr)]
    path = facts['path']
    bios = _extract(path, facts['boot']['bios']['path']).decode('ascii')
    uefi = _extract(path, facts['boot']['uefi']['path']).decode('ascii')
    assert bios == uefi == facts['bootcfg_text']['bios']
    kv = dict(line.split('=', 1) for line in bios.splitlines())
    assert kv['kernel'] == facts['boot']['bios']['kernel']
    assert kv['modules'].split(' --- ') == facts['boot']['bios']['modules']
    assert kv['kernelopt'] == {'6x': 'runweasel', '90': 'runweasel cdromBoot'}.get(style, 'cdromBoot runweasel')
    assert kv['title'] == ('Loading ESX installer' if style == '90' else 'Loading ESXi installer')
    on_iso = {f.lower() for f in facts['files']}
    for module in [kv['kernel']] + kv['modules'].split(' --- '):
        assert module == module.lower() and module in on_iso
    if style in ('80', '90'):
        # the real 8.0U3 module list (procfs gone in 9.x); esxio payloads are never in the x86 boot.cfg
        assert '/esxiodpt.tgz' in kv['modules'] and '/esxio_co.v00' in kv['modules'] and '/esxio_ba.v00' not in kv['modules']
        assert len(kv['modules'].split(' --- ')) == {'80': 109, '90': 108}[style]
        assert ('/procfs.b00' in kv['modules']) is (style == '80')
        assert kv['build'] == {'80': '8.0.3-0.0.24022510', '90': '9.0.0.0-24755229'}[style]
    if style == '6x':
        assert kv['kernel'] == '/tboot.b00' and kv['modules'].startswith('/b.b00 ')

    imgdb = tarfile.open(fileobj=io.BytesIO(_extract(path, '/imgdb.tgz' if jr else '/IMGDB.TGZ')), mode='r:gz')
    names = imgdb.getnames()
    assert 'var/db/esximg/profiles' in names and 'var/db/esximg/vibs' in names
    assert ('var/db/esximg/bulletins' in names) is (style != '6x')
    profile_name = [n for n in names if n.startswith('var/db/esximg/profiles/')][0]
    profile = ElementTree.fromstring(imgdb.extractfile(profile_name).read())
    assert profile.findtext('name') == facts['profile']['name']
    assert profile.findtext('acceptancelevel') == facts['profile']['acceptance_level']
    locals_in_profile = {p.text for p in profile.iter('payload')}
    module_names = {m.lstrip('/') for m in facts['boot']['bios']['modules'] + [facts['boot']['bios']['kernel']]}
    assert module_names - locals_in_profile == {'imgdb.tgz', 'imgpayld.tgz', 'basemisc.tgz', 'resvibs.tgz', 'esxiodpt.tgz'} & module_names
    facts_ids = {v['id'] for v in facts['vibs']}
    assert {v.findtext('vib-id') for v in profile.iter('vib')} == facts_ids

    # every boot module's descriptor checksum matches the bytes on the ISO
    checked = 0
    for name in names:
        if not name.endswith('.xml') or '/vibs/' not in name:
            continue
        vib = ElementTree.fromstring(imgdb.extractfile(name).read())
        vib_id = packages.vib_id(vib.findtext('vendor'), vib.findtext('type'), vib.findtext('name'), vib.findtext('version'))
        assert vib_id in facts_ids
        assert names.count(name + '.orig') == names.count(name + '.sig') == 1
        local_by_payload = [v['payloads'] for v in facts['vibs'] if v['id'] == vib_id][0]
        for payload in vib.iter('payload'):
            local = local_by_payload[payload.get('name')]
            if '/' + local not in on_iso:
                continue
            data = _extract(path, '/' + (local if jr else local.upper()))
            sums = [(c.get('checksum-type'), c.get('verify-process')) for c in payload.findall('checksum')]
            plain = [c.text for c in payload.findall('checksum') if c.get('checksum-type') == 'sha-256' and c.get('verify-process') is None][0]
            assert int(payload.get('size')) == len(data)
            assert plain == hashlib.sha256(data).hexdigest()
            if payload.get('type') == 'vzstd':
                # as the real 9.0 Fling VIB: gunzip1 (the zstd frame) last, "gunzip" of the zstd-decompressed vmtar
                assert sums == [('sha-256', 'gunzip'), ('sha-256', None), ('sha-1', 'gunzip'), ('sha-256-gunzip1', None)]
                assert gzip.decompress(data)[:4] == packages.ZSTD_MAGIC
                full = [c.text for c in payload.findall('checksum') if c.get('verify-process') == 'gunzip' and c.get('checksum-type') == 'sha-256'][0]
                assert full == hashlib.sha256(packages.unpack_payload(data)).hexdigest()
            elif data[:2] == b'\x1f\x8b':
                assert sums == [('sha-256', 'gunzip'), ('sha-256', None), ('sha-1', 'gunzip')]
            checked += 1
    assert checked >= 20


def test_driver_payload_is_vmtar_with_map_and_ids(built):
    facts = built[('70', False)]
    data = gzip.decompress(_extract(facts['path'], '/NE1000.V00'))
    assert data[257:265] == b'visor  \0'
    names = packages.vmtar_names(data)
    assert 'etc/vmware/default.map.d/ne1000.map' in names
    assert 'usr/share/hwdata/default.pciids.d/ne1000.ids' in names
    tools = tarfile.open(fileobj=io.BytesIO(_extract(facts['path'], '/TOOLS.T00')), mode='r:gz')
    assert tools.getnames()
    six = built[('6x', False)]
    linux = packages.vmtar_names(gzip.decompress(_extract(six['path'], '/NET_E100.V00')))
    assert 'etc/vmware/driver.map.d/net_e1000.map' in linux


def test_extra_vib_is_integrated(tmp_path):
    vib = packages.build_vib('net-r8168', '8.045a-1', pci_ids=[('10ec', '8168')])
    facts = iso.build_esxi_iso(str(tmp_path / 'x.iso'), '80', extra_vibs=[vib])
    entry = [v for v in facts['vibs'] if v['name'] == 'net-r8168'][0]
    assert entry['payloads'] == {'net-r8168': 'net_r816.v00'}
    assert entry['acceptance_level'] == 'community' and facts['profile']['acceptance_level'] == 'community'
    modules = facts['boot']['bios']['modules']
    assert modules.index('/net_r816.v00') < modules.index('/imgdb.tgz')
    assert _extract(facts['path'], '/NET_R816.V00') == packages.vib_facts(vib)['payloads'][0][2]


@pytest.mark.parametrize('breakage', iso.BREAKAGES)
def test_breakage_knobs(tmp_path, breakage):
    facts = iso.build_esxi_iso(str(tmp_path / 'b.iso'), '70', breakage=breakage)
    listing = set(_iso9660_listing(facts['path']))
    victim = facts['breakage'][breakage]
    locals_in_profile = {p for v in facts['vibs'] for p in v['payloads'].values()}
    bios = facts['boot'].get('bios', {}).get('modules', [])
    uefi = facts['boot'].get('uefi', {}).get('modules', [])
    if breakage == 'profile-payload-not-on-iso':
        assert victim in locals_in_profile and '/' + victim.upper() not in listing and '/' + victim not in bios
    elif breakage == 'profile-payload-not-in-bootcfg':
        assert victim in locals_in_profile and '/' + victim.upper() in listing and '/' + victim not in bios + uefi
    elif breakage == 'bootcfg-mismatch':
        assert '/' + victim in bios and '/' + victim not in uefi
        assert _extract(facts['path'], '/BOOT.CFG') != _extract(facts['path'], '/EFI/BOOT/BOOT.CFG')
    elif breakage == 'bootcfg-module-not-on-iso':
        assert '/' + victim in bios and '/' + victim.upper() not in listing
        assert b'/ghost.v00' in _extract(facts['path'], '/BOOT.CFG')
    elif breakage == 'no-bootcfg':
        assert '/BOOT.CFG' not in listing and '/EFI/BOOT/BOOT.CFG' not in listing
    elif breakage == 'non-esxi':
        assert facts['vibs'] == [] and facts['profile'] is None
        assert listing == {f.upper() for f in facts['files']}
        assert not listing & {'/BOOT.CFG', '/IMGDB.TGZ', '/S.V00', '/EFI/BOOT/BOOT.CFG'}
        assert '/ISOLINUX.BIN' in listing and '/EFIBOOT.IMG' in listing
    elif breakage == 'corrupt-imgdb':
        with pytest.raises((EOFError, tarfile.ReadError, OSError)):
            with tarfile.open(fileobj=io.BytesIO(_extract(facts['path'], '/IMGDB.TGZ')), mode='r:gz') as tar:
                tar.getmembers()


def test_unknown_style_and_breakage_rejected(tmp_path):
    with pytest.raises(ValueError, match='unknown style'):
        iso.build_esxi_iso(str(tmp_path / 'x.iso'), '55')
    with pytest.raises(ValueError, match='unknown breakage'):
        iso.build_esxi_iso(str(tmp_path / 'x.iso'), '70', breakage='nope')
    assert os.listdir(tmp_path) == []


def test_big_payload_is_streamed_and_described(tmp_path):
    size = 3 * 1024 * 1024 + 123
    facts = iso.build_esxi_iso(str(tmp_path / 'big.iso'), '70', big_payload_bytes=size)
    data = _extract(facts['path'], '/S.V00')
    assert len(gzip.decompress(data)) == size
    assert facts['file_sizes']['/S.V00'] == len(data)
    assert facts['size'] > size


def test_same_arguments_same_iso(tmp_path):
    one = iso.build_esxi_iso(str(tmp_path / 'a.iso'), '6x')
    time.sleep(1.1)  # a clock second later: no wall-clock time may leak into the image
    two = iso.build_esxi_iso(str(tmp_path / 'b.iso'), '6x')
    with open(one['path'], 'rb') as a, open(two['path'], 'rb') as b:
        assert hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()


def test_local_name_rule():
    assert iso.local_name('lsu-lsi-lsi-mr3', 'vgz', set()) == 'lsu_lsi_.v00'
    taken = {'lsi_msgp.v%02x' % i for i in range(10)}
    assert iso.local_name('lsi-msgpt3', 'vgz', taken) == 'lsi_msgp.v0a'
    assert iso.local_name('tools', 'tgz', set()) == 'tools.t00'
    assert iso.local_name('BOOTx64.EFI', 'boot_loader_efi', set()) == 'bootx64..b00'


@pytest.mark.skipif(shared_fixtures() is None, reason='shared fixtures not found')
def test_80_modules_are_those_of_a_real_80u3_iso(built):
    real = (shared_fixtures() / 'bootcfg-isolinux-samples' / 'esxi-8.0.3-uefi-http-prefix.boot.cfg').read_text()
    [line] = [line for line in real.splitlines() if line.startswith('modules=')]
    facts = built[('80', False)]
    assert [m.lstrip('/') for m in facts['boot']['bios']['modules']] == line[len('modules=') :].split(' --- ')
    nineteen = [m.lstrip('/') for m in built[('90', False)]['boot']['bios']['modules']]
    assert nineteen == [m for m in line[len('modules=') :].split(' --- ') if m != 'procfs.b00']
