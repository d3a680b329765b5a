# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VIB descriptor model (esxi-formats.md section 4.2), acceptance levels and payload checksums.

Parsing uses defusedxml (entity and DTD definitions are refused); serialization (:meth:`Descriptor.to_xml`)
writes the elements in VMware's order, checksums included, so that a descriptor we build (legacy tgz) or
normalise (image database) reads like one of VMware's.
"""

from __future__ import annotations

import re
import copy
import hashlib
import io
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO
from xml.etree import ElementTree

from ansible_collections.esxi.customizer.plugins.module_utils._errors import (
    ChecksumError,
    FormatError,
)
from ansible_collections.esxi.customizer.plugins.module_utils._io.decompress import open_inner, zstd_backend, zstd_missing_reason
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import COPY_CHUNK, gunzip_stream
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import DEFAULT_LIMITS, Limits

from ansible_collections.esxi.customizer.plugins.module_utils._io.xml import parse_xml
from ansible_collections.esxi.customizer.plugins.module_utils._io.xml import child_text as _text

_ASCII_DIGITS = re.compile(r'[0-9]+\Z')


def _bool(value):
    if value is None:
        return None
    return value.strip().lower() in ('true', '1', 'yes')


def _bool_text(value):
    return 'true' if value else 'false'


# --- acceptance levels ------------------------------------------------------------------------------

# From most to least trusted (esxi-formats.md 4.2: VMwareCertified 1 ... CommunitySupported 4).
ACCEPTANCE_LEVELS = ('certified', 'accepted', 'partner', 'community')
ACCEPTANCE_NAMES = {
    'certified': 'VMwareCertified',
    'accepted': 'VMwareAccepted',
    'partner': 'PartnerSupported',
    'community': 'CommunitySupported',
}
_ACCEPTANCE_ALIASES = {
    'vmwarecertified': 'certified',
    'vmware_certified': 'certified',
    'vmwareaccepted': 'accepted',
    'vmware_accepted': 'accepted',
    'partnersupported': 'partner',
    'communitysupported': 'community',
}


def normalize_acceptance(level: str | None, label: str | None = None) -> str:
    """XML token for any spelling of an acceptance level ('PartnerSupported' -> 'partner')."""
    token = (level or '').strip().lower()
    token = _ACCEPTANCE_ALIASES.get(token, token)
    if token not in ACCEPTANCE_LEVELS:
        raise FormatError('unknown acceptance level %r (expected one of %s)' % (level, ', '.join(ACCEPTANCE_LEVELS)), path=label)
    return token


def acceptance_rank(level: str) -> int:
    """1 (certified, most trusted) .. 4 (community, least trusted)."""
    return ACCEPTANCE_LEVELS.index(normalize_acceptance(level)) + 1


def lowest_trust(levels: Iterable[str]) -> str:
    """The least trusted of ``levels`` (what an image profile holding all of them must be set to)."""
    levels = [normalize_acceptance(level) for level in levels]
    if not levels:
        raise ValueError('no acceptance levels given')
    return max(levels, key=acceptance_rank)


def is_less_trusted(level: str, than: str) -> bool:
    """True when ``level`` is less trusted than ``than`` (e.g. community vs partner)."""
    return acceptance_rank(level) > acceptance_rank(than)


# --- model ------------------------------------------------------------------------------------------

RELATIONSHIP_KINDS = ('depends', 'conflicts', 'replaces', 'provides', 'compatibleWith')


@dataclass(frozen=True)
class Constraint:
    """One ``<constraint>``/``<provide>`` entry of a VIB's relationships."""

    name: str
    relation: str | None = None
    version: str | None = None

    def as_dict(self) -> dict:
        return {'name': self.name, 'relation': self.relation, 'version': self.version}

    def __str__(self) -> str:
        return '%s %s %s' % (self.name, self.relation, self.version) if self.relation else self.name


@dataclass
class Checksum:
    checksum_type: str
    value: str
    verify_process: str | None = None


@dataclass
class Payload:
    name: str
    type: str
    size: int
    uncompressed_size: int | None = None
    vfat_name: str | None = None
    boot_order: str | None = None
    checksums: list = field(default_factory=list)
    # Attributes we do not model (e.g. 9.0 compression-option), kept for round trips.
    extra_attributes: dict = field(default_factory=dict)


@dataclass
class SoftwarePlatform:
    version: str = ''
    locale: str = ''
    product_line_id: str = ''


@dataclass
class SystemRequires:
    maintenance_mode: bool | None = None
    maintenance_mode_attrs: dict = field(default_factory=dict)
    software_platforms: list = field(default_factory=list)
    # Other children (hwplatform, ...) as XML strings, re-emitted unchanged.
    other: list = field(default_factory=list)


@dataclass
class Descriptor:
    """Every element of a VIB descriptor.xml (section 4.2)."""

    type: str
    name: str
    version: str
    vendor: str
    summary: str = ''
    description: str = ''
    release_date: str = ''
    urls: list = field(default_factory=list)  # [(key, url)]
    depends: list = field(default_factory=list)
    conflicts: list = field(default_factory=list)
    replaces: list = field(default_factory=list)
    provides: list = field(default_factory=list)
    compatible_with: list = field(default_factory=list)
    software_tags: list = field(default_factory=list)
    system_requires: SystemRequires = field(default_factory=SystemRequires)
    files: list = field(default_factory=list)
    acceptance_level: str = 'community'
    live_install_allowed: bool | None = False
    live_remove_allowed: bool | None = False
    cimom_restart: bool | None = False
    stateless_ready: bool | None = True
    overlay: bool | None = False
    payloads: list = field(default_factory=list)
    schema_version: str = '5.0'
    # Depot metadata copies (metadata.zip vibs/*.xml) also say where the .vib is and its checksum.
    relative_path: str | None = None
    packed_size: int | None = None
    vib_checksum: Checksum | None = None
    # Top-level elements we do not model (e.g. <installdate> of installed-host copies) as XML strings,
    # re-emitted unchanged after <software-tags>, where esximage puts them.
    extra_elements: list = field(default_factory=list)

    @property
    def vib_id(self) -> str:
        return '%s_%s_%s_%s' % (self.vendor, self.type, self.name, self.version)

    def payload(self, name: str) -> Payload:
        for payload in self.payloads:
            if payload.name == name:
                return payload
        raise KeyError(name)

    def relationships(self) -> dict[str, list[Constraint]]:
        return {
            'depends': self.depends,
            'conflicts': self.conflicts,
            'replaces': self.replaces,
            'provides': self.provides,
            'compatibleWith': self.compatible_with,
        }

    def to_element(self, include_depot_fields: bool = False) -> ElementTree.Element:
        root = ElementTree.Element('vib', {'version': self.schema_version})
        for tag, value in (
            ('type', self.type),
            ('name', self.name),
            ('version', self.version),
            ('vendor', self.vendor),
            ('summary', self.summary),
            ('description', self.description),
            ('release-date', self.release_date),
        ):
            ElementTree.SubElement(root, tag).text = value
        urls = ElementTree.SubElement(root, 'urls')
        for key, url in self.urls:
            ElementTree.SubElement(urls, 'url', {'key': key}).text = url
        rels = ElementTree.SubElement(root, 'relationships')
        for kind, items in self.relationships().items():
            parent = ElementTree.SubElement(rels, kind)
            for c in items:
                attrs = {'name': c.name}
                if c.relation is not None and kind != 'provides':
                    attrs['relation'] = c.relation
                if c.version is not None:
                    attrs['version'] = c.version
                ElementTree.SubElement(parent, 'provide' if kind == 'provides' else 'constraint', attrs)
        tags = ElementTree.SubElement(root, 'software-tags')
        for tag in self.software_tags:
            ElementTree.SubElement(tags, 'tag').text = tag
        for raw in self.extra_elements:
            root.append(parse_xml(raw))
        if include_depot_fields and self.relative_path is not None:
            ElementTree.SubElement(root, 'relative-path').text = self.relative_path
            ElementTree.SubElement(root, 'packed-size').text = str(self.packed_size or 0)
            if self.vib_checksum is not None:
                ElementTree.SubElement(root, 'checksum', {'checksum-type': self.vib_checksum.checksum_type}).text = self.vib_checksum.value
        sysreq = ElementTree.SubElement(root, 'system-requires')
        if self.system_requires.maintenance_mode is not None:
            ElementTree.SubElement(sysreq, 'maintenance-mode', dict(self.system_requires.maintenance_mode_attrs)).text = _bool_text(
                self.system_requires.maintenance_mode
            )
        for raw in self.system_requires.other:
            sysreq.append(parse_xml(raw))
        for platform in self.system_requires.software_platforms:
            ElementTree.SubElement(
                sysreq, 'softwarePlatform', {'version': platform.version, 'locale': platform.locale, 'productLineID': platform.product_line_id}
            )
        files = ElementTree.SubElement(root, 'file-list')
        for path in self.files:
            ElementTree.SubElement(files, 'file').text = path
        ElementTree.SubElement(root, 'acceptance-level').text = self.acceptance_level
        for tag, value in (
            ('live-install-allowed', self.live_install_allowed),
            ('live-remove-allowed', self.live_remove_allowed),
            ('cimom-restart', self.cimom_restart),
            ('stateless-ready', self.stateless_ready),
            ('overlay', self.overlay),
        ):
            if value is not None:
                ElementTree.SubElement(root, tag).text = _bool_text(value)
        payloads = ElementTree.SubElement(root, 'payloads')
        for p in self.payloads:
            attrs = {'name': p.name, 'type': p.type, 'size': str(p.size)}
            if p.uncompressed_size is not None:
                attrs['uncompressed-size'] = str(p.uncompressed_size)
            if p.vfat_name is not None:
                attrs['vfat-name'] = p.vfat_name
            if p.boot_order is not None:
                attrs['boot-order'] = p.boot_order
            attrs.update(p.extra_attributes)
            pe = ElementTree.SubElement(payloads, 'payload', attrs)
            for c in sort_checksums(p.checksums):
                cattrs = {'checksum-type': c.checksum_type}
                if c.verify_process is not None:
                    cattrs['verify-process'] = c.verify_process
                ElementTree.SubElement(pe, 'checksum', cattrs).text = c.value
        return root

    def to_xml(self, include_depot_fields: bool = False) -> bytes:
        """The descriptor as UTF-8 bytes, VMware element order, checksums sha-256 gunzip / sha-256 / sha-1 gunzip."""
        return ElementTree.tostring(self.to_element(include_depot_fields), encoding='utf-8', xml_declaration=False)


def _checksum_order(c):
    # VMware writes sha-256 gunzip first, then sha-256, then sha-1 gunzip (4.2 ordering pitfall); boot modules
    # of esx-base put their txt-mle checksum before all of them (6.7/7.0 image databases).
    known = {('sha-256', 'txt-mle'): -1, ('sha-256', 'gunzip'): 0, ('sha-256', None): 1, ('sha-1', 'gunzip'): 2, ('sha-1', None): 3}
    return known.get((c.checksum_type, c.verify_process), 4)


def sort_checksums(checksums: Iterable[Checksum]) -> list[Checksum]:
    return sorted(checksums, key=_checksum_order)


# --- parsing ----------------------------------------------------------------------------------------


def _raw(elem):
    """An element as a standalone XML string without its tail (kept for round trips, compared by value)."""
    clone = copy.copy(elem)
    clone.tail = None
    return ElementTree.tostring(clone, encoding='unicode')


def _constraints(parent):
    # <provides> holds <provide name version> elements (every real descriptor); the other kinds <constraint>s.
    if parent is None:
        return []
    return [Constraint(c.get('name', ''), c.get('relation'), c.get('version')) for c in parent if c.tag in ('constraint', 'provide')]


def _int_attr(elem, name, label, *, what):
    value = elem.get(name)
    if value is None:
        return None
    if not _ASCII_DIGITS.match(value.strip()):  # int() also takes other scripts' digits and '1_000'
        raise FormatError('%s has a non-numeric %s=%r' % (what, name, value), path=label)
    number = int(value)
    if number < 0:
        raise FormatError('%s has a negative %s' % (what, name), path=label)
    return number


def _payload(elem, label):
    name = elem.get('name')
    ptype = elem.get('type')
    if not name or not ptype:
        raise FormatError('descriptor.xml has a payload without name or type', path=label)
    if len(name) > 15:
        raise FormatError('payload name %r is longer than 15 characters, which ESXi refuses' % name, path=label)
    size = _int_attr(elem, 'size', label, what='payload %s' % name)
    if size is None:
        raise FormatError('payload %s has no size attribute' % name, path=label)
    known = ('name', 'type', 'size', 'uncompressed-size', 'vfat-name', 'boot-order')
    checksums = []
    for c in elem.findall('checksum'):
        ctype = c.get('checksum-type')
        value = (c.text or '').strip().lower()
        if not ctype or not value:
            raise FormatError('payload %s has an empty checksum element' % name, path=label)
        checksums.append(Checksum(ctype, value, c.get('verify-process')))
    return Payload(
        name=name,
        type=ptype,
        size=size,
        uncompressed_size=_int_attr(elem, 'uncompressed-size', label, what='payload %s' % name),
        vfat_name=elem.get('vfat-name'),
        boot_order=elem.get('boot-order'),
        checksums=checksums,
        extra_attributes={k: v for k, v in elem.attrib.items() if k not in known},
    )


def _system_requires(elem):
    req = SystemRequires()
    if elem is None:
        return req
    for child in elem:
        if child.tag == 'maintenance-mode':
            req.maintenance_mode = _bool(child.text)
            req.maintenance_mode_attrs = dict(child.attrib)
        elif child.tag == 'softwarePlatform':
            req.software_platforms.append(SoftwarePlatform(child.get('version', ''), child.get('locale', ''), child.get('productLineID', '')))
        elif isinstance(child.tag, str):
            req.other.append(_raw(child))
    return req


_KNOWN_TOP = frozenset(
    (
        'type',
        'name',
        'version',
        'vendor',
        'summary',
        'description',
        'release-date',
        'urls',
        'relationships',
        'software-tags',
        'system-requires',
        'file-list',
        'acceptance-level',
        'live-install-allowed',
        'live-remove-allowed',
        'cimom-restart',
        'stateless-ready',
        'overlay',
        'payloads',
        'relative-path',
        'packed-size',
        'checksum',
    )
)


def local_names(root: ElementTree.Element) -> ElementTree.Element:
    """Drop XML namespaces from every tag (``{ns}vib`` -> ``vib``) in place; returns ``root``.

    VMware writes none, but descriptors and depot metadata from other tools may declare a default
    namespace, and esximage matches on local names.
    """
    for elem in root.iter():
        if isinstance(elem.tag, str) and elem.tag.startswith('{'):
            elem.tag = elem.tag.split('}', 1)[1]
    return root


def descriptor_from_element(root: ElementTree.Element, label: str | None = None) -> Descriptor:
    local_names(root)
    if root.tag != 'vib':
        raise FormatError('descriptor root element is <%s>, expected <vib>' % root.tag, path=label)
    required = {}
    for tag in ('type', 'name', 'version', 'vendor'):
        value = _text(root, tag)
        if not value:
            raise FormatError('descriptor.xml has no <%s>' % tag, path=label)
        required[tag] = value
    level = _text(root, 'acceptance-level')
    if not level:
        raise FormatError('descriptor.xml has no <acceptance-level>', path=label)
    rels = root.find('relationships')
    get_rel = (lambda tag: _constraints(rels.find(tag))) if rels is not None else (lambda tag: [])
    tags_elem = root.find('software-tags')
    files_elem = root.find('file-list')
    payloads_elem = root.find('payloads')
    urls_elem = root.find('urls')
    vib_checksum = None
    checksum_elem = root.find('checksum')
    if checksum_elem is not None:
        vib_checksum = Checksum(checksum_elem.get('checksum-type', 'sha-256'), (checksum_elem.text or '').strip().lower())
    packed = _text(root, 'packed-size')
    desc = Descriptor(
        type=required['type'],
        name=required['name'],
        version=required['version'],
        vendor=required['vendor'],
        summary=_text(root, 'summary', ''),
        description=_text(root, 'description', ''),
        release_date=_text(root, 'release-date', ''),
        urls=[(u.get('key', ''), (u.text or '').strip()) for u in urls_elem.findall('url')] if urls_elem is not None else [],
        depends=get_rel('depends'),
        conflicts=get_rel('conflicts'),
        replaces=get_rel('replaces'),
        provides=get_rel('provides'),
        compatible_with=get_rel('compatibleWith'),
        software_tags=[(t.text or '').strip() for t in tags_elem.findall('tag')] if tags_elem is not None else [],
        system_requires=_system_requires(root.find('system-requires')),
        files=[(f.text or '').strip() for f in files_elem.findall('file')] if files_elem is not None else [],
        acceptance_level=normalize_acceptance(level, label),
        live_install_allowed=_bool(_text(root, 'live-install-allowed')),
        live_remove_allowed=_bool(_text(root, 'live-remove-allowed')),
        cimom_restart=_bool(_text(root, 'cimom-restart')),
        stateless_ready=_bool(_text(root, 'stateless-ready')),
        overlay=_bool(_text(root, 'overlay')),
        payloads=[_payload(p, label) for p in payloads_elem.findall('payload')] if payloads_elem is not None else [],
        schema_version=root.get('version', '5.0'),
        relative_path=_text(root, 'relative-path'),
        packed_size=int(packed) if packed and _ASCII_DIGITS.match(packed) else None,
        vib_checksum=vib_checksum,
        extra_elements=[_raw(c) for c in root if isinstance(c.tag, str) and c.tag not in _KNOWN_TOP],
    )
    names = [p.name for p in desc.payloads]
    if len(set(names)) != len(names):
        raise FormatError('descriptor.xml lists a payload name twice', path=label)
    return desc


def parse_descriptor(data: bytes, label: str | None = None) -> Descriptor:
    """Descriptor model from descriptor.xml bytes (also accepts depot metadata vibs/*.xml copies)."""
    return descriptor_from_element(parse_xml(data, label, 'descriptor.xml'), label)


# --- payload checksums --------------------------------------------------------------------------------

_HASHES = {'sha-256': hashlib.sha256, 'sha-1': hashlib.sha1, 'sha-512': hashlib.sha512, 'md5': hashlib.md5}
# Payload types whose gzip layer wraps a zstd frame (9.0): their "gunzip" checksums hash the zstd-decompressed stream.
ZSTD_PAYLOAD_TYPES = ('vzstd',)


@dataclass
class ChecksumResult:
    checksum_type: str
    verify_process: str | None
    ok: bool | None  # None: not verifiable here
    note: str = ''


@dataclass
class PayloadCheck:
    name: str
    results: list = field(default_factory=list)
    uncompressed_size: int | None = None

    @property
    def checksum_ok(self) -> bool | None:
        """False if any checksum failed, True if at least one matched and none failed, None if none could be checked."""
        states = [r.ok for r in self.results]
        if False in states:
            return False
        if True in states:
            return True
        return None

    @property
    def notes(self) -> list[str]:
        return [r.note for r in self.results if r.note]


def _plan(payload):
    """Split the payload's checksums by the stream each one hashes: (member, gzip-stripped, decompressed, unverifiable)."""
    plain, layer1, full, skipped = [], [], [], []
    for c in payload.checksums:
        ctype, process = c.checksum_type.lower(), (c.verify_process or '').lower()
        if ctype == 'sha-256-gunzip1':
            # 9.0: the stream with only the gzip layer removed, the zstd frame (esxi-semantics 7.1)
            layer1.append((c, hashlib.sha256()))
        elif ctype in _HASHES and not process:
            plain.append((c, _HASHES[ctype]()))
        elif ctype in _HASHES and process == 'gunzip':
            # "gunzip" means the decompressed payload: for vzstd gzip *and* zstd undone (esxi-semantics 7.1)
            full.append((c, _HASHES[ctype]()))
        else:
            skipped.append(
                ChecksumResult(
                    c.checksum_type,
                    c.verify_process,
                    None,
                    'checksum type %s with verify-process %s is not supported' % (c.checksum_type, c.verify_process or 'none'),
                )
            )
    return plain, layer1, full, skipped


def _check_plan(payload, bytes_only: bool):
    """:func:`_plan`, without the decompressed checksums when ``bytes_only`` and a plain sha-256 pins every byte."""
    plain, layer1, full, skipped = _plan(payload)
    if bytes_only and any(c.checksum_type.lower() == 'sha-256' for c, _h in plain):
        layer1, full = [], []
    return plain, layer1, full, skipped


class _Tee(io.RawIOBase):
    """Hands on what it reads and feeds it to ``hashers`` on the way, counting the bytes."""

    def __init__(self, raw, hashers):
        super().__init__()
        self._raw = raw
        self._hashers = hashers
        self.length = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._raw.read(len(buffer))
        for hasher in self._hashers:
            hasher.update(data)
        self.length += len(data)
        buffer[: len(data)] = data
        return len(data)


def _drain(stream) -> int:
    total = 0
    while True:
        chunk = stream.read(COPY_CHUNK)
        if not chunk:
            return total
        total += len(chunk)


def verify_payload(
    payload: Payload, stream: IO[bytes] | io.RawIOBase, label: str | None = None, *, limits: Limits = DEFAULT_LIMITS, bytes_only: bool = False
) -> PayloadCheck:
    """Check every checksum of ``payload`` against ``stream`` (its member bytes) in one streaming pass.

    ``bytes_only``: when the payload has a plain sha-256, check the size and the plain checksums only. That sha-256
    already pins every byte; the ``gunzip`` checksums are functions of the same bytes, so they add nothing to a copy's
    integrity check and would cost inflating the payload (4x the CPU of the sha-256 on a 400 MiB tardisk). A package
    given to inject is still checked whole (``bytes_only`` false), which also catches a descriptor built wrong.

    Returns a PayloadCheck; raises FormatError when the member length differs from the declared size or
    the compressed stream a checksum needs is corrupt. Mismatches are reported, not raised; use
    :func:`raise_for_mismatch` to turn them into ChecksumError. The decompressed checksums of a ``vzstd``
    payload need a zstd library; without one they are reported as not verifiable, naming the package.
    """
    plain, layer1, full, skipped = _check_plan(payload, bytes_only)
    what = '%s payload %s' % (label or 'VIB', payload.name)
    member = _Tee(stream, [h for _c, h in plain])
    zstd = payload.type in ZSTD_PAYLOAD_TYPES
    if full and zstd and zstd_backend() is None:
        note = 'hash of the zstd-decompressed payload: %s' % zstd_missing_reason()
        skipped += [ChecksumResult(c.checksum_type, c.verify_process, None, note) for c, _h in full]
        full = []
    produced = None
    try:
        if layer1 or full:
            gzip_layer = _Tee(gunzip_stream(member, limits, what, compressed_size=payload.size), [h for _c, h in layer1])
            if full:
                inner = open_inner(gzip_layer, 'zstd', limits=limits, label=what, compressed_size=payload.size) if zstd else gzip_layer
                produced = _drain(_Tee(inner, [h for _c, h in full]))
            _drain(gzip_layer)
        _drain(member)
    except FormatError:
        # a short member is also a truncated gzip stream: the size is the clearer of the two messages
        _drain(member)
        if member.length != payload.size:
            raise FormatError('payload %s is %d bytes but descriptor.xml says %d' % (payload.name, member.length, payload.size), path=label) from None
        raise
    return _checked(payload, member.length, hashes=plain + layer1 + full, skipped=skipped, produced=produced, label=label)


def _checked(payload: Payload, length: int, *, hashes: list, skipped: list, produced: int | None, label: str | None) -> PayloadCheck:
    """The PayloadCheck of ``length`` member bytes whose ``hashes`` ((checksum, hasher) pairs) have seen them all."""
    if length != payload.size:
        raise FormatError('payload %s is %d bytes but descriptor.xml says %d' % (payload.name, length, payload.size), path=label)
    check = PayloadCheck(payload.name, uncompressed_size=produced)
    for c, h in hashes:
        ok = h.hexdigest() == c.value.lower()
        check.results.append(ChecksumResult(c.checksum_type, c.verify_process, ok, '' if ok else 'expected %s, computed %s' % (c.value, h.hexdigest())))
    check.results.extend(skipped)
    if produced is not None and payload.uncompressed_size is not None and produced != payload.uncompressed_size:
        check.results.append(
            ChecksumResult('uncompressed-size', None, False, 'uncompressed size is %d, descriptor says %d' % (produced, payload.uncompressed_size))
        )
    return check


class PayloadVerifier:
    """:func:`verify_payload` over bytes a copy loop pushes in (:meth:`update`), in the same pass as the copy.

    ``verify_payload`` pulls its stream; a copy (pycdlib's write loop, tarfile, a kernel copy read back) pulls too.
    So the check runs on a worker thread reading what :meth:`update` queues; zlib, zstd and hashlib let go of the GIL,
    so the inflating for the ``gunzip`` checksums runs beside the copy instead of in a second read of the payload.
    The queue is short: memory stays at a few chunks whatever the payload size.

    ``inline``, for a caller that is itself a thread beside the copy: when only plain checksums are to be checked
    (``bytes_only`` with a plain sha-256, or a payload that has no other), :meth:`update` hashes right away on the
    caller's thread (no queue, no copy of the bytes, which may then be a reused buffer); otherwise it runs as above.
    """

    _END = None
    _DEPTH = 4

    def __init__(self, payload: Payload, label: str | None = None, *, limits: Limits = DEFAULT_LIMITS, bytes_only: bool = False, inline: bool = False):
        self.payload = payload
        self._bytes_only = bytes_only
        self._check = None
        self._error = None
        self._done = False
        self._label = label
        self._inline = None
        self._thread = None
        plain, layer1, full, skipped = _check_plan(payload, bytes_only)
        if inline and not layer1 and not full:
            self._inline = (plain, skipped)
            self._length = 0
            return
        self._queue = queue.Queue(maxsize=self._DEPTH)
        self._thread = threading.Thread(target=self._run, args=(label, limits), name='esxi-customizer-payload-check', daemon=True)
        self._thread.start()

    def _run(self, label, limits):
        try:
            self._check = verify_payload(self.payload, _QueueStream(self._queue), label, limits=limits, bytes_only=self._bytes_only)
        except BaseException as err:  # pylint: disable=broad-exception-caught
            self._error = err  # handed to the copying thread by result()
        finally:
            # verify_payload may stop early (corrupt gzip): keep taking chunks so update() never blocks
            while self._queue.get() is not self._END:
                pass

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._inline is not None:
            for _c, hasher in self._inline[0]:
                hasher.update(data)
            self._length += len(data)
        elif self._error is None and data:
            self._queue.put(bytes(data))  # a copy: the caller reuses its buffer while the worker hashes

    def result(self) -> PayloadCheck:
        """End of the payload: wait for the check; raises what :func:`verify_payload` raises."""
        if self._inline is not None:
            plain, skipped = self._inline
            return _checked(self.payload, self._length, hashes=plain, skipped=list(skipped), produced=None, label=self._label)
        if not self._done:
            self._done = True
            self._queue.put(self._END)
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._check

    def abort(self) -> None:
        """The copy stopped before the end (an error elsewhere): end the worker, drop its result."""
        if not self._done and self._thread is not None:
            self._done = True
            self._queue.put(self._END)
            self._thread.join()


class _QueueStream(io.RawIOBase):
    """The read side of :class:`PayloadVerifier`: chunks from its queue until the end marker."""

    def __init__(self, chunks):
        super().__init__()
        self._chunks = chunks
        self._rest = memoryview(b'')  # a view: handing a chunk out in small reads copies nothing twice
        self._ended = False

    def readable(self):
        return True

    def readinto(self, buffer):
        while not len(self._rest) and not self._ended:
            chunk = self._chunks.get()
            if chunk is PayloadVerifier._END:  # pylint: disable=protected-access
                self._ended = True
                # the worker's finally drains until the marker: put it back for that loop
                self._chunks.put(chunk)
            else:
                self._rest = memoryview(chunk)
        count = min(len(buffer), len(self._rest))
        buffer[:count] = self._rest[:count]
        self._rest = self._rest[count:]
        return count


def raise_for_mismatch(check: PayloadCheck, label: str | None = None) -> None:
    for r in check.results:
        if r.ok is False:
            raise ChecksumError(
                'payload %s: %s %s mismatch (%s)'
                % (check.name, r.checksum_type, ('(verify-process %s)' % r.verify_process) if r.verify_process else '', r.note),
                path=label,
            )


def payload_compression_supported(payload: Payload) -> tuple[bool, str]:
    """Whether this host can read (and inject) the payload's contents; a reason string when not."""
    if payload.type in ZSTD_PAYLOAD_TYPES and zstd_backend() is None:
        return False, 'payload %s has type %s (gzip around zstd, ESXi 9.0): %s' % (payload.name, payload.type, zstd_missing_reason())
    return True, ''
