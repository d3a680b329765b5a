# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A no-op re-run of the demo (``build_esxi.yml`` on the demo inputs, everything already built), this checkout
against older checkouts of the collection, side by side in one run (issue 13).

Each checkout must have its demo inputs (``make demo-inputs``) and the collection installed in its own
``build/collections`` (``make collection``): ``--checkout LABEL=DIR[:ARGS]``, where ARGS are extra
ansible-playbook arguments (``-e @examples/demo.yml`` since the demo became explicit). This checkout is always
measured, as ``now``. Every checkout runs once untimed (it builds what is missing), then ``--runs`` timed rounds
with the checkouts alternating.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_common import ROOT, alternate  # noqa: E402

PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')


def command(directory: str, extra: str) -> list[str]:
    line = 'cd %s && ANSIBLE_COLLECTIONS_PATH=%s exec %s build_esxi.yml %s >/dev/null' % (
        shlex.quote(directory),
        shlex.quote(os.path.join(directory, 'build', 'collections')),
        shlex.quote(PLAYBOOK),
        extra,
    )
    return ['sh', '-c', line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--checkout', action='append', default=[], help='LABEL=DIR[:ARGS] of an older checkout')
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()
    tools = {}
    for spec in args.checkout:
        label, rest = spec.split('=', 1)
        directory, extra = (rest.split(':', 1) + [''])[:2]
        tools[label] = command(os.path.abspath(directory), extra)
    tools['now'] = command(ROOT, '-e @examples/demo.yml')
    results = alternate(tools, args.runs)
    now = statistics.median(t for t, _rss in results['now'])
    print('| checkout | median s | runs s | now / it |')
    print('|---|---|---|---|')
    for name, values in results.items():
        median = statistics.median(t for t, _rss in values)
        runs = ' '.join('%.2f' % t for t, _rss in values)
        print('| %s | %.3f | %s | %.2f |' % (name, median, runs, now / median))


if __name__ == '__main__':
    main()
