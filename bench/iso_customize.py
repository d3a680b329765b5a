# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: customizing a >= 400 MB ESXi-shaped ISO against `cp` and `xorriso ... replay`.

Run from the collection root with the project venv:

    .venv/bin/python bench/iso_customize.py [--size-mb 400] [--runs 5] [--workdir /tmp/esxi-bench]

It builds (once, cached in the work directory) an ESXi-shaped ISO whose base tardisk S.V00 carries a
random payload of --size-mb MiB, three driver VIBs and a kickstart. Then, alternating, --runs times
each, in fresh processes and with a warm page cache (one untimed warm-up round first):

* ``cp``            - ``cp src dst`` (the reference),
* ``cp+sync``       - ``cp src dst && sync dst``: a copy that is on disk when it returns,
* ``ours``          - the collection's code in a fresh Python process (interpreter start and imports
                      included): three drivers + kickstart injected, both boot.cfg and the image
                      database updated, written atomically (temp file, fsync, rename) with the
                      output sha256; ``ours-nosha`` is the same without the checksum,
* ``ours-worker``   - the module (iso_customize's main(), sha256 included) as build_esxi.yml runs it, in the
                      Ansible worker on the controller (``bench_common.WORKER_CHILD``): timed from its import
                      to its result, Ansible itself already loaded as it is in the worker,
* ``xorriso``       - ``xorriso -indev src -outdev dst -boot_image any replay -map ...`` with the
                      same files added.

With ``--replace`` the previous output stays in place, so each tool replaces a 400 MiB file as a re-build does
(``cp`` truncates it, ours renames over it); xorriso still starts without one. Every run starts after a ``sync``
(untimed) so no run pays for the previous one's writeback. The Python children
keep their bytecode as Python does by default (``PYTHONDONTWRITEBYTECODE`` is dropped from their environment), so
after the warm-up round they start warm, like the page cache.
It prints wall time and peak RSS (GNU time's %M) per run and the medians with ratios to
``cp`` and ``cp+sync``. Speed and memory are measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

# bench/ is sys.path[0] when a script is run by path
from bench_common import WORKER_CHILD, collection_path  # pylint: disable=import-error

# What "ours" runs in the child: the module's own code path (customize_iso).
CHILD = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
spec = json.loads(sys.argv[2])
from ansible_collections.esxi.customizer.plugins.module_utils._image import customize
result = customize.customize_iso(spec['src'], spec['dest'], add=spec['vibs'], kickstart=spec['kickstart'],
                                 force=True, checksum=spec['checksum'])
print(json.dumps({'path': 'customize_iso', 'sha256': result.get('sha256')}))
'''


def run(argv, workdir):
    """Wall time and peak RSS (MiB) of one child process.

    Peak RSS comes from GNU time's %M: Linux carries a forking parent's high-water RSS over exec
    into the child's ru_maxrss, so measuring children of this Python process directly would report
    this process's size for every tool.
    """
    report = os.path.join(workdir, 'time.out')
    start = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONDONTWRITEBYTECODE'}
    proc = subprocess.run(['/usr/bin/time', '-o', report, '-f', '%M'] + argv, capture_output=True, check=False, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit('%s failed (%d): %s' % (argv[0], proc.returncode, proc.stderr.decode(errors='replace')[-2000:]))
    with open(report) as f:
        rss_kib = int(f.read().split()[-1])
    return wall, rss_kib / 1024.0, proc.stdout


def build_inputs(workdir, size_mb):
    sys.path.insert(0, collection_path())
    from ansible_collections.esxi.customizer.tests.fixturegen import packages  # noqa: E402 pylint: disable=import-error

    os.makedirs(workdir, exist_ok=True)
    src = os.path.join(workdir, 'esxi70-%dm.iso' % size_mb)
    vibs = []
    for name in ('net-bench1', 'nvme-bench2', 'sata-bench3'):
        path = os.path.join(workdir, name + '.vib')
        with open(path, 'wb') as f:
            f.write(packages.build_vib(name, '1.0.0-1', payload_name=name[:8]))
        vibs.append(path)
    kickstart = os.path.join(workdir, 'ks.cfg')
    with open(kickstart, 'w') as f:
        f.write('vmaccepteula\ninstall --firstdisk --overwritevmfs\nrootpw VMware1!\nnetwork --bootproto=dhcp\nreboot\n')
    if not os.path.exists(src):
        _build_iso(workdir, src, size_mb)
    return src, vibs, kickstart


def _build_iso(workdir, src, size_mb):
    """Prefer the fixtures helper's ESXi ISO with a big tardisk; else a minimal ESXi-shaped tree."""
    try:
        from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso  # pylint: disable=import-error
    except ImportError:
        fixiso = None
    if fixiso is not None:
        fixiso.build_esxi_iso(src, style='70', big_payload_bytes=size_mb << 20)
        return
    tree = os.path.join(workdir, 'tree')
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(os.path.join(tree, 'EFI', 'BOOT'))
    shutil.copyfile('/usr/lib/ISOLINUX/isolinux.bin', os.path.join(tree, 'ISOLINUX.BIN'))
    cfg = (
        'bootstate=0\ntitle=Loading ESXi installer\ntimeout=5\nprefix=\nkernel=/b.b00\nkernelopt=cdromBoot runweasel\n'
        'modules=/jumpstrt.gz --- /s.v00 --- /imgdb.tgz --- /imgpayld.tgz\nbuild=7.0.3-0.0.1\nupdated=0\n'
    )
    for rel in ('BOOT.CFG', 'EFI/BOOT/BOOT.CFG'):
        with open(os.path.join(tree, rel), 'w') as f:
            f.write(cfg)
    with open(os.path.join(tree, 'EFIBOOT.IMG'), 'wb') as f:
        f.truncate(1 << 20)
    for name in ('B.B00', 'JUMPSTRT.GZ', 'IMGDB.TGZ', 'IMGPAYLD.TGZ'):
        with open(os.path.join(tree, name), 'wb') as f:
            f.write(os.urandom(4096))
    with open(os.path.join(tree, 'S.V00'), 'wb') as f:
        for dummy in range(size_mb):  # written in chunks: never hold the payload in memory
            f.write(os.urandom(1 << 20))
    subprocess.run(
        [
            'xorriso',
            '-as',
            'mkisofs',
            '-quiet',
            '--norock',
            '-V',
            'ESXI-7.0.3-BENCH',
            '-A',
            'ESXIMAGE',
            '-o',
            src,
            '-c',
            'BOOT.CAT',
            '-b',
            'ISOLINUX.BIN',
            '-no-emul-boot',
            '-boot-load-size',
            '4',
            '-boot-info-table',
            '-eltorito-alt-boot',
            '-eltorito-platform',
            'efi',
            '-b',
            'EFIBOOT.IMG',
            '-no-emul-boot',
            tree,
        ],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(tree)


def vib_payload_slice(path):
    """(offset, length) of the last ar member (the payload) of one of our bench VIBs."""
    with open(path, 'rb') as f:
        data = f.read()
    pos, last = 8, None
    while pos + 60 <= len(data):
        size = int(data[pos + 48 : pos + 58].decode().strip())
        last = (pos + 60, size)
        pos += 60 + size + (size & 1)
    return last


def writer_spec(workdir, src, vibs, kickstart):
    """Inputs for the writer-only child: payload slices and new boot.cfg/imgdb files."""
    slices, names = {}, []
    for i, vib in enumerate(vibs):
        off, length = vib_payload_slice(vib)
        name = 'DRV_%d.V00' % i
        slices['/' + name] = (vib, off, length)
        names.append(name.lower())
    cfg = os.path.join(workdir, 'boot.cfg')
    with open(cfg, 'w') as f:
        f.write(
            'bootstate=0\ntitle=Loading ESXi installer\ntimeout=5\nprefix=\nkernel=/b.b00\nkernelopt=runweasel ks=cdrom:/KS.CFG\n'
            'modules=/jumpstrt.gz --- /s.v00 --- %s --- /imgdb.tgz --- /imgpayld.tgz\nbuild=7.0.3-0.0.1\nupdated=0\n' % ' --- '.join('/' + n for n in names)
        )
    imgdb = os.path.join(workdir, 'imgdb.tgz')
    with open(imgdb, 'wb') as f:
        f.write(os.urandom(300 << 10))
    return {'slices': slices, 'replace': {'/BOOT.CFG': cfg, '/EFI/BOOT/BOOT.CFG': cfg, '/IMGDB.TGZ': imgdb}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--size-mb', type=int, default=400)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--workdir', default='/tmp/esxi-customizer-bench')
    parser.add_argument('--json', help='also write the medians to this file')
    parser.add_argument(
        '--replace', action='store_true', help='leave the previous output in place: every tool replaces it (a re-build), cp truncating, ours renaming'
    )
    args = parser.parse_args()

    src, vibs, kickstart = build_inputs(args.workdir, args.size_mb)
    dst = os.path.join(args.workdir, 'out.iso')
    spec = {'src': src, 'dest': dst, 'vibs': vibs, 'kickstart': kickstart, 'checksum': True}
    spec.update(writer_spec(args.workdir, src, vibs, kickstart))
    nosha = dict(spec, checksum=False)
    xorriso_map = []
    for i, vib in enumerate(vibs):
        xorriso_map += ['-map', vib, '/DRV_%d.V00' % i]  # whole VIBs: same order of size as the payloads
    xorriso_map += ['-map', kickstart, '/KS.CFG', '-map', spec['replace']['/BOOT.CFG'], '/BOOT.CFG', '-map', spec['replace']['/BOOT.CFG'], '/EFI/BOOT/BOOT.CFG']
    py = sys.executable
    path = collection_path()
    # the module itself (its sha256 included), as build_esxi.yml runs it: in the Ansible worker (bench_common)
    worker_args = os.path.join(args.workdir, 'worker-args.json')
    with open(worker_args, 'w') as f:
        json.dump({'ANSIBLE_MODULE_ARGS': {'src': src, 'dest': dst, 'add': vibs, 'kickstart': kickstart, 'force': True, 'checksum': True}}, f)
    commands = {
        'cp': ['cp', src, dst],
        'cp+sync': ['sh', '-c', 'cp "$0" "$1" && sync "$1"', src, dst],
        'ours': [py, '-c', CHILD, path, json.dumps(spec)],
        'ours-nosha': [py, '-c', CHILD, path, json.dumps(nosha)],
        'ours-worker': [py, '-c', WORKER_CHILD, path, 'iso_customize', worker_args],
        'xorriso': ['xorriso', '-abort_on', 'FAILURE', '-indev', src, '-outdev', dst, '-boot_image', 'any', 'replay'] + xorriso_map,
    }
    size = os.path.getsize(src)
    print('source %s: %.1f MiB; %d runs each, alternating, warm page cache; python %s' % (src, size / 1048576.0, args.runs, sys.version.split()[0]))
    results = {name: [] for name in commands}
    for rnd in range(args.runs + 1):
        for name, argv in commands.items():
            if os.path.exists(dst) and (not args.replace or name == 'xorriso'):  # xorriso would load an existing outdev
                os.unlink(dst)
            # Start every run from the same state: without this, a run pays for the writeback of
            # the previous run's dirty pages (what made earlier cp figures swing 0.66-1.48x).
            os.sync()
            wall, rss, out = run(argv, args.workdir)
            if name == 'ours-worker':
                report = json.loads(out)
                if not report['result'].get('changed') or report['result'].get('failed'):
                    raise SystemExit('ours-worker: %s' % report['result'])
                wall = report['elapsed']
            if rnd == 0:
                if name == 'ours':
                    print('ours runs: %s' % out.decode().strip())
                continue
            results[name].append((wall, rss))
            print('run %d %-10s %7.3f s %7.1f MiB' % (rnd, name, wall, rss))
    if os.path.exists(dst):
        os.unlink(dst)
    med = {name: (statistics.median(run[0] for run in r), max(run[1] for run in r)) for name, r in results.items()}
    print()
    print('%-10s %10s %12s %8s %12s' % ('tool', 'median s', 'peak MiB', 'x cp', 'x cp+sync'))
    for name, (wall, rss) in med.items():
        print('%-10s %10.3f %12.1f %8.2f %12.2f' % (name, wall, rss, wall / med['cp'][0], wall / med['cp+sync'][0]))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                {'size_bytes': size, 'runs': args.runs, 'median_s': {k: v[0] for k, v in med.items()}, 'peak_rss_mib': {k: v[1] for k, v in med.items()}},
                f,
                indent=2,
            )


if __name__ == '__main__':
    main()
