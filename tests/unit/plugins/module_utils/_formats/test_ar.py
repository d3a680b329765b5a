# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.esxi.customizer.plugins.module_utils._formats.ar import read_members, write_archive
from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures


FIXTURES = shared_fixtures()
ITI = FIXTURES / 'itiligent-esxi-custom-iso' if FIXTURES else None
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found (set ESXI_SHARED_FIXTURES)')


def members_of(data: bytes):
    stream = io.BytesIO(data)
    return [(m.name, data[m.offset : m.offset + m.size]) for m in read_members(stream, 'test.vib', len(data))]


@needs_fixtures
def test_real_vmware_style_vib_offsets():
    path = ITI / 'net-r8125-9.011.00-10.vib'
    with open(path, 'rb') as handle:
        members = read_members(handle, str(path))
    assert [(m.name, m.header_offset, m.offset, m.size) for m in members] == [
        ('descriptor.xml', 8, 68, 1468),
        ('sig.pkcs7', 1536, 1596, 0),
        ('net-8125', 1596, 1656, 108775),
    ]


@needs_fixtures
def test_real_gnu_style_names_and_odd_padding():
    with zipfile.ZipFile(ITI / 'net51-r8169-6.011.00-2vft.510.0.0.799733-offline_bundle.zip') as bundle:
        data = bundle.read('net51-r8169-6.011.00-2vft.510.0.0.799733.x86_64.vib')
    # ESXi-CPT writes 'descriptor.xml/' with real mtimes and mode 100000
    assert data[8:24] == b'descriptor.xml/ '
    members = read_members(io.BytesIO(data), 'net51.vib', len(data))
    assert [(m.name, m.offset, m.size) for m in members] == [('descriptor.xml', 68, 1578), ('sig.pkcs7', 1706, 0), ('net51-r8', 1766, 25351)]
    # independent splitter from the fixture generator agrees on the bytes
    assert members_of(data) == packages.ar_members(data)


@needs_fixtures
def test_real_8x_header_with_python_octal_mode_field():
    with zipfile.ZipFile(ITI / 'ESXi80U3-VMKUSB-NIC-FLING-75399077-component-24052746.zip') as bundle:
        data = bundle.read('vib20/vmkusb-nic-fling/VMW_bootbank_vmkusb-nic-fling_1.14-1vmw.803.0.0.75399077.vib')
    assert b'0o0' in data[8:68]  # the mode field really says "0o0"
    members = read_members(io.BytesIO(data), '80u3.vib', len(data))
    # odd-sized descriptor (1839 bytes) is padded so the next header is at 1908 (section 4.1)
    assert [(m.name, m.header_offset, m.size) for m in members] == [('descriptor.xml', 8, 1839), ('sig.pkcs7', 1908, 3377), ('vmkusb-n', 5346, 351514)]


@pytest.mark.parametrize('gnu_style', [False, True])
def test_fixturegen_archives_read_back(gnu_style):
    built = packages.ar_archive([('descriptor.xml', b'<vib/>'), ('sig.pkcs7', b''), ('net-abc', b'x' * 7)], gnu_style=gnu_style)
    assert members_of(built) == [('descriptor.xml', b'<vib/>'), ('sig.pkcs7', b''), ('net-abc', b'x' * 7)]


def _header(name, size, mode=b'0'):
    return b'%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (name, 0, 0, 0, mode, size)


def test_gnu_long_name_table_and_symbol_index():
    """GNU ar (binutils) puts names of 16+ characters in a "//" member and may add a "/" symbol index."""
    names = b'descriptor-long-name.xml/\nnet-payload-named-long/\n'
    data = (
        b'!<arch>\n'
        + _header(b'/', 4)
        + b'\x00' * 4
        + _header(b'//', len(names))
        + names
        + _header(b'/0', 6, b'100644')
        + b'<vib/>'
        + _header(b'sig.pkcs7/', 0, b'100644')
        + _header(b'/26', 3, b'100644')
        + b'abc\n'
    )
    assert members_of(data) == [('descriptor-long-name.xml', b'<vib/>'), ('sig.pkcs7', b''), ('net-payload-named-long', b'abc')]


@pytest.mark.parametrize('mode', [b'100644', b'0', b'644', b'0o0', b'100000', b''])
def test_mode_field_variants_are_not_interpreted(mode):
    data = b'!<arch>\n' + _header(b'descriptor.xml', 6, mode) + b'<vib/>' + _header(b'abcdefghijklmno', 1, mode) + b'x\n'
    assert members_of(data) == [('descriptor.xml', b'<vib/>'), ('abcdefghijklmno', b'x')]


def test_nul_padded_header_fields():
    """Writers that pad the name and size fields with NUL bytes instead of spaces (hand-rolled VIB builders)."""
    header = b'descriptor.xml\x00\x00' + b'0'.ljust(12, b'\x00') + b'0\x00\x00\x00\x00\x00' * 2 + b'100644\x00\x00' + b'6'.ljust(10, b'\x00') + b'`\n'
    assert len(header) == 60
    assert members_of(b'!<arch>\n' + header + b'<vib/>') == [('descriptor.xml', b'<vib/>')]


def test_bsd_long_names():
    data = b'!<arch>\n' + b'%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (b'#1/20', 0, 0, 0, b'644', 25) + b'a-long-member-name.x' + b'hello' + b'\n'
    assert members_of(data) == [('a-long-member-name.x', b'hello')]


@pytest.mark.parametrize(
    'data, message',
    [
        (b'', 'no ar archive signature'),
        (b'PK\x03\x04' + b'\x00' * 60, 'no ar archive signature'),
        (b'!<arch>\ndescriptor.xml  0', 'truncated: incomplete member header at offset 8'),
        (b'!<arch>\n' + b'%-16s%-12d%-6d%-6d%-8s%-10s`\n' % (b'a', 0, 0, 0, b'0', b'12x'), 'bad size field'),
        (b'!<arch>\n' + b'%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (b'a', 0, 0, 0, b'0', 500) + b'abc', 'claims 500 bytes but the file ends after 3'),
        (b'!<arch>\n' + b'%-16s%-12d%-6d%-6d%-8s%-10d' % (b'a', 0, 0, 0, b'0', 0) + b'XX', 'bad terminator'),
        (b'!<arch>\n' + b'%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (b'../x', 0, 0, 0, b'0', 0), "invalid name '../x'"),
        (b'!<arch>\n' + b'%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (b'', 0, 0, 0, b'0', 0), "invalid name ''"),
        (b'!<arch>\n' + b'%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (b'/0', 0, 0, 0, b'0', 0), 'no "//" name table before it'),
        (
            b'!<arch>\n'
            + b'%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (b'//', 0, 0, 0, b'0', 4)
            + b'ab/\n'
            + b'%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (b'/9', 0, 0, 0, b'0', 0),
            'offset 9 outside the "//" name table',
        ),
        (b'!<arch>\n' + b'%-16s%-12d%-6d%-6d%-8s%-10d`\n' % (b'na\xffme', 0, 0, 0, b'0', 0), 'non-ASCII name'),
    ],
)
def test_bad_archives_get_clear_errors(data, message):
    with pytest.raises(FormatError) as err:
        read_members(io.BytesIO(data), '/tmp/bad.vib', len(data))
    assert message in str(err.value)
    assert str(err.value).startswith('/tmp/bad.vib: ')


def test_write_archive_refuses_bad_names():
    with pytest.raises(ValueError):
        write_archive(io.BytesIO(), [('a/b', b'')])
    with pytest.raises(ValueError):
        write_archive(io.BytesIO(), [('x' * 17, b'')])


def test_write_archive_streams_members():
    out = io.BytesIO()
    write_archive(out, [('descriptor.xml', b'abc'), ('payload', io.BytesIO(b'0123456789'), 10)])
    assert members_of(out.getvalue()) == [('descriptor.xml', b'abc'), ('payload', b'0123456789')]


NAME = st.text(alphabet='abcdefghijklmnopqrstuvwxyz0123456789._-', min_size=1, max_size=16).filter(lambda n: n not in ('.', '..'))
MEMBERS = st.lists(st.tuples(NAME, st.binary(max_size=300)), max_size=6)


@settings(max_examples=150, deadline=None)
@given(MEMBERS)
def test_round_trip_arbitrary_members(members):
    out = io.BytesIO()
    write_archive(out, members)
    data = out.getvalue()
    assert members_of(data) == members
    assert packages.ar_members(data) == members  # an independent reader agrees


@settings(max_examples=200, deadline=None)
@given(MEMBERS.filter(lambda m: m), st.data())
def test_random_truncation_is_a_clean_error_or_a_prefix(members, data):
    out = io.BytesIO()
    write_archive(out, members)
    full = out.getvalue()
    cut = data.draw(st.integers(min_value=0, max_value=len(full) - 1))
    truncated = full[:cut]
    try:
        result = members_of(truncated)
    except FormatError as err:
        assert str(err).startswith('test.vib: ')
        return
    # only a cut exactly at a member boundary (or in the final pad byte) reads cleanly: then a strict prefix
    assert result == members[: len(result)]
    assert len(result) < len(members) or cut == len(full) - 1
