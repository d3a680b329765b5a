# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import (
    CompatibilityError,
    FormatError,
    UnsafeArchiveError,
)
from ansible_collections.esxi.customizer.plugins.module_utils._formats.legacy_tgz import read_legacy_tgz
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import Limits
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import parse_descriptor, verify_payload
from ansible_collections.esxi.customizer.tests.fixturegen import packages


def write(tmp_path, data, name='driver.tgz'):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_good_tgz_becomes_a_community_vib(tmp_path):
    data = packages.build_legacy_tgz('r8169', pci_ids=(('10ec', '8169'), ('10ec', '8167')), map_dir='etc/vmware/driver.map.d')
    path = write(tmp_path, data)
    legacy = read_legacy_tgz(path)
    d = legacy.descriptor
    assert (d.name, d.version, d.vendor, d.type, d.acceptance_level) == ('r8169', '1.0', 'OEM', 'bootbank', 'community')
    assert d.vib_id == 'OEM_bootbank_r8169_1.0'
    assert d.files == ['etc/vmware/driver.map.d/r8169.map', 'usr/lib/vmware/vmkmod/r8169', 'usr/share/hwdata/driver.pciids.d/r8169.ids']
    assert [c.name for c in d.depends] == ['vmkapi_2_0_0_0', 'com.vmware.driverAPI-9.2.1.0']
    [payload] = d.payloads
    assert (payload.name, payload.type, payload.size) == ('r8169', 'tgz', len(data))
    # the checksums are the tgz's own, in VMware's order, and verify against the unchanged bytes
    assert [(c.checksum_type, c.verify_process) for c in payload.checksums] == [('sha-256', 'gunzip'), ('sha-256', None), ('sha-1', 'gunzip')]
    assert payload.checksums[1].value == hashlib.sha256(data).hexdigest()
    assert payload.checksums[0].value == hashlib.sha256(gzip.decompress(data)).hexdigest()
    assert verify_payload(payload, io.BytesIO(data)).checksum_ok is True
    assert parse_descriptor(d.to_xml()) == d
    assert legacy.module_info.license == 'GPL' and legacy.module_info.vmklinux
    assert b'10ec:8167' in legacy.map_bytes and b'8169' in legacy.ids_bytes
    assert legacy.warnings == []


def test_faq_map_location_is_accepted_with_a_warning(tmp_path):
    legacy = read_legacy_tgz(write(tmp_path, packages.build_legacy_tgz('e1000', map_dir='etc/vmware')))
    assert legacy.map_path == 'etc/vmware/e1000.map'
    assert 'etc/vmware/driver.map.d/' in legacy.warnings[0]


def test_naming_overrides(tmp_path):
    legacy = read_legacy_tgz(write(tmp_path, packages.build_legacy_tgz('r8169')), name='net-r8169', version='2.0-1', vendor='ACME')
    assert legacy.descriptor.vib_id == 'ACME_bootbank_net-r8169_2.0-1'
    assert legacy.descriptor.payloads[0].name == 'net-r8169'


@pytest.mark.parametrize(
    'omit, message',
    [
        ('module', 'missing the vmkernel module (usr/lib/vmware/vmkmod/<module>)'),
        ('map', 'missing the driver map (etc/vmware/driver.map.d/<name>.map)'),
        ('ids', 'missing the PCI ID file (usr/share/hwdata/driver.pciids.d/<name>.ids)'),
    ],
)
def test_each_missing_kind_is_named(tmp_path, omit, message):
    path = write(tmp_path, packages.build_legacy_tgz('r8169', omit=omit))
    with pytest.raises(FormatError) as err:
        read_legacy_tgz(path)
    assert str(err.value).startswith(path + ': not a legacy driver tgz')
    assert message in str(err.value)


def test_extra_files_are_named(tmp_path):
    path = write(tmp_path, packages.build_legacy_tgz('r8169', extra={'etc/rc.local': b'evil'}))
    with pytest.raises(FormatError, match=r'unexpected extra file\(s\): etc/rc.local'):
        read_legacy_tgz(path)


def test_two_modules_are_extra(tmp_path):
    extra = {'usr/lib/vmware/vmkmod/other': packages.vmkmod_elf('other')}
    path = write(tmp_path, packages.build_legacy_tgz('r8169', extra=extra))
    with pytest.raises(FormatError, match='more than one module: usr/lib/vmware/vmkmod/other, usr/lib/vmware/vmkmod/r8169'):
        read_legacy_tgz(path)


def test_esx4_package_is_refused_with_the_faq_explanation(tmp_path):
    path = write(tmp_path, packages.build_legacy_tgz('cciss', legacy4x=True))
    with pytest.raises(CompatibilityError) as err:
        read_legacy_tgz(path)
    text = str(err.value)
    assert 'etc/vmware/simple.map' in text and 'ESX(i) 4.x' in text
    assert 'Module does not provide a license tag' in text


def test_module_without_license_is_flagged(tmp_path):
    files = packages.driver_files('r8169', [('10ec', '8169')], 'linux', license=None)
    legacy = read_legacy_tgz(write(tmp_path, packages.tar_gz(files)))
    assert legacy.module_info.esx4
    assert any('Module does not provide a license tag' in w for w in legacy.warnings)


def test_missing_parent_directories_warn(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.GNU_FORMAT) as tar:
        for name, data in packages.driver_files('r8169', [('10ec', '8169')], 'linux').items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    legacy = read_legacy_tgz(write(tmp_path, gzip.compress(raw.getvalue())))
    assert any('lacks directory entries for etc, etc/vmware' in w for w in legacy.warnings)


def _tgz_with(tmp_path, members):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return write(tmp_path, gzip.compress(raw.getvalue()))


def test_symlink_member_is_unsafe(tmp_path):
    link = tarfile.TarInfo('usr/lib/vmware/vmkmod/r8169')
    link.type, link.linkname = tarfile.SYMTYPE, '/etc/shadow'
    with pytest.raises(UnsafeArchiveError, match="is a link \\(to '/etc/shadow'\\)"):
        read_legacy_tgz(_tgz_with(tmp_path, [(link, None)]))


@pytest.mark.parametrize(
    'name, message', [('../../etc/passwd', 'contains ".."'), ('/../etc/passwd', 'contains ".."'), ('C:/usr/lib/vmware/vmkmod/x', 'is absolute')]
)
def test_escaping_paths_are_unsafe(tmp_path, name, message):
    info = tarfile.TarInfo(name)
    info.size = 1
    with pytest.raises(UnsafeArchiveError, match=message):
        read_legacy_tgz(_tgz_with(tmp_path, [(info, b'x')]))


def test_not_gzip_and_truncated(tmp_path):
    with pytest.raises(FormatError, match='not a gzip file'):
        read_legacy_tgz(write(tmp_path, b'PK\x03\x04 not a tgz'))
    data = packages.build_legacy_tgz('r8169')
    with pytest.raises(FormatError, match='truncated'):
        read_legacy_tgz(write(tmp_path, data[: len(data) // 2]))
    with pytest.raises(FormatError, match='not a valid tar archive'):
        read_legacy_tgz(write(tmp_path, gzip.compress(b'this is no tar' * 100)))


def test_gzip_bomb_is_stopped(tmp_path):
    info = tarfile.TarInfo('usr/lib/vmware/vmkmod/zero')
    info.size = 32 * 1024 * 1024
    path = _tgz_with(tmp_path, [(info, b'\x00' * info.size)])
    with pytest.raises(UnsafeArchiveError, match='compression ratio above 200:1'):
        read_legacy_tgz(path)
    with pytest.raises(UnsafeArchiveError, match='max_uncompressed_size'):
        read_legacy_tgz(path, Limits(max_uncompressed_size=1024 * 1024))


def _driver_tgz(tmp_path, prefix, files=None, dirs=None):
    """A legacy tgz as tar(1) writes it from a directory: ``prefix`` ('./', '/') before every name."""
    files = files if files is not None else packages.driver_files('r8169', [('10ec', '8169')], 'linux')
    dirs = dirs if dirs is not None else packages._parent_dirs(files)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.GNU_FORMAT) as tar:
        if prefix:
            root = tarfile.TarInfo(prefix)
            root.type = tarfile.DIRTYPE
            tar.addfile(root)
        for name in dirs:
            info = tarfile.TarInfo(prefix + name + '/')
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return write(tmp_path, gzip.compress(raw.getvalue()))


def test_dot_slash_names_as_tar_c_dot_writes_them(tmp_path):
    legacy = read_legacy_tgz(_driver_tgz(tmp_path, './'))
    assert legacy.module_path == 'usr/lib/vmware/vmkmod/r8169' and legacy.map_path == 'etc/vmware/driver.map.d/r8169.map'
    assert legacy.warnings == []


def test_absolute_names_as_the_faq_lists_them(tmp_path):
    """The FAQ names /usr/lib/vmware/vmkmod/<module>; tar -P keeps the "/": read as relative, with a warning."""
    legacy = read_legacy_tgz(_driver_tgz(tmp_path, '/'))
    assert legacy.files == ['etc/vmware/driver.map.d/r8169.map', 'usr/lib/vmware/vmkmod/r8169', 'usr/share/hwdata/driver.pciids.d/r8169.ids']
    assert len(legacy.warnings) == 1 and 'absolute member names (/etc, /etc/vmware, /etc/vmware/driver.map.d, ...)' in legacy.warnings[0]


def test_faq_map_location_with_dot_slash_names(tmp_path):
    files = packages.driver_files('r8169', [('10ec', '8169')], 'linux')
    files['etc/vmware/r8169.map'] = files.pop('etc/vmware/driver.map.d/r8169.map')
    legacy = read_legacy_tgz(_driver_tgz(tmp_path, './', files))
    assert legacy.map_path == 'etc/vmware/r8169.map' and 'may be ignored' in legacy.warnings[0]


def test_extra_directory_entries_only_are_fine(tmp_path):
    files = packages.driver_files('r8169', [('10ec', '8169')], 'linux')
    dirs = packages._parent_dirs(files) + ['opt', 'opt/vendor', 'etc/vmware/firewall', 'usr/share/hwdata/default.pciids.d']
    legacy = read_legacy_tgz(_driver_tgz(tmp_path, '', files, sorted(dirs)))
    assert legacy.warnings == [] and len(legacy.files) == 3


def test_module_file_named_differently_from_the_map_driver(tmp_path):
    files = packages.driver_files('r8168', [('10ec', '8168')], 'linux')
    files['usr/lib/vmware/vmkmod/r8168_new'] = files.pop('usr/lib/vmware/vmkmod/r8168')
    legacy = read_legacy_tgz(_driver_tgz(tmp_path, '', files))
    assert legacy.descriptor.name == 'r8168_new'
    assert legacy.warnings == [
        'etc/vmware/driver.map.d/r8168.map binds its devices to driver r8168 but the module file is '
        'r8168_new; ESXi loads the module the map names, so these devices would get no driver'
    ]


def test_malformed_map_names_the_tgz_and_the_map(tmp_path):
    files = packages.driver_files('r8169', [('10ec', '8169')], 'linux')
    files['etc/vmware/driver.map.d/r8169.map'] = b'regtype=linux,bus=pci,id=zzzz,driver=r8169\n'
    path = _driver_tgz(tmp_path, '', files)
    with pytest.raises(FormatError) as err:
        read_legacy_tgz(path)
    assert str(err.value).startswith('%s: etc/vmware/driver.map.d/r8169.map: line 1: ' % path)


def test_big_endian_module_is_a_clear_error(tmp_path):
    files = packages.driver_files('r8169', [('10ec', '8169')], 'linux')
    module = files['usr/lib/vmware/vmkmod/r8169']
    files['usr/lib/vmware/vmkmod/r8169'] = module[:5] + b'\x02' + module[6:]
    path = _driver_tgz(tmp_path, '', files)
    with pytest.raises(FormatError) as err:
        read_legacy_tgz(path)
    assert str(err.value) == ('%s: usr/lib/vmware/vmkmod/r8169: not a 64-bit little-endian ELF object (ESXi 5.x+ modules are ELF64 x86-64)' % path)


def test_native_driver_directories(tmp_path):
    """A tgz of a native (6.0+) driver keeps its map and ids in default.map.d / default.pciids.d (section 7.2/7.3)."""
    files = packages.driver_files('ne1000', [('8086', '10d3')], 'native', vmkapi='2_3_0_0')
    legacy = read_legacy_tgz(_driver_tgz(tmp_path, '', files))
    assert legacy.map_path == 'etc/vmware/default.map.d/ne1000.map'
    assert legacy.ids_path == 'usr/share/hwdata/default.pciids.d/ne1000.ids'
    assert legacy.warnings == [] and not legacy.module_info.vmklinux
    assert [c.name for c in legacy.descriptor.depends] == ['vmkapi_2_3_0_0']


@pytest.mark.parametrize('mtime', [2**40, 10**15, -5])
def test_an_impossible_member_mtime_names_the_member(tmp_path, mtime):
    plain = gzip.decompress(packages.build_legacy_tgz())
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(plain)) as src, tarfile.open(fileobj=out, mode='w', format=tarfile.GNU_FORMAT) as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name.endswith('.map'):
                member.mtime = mtime
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    path = write(tmp_path, gzip.compress(out.getvalue(), mtime=0))
    with pytest.raises(FormatError, match=r'driver.tgz: tgz member .*\.map has an impossible modification time'):
        read_legacy_tgz(path)
