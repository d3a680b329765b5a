# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one safe XML parser: what ElementTree would build, and nothing with a DTD."""

from __future__ import annotations

import time
from xml.etree import ElementTree

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._io.xml import parse_xml, render_xml

PLAIN = [
    b'<vib version="5.0"><type>bootbank</type><name>net-r8125</name><payloads><payload name="r8125" size="7"/></payloads></vib>',
    b'<?xml version="1.0" encoding="utf-8"?>\n<!-- a comment --><?pi x?><a b="1&amp;2">t<![CDATA[<x>]]>u</a>',
    b'<a xmlns="urn:x" xmlns:y="urn:y" y:b="1" xml:lang="en"><y:c>text</y:c></a>',
    b'<?xml version="1.0" encoding="latin-1"?><a>\xe9</a>',
    b'\xef\xbb\xbf<a>&#65;&#x10FFFF;</a>',
    '<a>\u00e9</a>',
]


@pytest.mark.parametrize('data', PLAIN)
def test_the_tree_is_what_elementtree_builds(data):
    # ElementTree itself is the reference for documents without a DTD
    assert ElementTree.tostring(parse_xml(data, 'x.xml')) == ElementTree.tostring(ElementTree.fromstring(data))


def test_render_round_trip():
    assert render_xml(parse_xml(b'<a><b/><c>x</c></a>')) == b'<a><b/><c>x</c></a>'


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b''.join(b'<!ENTITY lol%d "%s">' % (n, b'&lol%d;' % (n - 1) * 10 if n > 1 else b'&lol;' * 10) for n in range(1, 10))
    + b']><lolz>&lol9;</lolz>'
)


@pytest.mark.parametrize(
    'data',
    [
        b'<!DOCTYPE vib [<!ENTITY x "boom">]><vib><name>&x;</name></vib>',
        b'<!DOCTYPE vib SYSTEM "http://example.com/evil.dtd"><vib/>',
        b'<!DOCTYPE vib [<!ENTITY x SYSTEM "file:///etc/passwd">]><vib>&x;</vib>',
        b'<!DOCTYPE vib><vib/>',
        LAUGHS,
    ],
)
def test_a_dtd_is_refused_before_anything_expands(data):
    started = time.monotonic()
    with pytest.raises(FormatError, match=r'^evil\.xml: descriptor\.xml contains a DTD or entity definition'):
        parse_xml(data, 'evil.xml', 'descriptor.xml')
    assert time.monotonic() - started < 5  # a bound against runaway expansion, not a speed claim


@pytest.mark.parametrize(
    'data, reason',
    [
        (b'<a>&undefined;</a>', 'undefined entity'),
        (b'', 'no element found'),
        (b'<a><b></a>', 'mismatched tag'),
        (b'<a b="1" b="2"/>', 'duplicate attribute'),
        (b'<a>&#0;</a>', 'invalid character number'),
        (b'<?xml version="1.0" encoding="no-such-codec"?><a/>', 'unknown encoding'),
        (b'<?xml version="1.0" encoding="shift_jis"?><a/>', 'multi-byte encodings'),
    ],
)
def test_malformed_xml_is_a_format_error_naming_the_file(data, reason):
    with pytest.raises(FormatError, match=r'^bad\.xml: it is not well-formed XML \(.*%s' % reason):
        parse_xml(data, 'bad.xml', 'it')
