# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: settings_problems
short_description: Check the settings of build_esxi.yml before anything is fetched
version_added: 0.2.0
author: esxi.customizer contributors (!UNKNOWN)
description:
  - Returns the problems of the playbook's C(esxi_*) settings - unknown variable names (with the closest known name),
    driver entries without exactly one of C(url)/C(path) or with unknown keys, a C(url) without its C(checksum),
    unknown keys in C(esxi_usb), C(esxi_datastore) and C(esxi_profile), missing datastore settings, malformed or
    duplicate MAC addresses - and the inventory hosts without C(esxi_mac).
  - Variables whose names start with C(esxi_ks_) are free for kickstart templates and never reported.
options:
  _input:
    description: The play's C(esxi_*) variables, name to value.
    type: dict
    required: true
  hosts:
    description: Each inventory host's C(esxi_*) variables, host name to a dict of name to value.
    type: dict
    default: {}
  groups:
    description:
      - The inventory's groups (the C(groups) magic variable), to check that C(esxi_pxe_servers) names a group and
        that each host's C(esxi_pxe_server) is in it.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Refuse misspelt settings
  ansible.builtin.assert:
    that: checked.problems == []
    fail_msg: "{{ checked.problems | join('; ') }}"
  vars:
    checked: "{{ {'esxi_iso_url': esxi_iso_url, 'esxi_driver': []} | esxi.customizer.settings_problems }}"
"""

RETURN = r"""
_value:
  description:
    - C(problems) (list of messages), C(hosts_without_mac) (host names, when PXE is enabled) and C(pxe_servers)
      (the hosts of the C(esxi_pxe_servers) group).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.esxi.customizer.plugins.module_utils._settings import check_settings


def settings_problems(settings, hosts=None, groups=None):
    if not isinstance(settings, dict):
        raise AnsibleFilterError('settings_problems expects a dict of the esxi_* variables, got %s' % type(settings).__name__)
    return check_settings(
        dict(settings),
        {str(name): dict(values) for name, values in (hosts or {}).items()},
        {str(name): list(members) for name, members in (groups or {}).items()},
    )


class FilterModule:
    def filters(self):
        return {'settings_problems': settings_problems}
