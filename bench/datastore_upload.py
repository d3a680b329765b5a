# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: esxi.customizer.datastore_upload against ``curl -T`` on loopback (not a test).

Uploads one file (default 512 MiB) to the ESX simulator of tests/services/vcsim.sh, alternating
the module (run as Ansible runs it: a separate Python process executing the module file), the module writing a
progress_file, curl, and curl with openssl dgst -sha256 running beside it (the same work the module does), with a
fresh target file every run. Prints each run, the median rates, the module/curl ratio
(target >= 0.90) and the module's peak RSS (target <= 64 MiB), from wait4() of the child.

The Python children keep their bytecode as Python does by default (``PYTHONDONTWRITEBYTECODE`` is dropped from
their environment). ``module-worker`` is the module as build_esxi.yml runs it, in the Ansible worker
(``bench_common.WORKER_CHILD``), on a digest-cached ISO like ``module-cached``.

Usage: .venv/bin/python bench/datastore_upload.py [--size-mib 512] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# bench/ is sys.path[0] when a script is run by path
from bench_common import WORKER_CHILD  # pylint: disable=import-error

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.environ.get('VCSIM_STATE_DIR', '/tmp/esxi-customizer-vcsim')
MIB = 1024 * 1024


def measure(argv, env=None):
    """Run argv as a direct child and return (seconds, peak RSS bytes, CPU seconds, stdout)."""
    out_file = tempfile.TemporaryFile()
    err_file = tempfile.TemporaryFile()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        os.dup2(out_file.fileno(), 1)
        os.dup2(err_file.fileno(), 2)
        try:
            os.execvpe(argv[0], argv, env or os.environ)
        finally:
            os._exit(127)
    _pid, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    out_file.seek(0)
    err_file.seek(0)
    out, err = out_file.read(), err_file.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit('%s failed: %s %s' % (argv[0], out.decode()[-2000:], err.decode()[-2000:]))
    return elapsed, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime, out


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(MIB), b''):
            digest.update(block)
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size-mib', type=int, default=512)
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()

    subprocess.run(['bash', os.path.join(ROOT, 'tests/services/vcsim.sh'), 'start'], check=True)
    with open(os.path.join(STATE, 'esx.json')) as f:
        esx = json.load(f)
    ds_dir = esx['datastores']['LocalDS_0']
    curl = shutil.which('curl')
    if not curl:
        raise SystemExit('curl is needed for the comparison')

    work = tempfile.mkdtemp(prefix='bench-datastore-upload-')
    try:
        # The module must be importable as ansible_collections.esxi.customizer, as under Ansible.
        tree = os.path.join(work, 'collections', 'ansible_collections', 'esxi')
        os.makedirs(tree)
        os.symlink(ROOT, os.path.join(tree, 'customizer'))
        env = dict(os.environ, PYTHONPATH=os.path.join(work, 'collections'))
        # Python's default: bytecode kept in __pycache__ (warm after the first run, like the page cache)
        env.pop('PYTHONDONTWRITEBYTECODE', None)

        src = os.path.join(work, 'payload.iso')
        block = os.urandom(MIB)
        with open(src, 'wb') as f:
            for i in range(args.size_mib):
                f.write(block[i % 7 :] + block[: i % 7])  # no two MiB alike
        size = os.path.getsize(src)
        local_sha = sha256(src)  # also warms the page cache for both contenders

        # The role uploads an ISO that iso_customize just wrote: its sha256 is in the digest cache, so the module
        # sends it without hashing ('module-cached'); 'module' is an ISO from elsewhere, hashed while it is sent.
        cached_src = os.path.join(work, 'payload-cached.iso')
        shutil.copyfile(src, cached_src)
        sha256(cached_src)
        env['ESXI_CUSTOMIZER_CACHE_DIR'] = os.path.join(work, 'sha256-cache')
        subprocess.run(
            [
                sys.executable,
                '-c',
                'import sys; from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash '
                'import remember_sha256; remember_sha256(sys.argv[1], sys.argv[2])',
                cached_src,
                local_sha,
            ],
            env=env,
            check=True,
        )

        module = os.path.join(ROOT, 'plugins/modules/datastore_upload.py')
        module_args = {}
        for name, path in (('module', src), ('module-cached', cached_src), ('module-progress', src), ('module-worker', cached_src)):
            module_args[name] = os.path.join(work, name + '.json')
            extra = {'progress_file': os.path.join(work, 'progress.json')} if name == 'module-progress' else {}
            with open(module_args[name], 'w') as f:
                json.dump(
                    {
                        'ANSIBLE_MODULE_ARGS': {
                            **extra,
                            'hostname': esx['hostname'],
                            'port': esx['port'],
                            'username': esx['username'],
                            'password': esx['password'],
                            'validate_certs': False,
                            'src': path,
                            'datastore': 'LocalDS_0',
                            'path': 'bench/%s.iso' % name,
                            'force': True,
                        }
                    },
                    f,
                )
        url = '%s/folder/bench/curl.iso?dcPath=ha-datacenter&dsName=LocalDS_0' % esx['url']
        os.makedirs(os.path.join(ds_dir, 'bench'), exist_ok=True)

        print('payload: %d MiB (%d bytes), sha256 %s' % (size // MIB, size, local_sha))
        print('endpoint: %s (govmomi simulator, TLS)' % esx['url'])
        # curl+sha: curl with a SHA-256 of the file computed beside it, the same work the module does
        contenders = ('module', 'module-cached', 'module-progress', 'module-worker', 'curl') + (('curl+sha',) if shutil.which('openssl') else ())
        rates = {name: [] for name in contenders}
        rss = {name: [] for name in contenders}
        cpus = {name: [] for name in contenders}
        for run in range(1, args.runs + 1):
            for name in contenders:
                target = os.path.join(ds_dir, 'bench', ('curl' if name == 'curl+sha' else name) + '.iso')
                for stale in (target, target + '.sha256'):
                    if os.path.exists(stale):
                        os.unlink(stale)
                if name == 'module-worker':
                    # as build_esxi.yml runs it (bench_common.WORKER_CHILD), on a digest-cached ISO like 'module-cached'
                    argv = [sys.executable, '-c', WORKER_CHILD, os.path.join(work, 'collections'), 'datastore_upload', module_args[name]]
                elif name.startswith('module'):
                    argv = [sys.executable, module, module_args[name]]
                else:
                    argv = [curl, '-sSf', '-k', '-u', '%s:%s' % (esx['username'], esx['password']), '-T', src, '-o', '/dev/null', url]
                if name == 'curl+sha':
                    # what the module delivers: the upload plus the file's SHA-256, computed side by side
                    argv = ['sh', '-c', 'openssl dgst -sha256 "$0" >/dev/null & "$@"; rc=$?; wait $! && exit $rc', src] + argv
                elapsed, peak, cpu, out = measure(argv, env)
                if name == 'module-worker':
                    report = json.loads(out)
                    elapsed, out = report['elapsed'], json.dumps(report['result'])
                if name.startswith('module'):
                    result = json.loads(out)
                    assert result.get('changed') and result['sha256'] == local_sha, result
                if os.path.getsize(target) != size or sha256(target) != local_sha:
                    raise SystemExit('%s: uploaded bytes differ from the source' % name)
                rate = size / MIB / elapsed
                rates[name].append(rate)
                rss[name].append(peak)
                cpus[name].append(cpu)
                print('run %d %-15s %6.2f s  %7.1f MiB/s  CPU %5.2f s  peak RSS %5.1f MiB' % (run, name, elapsed, rate, cpu, peak / MIB))
                os.unlink(target)

        module_rate = statistics.median(rates['module'])
        curl_rate = statistics.median(rates['curl'])
        ratio = module_rate / curl_rate
        best_ratio = max(rates['module']) / max(rates['curl'])
        peak = max(rss['module'] + rss['module-cached'] + rss['module-progress'])  # module-worker's holds the worker's ansible
        print(
            'median rate: module %.1f MiB/s, curl -T %.1f MiB/s; best: module %.1f, curl %.1f'
            % (module_rate, curl_rate, max(rates['module']), max(rates['curl']))
        )
        print('median client CPU: module %.2f s, curl %.2f s' % (statistics.median(cpus['module']), statistics.median(cpus['curl'])))
        if rates.get('curl+sha'):
            print(
                'curl -T with openssl dgst -sha256 beside it: median %.1f MiB/s, CPU %.2f s; module/(curl+sha256) %.2f'
                % (statistics.median(rates['curl+sha']), statistics.median(cpus['curl+sha']), module_rate / statistics.median(rates['curl+sha']))
            )
        print('ratio module/curl: median %.2f, best %.2f (target >= 0.90) %s' % (ratio, best_ratio, 'OK' if ratio >= 0.9 else 'BELOW TARGET'))
        cached_ratio = statistics.median(rates['module-cached']) / curl_rate
        print(
            'ratio module-cached/curl (an ISO iso_customize wrote, digest cached): median %.2f (target >= 0.90) %s'
            % (cached_ratio, 'OK' if cached_ratio >= 0.9 else 'BELOW TARGET')
        )
        worker_ratio = statistics.median(rates['module-worker']) / curl_rate
        print(
            'ratio module-worker/curl (in the Ansible worker on a digest-cached ISO, as build_esxi.yml runs it; no Python '
            'start-up, no import of ansible.module_utils.basic): median %.2f (target >= 0.90) %s'
            % (worker_ratio, 'OK' if worker_ratio >= 0.9 else 'BELOW TARGET')
        )
        print(
            'progress_file: module-progress %.1f MiB/s, ratio module-progress/module %.2f'
            % (statistics.median(rates['module-progress']), statistics.median(rates['module-progress']) / module_rate)
        )
        print(
            'module peak RSS: %.1f MiB (target <= 64 MiB) %s; curl peak RSS %.1f MiB'
            % (peak / MIB, 'OK' if peak <= 64 * MIB else 'ABOVE TARGET', max(rss['curl']) / MIB)
        )
        print('(module times include Python start-up, the HEAD/sidecar requests and SHA-256 of the file)')
    finally:
        shutil.rmtree(work)
        shutil.rmtree(os.path.join(ds_dir, 'bench'), ignore_errors=True)


if __name__ == '__main__':
    main()
