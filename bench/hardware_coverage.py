# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: hardware_coverage of a large 8.0U3-shaped ISO, first (empty cache) and repeated (cached) query.

Run from the collection root with the project venv:

    .venv/bin/python bench/hardware_coverage.py [--size-mb 400] [--runs 5] [--workdir /tmp/esxi-customizer-bench]

The ISO is the 8.0U3 fixture (tests/fixturegen: the real 8.0U3 module list, 49 driver VIBs with real-format maps)
with a --size-mb MiB base tardisk. Each run is a fresh process asking for 6 devices; ``first`` runs with an empty
cache directory, ``cached`` with the one the previous run filled. Peak RSS is GNU time's ``%M``. Speed and memory are
measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

# bench/ is sys.path[0] when a script is run by path
from bench_common import collection_path  # pylint: disable=import-error

CHILD = r'''
import sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.esxi.customizer.plugins.module_utils._formats.pcilist import parse_device
from ansible_collections.esxi.customizer.plugins.module_utils._image.coverage import coverage
ids = ['14e4:16d7', '8086:10d3', '8086:0953', '1000:0097', '1000:00af', 'dead:beef']
result = coverage([parse_device(i) for i in ids], src=sys.argv[2])
assert len(result['supported']) == 5, result['supported']
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size-mb', type=int, default=400)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--workdir', default='/tmp/esxi-customizer-bench')
    args = parser.parse_args()
    path = collection_path()
    iso = os.path.join(args.workdir, 'esxi80-%dm.iso' % args.size_mb)
    if not os.path.exists(iso):
        sys.path.insert(0, path)
        from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso  # pylint: disable=import-outside-toplevel

        os.makedirs(args.workdir, exist_ok=True)
        fixiso.build_esxi_iso(iso, style='80', big_payload_bytes=args.size_mb << 20)
    cache = os.path.join(args.workdir, 'coverage-cache')
    print('python %s, load %.2f, ISO %.1f MiB' % (sys.version.split()[0], os.getloadavg()[0], os.path.getsize(iso) / 2**20))
    results = {'first': [], 'cached': []}
    for round_ in range(args.runs + 1):
        for name in ('first', 'cached'):
            if name == 'first':
                shutil.rmtree(cache, ignore_errors=True)
            env = dict(os.environ, ESXI_CUSTOMIZER_CACHE_DIR=cache)
            started = time.perf_counter()
            done = subprocess.run(['/usr/bin/time', '-f', '%M', sys.executable, '-c', CHILD, path, iso], env=env, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(done.stderr[-2000:])
            if round_:
                results[name].append((elapsed, int(done.stderr.strip().splitlines()[-1]) / 1024))
    print('| query | s (median of %d) | peak RSS MiB |' % args.runs)
    print('|---|---|---|')
    for name, values in results.items():
        print('| %s | %.3f | %.1f-%.1f |' % (name, statistics.median(t for t, _r in values), min(r for _t, r in values), max(r for _t, r in values)))


if __name__ == '__main__':
    main()
