# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: iso_info on a >= 600 MB ESXi-shaped ISO reads metadata only.

Run from the collection root with the project venv:

    .venv/bin/python bench/iso_info.py [--size-mb 620] [--runs 3] [--workdir /tmp/esxi-bench-info]

It builds (once, cached in the work directory) an ESXi 7.0-shaped ISO whose base tardisk S.V00 carries
--size-mb MiB of payload (tests/fixturegen). Then, --runs times, each in a fresh Python process, it runs
the code behind ``esxi.customizer.iso_info`` (``read_iso_facts``) and reports:

* ``requested``  - bytes the code asked for from the ISO file object (a counting wrapper around it),
* ``rchar``      - bytes the process read through read() syscalls during the call (``/proc/self/io``),
* ``read_bytes`` - bytes the process caused to be fetched from storage (``/proc/self/io``; 0 when the
                   page cache already holds them),
* wall time of the call and the process's peak RSS.

The ratio ``requested / ISO size`` is the figure that matters: iso_info must not read payloads.
Speed and memory are measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# bench/ is sys.path[0] when a script is run by path
from bench_common import collection_path  # pylint: disable=import-error

CHILD = r'''
import io, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage


def proc_io():
    with open('/proc/self/io') as stream:
        return dict((key, int(value)) for key, value in (line.split(': ') for line in stream))


class Counting(io.FileIO):
    requested = 0
    calls = 0

    def read(self, size=-1):
        data = super().read(size)
        self.requested += len(data)
        self.calls += 1
        return data

    def readinto(self, buffer):
        count = super().readinto(buffer) or 0
        self.requested += count
        self.calls += 1
        return count


path = sys.argv[2]
before = proc_io()
start = time.perf_counter()
with Counting(path, 'r') as handle:
    with EsxiImage.open(path, fileobj=handle) as image:
        facts = image.facts()
elapsed = time.perf_counter() - start
after = proc_io()
print(json.dumps({'requested': handle.requested, 'calls': handle.calls, 'rchar': after['rchar'] - before['rchar'],
                  'read_bytes': after['read_bytes'] - before['read_bytes'], 'seconds': elapsed,
                  'maxrss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  'problems': facts['problems'], 'vibs': len(facts['vibs']), 'version': facts['esxi_version']}))
'''


def build_iso(workdir: str, size_mb: int) -> str:
    dest = os.path.join(workdir, 'esxi70-%dmb.iso' % size_mb)
    if os.path.exists(dest):
        return dest
    sys.path.insert(0, collection_path())
    from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso  # pylint: disable=import-error

    started = time.perf_counter()
    fixiso.build_esxi_iso(dest, style='70', big_payload_bytes=size_mb * 1024 * 1024)
    print('built %s (%d bytes) in %.1f s' % (dest, os.path.getsize(dest), time.perf_counter() - started))
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--size-mb', type=int, default=620)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--workdir', default='/tmp/esxi-bench-info')
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    iso = build_iso(args.workdir, args.size_mb)
    size = os.path.getsize(iso)
    print('ISO: %s, %d bytes (%.1f MiB)' % (iso, size, size / 1048576.0))
    runs = []
    for number in range(1, args.runs + 1):
        out = subprocess.run([sys.executable, '-c', CHILD, collection_path(), iso], check=True, capture_output=True, text=True)
        result = json.loads(out.stdout)
        runs.append(result)
        print(
            'run %d: requested %d B in %d reads, rchar %d B, read_bytes %d B, %.3f s, peak RSS %d KiB, ESXi %s, %d VIBs, %d problems'
            % (
                number,
                result['requested'],
                result['calls'],
                result['rchar'],
                result['read_bytes'],
                result['seconds'],
                result['maxrss_kib'],
                result['version'],
                result['vibs'],
                len(result['problems']),
            )
        )
    requested = statistics.median(run['requested'] for run in runs)
    rchar = statistics.median(run['rchar'] for run in runs)
    print(
        'median: requested %.0f B = %.5f%% of the ISO; rchar %.0f B = %.5f%%; wall %.3f s; peak RSS %d KiB'
        % (
            requested,
            100.0 * requested / size,
            rchar,
            100.0 * rchar / size,
            statistics.median(run['seconds'] for run in runs),
            statistics.median(run['maxrss_kib'] for run in runs),
        )
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
