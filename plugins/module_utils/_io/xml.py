# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Safe XML parsing shared by every reader of untrusted metadata (VIB descriptors, depots, image databases).

A document with a DTD is refused before expat reads its internal subset: entity definitions are what
billion-laughs and external-entity attacks need, and no ESXi metadata has one. The parser is the standard
library's expat driven directly, building the tree with ElementTree's C ``TreeBuilder`` (tags and attributes
named as ``ElementTree.fromstring`` names them). defusedxml did the same through a fresh, pure-Python copy of
``xml.etree.ElementTree`` that it re-imports on load, which cost every module run about 20 ms of start-up.
"""

from __future__ import annotations

from xml.etree import ElementTree
from xml.parsers import expat

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError


class _Refused(Exception):
    """A DTD, an entity declaration or an external entity reference: raised inside expat, which then stops."""


def _refuse(*args: object) -> None:
    raise _Refused()


def _parser(builder: ElementTree.TreeBuilder) -> expat.XMLParserType:
    # '}' as namespace separator, then '{' in front: the '{uri}local' names ElementTree gives
    parser = expat.ParserCreate(None, '}')
    parser.buffer_text = True
    parser.ordered_attributes = True
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    names = {}

    def fixname(key: str) -> str:
        name = names.get(key)
        if name is None:
            name = names[key] = '{' + key if '}' in key else key
        return name

    def start(tag: str, attrs: list[str]) -> None:
        builder.start(fixname(tag), {fixname(attrs[i]): attrs[i + 1] for i in range(0, len(attrs), 2)})

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: builder.end(fixname(tag))
    parser.CharacterDataHandler = builder.data
    return parser


def parse_xml(data: bytes | str, label: str | None = None, what: str = 'XML document') -> ElementTree.Element:
    """Parse ``data``; malformed XML and DTD/entity definitions raise FormatError naming ``label``."""
    builder = ElementTree.TreeBuilder()
    try:
        _parser(builder).Parse(data, True)
        return builder.close()
    except _Refused:
        raise FormatError('%s contains a DTD or entity definition; refusing it, as ESXi metadata never needs one' % what, path=label) from None
    except (expat.ExpatError, LookupError, ValueError, TypeError) as err:  # LookupError: an encoding Python does not know
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
