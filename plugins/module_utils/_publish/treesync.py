# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Idempotent, atomic publishing of a set of files into a directory that other programs serve.

A publish target (PXE/TFTP/HTTP tree, USB staging directory...) says which files it wants (relative
path + where the bytes come from); :class:`TreeSync` compares that with a manifest it keeps inside the
published tree and with the files on disk, then writes only what differs, removes what an earlier
publish of the same tree wrote and is no longer wanted, and leaves every other file alone.

Why a manifest: it records, for every file we wrote, its size, sha256 and its identity (device, inode, size,
mtime, ctime: :func:`~.._io.filehash.identity`) seen right after it was renamed into place. A re-run then needs
one ``lstat`` per file instead of hashing, and the source digests are cached under a key identifying the source container (an ISO's size, mtime, ctime,
inode and a hash of its metadata), so an unchanged ISO is never re-read.

Safety rules: every path is relative and checked component by component; directories are opened with
``O_NOFOLLOW`` from the root's descriptor, so a symlink anywhere below the root is an error instead of
a way out of it; files are written to a temporary name in the same directory and renamed, so a client
reading during a publish sees the old or the new file, never a partial one; a file that exists but was
not published by us (and differs) is never overwritten.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, FormatError, printable
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import AtomicFile, fsync_dir, sweep_stale
from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import identity, sha256_fd
from ansible_collections.esxi.customizer.plugins.module_utils._publish.sources import BytesSource, Source

MANIFEST_FORMAT = 1
FILE_MODE = 0o644
DIR_MODE = 0o755
"""TFTP servers (tftpd-hpa --secure) and web servers usually run as another user: world-readable."""


class PublishError(EsxiCustomizerError):
    """The destination cannot be published to safely (symlink, foreign file, bad path)."""


def check_relpath(path: str, what: str = 'path') -> tuple[str, ...]:
    """Split a relative ``/``-separated path, refusing anything that could leave the root."""
    if not isinstance(path, str) or not path:
        raise PublishError('empty %s' % what)
    if path.startswith('/') or '\\' in path or '\0' in path:
        raise PublishError('%s %r must be relative, without backslashes or NUL bytes' % (what, path))
    parts = tuple(path.split('/'))
    for part in parts:
        if part in ('', '.', '..'):
            raise PublishError('%s %r contains an empty, "." or ".." component' % (what, path))
        if len(part.encode('utf-8', 'surrogateescape')) > 255:
            raise PublishError('%s %r has a component longer than 255 bytes' % (what, path))
    return parts


# -- the destination -----------------------------------------------------------------------------


class _Root:
    """Directory access below one root descriptor that never follows a symlink."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            raise PublishError('does not exist (create the server root first)', path=path) from None
        except NotADirectoryError:
            raise PublishError('is not a directory', path=path) from None
        except OSError as exc:
            raise PublishError('cannot open: %s' % exc.strerror, path=path) from None
        self._dirs = {(): self.fd}
        sweep_stale(self.fd)
        self._missing = set()  # directories known not to exist (saves failing opens for 1000s of new host dirs)
        self.created_dirs = []
        self._renamed_in = set()

    def close(self) -> None:
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs = {}

    def lock(self) -> None:
        """Serialise publishes into the same root (flock on the directory itself: no lock file to leave)."""
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def _display(self, parts) -> str:
        return os.path.join(self.path, *parts)

    def dir_fd(self, parts: tuple, create: bool = False) -> int | None:
        """Descriptor of directory ``parts`` (None if absent and not ``create``)."""
        parts = tuple(parts)
        if parts in self._dirs:
            return self._dirs[parts]
        if not create and parts in self._missing:
            return None
        parent = self.dir_fd(parts[:-1], create)
        if parent is None:
            return None
        name = parts[-1]
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                self._missing.add(parts)
                return None
            self._missing.discard(parts)
            os.mkdir(name, DIR_MODE, dir_fd=parent)
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
            os.fchmod(fd, DIR_MODE)  # mkdir's mode is filtered by the umask
            self.created_dirs.append('/'.join(parts))
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise PublishError('is a symlink or not a directory; refusing to publish through it', path=self._display(parts)) from None
            raise
        self._dirs[parts] = fd
        sweep_stale(fd)  # once per directory and publish: what a killed publish left there
        return fd

    def lstat(self, parts: tuple):
        parent = self.dir_fd(parts[:-1])
        if parent is None:
            return None
        try:
            return os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def readlink(self, parts: tuple) -> str | None:
        parent = self.dir_fd(parts[:-1])
        try:
            return os.readlink(parts[-1], dir_fd=parent) if parent is not None else None
        except OSError:
            return None

    def read_file(self, parts: tuple, limit: int) -> bytes | None:
        parent = self.dir_fd(parts[:-1])
        if parent is None:
            return None
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=parent)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise PublishError('is a symlink', path=self._display(parts)) from None
            raise
        with os.fdopen(fd, 'rb') as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise FormatError('is larger than %d bytes' % limit, path=self._display(parts))
        return data

    def sha256(self, parts: tuple) -> str:
        parent = self.dir_fd(parts[:-1])
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=parent)
        try:
            return sha256_fd(fd, label=self._display(parts))
        finally:
            os.close(fd)

    def write_atomic(self, parts: tuple, source: Source) -> tuple[str | None, os.stat_result]:
        """Write to a temporary file beside the target, then rename over it; returns (sha256 or None, stat).

        The directory is fsync'ed later, once for all files renamed into it (:meth:`sync_dirs`)."""
        parent = self.dir_fd(parts[:-1], create=True)
        with AtomicFile(dir_fd=parent, name=parts[-1], mode=FILE_MODE, sweep=False) as out:
            digest = source.copy_to(out.fd)
            size = os.fstat(out.fd).st_size
            if size != source.size:
                raise FormatError('wrote %d bytes instead of %d' % (size, source.size), path=self._display(parts))
            if not out.target_is_regular_or_absent():
                raise PublishError('exists and is not a regular file', path=self._display(parts))
            st = out.commit(sync_dir=False)
        self._renamed_in.add(tuple(parts[:-1]))
        return digest, st

    def sync_dirs(self) -> None:
        """Make the renames since the last call durable: one fsync per directory written into."""
        for parts in sorted(self._renamed_in):
            fd = self.dir_fd(parts)
            if fd is not None:
                fsync_dir(dir_fd=fd)
        self._renamed_in.clear()

    def unlink(self, parts: tuple) -> bool:
        parent = self.dir_fd(parts[:-1])
        if parent is None:
            return False
        try:
            os.unlink(parts[-1], dir_fd=parent)
        except FileNotFoundError:
            return False
        return True

    def rmdir_if_empty(self, parts: tuple) -> bool:
        parent = self.dir_fd(parts[:-1])
        if parent is None:
            return False
        fd = self._dirs.pop(tuple(parts), None)
        if fd is not None:
            os.close(fd)
        try:
            os.rmdir(parts[-1], dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.ENOTDIR):
                return False
            raise
        return True


def _stat_record(st) -> list:
    return identity(st)


class SyncPlan:
    """What a sync would do; computed without writing anything (check mode returns it as is)."""

    def __init__(self):
        self.writes = []  # (path, Source, reason)
        self.removes = []  # paths of files we published earlier and no longer want
        self.unchanged = []  # paths already right
        self.kept_foreign = []  # stale paths left alone because someone changed them since
        self.digests = {}  # path -> sha256 of the wanted content, where known before writing
        self.manifest_dirty = False

    @property
    def changed(self) -> bool:
        return bool(self.writes or self.removes)


class TreeSync:
    """Make ``root`` contain exactly the wanted files of one publication, tracked by a manifest.

    ``manifest`` is the manifest's path relative to ``root`` (inside the publication's own directory);
    ``owner`` is a small dict stored in it and checked on load (so two publications never share one);
    ``source_key`` identifies the container the extent sources read from (digest cache validity).
    """

    def __init__(self, root: str, manifest: str, owner: dict, *, source_key: dict | None = None):
        self.root_path = root
        self.source_meta = None
        """Caller facts about the source stored beside the digest cache (valid while the key matches)."""
        self.manifest_parts = check_relpath(manifest, 'manifest path')
        self.manifest_path = manifest
        self.owner = owner
        self.source_key = source_key
        self._root = _Root(root)
        try:
            self._root.lock()
            self.old = self._load_manifest()
        except BaseException:
            self._root.close()  # also releases the lock
            raise

    def close(self) -> None:
        self._root.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def published(self) -> bool:
        return self.old is not None

    def read(self, path: str, limit: int) -> bytes | None:
        """Current bytes of a (small) file below the root, None if absent (for diffs)."""
        return self._root.read_file(check_relpath(path), limit)

    def published_files(self) -> list[str]:
        return sorted(self.old['files']) if self.old else []

    def _load_manifest(self) -> dict | None:
        where = os.path.join(self.root_path, self.manifest_path)
        data = self._root.read_file(self.manifest_parts, 64 * 1024 * 1024)
        if data is None:
            return None
        try:
            doc = json.loads(data.decode('utf-8'))
            if doc.get('format') != MANIFEST_FORMAT:
                raise ValueError('unknown manifest format %r' % doc.get('format'))
            files, dirs = doc['files'], doc['dirs']
            if not isinstance(files, dict) or not isinstance(dirs, list):
                raise ValueError('files/dirs have the wrong type')
            for path in list(files) + list(dirs):
                check_relpath(path)
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, PublishError) as exc:
            raise FormatError(
                'is not a valid publish manifest (%s); move it away to publish afresh, then remove the files it listed yourself' % exc, path=where
            ) from None
        if doc.get('owner') != self.owner:
            raise PublishError(
                'belongs to another publication (%s), not %s' % (json.dumps(doc.get('owner'), sort_keys=True), json.dumps(self.owner, sort_keys=True)),
                path=where,
            )
        return doc

    # -- planning ----------------------------------------------------------------------------

    def cached_meta(self):
        """The ``source_meta`` stored by the last publish, if the source is still the same one."""
        cache = (self.old or {}).get('source') or {}
        if self.source_key is not None and cache.get('key') == self.source_key:
            return cache.get('meta')
        return None

    def _cached_digests(self) -> dict:
        if not self.old or self.source_key is None:
            return {}
        cache = self.old.get('source') or {}
        return cache.get('digests', {}) if cache.get('key') == self.source_key else {}

    def _not_a_file(self, parts: tuple, st: os.stat_result, *, ours: bool) -> str:
        """What is in the way of a file to publish, in words that say what happened and what to do."""
        if stat.S_ISLNK(st.st_mode):
            target = self._root.readlink(parts)
            kind = 'a symlink%s' % (' to %s' % printable(target, 200) if target else '')
        elif stat.S_ISDIR(st.st_mode):
            kind = 'a directory'
        else:
            kind = 'a special file (device, fifo or socket)'
        if ours:
            return 'was published here by an earlier run but has since been replaced by %s; refusing to write through it: remove it and run again' % kind
        return 'is %s that this publication did not create; refusing to replace it: remove it or publish elsewhere' % kind

    def plan(self, wanted: dict) -> SyncPlan:
        """``wanted`` maps relative path -> :class:`Source`. Reads what it must, writes nothing."""
        plan = SyncPlan()
        old_files = self.old['files'] if self.old else {}
        cache = self._cached_digests()
        same_source = self.source_key is not None and ((self.old or {}).get('source') or {}).get('key') == self.source_key
        for path in sorted(wanted):
            parts = check_relpath(path)
            if parts == self.manifest_parts:
                raise PublishError('a published file would overwrite the manifest %s' % path)
            source = wanted[path]
            record = old_files.get(path)
            st = self._root.lstat(parts)
            if st is not None and not stat.S_ISREG(st.st_mode):
                raise PublishError(self._not_a_file(parts, st, ours=record is not None), path=os.path.join(self.root_path, path))
            known = self._known_digest(source, cache)
            if st is None:
                plan.writes.append((path, source, 'missing'))
                continue
            if record is None or record.get('stat') is None:
                # not recorded as ours (or a write interrupted before it was recorded): adopt only identical content
                if st.st_size == source.size and self._root.sha256(parts) == (known or self._digest(source, plan, path)):
                    plan.unchanged.append(path)
                    plan.digests[path] = known or plan.digests[path]
                    plan.manifest_dirty = True
                elif record is None:
                    raise PublishError(
                        'exists and was not published by this publication; refusing to overwrite it (remove it, or publish under another name)',
                        path=os.path.join(self.root_path, path),
                    )
                else:
                    plan.writes.append((path, source, 'interrupted'))
                continue
            if _stat_record(st) != record['stat']:
                plan.writes.append((path, source, 'modified on disk'))
                continue
            if source.size != record['size']:
                plan.writes.append((path, source, 'content'))
                continue
            if same_source and source.cache_key and record.get('from') == source.cache_key:
                # written from this very record of this very container, and untouched since: no need to read either
                plan.unchanged.append(path)
                continue
            digest = known or self._digest(source, plan, path)
            plan.digests[path] = digest
            if record.get('sha256') is None:
                plan.manifest_dirty = True  # the digest becomes known now
            if digest == (record.get('sha256') or self._root.sha256(parts)):
                plan.unchanged.append(path)
            else:
                plan.writes.append((path, source, 'content'))
        for path in sorted(set(old_files) - set(wanted)):
            self._plan_removal(plan, path, old_files[path])
        if self.old and (self.old.get('source', {}).get('key') != self.source_key or self.old.get('source', {}).get('meta') != self.source_meta):
            plan.manifest_dirty = True
        return plan

    def _known_digest(self, source: Source, cache: dict) -> str | None:
        known = source.known_sha256()
        if known is not None:
            return known
        entry = cache.get(source.cache_key) if source.cache_key else None
        if entry and entry[0] == source.size:
            return entry[1]
        return None

    @staticmethod
    def _digest(source: Source, plan: SyncPlan, path: str) -> str:
        digest = source.sha256()
        plan.digests[path] = digest
        return digest

    def _plan_removal(self, plan: SyncPlan, path: str, record: dict) -> None:
        parts = check_relpath(path)
        st = self._root.lstat(parts)
        if st is None:
            plan.manifest_dirty = True
            return
        if not stat.S_ISREG(st.st_mode):
            plan.kept_foreign.append(path)
            return
        if record.get('stat') is not None and _stat_record(st) == record['stat']:
            plan.removes.append(path)
        elif record.get('sha256') and st.st_size == record.get('size') and self._root.sha256(parts) == record['sha256']:
            plan.removes.append(path)
        else:
            # someone replaced a file we once wrote: theirs now, not ours to delete
            plan.kept_foreign.append(path)
            plan.manifest_dirty = True

    # -- applying ----------------------------------------------------------------------------

    def apply(self, plan: SyncPlan, wanted: dict) -> dict:
        """Carry out ``plan``; returns the manifest written (or the old one when nothing needed writing)."""
        old_files = dict(self.old['files']) if self.old else {}
        old_dirs = list(self.old['dirs']) if self.old else []
        if not plan.changed and not plan.manifest_dirty:
            return self.old
        files = {path: old_files[path] for path in old_files if path in wanted or path in plan.removes}
        if plan.writes:
            # Record the paths about to be written first, so a run that dies half-way still knows they are ours.
            pending = dict(files)
            for path, source, _reason in plan.writes:
                pending.setdefault(path, {'size': source.size, 'sha256': None, 'stat': None})
                if path in old_files:
                    pending[path] = dict(old_files[path], stat=None)
            self._write_manifest(pending, old_dirs + self._new_parent_dirs(plan), self._digest_cache(plan, wanted, {}))
        written = {}
        for path, source, _reason in plan.writes:
            digest, st = self._root.write_atomic(check_relpath(path), source)
            digest = digest or plan.digests.get(path)
            written[path] = digest
            files[path] = {'size': source.size, 'sha256': digest, 'stat': _stat_record(st), 'from': source.cache_key}
        for path in plan.unchanged:
            if path not in files or files[path].get('stat') is None:
                files[path] = {
                    'size': wanted[path].size,
                    'sha256': plan.digests.get(path),
                    'stat': _stat_record(self._root.lstat(check_relpath(path))),
                    'from': wanted[path].cache_key,
                }
            elif files[path].get('sha256') is None and plan.digests.get(path):
                files[path] = dict(files[path], sha256=plan.digests[path], **{'from': wanted[path].cache_key})
        for path in plan.removes:
            self._root.unlink(check_relpath(path))
            files.pop(path, None)
        dirs = sorted(set(old_dirs) | set(self._root.created_dirs))
        dirs = self._remove_unused_dirs(dirs, files)
        self._write_manifest(files, dirs, self._digest_cache(plan, wanted, written))
        return self.old

    def _new_parent_dirs(self, plan: SyncPlan) -> list:
        dirs = set()
        for path, _source, _reason in plan.writes:
            parts = check_relpath(path)[:-1]
            for i in range(1, len(parts) + 1):
                if self._root.lstat(parts[:i]) is None:
                    dirs.add('/'.join(parts[:i]))
        return sorted(dirs)

    def _remove_unused_dirs(self, dirs: list, files: dict) -> list:
        needed = {'/'.join(self.manifest_parts[:i]) for i in range(1, len(self.manifest_parts))}
        for path in files:
            parts = path.split('/')
            needed.update('/'.join(parts[:i]) for i in range(1, len(parts)))
        kept = []
        for path in sorted(dirs, key=lambda p: -p.count('/')):
            if path in needed or not self._root.rmdir_if_empty(check_relpath(path)):
                if self._root.lstat(check_relpath(path)) is not None:
                    kept.append(path)
        return sorted(kept)

    def _digest_cache(self, plan: SyncPlan, wanted: dict, written: dict) -> dict:
        digests = dict(self._cached_digests())
        for path, source in wanted.items():
            digest = written.get(path) or plan.digests.get(path)
            if source.cache_key and digest:
                digests[source.cache_key] = [source.size, digest]
        return {'key': self.source_key, 'digests': digests, 'meta': self.source_meta}

    def _write_manifest(self, files: dict, dirs: list, source: dict) -> None:
        doc = {'format': MANIFEST_FORMAT, 'owner': self.owner, 'source': source, 'dirs': sorted(set(dirs)), 'files': files}
        data = json.dumps(doc, sort_keys=True, separators=(',', ':')).encode('utf-8') + b'\n'
        self._root.sync_dirs()  # every file the manifest records is durable before it says so
        self._root.write_atomic(self.manifest_parts, BytesSource(data))
        self._root.sync_dirs()
        self.old = doc

    # -- removal -----------------------------------------------------------------------------

    def plan_removal(self) -> SyncPlan:
        """Plan for taking the whole publication down (``state: absent``)."""
        plan = SyncPlan()
        for path, record in sorted((self.old or {}).get('files', {}).items()):
            self._plan_removal(plan, path, record)
        return plan

    def remove(self, plan: SyncPlan) -> list:
        """Delete the planned files, the manifest and the directories we created; return dirs kept."""
        if self.old is None:
            return []
        for path in plan.removes:
            self._root.unlink(check_relpath(path))
        self._root.unlink(self.manifest_parts)
        dirs = list(self.old['dirs'])
        kept = []
        for path in sorted(dirs, key=lambda p: -p.count('/')):
            if not self._root.rmdir_if_empty(check_relpath(path)) and self._root.lstat(check_relpath(path)) is not None:
                kept.append(path)
        self.old = None
        return kept
