"""VIB version order and relation matching, against the orderings VMware's 6.7 esximage produced (esxi-semantics §1, §2.6)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vibversion import (
    Provide,
    Relation,
    VibVersion,
    compare_versions,
)


@pytest.mark.parametrize(
    'a, op, b',
    [
        ('1.10', '>', '1.9'),
        ('1.07', '=', '1.7'),
        ('0.1', '=', '0.01'),
        ('6.7', '<', '6.7.0'),
        ('1.0', '<', '1.0-0'),
        ('1.0a', '>', '1.0'),
        ('2.1a10', '<', '2.1a9'),
        ('1.a', '<', '1.0'),
        ('1..2', '<', '1.0.2'),
        ('1.0-1OEM', '<', '1.0-1vmw'),
        ('5.0.5.1.1-5vmw.670.0.0.8169922', '<', '5.3.2-99'),
        ('6.7.0-0.0.8169922', '<', '6.7.0-0.1'),
        ('1.0-1vmw.670.0.0.8169922', '<', '1.0-1vmw.700.1.0.15843807'),
        ('9.1.1.0-25714478', '>', '9.1.1-25714478'),
    ],
)
def test_order_is_esximage_order(a, op, b):
    expected = {'<': -1, '=': 0, '>': 1}[op]
    assert compare_versions(a, b) == expected
    assert compare_versions(b, a) == -expected  # pylint: disable=arguments-out-of-order
    assert (VibVersion.parse(a) == VibVersion.parse(b)) == (op == '=')


def test_two_hyphens_are_refused_naming_the_version():
    with pytest.raises(FormatError, match="'1.0-1-2'"):
        VibVersion.parse('1.0-1-2')


@pytest.mark.parametrize(
    'constraint, provide, matches',
    [
        (('esx-version', '<=', '6.7.0'), ('esx-version', '6.7.0-0.58.1'), True),  # no release in the constraint: ignored
        (('esx-version', '>>', '6.7.0'), ('esx-version', '6.7.0-0.58.1'), False),
        (('esx-version', '>>', '6.7.0-0.0.0'), ('esx-version', '6.7.0-0.0.8169922'), True),
        (('esx-version', '=', '6.7'), ('esx-version', '6.7.0-0.0.8169922'), False),
        (('vsan', '>=', '6.7.0-0.0'), ('vsan', '6.7.0-0.0.8169922'), True),
        (('vsan', '<<', '6.7.0-0.1'), ('vsan', '6.7.0-0.0.8169922'), True),
        (('SecondConflict', '>>', '1.2.3.4'), ('SecondConflict', '1.2.3.4-1'), False),
        (('SecondConflict', '>>', '1.2.3.4'), ('SecondConflict', '1.2.3.5-1'), True),
        (('com.vmware.driverAPI-9.2.3.0', '>=', '1.0'), ('com.vmware.driverAPI-9.2.3.0', None), False),  # unversioned provide
        (('com.vmware.driverAPI-9.2.3.0', None, None), ('com.vmware.driverAPI-9.2.3.0', None), True),
        (('vmkapi_2_1_0_0', None, None), ('vmkapi_2_2_0_0', None), False),
    ],
)
def test_relation_matching(constraint, provide, matches):
    name, version = provide
    assert Relation.of(*constraint).matches(Provide(name, VibVersion.parse(version) if version else None)) is matches


def test_relation_needs_both_relation_and_version_and_a_known_operator():
    with pytest.raises(FormatError, match='relation without a version'):
        Relation.of('x', '>=', None)
    with pytest.raises(FormatError, match="relation '=>'"):
        Relation.of('x', '=>', '1.0')


_version = st.from_regex(r'\A[0-9a-z]{1,3}(\.[0-9a-z]{1,3}){0,3}(-[0-9a-z]{1,3}(\.[0-9a-z]{1,3}){0,2})?\Z')


@given(_version, _version, _version)
def test_the_order_is_a_total_order(a, b, c):
    x, y, z = (VibVersion.parse(v) for v in (a, b, c))
    assert (x.compare(y) == 0) == (x == y) and (hash(x) == hash(y) if x == y else True)
    assert x.compare(y) == -y.compare(x)
    if x <= y and y <= z:
        assert x <= z
