# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: bundle_export of a large ESXi-shaped ISO against ``cp`` of the same bytes.

Run from the collection root with the project venv:

    .venv/bin/python bench/bundle_export.py [--size-mb 400 100] [--runs 5] [--workdir /tmp/esxi-customizer-bench]

For each size it builds (once, cached) a 7.0-shaped fixture ISO (tests/fixturegen) whose base tardisk S.V00 holds
that many MiB. Each timed run is a fresh process, tools alternating, after one untimed warm-up round, warm page
cache, ``sync`` (untimed) before every run:

* ``cp``      - ``cp iso copy``: the same number of bytes copied (no fsync);
* ``cp+sync`` - ``cp iso copy && sync copy``;
* ``ours``    - ``export_bundle(iso, zip, force=True)`` (every payload streamed into the zip and checked against its
                sha-256, the bundle fsync'ed and renamed, its sha256 computed), Python start-up and imports included;
* ``ours-nosha`` - the same without the bundle's sha256.

Peak RSS is GNU time's ``%M``. Speed and memory are measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# bench/ is sys.path[0] when a script is run by path
from bench_common import alternate, collection_path, print_table  # pylint: disable=import-error

CHILD = r'''
import sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.esxi.customizer.plugins.module_utils._image.bundle_export import export_bundle
export_bundle(sys.argv[2], sys.argv[3], vendor_name='Bench', vendor_code='BNC', force=True, checksum=sys.argv[4] == 'sha')
'''


def build(workdir: str, size_mb: int) -> str:
    path = os.path.join(workdir, 'esxi70-%dm.iso' % size_mb)
    if not os.path.exists(path):
        sys.path.insert(0, collection_path())
        from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso  # pylint: disable=import-outside-toplevel

        os.makedirs(workdir, exist_ok=True)
        started = time.perf_counter()
        fixiso.build_esxi_iso(path, style='70', big_payload_bytes=size_mb << 20)
        print('built %s (%.1f MiB) in %.1f s' % (path, os.path.getsize(path) / 2**20, time.perf_counter() - started))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size-mb', type=int, nargs='+', default=[400, 100])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--workdir', default='/tmp/esxi-customizer-bench')
    args = parser.parse_args()
    path = collection_path()
    print('python %s, load %.2f' % (sys.version.split()[0], os.getloadavg()[0]))
    for size in args.size_mb:
        iso = build(args.workdir, size)
        copy = os.path.join(args.workdir, 'copy.iso')
        bundle = os.path.join(args.workdir, 'bundle.zip')
        tools = {
            'cp': ['cp', iso, copy],
            'cp+sync': ['sh', '-c', 'cp "$1" "$2" && sync "$2"', 'sh', iso, copy],
            'ours': [sys.executable, '-c', CHILD, path, iso, bundle, 'sha'],
            'ours-nosha': [sys.executable, '-c', CHILD, path, iso, bundle, 'nosha'],
        }
        results = alternate(tools, args.runs)
        print('\nISO %.1f MiB, bundle %.1f MiB, medians of %d' % (os.path.getsize(iso) / 2**20, os.path.getsize(bundle) / 2**20, args.runs))
        print_table(results)
        for leftover in (copy, bundle):
            os.unlink(leftover)


if __name__ == '__main__':
    main()
