# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._publish import netboot, pxe
from ansible_collections.esxi.customizer.plugins.module_utils._formats.bootcfg import BootCfg
from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._publish.pxe import PxeError, Request, normalize_mac
from ansible_collections.esxi.customizer.plugins.module_utils._publish.treesync import PublishError
from ansible_collections.esxi.customizer.tests.fixturegen import iso as isogen
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures as _shared_dir


def shared_fixtures():
    found = _shared_dir()
    if found is None:
        pytest.skip('shared fixtures not found (set ESXI_SHARED_FIXTURES)')
    return str(found)


@pytest.fixture(scope='module')
def isos(tmp_path_factory):
    base = tmp_path_factory.mktemp('isos')
    out = {}
    for style in ('6x', '70', '80', '90'):
        path = str(base / ('esxi%s.iso' % style))
        out[style] = (path, isogen.build_esxi_iso(path, style=style))
    path = str(base / 'esxi70jr.iso')
    out['70jr'] = (path, isogen.build_esxi_iso(path, style='70', joliet_rock_ridge=True))
    return out


def iso_file(iso_path, name):
    """Bytes of a file read by an independent reader (xorriso), for comparisons."""
    out = '%s.extract.%d' % (iso_path, os.getpid())
    try:
        subprocess.run(['xorriso', '-indev', iso_path, '-osirrox', 'on', '-extract', name, out], check=True, capture_output=True)
        with open(out, 'rb') as handle:
            return handle.read()
    finally:
        if os.path.exists(out):
            os.chmod(out, 0o600)
            os.unlink(out)


def snapshot(root):
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            st = os.stat(full)
            out[os.path.relpath(full, root)] = (st.st_mtime_ns, st.st_ino, st.st_size)
    return out


def run(src, dest, check=False, **kw):
    return pxe.publish(Request(src=src, dest=str(dest), **kw), check_mode=check)


# -- small pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize('given', ['00:50:56:AA:bb:0C', '00-50-56-aa-bb-0c', '0050.56aa.bb0c', '005056AABB0C', ' 00:50:56:aa:bb:0c '])
def test_mac_forms_normalise(given):
    assert normalize_mac(given) == '00-50-56-aa-bb-0c'


@pytest.mark.parametrize(
    'bad',
    [
        '00:50:56:aa:bb',
        '00:50:56:aa:bb:cc:dd',
        'zz:50:56:aa:bb:cc',
        '00:50-56:aa:bb:cc',
        '0:50:56:aa:bb:cc:0',
        '',
        None,
        '00:50:56:aa:bb:c',
        '../../etc/passwd',
    ],
)
def test_bad_macs_are_refused_clearly(bad):
    with pytest.raises(PxeError, match='invalid MAC address'):
        normalize_mac(bad)


@pytest.mark.parametrize('bad', ['..', '../x', 'a/b', '/abs', '.hidden', '-x', 'a b', 'pxelinux.cfg', '', 'x' * 200, 'a..b'])
def test_bad_names_are_refused(bad):
    with pytest.raises(PxeError, match='invalid name'):
        pxe.check_name(bad)


def test_default_name_from_version_and_build():
    assert pxe.default_name('6.7.0', '6.7.0-0.0.8169922') == 'esxi-6.7.0-8169922'
    with pytest.raises(PxeError, match='set the name option'):
        pxe.default_name(None, '')


@pytest.mark.parametrize(
    'iso_name, expected',
    [
        ('/B.B00;1', 'b.b00'),
        ('/EFI/BOOT/BOOTX64.EFI;1', 'efi/boot/bootx64.efi'),
        ('/README.;1', 'readme'),
        ('/.DISCINFO;1', '.discinfo'),
        ('/upgrade/Profile.xml', 'upgrade/profile.xml'),
    ],
)
def test_tree_path(iso_name, expected):
    assert pxe.tree_path(iso_name) == expected


@pytest.mark.parametrize('bad', ['/../ETC/PASSWD', '/A/../../B', '/.;1'])
def test_tree_path_refuses_escapes(bad):
    with pytest.raises(FormatError, match='unsafe file name'):
        pxe.tree_path(bad)


def test_network_bootcfg_on_the_stock_702_file_does_what_vmware_documents():
    path = os.path.join(shared_fixtures(), 'bootcfg-isolinux-samples', 'esxi-7.0.2-hpe-iso-STOCK.boot.cfg')
    with open(path, 'rb') as handle:
        stock = BootCfg.parse(handle.read(), path)
    cfg = netboot.network_bootcfg(stock, 'esxi-7.0.2-17630552', 'http://10.0.0.1/ks/esx01.cfg', kernelopt_add=['netdevice=vmnic1'])
    assert cfg.prefix == 'esxi-7.0.2-17630552'
    assert cfg.kernel == 'b.b00'
    assert [m.path for m in cfg.modules] == [m.path.lstrip('/') for m in stock.modules]
    assert cfg.kernelopt == 'runweasel netdevice=vmnic1 ks=http://10.0.0.1/ks/esx01.cfg'
    assert cfg.build == stock.build and cfg.get('updated') == stock.get('updated')
    # the result has the shape of the real PXE boot.cfg files published by other people
    real = os.path.join(shared_fixtures(), 'bootcfg-isolinux-samples', 'esxi-8.0.2-pxe-http-prefix.boot.cfg')
    with open(real, 'rb') as handle:
        real_cfg = BootCfg.parse(handle.read())
    assert not real_cfg.kernel.startswith('/') and not any(m.path.startswith('/') for m in real_cfg.modules)
    assert real_cfg.keys() == cfg.keys()


def test_network_bootcfg_6x_tboot_lowercases_and_keeps_option_strings():
    path = os.path.join(shared_fixtures(), 'bootcfg-isolinux-samples', 'esxi-6.x-hpe-tboot-ks.boot.cfg')
    with open(path, 'rb') as handle:
        stock = BootCfg.parse(handle.read(), path)
    cfg = netboot.network_bootcfg(stock, 'http://srv/esxi6', None)
    assert cfg.kernel == 'tboot.b00' and cfg.prefix == 'http://srv/esxi6'
    assert cfg.kickstart == 'cdrom:/KS_CUST.CFG'  # kept when no kickstart_url: the publisher warns about it
    cfg = netboot.network_bootcfg(BootCfg.parse(b'kernel=/B.B00\nkernelopt=cdromBoot runweasel\nmodules=/b.b00 ks=usb --- /S.V00\n'), 'p', None)
    assert cfg.serialize() == b'prefix=p\nkernel=b.b00\nkernelopt=runweasel\nmodules=b.b00 ks=usb --- s.v00\n'


# -- whole publications ----------------------------------------------------------------------------


@pytest.mark.parametrize('style', ['6x', '70', '80', '90', '70jr'])
def test_publish_extracts_every_file_and_rewrites_boot_cfg(isos, tmp_path, style):
    src, facts = isos[style]
    dest = tmp_path / 'tftp'
    dest.mkdir()
    result = run(src, dest, kickstart_url='http://ks.example/esx.cfg', hosts=[{'mac': '00:50:56:01:02:03', 'hostname': 'esx01'}])
    name = 'esxi-%s-%s' % (facts['esxi_version'], facts['build'])
    assert result['changed'] and result['name'] == name and result['prefix'] == name
    tree = dest / name
    for iso_name in facts['files']:
        rel = iso_name.lstrip('/').lower()
        if rel in ('boot.cfg', 'efi/boot/boot.cfg'):
            continue
        assert (tree / rel).read_bytes() == iso_file(src, iso_name), rel
    for rel in ('boot.cfg', 'efi/boot/boot.cfg'):
        cfg = BootCfg.parse((tree / rel).read_bytes())
        assert cfg.prefix == name
        assert 'cdromBoot' not in cfg.kernelopt and cfg.kickstart == 'http://ks.example/esx.cfg'
        for path in [cfg.kernel] + [m.path for m in cfg.modules]:
            assert not path.startswith('/') and (tree / path).is_file(), path
    bootx64 = '/efi/boot/bootx64.efi' if facts['joliet'] else '/EFI/BOOT/BOOTX64.EFI'
    assert (tree / 'mboot.efi').read_bytes() == iso_file(src, bootx64)
    host_cfg = BootCfg.parse((tree / '01-00-50-56-01-02-03' / 'boot.cfg').read_bytes())
    assert host_cfg.title == ('Loading ESX installer for esx01' if style == '90' else 'Loading ESXi installer for esx01')
    pxelinux = (dest / 'pxelinux.cfg' / '01-00-50-56-01-02-03').read_text()
    assert 'KERNEL %s/mboot.c32' % name in pxelinux
    assert 'APPEND -c %s/01-00-50-56-01-02-03/boot.cfg' % name in pxelinux and 'IPAPPEND 2' in pxelinux
    menu = (dest / 'pxelinux.cfg' / ('%s.menu' % name)).read_text()
    assert 'APPEND -c %s/boot.cfg' % name in menu
    assert '%s %s installer' % ('ESX' if style == '90' else 'ESXi', facts['esxi_version']) in menu
    assert result['hosts'] == {
        '00-50-56-01-02-03': ['%s/01-00-50-56-01-02-03/boot.cfg' % name, 'pxelinux.cfg/01-00-50-56-01-02-03', '%s/01-00-50-56-01-02-03/boot.ipxe' % name]
    }


def test_crypto64_is_copied_beside_mboot_efi_when_present(isos, tmp_path):
    src, facts = isos['70']
    assert '/EFI/BOOT/CRYPTO64.EFI' in facts['files']
    result = run(src, tmp_path, name='e70', bootloaders=['uefi'])
    assert (tmp_path / 'e70/crypto64.efi').read_bytes() == iso_file(src, '/EFI/BOOT/CRYPTO64.EFI')
    assert 'pxelinux.cfg/e70.menu' not in result['files_written'] and not (tmp_path / 'pxelinux.cfg').exists()
    assert 'e70/boot.ipxe' not in result['files_written']


def test_http_url_becomes_the_prefix_and_the_ipxe_base(isos, tmp_path):
    src, _facts = isos['80']
    result = run(src, tmp_path, name='e80', http_url='http://10.1.1.1:8080/pxe/e80/', hosts=[{'mac': '00:50:56:01:02:03'}])
    assert result['prefix'] == 'http://10.1.1.1:8080/pxe/e80'
    assert BootCfg.parse((tmp_path / 'e80/boot.cfg').read_bytes()).prefix == 'http://10.1.1.1:8080/pxe/e80'
    script = (tmp_path / 'e80/01-00-50-56-01-02-03/boot.ipxe').read_text()
    assert 'kernel http://10.1.1.1:8080/pxe/e80/efi/boot/bootx64.efi -c http://10.1.1.1:8080/pxe/e80/01-00-50-56-01-02-03/boot.cfg' in script
    assert 'BOOTIF=01-00-50-56-01-02-03' in script


def test_rerun_is_a_noop_without_opening_the_iso(isos, tmp_path, monkeypatch):
    src, _facts = isos['70']
    hosts = [{'mac': '00:50:56:00:00:%02x' % i, 'kickstart_url': 'http://ks/%d.cfg' % i} for i in range(3)]
    run(src, tmp_path, name='e70', hosts=hosts, kickstart_url='http://ks/default.cfg')
    before = snapshot(tmp_path)

    def no_pycdlib(path):
        raise AssertionError('the ISO metadata was parsed again')

    monkeypatch.setattr(pxe, '_open_image', no_pycdlib)
    result = run(src, tmp_path, name='e70', hosts=hosts, kickstart_url='http://ks/default.cfg')
    assert not result['changed'] and result['files_written'] == [] and result['files_removed'] == []
    assert snapshot(tmp_path) == before


def test_changing_one_host_changes_one_file(isos, tmp_path):
    src, _facts = isos['70']
    hosts = [{'mac': '00:50:56:00:00:%02x' % i, 'kickstart_url': 'http://ks/%d.cfg' % i} for i in range(3)]
    run(src, tmp_path, name='e70', hosts=hosts)
    before = snapshot(tmp_path)
    hosts[1]['kickstart_url'] = 'http://ks/new.cfg'
    result = run(src, tmp_path, name='e70', hosts=hosts)
    assert result['changed'] and result['files_written'] == ['e70/01-00-50-56-00-00-01/boot.cfg']
    after = snapshot(tmp_path)
    assert sorted(k for k in after if after[k] != before.get(k)) == ['e70/.esxi-customizer-pxe.json', 'e70/01-00-50-56-00-00-01/boot.cfg']
    assert [d['after_header'] for d in result['diff']] == ['e70/01-00-50-56-00-00-01/boot.cfg']
    assert 'ks=http://ks/1.cfg' in result['diff'][0]['before'] and 'ks=http://ks/new.cfg' in result['diff'][0]['after']


def test_removed_host_files_go_away(isos, tmp_path):
    src, _facts = isos['70']
    run(src, tmp_path, name='e70', hosts=[{'mac': '00:50:56:00:00:01'}, {'mac': '00:50:56:00:00:02'}])
    result = run(src, tmp_path, name='e70', hosts=[{'mac': '00:50:56:00:00:01'}])
    assert sorted(result['files_removed']) == ['e70/01-00-50-56-00-00-02/boot.cfg', 'e70/01-00-50-56-00-00-02/boot.ipxe', 'pxelinux.cfg/01-00-50-56-00-00-02']
    assert not (tmp_path / 'e70/01-00-50-56-00-00-02').exists()


def test_check_mode_reports_without_writing(isos, tmp_path):
    src, _facts = isos['70']
    result = run(src, tmp_path, check=True, name='e70', kickstart_url='http://ks/a.cfg')
    assert result['changed'] and 'e70/boot.cfg' in result['files_written'] and os.listdir(tmp_path) == []
    assert {d['after_header'] for d in result['diff']} == {'e70/boot.cfg', 'e70/efi/boot/boot.cfg'}
    run(src, tmp_path, name='e70', kickstart_url='http://ks/a.cfg')
    before = snapshot(tmp_path)
    result = run(src, tmp_path, check=True, name='e70', kickstart_url='http://ks/b.cfg')
    assert result['changed'] and sorted(result['files_written']) == ['e70/boot.cfg', 'e70/efi/boot/boot.cfg']
    assert snapshot(tmp_path) == before


def test_new_iso_rewrites_only_what_differs(isos, tmp_path):
    src, _facts = isos['70']
    run(src, tmp_path, name='e', kickstart_url='http://ks/a.cfg')
    other = str(tmp_path.parent / 'rebuilt.iso')
    isogen.build_esxi_iso(other, style='70', kernelopt='runweasel cdromBoot noIOMMU')
    result = run(other, tmp_path, name='e', kickstart_url='http://ks/a.cfg')
    assert sorted(result['files_written']) == ['e/boot.cfg', 'e/efi/boot/boot.cfg']
    assert 'noIOMMU' in (tmp_path / 'e/boot.cfg').read_text()


def test_state_absent_removes_exactly_what_was_published(isos, tmp_path):
    src, _facts = isos['70']
    (tmp_path / 'pxelinux.cfg').mkdir()
    (tmp_path / 'pxelinux.cfg/default').write_text('DEFAULT local\n')
    (tmp_path / 'pxelinux.0').write_bytes(b'x')
    run(src, tmp_path, name='e70', hosts=[{'mac': '00:50:56:00:00:01'}])
    check = pxe.unpublish(Request(src=None, dest=str(tmp_path), name='e70'), check_mode=True)
    assert check['changed'] and (tmp_path / 'e70').exists()
    result = pxe.unpublish(Request(src=None, dest=str(tmp_path), name='e70'))
    assert result['changed'] and len(result['files_removed']) > 50
    assert sorted(os.listdir(tmp_path)) == ['pxelinux.0', 'pxelinux.cfg']
    assert os.listdir(tmp_path / 'pxelinux.cfg') == ['default']
    again = pxe.unpublish(Request(src=None, dest=str(tmp_path), name='e70'))
    assert not again['changed']


def test_two_names_coexist_and_conflicting_host_files_are_refused(isos, tmp_path):
    run(isos['70'][0], tmp_path, name='e70', hosts=[{'mac': '00:50:56:00:00:01'}])
    run(isos['80'][0], tmp_path, name='e80', hosts=[{'mac': '00:50:56:00:00:02'}])
    with pytest.raises(PublishError, match="01-00-50-56-00-00-01: is published by 'e70'; remove the host from that publication"):
        run(isos['80'][0], tmp_path, name='e80', hosts=[{'mac': '00:50:56:00:00:01'}])
    assert 'e70/' in (tmp_path / 'pxelinux.cfg/01-00-50-56-00-00-01').read_text()


def test_thousand_hosts_cost_one_tree_plus_small_files(isos, tmp_path):
    src, facts = isos['70']
    hosts = [{'mac': '02:00:00:00:%02x:%02x' % (i // 256, i % 256)} for i in range(1000)]
    result = run(src, tmp_path, name='e70', hosts=hosts)
    tree_files = len(facts['files'])
    assert len(result['files_written']) == tree_files + 4 + 3 * 1000  # + mboot.efi, crypto64.efi, boot.ipxe, menu
    big = [path for path in result['files_written'] if '/01-' in path or path.startswith('pxelinux.cfg/')]
    assert max(os.path.getsize(tmp_path / path) for path in big) < 4096


def test_symlink_in_dest_is_refused(isos, tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    dest = tmp_path / 'dest'
    dest.mkdir()
    os.symlink(outside, dest / 'pxelinux.cfg')
    with pytest.raises(PublishError, match='symlink'):
        run(isos['70'][0], dest, name='e70')
    assert os.listdir(outside) == []


def test_bad_requests_fail_clearly(isos, tmp_path):
    src = isos['70'][0]
    with pytest.raises(PxeError, match='listed twice'):
        run(src, tmp_path, hosts=[{'mac': '00:50:56:00:00:01'}, {'mac': '00-50-56-00-00-01'}])
    with pytest.raises(PxeError, match='http_url'):
        run(src, tmp_path, http_url='ftp://x/y')
    with pytest.raises(PxeError, match='bootloaders'):
        run(src, tmp_path, bootloaders=['bios', 'pxe'])
    with pytest.raises(PxeError, match='single word'):
        run(src, tmp_path, kernelopt_add=['a b'])
    with pytest.raises(PxeError, match='invalid MAC'):
        run(src, tmp_path, hosts=[{'mac': 'nope'}])
    assert os.listdir(tmp_path) == []


def test_non_esxi_and_truncated_isos_fail_clearly(tmp_path):
    tree = tmp_path / 'tree'
    tree.mkdir()
    (tree / 'hello.txt').write_text('hi')
    plain = tmp_path / 'plain.iso'
    subprocess.run(['xorriso', '-as', 'mkisofs', '-quiet', '-o', str(plain), str(tree)], check=True, capture_output=True)
    dest = tmp_path / 'dest'
    dest.mkdir()
    with pytest.raises(EsxiCustomizerError, match='not an ESXi installer ISO'):
        run(str(plain), dest, name='x')
    cut = tmp_path / 'cut.iso'
    cut.write_bytes(plain.read_bytes()[:40000])
    with pytest.raises(EsxiCustomizerError, match='truncated|not an ISO'):
        run(str(cut), dest, name='x')
    with pytest.raises(EsxiCustomizerError, match='cannot open'):
        run(str(tmp_path / 'missing.iso'), dest, name='x')
    assert os.listdir(dest) == []


def test_bootcfg_module_missing_from_iso_is_refused(tmp_path):
    src = str(tmp_path / 'broken.iso')
    isogen.build_esxi_iso(src, style='70', breakage='bootcfg-module-not-on-iso')
    dest = tmp_path / 'dest'
    dest.mkdir()
    with pytest.raises(FormatError, match='does not contain'):
        run(src, dest, name='x')
    assert os.listdir(dest) == []


def test_cdrom_kickstart_is_warned_about(tmp_path):
    src = str(tmp_path / 'ks.iso')
    isogen.build_esxi_iso(src, style='70', kernelopt='runweasel ks=cdrom:/KS.CFG', extra_files={'/KS.CFG': b'vmaccepteula\n'})
    result = run(src, tmp_path, name='ks')
    assert any('ks=cdrom:/KS.CFG' in warning for warning in result['warnings'])
    result = run(src, tmp_path, name='ks', kickstart_url='http://ks/x.cfg')
    assert not result['warnings']


def test_manifest_lists_only_relative_paths_and_digests(isos, tmp_path):
    src, _facts = isos['6x']
    run(src, tmp_path, name='e6')
    doc = json.loads((tmp_path / 'e6' / pxe.MANIFEST).read_text())
    assert doc['owner'] == {'tool': pxe.TOOL, 'name': 'e6'}
    assert all(not path.startswith('/') and '..' not in path for path in doc['files'])
    # generated files carry their digest; ISO files record where they came from (hashed only when compared)
    for path, rec in doc['files'].items():
        if path.endswith(('boot.cfg', '.ipxe', '.menu')) or path.startswith('pxelinux.cfg/'):
            assert len(rec['sha256']) == 64, path
        else:
            assert rec['from'] and rec['size'] == os.path.getsize(tmp_path / path), path


def test_hostname_is_any_single_line(isos, tmp_path):
    src = isos['70'][0]
    result = run(src, tmp_path, name='e70', hosts=[{'mac': '00:50:56:00:00:01', 'hostname': 'esx_01 (rack 4)'}])
    assert 'title=Loading ESXi installer for esx_01 (rack 4)' in (tmp_path / result['hosts']['00-50-56-00-00-01'][0]).read_text()
    with pytest.raises(PxeError, match='invalid hostname'):
        run(src, tmp_path, name='e70', hosts=[{'mac': '00:50:56:00:00:01', 'hostname': 'esx01\nDEFAULT evil'}])


def test_state_absent_can_derive_the_name_from_the_iso(isos, tmp_path):
    src, facts = isos['6x']
    published = run(src, tmp_path)
    assert published['name'] == 'esxi-%s-%s' % (facts['esxi_version'], facts['build'])
    result = pxe.unpublish(Request(src=src, dest=str(tmp_path)))
    assert result['changed'] and result['name'] == published['name'] and os.listdir(tmp_path) == []
    with pytest.raises(PxeError, match='needs name'):
        pxe.unpublish(Request(src=None, dest=str(tmp_path)))


def _remaster_bios_only_6x(src, dest):
    """``src`` as a 5.x/6.x-era VMware master: BIOS entry only, no EFI/ tree, no ;1 versions, VMware's file names,
    a boot.cfg with upper-case keys, CRLF, a comment, no build= line and no final newline."""
    tree = dest + '.tree'
    subprocess.run(['xorriso', '-osirrox', 'on', '-indev', src, '-extract', '/', tree], check=True, capture_output=True)
    subprocess.run(['chmod', '-R', 'u+w', tree], check=True)
    subprocess.run(['rm', '-r', os.path.join(tree, 'EFI'), os.path.join(tree, 'EFIBOOT.IMG')], check=True)
    with open(os.path.join(tree, 'VMWARE-ESX-BASE-OSL.TXT'), 'wb') as handle:
        handle.write(b'licenses\n')
    with open(os.path.join(tree, 'BOOT.CFG'), 'rb') as handle:
        lines = [line for line in handle.read().decode().splitlines() if not line.startswith('build=')]
    text = '# VMware boot.cfg\r\n' + '\r\n'.join(key.upper() + '=' + value for key, value in (line.split('=', 1) for line in lines))
    with open(os.path.join(tree, 'BOOT.CFG'), 'wb') as handle:
        handle.write(text.encode())
    subprocess.run(
        [
            'xorriso',
            '-as',
            'mkisofs',
            '-quiet',
            '-o',
            dest,
            '-V',
            'ESXI-6.7.0-TEST',
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
            tree,
        ],
        check=True,
        capture_output=True,
    )
    return dest


def test_bios_only_vmware_master_without_build_line(isos, tmp_path):
    src = _remaster_bios_only_6x(isos['6x'][0], str(tmp_path / 'esxi6x-bios.iso'))
    (tmp_path / 'all').mkdir()
    (tmp_path / 'tftp').mkdir()
    with pytest.raises(FormatError, match=r'has no EFI/BOOT/BOOTX64.EFI.*bootloaders: \[bios\]'):
        run(src, tmp_path / 'all')
    result = run(src, tmp_path / 'tftp', bootloaders=['bios'], kickstart_url='http://10.0.0.1/ks.cfg')
    facts = isos['6x'][1]
    assert result['name'] == 'esxi-%s-%s' % (facts['esxi_version'], facts['build'].split('.')[-1])  # from esx-base
    tree = tmp_path / 'tftp' / result['name']
    assert (tree / 'vmware-esx-base-osl.txt').read_bytes() == b'licenses\n'
    assert not (tree / 'efi').exists() and not (tree / 'mboot.efi').exists()
    cfg = BootCfg.parse((tree / 'boot.cfg').read_bytes())
    assert cfg.prefix == result['name'] and 'cdromBoot' not in cfg.kernelopt and cfg.kickstart == 'http://10.0.0.1/ks.cfg'
    assert cfg.kernel == 'tboot.b00' and all(not m.path.startswith('/') for m in cfg.modules)
    for path in [cfg.kernel] + [m.path for m in cfg.modules]:
        assert (tree / path).is_file(), path
    written = (tree / 'boot.cfg').read_bytes()
    assert (b'\r\nprefix=%s\r\n' % result['name'].encode()) in written.lower()  # the file's own line endings
    assert b'\r\nKERNEL=tboot.b00\r\n' in written and written.startswith(b'# VMware boot.cfg\r\n')


def test_per_host_kickstarts_are_published_beside_their_boot_cfg(tmp_path, isos):
    dest = tmp_path / 'srv'
    dest.mkdir()
    hosts = [
        {'mac': '00:50:56:aa:bb:01', 'hostname': 'esx01', 'kickstart': 'vmaccepteula\nnetwork --ip=10.0.0.11\nrootpw --iscrypted $6$a\n'},
        {'mac': '00:50:56:aa:bb:02', 'hostname': 'esx02', 'kickstart': 'vmaccepteula\nnetwork --ip=10.0.0.12\nrootpw hunter2\n'},
    ]
    result = run(isos['70'][0], dest, name='esxi70', http_url='http://10.0.0.1/tftp/esxi70', hosts=hosts)
    for host, ip in (('01-00-50-56-aa-bb-01', '10.0.0.11'), ('01-00-50-56-aa-bb-02', '10.0.0.12')):
        assert ('--ip=%s' % ip) in (dest / 'esxi70' / host / 'ks.cfg').read_text()
        assert 'ks=http://10.0.0.1/tftp/esxi70/%s/ks.cfg' % host in (dest / 'esxi70' / host / 'boot.cfg').read_text()
    assert any('plaintext root password' in w for w in result['warnings'])
    assert 'hunter2' not in repr(result)
    again = run(isos['70'][0], dest, name='esxi70', http_url='http://10.0.0.1/tftp/esxi70', hosts=hosts)
    assert not again['changed']


def test_host_kickstarts_need_http_url(tmp_path, isos):
    dest = tmp_path / 'srv'
    dest.mkdir()
    with pytest.raises(PxeError, match='host kickstarts .* need http_url'):
        run(isos['70'][0], dest, name='esxi70', hosts=[{'mac': '00:50:56:aa:bb:01', 'kickstart': 'vmaccepteula\n'}])


def test_the_diff_shows_one_module_a_line(tmp_path, isos):
    """A 3 KB modules= line is shown as the modules, each on its line, so a diff names what was added or removed."""
    result = run(isos['70'][0], tmp_path, name='esxi70', check=True)
    after = {d['after_header']: d['after'] for d in result['diff']}['esxi70/boot.cfg']
    lines = after.splitlines()
    assert 'modules=' in lines and not any(line.startswith('modules=/') or line.startswith('modules=b') for line in lines)
    assert '  s.v00' in lines, lines
