# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module of this collection inside the Ansible worker when its target is the controller itself.

Every module of the collection normally goes the usual way: Ansible packs it with its module_utils into an AnsiballZ
file (about 0.4 s for each of our larger modules: it parses every shipped source file), starts a Python for it and
that Python compiles the sources again from the zip (no bytecode cache there). A build runs its modules on the
controller (``connection: local``), where the worker process already holds Ansible and the same Python, so that
work buys nothing: this action runs the module's own ``main()`` in the worker instead, with the arguments and the
result going through the same AnsibleModule code (argument spec, ``no_log``, check and diff mode, warnings) and the
result through Ansible's own parser. It falls back to the usual way whenever the two could differ: another
connection, ``become``, ``async``, a task ``environment``, or another Python interpreter than the controller's.
``esxi_customizer_in_process: false`` (a host or task variable) turns it off.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import io
import json
import marshal
import os
import signal
import sys
import traceback

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

try:  # up to ansible-core 2.20; 2.21's task result object cleans itself
    from ansible.vars.clean import remove_internal_keys
except ImportError:
    remove_internal_keys = None

from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import write_bytes_atomic
from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import cache_dir

try:  # ansible-core 2.19+: arguments are encoded for a serialization profile
    from ansible.module_utils.common.json import Direction, get_module_encoder
except ImportError:  # ansible-core 2.17 and 2.18
    Direction = get_module_encoder = None
    from ansible.parsing.ajson import AnsibleJSONEncoder
else:
    AnsibleJSONEncoder = None

display = Display()

SWITCH = 'esxi_customizer_in_process'
# The serialization profile Ansible uses for modules that do not declare one (all of ours).
PROFILE = 'legacy'


class InProcessAction(NormalAction):
    """The action of each module of the collection: the module in this process on the controller, else as usual."""

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        host = task_vars.get('inventory_hostname')
        why_not = self._why_not_in_process(task_vars)
        if why_not:
            display.vvv('%s: run as a module process (%s)' % (self._task.action, why_not), host=host)
            return super().run(tmp, task_vars)
        result = ActionBase.run(self, tmp, task_vars)  # its checks, without the module transfer of the normal action
        del tmp  # unused since Ansible 2.5
        display.vvv('%s: run in the worker process on the controller' % self._task.action, host=host)
        return merge_hash(result, self._run_in_process(task_vars))

    def _why_not_in_process(self, task_vars: dict) -> str:
        """'' when running the module here gives what a module process would give, else why not."""
        if not boolean(self._templar.template(task_vars.get(SWITCH, True)), strict=False):
            return '%s is false' % SWITCH
        if getattr(self._connection, 'transport', None) != 'local':
            return 'the connection is not local'
        if self._task.async_val:
            return 'async'
        if self._play_context.become:
            return 'become'
        if self._compute_environment_string():
            return 'the task has an environment'
        interpreter = task_vars.get('ansible_python_interpreter')
        if not interpreter:
            return 'no ansible_python_interpreter (it would be discovered)'
        interpreter = self._templar.template(interpreter)
        if not isinstance(interpreter, str) or os.path.realpath(interpreter) != os.path.realpath(sys.executable):
            return 'the interpreter is not the controller Python'
        return ''

    def _run_in_process(self, task_vars: dict) -> dict:
        name = self._task.action
        context = self._shared_loader_obj.module_loader.find_plugin_with_context(name, collection_list=self._task.collections)
        module_args = dict(self._task.args)
        self._update_module_args(context.resolved_fqcn, module_args, task_vars)
        stdout = io.StringIO()
        with _module_globals(_encode_args(module_args)), _sigterm_restored(), contextlib.redirect_stdout(stdout), bytecode_cached(PLUGINS), heap_frozen():
            try:
                importlib.import_module(context.plugin_resolved_name).main()
            except SystemExit:
                pass
            except Exception as exc:  # pylint: disable=broad-exception-caught
                # what a module process that dies of an exception reports, instead of failing the worker
                return {'failed': True, 'msg': 'MODULE FAILURE: %s: %s' % (type(exc).__name__, exc), 'exception': traceback.format_exc()}
        return self._parse_module_output({'rc': 0, 'stdout': stdout.getvalue(), 'stderr': ''})

    def _parse_module_output(self, res: dict) -> dict:
        """What ``_execute_module`` makes of a module's answer, on each supported ansible-core."""
        if 'profile' not in inspect.signature(self._parse_returned_data).parameters:  # 2.17, 2.18
            data = self._parse_returned_data(res)  # pylint: disable=no-value-for-parameter
        else:
            data = self._parse_returned_data(res, PROFILE)
        if hasattr(data, 'as_result_dict'):  # 2.21+: a task result object with its own cleaning
            data.remove_internal_keys()
            return data.as_result_dict(for_round_trip=True)
        data.pop('_ansible_suppress_tmpdir_delete', None)
        remove_internal_keys(data)
        return data


# ansible_collections.<ns>.<name>.plugins of this collection, and where it is
PACKAGE = __name__.rsplit('.', 2)[0]
PLUGINS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _CachedSourceLoader(importlib.machinery.SourceFileLoader):
    """Python's source loader with the bytecode kept in our cache directory instead of ``__pycache__`` beside the
    source: ``ansible-galaxy collection verify`` reports any directory an installed collection did not ship."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        st = os.stat(path)
        key = '%s\0%d\0%d\0%s' % (path, st.st_mtime_ns, st.st_size, sys.implementation.cache_tag)
        entry = os.path.join(cache_dir('bytecode'), hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest() + '.code')
        try:
            with open(entry, 'rb') as stream:
                return marshal.loads(stream.read())
        except (OSError, ValueError, EOFError, TypeError):
            pass  # not cached yet (or unreadable): compile
        code = self.source_to_code(self.get_data(path), path)
        if not sys.dont_write_bytecode:
            try:
                os.makedirs(os.path.dirname(entry), mode=0o700, exist_ok=True)
                write_bytes_atomic(entry, marshal.dumps(code), mode=0o600, durable=False)
            except OSError:
                pass  # no writable cache: compiled again next time, as Ansible's own loader always does
        return code


class _BytecodeFinder(importlib.abc.MetaPathFinder):
    """Imports the collection's modules and module_utils with :class:`_CachedSourceLoader`, which keeps their
    bytecode (where Python may write bytecode at all).

    Ansible's collection loader compiles a module's source on every import and never caches the result: for the
    ~50 files an iso_customize run imports, that is most of what the import costs, in every task. Only files that
    exist under this collection's plugins/modules and plugins/module_utils are taken; everything else (and any name
    that is not a plain file or package there) is left to the loaders before.
    """

    def __init__(self, package: str, directory: str):
        self._prefixes = tuple('%s.%s.' % (package, kind) for kind in ('modules', 'module_utils'))
        self._package = package
        self._directory = directory

    def find_spec(self, fullname, path=None, target=None):
        del path, target  # the location follows from the name alone
        if not fullname.startswith(self._prefixes):
            return None
        base = os.path.join(self._directory, *fullname[len(self._package) + 1 :].split('.'))
        init = os.path.join(base, '__init__.py')
        if os.path.isfile(init):
            return importlib.util.spec_from_file_location(fullname, init, loader=_CachedSourceLoader(fullname, init), submodule_search_locations=[base])
        if os.path.isfile(base + '.py'):
            return importlib.util.spec_from_file_location(fullname, base + '.py', loader=_CachedSourceLoader(fullname, base + '.py'))
        return None


@contextlib.contextmanager
def bytecode_cached(directory: str = PLUGINS, package: str = PACKAGE):
    """While inside: the collection's modules and module_utils import through :class:`_BytecodeFinder`."""
    finder = _BytecodeFinder(package, directory)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


@contextlib.contextmanager
def heap_frozen():
    """While inside: what exists now (Ansible's heap in the worker) is left out of garbage collections.

    A full collection walks every tracked object; one that fell into a module run cost it 20-25 ms on a 40,000-object
    heap (measured in the benchmark's worker stand-in), for nothing: none of Ansible's objects dies while the module runs.
    """
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:  # someone else's freeze (a fork server, Python itself) is theirs to undo
            gc.unfreeze()


def _encode_args(module_args: dict) -> bytes:
    """The arguments as a module process reads them from its AnsiballZ wrapper."""
    wrapped = {'ANSIBLE_MODULE_ARGS': module_args}
    if get_module_encoder is not None:
        return json.dumps(wrapped, cls=get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)).encode()
    return json.dumps(wrapped, cls=AnsibleJSONEncoder, vault_to_text=True).encode()


@contextlib.contextmanager
def _module_globals(encoded: bytes):
    """The module-wide state AnsibleModule reads and fills, set for one run and put back (a loop runs many)."""
    saved = {name: getattr(basic, name) for name in ('_ANSIBLE_ARGS', '_ANSIBLE_PROFILE') if hasattr(basic, name)}
    basic._ANSIBLE_ARGS = encoded  # pylint: disable=protected-access
    if '_ANSIBLE_PROFILE' in saved:
        basic._ANSIBLE_PROFILE = PROFILE  # pylint: disable=protected-access
    _clear_module_messages()
    try:
        yield
    finally:
        _clear_module_messages()
        for name, value in saved.items():
            setattr(basic, name, value)


def _clear_module_messages() -> None:
    # warnings and deprecations are collected module-wide until exit_json hands them over
    for name in ('_global_warnings', '_global_deprecations'):
        collected = getattr(module_warnings, name, None)
        if collected is not None:
            collected.clear()


@contextlib.contextmanager
def _sigterm_restored():
    """Our writers turn SIGTERM into a clean-up; the worker gets its own handler back afterwards."""
    saved = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)
