# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Safe XML parsing shared by every reader of untrusted metadata (VIB descriptors, depots, image databases).

defusedxml refuses DTDs and entity definitions (billion-laughs and external-entity attacks); no ESXi
metadata needs either. Modules check :data:`HAS_DEFUSEDXML` and report ``missing_required_lib('defusedxml')``.
"""

from __future__ import annotations

from xml.etree import ElementTree

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError, MissingLibraryError

try:
    from defusedxml import ElementTree as _SafeET
    from defusedxml import DefusedXmlException as _DefusedXmlException

    HAS_DEFUSEDXML = True
    DEFUSEDXML_IMPORT_ERROR = None
except ImportError as _imp_err:  # the module reports missing_required_lib('defusedxml')
    _SafeET = None
    _DefusedXmlException = ()
    HAS_DEFUSEDXML = False
    DEFUSEDXML_IMPORT_ERROR = _imp_err


def parse_xml(data: bytes | str, label: str | None = None, what: str = 'XML document') -> ElementTree.Element:
    """Parse ``data``; malformed XML and DTD/entity definitions raise FormatError naming ``label``."""
    if not HAS_DEFUSEDXML:
        raise MissingLibraryError('the Python library defusedxml is required to read %s (%s)' % (what, DEFUSEDXML_IMPORT_ERROR), path=label)
    try:
        return _SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except _DefusedXmlException as err:
        raise FormatError(
            '%s contains a DTD or entity definition (%s); refusing it, as ESXi metadata never needs one' % (what, type(err).__name__), path=label
        ) from None
    except (ElementTree.ParseError, ValueError) as err:
        raise FormatError('%s is not well-formed XML (%s)' % (what, err), path=label) from None


def render_xml(root: ElementTree.Element) -> bytes:
    """Serialize like esximage does: no declaration, ``<empty/>`` without a space."""
    return ElementTree.tostring(root, encoding='unicode').replace(' />', '/>').encode('utf-8')


def child_text(elem: ElementTree.Element, tag: str, default: str | None = None) -> str | None:
    """Stripped text of the first ``tag`` child, ``''`` for an empty one, ``default`` when absent."""
    child = elem.find(tag)
    if child is None:
        return default
    return (child.text or '').strip()
