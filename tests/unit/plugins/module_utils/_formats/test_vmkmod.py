# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import io
import struct

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import Constraint
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vmkmod import (
    ESX4_EXPLANATION,
    format_vmkapi,
    inspect_module,
    min_esxi_release,
    parse_vmkapi,
    vmkapi_from_constraints,
)
from ansible_collections.esxi.customizer.tests.fixturegen import packages


def inspect(data):
    return inspect_module(io.BytesIO(data), 'usr/lib/vmware/vmkmod/x')


def test_native_module():
    info = inspect(packages.vmkmod_elf('nvme', license='BSD', vmkapi='2_6_0_0', version='1.0.1'))
    assert (info.is_elf, info.relocatable, info.has_modinfo) == (True, True, True)
    assert (info.license, info.version, info.vmkapi, info.vmklinux, info.esx4) == ('BSD', '1.0.1', (2, 6, 0, 0), False, False)
    assert info.ns_required == ['com.vmware.vmkapi#v2_6_0_0']
    assert info.min_esxi_release == '7.0' and info.problem is None


def test_vmklinux_module():
    info = inspect(packages.vmkmod_elf('r8169', vmkapi='2_1_0_0', vmklinux=True))
    assert info.vmklinux and info.vmkapi == (2, 1, 0, 0) and info.min_esxi_release == '5.1'


def test_esx4_module_is_reported_with_the_faq_explanation():
    info = inspect(packages.vmkmod_elf('cciss', license=None))
    assert info.esx4 and not info.has_modinfo
    assert 'Module does not provide a license tag' in info.problem and info.problem == ESX4_EXPLANATION


def test_not_elf_and_32_bit():
    assert inspect(b'#!/bin/sh\necho hi\n').problem.startswith('not an ELF object')
    elf32 = b'\x7fELF\x01\x01\x01' + b'\x00' * 57
    info = inspect(elf32)
    assert info.is_elf and not info.esx4 and 'not a 64-bit' in info.problem


def test_executable_elf_is_not_a_module():
    data = bytearray(packages.vmkmod_elf('x'))
    struct.pack_into('<H', data, 16, 2)  # e_type = ET_EXEC
    assert 'not an x86-64 relocatable object' in inspect(bytes(data)).problem


def test_truncated_module():
    data = packages.vmkmod_elf('x')
    with pytest.raises(FormatError, match='truncated'):
        inspect(data[: len(data) - 100])


@pytest.mark.parametrize(
    'text, expected',
    [
        ('vmkapi_2_13_0_0', (2, 13, 0, 0)),
        ('com.vmware.vmkapi#v2_5_0_0', (2, 5, 0, 0)),
        ('2.10.0.0', (2, 10, 0, 0)),
        ('vmkapi_3_0_0_0', (3, 0, 0, 0)),
        ('vmkapi_incompat_2_13_0_0', None),
        ('com.vmware.driverAPI-9.2.2.0', None),
    ],
)
def test_parse_vmkapi(text, expected):
    assert parse_vmkapi(text) == expected


@pytest.mark.parametrize(
    'version, release',
    [
        ((2, 0, 0, 0), '5.0'),
        ((2, 1, 0, 0), '5.1'),
        ((2, 2, 0, 0), '5.5'),
        ((2, 3, 0, 0), '6.0'),
        ((2, 4, 0, 0), '6.5'),
        ((2, 5, 0, 0), '6.7'),
        ((2, 6, 0, 0), '7.0'),
        ((2, 9, 0, 0), '7.0U3'),
        ((2, 10, 0, 0), '8.0'),
        ((2, 11, 0, 0), '8.0U1'),
        ((2, 12, 0, 0), '8.0U2'),
        ((2, 13, 0, 0), '8.0U3'),
        ((3, 0, 0, 0), '9.0'),
        ((2, 7, 0, 0), None),
        (None, None),
    ],
)
def test_release_table(version, release):
    assert min_esxi_release(version) == release


def test_vmkapi_from_depends():
    constraints = [
        Constraint('vmkapi_2_4_0_0'),
        Constraint('vmkapi_incompat_2_13_0_0'),
        Constraint('vmkapi_2_2_0_0'),
        Constraint('com.vmware.driverAPI-9.2.2.0'),
    ]
    assert vmkapi_from_constraints(constraints) == (2, 4, 0, 0)
    assert format_vmkapi((2, 4, 0, 0)) == '2.4.0.0'
    assert vmkapi_from_constraints([Constraint('esx-base')]) is None


@pytest.mark.parametrize('license', ['ThirdParty', 'BSD', 'GPLv2', 'Dual BSD/GPL', 'VMware'])
def test_any_license_tag_marks_a_5x_module(license):
    info = inspect(packages.vmkmod_elf('lsi_mr3', license=license, vmkapi='2_4_0_0'))
    assert (info.license, info.esx4, info.problem, info.vmkapi) == (license, False, None, (2, 4, 0, 0))


def test_several_required_namespaces():
    """8.0U3 Fling: vmkapi, vmkapi.incompat, vmkernel#nover and com.vmware.vmkbsd#1 (+ driverAPI for vmklinux)."""
    extra = '\x00nsRequired='.join(['2_13_0_0', 'com.vmware.vmkapi.incompat#v2_13_0_0', 'vmkernel#nover', 'com.vmware.vmkbsd#1', 'com.vmware.vmkapi#v2_2_0_0'])
    info = inspect(packages.vmkmod_elf('vmkusb_nic_fling', vmkapi=extra))
    assert info.ns_required == [
        'com.vmware.vmkapi#v2_13_0_0',
        'com.vmware.vmkapi.incompat#v2_13_0_0',
        'vmkernel#nover',
        'com.vmware.vmkbsd#1',
        'com.vmware.vmkapi#v2_2_0_0',
    ]
    assert info.vmkapi == (2, 13, 0, 0) and not info.vmklinux and info.min_esxi_release == '8.0U3'
    both = inspect(packages.vmkmod_elf('igb', vmkapi='2_2_0_0', vmklinux=True))
    assert both.ns_required == ['com.vmware.vmkapi#v2_2_0_0', 'com.vmware.driverAPI#9.2.1.0'] and both.vmklinux


@pytest.mark.parametrize(
    'ident, message',
    [
        (b'\x7fELF\x02\x02', 'not a 64-bit little-endian ELF object'),  # big-endian ELF64
        (b'\x7fELF\x01\x01', 'not a 64-bit little-endian ELF object'),  # ELF32
    ],
)
def test_big_endian_and_32_bit_are_reported_clearly(ident, message):
    data = ident + packages.vmkmod_elf('x')[len(ident) :]
    info = inspect(data)
    assert info.is_elf and not info.esx4 and message in info.problem


@pytest.mark.parametrize('offset', [2**63, 2**64 - 1, 2**63 + 12345])
def test_a_section_table_offset_no_file_has_is_a_format_error(offset):
    import io
    import struct

    from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
    from ansible_collections.esxi.customizer.plugins.module_utils._formats.vmkmod import inspect_module

    elf = bytearray(packages.vmkmod_elf('net-x'))
    struct.pack_into('<Q', elf, 40, offset)  # e_shoff
    with pytest.raises(FormatError, match='net-x.o'):
        inspect_module(io.BytesIO(bytes(elf)), 'net-x.o')
