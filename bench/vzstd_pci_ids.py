# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the PCI IDs of a VIB whose payload is an ESXi 9.0 ``vzstd`` (gzip around zstd around vmtar).

Run from the collection root with the project venv:

    .venv/bin/python bench/vzstd_pci_ids.py [--size-mb 50 10 200] [--runs 5] [--workdir /tmp/esxi-customizer-bench]

For each size it builds (once, cached) a VIB (tests/fixturegen) whose one payload is a vzstd of about that many
MiB: a vmkernel module padded with pseudo-random bytes (so the payload does not shrink), a driver .map and a
.ids file. Each timed run is a fresh process, alternating tools, after one untimed warm-up round (warm page cache):

* ``ours``       - what ``package_info`` does for the PCI IDs: ``load_package(vib).vibs[0].pci_ids`` (payload
                   gunzipped, zstd-decompressed, vmtar read, module inspected, map and ids parsed), Python start
                   and imports included; once per zstd library installed (``zstandard``, ``backports.zstd``);
* ``ours+sums``  - the same plus verifying all four payload checksums (another pass over the payload);
* ``zstd|tar``   - ``gzip -dc payload | zstd -dc | tar -t`` on the extracted payload member (tar's exit status is
                   ignored: GNU tar lists the vmtar headers but cannot follow vmtar's data offsets);
* ``zstd``       - ``gzip -dc payload | zstd -dc > /dev/null``: decompression alone.

Peak RSS is GNU time's ``%M`` of the process (for pipelines: of the shell that runs them, so the biggest member).
Speed and memory are measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

# bench/ is sys.path[0] when a script is run by path
from bench_common import collection_path  # pylint: disable=import-error

CHILD = r'''
import importlib, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.esxi.customizer.plugins.module_utils._io import decompress
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import load_package
decompress._zstd_found = (sys.argv[4], importlib.import_module(sys.argv[4]))
with load_package(sys.argv[2]) as pkg:
    vib = pkg.vibs[0]
    ids = vib.pci_ids
    if sys.argv[3] == 'sums':
        assert all(check.checksum_ok for check in vib.verify_payloads(strict=True))
assert len(ids) == 2, ids
'''


def _importable(name: str) -> bool:
    try:
        __import__(name)
        return True
    except ImportError:
        return False


BACKENDS = [name for name in ('compression.zstd', 'backports.zstd', 'zstandard') if _importable(name)]


def build(workdir: str, size_mb: int) -> tuple[str, str]:
    """(vib path, payload member path) for a vzstd payload of about ``size_mb`` MiB."""
    vib_path = os.path.join(workdir, 'net-zbench-%dm.vib' % size_mb)
    member_path = vib_path + '.payload'
    if os.path.exists(vib_path) and os.path.exists(member_path):
        return vib_path, member_path
    sys.path.insert(0, collection_path())
    from ansible_collections.esxi.customizer.tests.fixturegen import packages  # pylint: disable=import-outside-toplevel

    started = time.perf_counter()
    files = packages.driver_files('net_zbench', [('8086', '10d3'), ('8086', '105e')], 'native', vmkapi='3_0_0_0')
    module = 'usr/lib/vmware/vmkmod/net_zbench'
    files[module] += random.Random(0).randbytes(size_mb << 20)
    payload = packages.gzip_bytes(packages.zstd_bytes(packages.vmtar(files), level=3))
    vib = packages.build_vib('net-zbench', '1.0-1vmw.900', payloads=[('net-zbenc', 'vzstd', payload)], files=sorted(files), depends=['vmkapi_3_0_0_0'])
    os.makedirs(workdir, exist_ok=True)
    for path, data in ((member_path, payload), (vib_path, vib)):
        with open(path + '.tmp', 'wb') as stream:
            stream.write(data)
        os.replace(path + '.tmp', path)
    print('built %s: payload %.1f MiB in %.1f s' % (vib_path, len(payload) / 2**20, time.perf_counter() - started))
    return vib_path, member_path


def timed(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of ``argv`` under GNU time."""
    started = time.perf_counter()
    done = subprocess.run(['/usr/bin/time', '-f', '%M'] + argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit('%s failed: %s' % (argv, done.stderr[-2000:]))
    return elapsed, int(done.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size-mb', type=int, nargs='+', default=[50, 10, 200])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--workdir', default='/tmp/esxi-customizer-bench')
    args = parser.parse_args()
    path = collection_path()
    print('python %s, load %.2f' % (sys.version.split()[0], os.getloadavg()[0]))
    for size in args.size_mb:
        vib, member = build(args.workdir, size)
        tools = {}
        for backend in BACKENDS:
            tools['ours (%s)' % backend] = [sys.executable, '-c', CHILD, path, vib, 'ids', backend]
            tools['ours+sums (%s)' % backend] = [sys.executable, '-c', CHILD, path, vib, 'sums', backend]
        tools.update(
            {
                'zstd|tar': ['sh', '-c', 'gzip -dc "$1" | zstd -dc | tar -t >/dev/null 2>&1; true', 'sh', member],
                'zstd': ['sh', '-c', 'gzip -dc "$1" | zstd -dc >/dev/null', 'sh', member],
            }
        )
        results = {name: [] for name in tools}
        for round_ in range(args.runs + 1):
            for name, argv in tools.items():
                result = timed(argv)
                if round_:
                    results[name].append(result)
        base = statistics.median(t for t, _rss in results['zstd'])
        print('\npayload %d MiB (%.1f MiB on disk), medians of %d' % (size, os.path.getsize(member) / 2**20, args.runs))
        print('| tool | s | x zstd | peak RSS MiB |')
        print('|---|---|---|---|')
        for name, values in results.items():
            median = statistics.median(t for t, _rss in values)
            rss = [r / 1024 for _t, r in values]
            print('| %s | %.3f | %.2f | %.1f-%.1f |' % (name, median, median / base, min(rss), max(rss)))


if __name__ == '__main__':
    main()
