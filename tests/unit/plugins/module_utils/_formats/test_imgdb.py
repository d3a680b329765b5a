# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import gzip
import io
import re
import tarfile
from pathlib import Path

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import ConflictError, FormatError, UnsafeArchiveError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import ImageDatabase
from ansible_collections.esxi.customizer.tests.fixturegen.shared import shared_fixtures


FIXTURES = shared_fixtures()
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason='shared fixtures not found (set ESXI_SHARED_FIXTURES)')

NEW_VIB = (
    b'<vib version="5.0"><type>bootbank</type><name>net-r8125</name><version>9.011.00-10</version>'
    b'<vendor>Realtek</vendor><summary>r8125</summary><description>d</description><relationships><depends>'
    b'<constraint name="vmkapi_2_2_0_0"/></depends><conflicts/><replaces/><provides/><compatibleWith/></relationships>'
    b'<software-tags><tag>driver</tag></software-tags><acceptance-level>community</acceptance-level>'
    b'<payloads><payload name="net-r8125" type="tgz" size="10"/></payloads></vib>'
)
NEW_VIB_ID = 'Realtek_bootbank_net-r8125_9.011.00-10'


def tgz_of(tree: Path, arcname: str = 'var/db/esximg') -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        tar.add(str(tree), arcname=arcname)
    return buf.getvalue()


def tgz_from_members(members) -> bytes:
    """members: (TarInfo, bytes or None)"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz', format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def minimal_db(vibs=()) -> bytes:
    viblist = ''.join('<vib><vib-id>%s</vib-id><payloads><payload payload-name="%s">%s</payload></payloads></vib>' % v for v in vibs)
    profile = (
        '<imageprofile><name>P</name><creator>me</creator><profileID>00</profileID><creationtime>t</creationtime>'
        '<modifiedtime>t</modifiedtime><serialno>1</serialno><description>x</description><readonly>true</readonly>'
        '<viblist>%s</viblist><acceptancelevel>partner</acceptancelevel></imageprofile>' % viblist
    ).encode()
    return tgz_from_members([(tarfile.TarInfo('var/db/esximg/profiles/p'), profile)])


@pytest.fixture(scope='module')
def db67_tgz():
    if FIXTURES is None:
        pytest.skip('shared fixtures not found')
    return tgz_of(FIXTURES / 'esxi67-imgdb-ljvblfz' / 'var', arcname='var')


@pytest.fixture
def db67(db67_tgz):
    return ImageDatabase.from_tgz(db67_tgz, path='IMGDB.TGZ')


def test_real_67_database_loads(db67):
    assert len(db67.vibs) == 136
    assert len(db67.profiles) == 1
    profile = db67.profile
    assert profile.name == 'ESXi-6.7.0-8169922-standard'
    assert profile.creator == 'VMware, Inc.'
    assert profile.acceptance_level == 'partner'
    assert profile.profile_id == '57ffe944378b11e8ae0c0200e5cbd056'
    assert profile.serialno == '136'
    assert profile.readonly == 'true'
    assert profile.description.startswith('The general availability release of VMware ESXi Server 6.7.0')
    assert len(profile.vibs) == 136
    assert db67.problems() == []
    assert all(vib.orig and vib.sig and vib.sig.startswith(b'-----BEGIN PKCS7-----') for vib in db67.vibs.values())
    base = db67.vibs['VMware_bootbank_esx-base_6.7.0-0.0.8169922']
    assert (base.name, base.version, base.vendor, base.type) == ('esx-base', '6.7.0-0.0.8169922', 'VMware', 'bootbank')
    assert profile.vibs[base.vib_id]['mboot.c32'] == 'mboot.c3.b00'
    assert profile.vibs[base.vib_id]['jumpstrt'] == 'jumpstrt.gz'
    libata = db67.vibs['VMW_bootbank_ata-libata-92_3.00.9.2-16vmw.670.0.0.8169922']
    assert libata.acceptance_level == 'certified'
    assert [p.name for p in libata.payloads] == ['ata-liba'] and libata.payloads[0].size == 97488
    assert [str(c) for c in libata.relationships['depends']] == ['vmkapi_2_3_0_0', 'com.vmware.driverAPI-9.2.3.0']
    assert [str(c) for c in libata.relationships['provides']] == ['com.vmware.libata-9.2.3.0']
    assert libata.payloads[0].checksums[0] == ('sha-256', 'gunzip', '74c0e2e9504e0476733bb1532fb5d3427a9d17a124b895fb842394b8cdd307a2')


def test_real_profile_names_follow_the_installer_rule(db67):
    """Every local name in the real 6.7 profile is either the vfat-name or short.<type letter><hex>."""
    checked = 0
    for vib_id, payloads in db67.profile.vibs.items():
        vib = db67.vibs[vib_id]
        for payload_name, local in payloads.items():
            payload = vib.payload(payload_name)
            if payload.vfat_name:
                assert local == payload.vfat_name.lower()
            else:
                short = payload_name[:8].replace('-', '_').lower()
                assert re.fullmatch(re.escape(short) + r'\.' + payload.type[0] + r'[0-9a-f]{2}', local), (payload_name, local)
            checked += 1
    assert checked > 160


def test_unedited_round_trip_keeps_content(db67, db67_tgz):
    out = db67.to_tgz(mtime=1700000000)
    again = ImageDatabase.from_tgz(out)
    assert set(again.vibs) == set(db67.vibs)
    original = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(db67_tgz))}
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        for member in tar:
            assert member.uid == 0 and member.gid == 0 and member.mtime == 1700000000
            if member.isfile():
                source = tarfile.open(fileobj=io.BytesIO(db67_tgz))
                assert tar.extractfile(member).read() == source.extractfile(original[member.name]).read()
        names = tar.getnames()
    assert names[:3] == ['var', 'var/db', 'var/db/esximg']
    assert tarfile.open(fileobj=io.BytesIO(out)).getmember('var/db/esximg').isdir()
    for name in names:
        parent = name.rsplit('/', 1)[0]
        assert '/' not in name or names.index(parent) < names.index(name), 'directory %s not before %s' % (parent, name)
    # deterministic: same content twice, and again after a reload, gives identical bytes; gzip mtime is 0
    assert db67.to_tgz(mtime=1700000000) == out
    assert again.to_tgz(mtime=1700000000) == out
    assert out[4:8] == b'\0\0\0\0'
    assert gzip.decompress(out)[257:265] == b'ustar  \0'  # GNU tar magic


def test_add_vib_changes_only_the_viblist_and_modifiedtime(db67):
    original = db67.profile.to_xml()
    local = db67.allocate_local_name('net-r8125', 'tgz')
    assert local == 'net_r812.t00'
    db67.add_vib(NEW_VIB_ID, 'net-r8125', NEW_VIB, payloads={'net-r8125': local}, orig=NEW_VIB, sig=b'')
    db67.touch(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
    db67.set_acceptance_level('community')
    edited = db67.profile.to_xml().decode()
    expected = original.decode().replace(
        '</viblist>', '<vib><vib-id>%s</vib-id><payloads><payload payload-name="net-r8125">net_r812.t00</payload></payloads></vib></viblist>' % NEW_VIB_ID
    )
    expected = re.sub('<modifiedtime>[^<]*</modifiedtime>', '<modifiedtime>2026-01-02T03:04:05+00:00</modifiedtime>', expected)
    expected = expected.replace('<acceptancelevel>partner<', '<acceptancelevel>community<')
    assert edited == expected
    reloaded = ImageDatabase.from_tgz(db67.to_tgz(mtime=0))
    assert len(reloaded.vibs) == 137
    vib = reloaded.vibs[NEW_VIB_ID]
    assert vib.orig == NEW_VIB and vib.sig == b'' and vib.member.startswith('var/db/esximg/vibs/net-r8125-')
    assert reloaded.profile.vibs[NEW_VIB_ID] == {'net-r8125': 'net_r812.t00'}
    assert reloaded.profile.acceptance_level == 'community'
    assert reloaded.problems() == []
    # the next allocation for the same short name sees the new one
    assert reloaded.allocate_local_name('net-r8125-x', 'tgz') == 'net_r812.t01'


def test_add_vib_refuses_inconsistent_input(db67):
    with pytest.raises(ValueError, match='describes'):
        db67.add_vib('Other_bootbank_x_1', 'x', NEW_VIB, payloads={'net-r8125': 'a.t00'})
    with pytest.raises(ValueError, match='no payload named'):
        db67.add_vib(NEW_VIB_ID, 'net-r8125', NEW_VIB, payloads={'other': 'a.t00'})
    with pytest.raises(ConflictError, match='already used'):
        db67.add_vib(NEW_VIB_ID, 'net-r8125', NEW_VIB, payloads={'net-r8125': 'S.V00'})
    with pytest.raises(ConflictError, match='already in the image database'):
        db67.add_vib('VMware_bootbank_esx-base_6.7.0-0.0.8169922', 'esx-base', NEW_VIB, payloads={})
    with pytest.raises(FormatError, match='not well-formed XML'):
        db67.add_vib(NEW_VIB_ID, 'net-r8125', b'<vib', payloads={})
    with pytest.raises(FormatError, match='unknown acceptance level'):
        db67.set_acceptance_level('trusted')
    assert db67.profile.dirty is False


def test_remove_vib(db67):
    vib_id = 'VMW_bootbank_net-enic_2.1.2.38-2vmw.670.0.0.8169922'
    member = db67.vibs[vib_id].member
    record = db67.remove_vib(vib_id)
    assert record.name == 'net-enic'
    assert db67.remove_vib(vib_id) is None
    names = set(ImageDatabase.from_tgz(db67.to_tgz()).member_names())
    assert member not in names and member + '.orig' not in names and member + '.sig' not in names
    reloaded = ImageDatabase.from_tgz(db67.to_tgz())
    assert vib_id not in reloaded.profile.vibs and len(reloaded.vibs) == 135
    assert 'net_enic.v00' not in reloaded.used_local_names()


def test_local_name_allocation_rule():
    db = ImageDatabase.from_tgz(minimal_db([('a', 'x', 'lsu_lsi_.v00'), ('b', 'y', 'mboot.c3.b00')]))
    assert db.allocate_local_name('lsu-lsi-', 'vgz') == 'lsu_lsi_.v01'
    assert db.allocate_local_name('mboot.c32', 'boot_com32_bios') == 'mboot.c3.b01'
    assert db.allocate_local_name('BOOTx64.EFI', 'boot_loader_efi') == 'bootx64..b00'
    assert db.allocate_local_name('efiboot.img', 'eltorito_image_efi') == 'efiboot..e00'
    assert db.allocate_local_name('jumpstrt', 'boot', vfat_name='JUMPSTRT.GZ') == 'jumpstrt.gz'
    assert db.allocate_local_name('mboot.c32', 'boot', vfat_name='mboot.c3.b00') == 'mboot.c3.b01'
    empty = ImageDatabase.from_tgz(minimal_db())
    assert empty.allocate_local_name('lsu-lsi-', 'vgz') == 'lsu_lsi_.v00'
    assert empty.allocate_local_name('mboot.c32', 'boot_com32_bios') == 'mboot.c3.b00'
    reserved = ['NVME_COM.V%02d' % i for i in range(10)]
    assert empty.allocate_local_name('nvme-community', 'vgz', reserved=reserved) == 'nvme_com.v0a'
    full = ['x.v%02x' % i for i in range(256)]
    with pytest.raises(ConflictError, match='all 256'):
        empty.allocate_local_name('x', 'vgz', reserved=full)


@needs_fixtures
def test_70_samples_load_bulletins_as_components():
    tree = FIXTURES / 'esxi70-imgdb-samples-eturra' / 'samples' / 'esximg'
    db = ImageDatabase.from_tgz(tgz_of(tree))
    assert len(db.vibs) == 84
    assert len([c for c in db.components.values() if not c.reserved]) == 63
    assert len([c for c in db.components.values() if c.reserved]) == 2
    esxi = db.components['ESXi_7.0.0-1.0.15843807']
    assert esxi.name == 'ESXi' and esxi.version == '7.0.0-1.0.15843807'
    assert 'VMware_bootbank_esx-base_7.0.0-1.0.15843807' in esxi.vib_ids
    fc = db.components['fc-enablement-component_700.3.5.0.40-1']
    assert fc.vib_ids == ['HPE_bootbank_fc-enablement_700.3.5.0.40-1OEM.700.0.0.15525992']
    assert fc.vendor == 'Hewlett Packard Enterprise'
    assert db.components_of('HPE_bootbank_fc-enablement_700.3.5.0.40-1OEM.700.0.0.15525992') == [fc]
    base = db.vibs['VMware_bootbank_esx-base_7.0.0-1.0.15843807']
    assert base.payload('jumpstrt').vfat_name == 'jumpstrt.gz' and base.payload('jumpstrt').boot_order == 47
    assert db.profile is None
    assert db.problems() == ['image database has no image profile (var/db/esximg/profiles/)']
    # components survive a round trip and can be removed and added again
    xml = fc.xml
    assert db.remove_component(fc.id) is fc
    db.add_component(fc.id, xml)
    again = ImageDatabase.from_tgz(db.to_tgz())
    assert again.components[fc.id].member == 'var/db/esximg/bulletins/%s.xml' % fc.id
    with pytest.raises(ConflictError):
        again.add_component(fc.id, xml)
    with pytest.raises(ValueError):
        again.add_component('other-id', xml)


def test_unknown_members_are_kept_verbatim():
    members = [
        (tarfile.TarInfo('var/db/esximg/profiles/p'), ImageDatabase.from_tgz(minimal_db()).profile.to_xml()),
        (tarfile.TarInfo('var/db/esximg/README.weird'), b'\x00\x01 keep me'),
        (tarfile.TarInfo('var/db/esximg/reservedVibs/x.xml'), b'<not-a-vib/>'),
    ]
    db = ImageDatabase.from_tgz(tgz_from_members(members))
    again = ImageDatabase.from_tgz(db.to_tgz())
    assert again.member_data('var/db/esximg/README.weird') == b'\x00\x01 keep me'
    assert again.member_data('var/db/esximg/reservedVibs/x.xml') == b'<not-a-vib/>'


def _info(name, kind=tarfile.REGTYPE, linkname=''):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    'info, message',
    [
        (_info('/etc/passwd'), 'absolute path'),
        (_info('var/db/../../etc/passwd'), 'escape'),
        (_info('var/db/esximg/vibs/x.xml', tarfile.SYMTYPE, '/etc/passwd'), 'is a link'),
        (_info('var/db/esximg/vibs/y.xml', tarfile.LNKTYPE, 'var/db/esximg/vibs/x.xml'), 'is a link'),
        (_info('var/db/esximg/dev', tarfile.CHRTYPE), 'special file'),
    ],
)
def test_unsafe_members_are_refused(info, message):
    data = tgz_from_members([(info, b'x' if info.type == tarfile.REGTYPE else None)])
    with pytest.raises(UnsafeArchiveError, match=message):
        ImageDatabase.from_tgz(data, path='/iso/IMGDB.TGZ')


def test_archive_bomb_is_refused_before_reading():
    data = tgz_from_members([(tarfile.TarInfo('var/db/esximg/big'), b'\0' * (3 * 1024 * 1024))])
    assert len(data) < 64 * 1024
    with pytest.raises(UnsafeArchiveError, match='expands to more than 1 MiB'):
        ImageDatabase.from_tgz(data, path='IMGDB.TGZ', max_size=1024 * 1024)


def test_bad_archives_give_clear_errors():
    with pytest.raises(FormatError, match='IMGDB.TGZ: is not a readable gzip/tar archive'):
        ImageDatabase.from_tgz(b'this is not an archive' * 100, path='IMGDB.TGZ')
    good = minimal_db()
    with pytest.raises(FormatError, match='IMGDB.TGZ: '):
        ImageDatabase.from_tgz(good[: len(good) // 2], path='IMGDB.TGZ')
    broken = tgz_from_members([(tarfile.TarInfo('var/db/esximg/profiles/p'), b'<imageprofile><name>')])
    with pytest.raises(FormatError, match='IMGDB.TGZ:var/db/esximg/profiles/p: it is not well-formed XML'):
        ImageDatabase.from_tgz(broken, path='IMGDB.TGZ')
    broken_vib = tgz_from_members([(tarfile.TarInfo('var/db/esximg/vibs/v.xml'), b'<vib><name>x</name></vib>')])
    with pytest.raises(FormatError, match='VIB descriptor lacks <type>, <vendor>, <version>'):
        ImageDatabase.from_tgz(broken_vib, path='IMGDB.TGZ')
    entity_bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><imageprofile><name>&a;</name><viblist/></imageprofile>'
    with pytest.raises(FormatError, match='DTD or entity definition'):
        ImageDatabase.from_tgz(tgz_from_members([(tarfile.TarInfo('var/db/esximg/profiles/p'), entity_bomb)]))
    no_profile = tgz_from_members([(tarfile.TarInfo('var/db/esximg/other'), b'x')])
    with pytest.raises(FormatError, match='no image profile'):
        ImageDatabase.from_tgz(no_profile, path='IMGDB.TGZ').set_acceptance_level('community')


def test_streamed_file_object_source():
    class NonSeekable(io.RawIOBase):
        def __init__(self, data):
            self._inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buf):
            chunk = self._inner.read(len(buf))
            buf[: len(chunk)] = chunk
            return len(chunk)

    db = ImageDatabase.from_tgz(NonSeekable(minimal_db([('a', 'x', 'x.v00')])))
    assert list(db.profile.vibs) == ['a']


def test_database_problems():
    vib = NEW_VIB
    members = [(tarfile.TarInfo('var/db/esximg/vibs/net.xml'), vib)]
    unmapped = minimal_db([(NEW_VIB_ID, 'other', 'x.t00'), ('VMW_bootbank_ghost_1', 'g', 'g.v00')])
    db = ImageDatabase.from_tgz(unmapped)
    db._add_member('var/db/esximg/vibs/net.xml', vib)  # pylint: disable=protected-access
    db = ImageDatabase.from_tgz(db.to_tgz())
    assert db.problems() == [
        "profile maps payload 'other' of VIB %s, which the VIB does not have" % NEW_VIB_ID,
        "profile has no local file name for payload 'net-r8125' of VIB %s" % NEW_VIB_ID,
        'profile lists VIB VMW_bootbank_ghost_1 but the database has no descriptor for it',
    ]
    no_viblist = tgz_from_members(
        [(tarfile.TarInfo('var/db/esximg/profiles/p'), b'<imageprofile><name>P</name><acceptancelevel>partner</acceptancelevel></imageprofile>')] + members
    )
    db = ImageDatabase.from_tgz(no_viblist)
    assert db.profile.vibs == {}
    assert db.problems() == ['image profile var/db/esximg/profiles/p has no <viblist>']
    db.add_vib(NEW_VIB_ID + 'x', 'net-r8125', vib.replace(b'9.011.00-10<', b'9.011.00-10x<'), payloads={'net-r8125': 'net_r812.t00'})
    assert db.profile.to_xml().startswith(b'<imageprofile><name>P</name><viblist><vib><vib-id>')
    assert db.problems() == []


def test_acceptance_level_names_and_touch_formats():
    db = ImageDatabase.from_tgz(minimal_db())
    assert db.set_acceptance_level('CommunitySupported')
    assert db.profile.acceptance_level == 'community'
    db = ImageDatabase.from_tgz(minimal_db())
    db.touch(0)
    assert db.profile.modified_time == '1970-01-01T00:00:00+00:00'
    db.touch('2026-11-26T11:00:00+00:00')
    assert db.profile.modified_time == '2026-11-26T11:00:00+00:00'
    assert gzip.decompress(db.to_tgz())  # valid gzip


def test_local_names_for_the_iso_root_are_always_8_3_d_characters():
    db = ImageDatabase.from_tgz(minimal_db([('a', 'x', 'net_e100.v00')]))
    # the installer's rule as such keeps the dot (mboot.c3.b00 in the real 6.7 profile) ...
    assert db.allocate_local_name('net.e100', 'vgz') == 'net.e100.v00'
    # ... but an ISO root name cannot hold it, nor '+'; '-' -> '_' as always
    assert db.allocate_local_name('net.e100', 'vgz', for_iso=True) == 'net_e100.v01'
    assert db.allocate_local_name('a+b-c', 'tgz', for_iso=True) == 'a_b_c.t00'
    # a vfat-name that is no 8.3 name is ignored for the ISO, a valid one is used
    assert db.allocate_local_name('drv', 'vgz', vfat_name='my-driver.gz.x', for_iso=True) == 'drv.v00'
    assert db.allocate_local_name('drv', 'vgz', vfat_name='DRV_X.GZ', for_iso=True) == 'drv_x.gz'


def test_profile_acceptance_spellings_read_as_xml_tokens():
    for spelling, token in (('PartnerSupported', 'partner'), ('partner', 'partner'), ('VMwareCertified', 'certified'), (' Community ', 'community')):
        db = ImageDatabase.from_tgz(_with_profile_level(spelling))
        assert db.profile.acceptance_level == token, spelling
        # the same level in another spelling is no change: the database is not rewritten for it
        assert db.set_acceptance_level(token) is False
        assert db.profile.dirty is False


def _with_profile_level(level):
    profile = ('<imageprofile><name>P</name><viblist/><acceptancelevel>%s</acceptancelevel></imageprofile>' % level).encode()
    return tgz_from_members([(tarfile.TarInfo('var/db/esximg/profiles/p'), profile)])


def test_several_profiles_all_get_the_added_vib_the_level_and_the_time():
    profile = '<imageprofile><name>%s</name><modifiedtime>t</modifiedtime><viblist/><acceptancelevel>partner</acceptancelevel></imageprofile>'
    db = ImageDatabase.from_tgz(
        tgz_from_members(
            [(tarfile.TarInfo('var/db/esximg/profiles/a'), (profile % 'A').encode()), (tarfile.TarInfo('var/db/esximg/profiles/b'), (profile % 'B').encode())]
        )
    )
    db.add_vib(NEW_VIB_ID, 'net-r8125', NEW_VIB, payloads={'net-r8125': 'net_r812.t00'})
    assert db.set_acceptance_level('community')
    db.touch(0)
    reloaded = ImageDatabase.from_tgz(db.to_tgz())
    assert [p.name for p in reloaded.profiles] == ['A', 'B']
    for prof in reloaded.profiles:
        assert prof.vibs == {NEW_VIB_ID: {'net-r8125': 'net_r812.t00'}}
        assert prof.acceptance_level == 'community' and prof.modified_time == '1970-01-01T00:00:00+00:00'
    assert reloaded.remove_vib(NEW_VIB_ID) is not None
    assert all(prof.vibs == {} for prof in reloaded.profiles)


def test_7x_8x_profile_elements_we_do_not_know_are_kept_in_place():
    tail = (
        '<baseimage><releaseID>8.0.2-0.0.22380479</releaseID></baseimage><components><component name="ESXi" '
        'version="8.0.2-0.0.22380479"/></components><rules/><statelessready>true</statelessready>'
    )
    profile = (
        '<imageprofile><name>ESXi-8.0U2-22380479-standard</name><modifiedtime>t</modifiedtime><viblist/>'
        '<acceptancelevel>partner</acceptancelevel>%s</imageprofile>' % tail
    ).encode()
    db = ImageDatabase.from_tgz(tgz_from_members([(tarfile.TarInfo('var/db/esximg/profiles/p'), profile)]))
    db.add_vib(NEW_VIB_ID, 'net-r8125', NEW_VIB, payloads={'net-r8125': 'net_r812.t00'})
    db.set_acceptance_level('community')
    db.touch(0)
    written = ImageDatabase.from_tgz(db.to_tgz()).profile.to_xml().decode()
    assert written.endswith('<acceptancelevel>community</acceptancelevel>%s</imageprofile>' % tail)
    assert '<vib-id>%s</vib-id>' % NEW_VIB_ID in written
