# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options of every module that talks to an ESXi host or vCenter Server.

Names, aliases and environment fallbacks match vmware.vmware's base options, so ``module_defaults`` written for
that collection carry over. The documentation twin is ``plugins/doc_fragments/vmware.py``; a unit test keeps the two
in step. ``env_fallback`` is Ansible's and is passed in: module_utils import nothing from Ansible.
"""

from __future__ import annotations

from collections.abc import Callable

ENVIRONMENT = {
    'hostname': 'VMWARE_HOST',
    'username': 'VMWARE_USER',
    'password': 'VMWARE_PASSWORD',
    'port': 'VMWARE_PORT',
    'validate_certs': 'VMWARE_VALIDATE_CERTS',
    'proxy_host': 'VMWARE_PROXY_HOST',
    'proxy_port': 'VMWARE_PROXY_PORT',
}


def connection_argument_spec(env_fallback: Callable) -> dict:
    """The argument_spec entries of the connection options, with ``env_fallback`` for the ``VMWARE_*`` variables."""
    spec = {
        'hostname': {'type': 'str', 'required': True},
        'username': {'type': 'str', 'required': True, 'aliases': ['admin', 'user']},
        'password': {'type': 'str', 'required': True, 'aliases': ['pass', 'pwd'], 'no_log': True},
        'port': {'type': 'int', 'default': 443},
        'validate_certs': {'type': 'bool', 'default': True},
        'ca_path': {'type': 'path'},
        # seconds; see the doc fragment for why these values
        'connect_timeout': {'type': 'float', 'default': 30.0},
        # 'timeout' was the one limit of every step before 0.x split it; it meant what idle_timeout means now
        'idle_timeout': {'type': 'float', 'default': 120.0, 'aliases': ['timeout']},
        'proxy_host': {'type': 'str'},
        'proxy_port': {'type': 'int'},
    }
    for name, variable in ENVIRONMENT.items():
        spec[name]['fallback'] = (env_fallback, [variable])
    return spec


REQUIRED_TOGETHER = [('proxy_host', 'proxy_port')]
