# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The settings of ``build_esxi.yml`` checked before anything is fetched: a typo must fail the run, not build a wrong ISO.

A misspelt variable is not an error to Ansible (it is just another variable), so without this check
``esxi_driver: [...]`` builds an ISO without the driver and ``file:`` instead of ``path:`` in a driver entry is
ignored. Every ``esxi_*`` variable must be one this playbook knows (the message names the closest known one);
names starting with ``esxi_ks_`` are free for kickstart templates. Driver entries, MAC addresses and the
datastore settings are checked too; hosts without a MAC are reported when PXE is enabled.
"""

from __future__ import annotations

import difflib
import re

GLOBAL_SETTINGS = (
    'esxi_iso_url',
    'esxi_iso_checksum',
    'esxi_expect_version',
    'esxi_drivers',
    'esxi_remove_vibs',
    'esxi_patch',
    'esxi_patch_profile',
    'esxi_kickstart_template',
    'esxi_kernelopt_add',
    'esxi_boot_title',
    'esxi_boot_timeout',
    'esxi_acceptance_level',
    'esxi_volume_id',
    'esxi_profile',
    'esxi_allow_downgrade',
    'esxi_skip_dependency_check',
    'esxi_skip_compatibility_check',
    'esxi_output_dir',
    'esxi_output_name',
    'esxi_output_mode',
    'esxi_pxe_enabled',
    'esxi_pxe_dest',
    'esxi_pxe_name',
    'esxi_pxe_http_url',
    'esxi_pxe_kickstart_url',
    'esxi_pxe_kickstart_template',
    'esxi_pxe_bootloaders',
    'esxi_pxe_servers',
    'esxi_pxe_state',
    'esxi_pxe_staging_dir',
    'esxi_usb_enabled',
    'esxi_usb',
    'esxi_datastore_enabled',
    'esxi_datastore',
    'esxi_demo',
)
HOST_SETTINGS = ('esxi_mac', 'esxi_hostname', 'esxi_kickstart_url', 'esxi_kernelopt_add', 'esxi_pxe_server', 'esxi_customizer_in_process')
FREE_PREFIX = 'esxi_ks_'
"""Variables for the user's kickstart templates (``esxi_ks_root_password_hash``...): never reported."""
DRIVER_KEYS = ('url', 'path', 'checksum')
DICT_KEYS = {
    'esxi_profile': ('name', 'vendor', 'description'),
    'esxi_usb': ('dest', 'bios_boot', 'syslinux', 'size', 'label'),
    'esxi_datastore': (
        'hostname',
        'port',
        'username',
        'password',
        'validate_certs',
        'ca_path',
        'proxy_host',
        'proxy_port',
        'timeout',
        'connect_timeout',
        'idle_timeout',
        'datacenter',
        'datastore',
        'path',
    ),
}
DATASTORE_REQUIRED = ('hostname', 'username', 'password', 'datastore')
_MAC = re.compile(r'^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$', re.I)
SHOWN = 10


def _suggest(name: str, known: tuple) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return ': did you mean %s?' % close[0] if close else ' (known: %s)' % ', '.join(known)


def unknown_names(names: list[str], known: tuple) -> list[str]:
    """One message per ``esxi_*`` name that is not a known setting, with the closest known name."""
    return [
        '%s is not a setting of build_esxi.yml%s' % (name, _suggest(name, known))
        for name in sorted(names)
        if name.startswith('esxi_') and not name.startswith(FREE_PREFIX) and name not in known
    ]


def driver_problems(drivers: object) -> list[str]:
    """Each driver entry is ``{url, checksum}`` or ``{path}``, nothing else."""
    if drivers is None:
        return []
    if not isinstance(drivers, list):
        return ['esxi_drivers must be a list of {url: ..., checksum: ...} or {path: ...} entries, not %s' % type(drivers).__name__]
    return _package_problems([('esxi_drivers entry %d' % number, entry) for number, entry in enumerate(drivers, 1)])


def patch_problems(patch: object) -> list[str]:
    """``esxi_patch`` is one entry like a driver's (empty or absent: no patch)."""
    if not patch:
        return []
    return _package_problems([('esxi_patch', patch)])


def _package_problems(entries: list) -> list[str]:
    problems = []
    for where, entry in entries:
        if not isinstance(entry, dict):
            problems.append('%s (%r) must be a mapping with url and checksum, or path' % (where, entry))
            continue
        for key in sorted(set(entry) - set(DRIVER_KEYS)):
            problems.append('%s has an unknown key %s%s' % (where, key, _suggest(key, DRIVER_KEYS)))
        has_url, has_path = bool(entry.get('url')), bool(entry.get('path'))
        if has_url == has_path:
            problems.append('%s must have exactly one of url and path (it has %s)' % (where, 'both' if has_url else 'neither'))
        elif has_url and not entry.get('checksum'):
            problems.append('%s: a url needs its checksum ("sha256:<hex>" or "sha256:<URL of a checksum file>")' % where)
        elif has_path and entry.get('checksum'):
            problems.append('%s: checksum goes with url; a path is used as it is' % where)
    return problems


def dict_problems(settings: dict) -> list[str]:
    """Unknown keys inside the mapping settings (esxi_usb, esxi_datastore, esxi_profile)."""
    problems = []
    for name, keys in DICT_KEYS.items():
        value = settings.get(name)
        if value is None:
            continue
        if not isinstance(value, dict):
            problems.append('%s must be a mapping (keys: %s)' % (name, ', '.join(keys)))
            continue
        problems += ['%s has an unknown key %s%s' % (name, key, _suggest(key, keys)) for key in sorted(set(value) - set(keys))]
    if settings.get('esxi_datastore_enabled'):
        store = settings.get('esxi_datastore') if isinstance(settings.get('esxi_datastore'), dict) else {}
        missing = [key for key in DATASTORE_REQUIRED if not store.get(key)]
        if missing:
            problems.append('esxi_datastore_enabled is true but esxi_datastore lacks %s' % ', '.join(missing))
    return problems


def host_problems(hosts: dict, *, pxe: bool, reported: tuple = ()) -> tuple[list[str], list[str]]:
    """(problems, hosts without a MAC) of ``{host: {esxi_* variables of that host}}``.

    Group variables reach every host: a misspelt one is reported once, with the hosts it is set on, unless it is
    in ``reported`` already (the play-level check saw it).
    """
    problems, by_mac, without, unknown = [], {}, [], {}
    for host in sorted(hosts):
        variables = hosts[host]
        for name in variables:
            if name.startswith('esxi_') and not name.startswith(FREE_PREFIX) and name not in HOST_SETTINGS + GLOBAL_SETTINGS and name not in reported:
                unknown.setdefault(name, []).append(host)
        mac = variables.get('esxi_mac')
        if mac is None:
            without.append(host)
            continue
        if not isinstance(mac, str) or not _MAC.match(mac.strip()):
            problems.append('host %s: esxi_mac %r is not a MAC address (write it as 00:50:56:aa:bb:01)' % (host, mac))
            continue
        by_mac.setdefault(re.sub(r'[:-]', '', mac.strip().lower()), []).append(host)
    for name, names in sorted(unknown.items()):
        problems.append('%s (set for host %s) is not a setting of build_esxi.yml%s' % (name, _names(names), _suggest(name, HOST_SETTINGS + GLOBAL_SETTINGS)))
    for mac, names in sorted(by_mac.items()):
        if len(names) > 1:
            problems.append('hosts %s have the same esxi_mac %s' % (', '.join(names), ':'.join(mac[i : i + 2] for i in range(0, 12, 2))))
    return problems, (without if pxe else [])


def _names(items: list[str]) -> str:
    return ', '.join(items[:SHOWN]) + (' and %d more' % (len(items) - SHOWN) if len(items) > SHOWN else '')


def pxe_server_problems(settings: dict, hosts: dict, groups: dict) -> tuple[list[str], list[str]]:
    """(problems, server names) of ``esxi_pxe_servers`` (an inventory group) and each host's ``esxi_pxe_server``."""
    problems = []
    state = settings.get('esxi_pxe_state', 'present')
    if state not in ('present', 'absent'):
        problems.append('esxi_pxe_state must be present or absent, not %r' % (state,))
    if state == 'absent' and settings.get('esxi_pxe_enabled') and not settings.get('esxi_pxe_name'):
        problems.append('esxi_pxe_state absent needs esxi_pxe_name: the name of the publication to remove')
    group = settings.get('esxi_pxe_servers')
    if not group:
        servers = []
    elif not isinstance(group, str):
        return problems + ['esxi_pxe_servers must be the name of an inventory group (of the PXE/TFTP servers), not %s' % type(group).__name__], []
    elif group not in groups:
        return problems + ['esxi_pxe_servers names the group %s, which the inventory does not have%s' % (group, _suggest(group, tuple(sorted(groups))))], []
    else:
        servers = list(groups[group])
        if not servers:
            problems.append('esxi_pxe_servers names the group %s, which has no hosts' % group)
    for host in sorted(hosts):
        server = hosts[host].get('esxi_pxe_server')
        if server is not None and server not in servers:
            where = 'not in the group %s (esxi_pxe_servers)' % group if group else 'set, but esxi_pxe_servers is not'
            problems.append('host %s: esxi_pxe_server %s is %s' % (host, server, where))
    return problems, servers


def check_settings(settings: dict, hosts: dict, groups: dict | None = None) -> dict:
    """All problems of the playbook's settings.

    ``settings`` are the play's ``esxi_*`` variables, ``hosts`` each inventory host's, ``groups`` the inventory's groups
    (name to host names). The PXE servers of ``esxi_pxe_servers`` are not ESXi hosts: they are left out of the MAC checks.
    """
    problems = unknown_names(list(settings), GLOBAL_SETTINGS + HOST_SETTINGS)
    if not settings.get('esxi_iso_url') and not settings.get('esxi_demo'):
        problems.insert(
            0,
            'no base ISO: set esxi_iso_url (http(s):// or file:// URL of the installer ISO) and esxi_iso_checksum; '
            'for the built-in demo run "make run" (ansible-playbook build_esxi.yml -e @examples/demo.yml)',
        )
    elif settings.get('esxi_iso_url') and not settings.get('esxi_iso_checksum'):
        problems.append('esxi_iso_url needs esxi_iso_checksum ("sha256:<hex>" or "sha256:<URL of a checksum file>")')
    problems += driver_problems(settings.get('esxi_drivers'))
    problems += patch_problems(settings.get('esxi_patch'))
    problems += dict_problems(settings)
    server_problems, servers = pxe_server_problems(settings, hosts, groups or {})
    problems += server_problems
    esxi_hosts = {name: values for name, values in hosts.items() if name not in servers}
    per_host, without = host_problems(esxi_hosts, pxe=bool(settings.get('esxi_pxe_enabled')), reported=tuple(settings))
    problems += per_host
    return {'problems': problems, 'hosts_without_mac': without, 'pxe_servers': servers}
