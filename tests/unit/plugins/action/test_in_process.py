# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules run in the worker on the controller give what a module process gives (plugin_utils/in_process.py).

Each test runs a real ansible-playbook of the ansible-core under test (the matrix runs these on every supported
release) on a fixture ISO, once in the worker and once as a module process, and compares what the play saw.
"""

from __future__ import annotations

import json
import marshal
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common import warnings as module_warnings

from ansible_collections.esxi.customizer.plugins.plugin_utils import in_process
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso

pytestmark = pytest.mark.skipif(not shutil.which('xorriso'), reason='xorriso is needed')

# the directory holding ansible_collections/esxi/customizer, as this test imported it
COLLECTIONS = str(Path(in_process.__file__).parents[5])
IN_WORKER = 'run in the worker process on the controller'
AS_PROCESS = 'run as a module process'

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: info
      esxi.customizer.iso_info:
        path: "{{ src }}"
        detail: full
      register: info
    - name: customize
      esxi.customizer.iso_customize:
        src: "{{ src }}"
        dest: "{{ dest }}"
        kickstart_content: "{{ kickstarts[item] }}"
      check_mode: true
      diff: true
      loop: [0, 1]
      vars:
        kickstarts:
          - "rootpw PlainSecret-1"
          - "rootpw --iscrypted $6$salt$hash"
      register: customized
    - name: broken
      esxi.customizer.iso_info:
        path: "{{ src }}.txt"
      register: broken
      ignore_errors: true
    - name: keep what the play saw
      ansible.builtin.copy:
        content: "{{ {'info': info, 'customized': customized, 'broken': broken} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def play(tmp_path: Path, name: str, *, in_worker: bool, src: str) -> tuple[dict, str]:
    """Run PLAY; what the play registered and everything ansible-playbook printed at -vvv."""
    workdir = tmp_path / name
    workdir.mkdir()
    (workdir / 'play.yml').write_text(PLAY, encoding='utf-8')
    out = workdir / 'seen.json'
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR='1', ANSIBLE_LOCAL_TEMP=str(workdir / 'tmp'))
    env.pop('ANSIBLE_CONFIG', None)
    # Python's default (bytecode kept), with the caches where the test can look
    env.pop('PYTHONDONTWRITEBYTECODE', None)
    env['PYTHONPYCACHEPREFIX'] = str(workdir / 'pyc')
    env['ESXI_CUSTOMIZER_CACHE_DIR'] = str(workdir / 'cache')
    argv = [
        sys.executable,
        '-c',
        'import sys; from ansible.cli.playbook import main; main(["ansible-playbook"] + sys.argv[1:])',
        str(workdir / 'play.yml'),
        '-vvv',
        '-e',
        json.dumps({'src': src, 'dest': str(tmp_path / 'out.iso'), 'out': str(out), 'esxi_customizer_in_process': in_worker}),
    ]
    done = subprocess.run(argv, cwd=str(workdir), env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return json.loads(out.read_text(encoding='utf-8')), done.stdout + done.stderr


def test_worker_run_gives_what_a_module_process_gives(tmp_path):
    src = str(tmp_path / 'esxi70.iso')
    fixiso.build_esxi_iso(src, style='70')
    Path(src + '.txt').write_text('not an ISO', encoding='utf-8')
    in_worker, worker_log = play(tmp_path, 'worker', in_worker=True, src=src)
    as_process, process_log = play(tmp_path, 'process', in_worker=False, src=src)

    assert worker_log.count('esxi.customizer.iso_info: ' + IN_WORKER) == 2
    assert worker_log.count('esxi.customizer.iso_customize: ' + IN_WORKER) == 2
    assert AS_PROCESS not in worker_log
    assert process_log.count(AS_PROCESS + ' (esxi_customizer_in_process is false)') == 4
    assert IN_WORKER not in process_log

    # the same answers (check mode: nothing was written, both runs name the same files)
    assert in_worker['info']['vibs'] and in_worker['info'] == as_process['info']
    assert in_worker['customized'] == as_process['customized']
    assert in_worker['broken']['failed'] and 'is not an ISO 9660 image' in in_worker['broken']['msg']
    # a traceback (ansible-core before 2.19 adds one at -vvv) names where the module ran from: its file, or AnsiballZ's
    assert ('exception' in in_worker['broken']) == ('exception' in as_process['broken'])
    assert dict(in_worker['broken'], exception=None) == dict(as_process['broken'], exception=None)

    # Ansible's own loaders compile the collection's sources on every import and keep nothing; in the worker the
    # bytecode is kept in our cache, and never beside the sources (Python's own __pycache__, here under the prefix)
    def pycache(name):
        return sorted(p.name for p in (tmp_path / name / 'pyc').rglob('customize.*.pyc') if p.parent.name == '_image')

    kept = list((tmp_path / 'worker' / 'cache' / 'bytecode').glob('*.code'))
    assert len(kept) > 40, kept
    assert not (tmp_path / 'process' / 'cache' / 'bytecode').exists()
    assert not pycache('worker') and not pycache('process')

    # the kickstart is no_log in both; the plaintext-password warning is given for the first loop item only
    for log in (worker_log, process_log):
        assert 'PlainSecret-1' not in log
        assert log.count('[WARNING]: kickstart_content: the kickstart sets a plaintext root password') == 1
    # (Ansible's display shows a repeated warning once: the second item's own result must not carry it)
    assert not [w for w in in_worker['customized']['results'][1].get('warnings', []) if 'plaintext' in str(w)]


def test_module_state_is_set_for_one_run_and_put_back():
    # a loop runs each item in the same worker: nothing of one item may reach the next
    saved = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
    module_warnings.warn('left over from an earlier loop item')
    encoded = in_process._encode_args({'path': '/x'})  # pylint: disable=protected-access
    with in_process._module_globals(encoded):  # pylint: disable=protected-access
        assert basic._ANSIBLE_ARGS == encoded  # pylint: disable=protected-access
        assert json.loads(encoded) == {'ANSIBLE_MODULE_ARGS': {'path': '/x'}}
        assert not module_warnings.get_warning_messages()
        module_warnings.warn('of this run')
    assert basic._ANSIBLE_ARGS is saved  # pylint: disable=protected-access
    assert not module_warnings.get_warning_messages()


def test_the_workers_sigterm_handler_is_put_back():
    def workers_own(signum, frame):
        raise AssertionError('not called')

    original = signal.signal(signal.SIGTERM, workers_own)
    try:
        with in_process._sigterm_restored():  # pylint: disable=protected-access
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # what a writer of ours replaces
        assert signal.getsignal(signal.SIGTERM) is workers_own
    finally:
        signal.signal(signal.SIGTERM, original)


def test_the_bytecode_cache_is_read_back_and_follows_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv('ESXI_CUSTOMIZER_CACHE_DIR', str(tmp_path / 'cache'))
    monkeypatch.setattr(sys, 'dont_write_bytecode', False)
    source = tmp_path / 'mod.py'
    source.write_text('VALUE = 1\n', encoding='utf-8')
    loader = in_process._CachedSourceLoader('mod', str(source))  # pylint: disable=protected-access

    def value():
        namespace = {}
        exec(loader.get_code('mod'), namespace)  # pylint: disable=exec-used
        return namespace['VALUE']

    assert value() == 1
    (entry,) = (tmp_path / 'cache' / 'bytecode').iterdir()
    # what is cached is what runs: a different code object there is what the next import gets
    entry.write_bytes(marshal.dumps(compile('VALUE = 2\n', str(source), 'exec')))
    assert value() == 2
    # an edited source (other size and mtime) is compiled again, under a key of its own
    source.write_text('VALUE = 33\n', encoding='utf-8')
    os.utime(source, ns=(1, 1))
    assert value() == 33
    assert len(list((tmp_path / 'cache' / 'bytecode').iterdir())) == 2
    # a broken entry is compiled over; nothing is written where Python may not write bytecode
    (current,) = [p for p in (tmp_path / 'cache' / 'bytecode').iterdir() if p != entry]
    current.write_bytes(b'not marshal')
    monkeypatch.setattr(sys, 'dont_write_bytecode', True)
    assert value() == 33
    assert current.read_bytes() == b'not marshal'
    monkeypatch.setattr(sys, 'dont_write_bytecode', False)
    assert value() == 33
    assert current.read_bytes() != b'not marshal'


def test_the_heap_is_left_out_of_collections_only_while_a_module_runs():
    import gc
    import weakref

    class Node:
        pass

    before = gc.get_freeze_count()  # Python 3.12 starts with some objects frozen already
    with in_process.heap_frozen():
        assert gc.get_freeze_count() > before  # what existed before: the worker's heap
        cycle = Node()
        cycle.me = cycle
        gone = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert gone() is None  # the module's own garbage is still collected
    if before:
        assert gc.get_freeze_count() >= before  # a freeze that was there before is left alone
    else:
        assert gc.get_freeze_count() == 0
        gc.freeze()  # now as if another part of the process had frozen its objects
        try:
            frozen = gc.get_freeze_count()
            with in_process.heap_frozen():
                pass
            assert gc.get_freeze_count() >= frozen
        finally:
            gc.unfreeze()
