# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pxe_publish's archive: ISO -> one reproducible tar on the controller, tar -> dest on a PXE server (real files)."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import tarfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso
from ansible_collections.esxi.customizer.plugins.module_utils._errors import ChecksumError, EsxiCustomizerError, FormatError, PxeError, UnsafeArchiveError
from ansible_collections.esxi.customizer.plugins.module_utils._publish import pxe, pxe_archive
from ansible_collections.esxi.customizer.plugins.module_utils._publish.pxe import Request
from ansible_collections.esxi.customizer.plugins.module_utils._publish.pxe_archive import METADATA, run
from ansible_collections.esxi.customizer.tests.fixturegen import iso as isogen

SECRET = 'rootpw --iscrypted $6$saltsalt$SECRETHASHxyz\n'
HOSTS = [
    {'mac': '00:50:56:aa:bb:01', 'hostname': 'esx01', 'kickstart': 'vmaccepteula\n' + SECRET},
    {'mac': '00-50-56-aa-bb-02', 'kernelopt_add': ['netdevice=vmnic1']},
]
OPTIONS = {
    'name': 'e70',
    'http_url': 'http://10.0.0.1/tftp/e70',
    'kickstart_url': 'http://10.0.0.1/ks/default.cfg',
    'kernelopt_add': ['noIOMMU'],
    'hosts': HOSTS,
}


@pytest.fixture(scope='module')
def iso(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('iso') / 'esxi70.iso')
    isogen.build_esxi_iso(path, style='70')
    return path


@pytest.fixture(scope='module')
def built(iso, tmp_path_factory):
    """One archive of ``iso`` with OPTIONS, shared by the tests that only read it."""
    path = str(tmp_path_factory.mktemp('archive') / 'e70.tar')
    result = write(iso, path)
    return path, result


def write(src, archive, check=False, mode=None, options=None):
    return run(Request(src=src, dest=None, **(options or OPTIONS)), archive=str(archive), mode=mode, check_mode=check)


def options_with(**changes):
    options = dict(OPTIONS)
    options.update(changes)
    return options


def apply(src, dest, check=False, **options):
    return run(Request(src=str(src), dest=str(dest), **options), check_mode=check)


def tree(root):
    """relative path -> bytes of every file below ``root``."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, 'rb') as handle:
                out[os.path.relpath(full, root)] = handle.read()
    return out


def stats(root):
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in files + dirs:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            out[os.path.relpath(full, root)] = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
    return out


def server_root(path):
    """A server root with files of somebody else in it."""
    os.makedirs(os.path.join(path, 'pxelinux.cfg'))
    with open(os.path.join(path, 'pxelinux.0'), 'wb') as handle:
        handle.write(b'not ours')
    with open(os.path.join(path, 'pxelinux.cfg', 'default'), 'wb') as handle:
        handle.write(b'DEFAULT local\n')
    return str(path)


def forge(path, metadata: dict, members):
    """A tar whose first member is ``metadata``, then ``members`` (TarInfo, bytes or None), as an attacker writes it."""
    with tarfile.open(path, 'w', format=tarfile.PAX_FORMAT) as out:
        raw = json.dumps(metadata).encode()
        info = tarfile.TarInfo(METADATA)
        info.size = len(raw)
        out.addfile(info, io.BytesIO(raw))
        for info, data in members:
            out.addfile(info, io.BytesIO(data) if data is not None else None)
    return str(path)


def metadata_of(path):
    with tarfile.open(path) as archive:
        return json.loads(archive.extractfile(METADATA).read())


# -- writing -------------------------------------------------------------------------------------


def test_archive_is_reproducible_across_runs_and_iso_copies(iso, built, tmp_path):
    first, _result = built
    copy = str(tmp_path / 'copy-of.iso')
    shutil.copyfile(iso, copy)
    second = write(copy, tmp_path / 'again.tar')
    assert second['changed']
    with open(first, 'rb') as one, open(tmp_path / 'again.tar', 'rb') as two:
        assert one.read() == two.read()


def test_archive_is_a_plain_posix_tar_with_the_metadata_first(built):
    path, result = built
    assert os.path.getsize(path) % tarfile.RECORDSIZE == 0
    with tarfile.open(path) as archive:
        members = archive.getmembers()
    assert members[0].name == METADATA and members[0].offset_data == tarfile.BLOCKSIZE
    names = [m.name for m in members[1:]]
    assert names == sorted(names, key=lambda name: name.split('/'))
    for member in members:
        assert (member.uid, member.gid, member.uname, member.gname, member.mtime) == (0, 0, '', '', pxe_archive.MTIME)
        assert member.mode == (0o755 if member.isdir() else 0o644) and (member.isdir() or member.isreg())
    files = {m.name: m.size for m in members[1:] if m.isreg()}
    meta = metadata_of(path)
    assert sorted(files) == sorted(result['files_written']) == [item['path'] for item in meta['files']]
    assert {item['path']: item['size'] for item in meta['files']} == files
    assert meta['name'] == 'e70' and meta['format'] == 1 and meta['tool'] == 'esxi.customizer.pxe_publish' and len(meta['inputs']) == 64
    assert meta['hosts'] == result['hosts'] and sorted(meta['hosts']) == ['00-50-56-aa-bb-01', '00-50-56-aa-bb-02']
    assert 'e70/01-00-50-56-aa-bb-01/ks.cfg' in files and 'pxelinux.cfg/e70.menu' in files and 'e70/mboot.efi' in files


@pytest.mark.skipif(not shutil.which('bsdtar'), reason='bsdtar is needed')
def test_bsdtar_lists_and_extracts_the_archive(built, tmp_path):
    path, _result = built
    listing = subprocess.run(['bsdtar', '-tvf', path], check=True, capture_output=True, text=True).stdout.splitlines()
    assert listing[0].split()[-1] == METADATA and all(line.split()[2:4] == ['0', '0'] for line in listing)
    out = tmp_path / 'x'
    out.mkdir()
    subprocess.run(['bsdtar', '-xf', path, '-C', str(out)], check=True)
    meta = json.loads((out / METADATA).read_text())
    for item in meta['files']:
        assert (out / item['path']).stat().st_size == item['size']


def test_an_unchanged_rerun_reads_only_the_metadata_and_writes_nothing(iso, built, monkeypatch):
    """Only the ISO's directories and small files are read (for its identity), never its payloads."""
    path, first = built
    before = os.stat(path)

    def no_publication(*args, **kwargs):
        raise AssertionError('the tree was built again')

    monkeypatch.setattr(pxe_archive, 'Publication', no_publication)
    again = write(iso, path)
    assert not again['changed'] and again['files_written'] == [] and again['diff'] == []
    assert (again['name'], again['hosts'], again['boot_cfg'], again['version']) == (first['name'], first['hosts'], first['boot_cfg'], first['version'])
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns, after.st_ctime_ns) == (before.st_ino, before.st_mtime_ns, before.st_ctime_ns)


def test_changed_options_rewrite_the_archive_and_diff_only_boot_cfg(iso, tmp_path):
    path = tmp_path / 'a.tar'
    write(iso, path)
    before = path.read_bytes()
    options = options_with(kickstart_url='http://10.0.0.1/ks/v2.cfg')
    check = write(iso, path, check=True, options=options)
    assert check['changed'] and path.read_bytes() == before
    # host 01 has its own kickstart; host 02 and the two tree boot.cfg use the default one
    names = ['e70/01-00-50-56-aa-bb-02/boot.cfg', 'e70/boot.cfg', 'e70/efi/boot/boot.cfg']
    assert [d['after_header'] for d in check['diff']] == ['%s:%s' % (path, name) for name in names]
    assert all('ks=http://10.0.0.1/ks/default.cfg' in d['before'] and 'ks=http://10.0.0.1/ks/v2.cfg' in d['after'] for d in check['diff'])
    result = write(iso, path, options=options)
    assert result['changed'] and result['diff'] == check['diff'] and path.read_bytes() != before
    assert not write(iso, path, options=options)['changed']


def test_check_mode_writes_nothing(iso, tmp_path):
    result = write(iso, tmp_path / 'a.tar', check=True)
    assert result['changed'] and result['files_written'] and os.listdir(tmp_path) == []
    assert all(d['before_header'].endswith('(absent)') for d in result['diff'])


def test_the_archive_mode_follows_the_option_and_the_umask(iso, tmp_path):
    path = tmp_path / 'a.tar'
    old = os.umask(0o077)
    try:
        write(iso, path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    inode = os.stat(path).st_ino
    result = write(iso, path, mode='0640')
    assert result['changed'] and stat.S_IMODE(os.stat(path).st_mode) == 0o640 and os.stat(path).st_ino == inode
    assert not write(iso, path, mode='0640')['changed']


def test_a_failing_write_leaves_no_file(iso, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(pxe_archive, 'copy_range_hashed', boom)
    with pytest.raises(OSError):
        write(iso, tmp_path / 'a.tar')
    assert os.listdir(tmp_path) == []


def test_bad_archive_requests_are_refused(iso, built, tmp_path):
    with pytest.raises(PxeError, match='does not exist'):
        write(iso, tmp_path / 'missing' / 'a.tar')
    with pytest.raises(PxeError, match='is a directory'):
        write(iso, tmp_path)
    with pytest.raises(PxeError, match='not both'):
        run(Request(src=iso, dest=str(tmp_path), **OPTIONS), archive=str(tmp_path / 'a.tar'))
    with pytest.raises(PxeError, match='mode applies to the archive'):
        run(Request(src=iso, dest=str(tmp_path)), mode='0600')
    with pytest.raises(PxeError, match='publication archive already'):
        write(built[0], tmp_path / 'b.tar')
    with pytest.raises(PxeError, match='only for state present'):
        run(Request(src=None, dest=None, name='e70'), state='absent', archive=str(tmp_path / 'a.tar'))
    assert os.listdir(tmp_path) == []


# -- applying ------------------------------------------------------------------------------------


def test_apply_gives_the_tree_a_direct_publish_gives(iso, built, tmp_path):
    path, _result = built
    direct, applied = server_root(tmp_path / 'direct'), server_root(tmp_path / 'applied')
    pxe.publish(Request(src=iso, dest=direct, **OPTIONS))
    result = apply(path, applied)
    assert result['changed'] and result['name'] == 'e70' and result['path'] == os.path.join(applied, 'e70')
    manifest = 'e70/' + pxe.MANIFEST
    want, got = tree(direct), tree(applied)
    assert sorted(want) == sorted(got)
    assert {k: v for k, v in want.items() if k != manifest} == {k: v for k, v in got.items() if k != manifest}
    assert sorted(result['files_written']) == sorted(k for k in got if k not in (manifest, 'pxelinux.0', 'pxelinux.cfg/default'))
    direct_manifest, applied_manifest = (json.loads(tree(root)[manifest]) for root in (direct, applied))
    assert direct_manifest['owner'] == applied_manifest['owner'] and direct_manifest['dirs'] == applied_manifest['dirs']
    assert sorted(direct_manifest['files']) == sorted(applied_manifest['files'])
    assert all(record['sha256'] for record in applied_manifest['files'].values())  # every member was hashed while copied
    for root in (direct, applied):  # files are served by another user
        assert stat.S_IMODE(os.stat(os.path.join(root, 'e70/boot.cfg')).st_mode) == 0o644


def test_reapply_is_unchanged_and_writes_nothing(built, tmp_path, monkeypatch):
    path, _result = built
    dest = server_root(tmp_path / 'srv')
    first = apply(path, dest)
    before = stats(dest)

    def no_read(self):
        raise AssertionError('a payload was read although nothing changed')

    monkeypatch.setattr(pxe_archive.ArchiveMemberSource, 'sha256', no_read)
    again = apply(path, dest)
    assert not again['changed'] and again['files_written'] == again['files_removed'] == [] and again['diff'] == []
    assert again['hosts'] == first['hosts'] and again['boot_cfg'] == first['boot_cfg']
    assert stats(dest) == before
    # a fresh copy of the same archive (what ansible.builtin.copy makes when the file changed) needs no payload read either
    copy = tmp_path / 'copy.tar'
    shutil.copyfile(path, copy)
    assert not apply(copy, dest)['changed']


def test_apply_check_mode_writes_nothing(built, tmp_path):
    dest = server_root(tmp_path / 'srv')
    before = stats(dest)
    result = apply(built[0], dest, check=True)
    assert result['changed'] and len(result['files_written']) > 50 and stats(dest) == before


def test_apply_replaces_an_earlier_publication_and_removes_what_is_no_longer_wanted(iso, tmp_path):
    dest = server_root(tmp_path / 'srv')
    pxe.publish(Request(src=iso, dest=dest, name='e70', http_url=OPTIONS['http_url'], hosts=HOSTS + [{'mac': '00:50:56:aa:bb:09'}]))
    archive = tmp_path / 'a.tar'
    write(iso, archive)
    result = apply(archive, dest)
    assert result['changed'] and sorted(result['files_removed']) == [
        'e70/01-00-50-56-aa-bb-09/boot.cfg',
        'e70/01-00-50-56-aa-bb-09/boot.ipxe',
        'pxelinux.cfg/01-00-50-56-aa-bb-09',
    ]
    assert not os.path.exists(os.path.join(dest, 'e70/01-00-50-56-aa-bb-09'))


def test_kickstarts_stay_out_of_results_and_diffs(iso, tmp_path):
    archive = tmp_path / 'a.tar'
    written = write(iso, archive)
    dest = server_root(tmp_path / 'srv')
    applied = apply(archive, dest)
    changed = options_with(hosts=[dict(HOSTS[0], kickstart='vmaccepteula\nrootpw --iscrypted $6$other$OTHERHASH\n'), HOSTS[1]])
    rewritten = write(iso, archive, options=changed)
    reapplied = apply(archive, dest)
    assert rewritten['changed'] and reapplied['files_written'] == ['e70/01-00-50-56-aa-bb-01/ks.cfg']
    for result in (written, applied, rewritten, reapplied):
        text = json.dumps(result)
        assert 'SECRETHASH' not in text and 'OTHERHASH' not in text and 'vmaccepteula' not in text
        assert not [d for d in result['diff'] if 'ks.cfg' in d['after_header']]
    assert 'OTHERHASH' in (tmp_path / 'srv/e70/01-00-50-56-aa-bb-01/ks.cfg').read_text()


@pytest.mark.parametrize(
    'option, value',
    [
        ('hosts', [{'mac': '00:50:56:aa:bb:01'}]),
        ('http_url', 'http://x/y'),
        ('kickstart_url', 'http://x/ks.cfg'),
        ('kernelopt_add', ['noIOMMU']),
        ('bootloaders', ['bios']),
    ],
)
def test_options_baked_into_the_archive_are_refused(built, tmp_path, option, value):
    dest = server_root(tmp_path / 'srv')
    with pytest.raises(PxeError, match='%s cannot be given with a publication archive' % option):
        apply(built[0], dest, **{option: value})
    assert sorted(tree(dest)) == ['pxelinux.0', 'pxelinux.cfg/default']


def test_name_must_match_the_archive(built, tmp_path):
    dest = server_root(tmp_path / 'srv')
    with pytest.raises(PxeError, match="name 'other' does not match publication 'e70'"):
        apply(built[0], dest, name='other')
    assert apply(built[0], dest, name='e70')['changed']


def test_state_absent_after_apply_removes_only_ours(built, tmp_path):
    dest = server_root(tmp_path / 'srv')
    apply(built[0], dest)
    # the name comes from the archive when it is not given
    result = run(Request(src=built[0], dest=dest), state='absent')
    assert result['changed'] and result['name'] == 'e70'
    assert sorted(tree(dest)) == ['pxelinux.0', 'pxelinux.cfg/default'] and sorted(os.listdir(dest)) == ['pxelinux.0', 'pxelinux.cfg']


def test_a_mac_published_by_another_name_is_refused(iso, built, tmp_path):
    dest = server_root(tmp_path / 'srv')
    pxe.publish(Request(src=iso, dest=dest, name='other', hosts=[{'mac': '00:50:56:aa:bb:02'}]))
    before = stats(dest)
    with pytest.raises(EsxiCustomizerError, match="is published by 'other'"):
        apply(built[0], dest)
    assert stats(dest) == before


def test_a_foreign_file_is_never_overwritten(built, tmp_path):
    dest = server_root(tmp_path / 'srv')
    (tmp_path / 'srv/pxelinux.cfg/e70.menu').write_text('mine\n')
    with pytest.raises(EsxiCustomizerError, match='was not published by this publication'):
        apply(built[0], dest)
    assert (tmp_path / 'srv/pxelinux.cfg/e70.menu').read_text() == 'mine\n' and not (tmp_path / 'srv/e70').exists()


# -- damaged and hostile archives ------------------------------------------------------------------


def _flip(path, member):
    """Damage the first byte of ``member`` in place."""
    with tarfile.open(path) as archive:
        offset = archive.getmember(member).offset_data
    with open(path, 'r+b') as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize('member', ['e70/b.b00', 'e70/01-00-50-56-aa-bb-02/boot.cfg'])
def test_a_tampered_member_is_refused_by_name_and_nothing_is_published(built, tmp_path, member):
    bad = tmp_path / 'bad.tar'
    shutil.copyfile(built[0], bad)
    _flip(bad, member)
    dest = server_root(tmp_path / 'srv')
    before, archive_before = stats(dest), bad.read_bytes()
    with pytest.raises(ChecksumError) as err:
        apply(bad, dest)
    assert str(bad) in str(err.value) and member in str(err.value)
    assert stats(dest) == before and bad.read_bytes() == archive_before


def test_a_damaged_archive_leaves_an_earlier_publication_alone(iso, built, tmp_path):
    dest = server_root(tmp_path / 'srv')
    apply(built[0], dest)
    before = stats(dest)
    # a new host: its boot.cfg, boot.ipxe, pxelinux entry and kickstart are to be written; the kickstart was damaged
    archive = tmp_path / 'v2.tar'
    write(iso, archive, options=options_with(hosts=HOSTS + [{'mac': '00:50:56:aa:bb:03', 'kickstart': 'vmaccepteula\n'}]))
    _flip(archive, 'e70/01-00-50-56-aa-bb-03/ks.cfg')
    with pytest.raises(ChecksumError, match='member e70/01-00-50-56-aa-bb-03/ks.cfg has sha256'):
        apply(archive, dest)
    assert stats(dest) == before


def _ours(built_path, **changes):
    meta = metadata_of(built_path)
    meta.update(changes)
    return meta


def _file(name, data=b'x', **attrs):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


@pytest.mark.parametrize(
    'name, attrs, message',
    [
        ('e70/link', {'type': tarfile.SYMTYPE, 'linkname': '/etc/passwd'}, "member 'e70/link' is a link"),
        ('e70/hard', {'type': tarfile.LNKTYPE, 'linkname': 'e70/boot.cfg'}, "member 'e70/hard' is a link"),
        ('e70/dev', {'type': tarfile.CHRTYPE, 'devmajor': 1, 'devminor': 3}, "member 'e70/dev' is a device"),
        ('e70/fifo', {'type': tarfile.FIFOTYPE}, "member 'e70/fifo' is a device or fifo"),
        ('/etc/cron.d/x', {}, "unsafe member '/etc/cron.d/x'.*must be relative"),
        ('e70/../../x', {}, 'contains an empty'),
        ('other/boot.cfg', {}, "member 'other/boot.cfg' lies outside e70/ and pxelinux.cfg/"),
        ('e70/.esxi-customizer-pxe.json', {}, "member 'e70/.esxi-customizer-pxe.json' would replace the publication's manifest"),
        ('e70/unlisted', {}, "member 'e70/unlisted' is not listed"),
    ],
)
def test_unsafe_members_are_refused(built, tmp_path, name, attrs, message):
    info, data = _file(name, **attrs)
    if not info.isreg():
        info.size, data = 0, None
    bad = forge(tmp_path / 'bad.tar', _ours(built[0], files=[], hosts={}), [(info, data)])
    dest = server_root(tmp_path / 'srv')
    before = stats(dest)
    with pytest.raises(UnsafeArchiveError, match=message) as err:
        apply(bad, dest)
    assert str(err.value).startswith(bad + ': ')
    assert stats(dest) == before


def test_metadata_that_lists_an_unsafe_path_is_refused(built, tmp_path):
    meta = _ours(built[0], files=[{'path': '../escape', 'size': 1, 'sha256': '0' * 64}], hosts={})
    bad = forge(tmp_path / 'bad.tar', meta, [_file('../escape')])
    with pytest.raises(UnsafeArchiveError, match="unsafe member '../escape'"):
        apply(bad, server_root(tmp_path / 'srv'))


def test_missing_and_resized_members_are_refused(built, tmp_path):
    meta = metadata_of(built[0])
    listed = meta['files'][0]
    missing = forge(tmp_path / 'missing.tar', meta, [])
    with pytest.raises(FormatError, match='listed in %s are missing' % METADATA) as err:
        apply(missing, server_root(tmp_path / 'srv'))
    assert str(err.value).startswith(missing + ': members %s, ' % listed['path'])
    resized = forge(
        tmp_path / 'resized.tar', dict(meta, files=[dict(listed, size=listed['size'] + 1)], hosts={}), [_file(listed['path'], b'y' * listed['size'])]
    )
    with pytest.raises(ChecksumError, match='member %s has %d bytes' % (listed['path'], listed['size'])):
        apply(resized, server_root(tmp_path / 'srv2'))


def test_an_archive_is_recognised_by_content_not_name(built, tmp_path):
    renamed = tmp_path / 'esxi.iso'
    shutil.copyfile(built[0], renamed)
    assert pxe_archive.is_publication_archive(str(renamed))
    assert apply(renamed, server_root(tmp_path / 'srv'))['name'] == 'e70'
    plain = tmp_path / 'plain.tar'
    with tarfile.open(plain, 'w') as out:
        info, data = _file('README')
        out.addfile(info, io.BytesIO(data))
    assert not pxe_archive.is_publication_archive(str(plain))
    assert not pxe_archive.is_publication_archive(str(tmp_path / 'absent.tar'))


def test_truncated_and_corrupt_archives_fail_with_collection_errors_only(built, tmp_path):
    """Every truncation and many single-byte corruptions: a collection error or a correct publish, never a traceback."""
    data = open(built[0], 'rb').read()
    cuts = [0, 100, 511, 512, 1024, 4096, len(data) // 2, len(data) - 10241, len(data) - 1]
    variants = [data[:cut] for cut in cuts]
    for offset in range(0, 20 * 512, 97):
        variants.append(data[:offset] + bytes([data[offset] ^ 0x5A]) + data[offset + 1 :])
    published = 0
    for number, variant in enumerate(variants):
        bad = tmp_path / ('v%d.tar' % number)
        bad.write_bytes(variant)
        dest = tmp_path / ('srv%d' % number)
        dest.mkdir()
        try:
            apply(bad, dest)
        except EsxiCustomizerError:
            assert os.listdir(dest) == [], number
            continue
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail('variant %d raised %r' % (number, exc))
        published += 1
        assert _without_manifest(tree(dest)) == _without_manifest(tree(_reference(built[0], tmp_path))), number
    assert published < len(variants)


def _without_manifest(files):
    return {path: data for path, data in files.items() if not path.endswith(pxe.MANIFEST)}


def _reference(path, tmp_path):
    ref = tmp_path / 'reference'
    if not ref.exists():
        ref.mkdir()
        apply(path, ref)
    return ref


def test_a_same_size_kickstart_change_rebuilds_the_archive(tmp_path):
    """Another address in the kickstart keeps every size and extent: the archive must still see the new ISO."""
    src = str(tmp_path / 'src.iso')
    isogen.build_esxi_iso(src, style='70')
    iso = str(tmp_path / 'custom.iso')
    customize_iso(src, iso, kickstart_content='network --ip=10.0.0.11\n')
    archive = str(tmp_path / 'tree.tar')
    options = options_with(name='esxi70')
    assert write(iso, archive, options=options)['changed']
    customize_iso(src, iso, kickstart_content='network --ip=10.0.0.12\n')
    assert write(iso, archive, options=options)['changed']
    with tarfile.open(archive) as tar:
        assert tar.extractfile('esxi70/ks.cfg').read() == b'network --ip=10.0.0.12\n'
    assert not write(iso, archive, options=options)['changed']


def test_the_order_of_the_hosts_changes_nothing(iso, built):
    path, _first = built
    assert len(HOSTS) > 1
    again = write(iso, path, options=options_with(hosts=list(reversed(HOSTS))))
    assert not again['changed'] and again['files_written'] == []
