# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: publishing a >= 400 MB ESXi-shaped ISO as a PXE tree against `cp -r` of the extracted tree.

Run from the collection root with the project venv:

    .venv/bin/python bench/pxe_publish.py [--size-mb 400] [--runs 5] [--hosts 0] [--workdir /tmp/esxi-pxe-bench]

It builds (once, cached in the work directory) an ESXi 7.0-shaped ISO whose S.V00 carries --size-mb MiB of
random data, and extracts it once with xorriso (the tree `cp -r` copies). Then, alternating, --runs times each,
warm page cache (one untimed warm-up round first), every run starting after an untimed `sync`:

* ``cp -r``          - ``cp -r tree dst`` in a child process (the reference),
* ``publish``        - ``pxe.publish()`` (the module's code) into an empty server root: every ISO file copied
                       from its extent (copy_file_range + sha256 in a second thread), both boot.cfg rewritten,
                       --hosts per-host files, manifest written,
* ``cp -r + sync`` / ``publish + sync`` - the same until the data is on disk,
* ``no-op``          - publish again into the same root with nothing changed, ``name`` given (the module's
                       fast path: manifest + one lstat per file, the ISO is neither parsed nor read),
* ``no-op, no name`` - the same without ``name``: the ISO metadata is parsed to derive the name,
* ``no-op process``  - the no-op in a fresh Python process (interpreter start and imports included),
* ``cp -r published`` - ``cp -r`` of a whole published server root (tree + per-host files): with --hosts the
                       reference with the same number of files.

Medians and ratios are printed; targets (issue 6): publish <= 1.2 x cp -r, no-op <= 0.05 x publish.
Speed and memory are measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

# bench/ is sys.path[0] when a script is run by path
from bench_common import collection_path  # pylint: disable=import-error

NOOP_CHILD = r'''
import json, sys, time
start = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from ansible_collections.esxi.customizer.plugins.module_utils._publish import pxe
spec = json.loads(sys.argv[2])
result = pxe.publish(pxe.Request(**spec))
assert not result['changed'], result['files_written']
print(json.dumps({'seconds': time.perf_counter() - start}))
'''


def sync():
    subprocess.run(['sync'], check=True)


def timed(func, *, with_sync=False):
    sync()
    start = time.perf_counter()
    func()
    if with_sync:
        sync()
    return time.perf_counter() - start


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--size-mb', type=int, default=400)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--hosts', type=int, default=0, help='per-host configs on top of the tree (cp -r copies the tree only)')
    parser.add_argument('--workdir', default='/tmp/esxi-pxe-bench')
    args = parser.parse_args()

    sys.path.insert(0, collection_path())
    from ansible_collections.esxi.customizer.plugins.module_utils._publish import pxe  # pylint: disable=import-error
    from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso  # pylint: disable=import-error

    os.makedirs(args.workdir, exist_ok=True)
    src = os.path.join(args.workdir, 'esxi70-%dmb.iso' % args.size_mb)
    if not os.path.exists(src):
        print('building %s ...' % src, flush=True)
        fixiso.build_esxi_iso(src, style='70', big_payload_bytes=args.size_mb * 1024 * 1024)
    tree = os.path.join(args.workdir, 'tree')
    if not os.path.isdir(tree):
        subprocess.run(['xorriso', '-osirrox', 'on', '-indev', src, '-extract', '/', tree], check=True, capture_output=True)
        subprocess.run(['chmod', '-R', 'u+w', tree], check=True)
    iso_size = os.path.getsize(src)
    print('ISO %s: %.1f MiB' % (src, iso_size / 1048576.0))

    hosts = [{'mac': '02:00:00:00:%02x:%02x' % (i // 256, i % 256), 'kickstart_url': 'http://192.0.2.1/ks/%d.cfg' % i} for i in range(args.hosts)]
    spec = {
        'src': src,
        'dest': os.path.join(args.workdir, 'noop-root'),
        'name': 'esxi-bench',
        'kickstart_url': 'http://192.0.2.1/ks/default.cfg',
        'hosts': hosts,
    }
    cp_dest = os.path.join(args.workdir, 'cp-root')
    pub_dest = os.path.join(args.workdir, 'pub-root')

    def request(**overrides):
        merged = dict(spec)
        merged.update(overrides)
        return pxe.Request(**merged)

    def cp_r():
        subprocess.run(['cp', '-r', tree, os.path.join(cp_dest, 'esxi-bench')], check=True)

    def publish_into(dest):
        def run():
            result = pxe.publish(request(dest=dest))
            assert result['changed']

        return run

    fresh(spec['dest'])
    pxe.publish(pxe.Request(**spec))  # the tree the no-op runs are measured against

    def noop(name=True):
        def run():
            result = pxe.publish(request(name=spec['name'] if name else None))
            assert not result['changed'], result['files_written']

        return run

    def cp_r_published():
        # with hosts, the same number of files as publish writes: the tree plus the per-host files
        subprocess.run(['cp', '-r', spec['dest'], os.path.join(cp_dest, 'published')], check=True)

    times = {key: [] for key in ('cp -r', 'publish', 'cp -r + sync', 'publish + sync', 'no-op', 'no-op, no name', 'no-op process', 'cp -r published')}
    # the default name of the fixture differs from 'esxi-bench': a separate root for the no-name no-op
    noname_dest = os.path.join(args.workdir, 'noname-root')
    fresh(noname_dest)
    pxe.publish(request(dest=noname_dest, name=None))

    def noop_noname():
        result = pxe.publish(request(dest=noname_dest, name=None))
        assert not result['changed']

    for round_no in range(args.runs + 1):
        fresh(cp_dest)
        cp_time = timed(cp_r)
        fresh(pub_dest)
        pub_time = timed(publish_into(pub_dest))
        fresh(cp_dest)
        cp_sync = timed(cp_r, with_sync=True)
        fresh(pub_dest)
        pub_sync = timed(publish_into(pub_dest), with_sync=True)
        noop_time = min(timed(noop()) for _attempt in range(5))
        noname_time = min(timed(noop_noname) for _attempt in range(5))
        child = subprocess.run([sys.executable, '-c', NOOP_CHILD, collection_path(), json.dumps(spec)], check=True, capture_output=True, text=True)
        process_time = json.loads(child.stdout)['seconds']
        fresh(cp_dest)
        cp_published = timed(cp_r_published)
        if round_no == 0:
            continue  # warm-up
        values = (cp_time, pub_time, cp_sync, pub_sync, noop_time, noname_time, process_time, cp_published)
        for key, value in zip(times, values):
            times[key].append(value)
        print('run %d: ' % round_no + ', '.join('%s %.3fs' % (key, values[-1]) for key, values in times.items()), flush=True)

    med = {key: statistics.median(values) for key, values in times.items()}
    files = sum(len(names) for _root, _dirs, names in os.walk(pub_dest))
    print()
    print('%d runs, %.1f MiB ISO, %d files published (%d hosts), medians:' % (args.runs, iso_size / 1048576.0, files, args.hosts))
    for key, value in med.items():
        print('  %-16s %8.4f s' % (key, value))
    print('ratios:')
    print('  publish / cp -r                 %.2f   (target <= 1.2)' % (med['publish'] / med['cp -r']))
    print('  publish+sync / cp -r+sync       %.2f' % (med['publish + sync'] / med['cp -r + sync']))
    print('  publish / cp -r published       %.2f   (same file count: tree + per-host files)' % (med['publish'] / med['cp -r published']))
    print('  no-op / publish                 %.4f (target <= 0.05)' % (med['no-op'] / med['publish']))
    print('  no-op / cp -r                   %.4f' % (med['no-op'] / med['cp -r']))
    print('  no-op, no name / publish        %.4f' % (med['no-op, no name'] / med['publish']))
    print('  no-op process / publish         %.4f' % (med['no-op process'] / med['publish']))
    print('peak RSS of this process: %.0f MiB' % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
    for path in (cp_dest, pub_dest, spec['dest'], noname_dest):
        shutil.rmtree(path, ignore_errors=True)


if __name__ == '__main__':
    main()
