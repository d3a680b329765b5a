"""The settings check of build_esxi.yml: every everyday mistake is named before anything is fetched."""

from __future__ import annotations

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._settings import check_settings

BASE = {'esxi_iso_url': 'https://repo/esxi.iso', 'esxi_iso_checksum': 'sha256:https://repo/SHA256SUMS'}


def problems(extra=None, hosts=None, base=None):
    return check_settings(dict(BASE if base is None else base, **(extra or {})), hosts or {})['problems']


def test_a_complete_real_build_has_no_problems():
    assert (
        problems(
            {
                'esxi_drivers': [{'url': 'https://repo/a.zip', 'checksum': 'sha256:abc'}, {'path': '/srv/b.vib'}],
                'esxi_ks_root_password_hash': '$6$x',
                'esxi_profile': {'name': 'Lab'},
            }
        )
        == []
    )


def test_no_source_iso_says_what_to_set_and_how_to_run_the_demo():
    [message] = problems(base={})
    assert 'set esxi_iso_url' in message and 'make run' in message and '-e @examples/demo.yml' in message
    assert problems(base={'esxi_demo': True}) == []


@pytest.mark.parametrize(
    'name, suggestion',
    [('esxi_driver', 'esxi_drivers'), ('esxi_kickstart_templat', 'esxi_kickstart_template'), ('esxi_datastore_enable', 'esxi_datastore_enabled')],
)
def test_unknown_names_get_the_closest_known_one(name, suggestion):
    assert problems({name: 1}) == ['%s is not a setting of build_esxi.yml: did you mean %s?' % (name, suggestion)]


@pytest.mark.parametrize(
    'entry, message',
    [
        ({'file': '/x.vib'}, 'esxi_drivers entry 1 has an unknown key file'),
        ({'file': '/x.vib'}, 'esxi_drivers entry 1 must have exactly one of url and path (it has neither)'),
        ({'url': 'https://x', 'path': '/x'}, 'exactly one of url and path (it has both)'),
        ({'url': 'https://x'}, 'a url needs its checksum'),
        ('/srv/x.vib', 'must be a mapping'),
    ],
)
def test_driver_entries(entry, message):
    assert any(message in p for p in problems({'esxi_drivers': [entry]})), problems({'esxi_drivers': [entry]})


def test_the_patch_entry():
    assert problems({'esxi_patch': {'path': '/srv/depots/VMware-ESXi-8.0U3e-24674464-depot.zip'}, 'esxi_patch_profile': 'x'}) == []
    assert problems({'esxi_patch': {}}) == []
    assert 'esxi_patch has an unknown key file (known: url, path, checksum)' in problems({'esxi_patch': {'file': '/x.zip'}})
    assert 'esxi_patch: a url needs its checksum ("sha256:<hex>" or "sha256:<URL of a checksum file>")' in problems({'esxi_patch': {'url': 'https://x/p.zip'}})
    assert problems({'esxi_patch_profil': 'x'}) == ['esxi_patch_profil is not a setting of build_esxi.yml: did you mean esxi_patch_profile?']


def test_mapping_settings_and_the_datastore():
    found = problems({'esxi_usb': {'dest': '/x', 'biosboot': False}, 'esxi_datastore_enabled': True, 'esxi_datastore': {'hostname': 'vc'}})
    assert 'esxi_usb has an unknown key biosboot: did you mean bios_boot?' in found
    assert 'esxi_datastore_enabled is true but esxi_datastore lacks username, password, datastore' in found


def test_hosts_macs_and_per_host_typos():
    hosts = {
        'esx01': {'esxi_mac': '00:50:56:aa:bb:01'},
        'esx02': {'esxi_mac': '00-50-56-AA-BB-01', 'esxi_kickstrt_url': 'http://x'},
        'esx03': {'esxi_mac': 'zz'},
        'esx04': {},
    }
    result = check_settings(dict(BASE, esxi_pxe_enabled=True), hosts)
    assert "host esx03: esxi_mac 'zz' is not a MAC address (write it as 00:50:56:aa:bb:01)" in result['problems']
    assert 'hosts esx01, esx02 have the same esxi_mac 00:50:56:aa:bb:01' in result['problems']
    assert 'esxi_kickstrt_url (set for host esx02) is not a setting of build_esxi.yml: did you mean esxi_kickstart_url?' in result['problems']
    assert result['hosts_without_mac'] == ['esx04']
    assert check_settings(dict(BASE), hosts)['hosts_without_mac'] == []  # no PXE: nobody is missing anything


def test_a_group_variable_typo_is_reported_once_with_its_hosts():
    hosts = {'esx%02d' % n: {'esxi_mac': '00:50:56:aa:bb:%02x' % n, 'esxi_driver': []} for n in range(1, 13)}
    found = [p for p in problems(hosts=hosts) if 'esxi_driver ' in p]
    assert found == [
        'esxi_driver (set for host esx01, esx02, esx03, esx04, esx05, esx06, esx07, esx08, esx09, esx10 and 2 more) '
        'is not a setting of build_esxi.yml: did you mean esxi_drivers?'
    ]
    assert [p for p in problems({'esxi_driver': []}, hosts=hosts) if 'esxi_driver ' in p] == [
        'esxi_driver is not a setting of build_esxi.yml: did you mean esxi_drivers?'
    ]


def test_kickstart_template_variables_are_free():
    assert problems({'esxi_ks_anything': 1, 'esxi_ks_root_password_hash': 'x'}) == []


def test_pxe_servers_name_an_inventory_group_and_hosts_name_one_of_its_servers():
    groups = {'all': ['esx01', 'pxe-a', 'pxe-b'], 'pxe_servers': ['pxe-a', 'pxe-b'], 'ungrouped': []}
    hosts = {'esx01': {'esxi_mac': '00:50:56:aa:bb:01', 'esxi_pxe_server': 'pxe-a'}, 'pxe-a': {}, 'pxe-b': {}}
    checked = check_settings(dict(BASE, esxi_pxe_enabled=True, esxi_pxe_servers='pxe_servers'), hosts, groups)
    # the servers are no ESXi hosts: they are not reported as hosts without a MAC
    assert checked == {'problems': [], 'hosts_without_mac': [], 'pxe_servers': ['pxe-a', 'pxe-b']}
    typo = check_settings(dict(BASE, esxi_pxe_enabled=True, esxi_pxe_servers='pxe_server'), hosts, groups)['problems']
    assert 'esxi_pxe_servers names the group pxe_server, which the inventory does not have: did you mean pxe_servers?' in typo
    wrong = dict(hosts, esx01={'esxi_mac': '00:50:56:aa:bb:01', 'esxi_pxe_server': 'pxe-c'})
    found = check_settings(dict(BASE, esxi_pxe_enabled=True, esxi_pxe_servers='pxe_servers'), wrong, groups)['problems']
    assert found == ['host esx01: esxi_pxe_server pxe-c is not in the group pxe_servers (esxi_pxe_servers)']
    unset = check_settings(dict(BASE, esxi_pxe_enabled=True), hosts, groups)['problems']
    assert unset == ['host esx01: esxi_pxe_server pxe-a is set, but esxi_pxe_servers is not']


def test_pxe_state_absent_needs_the_publication_name():
    assert problems({'esxi_pxe_enabled': True, 'esxi_pxe_state': 'absent'}) == [
        'esxi_pxe_state absent needs esxi_pxe_name: the name of the publication to remove'
    ]
    assert problems({'esxi_pxe_enabled': True, 'esxi_pxe_state': 'gone'}) == ["esxi_pxe_state must be present or absent, not 'gone'"]
    assert problems({'esxi_pxe_enabled': True, 'esxi_pxe_state': 'absent', 'esxi_pxe_name': 'esxi67'}) == []
