#!/usr/bin/python
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: datastore_upload
short_description: Upload a file (such as an installer ISO) to a vSphere datastore, idempotently
version_added: 0.1.0
author: esxi.customizer contributors (!UNKNOWN)
description:
  - Streams a local file to a datastore of an ESXi host or vCenter Server with an HTTPS C(PUT) to the C(/folder) interface,
    creating missing parent folders first through the vSphere API.
  - The file is never read into memory, the request carries its exact C(Content-Length), and it is hashed (SHA-256)
    while it is sent.
  - After the file, a sidecar C(<path>.sha256) in C(sha256sum) format is written next to it. When the remote file
    has the local size and the sidecar holds the local checksum, nothing is sent and the task reports no change.
  - Runs on the controller or wherever the task is delegated; O(src) is read there.
extends_documentation_fragment:
  - esxi.customizer._attributes
  - esxi.customizer._attributes.IN_PROCESS
  - esxi.customizer.vmware
attributes:
  check_mode:
    support: full
    details:
      - Only reads from the datastore (file size and sidecar) and reports whether an upload would happen.
  diff_mode:
    support: full
    details:
      - The diff shows the size and SHA-256 of the remote file before and of the local file after, not file contents.
  idempotent:
    support: partial
    details:
      - Not idempotent with O(force=true).
      - Changes to the remote file that keep its size and leave the sidecar untouched are not detected.
options:
  src:
    description:
      - Local file to upload. Required unless O(preflight=true).
    type: path
  datacenter:
    description:
      - Datacenter holding O(datastore).
      - A standalone ESXi host calls its only datacenter V(ha-datacenter).
      - On vCenter, a datacenter inside a folder is written C(folder/name).
    type: str
    default: ha-datacenter
  datastore:
    description:
      - Name of the datastore.
    type: str
    required: true
  path:
    description:
      - Path of the file on the datastore, such as C(iso/esxi-8.0u3-custom.iso), without the C([datastore]) prefix.
      - Missing folders are created. Required unless O(preflight=true).
    type: str
  force:
    description:
      - Upload even when the remote file already matches.
    type: bool
    default: false
  preflight:
    description:
      - Only check that the host answers, the credentials are accepted and O(datacenter) and O(datastore) exist (one
        listing request, nothing written), so that a playbook can fail in seconds, before it downloads and builds an ISO.
      - O(src) and O(path) are not needed then; the task never reports a change.
    type: bool
    default: false
  progress_file:
    description:
      - Path of a small JSON file that the module rewrites while it uploads (atomically, at most about once a second),
        so that M(esxi.customizer.job_progress) can show the progress of the upload run as an C(async) task.
      - 'It holds one object: C(phase) (V(checking), V(uploading), V(done) or V(failed)), C(bytes_done), C(bytes_total),
        C(rate_bytes_per_s) (over the last few seconds), C(eta_s), C(started) and C(updated) (Unix times), and with
        V(done) C(changed) and C(seconds), with V(failed) C(msg).'
      - 'The file is written where the module runs; M(esxi.customizer.job_progress) reads it on the controller, so run
        both tasks with C(delegate_to: localhost) or give a path both can see.'
      - The directory must exist and be writable; the file is left in place (M(esxi.customizer.job_progress) removes it).
    type: path
notes:
  - The user needs the C(Datastore.FileManagement) privilege (C(Datastore > Low level file operations)) and, to create folders,
    C(Datastore.Browse).
  - Uses HTTP Basic authentication on C(/folder) and a SOAP session only to create folders or explain a missing
    datacenter; no pyVmomi needed.
seealso:
  - name: vSphere Web Services SDK, HTTP access to datastore files
    description: The C(/folder) interface this module uses.
    link: https://developer.broadcom.com/xapis/vsphere-web-services-api/latest/
"""

EXAMPLES = r"""
- name: Fail early, before any download or build, when the datastore settings are wrong
  esxi.customizer.datastore_upload:
    hostname: vcenter.example.com
    username: svc-esxi-builder@vsphere.local
    password: "{{ vault_vcenter_password }}"
    datacenter: DC1
    datastore: iso-library
    preflight: true

- name: Upload the customized installer to a standalone host
  esxi.customizer.datastore_upload:
    hostname: esxi01.example.com
    username: root
    password: "{{ esxi_root_password }}"
    src: /srv/iso/esxi-8.0u3-custom.iso
    datastore: datastore1
    path: iso/esxi-8.0u3-custom.iso

- name: Upload as an async task and show its progress every 5 seconds
  esxi.customizer.datastore_upload:
    hostname: esxi01.example.com
    username: root
    password: "{{ esxi_root_password }}"
    src: /srv/iso/esxi-8.0u3-custom.iso
    datastore: datastore1
    path: iso/esxi-8.0u3-custom.iso
    progress_file: /tmp/esxi-upload.progress.json
  delegate_to: localhost
  async: 7200
  poll: 0
  register: upload_job

- name: Wait for the upload, printing how far it is
  esxi.customizer.job_progress:
    jid: "{{ upload_job.ansible_job_id }}"
    progress_file: /tmp/esxi-upload.progress.json
    label: datastore upload
  delegate_to: localhost
  register: uploaded

- name: Upload through vCenter, with connection options set once for the group
  module_defaults:
    group/esxi.customizer.vmware:
      hostname: vcenter.example.com
      username: administrator@vsphere.local
      password: "{{ vcenter_password }}"
      ca_path: /etc/pki/vcenter-ca.pem
  block:
    - name: Put the ISO on the shared datastore
      esxi.customizer.datastore_upload:
        src: /srv/iso/esxi-8.0u3-custom.iso
        datacenter: DC-East
        datastore: shared-nfs-01
        path: images/esxi/esxi-8.0u3-custom.iso
"""

RETURN = r"""
url:
  description: URL of the file on the datastore (of the datastore with O(preflight=true)), without credentials.
  returned: always
  type: str
  sample: https://esxi01.example.com:443/folder/iso/esxi.iso?dcPath=ha-datacenter&dsName=datastore1
size:
  description: Size of O(src) in bytes.
  returned: unless O(preflight=true)
  type: int
  sample: 612368384
sha256:
  description: SHA-256 of O(src), also stored in the sidecar C(<path>.sha256).
  returned: unless O(preflight=true)
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
reason:
  description: Why the file was (or would be) uploaded, or why not.
  returned: always
  type: str
  sample: the file does not exist on the datastore
"""

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._io.progress import ProgressFile
from ansible_collections.esxi.customizer.plugins.module_utils._vsphere.argspec import REQUIRED_TOGETHER, connection_argument_spec
from ansible_collections.esxi.customizer.plugins.module_utils._vsphere.datastore import DatastoreClient, upload
from ansible_collections.esxi.customizer.plugins.module_utils._vsphere.transport import HttpsTransport, Proxy, Timeouts, proxy_for, tls_context


def argument_spec():
    spec = connection_argument_spec(env_fallback)
    spec.update(
        src=dict(type='path'),
        datacenter=dict(type='str', default='ha-datacenter'),
        datastore=dict(type='str', required=True),
        path=dict(type='str'),
        force=dict(type='bool', default=False),
        preflight=dict(type='bool', default=False),
        progress_file=dict(type='path'),
    )
    return spec


def make_transport(params):
    # One TLS context for all requests: building one loads the system CA store.
    context = tls_context(validate_certs=params['validate_certs'], ca_path=params['ca_path'])
    if params['proxy_host']:
        explicit = Proxy(params['proxy_host'], params['proxy_port'])

        def proxy(host, port):
            return explicit  # for every host, whatever no_proxy says
    else:
        proxy = proxy_for
    return HttpsTransport(
        timeouts=Timeouts(connect=params['connect_timeout'], idle=params['idle_timeout']),
        context=context,
        proxy=proxy,
        user_agent='esxi.customizer.datastore_upload',
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_together=REQUIRED_TOGETHER,
        required_if=[('preflight', False, ('src', 'path'))],
        supports_check_mode=True,
    )
    p = module.params
    for name in ('connect_timeout', 'idle_timeout'):
        if not p[name] > 0:
            module.fail_json(msg='%s must be a positive number of seconds, got %s' % (name, p[name]))

    progress = ProgressFile(p['progress_file']) if p['progress_file'] else None
    try:
        if progress:
            progress.phase('checking')
        client = DatastoreClient(
            make_transport(p),
            p['hostname'],
            p['port'],
            username=p['username'],
            password=p['password'],
            datacenter=p['datacenter'],
            datastore=p['datastore'],
            timeout=p['idle_timeout'],
        )
        if p['preflight']:
            client.check_datastore()
            reason = 'host, credentials, datacenter and datastore are right'
            if progress:
                progress.finish(changed=False)
            module.exit_json(changed=False, url=client.url(None), reason=reason)
        result = upload(client, p['src'], p['path'], force=p['force'], check_mode=module.check_mode, progress=progress)
    except EsxiCustomizerError as err:
        if progress:
            progress.phase('failed', msg=str(err))
        module.fail_json(msg=str(err))
    if progress:
        progress.finish(changed=result.changed)

    out = dict(changed=result.changed, url=result.url, size=result.size, sha256=result.sha256, reason=result.reason)
    if module._diff:
        before = result.before
        out['diff'] = dict(
            before_header=result.url,
            after_header=p['src'],
            before='' if before.size is None else 'size: %d\nsha256: %s\n' % (before.size, before.sidecar_sha256 or '(no sidecar)'),
            after='size: %d\nsha256: %s\n' % (result.size, result.sha256),
        )
    module.exit_json(**out)


if __name__ == '__main__':
    main()
