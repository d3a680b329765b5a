# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ESXi image database (``IMGDB.TGZ``): image profile, VIB descriptors, 7.x components.

Layout (gzip'ed tar, relative paths, loaded by esximage's ``TarDatabase``):

* ``var/db/esximg/profiles/<anything>`` - image profile XML (the file name is not significant);
* ``var/db/esximg/vibs/<x>.xml`` - one VIB descriptor, with ``<x>.xml.orig`` (original descriptor
  bytes, what the signature covers) and ``<x>.xml.sig`` (the VIB's ``sig.pkcs7``) when present;
* ``var/db/esximg/bulletins/<id>.xml`` and ``reservedComponents/<id>.xml`` (7.x) - components;
* anything else is kept verbatim.

The profile maps every VIB payload to its *local name*: the bootbank/ISO file name that boot.cfg
lists and the installer copies (``lsu_lsi_.v01``).  :meth:`ImageDatabase.allocate_local_name`
implements the installer's naming rule for new payloads.

All XML is parsed with defusedxml; archives are checked for escaping paths, links and absurd sizes
before anything is read into memory.  Writing (:meth:`ImageDatabase.to_tgz`) is deterministic.
"""

from __future__ import annotations

import copy
import datetime
import gzip
import io
import posixpath
import re
import tarfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import (
    ConflictError,
    FormatError,
    UnsafeArchiveError,
)

from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import VibRecord, Component, ImageProfile
from ansible_collections.esxi.customizer.plugins.module_utils._formats.tarstream import open_tar_stream
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import normalize_acceptance
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import Limits
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import PrependReader, gunzip_stream

DB_ROOT = 'var/db/esximg/'
PROFILES_DIR = DB_ROOT + 'profiles/'
VIBS_DIR = DB_ROOT + 'vibs/'
BULLETINS_DIR = DB_ROOT + 'bulletins/'
RESERVED_DIR = DB_ROOT + 'reservedComponents/'

MAX_EXPANDED_SIZE = 256 * 1024 * 1024
_LOCAL_NAME_RE = re.compile(r'^[a-z0-9_]{1,8}(\.[a-z0-9_]{1,3})?$')
"""A local name the ISO root can hold: 8.3, ISO 9660 d-characters (lower case here, upper case on the ISO)."""
MAX_MEMBERS = 100000
_MAX_LOCAL_SEQ = 256


# -- the database ----------------------------------------------------------------------------------


@dataclass
class _Member:
    name: str  # as written in the archive
    isdir: bool
    data: bytes = b''


def _check_member(info: tarfile.TarInfo, what: str) -> str:
    """Relative, normalised path of a safe member; UnsafeArchiveError otherwise."""
    name = info.name
    if name.startswith('/') or name.startswith('\\') or (len(name) > 1 and name[1] == ':'):
        raise UnsafeArchiveError('member %r has an absolute path' % name, path=what)
    parts = [part for part in name.replace('\\', '/').split('/') if part not in ('', '.')]
    if '..' in parts:
        raise UnsafeArchiveError('member %r would escape the archive directory (..)' % name, path=what)
    if info.issym() or info.islnk():
        raise UnsafeArchiveError('member %r is a link (to %r); links are not allowed' % (name, info.linkname), path=what)
    if not (info.isreg() or info.isdir()):
        raise UnsafeArchiveError('member %r is a device, FIFO or other special file' % name, path=what)
    return '/'.join(parts) + ('/' if info.isdir() and parts else '')


class ImageDatabase:
    """IMGDB.TGZ contents: profiles, VIBs, components and other members, editable and re-packable."""

    def __init__(self, path: str | None = None):
        self.path = path
        self.profiles: list[ImageProfile] = []
        self.vibs: dict[str, VibRecord] = {}
        self.components: dict[str, Component] = {}
        self._members: list[_Member] = []
        self._removed: set = set()

    def copy(self) -> ImageDatabase:
        """An independent copy to edit: a plan changes the copy, the database read from the ISO stays as it was."""
        return copy.deepcopy(self)

    # -- loading -----------------------------------------------------------------------------

    @classmethod
    def from_tgz(cls, source: bytes | bytearray | IO[bytes] | io.RawIOBase, path: str | None = None, max_size: int = MAX_EXPANDED_SIZE) -> ImageDatabase:
        """Load from bytes or a readable binary file object (streamed; it need not be seekable)."""
        what = path or 'image database'
        fileobj = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        members = cls._read_members(fileobj, what, max_size)
        db = cls(path)
        db._members = members
        db._index(what)
        return db

    @classmethod
    def from_members(cls, members: Iterable[tuple[str, bytes]], path: str | None = None) -> ImageDatabase:
        """A new database of ``members`` (``(archive path, bytes)``: profile, ``vibs/*.xml`` + ``.orig``/``.sig``...),
        indexed as one read from an archive would be (the depot renderer builds the image database this way)."""
        db = cls(path)
        db._members = [_Member(name, False, bytes(data)) for name, data in members]
        db._index(path or 'image database')
        return db

    @staticmethod
    def _read_members(fileobj, what: str, max_size: int) -> list:
        members = []
        total = 0
        try:
            head = fileobj.read(2)
            # decompressed by our capped reader, so neither a member nor a header can expand past max_size
            stream = PrependReader(head, fileobj)
            if head == b'\x1f\x8b':
                stream = gunzip_stream(stream, Limits(max_uncompressed_size=max_size), what)
            with open_tar_stream(io.BufferedReader(stream) if not isinstance(stream, io.BufferedReader) else stream, label=what) as tar:
                for info in tar:
                    if len(members) >= MAX_MEMBERS:
                        raise UnsafeArchiveError('has more than %d members' % MAX_MEMBERS, path=what)
                    name = _check_member(info, what)
                    total += max(info.size, 0)
                    if total > max_size:
                        raise UnsafeArchiveError('expands to more than %d MiB: refusing (possible archive bomb)' % (max_size // (1024 * 1024)), path=what)
                    if not name:
                        continue
                    data = b''
                    if info.isreg():
                        data = tar.extractfile(info).read()
                        if len(data) != info.size:
                            raise FormatError('member %s is truncated' % info.name, path=what)
                    members.append(_Member(name, info.isdir(), data))
        except (tarfile.ReadError, tarfile.CompressionError) as err:
            raise FormatError('is not a readable gzip/tar archive (%s)' % err, path=what)
        except UnsafeArchiveError:
            raise
        except FormatError as err:  # from the gzip layer: say what the file should have been
            raise FormatError('is not a readable gzip/tar archive (%s)' % err.detail, path=what) from None
        except (EOFError, zlib.error, OSError) as err:
            raise FormatError('is truncated or corrupt (%s)' % (err or type(err).__name__), path=what)
        return members

    def _index(self, what: str) -> None:
        files = {member.name: member for member in self._members if not member.isdir}
        for name, member in files.items():
            label = '%s:%s' % (what, name)
            if name.startswith(PROFILES_DIR) and name != PROFILES_DIR:
                self.profiles.append(ImageProfile(member.data, member=name, what=label))
            elif name.startswith(VIBS_DIR) and name.endswith('.xml'):
                orig = files.get(name + '.orig')
                sig = files.get(name + '.sig')
                record = VibRecord.from_xml(member.data, label, orig.data if orig else None, sig=sig.data if sig else None, member=name)
                self.vibs[record.vib_id] = record
            elif name.startswith((BULLETINS_DIR, RESERVED_DIR)) and name.endswith('.xml'):
                component = Component.from_xml(member.data, label, reserved=name.startswith(RESERVED_DIR), member=name)
                self.components[component.id] = component

    # -- reading -----------------------------------------------------------------------------

    @property
    def profile(self) -> ImageProfile | None:
        """The image profile the installer uses (the first; real databases have exactly one)."""
        return self.profiles[0] if self.profiles else None

    def member_names(self) -> list[str]:
        return [member.name for member in self._members]

    def member_data(self, name: str) -> bytes | None:
        for member in self._members:
            if member.name == name and not member.isdir:
                return member.data
        return None

    def vibs_by_name(self, name: str) -> list[VibRecord]:
        return [vib for vib in self.vibs.values() if vib.name == name]

    def profile_vibs(self) -> list[VibRecord | str]:
        """The profile's VIBs in profile order (a vib-id string where no descriptor exists)."""
        if self.profile is None:
            return []
        return [self.vibs.get(vib_id, vib_id) for vib_id in self.profile.vibs]

    def components_of(self, vib_id: str) -> list[Component]:
        return [component for component in self.components.values() if vib_id in component.vib_ids]

    def problems(self) -> list[str]:
        """Inconsistencies inside the database itself."""
        found = []
        if not self.profiles:
            found.append('image database has no image profile (var/db/esximg/profiles/)')
            return found
        if len(self.profiles) > 1:
            found.append('image database has %d image profiles; the installer uses one' % len(self.profiles))
        if not self.profile.has_viblist:
            found.append('image profile %s has no <viblist>' % (self.profile.member or ''))
        for vib_id, payloads in self.profile.vibs.items():
            record = self.vibs.get(vib_id)
            if record is None:
                found.append('profile lists VIB %s but the database has no descriptor for it' % vib_id)
                continue
            for payload_name in payloads:
                if record.payload(payload_name) is None:
                    found.append('profile maps payload %r of VIB %s, which the VIB does not have' % (payload_name, vib_id))
            for payload in record.payloads:
                if payload.name not in payloads:
                    found.append('profile has no local file name for payload %r of VIB %s' % (payload.name, vib_id))
        return found

    # -- editing -----------------------------------------------------------------------------

    def _require_profile(self) -> ImageProfile:
        if self.profile is None:
            raise FormatError('image database has no image profile to edit', path=self.path)
        return self.profile

    def used_local_names(self) -> set:
        return set().union(*(profile.local_names for profile in self.profiles)) if self.profiles else set()

    def allocate_local_name(
        self, payload_name: str, payload_type: str, vfat_name: str | None = None, *, reserved: Iterable[str] = (), for_iso: bool = False
    ) -> str:
        """Local (bootbank/ISO) file name for a new payload, by the installer's rule (esxi-formats §3.5).

        A unique ``vfat_name`` is used as is (lower-cased).  Otherwise the name is the first 8
        characters of the payload name (``-`` -> ``_``, lower case), a dot, the payload type's first
        letter and the first free two-digit *hex* sequence number (``v00`` ... ``v09``, ``v0a``).
        Names already in any profile and those in ``reserved`` (any case) are taken.  ``for_iso``: the name
        becomes an ISO root file, so it must be 8.3 d-characters: a ``vfat_name`` that is not is ignored,
        and every other character outside ``[a-z0-9_]`` becomes ``_`` (``net.drv`` -> ``net_drv.v00``).
        """
        if not payload_name or not payload_type:
            raise ValueError('payload name and type are required to allocate a local name')
        taken = self.used_local_names() | {name.lower() for name in reserved}
        if vfat_name and vfat_name.lower() not in taken and (not for_iso or _LOCAL_NAME_RE.match(vfat_name.lower())):
            return vfat_name.lower()
        short = payload_name[:8].replace('-', '_').lower()
        letter = payload_type[0].lower()
        if for_iso:
            # The installer only turns '-' into '_'; any other character outside the ISO 9660 d-characters
            # ('.', '+', ...) would give a name the ISO root cannot hold, so it becomes '_' as well.
            short = re.sub(r'[^a-z0-9_]', '_', short)
            if not re.match(r'^[a-z0-9_]$', letter):
                raise ValueError('payload type %r cannot give an ISO file name' % payload_type)
        for seq in range(_MAX_LOCAL_SEQ):
            candidate = '%s.%s%02x' % (short, letter, seq)
            if candidate not in taken:
                return candidate
        raise ConflictError('all %d local names %s.%s00-%sff are taken' % (_MAX_LOCAL_SEQ, short, letter, letter), path=self.path)

    def _vib_member_name(self, name: str, vib_id: str) -> str:
        taken = {member.name for member in self._members}
        number = zlib.crc32(vib_id.encode('utf-8'))
        while True:
            candidate = '%s%s-%d.xml' % (VIBS_DIR, name, number)
            if candidate not in taken:
                return candidate
            number += 1

    def add_vib(self, vib_id: str, name: str, xml_bytes: bytes, *, payloads: dict, orig: bytes | None = None, sig: bytes | None = None) -> VibRecord:
        """Add a VIB descriptor (and ``.orig``/``.sig``) and its entry ``{payload_name: local_name}`` in every profile.

        A database with several profiles (a hand-made or OEM remaster) gets the VIB in each: which one the
        installer takes is not known, and a VIB missing from it would be lost silently.
        """
        self._require_profile()
        if vib_id in self.vibs or any(vib_id in profile.vibs for profile in self.profiles):
            raise ConflictError('VIB %s is already in the image database' % vib_id, path=self.path)
        member = self._vib_member_name(name, vib_id)
        record = VibRecord.from_xml(xml_bytes, 'descriptor of %s' % vib_id, orig, sig=sig, member=member)
        if record.vib_id != vib_id:
            raise ValueError('descriptor describes %s, not %s' % (record.vib_id, vib_id))
        unknown = sorted(set(payloads) - {payload.name for payload in record.payloads})
        if unknown:
            raise ValueError('VIB %s has no payload named %s' % (vib_id, ', '.join(unknown)))
        clash = sorted(local for local in payloads.values() if local.lower() in self.used_local_names())
        if clash:
            raise ConflictError('local file name(s) %s already used in the image profile' % ', '.join(clash), path=self.path)
        for profile in self.profiles:
            profile.add_vib(vib_id, dict(payloads))
        self.vibs[vib_id] = record
        self._add_member(member, record.xml)
        if orig is not None:
            self._add_member(member + '.orig', orig)
        if sig is not None:
            self._add_member(member + '.sig', sig)
        return record

    def remove_vib(self, vib_id: str) -> VibRecord | None:
        """Remove a VIB from every profile and its descriptor files; return its record (None if absent)."""
        record = self.vibs.pop(vib_id, None)
        in_profile = [profile.remove_vib(vib_id) for profile in self.profiles]
        if record is not None and record.member:
            self._drop_members({record.member, record.member + '.orig', record.member + '.sig'})
        return record if record is not None or any(in_profile) else None

    def add_component(self, component_id: str, xml_bytes: bytes, reserved: bool = False) -> Component:
        if component_id in self.components:
            raise ConflictError('component %s is already in the image database' % component_id, path=self.path)
        if not component_id or '/' in component_id or component_id.startswith('.'):
            raise ValueError('invalid component id %r' % component_id)
        member = '%s%s.xml' % (RESERVED_DIR if reserved else BULLETINS_DIR, component_id)
        component = Component.from_xml(xml_bytes, 'component %s' % component_id, reserved=reserved, member=member)
        if component.id != component_id:
            raise ValueError('component XML has id %s, not %s' % (component.id, component_id))
        self.components[component_id] = component
        self._add_member(member, component.xml)
        return component

    def remove_component(self, component_id: str) -> Component | None:
        component = self.components.pop(component_id, None)
        if component is not None and component.member:
            self._drop_members({component.member})
        return component

    def set_acceptance_level(self, level: str) -> bool:
        """Set ``<acceptancelevel>`` of every profile; return whether one changed."""
        self._require_profile()
        token = normalize_acceptance(level)
        changed = False
        for profile in self.profiles:
            if profile.acceptance_level != token or profile.get_field('acceptance_level') is None:
                changed = profile.set_field('acceptance_level', token) or changed
        return changed

    def touch(self, modified_time: datetime.datetime | int | float | str) -> bool:
        """Set ``<modifiedtime>`` (a datetime, epoch seconds or an ISO-8601 string) in the installer's format."""
        if isinstance(modified_time, (int, float)):
            modified_time = datetime.datetime.fromtimestamp(modified_time, datetime.timezone.utc)
        if isinstance(modified_time, datetime.datetime):
            if modified_time.tzinfo is None:
                modified_time = modified_time.replace(tzinfo=datetime.timezone.utc)
            modified_time = modified_time.astimezone(datetime.timezone.utc).isoformat()
        self._require_profile()
        changed = False
        for profile in self.profiles:
            changed = profile.set_field('modified_time', str(modified_time)) or changed
        return changed

    def _add_member(self, name: str, data: bytes) -> None:
        self._members = [member for member in self._members if member.name != name]
        self._members.append(_Member(name, False, bytes(data)))

    def _drop_members(self, names: set) -> None:
        self._members = [member for member in self._members if member.name not in names]

    # -- writing -----------------------------------------------------------------------------

    def _current_members(self) -> list:
        """Members to write: original order, edited profiles re-rendered, every parent directory explicit."""
        profiles = {profile.member: profile for profile in self.profiles}
        seen_dirs = set()
        out = []
        for member in self._members:
            if member.isdir:
                if member.name not in seen_dirs:
                    seen_dirs.add(member.name)
                    out.append(member)
                continue
            parents = []
            parent = posixpath.dirname(member.name)
            while parent:
                parents.append(parent + '/')
                parent = posixpath.dirname(parent)
            for directory in reversed(parents):
                if directory not in seen_dirs:
                    seen_dirs.add(directory)
                    out.append(_Member(directory, True))
            data = profiles[member.name].to_xml() if member.name in profiles else member.data
            out.append(_Member(member.name, False, data))
        return out

    def to_tgz(self, mtime: int = 0) -> bytes:
        """The archive bytes: identical for identical content (fixed metadata, GNU tar, gzip mtime 0)."""
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode='w', format=tarfile.GNU_FORMAT) as tar:
            for member in self._current_members():
                info = tarfile.TarInfo(member.name.rstrip('/') if member.isdir else member.name)
                info.mtime = int(mtime)
                info.uid = info.gid = 0
                info.uname = info.gname = 'root'
                if member.isdir:
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                else:
                    info.mode, info.size = 0o644, len(member.data)
                    tar.addfile(info, io.BytesIO(member.data))
        packed = io.BytesIO()
        with gzip.GzipFile(filename='', mode='wb', fileobj=packed, mtime=0, compresslevel=9) as gz:
            gz.write(raw.getvalue())
        return packed.getvalue()
