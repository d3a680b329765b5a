#!/usr/bin/python
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: job_progress
short_description: Wait for an async task, printing the progress it reports, and return its result
version_added: 0.1.0
author: esxi.customizer contributors (!UNKNOWN)
description:
  - 'Waits for the C(async) job O(jid) (a task run with C(async) and C(poll) set to V(0)), polling it with
    M(ansible.builtin.async_status), and every O(interval) seconds prints one line of progress read from
    O(progress_file), such as C(datastore upload: 150.0 MiB of 402.0 MiB (37 %\), 95.3 MiB/s, about 3 s left).'
  - When the job ends, returns the job's own result (C(changed), C(failed), C(msg) and all its return values, without
    the C(ansible_job_id), C(started), C(finished) and C(results_file) of M(ansible.builtin.async_status)), so that
    C(register) on this task gives what the module returned. A failed job fails this task with the job's message.
  - Then removes the job's status file (M(ansible.builtin.async_status) with C(mode=cleanup)) and O(progress_file).
  - The progress file is written by M(esxi.customizer.datastore_upload) (its O(esxi.customizer.datastore_upload#module:progress_file)
    option); a download without one is followed through O(watch_dir).
extends_documentation_fragment:
  - esxi.customizer._attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details:
      - Waits for the job as in a normal run; a job started in check mode reports what it would have done.
  diff_mode:
    support: none
  idempotent:
    support: N/A
    details:
      - Changes nothing itself; the result is the job's.
options:
  jid:
    description:
      - The job id, the C(ansible_job_id) registered from the task run with C(async) and C(poll=0).
      - The job is looked for on the host this task runs on (with its C(delegate_to)), so delegate this task as the job's was.
    type: str
    required: true
  progress_file:
    description:
      - The progress file the job writes (for example O(esxi.customizer.datastore_upload#module:progress_file)).
      - It is read on the controller, not on the target host; the job writes it where it runs, so run the job with
        C(delegate_to=localhost), or give a path the controller sees too.
      - Without it (and without O(watch_dir)), the lines only say how long the job has been running.
      - Mutually exclusive with O(watch_dir).
    type: path
  watch_dir:
    description:
      - A directory the job downloads into and that holds nothing else, such as the C(tmp_dest) of
        M(ansible.builtin.get_url). The bytes done are the sizes of its files, measured on the controller from outside
        the job (so the job needs no progress support of its own). The rate is measured the same way.
      - Mutually exclusive with O(progress_file).
    type: path
  total_bytes:
    description:
      - With O(watch_dir), the size the download will have, for the percentage and the time left; without it the
        lines show the bytes done and the rate only.
    type: int
  label:
    description:
      - What the lines of progress start with.
    type: str
    default: progress
  interval:
    description:
      - Seconds between two lines of progress, and between two polls of the job.
    type: float
    default: 5
  timeout:
    description:
      - Seconds to wait at most. The task then fails with the job still running (it ends at its own C(async) limit);
        wait for it again with this action or M(ansible.builtin.async_status).
      - Without it, waits as long as the job runs; the C(async) value of the job's task limits that.
    type: float
notes:
  - The lines are printed with Ansible's display, at every verbosity, while the task runs; callbacks that only show a
    task at its end (such as C(json)) still get the result.
seealso:
  - module: ansible.builtin.async_status
  - module: esxi.customizer.datastore_upload
"""

EXAMPLES = r"""
- name: Upload the ISO in the background
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

- name: Show its progress every 5 seconds until it is done
  esxi.customizer.job_progress:
    jid: "{{ upload_job.ansible_job_id }}"
    progress_file: /tmp/esxi-upload.progress.json
    label: datastore upload
  delegate_to: localhost
  register: uploaded

- name: The result is the upload's own
  ansible.builtin.debug:
    msg: "{{ uploaded.url }} holds sha256 {{ uploaded.sha256 }} (changed: {{ uploaded.changed }})"

- name: Download a base ISO in the background, into a directory of its own
  ansible.builtin.get_url:
    url: https://repo.example.com/esxi/VMware-VMvisor-Installer-8.0U3-24022510.x86_64.iso
    dest: /srv/cache/VMware-VMvisor-Installer-8.0U3-24022510.x86_64.iso
    checksum: sha256:https://repo.example.com/esxi/SHA256SUMS
    tmp_dest: /srv/cache/.download
  delegate_to: localhost
  async: 7200
  poll: 0
  register: download_job

- name: Show how far the download is (the size of get_url's temp file in tmp_dest)
  esxi.customizer.job_progress:
    jid: "{{ download_job.ansible_job_id }}"
    watch_dir: /srv/cache/.download
    label: base ISO download
  delegate_to: localhost
"""

RETURN = r"""
msg:
  description:
    - The job's message when it failed, or why this task gave up (O(timeout)). Any other return value is the job's
      own, as its module documents it.
  returned: when the job failed or did not end within O(timeout)
  type: str
  sample: "job 123456789.4321 is still running after 600 s (the timeout of job_progress)"
ansible_job_id:
  description: The job id, when the job did not end within O(timeout) (it is still running).
  returned: when the job did not end within O(timeout)
  type: str
  sample: "123456789.4321"
"""
