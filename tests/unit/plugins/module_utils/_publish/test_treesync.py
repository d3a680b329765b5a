# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import errno
import hashlib
import json
import os

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._io import copy as copy_engine
from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._publish.sources import BytesSource, Container, ExtentSource
from ansible_collections.esxi.customizer.plugins.module_utils._publish.treesync import PublishError, TreeSync, check_relpath

OWNER = {'tool': 'test', 'name': 'pub'}
MANIFEST = 'pub/.manifest.json'


@pytest.fixture
def blob(tmp_path):
    """A container file with three distinct regions, like files inside an ISO."""
    path = tmp_path / 'src.bin'
    data = os.urandom(3000) + b'A' * 5000 + os.urandom(9 * 1024 * 1024)
    path.write_bytes(data)
    return str(path), data


def extents(container, data):
    return {
        'pub/a.bin': ExtentSource(container, 0, 3000, cache_key='A'),
        'pub/dir/b.bin': ExtentSource(container, 3000, 5000, cache_key='B'),
        'pub/big.bin': ExtentSource(container, 8000, len(data) - 8000, cache_key='BIG'),
        'pub/boot.cfg': BytesSource(b'prefix=pub\n'),
    }


def publish(root, wanted, key=None, check=False):
    with TreeSync(str(root), MANIFEST, OWNER, source_key=key) as sync:
        plan = sync.plan(wanted)
        if not check:
            sync.apply(plan, wanted)
        return plan


def snapshot(root):
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            st = os.stat(full)
            out[os.path.relpath(full, root)] = (st.st_mtime_ns, st.st_ino, open(full, 'rb').read())
    return out


def test_first_publish_copies_bytes_exactly_and_records_digests(tmp_path, blob):
    src, data = blob
    root = tmp_path / 'root'
    root.mkdir()
    with Container(src) as iso:
        plan = publish(root, extents(iso, data), iso.identity())
    assert plan.changed and len(plan.writes) == 4
    assert (root / 'pub/a.bin').read_bytes() == data[:3000]
    assert (root / 'pub/dir/b.bin').read_bytes() == data[3000:8000]
    assert (root / 'pub/big.bin').read_bytes() == data[8000:]
    assert oct((root / 'pub/big.bin').stat().st_mode & 0o777) == '0o644'
    doc = json.loads((root / MANIFEST).read_text())
    assert doc['files']['pub/big.bin']['sha256'] == hashlib.sha256(data[8000:]).hexdigest()
    assert doc['source']['digests']['B'] == [5000, hashlib.sha256(data[3000:8000]).hexdigest()]
    assert 'pub/dir' in doc['dirs']
    assert not [n for n in os.listdir(root / 'pub') if n.endswith('.tmp')]


def test_rerun_writes_nothing_and_does_not_read_the_source(tmp_path, blob, monkeypatch):
    src, data = blob
    root = tmp_path / 'root'
    root.mkdir()
    with Container(src) as iso:
        publish(root, extents(iso, data), iso.identity())
    before = snapshot(root)

    def no_read(self, *args):
        raise AssertionError('source was re-read')

    monkeypatch.setattr(ExtentSource, 'sha256', no_read)
    monkeypatch.setattr(ExtentSource, 'copy_to', no_read)
    with Container(src) as iso:
        plan = publish(root, extents(iso, data), iso.identity())
    assert not plan.changed and not plan.manifest_dirty
    assert snapshot(root) == before


def test_changed_generated_file_rewrites_only_that_file(tmp_path, blob):
    src, data = blob
    root = tmp_path / 'root'
    root.mkdir()
    with Container(src) as iso:
        publish(root, extents(iso, data), iso.identity())
        before = snapshot(root)
        wanted = extents(iso, data)
        wanted['pub/boot.cfg'] = BytesSource(b'prefix=pub\nkernelopt=ks=http://x/ks.cfg\n')
        plan = publish(root, wanted, iso.identity())
    assert [w[0] for w in plan.writes] == ['pub/boot.cfg']
    after = snapshot(root)
    changed = sorted(k for k in after if after[k] != before.get(k))
    assert changed == ['pub/.manifest.json', 'pub/boot.cfg']


def test_new_source_identity_rehashes_but_rewrites_only_differences(tmp_path, blob):
    src, data = blob
    root = tmp_path / 'root'
    root.mkdir()
    with Container(src) as iso:
        publish(root, extents(iso, data), iso.identity())
    before = snapshot(root)
    # a rebuilt ISO: same layout, one region changed in place
    new = bytearray(data)
    new[3000:3010] = b'Z' * 10
    src2 = tmp_path / 'src2.bin'
    src2.write_bytes(bytes(new))
    with Container(str(src2)) as iso:
        plan = publish(root, extents(iso, bytes(new)), iso.identity())
    assert [w[0] for w in plan.writes] == ['pub/dir/b.bin']
    assert plan.manifest_dirty
    after = snapshot(root)
    assert sorted(k for k in after if after[k] != before.get(k)) == ['pub/.manifest.json', 'pub/dir/b.bin']
    assert (root / 'pub/dir/b.bin').read_bytes() == bytes(new[3000:8000])


def test_stale_files_and_dirs_are_removed_foreign_files_kept(tmp_path, blob):
    src, data = blob
    root = tmp_path / 'root'
    root.mkdir()
    (root / 'pub').mkdir()
    (root / 'pub/user-notes.txt').write_text('mine')
    (root / 'other.txt').write_text('not ours')
    with Container(src) as iso:
        publish(root, extents(iso, data), iso.identity())
        wanted = extents(iso, data)
        del wanted['pub/dir/b.bin']
        plan = publish(root, wanted, iso.identity())
    assert plan.removes == ['pub/dir/b.bin']
    assert not (root / 'pub/dir').exists()
    assert (root / 'pub/user-notes.txt').read_text() == 'mine'
    assert (root / 'other.txt').read_text() == 'not ours'


def test_check_mode_plan_writes_nothing(tmp_path, blob):
    src, data = blob
    root = tmp_path / 'root'
    root.mkdir()
    with Container(src) as iso:
        plan = publish(root, extents(iso, data), iso.identity(), check=True)
    assert plan.changed and len(plan.writes) == 4
    assert os.listdir(root) == []


def test_refuses_to_overwrite_a_file_it_did_not_publish(tmp_path, blob):
    src, data = blob
    root = tmp_path / 'root'
    (root / 'pub').mkdir(parents=True)
    (root / 'pub/boot.cfg').write_bytes(b'somebody else\n')
    with Container(src) as iso:
        with pytest.raises(PublishError, match='not published by this publication'):
            publish(root, extents(iso, data), iso.identity())
    assert (root / 'pub/boot.cfg').read_bytes() == b'somebody else\n'
    assert not (root / MANIFEST).exists()


def test_identical_foreign_file_is_adopted_without_writing(tmp_path):
    root = tmp_path / 'root'
    (root / 'pub').mkdir(parents=True)
    (root / 'pub/boot.cfg').write_bytes(b'same\n')
    mtime = (root / 'pub/boot.cfg').stat().st_mtime_ns
    plan = publish(root, {'pub/boot.cfg': BytesSource(b'same\n')})
    assert not plan.changed and plan.unchanged == ['pub/boot.cfg']
    assert (root / 'pub/boot.cfg').stat().st_mtime_ns == mtime
    assert 'pub/boot.cfg' in json.loads((root / MANIFEST).read_text())['files']


def test_modified_published_file_is_restored(tmp_path):
    root = tmp_path / 'root'
    root.mkdir()
    publish(root, {'pub/boot.cfg': BytesSource(b'good\n')})
    (root / 'pub/boot.cfg').write_bytes(b'tampered\n')
    plan = publish(root, {'pub/boot.cfg': BytesSource(b'good\n')})
    assert plan.writes[0][2] == 'modified on disk'
    assert (root / 'pub/boot.cfg').read_bytes() == b'good\n'


def test_symlinks_below_root_are_refused(tmp_path):
    root = tmp_path / 'root'
    outside = tmp_path / 'outside'
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / 'pub')
    with pytest.raises(PublishError, match='symlink'):
        publish(root, {'pub/boot.cfg': BytesSource(b'x\n')})
    assert os.listdir(outside) == []
    os.unlink(root / 'pub')
    (root / 'pub').mkdir()
    os.symlink(outside / 'target', root / 'pub/boot.cfg')
    with pytest.raises(PublishError, match=r'pub/boot\.cfg: is a symlink to .*/outside/target that this publication did not create; refusing to replace it'):
        publish(root, {'pub/boot.cfg': BytesSource(b'x\n')})
    assert os.listdir(outside) == []


def test_a_published_file_replaced_by_a_symlink_is_named_as_such(tmp_path):
    root = tmp_path / 'root'
    root.mkdir()
    publish(root, {'pub/boot.cfg': BytesSource(b'ours\n')})
    os.unlink(root / 'pub/boot.cfg')
    os.symlink('/etc/passwd', root / 'pub/boot.cfg')
    with pytest.raises(
        PublishError,
        match=r'pub/boot\.cfg: was published here by an earlier run but has since been replaced by a symlink to /etc/passwd; '
        r'refusing to write through it: remove it and run again',
    ):
        publish(root, {'pub/boot.cfg': BytesSource(b'ours\n')})
    assert os.readlink(root / 'pub/boot.cfg') == '/etc/passwd'
    os.unlink(root / 'pub/boot.cfg')
    (root / 'pub/boot.cfg').mkdir()
    with pytest.raises(PublishError, match='replaced by a directory'):
        publish(root, {'pub/boot.cfg': BytesSource(b'ours\n')})


@pytest.mark.parametrize('bad', ['', '/etc/passwd', '../x', 'a/../b', 'a//b', './a', 'a\\b', 'a\0b', 'a/.'])
def test_relpath_rules(bad):
    with pytest.raises(PublishError):
        check_relpath(bad)


def test_removal_deletes_exactly_what_was_published(tmp_path, blob):
    src, data = blob
    root = tmp_path / 'root'
    root.mkdir()
    (root / 'keep.txt').write_text('x')
    with Container(src) as iso:
        publish(root, extents(iso, data), iso.identity())
    (root / 'pub/user.txt').write_text('user file inside the tree')
    with TreeSync(str(root), MANIFEST, OWNER) as sync:
        plan = sync.plan_removal()
        assert sorted(plan.removes) == sorted(extents(Container(src), data))
        kept = sync.remove(plan)
    assert kept == ['pub']
    assert sorted(os.listdir(root)) == ['keep.txt', 'pub']
    assert os.listdir(root / 'pub') == ['user.txt']


def test_removal_keeps_a_published_file_someone_replaced(tmp_path):
    root = tmp_path / 'root'
    root.mkdir()
    publish(root, {'pub/a.cfg': BytesSource(b'a\n'), 'pub/b.cfg': BytesSource(b'b\n')})
    (root / 'pub/b.cfg').write_bytes(b'edited by hand, keep me\n')
    with TreeSync(str(root), MANIFEST, OWNER) as sync:
        plan = sync.plan_removal()
        assert plan.removes == ['pub/a.cfg'] and plan.kept_foreign == ['pub/b.cfg']
        sync.remove(plan)
    assert (root / 'pub/b.cfg').read_bytes() == b'edited by hand, keep me\n'


def test_manifest_of_another_owner_is_refused(tmp_path):
    root = tmp_path / 'root'
    root.mkdir()
    publish(root, {'pub/a.cfg': BytesSource(b'a\n')})
    with pytest.raises(PublishError, match='another publication'):
        TreeSync(str(root), MANIFEST, {'tool': 'test', 'name': 'other'})


def test_corrupt_manifest_is_a_clear_error(tmp_path):
    root = tmp_path / 'root'
    (root / 'pub').mkdir(parents=True)
    (root / MANIFEST).write_text('{not json')
    with pytest.raises(FormatError, match='not a valid publish manifest'):
        TreeSync(str(root), MANIFEST, OWNER)


def test_truncated_container_is_a_clear_error(tmp_path):
    path = tmp_path / 'short.iso'
    path.write_bytes(b'x' * 100)
    with Container(str(path)) as iso:
        with pytest.raises(FormatError, match='truncated'):
            ExtentSource(iso, 50, 100, cache_key='F')


def test_failed_write_leaves_previous_file_and_no_temp(tmp_path, monkeypatch):
    root = tmp_path / 'root'
    root.mkdir()
    publish(root, {'pub/a.cfg': BytesSource(b'old\n')})

    class Boom(BytesSource):
        def copy_to(self, fd):
            os.write(fd, b'partial')
            raise OSError(28, 'No space left on device')

    with pytest.raises(OSError):
        publish(root, {'pub/a.cfg': Boom(b'new content\n')})
    assert (root / 'pub/a.cfg').read_bytes() == b'old\n'
    assert sorted(os.listdir(root / 'pub')) == ['.manifest.json', 'a.cfg']
    # the interrupted run is recovered by the next one
    plan = publish(root, {'pub/a.cfg': BytesSource(b'new content\n')})
    assert plan.writes and (root / 'pub/a.cfg').read_bytes() == b'new content\n'


def test_user_space_fallback_copies_and_hashes(tmp_path, blob, monkeypatch):
    src, data = blob
    root = tmp_path / 'root'
    root.mkdir()
    refused = []

    def no_kernel_copy(*args):
        refused.append(args)
        raise OSError(errno.EXDEV, 'Invalid cross-device link')

    monkeypatch.setattr(copy_engine.os, 'copy_file_range', no_kernel_copy)
    with Container(src) as iso:
        publish(root, extents(iso, data), iso.identity())
    assert refused  # the kernel was asked, refused, and the buffered loop copied instead
    doc = json.loads((root / MANIFEST).read_text())
    assert (root / 'pub/big.bin').read_bytes() == data[8000:]
    assert doc['files']['pub/big.bin']['sha256'] == hashlib.sha256(data[8000:]).hexdigest()


def test_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(PublishError, match='does not exist'):
        TreeSync(str(tmp_path / 'nope'), MANIFEST, OWNER)


def test_copies_without_hashing_are_compared_by_content_when_the_source_changes(tmp_path, blob, monkeypatch):
    src, data = blob
    root = tmp_path / 'root'
    root.mkdir()

    def lazy(container, data):
        wanted = extents(container, data)
        for source in wanted.values():
            source.hash_on_copy = False
        return wanted

    with Container(src) as iso:
        publish(root, lazy(iso, data), iso.identity())
    doc = json.loads((root / MANIFEST).read_text())
    assert doc['files']['pub/big.bin']['sha256'] is None and doc['files']['pub/big.bin']['from'] == 'BIG'
    assert (root / 'pub/big.bin').read_bytes() == data[8000:]
    before = snapshot(root)
    with Container(src) as iso:
        assert not publish(root, lazy(iso, data), iso.identity()).changed
    assert snapshot(root) == before
    new = bytearray(data)
    new[10:20] = b'Q' * 10
    src2 = tmp_path / 'src2.bin'
    src2.write_bytes(bytes(new))
    with Container(str(src2)) as iso:
        plan = publish(root, lazy(iso, bytes(new)), iso.identity())
    assert [w[0] for w in plan.writes] == ['pub/a.bin']
    doc = json.loads((root / MANIFEST).read_text())
    assert doc['files']['pub/big.bin']['sha256'] == hashlib.sha256(data[8000:]).hexdigest()
    assert (root / 'pub/a.bin').read_bytes() == bytes(new[:3000])
