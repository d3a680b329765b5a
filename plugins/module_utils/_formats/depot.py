# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline bundles (depot zips) and 7.x components (esxi-formats.md section 5).

Chain: ``index.xml`` → vendor ``indexfile`` (``vendor-index.xml``) → metadata ``url`` (a zip) →
``vmware.xml`` + ``bulletins/*.xml`` + ``vibs/*.xml`` → each VIB's ``relative-path`` inside the bundle.
A zip without ``index.xml`` whose only zip member is the real bundle (the ESXi650 Fling) is opened
through. Every member name is checked (absolute, ``..``, symlinks) and every member's declared
expansion is checked against :class:`Limits` before anything is read.

Streaming: a zip member is read with :meth:`zipfile.ZipFile.open` (a seekable stream since Python 3.7;
seeking backwards inside a deflated member re-inflates from its start, so readers only go forward).
A *stored* nested zip is read in place through a :class:`SliceReader` window of the outer file; a
*deflated* nested zip is inflated once into an anonymous temporary file (deleted on close).
"""

from __future__ import annotations

import copy
import io
import posixpath
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO
from xml.etree import ElementTree

from ansible_collections.esxi.customizer.plugins.module_utils._errors import (
    FormatError,
    UnsafeArchiveError,
    UnsupportedError,
)
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import ImageProfile
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import COPY_CHUNK, SliceReader, file_size, read_capped
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import DEFAULT_LIMITS, Limits, check_expansion, safe_member_path
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import (
    Checksum,
    SoftwarePlatform,
    descriptor_from_element,
    local_names,
    parse_xml,
)

MAX_NESTING = 2
# 7.x+ vendor add-on / base image depots: metadata.zip folders describing add-ons, base images and hardware
# support manifests. They are listed, not applied.
EXTRA_METADATA_DIRS = ('addons', 'baseimages', 'manifests')
# What zipfile raises for corrupt input besides BadZipFile: NotImplementedError for a damaged version or
# method field, RuntimeError for a damaged encryption flag, ValueError/EOFError for damaged sizes.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError)


class _ZipMemberStream(io.RawIOBase):
    """A zip member stream whose corruption errors become FormatError naming the bundle and member."""

    def __init__(self, inner, label):
        super().__init__()
        self._inner, self._label = inner, label

    def _guard(self, func, *args):
        try:
            return func(*args)
        except _ZIP_ERRORS as err:
            raise FormatError('corrupt zip member (%s)' % err, path=self._label) from None

    def readable(self):
        return True

    def seekable(self):
        return True

    def readinto(self, buffer):
        data = self._guard(self._inner.read, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size=-1):
        return self._guard(self._inner.read, size)

    def seek(self, offset, whence=io.SEEK_SET):
        return self._guard(self._inner.seek, offset, whence)

    def tell(self):
        return self._inner.tell()

    def close(self):
        if not self.closed:
            self._inner.close()
        super().close()


class ZipSource:
    """A checked zip archive. ``real_path``/``real_offset`` say where byte 0 of ``fileobj`` lies in a real
    file (None for temporary copies), so that stored members can be located for direct copying."""

    def __init__(
        self,
        fileobj: IO[bytes] | io.RawIOBase,
        label: str,
        limits: Limits = DEFAULT_LIMITS,
        *,
        real_path: str | None = None,
        real_offset: int = 0,
        owned: Iterable[IO[bytes]] = (),
    ):
        self.label = label
        self.limits = limits
        self.real_path = real_path
        self.real_offset = real_offset
        self._fileobj = fileobj
        self._owned = list(owned)
        try:
            self.zip = zipfile.ZipFile(fileobj)
        except (zipfile.BadZipFile, NotImplementedError, ValueError) as err:
            self.close()
            raise FormatError('not a valid zip archive (%s); a truncated download looks like this too' % err, path=label) from None
        except (OSError, EOFError) as err:
            self.close()
            raise FormatError('cannot read the zip archive (%s)' % err, path=label) from None
        try:
            self._check_members()
        except Exception:
            self.close()
            raise
        # Zips written by older Windows tools use "\\" as the path separator.
        self.infos = {info.filename.replace('\\', '/'): info for info in self.zip.infolist() if not info.is_dir() and not info.filename.endswith('\\')}

    def _check_members(self):
        infos = self.zip.infolist()
        if len(infos) > self.limits.max_members:
            raise UnsafeArchiveError('zip has %d members, more than max_members %d' % (len(infos), self.limits.max_members), path=self.label)
        total = 0
        archive_size = file_size(self._fileobj)
        # Declared compressed sizes cannot add up to more than the archive holds (overlapping or forged entries).
        packed_total = max(1, min(sum(i.compress_size for i in infos), archive_size))
        for info in infos:
            safe_member_path(info.filename, self.label, 'zip member')
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                raise UnsafeArchiveError('zip member %s is a symbolic link; links are refused' % info.filename, path=self.label)
            if info.flag_bits & 0x1:
                raise UnsupportedError('zip member %s is encrypted' % info.filename, path=self.label)
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise UnsupportedError(
                    'zip member %s uses compression method %d (only stored and deflated are supported)' % (info.filename, info.compress_type), path=self.label
                )
            if info.header_offset + info.compress_size > archive_size:
                raise UnsafeArchiveError(
                    'zip member %s claims %d compressed bytes at offset %d, past the end of the %d-byte '
                    'archive: the central directory is corrupt or forged' % (info.filename, info.compress_size, info.header_offset, archive_size),
                    path=self.label,
                )
            total += info.file_size
            check_expansion(info.file_size, info.compress_size, self.limits, label='%s: %s' % (self.label, info.filename))
            check_expansion(total, packed_total, self.limits, label=self.label)

    def names(self) -> list[str]:
        return list(self.infos)

    def find(self, name: str) -> str | None:
        """Exact member name, else a case-insensitive match (bundles built on Windows vary)."""
        name = safe_member_path(name, self.label, 'referenced path')
        if name in self.infos:
            return name
        lowered = {n.lower(): n for n in self.infos}
        return lowered.get(name.lower())

    def size(self, name: str) -> int:
        return self.infos[name].file_size

    def open(self, name: str) -> io.RawIOBase:
        try:
            inner = self.zip.open(self.infos[name])
        except _ZIP_ERRORS + (OSError,) as err:
            raise FormatError('cannot open zip member %s (%s)' % (name, err), path=self.label) from None
        return _ZipMemberStream(inner, '%s: %s' % (self.label, name))

    def read_small(self, name: str, what: str | None = None) -> bytes:
        with self.open(name) as stream:
            return read_capped(stream, self.limits.max_metadata_size, '%s: %s' % (self.label, name), what=what or name)

    def stored_extent(self, name: str) -> tuple[str | None, int, int] | None:
        """(path, offset, size) of a stored (uncompressed) member's bytes in a real file, else None."""
        info = self.infos[name]
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        self._fileobj.seek(info.header_offset)
        local = self._fileobj.read(30)
        if len(local) != 30 or local[:4] != b'PK\x03\x04':
            raise FormatError('zip member %s has a corrupt local header' % name, path=self.label)
        name_len, extra_len = struct.unpack('<HH', local[26:30])
        data_offset = info.header_offset + 30 + name_len + extra_len
        return self.real_path, self.real_offset + data_offset, info.file_size

    def open_nested(self, name: str, depth: int) -> ZipSource:
        """The member ``name`` opened as a zip (stored: in place; deflated: via a temporary file)."""
        label = '%s!%s' % (self.label, name)
        if depth > MAX_NESTING:
            raise UnsupportedError('zip nesting deeper than %d levels' % MAX_NESTING, path=label)
        path, offset, size = self.stored_extent(name) or (None, None, None)
        if offset is not None and path is not None:
            base = open(path, 'rb')
            return ZipSource(SliceReader(base, offset, size), label, self.limits, real_path=path, real_offset=offset, owned=[base])
        if offset is not None:
            view = SliceReader(self._fileobj, offset - self.real_offset, size, close_base=False)
            return ZipSource(view, label, self.limits, real_path=None, real_offset=0)
        spool = tempfile.TemporaryFile(prefix='esxi-customizer-')
        try:
            with self.open(name) as stream:
                shutil.copyfileobj(stream, spool, COPY_CHUNK)
            spool.seek(0)
        except Exception:
            spool.close()
            raise
        return ZipSource(spool, label, self.limits, real_path=None, real_offset=0, owned=[spool])

    def close(self) -> None:
        zf = getattr(self, 'zip', None)
        if zf is not None:
            zf.close()
        for handle in self._owned:
            handle.close()
        self._owned = []
        if self._fileobj is not None:
            self._fileobj.close()
            self._fileobj = None


@dataclass
class Bulletin:
    """A bulletin; on 7.x+ a component (``componentNameSpec``/``componentVersionSpec``)."""

    id: str
    vendor: str = ''
    summary: str = ''
    description: str = ''
    release_date: str = ''
    release_type: str = ''
    component_name: str | None = None
    component_ui_name: str | None = None
    component_version: str | None = None
    component_ui_version: str | None = None
    platforms: list = field(default_factory=list)
    vib_ids: list = field(default_factory=list)
    xml_bytes: bytes = b''

    @property
    def is_component(self) -> bool:
        return self.component_name is not None

    @property
    def name(self) -> str | None:
        """Component name (``componentNameSpec/@name``); None for a plain bulletin."""
        return self.component_name

    @property
    def version(self) -> str | None:
        """Component version (``componentVersionSpec/@version``); None for a plain bulletin."""
        return self.component_version


@dataclass
class DepotVib:
    """A VIB as the depot metadata describes it."""

    vib_id: str
    relative_path: str
    packed_size: int | None = None
    checksum: Checksum | None = None
    member: str | None = None  # resolved zip member name
    # Folders the relative path may be relative to: the metadata zip's, the vendor index's (index.xml
    # <relativePath>), then the bundle root.
    search_dirs: tuple = ()

    def candidates(self) -> list[str]:
        """Zip member paths the VIB may be at, most specific first (never outside the bundle)."""
        ref = _resolve('', self.relative_path)
        found = []
        for base in self.search_dirs + ('',):
            path = posixpath.normpath(posixpath.join(base, ref)) if base else posixpath.normpath(ref)
            if path.startswith('../') or path in ('..', '.') or path.startswith('/') or path in found:
                continue
            found.append(path)
        return found


def _parse(data, label, what):
    return local_names(parse_xml(data, label, what))


def _text(elem, tag, default=''):
    child = elem.find(tag)
    return (child.text or '').strip() if child is not None else default


def parse_bulletin(elem: ElementTree.Element, xml_bytes: bytes) -> Bulletin:
    bid = _text(elem, 'id')
    name_spec = elem.find('componentNameSpec')
    version_spec = elem.find('componentVersionSpec')
    vib_ids = []
    vib_list = elem.find('vibList')
    if vib_list is not None:
        for child in vib_list:
            if child.tag == 'vibID':
                vib_ids.append((child.text or '').strip())
            elif child.tag == 'vib':
                vib_ids.append(_text(child, 'vibID'))
    platforms = [SoftwarePlatform(p.get('version', ''), p.get('locale', ''), p.get('productLineID', '')) for p in elem.iter('softwarePlatform')]
    return Bulletin(
        id=bid,
        vendor=_text(elem, 'vendor'),
        summary=_text(elem, 'summary'),
        description=_text(elem, 'description'),
        release_date=_text(elem, 'releaseDate'),
        release_type=_text(elem, 'releaseType'),
        component_name=name_spec.get('name') if name_spec is not None else None,
        component_ui_name=name_spec.get('uiString') if name_spec is not None else None,
        component_version=version_spec.get('version') if version_spec is not None else None,
        component_ui_version=version_spec.get('uiString') if version_spec is not None else None,
        platforms=platforms,
        vib_ids=[v for v in vib_ids if v],
        xml_bytes=xml_bytes,
    )


def _bulletin_db_bytes(elem):
    """A vmware.xml bulletin as the stand-alone bulletins/<id>.xml form (vibList reduced to vibIDs)."""
    clone = copy.deepcopy(elem)
    vib_list = clone.find('vibList')
    if vib_list is not None:
        ids = [_text(v, 'vibID') if v.tag == 'vib' else (v.text or '').strip() for v in list(vib_list)]
        for child in list(vib_list):
            vib_list.remove(child)
        for vib_id in ids:
            ElementTree.SubElement(vib_list, 'vibID').text = vib_id
    return ElementTree.tostring(clone, encoding='utf-8')


class Depot:
    """An opened offline bundle. Use :func:`open_depot`; close() (or ``with``) releases files."""

    def __init__(self, source: ZipSource, label: str):
        self.source = source  # the ZipSource holding index.xml and the VIBs
        self.label = label
        self.vendors = []  # [(name, code)]
        self.platform_versions = []
        self.bulletins = []
        self.vibs = []
        self.warnings = []
        self.extra_metadata = []  # metadata.zip members under addons/, baseimages/, manifests/
        self.profiles: list[ImageProfile] = []  # image profiles (profiles/*.xml of the metadata zips), depot form
        self._sources = [source]

    @property
    def components(self) -> list[Bulletin]:
        return [b for b in self.bulletins if b.is_component]

    def close(self) -> None:
        for src in reversed(self._sources):
            src.close()
        self._sources = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _index_member(source):
    """``index.xml`` at the zip root, else the one ``<folder>/index.xml`` of a re-zipped bundle folder, else None."""
    name = source.find('index.xml')
    if name is not None:
        return name
    nested = [n for n in source.names() if n.count('/') == 1 and n.lower().endswith('/index.xml')]
    return nested[0] if len(nested) == 1 else None


def _find_bundle(outer, depth):
    """Follow nested zips until a zip with index.xml; returns the ZipSource and every one opened."""
    opened = [outer]
    current = outer
    while _index_member(current) is None:
        zips = [n for n in current.names() if n.lower().endswith('.zip')]
        candidates = [n for n in zips if 'metadata' not in posixpath.basename(n).lower()] or zips
        if len(candidates) != 1 or depth >= MAX_NESTING:
            for src in reversed(opened):
                src.close()
            if len(candidates) > 1:
                raise FormatError(
                    'not an offline bundle: no index.xml at the top of the zip, and it holds %d zips (%s); '
                    'extract the bundle you want and give that one' % (len(candidates), ', '.join(candidates)),
                    path=current.label,
                )
            vibs = [n for n in current.names() if n.lower().endswith('.vib')]
            hint = ('; it holds %s, which can be given as .vib files directly' % ', '.join(vibs[:5])) if vibs else ''
            raise FormatError(
                'not an offline bundle: no index.xml at the top of the zip%s%s' % (' and no nested bundle zip' if not candidates else '', hint),
                path=current.label,
            )
        depth += 1
        try:
            current = current.open_nested(candidates[0], depth)
        except Exception:
            for src in reversed(opened):
                src.close()
            raise
        opened.append(current)
    return current, opened


def open_depot(path: str, limits: Limits = DEFAULT_LIMITS, fileobj: IO[bytes] | io.RawIOBase | None = None, *, label: str | None = None) -> Depot:
    """Open and index an offline bundle / component zip. Raises FormatError/UnsafeArchiveError on bad input."""
    label = label or path
    handle = fileobj or open(path, 'rb')
    outer = ZipSource(handle, label, limits, real_path=path if fileobj is None else None)
    bundle, opened = _find_bundle(outer, 0)
    depot = Depot(bundle, label)
    depot._sources = opened
    try:
        _index(depot, bundle, limits)
    except Exception:
        depot.close()
        raise
    return depot


def _resolve(base_dir, ref):
    ref = (ref or '').strip()
    if '://' in ref:
        ref = ref.rsplit('/', 1)[-1]  # a depot URL: the bundle carries the file at its root
    return posixpath.normpath(posixpath.join(base_dir, ref)) if base_dir else ref


def _index(depot, bundle, limits):
    index_name = _index_member(bundle)
    root = posixpath.dirname(index_name)  # '' unless the bundle folder itself was zipped
    index = _parse(bundle.read_small(index_name, 'index.xml'), '%s: %s' % (bundle.label, index_name), 'index.xml')
    metadata_names = {}  # metadata zip -> folders VIB paths may be relative to
    for vendor in index.iter('vendor'):
        depot.vendors.append((_text(vendor, 'name'), _text(vendor, 'code')))
        rel_dir = _text(vendor, 'relativePath').strip('/')
        if '://' in rel_dir:
            rel_dir = ''  # an online depot's URL kept in an offline copy: the files are in the bundle itself
        rel_dir = posixpath.normpath(posixpath.join(root, rel_dir)) if root else rel_dir
        vendor_index_name = bundle.find(_resolve(rel_dir, _text(vendor, 'indexfile') or 'vendor-index.xml'))
        if vendor_index_name is None:
            raise FormatError('index.xml names vendor index %r, which is not in the bundle' % _text(vendor, 'indexfile'), path=bundle.label)
        vendor_index = _parse(bundle.read_small(vendor_index_name), '%s: %s' % (bundle.label, vendor_index_name), vendor_index_name)
        for meta in vendor_index.iter('metadata'):
            depot.platform_versions.append(_text(meta, 'version'))
            url = _text(meta, 'url')
            name = bundle.find(_resolve(posixpath.dirname(vendor_index_name), url))
            if name is None:
                raise FormatError('%s names metadata %r, which is not in the bundle' % (vendor_index_name, url), path=bundle.label)
            dirs = metadata_names.setdefault(name, [])
            for folder in (posixpath.dirname(name), posixpath.dirname(vendor_index_name), rel_dir, root):
                if folder and folder not in dirs:
                    dirs.append(folder)
    if not metadata_names:
        raise FormatError('index.xml / vendor-index.xml name no metadata zip', path=bundle.label)
    by_id = {}
    for name, dirs in metadata_names.items():
        _read_metadata(depot, bundle, name, by_id=by_id, limits=limits, search_dirs=tuple(dirs))
    for vib in by_id.values():
        member = next((m for m in map(bundle.find, vib.candidates()) if m is not None), None)
        if member is None:
            raise FormatError(
                'metadata says VIB %s is at %r, but the bundle has no such file (looked for %s)'
                % (vib.vib_id, vib.relative_path, ', '.join(vib.candidates()) or 'a path inside the bundle'),
                path=bundle.label,
            )
        vib.member = member
        if vib.packed_size is not None and vib.packed_size != bundle.size(member):
            raise FormatError(
                'VIB %s is %d bytes in the bundle but the metadata says %d (corrupt or truncated bundle)' % (vib.vib_id, bundle.size(member), vib.packed_size),
                path=bundle.label,
            )
        depot.vibs.append(vib)
    missing = []
    for bulletin in depot.bulletins:
        for vib_id in bulletin.vib_ids:
            if vib_id not in by_id:
                missing.append(vib_id)
                depot.warnings.append(
                    'bulletin %s lists VIB %s, which this bundle does not carry (neither its metadata nor a .vib file)' % (bulletin.id, vib_id)
                )
    if depot.extra_metadata:
        depot.warnings.append(
            'the bundle metadata also describes 7.x+ add-ons, base images or hardware support manifests '
            '(%s); only its components and VIBs are read' % ', '.join(depot.extra_metadata)
        )
    if not depot.vibs:
        if missing:
            raise FormatError(
                'the bundle carries none of the VIBs its bulletins list (%s): a metadata-only or partial bundle' % ', '.join(missing), path=bundle.label
            )
        raise FormatError('the bundle metadata lists no VIBs', path=bundle.label)


def _relative(text, label, what):
    """A VIB path from the metadata: stripped; absolute paths and NUL bytes refused (``..`` is judged once resolved)."""
    text = (text or '').strip()
    if '\x00' in text or (text.startswith(('/', '\\')) or text[1:2] == ':') and '://' not in text:
        raise UnsafeArchiveError('%s %r is absolute or contains a NUL byte; VIB paths must be relative' % (what, text), path=label)
    return text


def _read_metadata(depot, bundle, name, *, by_id, limits, search_dirs=()):
    label = '%s!%s' % (bundle.label, name)
    data = bundle.read_small(name, 'metadata zip %s' % name)
    meta = ZipSource(io.BytesIO(data), label, limits)
    try:
        bulletin_files = {}
        for member in sorted(meta.names()):
            lower = member.lower()
            if lower.startswith('vibs/') and lower.endswith('.xml'):
                desc = descriptor_from_element(parse_xml(meta.read_small(member), '%s: %s' % (label, member), member), '%s: %s' % (label, member))
                if desc.relative_path:
                    by_id.setdefault(
                        desc.vib_id,
                        DepotVib(
                            desc.vib_id, _relative(desc.relative_path, label, 'relative-path'), desc.packed_size, desc.vib_checksum, search_dirs=search_dirs
                        ),
                    )
            elif lower.split('/', 1)[0] in EXTRA_METADATA_DIRS and lower.endswith(('.xml', '.json')):
                depot.extra_metadata.append(member)
            elif lower.startswith('profiles/') and not lower.endswith('/'):
                # a base depot's image profiles: vib-ids only (no payload map); one per name, the first metadata zip wins
                profile = ImageProfile(meta.read_small(member), member=member, what='%s: %s' % (label, member))
                if profile.name and all(known.name != profile.name for known in depot.profiles):
                    depot.profiles.append(profile)
            elif lower.startswith('bulletins/') and lower.endswith('.xml'):
                raw = meta.read_small(member)
                bulletin = parse_bulletin(_parse(raw, '%s: %s' % (label, member), member), raw)
                bulletin_files[bulletin.id] = bulletin
        vmware_name = meta.find('vmware.xml')
        response_bulletins = []
        if vmware_name is not None:
            response = _parse(meta.read_small(vmware_name), '%s: vmware.xml' % label, 'vmware.xml')
            for elem in response.iter('bulletin'):
                response_bulletins.append(parse_bulletin(elem, _bulletin_db_bytes(elem)))
                for vib in elem.iter('vib'):
                    vib_id = _text(vib, 'vibID')
                    rel = vib.find('vibFile/relativePath')
                    if vib_id and rel is not None and (rel.text or '').strip() and vib_id not in by_id:
                        size = _text(vib, 'vibFile/packedSize')
                        ctype = _text(vib, 'vibFile/checksum/checksumType')
                        cval = _text(vib, 'vibFile/checksum/checksum')
                        by_id[vib_id] = DepotVib(
                            vib_id,
                            _relative(rel.text, label, 'relativePath'),
                            int(size) if size.isdigit() else None,
                            Checksum(ctype, cval.lower()) if ctype and cval else None,
                            search_dirs=search_dirs,
                        )
        known = {b.id for b in depot.bulletins}
        for bulletin in list(bulletin_files.values()) + response_bulletins:
            if bulletin.id not in known:
                known.add(bulletin.id)
                depot.bulletins.append(bulletin_files.get(bulletin.id, bulletin))
    finally:
        meta.close()
