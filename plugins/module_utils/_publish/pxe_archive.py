# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A PXE publication as one tar file: built where the ISO (and pycdlib) is, published where the TFTP server is.

:func:`write_archive` puts exactly the files :func:`~.pxe.publish` would write into ``dest`` into one uncompressed
POSIX (pax) tar; :func:`apply_archive` publishes such a tar into ``dest`` with the same :class:`~.treesync.TreeSync`
semantics, reading the payloads as extents of the tar and needing neither pycdlib nor defusedxml. Layout::

    .esxi-customizer-publication.json   first member, a plain ustar header (detected by content, not name)
    <name>/, <name>/..., pxelinux.cfg/  directories and files, sorted by path components

The metadata member (:data:`ARCHIVE_FORMAT` 1) is JSON: ``tool``, ``format``, ``name``, ``prefix``, ``version``,
``build``, ``hosts`` (MAC -> its files), ``warnings``, ``inputs`` (sha256 of the ISO identity and the options: a
re-run whose inputs did not change reads this member only) and ``files`` (``path``, ``size``, ``sha256`` of every
regular member). The tar is reproducible: fixed mtime, uid/gid 0, no user or group names, modes 0644/0755.
Every digest has a fixed width, so the metadata's length is known before the payloads are copied and hashed:
it is written last, at the front.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tarfile
from dataclasses import asdict

from ansible_collections.esxi.customizer.plugins.module_utils._errors import ChecksumError, EsxiCustomizerError, FormatError, PxeError, UnsafeArchiveError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.tarstream import open_tar_file
from ansible_collections.esxi.customizer.plugins.module_utils._image.manifest import source_identity
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import MAX_BOOTCFG_SIZE
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import AtomicFile, apply_mode, parse_mode
from ansible_collections.esxi.customizer.plugins.module_utils._io.copy import Copier, copy_range_hashed
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import DEFAULT_LIMITS
from ansible_collections.esxi.customizer.plugins.module_utils._publish.netboot import TOOL
from ansible_collections.esxi.customizer.plugins.module_utils._publish.pxe import (
    CACHE_VERSION,
    MANIFEST,
    PXELINUX_DIR,
    Publication,
    Request,
    IsoSnapshot,
    _diff,
    _open_image,
    _owner,
    _plan,
    check_name,
    default_name,
    publish,
    unpublish,
)
from ansible_collections.esxi.customizer.plugins.module_utils._publish.sources import BytesSource, Container, ExtentSource, Source, sha256_bytes
from ansible_collections.esxi.customizer.plugins.module_utils._publish.treesync import DIR_MODE, FILE_MODE, PublishError, TreeSync, check_relpath
from ansible_collections.esxi.customizer.plugins.module_utils._image.views import compact_bootcfg

METADATA = '.esxi-customizer-publication.json'
ARCHIVE_FORMAT = 1
LAYOUT = 1
"""Bump when pxe/netboot change what a publication of the same inputs contains: older archives are rebuilt then."""
MTIME = 946684800
"""2000-01-01T00:00:00Z for every member: reproducible, and not 0, which GNU tar warns about as implausibly old."""
BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
MAX_METADATA = 64 * 1024 * 1024
"""Far above the metadata of 1,000 hosts (about 1 MB); it is read into memory whole."""
BAKED = ('hosts', 'http_url', 'kickstart_url', 'kernelopt_add', 'bootloaders')
"""Options whose effect is inside an archive's files: given again with an archive as src they could only disagree."""
_HEX64 = re.compile(r'^[0-9a-f]{64}$')
_PLACEHOLDER = '0' * 64


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _header(path: str, size: int | None) -> bytes:
    """The tar header(s) of a file (``size``) or a directory (None); pax records only when a name needs them."""
    info = tarfile.TarInfo(path + '/' if size is None else path)
    info.type = tarfile.DIRTYPE if size is None else tarfile.REGTYPE
    info.size = size or 0
    info.mode = DIR_MODE if size is None else FILE_MODE
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ''
    return info.tobuf(tarfile.PAX_FORMAT, 'utf-8', 'surrogateescape')


def _metadata_bytes(doc: dict) -> bytes:
    # ensure_ascii: one character is one byte, so the length does not depend on the digests' values
    return (json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=True) + '\n').encode('ascii')


class _Layout:
    """Where every member of an archive of ``files`` (path -> size) lies; the same computation writes and checks."""

    def __init__(self, files: dict, metadata_size: int):
        dirs = set()
        for path in files:
            parts = path.split('/')
            dirs.update('/'.join(parts[:i]) for i in range(1, len(parts)))
        entries = sorted([(path, None) for path in dirs] + list(files.items()), key=lambda item: item[0].split('/'))
        self.metadata_header = _header(METADATA, metadata_size)
        pos = len(self.metadata_header) + _padded(metadata_size)
        self.members = []  # (path, size or None, header, header offset, data offset)
        self.data_offset = {}
        for path, size in entries:
            header = _header(path, size)
            self.members.append((path, size, header, pos, pos + len(header)))
            if size is not None:
                self.data_offset[path] = pos + len(header)
            pos += len(header) + _padded(size or 0)
        end = pos + 2 * BLOCK  # the end-of-archive marker
        self.total = -(-end // RECORD) * RECORD  # padded to a whole record, as tar(1) and Python's tarfile write


# -- reading the first member ----------------------------------------------------------------------


def _octal(field: bytes) -> int:
    return int(field.split(b'\0', 1)[0].strip() or b'0', 8)


def _metadata_size(block: bytes) -> int | None:
    """Size of the metadata member if ``block`` is its POSIX ustar header, else None."""
    if len(block) < BLOCK or block[257:265] != b'ustar\x0000' or block[156:157] not in (b'0', b'\0'):
        return None
    try:
        checksum, size = _octal(block[148:156]), _octal(block[124:136])
    except ValueError:
        return None
    if checksum != sum(block[:148]) + 8 * 0x20 + sum(block[156:BLOCK]):
        return None
    if block[:100].split(b'\0', 1)[0] != METADATA.encode('ascii') or block[345:500].strip(b'\0'):
        return None
    return size


def is_publication_archive(path: str) -> bool:
    """True when ``path`` is a regular file that starts like an archive of ours (read: one block)."""
    try:
        with open(path, 'rb') as handle:
            return _metadata_size(handle.read(BLOCK)) is not None
    except OSError:
        return False


def _read_metadata(container: Container) -> tuple[dict, bytes]:
    label = container.path
    size = _metadata_size(container.pread(0, BLOCK) if container.stat.st_size >= BLOCK else b'')
    if size is None:
        raise FormatError('is not a pxe_publish archive: its first member is not %s; build it with pxe_publish archive=' % METADATA, path=label)
    if size > MAX_METADATA:
        raise UnsafeArchiveError('member %s declares %d bytes (more than %d): refusing it' % (METADATA, size, MAX_METADATA), path=label)
    raw = container.pread(BLOCK, size)
    return _check_metadata(raw, label), raw


def _check_metadata(raw: bytes, label: str) -> dict:
    def bad(why):
        return FormatError('member %s is not valid pxe_publish archive metadata (%s); build the archive again' % (METADATA, why), path=label)

    try:
        doc = json.loads(raw.decode('utf-8'))
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad('not JSON: %s' % exc) from None
    if not isinstance(doc, dict) or doc.get('tool') != TOOL:
        raise bad('not written by %s' % TOOL)
    if doc.get('format') != ARCHIVE_FORMAT:
        raise bad('format %r; this release reads format %d' % (doc.get('format'), ARCHIVE_FORMAT))
    try:
        check_name(doc.get('name'))
    except PxeError as exc:
        raise bad(str(exc)) from None
    for key in ('prefix', 'inputs'):
        if not isinstance(doc.get(key), str):
            raise bad('%s is not a string' % key)
    for key in ('version', 'build'):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise bad('%s is not a string' % key)
    files = doc.get('files')
    if not isinstance(files, list):
        raise bad('files is not a list')
    seen = set()
    for item in files:
        if not isinstance(item, dict) or not isinstance(item.get('path'), str):
            raise bad('a files entry has no path')
        path = item['path']
        if path in seen:
            raise bad('%s is listed twice' % path)
        seen.add(path)
        size, digest = item.get('size'), item.get('sha256')
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(digest, str) or not _HEX64.match(digest):
            raise bad('%s has no valid size and sha256' % path)
        _check_member_path(path, doc['name'], label)
    hosts, warnings = doc.get('hosts'), doc.get('warnings')
    if not isinstance(hosts, dict) or not all(isinstance(paths, list) and set(paths) <= seen for paths in hosts.values()):
        raise bad('hosts does not map MAC addresses to listed files')
    if not isinstance(warnings, list) or not all(isinstance(text, str) for text in warnings):
        raise bad('warnings is not a list of strings')
    return doc


def _check_member_path(path: str, name: str, label: str) -> tuple:
    """A member's path: relative, without ``..``, and inside ``<name>/`` or ``pxelinux.cfg/`` as a publication is."""
    try:
        parts = check_relpath(path, 'member path')
    except PublishError as exc:
        raise UnsafeArchiveError('unsafe member %r: %s' % (path, exc), path=label) from None
    if path == '%s/%s' % (name, MANIFEST):
        raise UnsafeArchiveError("member %r would replace the publication's manifest" % path, path=label)
    if parts[0] == name:
        return parts
    if parts[0] == PXELINUX_DIR and len(parts) <= 2:
        return parts
    raise UnsafeArchiveError('member %r lies outside %s/ and %s/, where publication %s writes' % (path, name, PXELINUX_DIR, name), path=label)


# -- the archive as a source ------------------------------------------------------------------------


class ArchiveMemberSource(ExtentSource):
    """A regular member of a publication archive: an extent of the tar whose sha256 the metadata declares.

    Planning trusts the declared digest (nothing is read to compare); :meth:`verify` and every copy check it.
    """

    def __init__(self, container: Container, offset: int, size: int, *, member: str, sha256: str):
        super().__init__(container, offset, size, cache_key=member, hash_on_copy=True)
        self.member = member
        self.expected = sha256

    def known_sha256(self) -> str:
        return self.expected

    def _check(self, digest: str) -> str:
        if digest != self.expected:
            raise ChecksumError(
                'member %s has sha256 %s but the archive metadata says %s: the archive is damaged or was altered; build and copy it again'
                % (self.member, digest, self.expected),
                path=self.container.path,
            )
        return digest

    def verify(self) -> None:
        self._check(self.sha256())

    def copy_to(self, fd: int) -> str:
        return self._check(super().copy_to(fd))


class PublicationArchive:
    """A publication archive opened for applying: metadata and every member header checked, payloads as extents.

    Only collection errors leave the constructor: tarfile's, JSON's and the OS's are turned into FormatError
    naming the archive (and the member).
    """

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.container = Container(self.path)
        try:
            self.meta, raw = _read_metadata(self.container)
            self.offsets = self._members()
        except OSError as exc:
            self.container.close()
            raise FormatError('cannot be read: %s' % (exc.strerror or exc), path=self.path) from None
        except BaseException:
            self.container.close()
            raise
        self.name = self.meta['name']
        self.key = {'archive': self.container.identity(), 'metadata': sha256_bytes(raw), 'cache': CACHE_VERSION}

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> PublicationArchive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _members(self) -> dict:
        """path -> data offset of every regular member, after checking each header against the metadata."""
        expected = {item['path']: item for item in self.meta['files']}
        offsets, dirs = {}, set()
        with os.fdopen(os.dup(self.container.fd), 'rb') as handle:
            try:
                archive = open_tar_file(handle, label=self.path)
                for number, member in enumerate(archive):
                    if number == 0:
                        if member.name != METADATA or member.offset_data != BLOCK:
                            raise FormatError('is not a pxe_publish archive: its first member is not %s' % METADATA, path=self.path)
                        continue
                    if number > DEFAULT_LIMITS.max_members:
                        raise UnsafeArchiveError('has more than %d members: refusing it' % DEFAULT_LIMITS.max_members, path=self.path)
                    self._check_member(member, expected, offsets=offsets, dirs=dirs)
            except tarfile.TarError as exc:
                raise FormatError('is not a readable tar archive (%s); build and copy it again' % exc, path=self.path) from None
            except (UnicodeError, ValueError, EOFError, KeyError, IndexError, OverflowError, struct.error) as exc:
                raise FormatError('has a malformed tar header (%s); build and copy it again' % exc, path=self.path) from None
        missing = sorted(set(expected) - set(offsets))
        if missing:
            raise FormatError(
                'member%s %s listed in %s %s missing: the archive is incomplete; build and copy it again'
                % ('s' if len(missing) > 1 else '', ', '.join(missing[:5]), METADATA, 'are' if len(missing) > 1 else 'is'),
                path=self.path,
            )
        return offsets

    def _check_member(self, member: tarfile.TarInfo, expected: dict, *, offsets: dict, dirs: set) -> None:
        name = member.name
        if name in offsets or name in dirs or name == METADATA:
            raise UnsafeArchiveError('member %r appears twice' % name, path=self.path)
        if member.type == tarfile.DIRTYPE:
            _check_member_path(name, self.meta['name'], self.path)
            dirs.add(name)
            return
        if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or member.sparse is not None:
            if member.issym() or member.islnk():
                kind = 'a link'
            elif member.isdev():
                kind = 'a device or fifo'
            elif member.sparse is not None:
                kind = 'a sparse file'
            else:
                kind = 'of tar type %r' % member.type.decode('ascii', 'replace')
            raise UnsafeArchiveError('member %r is %s; a publication archive holds only regular files and directories' % (name, kind), path=self.path)
        _check_member_path(name, self.meta['name'], self.path)
        item = expected.get(name)
        if item is None:
            raise UnsafeArchiveError('member %r is not listed in %s' % (name, METADATA), path=self.path)
        if member.size != item['size']:
            raise ChecksumError('member %s has %d bytes but %s says %d' % (name, member.size, METADATA, item['size']), path=self.path)
        if member.offset_data + member.size > self.container.stat.st_size:
            raise FormatError('member %s ends beyond the end of the file: the archive is truncated; copy it again' % name, path=self.path)
        offsets[name] = member.offset_data

    def wanted(self) -> dict:
        """relative path -> Source, as :class:`~.pxe.Publication` builds it (boot.cfg files as bytes, for the diff)."""
        wanted = {}
        for item in self.meta['files']:
            path, size, offset = item['path'], item['size'], self.offsets[item['path']]
            if path.endswith('/boot.cfg') and size <= MAX_BOOTCFG_SIZE:
                data = self.container.pread(offset, size)
                if sha256_bytes(data) != item['sha256']:
                    raise ChecksumError(
                        'member %s does not match its sha256 in %s: the archive is damaged or was altered; build and copy it again' % (path, METADATA),
                        path=self.path,
                    )
                wanted[path] = BytesSource(data)
            else:
                wanted[path] = ArchiveMemberSource(self.container, offset, size, member=path, sha256=item['sha256'])
        return wanted


# -- writing ------------------------------------------------------------------------------------------


def inputs_digest(request: Request, iso: str, files: list) -> str:
    """sha256 of what an archive is made of: the ISO (:func:`~.manifest.source_identity` of its listing) and the options.

    Content, not the file's inode or times: a copy of the same ISO gives the same archive.
    """
    size, identity = source_identity(iso, files)
    options = {
        'name': request.name,
        'http_url': request.http_url,
        'kickstart_url': request.kickstart_url,
        'kernelopt_add': request.kernelopt_add,
        # the order hosts are listed in (an inventory's, a set's) changes nothing published
        'hosts': sorted((asdict(host) for host in request.hosts), key=lambda host: host['mac']),
        'bootloaders': request.bootloaders,
    }
    made_of = {'tool': TOOL, 'format': ARCHIVE_FORMAT, 'layout': LAYOUT, 'iso': {'size': size, 'sha256': identity}, 'options': options}
    return hashlib.sha256(json.dumps(made_of, sort_keys=True).encode('utf-8')).hexdigest()


def _existing(path: str) -> tuple[dict | None, dict]:
    """(metadata, boot.cfg path -> bytes) of the archive already at ``path`` if it is a complete one of ours."""
    if not os.path.isfile(path) or not is_publication_archive(path):
        return None, {}
    try:
        with Container(path) as container:
            meta, raw = _read_metadata(container)
            layout = _Layout({item['path']: item['size'] for item in meta['files']}, len(raw))
            if layout.total != container.stat.st_size:
                return None, {}  # truncated, or not written by this release: rebuild
            bootcfgs = {}
            for item in meta['files']:
                if item['path'].endswith('/boot.cfg') and item['size'] <= MAX_BOOTCFG_SIZE:
                    data = container.pread(layout.data_offset[item['path']], item['size'])
                    if sha256_bytes(data) != item['sha256']:
                        return None, {}
                    bootcfgs[item['path']] = data
            return meta, bootcfgs
    except (EsxiCustomizerError, OSError):
        return None, {}


def _copy_member(fd: int, source: Source, offset: int, *, copier: Copier) -> str:
    """Write ``source`` at ``offset`` of ``fd``; its sha256, computed on the way."""
    if isinstance(source, BytesSource):
        _pwrite_all(fd, source.data, offset)
        return source.sha256()
    if isinstance(source, ExtentSource):
        container = source.container
        return copy_range_hashed(container.fd, fd, source.size, src_offset=source.offset, dest_offset=offset, label=container.path, copier=copier)
    os.lseek(fd, offset, os.SEEK_SET)  # a stream (multi-extent ISO file) writes at the current position
    digest = source.copy_to(fd)
    if os.lseek(fd, 0, os.SEEK_CUR) != offset + source.size:
        raise FormatError('%s did not give %d bytes' % (source.cache_key, source.size))
    return digest


def _write(path: str, wanted: dict, doc: dict, *, mode: int | None) -> None:
    files = {relpath: source.size for relpath, source in wanted.items()}
    doc = dict(doc, files=[{'path': relpath, 'size': files[relpath], 'sha256': _PLACEHOLDER} for relpath in sorted(files)])
    size = len(_metadata_bytes(doc))
    layout = _Layout(files, size)
    copier = Copier()
    digests = {}
    with AtomicFile(path, mode=mode) as out:
        for relpath, member_size, header, header_offset, data_offset in layout.members:
            _pwrite_all(out.fd, header, header_offset)
            if member_size is None:
                continue
            digests[relpath] = _copy_member(out.fd, wanted[relpath], data_offset, copier=copier)
            pad = _padded(member_size) - member_size
            if pad:
                _pwrite_all(out.fd, bytes(pad), data_offset + member_size)
        os.ftruncate(out.fd, layout.total)  # the end-of-archive blocks and the record padding: zeros
        for item in doc['files']:
            item['sha256'] = digests[item['path']]
        data = _metadata_bytes(doc)
        if len(data) != size:  # cannot happen with fixed-width digests; a wrong layout must never be renamed into place
            raise FormatError('metadata changed length while writing (%d, planned %d)' % (len(data), size), path=path)
        _pwrite_all(out.fd, layout.metadata_header + data + bytes(_padded(size) - size), 0)
        out.commit()


def _archive_diff(path: str, before: dict, wanted: dict) -> list:
    """The boot.cfg texts that differ from the archive already there (never kickstarts: only boot.cfg is shown)."""
    diffs = []
    for relpath in sorted(wanted):
        source = wanted[relpath]
        if not relpath.endswith('/boot.cfg') or not isinstance(source, BytesSource) or before.get(relpath) == source.data:
            continue
        old = before.get(relpath)
        diffs.append(
            {
                'before_header': '%s:%s' % (path, relpath) if old is not None else '%s:%s (absent)' % (path, relpath),
                'after_header': '%s:%s' % (path, relpath),
                'before': compact_bootcfg(old.decode('utf-8', 'replace')) if old is not None else '',
                'after': compact_bootcfg(source.data.decode('utf-8', 'replace')),
            }
        )
    return diffs


def _archive_result(path: str, meta: dict, *, changed: bool, written: list, bootcfg: bytes | None, diff: list) -> dict:
    return {
        'changed': changed,
        'name': meta['name'],
        'path': path,
        'archive': path,
        'prefix': meta['prefix'],
        'version': meta.get('version'),
        'build': meta.get('build'),
        'files_written': written,
        'files_removed': [],
        'files_kept': [],
        'hosts': meta['hosts'],
        'boot_cfg': bootcfg.decode('utf-8', 'surrogateescape') if bootcfg is not None else None,
        'diff': diff,
        'warnings': list(meta.get('warnings') or []),
    }


def write_archive(request: Request, archive: str, *, mode: object = None, check_mode: bool = False) -> dict:
    """Write the publication of ``request`` (an ISO src) as one tar at ``archive`` instead of into a dest."""
    req = request.validated()
    if not req.src:
        raise PxeError('src (the ISO to publish) is required when state is present')
    archive = os.path.abspath(archive)
    mode = parse_mode(mode)
    if os.path.isdir(archive):
        raise PxeError('is a directory; archive names the tar file to write', path=archive)
    if not os.path.isdir(os.path.dirname(archive)):
        raise PxeError('the directory to write the archive into does not exist; create it first', path=archive)
    if is_publication_archive(req.src):
        raise PxeError('src is a publication archive already: copy it, or publish it with dest=', path=req.src)
    with Container(req.src) as container:
        if os.path.exists(archive) and os.path.samefile(archive, req.src):
            raise PxeError('archive is the ISO itself; choose another path', path=archive)
        # The listing needs the ISO's directories (pycdlib, on the controller): a same-size change of a kickstart or
        # boot.cfg shows in neither the size nor the first MiB.
        image = _open_image(req.src)
        try:
            digest = inputs_digest(req, req.src, image.reader.files())
            existing, before = _existing(archive)
            if existing is not None and existing['inputs'] == digest:
                bootcfg = before.get('%s/boot.cfg' % existing['name'])
                return _archive_result(archive, existing, changed=apply_mode(archive, mode, check_mode=check_mode), written=[], bootcfg=bootcfg, diff=[])
            name = req.name or default_name(image.version, image.build)
            publication = Publication(req, IsoSnapshot.from_image(image), container, name=name)
            wanted = publication.build()
            doc = {
                'tool': TOOL,
                'format': ARCHIVE_FORMAT,
                'name': name,
                'prefix': publication.prefix,
                'version': publication.snapshot.version,
                'build': publication.snapshot.build,
                'inputs': digest,
                'hosts': publication.hosts,
                'warnings': publication.warnings,
            }
            if not check_mode:
                _write(archive, wanted, doc, mode=mode)
        finally:
            image.close()
    bootcfg = wanted['%s/boot.cfg' % name]
    return _archive_result(archive, doc, changed=True, written=sorted(wanted), bootcfg=bootcfg.data, diff=_archive_diff(archive, before, wanted))


# -- applying -----------------------------------------------------------------------------------------


def apply_archive(request: Request, check_mode: bool = False) -> dict:
    """Publish the archive ``request.src`` into ``request.dest`` (no pycdlib, no defusedxml)."""
    if not request.dest:
        raise PxeError('dest (the server root to publish the archive into) is required')
    given = [option for option in BAKED if getattr(request, option)]
    if given:
        raise PxeError(
            '%s cannot be given with a publication archive as src: the archive was built with them; build it again with the new values' % ', '.join(given),
            path=request.src,
        )
    dest = os.path.abspath(request.dest)
    with PublicationArchive(request.src) as archive:
        name, meta = archive.name, archive.meta
        if request.name is not None and request.name != name:
            raise PxeError(
                'name %r does not match publication %r in the archive; leave name out or build the archive with that name' % (request.name, name),
                path=archive.path,
            )
        wanted = archive.wanted()
        with TreeSync(dest, '%s/%s' % (name, MANIFEST), _owner(name), source_key=archive.key) as sync:
            plan = _plan(sync, wanted, dest)
            # every member to be written is checked before the first one is renamed into place: a damaged archive publishes nothing
            for _path, source, _reason in plan.writes:
                if isinstance(source, ArchiveMemberSource):
                    source.verify()
            diff = _diff(sync, plan, wanted)
            if not check_mode:
                sync.apply(plan, wanted)
    bootcfg = wanted.get('%s/boot.cfg' % name)
    return {
        'changed': plan.changed,
        'name': name,
        'path': os.path.join(dest, name),
        'prefix': meta['prefix'],
        'version': meta.get('version'),
        'build': meta.get('build'),
        'files_written': [path for path, _source, _reason in plan.writes],
        'files_removed': list(plan.removes),
        'files_kept': list(plan.kept_foreign),
        'hosts': meta['hosts'],
        'boot_cfg': bootcfg.data.decode('utf-8', 'surrogateescape') if isinstance(bootcfg, BytesSource) else None,
        'diff': diff,
        'warnings': list(meta['warnings']) + ['%s was changed since it was published and is left in place' % path for path in plan.kept_foreign],
    }


def archive_name(path: str) -> str:
    """The publication name an archive holds (its metadata member only)."""
    with Container(path) as container:
        return _read_metadata(container)[0]['name']


def run(request: Request, *, state: str = 'present', archive: str | None = None, mode: object = None, check_mode: bool = False) -> dict:
    """The module's one entry point: ISO -> dest, ISO -> archive, archive -> dest, or state absent."""
    if mode is not None and not archive:
        raise PxeError('mode applies to the archive file only; set archive too, or leave mode out')
    if state == 'absent':
        if archive:
            raise PxeError('archive is only for state present; take a publication down with dest and name')
        if request.name is None and request.src and is_publication_archive(request.src):
            request.name = archive_name(request.src)
        return unpublish(request, check_mode=check_mode)
    if archive:
        if request.dest:
            raise PxeError('give either dest (publish into a server root) or archive (write a tar), not both')
        return write_archive(request, archive, mode=mode, check_mode=check_mode)
    if request.src and is_publication_archive(request.src):
        return apply_archive(request, check_mode=check_mode)
    return publish(request, check_mode=check_mode)
