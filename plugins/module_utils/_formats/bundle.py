# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documents of an offline bundle we write (esxi-semantics §6.1-§6.2): index.xml, vendor-index.xml, the
metadata zip's ``vibs/``, ``profiles/`` and ``bulletins/`` XML. The reader of the same format is :mod:`.depot`.

Element names and order follow what esximage reads (``index.xml``: name, code, indexfile, relativePath required;
the vendor index: productId, version, locale, url required) and what VMware's own bundles carry.
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
from xml.etree import ElementTree

from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import Checksum, parse_descriptor
from ansible_collections.esxi.customizer.plugins.module_utils._formats.zipwrite import ZipLayout
from ansible_collections.esxi.customizer.plugins.module_utils._io.xml import parse_xml, render_xml

METADATA_NAME = 'metadata.zip'
VENDOR_INDEX_NAME = 'vendor-index.xml'
PRODUCT_LINE = 'embeddedEsx'
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
"""Every zip entry's timestamp: the same bundle bytes from the same ISO, whenever it is exported."""
_VENDOR_CODE = re.compile(r'^[A-Za-z0-9]{3}$')


def _element(tag: str, text: str | None = None, **attrs: str) -> ElementTree.Element:
    node = ElementTree.Element(tag, attrs)
    if text is not None:
        node.text = text
    return node


def _sub(parent: ElementTree.Element, tag: str, text: str = '') -> ElementTree.Element:
    node = ElementTree.SubElement(parent, tag)
    node.text = text
    return node


def check_vendor(name: str, code: str) -> None:
    """ValueError unless ``code`` is the 3 letters or digits vLCM and PowerCLI require and ``name`` is set."""
    if not name or not name.strip():
        raise ValueError('vendor_name must not be empty')
    if not _VENDOR_CODE.match(code or ''):
        raise ValueError('vendor_code must be 3 letters or digits (vLCM and PowerCLI require it), not %r' % code)


def index_xml(vendor_name: str, vendor_code: str) -> bytes:
    root = _element('vendorList')
    vendor = ElementTree.SubElement(root, 'vendor')
    _sub(vendor, 'name', vendor_name)
    _sub(vendor, 'code', vendor_code)
    _sub(vendor, 'indexfile', VENDOR_INDEX_NAME)
    _sub(vendor, 'patchUrl')
    _sub(vendor, 'relativePath')
    content = ElementTree.SubElement(vendor, 'content')
    _sub(content, 'name', 'VMware ESXi')
    _sub(content, 'type', 'http://www.vmware.com/depotmanagement/esx')
    return render_xml(root) + b'\n'


def vendor_index_xml(version: str) -> bytes:
    """The vendor index: one metadata zip for the ESXi ``version`` (``8.0.3``) of the x86 product line."""
    root = _element('metaList')
    meta = ElementTree.SubElement(root, 'metadata')
    _sub(meta, 'productId', PRODUCT_LINE)
    _sub(meta, 'version', version)
    _sub(meta, 'locale')
    _sub(meta, 'url', METADATA_NAME)
    _sub(meta, 'channelName', 'default')
    return render_xml(root) + b'\n'


def metadata_vib_xml(descriptor: bytes, *, relative_path: str, packed_size: int, sha256: str, label: str) -> bytes:
    """A VIB's depot XML: its descriptor with where the .vib is, how large it is and its sha-256."""
    parsed = parse_descriptor(descriptor, label)
    parsed.relative_path = relative_path
    parsed.packed_size = packed_size
    parsed.vib_checksum = Checksum('sha-256', sha256)
    return parsed.to_xml(include_depot_fields=True)


def depot_profile_xml(profile_xml: bytes, vib_ids: list[str], *, label: str) -> bytes:
    """The depot form of an image profile: the database's, with its VIB list down to ``vib_ids`` and no payload maps."""
    root = copy.deepcopy(parse_xml(profile_xml, label, 'image profile'))
    for child in list(root):
        if isinstance(child.tag, str) and child.tag.lower() == 'viblist':
            for vib in list(child):
                vib_id = (vib.findtext('vib-id') or '').strip()
                if vib_id not in vib_ids:
                    child.remove(vib)
                    continue
                for payloads in vib.findall('payloads'):
                    vib.remove(payloads)
    return render_xml(root) + b'\n'


def image_bulletin_xml(*, profile_name: str, vendor: str, version: str, vib_ids: list[str], release_date: str) -> bytes:
    """The one bulletin esximage writes for an exported image without components (6.x): all of its VIBs."""
    root = _element('bulletin')
    _sub(root, 'id', profile_name)
    _sub(root, 'vendor', vendor)
    _sub(root, 'summary', 'Image Profile %s' % profile_name)
    _sub(root, 'severity', 'general')
    _sub(root, 'category', 'misc')
    _sub(root, 'urgency', 'moderate')
    _sub(root, 'releaseType', 'rollup')
    _sub(root, 'description', 'Image Profile %s' % profile_name)
    _sub(root, 'kbUrl')
    _sub(root, 'contact')
    _sub(root, 'releaseDate', release_date)
    platforms = ElementTree.SubElement(root, 'platforms')
    ElementTree.SubElement(platforms, 'softwarePlatform', {'locale': '', 'version': version, 'productLineID': PRODUCT_LINE})
    viblist = ElementTree.SubElement(root, 'vibList')
    for vib_id in vib_ids:
        _sub(viblist, 'vibID', vib_id)
    return render_xml(root) + b'\n'


def zip_entry(name: str, *, compress: bool) -> zipfile.ZipInfo:
    """A zip entry with the fixed timestamp and ordinary file permissions."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    info.create_system = 3
    return info


def zip_layout() -> ZipLayout:
    """The layout of the bundle zip itself, its members dated and permitted as :func:`zip_entry` does."""
    return ZipLayout(date_time=ZIP_DATE, external_attr=0o644 << 16, create_system=3)


def small_zip(entries: list[tuple[str, bytes]]) -> bytes:
    """A deflated zip of small documents (the metadata zip), reproducible byte for byte."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, 'w') as archive:
        for name, data in entries:
            archive.writestr(zip_entry(name, compress=True), data, compresslevel=9)
    return raw.getvalue()
