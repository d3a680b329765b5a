# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: an installer ISO made from a 400 MiB offline depot, and a rebase onto a 400 MiB patch depot, against ``cp``.

Run from the collection root with the project venv:

    .venv/bin/python bench/depot_source.py [--size-mb 400] [--runs 5] [--workdir /tmp/esxi-customizer-bench]

It builds (once, cached) a 7.0-shaped fixture ISO whose base tardisk S.V00 holds that many MiB and its fixture patch
(tests/fixturegen, ``patch=True``), and exports both as depots (bundle_export). Each timed run is a fresh process,
tools alternating, after one untimed warm-up round, warm page cache, ``sync`` (untimed) before every run:

* ``cp`` / ``cp+sync`` - ``cp depot copy`` / the same and ``sync copy``;
* ``depot``        - ``customize_iso(depot, iso, force=True)``: the profile laid out as an ISO, every payload checked
                     while copied, written atomically with its sha256; ``depot-nosha`` without the sha256;
* ``rebase``       - ``customize_iso(stock 7.0 fixture ISO, iso, add=[patch depot], force=True)``: the image moved
                     onto the patch, every VIB of the patch checked while copied, with the sha256.

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
from ansible_collections.esxi.customizer.plugins.module_utils._image.customize import customize_iso
add = sys.argv[5:]
customize_iso(sys.argv[2], sys.argv[3], add=add, force=True, checksum=sys.argv[4] == 'sha')
'''


def build(workdir: str, size_mb: int) -> dict:
    paths = {name: os.path.join(workdir, 'depot70-%dm-%s' % (size_mb, name)) for name in ('iso', 'depot.zip', 'patch.iso', 'patch.zip', 'stock.iso')}
    if not all(os.path.exists(p) for p in paths.values()):
        sys.path.insert(0, collection_path())
        # pylint: disable=import-outside-toplevel
        from ansible_collections.esxi.customizer.plugins.module_utils._image.bundle_export import export_bundle
        from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso

        os.makedirs(workdir, exist_ok=True)
        started = time.perf_counter()
        fixiso.build_esxi_iso(paths['iso'], style='70', big_payload_bytes=size_mb << 20)
        fixiso.build_esxi_iso(paths['patch.iso'], style='70', big_payload_bytes=size_mb << 20, patch=True)
        fixiso.build_esxi_iso(paths['stock.iso'], style='70')
        export_bundle(paths['iso'], paths['depot.zip'], vendor_name='VMware', vendor_code='VMW')
        export_bundle(paths['patch.iso'], paths['patch.zip'], vendor_name='VMware', vendor_code='VMW')
        print('built the depots in %.1f s' % (time.perf_counter() - started))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size-mb', type=int, default=400)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--workdir', default='/tmp/esxi-customizer-bench')
    args = parser.parse_args()
    path = collection_path()
    paths = build(args.workdir, args.size_mb)
    copy = os.path.join(args.workdir, 'copy.zip')
    out = os.path.join(args.workdir, 'from-depot.iso')
    print('python %s, load %.2f' % (sys.version.split()[0], os.getloadavg()[0]))
    tools = {
        'cp': ['cp', paths['depot.zip'], copy],
        'cp+sync': ['sh', '-c', 'cp "$1" "$2" && sync "$2"', 'sh', paths['depot.zip'], copy],
        'depot': [sys.executable, '-c', CHILD, path, paths['depot.zip'], out, 'sha'],
        'depot-nosha': [sys.executable, '-c', CHILD, path, paths['depot.zip'], out, 'nosha'],
        'rebase': [sys.executable, '-c', CHILD, path, paths['stock.iso'], out, 'sha', paths['patch.zip']],
    }
    results = alternate(tools, args.runs)
    print(
        '\ndepot %.1f MiB, patch depot %.1f MiB, ISO %.1f MiB, medians of %d, load %.2f'
        % (
            os.path.getsize(paths['depot.zip']) / 2**20,
            os.path.getsize(paths['patch.zip']) / 2**20,
            os.path.getsize(out) / 2**20,
            args.runs,
            os.getloadavg()[0],
        )
    )
    print_table(results)
    for leftover in (copy, out):
        os.unlink(leftover)


if __name__ == '__main__':
    main()
