# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection options of every module talking to an ESXi host or vCenter; names, aliases and
    # environment fallbacks match vmware.vmware's base_options so existing module_defaults carry over.
    DOCUMENTATION = r"""
options:
  hostname:
    description:
      - Name or IP address of the ESXi host or vCenter Server.
      - If not set, the value of the E(VMWARE_HOST) environment variable is used.
    type: str
    required: true
  username:
    description:
      - User name for the ESXi host or vCenter Server.
      - If not set, the value of the E(VMWARE_USER) environment variable is used.
    type: str
    required: true
    aliases: [admin, user]
  password:
    description:
      - Password of O(username).
      - If not set, the value of the E(VMWARE_PASSWORD) environment variable is used.
    type: str
    required: true
    aliases: [pass, pwd]
  port:
    description:
      - HTTPS port of the ESXi host or vCenter Server.
      - If not set, the value of the E(VMWARE_PORT) environment variable is used.
    type: int
    default: 443
  validate_certs:
    description:
      - Whether to verify the server's TLS certificate.
      - Set to V(false) only on a trusted network, for example for a host with its factory self-signed certificate;
        the better fix is O(ca_path).
      - If not set, the value of the E(VMWARE_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificate(s), or the self-signed certificate, to verify the server against.
      - When set, only these certificates are trusted, not the system's.
    type: path
  connect_timeout:
    description:
      - Seconds to set up each connection to the server, together - the TCP connection, the proxy's C(CONNECT)
        tunnel when there is a proxy, and the TLS handshake.
      - A host that is down or a firewall that drops packets makes a task fail after this time, not after
        O(idle_timeout).
    type: float
    default: 30
  idle_timeout:
    description:
      - Seconds the server may make no progress. Each block of the request (the headers, each 1 MiB block of an
        uploaded file) must be taken within this time, and each answer (status line, headers and body, such as a
        SOAP answer) must arrive whole within this time of sending the request, so an answer trickling in byte by
        byte fails too.
      - It does not limit the whole transfer, so large files need no larger value.
      - The default of 120 seconds leaves room for a datastore that stalls while it creates a large file or
        flushes it at the end of the upload (VMFS locks, vSAN object creation, a busy NFS server), which can take
        tens of seconds, while a host that stopped answering still fails in two minutes.
      - O(timeout) is the earlier name of this option, from when one value limited every step including
        connecting; it is kept as an alias.
    type: float
    default: 120
    aliases: [timeout]
  proxy_host:
    description:
      - Address of an HTTP proxy to reach the server through (HTTPS is tunnelled with C(CONNECT)).
      - When set, it is used for every host, whatever E(no_proxy) says.
      - If not set, the value of the E(VMWARE_PROXY_HOST) environment variable is used; when neither is set, the
        E(https_proxy) and E(no_proxy) environment variables apply.
    type: str
  proxy_port:
    description:
      - Port of O(proxy_host). Required with O(proxy_host).
      - If not set, the value of the E(VMWARE_PROXY_PORT) environment variable is used.
    type: int
attributes:
  action_group:
    description: Use C(group/esxi.customizer.vmware) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - esxi.customizer.vmware
notes:
  - All options above can be set once for every vSphere module of this collection with
    C(module_defaults) and the C(group/esxi.customizer.vmware) action group.
"""
