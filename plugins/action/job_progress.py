# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for an async job, printing the progress its module writes to a progress file; return the job's result.

The documentation is in plugins/modules/job_progress.py.
"""

from __future__ import annotations

import os
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import sweep_stale
from ansible_collections.esxi.customizer.plugins.module_utils._io.progress import DirectoryWatch, progress_line, read_progress

display = Display()

ARGUMENT_SPEC = {
    'jid': {'type': 'str', 'required': True},
    'progress_file': {'type': 'path'},
    'label': {'type': 'str', 'default': 'progress'},
    'watch_dir': {'type': 'path'},
    'total_bytes': {'type': 'int'},
    'interval': {'type': 'float', 'default': 5.0},
    'timeout': {'type': 'float'},
}
# What async_status adds to the job's own result; the caller gets what the module returned.
ASYNC_KEYS = ('ansible_job_id', 'started', 'finished', 'results_file', 'erased')
# How often the progress file is looked at: it says "done" before async_status can, so the end is seen soon.
TICK = 0.25


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # unused since Ansible 2.5
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC, mutually_exclusive=[('progress_file', 'watch_dir')])[1]
        jid, path, label = args['jid'], args['progress_file'], args['label']
        watch = DirectoryWatch(args['watch_dir'], total=args['total_bytes']) if args['watch_dir'] else None
        interval, timeout = args['interval'], args['timeout']
        if not interval > 0:
            return dict(result, failed=True, msg='interval must be a positive number of seconds, got %s' % interval)
        if timeout is not None and not timeout > 0:
            return dict(result, failed=True, msg='timeout must be a positive number of seconds, got %s' % timeout)

        # where async_status looks (its action plugin computes the same)
        async_dir = self._remote_expand_user(self.get_shell_option('async_dir', default='~/.ansible_async'))
        start = time.monotonic()
        next_status = start  # the first look is at once: a job that failed at start fails this task at once
        next_line = start + interval
        while True:
            now = time.monotonic()
            state = read_progress(path) if path else None
            if now >= next_status or (state and state.get('phase') in ('done', 'failed')):
                status = self._async_status(jid, async_dir, task_vars, mode='status')
                if status.get('finished') or status.get('failed'):
                    break
                next_status = time.monotonic() + interval
            if now >= next_line:
                if watch is not None:
                    state = watch.state()
                display.display(progress_line(label, state, now=time.time(), running_for=now - start))
                next_line += interval * max(1, int((now - next_line) // interval) + 1)  # no burst after a slow status call
            if timeout is not None and now - start >= timeout:
                return dict(
                    result,
                    failed=True,
                    ansible_job_id=jid,
                    msg='job %s is still running after %s s (the timeout of job_progress); it goes on until the async limit of its task. '
                    'Wait for it again with job_progress or ansible.builtin.async_status.' % (jid, '%g' % timeout),
                )
            time.sleep(TICK)

        if status.get('finished'):
            final = read_progress(path) if path else None
            if final and final.get('phase') == 'done' and final.get('bytes_done'):
                display.display(progress_line(label, final))
            self._async_status(jid, async_dir, task_vars, mode='cleanup')
        if path:
            self._remove_progress_file(path)
        job = {key: value for key, value in status.items() if key not in ASYNC_KEYS}
        result.update(job)
        return result

    def _async_status(self, jid, async_dir, task_vars, *, mode):
        return self._execute_module(
            module_name='ansible.legacy.async_status', module_args={'jid': jid, 'mode': mode, '_async_dir': async_dir}, task_vars=task_vars
        )

    @staticmethod
    def _remove_progress_file(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            display.warning('could not remove the progress file %s: %s' % (path, exc.strerror))
        # temps of a writer that was killed mid-rename
        directory = os.path.dirname(os.path.abspath(path))
        try:
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            sweep_stale(dir_fd, os.path.basename(path))
        finally:
            os.close(dir_fd)
