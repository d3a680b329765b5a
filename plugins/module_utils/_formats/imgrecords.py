# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The records of an image database: VIBs (descriptor as the database holds it), components and image profiles.

Read leniently (reading an ISO must not fail on a field nobody knows); an :class:`ImageProfile` is edited in its XML
tree, so what this module does not model survives an edit. The archive around them is :mod:`.imgdb`.
"""

from __future__ import annotations

import datetime

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import Constraint, normalize_acceptance
from ansible_collections.esxi.customizer.plugins.module_utils._io.xml import child_text as _text
from ansible_collections.esxi.customizer.plugins.module_utils._io.xml import parse_xml as _parse_xml
from ansible_collections.esxi.customizer.plugins.module_utils._io.xml import render_xml


def parse_xml(data: bytes, what: str) -> ET.Element:
    """Parse untrusted XML safely; ``what`` names the file in the error."""
    return _parse_xml(data, label=what, what='it')


# -- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayloadRecord:
    """A ``<payload>`` of a VIB descriptor as the image database holds it (read leniently: size may be absent)."""

    name: str
    type: str
    size: int | None = None
    vfat_name: str | None = None
    boot_order: int | None = None
    checksums: tuple = ()  # (checksum-type, verify-process or '', hex)


def _acceptance_token(text: str | None) -> str:
    """The XML token for an acceptance level as written in a profile or descriptor (``PartnerSupported`` -> ``partner``).

    A spelling nobody knows is kept (lower-cased) rather than refused: reading an ISO must not fail on it.
    """
    try:
        return normalize_acceptance(text)
    except FormatError:
        return (text or '').strip().lower()


def _int_or_none(value):
    try:
        return int(value) if value not in (None, '') else None
    except ValueError:
        return None


@dataclass
class VibRecord:
    """A VIB as the image database holds it (descriptor XML plus the optional ``.orig``/``.sig``)."""

    vib_id: str
    name: str
    version: str
    vendor: str
    type: str
    acceptance_level: str
    payloads: list
    relationships: dict
    xml: bytes
    orig: bytes | None = None
    sig: bytes | None = None
    member: str | None = None
    summary: str = ''
    description: str = ''
    release_date: str = ''
    software_tags: list = field(default_factory=list)
    software_platforms: list = field(default_factory=list)  # [(version, locale, productLineID)] of system-requires

    @classmethod
    def from_xml(cls, xml: bytes, what: str, orig: bytes | None = None, *, sig: bytes | None = None, member: str | None = None) -> VibRecord:
        root = parse_xml(xml, what)
        if root.tag != 'vib':
            raise FormatError('root element is <%s>, expected <vib>' % root.tag, path=what)
        values = {tag: _text(root, tag) for tag in ('name', 'version', 'vendor', 'type')}
        missing = sorted(tag for tag, value in values.items() if not value)
        if missing:
            raise FormatError('VIB descriptor lacks %s' % ', '.join('<%s>' % tag for tag in missing), path=what)
        payloads = []
        for node in root.findall('payloads/payload'):
            payloads.append(
                PayloadRecord(
                    name=node.get('name', ''),
                    type=node.get('type', ''),
                    size=_int_or_none(node.get('size')),
                    vfat_name=node.get('vfat-name'),
                    boot_order=_int_or_none(node.get('boot-order')),
                    checksums=tuple((c.get('checksum-type', ''), c.get('verify-process', ''), (c.text or '').strip()) for c in node.findall('checksum')),
                )
            )
        relationships = {}
        for kind in ('depends', 'conflicts', 'replaces', 'provides', 'compatibleWith'):
            relationships[kind] = [
                Constraint(node.get('name', ''), node.get('relation'), node.get('version')) for node in root.findall('relationships/%s/*' % kind)
            ]
        return cls(
            vib_id='%s_%s_%s_%s' % (values['vendor'], values['type'], values['name'], values['version']),
            name=values['name'],
            version=values['version'],
            vendor=values['vendor'],
            type=values['type'],
            acceptance_level=_acceptance_token(_text(root, 'acceptance-level')),
            payloads=payloads,
            relationships=relationships,
            xml=bytes(xml),
            orig=orig,
            sig=sig,
            member=member,
            summary=_text(root, 'summary', ''),
            description=_text(root, 'description', ''),
            release_date=_text(root, 'release-date', ''),
            software_tags=[(node.text or '').strip() for node in root.findall('software-tags/tag')],
            software_platforms=[
                (node.get('version', ''), node.get('locale', ''), node.get('productLineID', '')) for node in root.findall('system-requires/softwarePlatform')
            ],
        )

    @property
    def is_esxio(self) -> bool:
        """A DPU (esxio) VIB: every softwarePlatform it names is an esxio product line (esxi-semantics 7.5)."""
        return is_esxio_platforms(line for _version, _locale, line in self.software_platforms)

    def payload(self, name: str) -> PayloadRecord | None:
        for item in self.payloads:
            if item.name == name:
                return item
        return None


ESXIO_PRODUCT_LINE_PREFIX = 'esxio'


def is_esxio_platforms(lines: Iterable[str]) -> bool:
    """True when ``lines`` (productLineIDs) are all esxio ones: the VIB runs on a DPU, never on the x86 host."""
    lines = set(lines)
    return bool(lines) and all(line.startswith(ESXIO_PRODUCT_LINE_PREFIX) for line in lines)


@dataclass
class Component:
    """A 7.x component (``<bulletin>`` with ``componentNameSpec``/``componentVersionSpec``)."""

    id: str
    name: str | None
    version: str | None
    vendor: str
    summary: str
    vib_ids: list
    xml: bytes
    reserved: bool = False
    member: str | None = None

    @classmethod
    def from_xml(cls, xml: bytes, what: str, reserved: bool = False, *, member: str | None = None) -> Component:
        root = parse_xml(xml, what)
        if root.tag != 'bulletin':
            raise FormatError('root element is <%s>, expected <bulletin>' % root.tag, path=what)
        component_id = _text(root, 'id')
        if not component_id:
            raise FormatError('component lacks <id>', path=what)
        name_spec = root.find('componentNameSpec')
        version_spec = root.find('componentVersionSpec')
        return cls(
            id=component_id,
            name=name_spec.get('name') if name_spec is not None else None,
            version=version_spec.get('version') if version_spec is not None else None,
            vendor=_text(root, 'vendor', ''),
            summary=_text(root, 'summary', ''),
            vib_ids=[(node.text or '').strip() for node in root.findall('vibList/vibID')],
            xml=bytes(xml),
            reserved=reserved,
            member=member,
        )


class ImageProfile:
    """An ``<imageprofile>``: fields, the VIB list with payload local names, other elements kept in place.

    Edits go to the XML tree directly, so a re-render keeps element order and every element this
    class does not know about; an unedited profile is written back as its original bytes.
    """

    _FIELDS = {
        'name': 'name',
        'creator': 'creator',
        'profile_id': 'profileID',
        'creation_time': 'creationtime',
        'modified_time': 'modifiedtime',
        'serialno': 'serialno',
        'description': 'description',
        'readonly': 'readonly',
        'acceptance_level': 'acceptancelevel',
    }
    # installer order (esxi-formats §3.3): where a missing element is created
    _ORDER = ('name', 'creator', 'profileID', 'creationtime', 'modifiedtime', 'serialno', 'description', 'readonly', 'viblist', 'acceptancelevel')

    def __init__(self, xml: bytes, member: str | None = None, what: str | None = None):
        self.member = member
        self._original = bytes(xml)
        self._root = parse_xml(xml, what or member or 'image profile')
        self.dirty = False
        if self._root.tag != 'imageprofile':
            raise FormatError('root element is <%s>, expected <imageprofile>' % self._root.tag, path=what or member)

    def get_field(self, attr: str) -> str | None:
        return _text(self._root, self._FIELDS[attr])

    def set_field(self, attr: str, value: str) -> bool:
        """Set a simple field (``name``, ``description``, ``modified_time``...); create it in installer order."""
        tag = self._FIELDS[attr]
        node = self._root.find(tag)
        if node is None:
            node = ET.Element(tag)
            self._insert_in_order(node)
        elif (node.text or '') == value:
            return False
        node.text = value
        self.dirty = True
        return True

    @property
    def has_viblist(self) -> bool:
        return self._viblist() is not None

    def _viblist(self) -> ET.Element | None:
        # the element name is lower case in every profile seen; accept any case from newer releases
        for child in self._root:
            if isinstance(child.tag, str) and child.tag.lower() == 'viblist':
                return child
        return None

    def _insert_in_order(self, node: ET.Element) -> None:
        """Insert a new child element after the elements that precede it in the installer's order."""
        rank = self._ORDER.index(node.tag)
        position = 0
        for index, child in enumerate(list(self._root)):
            if child.tag in self._ORDER[:rank]:
                position = index + 1
        self._root.insert(position, node)
        self.dirty = True

    @property
    def vibs(self) -> dict:
        """``{vib_id: {payload_name: local_name}}`` in profile order."""
        result = {}
        viblist = self._viblist()
        for node in viblist.findall('vib') if viblist is not None else ():
            vib_id = _text(node, 'vib-id', '')
            result[vib_id] = {p.get('payload-name', ''): (p.text or '').strip() for p in node.findall('payloads/payload')}
        return result

    @property
    def local_names(self) -> set:
        """Every local file name the profile uses (lower case)."""
        return {name.lower() for payloads in self.vibs.values() for name in payloads.values()}

    def add_vib(self, vib_id: str, payloads: dict) -> None:
        viblist = self._viblist()
        if viblist is None:
            self._insert_in_order(ET.Element('viblist'))
            viblist = self._viblist()
        vib = ET.SubElement(viblist, 'vib')
        ET.SubElement(vib, 'vib-id').text = vib_id
        holder = ET.SubElement(vib, 'payloads')
        for payload_name, local_name in payloads.items():
            ET.SubElement(holder, 'payload', {'payload-name': payload_name}).text = local_name
        self.dirty = True

    def remove_vib(self, vib_id: str) -> bool:
        viblist = self._viblist()
        if viblist is None:
            return False
        gone = [node for node in viblist.findall('vib') if _text(node, 'vib-id') == vib_id]
        for node in gone:
            viblist.remove(node)
        self.dirty = self.dirty or bool(gone)
        return bool(gone)

    def to_xml(self) -> bytes:
        return render_xml(self._root) if self.dirty else self._original


def _field_property(attr: str) -> property:
    return property(lambda self: self.get_field(attr), doc='Text of the profile element for %r (None if absent).' % attr)


for _attr in ImageProfile._FIELDS:
    setattr(ImageProfile, _attr, _field_property(_attr))
# every spelling seen in the wild (PartnerSupported, Partner) reads as the XML token the installer writes
ImageProfile.acceptance_level = property(
    lambda self: None if self.get_field('acceptance_level') is None else _acceptance_token(self.get_field('acceptance_level')),
    doc='Acceptance level of the profile as an XML token (certified, accepted, partner, community); None if absent.',
)


def record_time(text: str | None) -> int | None:
    """Unix time of an ISO-8601 time of a profile or descriptor (``2023-09-18T00:00:00Z``, naive means UTC), or None."""
    try:
        value = datetime.datetime.fromisoformat((text or '').strip().replace('Z', '+00:00'))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return int(value.timestamp())
