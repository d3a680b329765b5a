# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One entry point for every driver package kind: :func:`load_package`.

``load_package(path)`` recognises a ``.vib`` (ar), an offline bundle or component (zip, nested zips
included) and a legacy 3-file driver tgz (gzip), and returns a :class:`Package` whose ``vibs`` all look
the same to a caller (:class:`PackageVib`). Only metadata is held in memory; payload bytes are streamed
from the package file on demand (:meth:`PackageVib.open_payload`), and the contents analysis (file
list, PCI IDs, vmkernel module checks) runs once, lazily, with bounded memory.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import posixpath
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO

from ansible_collections.esxi.customizer.plugins.module_utils._formats.ar import AR_MAGIC, read_members
from ansible_collections.esxi.customizer.plugins.module_utils._formats.depot import Bulletin, Depot, open_depot
from ansible_collections.esxi.customizer.plugins.module_utils._formats.drivermap import PciId, merge_pci_ids, parse_ids, parse_map, parse_simple_map
from ansible_collections.esxi.customizer.plugins.module_utils._errors import ChecksumError, FormatError, UnsupportedError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.legacy_tgz import read_legacy_tgz
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import COPY_CHUNK, SliceReader, read_capped
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import DEFAULT_LIMITS, Limits
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import (
    Checksum,
    Descriptor,
    Payload,
    PayloadCheck,
    PayloadVerifier,
    parse_descriptor,
    payload_compression_supported,
    raise_for_mismatch,
    verify_payload,
)
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vmkmod import (
    ESX4_EXPLANATION,
    VMKLINUX_LAST_RELEASE,
    ModuleInfo,
    format_vmkapi,
    inspect_module,
    is_vmklinux_constraint,
    min_esxi_release,
    vmkapi_from_constraints,
)
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vmtar import scan_payload

GZIP_MAGIC = b'\x1f\x8b'
ZIP_MAGICS = (b'PK\x03\x04', b'PK\x05\x06')
CONTENT_PAYLOAD_TYPES = ('vgz', 'tgz', 'vzstd')
INJECTABLE_PAYLOAD_TYPES = ('vgz', 'tgz', 'vzstd')
MODULE_DIR = 'usr/lib/vmware/vmkmod/'


@dataclass(frozen=True)
class PayloadSource:
    """Where a payload's bytes are: ``size`` bytes at ``offset`` of the container ``opener()`` returns.

    ``extent`` is (real file path, absolute offset, size) when the bytes lie contiguously in a regular
    file (a bare .vib, a .vib stored uncompressed in a zip, a legacy tgz), else None.
    """

    opener: object
    offset: int
    size: int
    extent: tuple | None = None


class VibContents:
    """What the payloads hold: files, driver maps/ids, vmkernel modules, and what could not be read."""

    def __init__(self):
        self.files = []
        self.map_entries = []
        self.ids_tables = []
        self.ids_drivers = []
        self.modules = []
        self.unreadable = []  # (payload name, reason)
        self.bad_metadata = []  # .map/.ids files that do not parse: 'path: line N: reason'


def is_map(path: str) -> bool:
    """A driver map file (vmklinux or native) of a payload."""
    return path.startswith('etc/vmware/') and path.endswith('.map')


def is_ids(path: str) -> bool:
    """A PCI ID names file of a payload."""
    return path.startswith('usr/share/hwdata/') and path.endswith('.ids')


def _is_module(path):
    return path.startswith(MODULE_DIR) and '/' not in path[len(MODULE_DIR) :]


def _tag_pci_ids(tags):
    """PCI IDs from ``PCIID vvvvdddd...`` software tags (used when the payload cannot be read; no driver name)."""
    entries = []
    for tag in tags:
        if tag.startswith('PCIID '):
            ident = tag[6:].strip()
            try:
                entry = parse_map('regtype=native,bus=pci,id=%s,driver=unknown' % ident)[0]
            except FormatError:
                continue
            entries.append(PciId(**{**entry.__dict__, 'driver': None, 'source': 'software-tags'}))
    return entries


class PackageVib:
    """One VIB of a package: descriptor model, original bytes, streamed payloads, contents analysis."""

    def __init__(
        self,
        descriptor: Descriptor,
        descriptor_bytes: bytes,
        signature: bytes,
        *,
        payload_sources: dict[str, PayloadSource],
        label: str,
        limits: Limits = DEFAULT_LIMITS,
        warnings: Iterable[str] | None = None,
        packed: tuple[Checksum | None, Callable[[], IO[bytes] | io.RawIOBase], int] | None = None,
    ):
        self.descriptor = descriptor
        self.descriptor_bytes = descriptor_bytes
        self.signature = signature
        self.label = label
        self.limits = limits
        self.warnings = list(warnings or [])
        # (checksum, opener, size) of the whole .vib file as the depot metadata describes it, for verify_vib_file()
        self._packed = packed
        self._sources = payload_sources
        self._contents = None

    # --- identity ---------------------------------------------------------------------------------
    @property
    def vib_id(self) -> str:
        return self.descriptor.vib_id

    @property
    def name(self) -> str:
        return self.descriptor.name

    @property
    def signed(self) -> bool:
        return bool(self.signature.strip())

    # --- payload bytes ----------------------------------------------------------------------------
    def _source(self, name):
        try:
            return self._sources[name]
        except KeyError:
            raise KeyError('VIB %s has no payload %r' % (self.vib_id, name)) from None

    def payload_names(self) -> list[str]:
        return [p.name for p in self.descriptor.payloads]

    def payload_size(self, name: str) -> int:
        return self._source(name).size

    def payload_extent(self, name: str) -> tuple[str, int, int] | None:
        """(path, offset, size) of the payload bytes in a regular file, or None (compressed zip member)."""
        return self._source(name).extent

    def open_payload(self, name: str) -> SliceReader:
        """A seekable binary stream of exactly the payload member's bytes (streamed; close it after use)."""
        source = self._source(name)
        if source.extent is not None:
            # the bytes lie in a regular file (a .vib stored in a zip): read them there. Through zipfile, reaching a
            # payload means reading (and CRC-32'ing) every byte of the .vib before it - esx-base's boot payloads
            # sit behind its 400 MiB tardisks; the payload checks cover these bytes instead of the zip CRC
            path, offset, size = source.extent
            return SliceReader(open(path, 'rb'), offset, size)  # pylint: disable=consider-using-with  # closed with the reader
        return SliceReader(source.opener(), source.offset, source.size)

    def payload_check(self, name: str, *, inline: bool = False) -> PayloadCheckRun:
        """A check of payload ``name`` fed by a copy as it goes (see :class:`PayloadCheckRun`); ``inline``: hashed on the
        feeding thread (one of its own beside the copy), see :class:`~.vib.PayloadVerifier`."""
        return PayloadCheckRun(self, self.descriptor.payload(name), inline=inline)

    def open_checked_payload(self, name: str) -> CheckedPayloadStream:
        """Like :meth:`open_payload`, but a read from byte 0 to the end is checked on the way (ChecksumError at the end)."""
        return CheckedPayloadStream(self, name)

    def verify_payloads(self, strict: bool = False) -> list[PayloadCheck]:
        """Stream every payload once through its checksums; returns [PayloadCheck]. ``strict`` raises ChecksumError."""
        checks = []
        for payload in self.descriptor.payloads:
            with self.open_payload(payload.name) as stream:
                check = verify_payload(payload, stream, self.label, limits=self.limits)
            if strict:
                raise_for_mismatch(check, self.label)
            checks.append(check)
        return checks

    def verify_vib_file(self) -> bool | None:
        """Check the whole .vib against the depot metadata's sha-256 (True/False), None if there is none."""
        if not self._packed or self._packed[0] is None:
            return None
        checksum, opener, _size = self._packed
        # metadata writers spell the type sha-256, SHA-256 or sha256
        ctype = checksum.checksum_type.strip().lower().replace('-', '')
        if ctype not in ('sha256', 'sha1'):
            return None
        digest = hashlib.sha256() if ctype == 'sha256' else hashlib.sha1()
        with opener() as stream:
            while True:
                chunk = stream.read(COPY_CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
        return digest.hexdigest() == checksum.value

    @property
    def injection_problems(self) -> list[str]:
        """Why the payloads cannot be put on an installer ISO (empty when they can): only gzip'ed vgz/tgz can."""
        problems = []
        for payload in self.descriptor.payloads:
            supported, reason = payload_compression_supported(payload)
            if not supported:
                problems.append(reason)
            elif payload.type not in INJECTABLE_PAYLOAD_TYPES:
                problems.append('payload %s has type %s; only vgz, tgz and vzstd payloads of driver VIBs can be injected' % (payload.name, payload.type))
        return problems

    @property
    def injectable(self) -> bool:
        return not self.injection_problems

    def check_injectable(self) -> None:
        """Raise UnsupportedError naming the package and the reason when :attr:`injectable` is false."""
        if self.injection_problems:
            raise UnsupportedError('VIB %s cannot be injected: %s' % (self.vib_id, '; '.join(self.injection_problems)), path=self.label)

    # --- contents ---------------------------------------------------------------------------------
    @property
    def contents(self) -> VibContents:
        if self._contents is None:
            self._contents = self._analyse()
        return self._contents

    def _analyse(self):
        contents = VibContents()
        for payload in self.descriptor.payloads:
            if payload.type not in CONTENT_PAYLOAD_TYPES:
                continue
            supported, reason = payload_compression_supported(payload)
            if not supported:
                contents.unreadable.append((payload.name, reason))
                continue
            try:
                with self.open_payload(payload.name) as stream:
                    entries = scan_payload(
                        stream,
                        payload.type,
                        '%s payload %s' % (self.label, payload.name),
                        limits=self.limits,
                        want=self._wanted,
                        consume=lambda e, s: self._consume(contents, e, s),
                        compressed_size=payload.size,
                    )
            except UnsupportedError as err:
                contents.unreadable.append((payload.name, str(err)))
                continue
            contents.files.extend(e.name for e in entries if e.type == 'file')
        return contents

    @staticmethod
    def _wanted(entry):
        return _is_module(entry.name) or is_map(entry.name) or is_ids(entry.name)

    def _consume(self, contents, entry, stream):
        label = '%s: %s' % (self.label, entry.name)
        if _is_module(entry.name):
            with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
                while True:
                    chunk = stream.read(COPY_CHUNK)
                    if not chunk:
                        break
                    spool.write(chunk)
                contents.modules.append(inspect_module(spool, entry.name))
            return
        data = read_capped(stream, self.limits.max_metadata_size, label, what=entry.name)
        # A map or ids file ESXi cannot use is the package's problem to report, not a reason to refuse reading it.
        try:
            if entry.name == 'etc/vmware/simple.map':
                contents.map_entries.extend(parse_simple_map(data, entry.name))
            elif is_map(entry.name):
                contents.map_entries.extend(parse_map(data, entry.name, contents.bad_metadata))
            else:
                table = parse_ids(data, entry.name)
                contents.ids_tables.append(table)
                contents.ids_drivers.append(posixpath.splitext(posixpath.basename(entry.name))[0])
        except FormatError as err:
            contents.bad_metadata.append(str(err))

    @property
    def files(self) -> list[str]:
        """Files the payloads install (read from the payloads; the descriptor's file-list when unreadable)."""
        if self.contents.files and not self.contents.unreadable:
            return sorted(self.contents.files)
        return sorted(set(self.contents.files) | set(self.descriptor.files))

    @property
    def pci_ids(self) -> list[PciId]:
        entries = merge_pci_ids(self.contents.map_entries, self.contents.ids_tables, self.contents.ids_drivers)
        if not entries and self.contents.unreadable:
            entries = _tag_pci_ids(self.descriptor.software_tags)
        return entries

    @property
    def modules(self) -> list[ModuleInfo]:
        return list(self.contents.modules)

    @property
    def vmkapi(self) -> tuple[int, ...] | None:
        """Highest vmkapi version the VIB needs: its ``vmkapi_*`` depends, else its modules' nsRequired."""
        version = vmkapi_from_constraints(self.descriptor.depends)
        if version is None:
            found = [m.vmkapi for m in self.contents.modules if m.vmkapi]
            version = max(found) if found else None
        return version

    @property
    def vmkapi_string(self) -> str | None:
        return format_vmkapi(self.vmkapi)

    @property
    def min_esxi_release(self) -> str | None:
        return min_esxi_release(self.vmkapi)

    @property
    def vmklinux(self) -> bool:
        return any(is_vmklinux_constraint(c.name) for c in self.descriptor.depends) or any(m.vmklinux for m in self.contents.modules)

    @property
    def esx4(self) -> bool:
        return any(m.esx4 for m in self.contents.modules)

    @property
    def esx4_reason(self) -> str | None:
        bad = [m.path for m in self.contents.modules if m.esx4]
        if not bad:
            return None
        return '%s: no .vmkmodinfo section or no license= tag, so it was %s' % (', '.join(bad), ESX4_EXPLANATION)

    def all_warnings(self, *, target_release: tuple | None = None) -> list[str]:
        """Load-time warnings plus what the contents analysis found (``target_release``: leave out what does not apply)."""
        notes = list(self.warnings)
        for name, reason in self.contents.unreadable:
            notes.append('payload %s: %s' % (name, reason))
        for problem in self.contents.bad_metadata:
            notes.append('%s (line ignored)' % problem)
        for module in self.contents.modules:
            if module.problem and not module.esx4:
                notes.append('%s: %s' % (module.path, module.problem))
        if self.esx4:
            notes.append(self.esx4_reason)
        if self.vmklinux and (target_release is None or target_release >= (7, 0, 0)):
            notes.append('vmklinux driver (com.vmware.driverAPI): loads on ESXi 5.x-%s only; ESXi 7.0 removed vmklinux' % VMKLINUX_LAST_RELEASE)
        version = self.vmkapi
        if version and self.min_esxi_release is None:
            notes.append('vmkapi %s is not in the release table; the lowest ESXi release is unknown' % format_vmkapi(version))
        for module in self.contents.modules:
            if module.vmkapi and version and module.vmkapi > version:
                notes.append('%s needs vmkapi %s, more than the VIB declares (%s)' % (module.path, format_vmkapi(module.vmkapi), format_vmkapi(version)))
        return notes

    def close(self) -> None:
        self._contents = None


class Package:
    """A loaded package. ``kind`` is 'vib', 'bundle', 'component' or 'legacy_tgz'."""

    def __init__(
        self, path: str, kind: str, vibs: Iterable[PackageVib], *, bulletins: Iterable[Bulletin] = (), warnings: Iterable[str] = (), depot: Depot | None = None
    ):
        self.path = path
        self.kind = kind
        self.vibs = list(vibs)
        self.bulletins = list(bulletins)
        self.warnings = list(warnings)
        self._depot = depot

    @property
    def components(self) -> list[Bulletin]:
        """7.x components (bulletins with componentNameSpec): name, version, vib_ids, xml_bytes (bulletin XML)."""
        return [b for b in self.bulletins if b.is_component]

    @property
    def profiles(self) -> list:
        """The image profiles of a base depot (:class:`~.imgrecords.ImageProfile`, vib-ids only); empty otherwise."""
        return list(self._depot.profiles) if self._depot is not None else []

    def vib(self, key: str) -> PackageVib:
        for vib in self.vibs:
            if key in (vib.vib_id, vib.name):
                return vib
        raise KeyError(key)

    def close(self) -> None:
        for vib in self.vibs:
            vib.close()
        if self._depot is not None:
            self._depot.close()
            self._depot = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PayloadCheckRun:
    """One payload checked against its descriptor while a copy streams it: :meth:`update` with every chunk in order,
    :meth:`finish` at the end (ChecksumError naming the package, the VIB and the payload), :meth:`abort` when the copy
    stops early. The bytes as they are copied: size and sha-256 (``bytes_only`` of :func:`~.vib.verify_payload`), in
    the same pass as the copy."""

    def __init__(self, vib: PackageVib, payload: Payload, *, inline: bool = False):
        self.label = '%s: VIB %s' % (vib.label, vib.vib_id)
        self.name = payload.name
        self._verifier = PayloadVerifier(payload, self.label, limits=vib.limits, bytes_only=True, inline=inline)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._verifier.update(data)

    def finish(self) -> None:
        try:
            check = self._verifier.result()
        except ChecksumError:
            raise
        except FormatError as err:
            # a wrong size or a gzip stream that does not inflate: the bytes are not the descriptor's either
            raise ChecksumError('payload %s does not match its descriptor: %s' % (self.name, err.detail), path=self.label) from None
        raise_for_mismatch(check, self.label)

    def abort(self) -> None:
        self._verifier.abort()


class CheckedPayloadStream(io.RawIOBase):
    """A payload's member bytes that check themselves: a pass read from byte 0 to the end goes through a
    :class:`PayloadCheckRun`, and the read that ends it raises ChecksumError on a mismatch, so the copy reading it
    fails before its output is committed. A read after a seek elsewhere (pycdlib sums ISOLINUX.BIN from byte 64
    for the boot-info table) passes unchecked: it copies nothing, and the copy pass from byte 0 is checked."""

    def __init__(self, vib: PackageVib, name: str):
        super().__init__()
        self._vib, self._name = vib, name
        self._raw = vib.open_payload(name)
        self._length = vib.payload_size(name)
        self._pos = 0
        self._run = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        pos = self._raw.seek(offset, whence)
        if pos != self._pos:
            self._drop()
        self._pos = pos
        return pos

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if self._pos == 0 and self._run is None:
            self._run = self._vib.payload_check(self._name)
        count = self._raw.readinto(buffer)
        self._pos += count
        if self._run is not None:
            self._run.update(memoryview(buffer)[:count])
            if self._pos >= self._length or (count == 0 and len(buffer)):
                run, self._run = self._run, None
                run.finish()
        return count

    def _drop(self) -> None:
        if self._run is not None:
            self._run.abort()
            self._run = None

    def close(self) -> None:
        if not self.closed:
            self._drop()
            self._raw.close()
        super().close()


# --- loaders ----------------------------------------------------------------------------------------


def _vib_from_container(opener, total_size, label, *, limits, extent_base=None, packed=None):
    """Read descriptor, signature and payload locations from an ar container (a .vib)."""
    with opener() as stream:
        members = read_members(stream, label, total_size, limits=limits)
        by_name = {}
        for member in members:
            if member.name in by_name:
                raise FormatError('VIB has two ar members named %s' % member.name, path=label)
            by_name[member.name] = member
        if 'descriptor.xml' not in by_name:
            raise FormatError('VIB has no descriptor.xml member (members: %s)' % ', '.join(by_name), path=label)
        if by_name['descriptor.xml'].size > limits.max_metadata_size:
            raise FormatError('descriptor.xml is larger than %d bytes' % limits.max_metadata_size, path=label)
        stream.seek(by_name['descriptor.xml'].offset)
        descriptor_bytes = stream.read(by_name['descriptor.xml'].size)
        signature = b''
        if 'sig.pkcs7' in by_name:
            if by_name['sig.pkcs7'].size > limits.max_metadata_size:
                raise FormatError('sig.pkcs7 is larger than %d bytes' % limits.max_metadata_size, path=label)
            stream.seek(by_name['sig.pkcs7'].offset)
            signature = stream.read(by_name['sig.pkcs7'].size)
    descriptor = parse_descriptor(descriptor_bytes, label)
    sources = {}
    for payload in descriptor.payloads:
        member = by_name.get(payload.name)
        if member is None:
            raise FormatError('descriptor.xml lists payload %s, but the VIB has no member of that name' % payload.name, path=label)
        if member.size != payload.size:
            raise FormatError('payload %s member is %d bytes but descriptor.xml says %d' % (payload.name, member.size, payload.size), path=label)
        extent = None
        if extent_base is not None:
            extent = (extent_base[0], extent_base[1] + member.offset, member.size)
        sources[payload.name] = PayloadSource(opener, member.offset, member.size, extent)
    warnings = []
    extra = set(by_name) - {'descriptor.xml', 'sig.pkcs7'} - set(sources)
    if extra:
        warnings.append('VIB has ar members no payload names: %s' % ', '.join(sorted(extra)))
    return PackageVib(descriptor, descriptor_bytes, signature, payload_sources=sources, label=label, limits=limits, warnings=warnings, packed=packed)


def _open_file(path):
    return lambda: open(path, 'rb')


def _open_slice(path, offset, size):
    return SliceReader(open(path, 'rb'), offset, size)  # pylint: disable=consider-using-with  # closed with the reader


def _load_vib(path, limits):
    vib = _vib_from_container(_open_file(path), os.path.getsize(path), path, limits=limits, extent_base=(path, 0))
    return Package(path, 'vib', [vib])


def _load_depot(path, limits):
    depot = open_depot(path, limits)
    try:
        source = depot.source
        vibs = []
        for ref in depot.vibs:
            label = '%s!%s' % (source.label, ref.member)
            stored = source.stored_extent(ref.member)
            extent_base = (stored[0], stored[1]) if stored and stored[0] else None
            if extent_base is not None:
                # a stored .vib is read where it lies: through zipfile, every seek past a payload reads (and CRCs) it
                opener = functools.partial(_open_slice, extent_base[0], extent_base[1], source.size(ref.member))
            else:
                opener = functools.partial(source.open, ref.member)
            vib = _vib_from_container(
                opener, source.size(ref.member), label, limits=limits, extent_base=extent_base, packed=(ref.checksum, opener, source.size(ref.member))
            )
            if vib.vib_id != ref.vib_id:
                vib.warnings.append('bundle metadata calls this VIB %s but its descriptor says %s' % (ref.vib_id, vib.vib_id))
            vibs.append(vib)
        bulletins = depot.bulletins
        kind = 'component' if bulletins and all(b.is_component for b in bulletins) else 'bundle'
        return Package(path, kind, vibs, bulletins=bulletins, warnings=depot.warnings, depot=depot)
    except Exception:
        depot.close()
        raise


def _load_legacy(path, limits):
    legacy = read_legacy_tgz(path, limits)
    descriptor = legacy.descriptor
    payload = descriptor.payloads[0]
    size = os.path.getsize(path)
    sources = {payload.name: PayloadSource(_open_file(path), 0, size, (path, 0, size))}
    vib = PackageVib(descriptor, descriptor.to_xml(), b'', payload_sources=sources, label=path, limits=limits, warnings=legacy.warnings)
    return Package(path, 'legacy_tgz', [vib])


def load_package(path: str, limits: Limits | None = None) -> Package:
    """Open a .vib, an offline bundle / component zip, or a legacy driver tgz. Close the result when done."""
    limits = limits or DEFAULT_LIMITS
    try:
        with open(path, 'rb') as handle:
            magic = handle.read(8)
    except IsADirectoryError:
        raise FormatError('is a directory, not a package file', path=path) from None
    except OSError as err:
        raise FormatError('cannot read the package (%s)' % (err.strerror or err), path=path) from None
    if magic.startswith(AR_MAGIC):
        return _load_vib(path, limits)
    if magic[:4] in ZIP_MAGICS:
        return _load_depot(path, limits)
    if magic.startswith(GZIP_MAGIC):
        return _load_legacy(path, limits)
    if not magic:
        raise FormatError('the file is empty, not a VIB, offline bundle or driver tgz', path=path)
    raise FormatError('not a VIB (ar archive), offline bundle (zip) or legacy driver tgz (gzip): unknown file signature %s' % magic[:8].hex(), path=path)
