# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmark scripts share: where the checkout is and how to import it as the collection."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def collection_path() -> str:
    """A directory holding ansible_collections/esxi/customizer -> this checkout (put it on sys.path / PYTHONPATH)."""
    links = os.path.join(ROOT, 'build', 'bench-path')
    target = os.path.join(links, 'ansible_collections', 'esxi')
    os.makedirs(target, exist_ok=True)
    link = os.path.join(target, 'customizer')
    if not os.path.islink(link):
        os.symlink(ROOT, link)
    return links


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, GNU time's ``%M``) of ``argv`` in a fresh process, after an untimed ``sync``.

    Python children keep their bytecode as Python does by default (``PYTHONDONTWRITEBYTECODE`` is dropped), so after
    the warm-up round they start warm, like the page cache."""
    subprocess.run(['sync'], check=True)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONDONTWRITEBYTECODE'}
    started = time.perf_counter()
    done = subprocess.run(['/usr/bin/time', '-f', '%M'] + argv, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit('%s failed: %s' % (argv, done.stderr[-2000:]))
    return elapsed, int(done.stderr.strip().splitlines()[-1]) / 1024


def alternate(tools: dict[str, list[str]], runs: int, before: Callable[[], None] | None = None) -> dict[str, list[tuple[float, float]]]:
    """Each tool ``runs`` times, tools alternating, after one untimed warm-up round: {name: [(seconds, MiB)]}.

    ``before`` runs (untimed) before each run, e.g. to remove the previous output."""
    results = {name: [] for name in tools}
    for round_ in range(runs + 1):
        for name, argv in tools.items():
            if before is not None:
                before()
            result = timed(argv)
            if round_:
                results[name].append(result)
    return results


def print_table(results: dict[str, list[tuple[float, float]]]) -> None:
    """Medians against ``cp`` and ``cp+sync`` (both must be among the tools), and the peak RSS range."""
    cp = statistics.median(t for t, _rss in results['cp'])
    cp_sync = statistics.median(t for t, _rss in results['cp+sync'])
    print('| tool | s | x cp | x cp+sync | peak RSS MiB |')
    print('|---|---|---|---|---|')
    for name, values in results.items():
        median = statistics.median(t for t, _rss in values)
        rss = [r for _t, r in values]
        print('| %s | %.3f | %.2f | %.2f | %.1f-%.1f |' % (name, median, median / cp, median / cp_sync, min(rss), max(rss)))


# A module as build_esxi.yml runs it since issue 13: inside the Ansible worker on the controller
# (plugins/plugin_utils/in_process.py). The child first imports, untimed, what that worker holds before a task of ours
# starts (the action's imports: ansible.module_utils.basic, ansible.plugins.action, in_process); the time it prints
# runs from the import of the module to the end of its main(): what the task waits for beyond Ansible's own per-task
# work. Arguments: the directory holding ansible_collections, the module's name, a file with ANSIBLE_MODULE_ARGS.
WORKER_CHILD = r"""
import contextlib, importlib, io, json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible.module_utils import basic
import ansible.plugins.action
from ansible_collections.esxi.customizer.plugins.plugin_utils.in_process import bytecode_cached, heap_frozen
with open(sys.argv[3], 'rb') as f:
    args = f.read()
started = time.perf_counter()
basic._ANSIBLE_ARGS = args
if hasattr(basic, '_ANSIBLE_PROFILE'):
    basic._ANSIBLE_PROFILE = 'legacy'
out = io.StringIO()
with contextlib.redirect_stdout(out), bytecode_cached(), heap_frozen():
    try:
        importlib.import_module('ansible_collections.esxi.customizer.plugins.modules.' + sys.argv[2]).main()
    except SystemExit:
        pass
print(json.dumps({'elapsed': time.perf_counter() - started, 'result': json.loads(out.getvalue())}))
"""
