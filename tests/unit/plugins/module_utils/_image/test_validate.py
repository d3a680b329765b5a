"""The image validator on the real 6.7 GA image database and real third-party packages (esxi-semantics §2.6)."""

from __future__ import annotations

import io
import tarfile

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import Component, VibRecord
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import ImageDatabase
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import load_package
from ansible_collections.esxi.customizer.plugins.module_utils._image.validate import VibFacts, facts_of_database, validate, validate_database
from ansible_collections.esxi.customizer.tests.fixturegen import packages
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures

FIXTURES = shared_fixtures()
pytestmark = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found (set ESXI_SHARED_FIXTURES)')


@pytest.fixture(scope='module')
def db67():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        tar.add(str(FIXTURES / 'esxi67-imgdb-ljvblfz' / 'var'), arcname='var')
    buf.seek(0)
    return ImageDatabase.from_tgz(buf, path='db67')


def package_facts(name):
    with load_package(str(FIXTURES / 'itiligent-esxi-custom-iso' / name)) as package:
        return [VibFacts.from_record(VibRecord.from_xml(vib.descriptor_bytes, vib.vib_id)) for vib in package.vibs]


def with_added(db, added, level='community', release='6.7.0'):
    """The profile with ``added`` in, each replacing the stock VIB of its name (as iso_customize does)."""
    names = {vib.name for vib in added}
    kept = [vib for vib in facts_of_database(db) if vib.name not in names]
    return validate(kept + added, acceptance_level=level, release=release)


def without(db, *names, release='6.7.0'):
    kept = [vib for vib in facts_of_database(db) if vib.name not in names]
    return validate(kept, acceptance_level=db.profile.acceptance_level, release=release)


def test_the_stock_67_profile_has_no_problems(db67):
    assert len(db67.profile.vibs) == 136
    assert validate_database(db67, release='6.7.0') == []


def test_removing_the_vmklinux_shim_breaks_64_drivers(db67):
    problems = without(db67, 'shim-vmklinux-9-2-3-0')
    assert {p.kind for p in problems} == {'missing-dependency'}
    assert {p.need for p in problems} == {'com.vmware.driverAPI-9.2.3.0'}
    assert len(problems) == 64
    assert 'VMW_bootbank_net-e1000e_3.2.2.1-2vmw.670.0.0.8169922' in {p.vib for p in problems}


def test_removing_misc_drivers_breaks_the_three_shims(db67):
    problems = without(db67, 'misc-drivers')
    assert sorted(p.vib.split('_')[2] for p in problems) == ['shim-vmklinux-9-2-1-0', 'shim-vmklinux-9-2-2-0', 'shim-vmklinux-9-2-3-0']
    assert {p.need for p in problems} == {'com.vmware.driverAPI-9.2'}


def test_removing_esx_base_leaves_no_base_esx(db67):
    problems = without(db67, 'esx-base')
    assert [p for p in problems if p.kind == 'missing-base']
    assert len([p for p in problems if p.kind == 'missing-dependency']) == 145


def test_a_51_driver_needs_vmkapi_2_1_which_67_does_not_provide(db67):
    problems = with_added(db67, package_facts('net51-r8169-6.011.00-2vft.510.0.0.799733-offline_bundle.zip'))
    assert [(p.kind, p.need) for p in problems] == [('missing-dependency', 'vmkapi_2_1_0_0')]
    assert 'cannot be satisfied' in problems[0].message and 'net51-r8169' in problems[0].message


def test_the_65_usb_nic_fling_is_tied_to_65(db67):
    problems = with_added(db67, package_facts('ESXi650-VMKUSB-NIC-FLING-39176435-16775917.zip'))
    assert [(p.kind, p.need) for p in problems] == [('missing-dependency', 'vmkapi_incompat_2_4_0_0')]


def test_the_partner_profile_refuses_a_community_vib(db67):
    problems = with_added(db67, package_facts('net-r8125-9.011.00-10.vib'), level='partner')
    assert [p.kind for p in problems] == ['acceptance']
    assert "acceptance level is community, which is not compliant with the image profile acceptance level partner" in problems[0].message


@pytest.mark.parametrize(
    'package',
    ['nvme-community-driver_1.0.1.0-1vmw.670.0.0.8169922-offline_bundle-17658145.zip', 'net-r8125-9.011.00-10.vib', 'r8125-bundle.zip'],
)
def test_drivers_that_fit_67_go_in(db67, package):
    assert with_added(db67, package_facts(package)) == []


def test_8x_and_9x_flings_miss_their_kernel_api_on_67(db67):
    problems = with_added(db67, package_facts('ESXi80U3-VMKUSB-NIC-FLING-75399077-component-24052746.zip'))
    assert {p.need for p in problems if p.kind == 'missing-dependency'} == {'vmkapi_2_13_0_0', 'vmkapi_incompat_2_13_0_0'}
    assert any(p.kind == 'platform' and 'built for ESXi 8.0' in p.message for p in problems)
    problems = with_added(db67, package_facts('ESXi90-VMKUSB-NIC-FLING-84947163_24739691-component.zip'))
    assert {p.need for p in problems if p.kind == 'missing-dependency'} == {'vmkapi_3_0_0_0', 'vmkapi_incompat_3_0_0_0', 'zstd-compression = 1.0'}


def test_adding_a_same_name_vib_without_replacing_obsoletes_the_stock_one(db67):
    added = package_facts('net-igb-5.3.2-99-offline_bundle.zip')
    problems = validate(facts_of_database(db67) + added, acceptance_level='community', release='6.7.0')
    assert [(p.kind, p.vib.split('_')[2]) for p in problems] == [('obsoleted', 'net-igb')]
    assert 'VMW_bootbank_net-igb_5.0.5.1.1-5vmw.670.0.0.8169922 is obsoleted by' in problems[0].message


def _facts(name, version, **relations):
    xml = packages.descriptor_xml(name, version, **relations)
    return VibFacts.from_record(VibRecord.from_xml(xml, name))


def test_conflicts_follow_provides_and_ignore_the_release_when_the_constraint_has_none(db67):
    # qfle3i of 6.7 GA really declares conflicts SecondConflict >> 1.2.3.4
    equal = with_added(db67, [_facts('SecondConflict', '1.2.3.4-1')])
    assert equal == []
    newer = with_added(db67, [_facts('SecondConflict', '1.2.3.5-1')])
    assert [p.kind for p in newer] == ['conflict'] and 'qfle3i' in newer[0].message


def test_a_replaces_hits_a_provide(db67):
    # esx-base provides esximage = 1.0: a VIB replacing esximage obsoletes esx-base
    problems = with_added(db67, [_facts('xx', '1.0-1', replaces=['esximage'])])
    assert [p.kind for p in problems] == ['obsoleted'] and 'esx-base' in problems[0].vib


def test_equal_versions_of_one_name_are_duplicates():
    a = _facts('net-x', '1.0-1', provides=[('esx-version', '=', '7.0.3-0.0.1')])
    b = _facts('net-x', '1.00-1')
    problems = validate([a, b], acceptance_level='community', release='7.0.3')
    assert [p.kind for p in problems] == ['duplicate']


def test_8x_images_need_gunzip_checksums_and_say_why():
    stale = packages.descriptor_xml('net-old', '1.0-1', payloads=[('net-old', 'vgz', packages.gzip_bytes(b'x'))], checksum_order='legacy')
    vib = VibFacts.from_record(VibRecord.from_xml(stale, 'net-old'))
    base = _facts('esx-base', '8.0.3-0.0.1', provides=[('esx-version', '=', '8.0.3-0.0.1')])
    problems = validate([base, vib], acceptance_level='community', release='8.0.3')
    assert [p.kind for p in problems] == ['checksum']
    assert 'does not have sha-256 gunzip checksum' in problems[0].message
    assert validate([base, vib], acceptance_level='community', release='7.0.3') == []


def test_a_component_listing_an_absent_vib_is_a_problem():
    base = _facts('esx-base', '7.0.3-0.0.1', provides=[('esx-version', '=', '7.0.3-0.0.1')])
    xml = (
        b'<bulletin><id>amsdComponent_1</id><vendor>HPE</vendor><componentNameSpec name="amsdComponent" uiString="amsd"/>'
        b'<componentVersionSpec version="1" uiString="1"/><vibList><vibID>HPE_bootbank_amscli_1</vibID></vibList></bulletin>'
    )
    component = Component.from_xml(xml, 'bulletin')
    problems = validate([base], acceptance_level='community', release='7.0.3', components=[component])
    assert [p.kind for p in problems] == ['component'] and 'amsdComponent' in problems[0].message
    reserved = Component.from_xml(xml, 'bulletin', reserved=True)
    assert validate([base], acceptance_level='community', release='7.0.3', components=[reserved]) == []
