# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: how fast an output with its sha256 can be at all on this machine, against ``cp`` and ``cp && sync``.

Run from the collection root with the project venv, after ``bench/iso_customize.py`` has built its ISO:

    .venv/bin/python bench/hash_floor.py [--iso /tmp/esxi-customizer-bench/esxi70-400m.iso] [--runs 5]

Each tool runs in a fresh process, alternating, 5 rounds after one untimed warm-up, ``sync`` (untimed) before each:

* ``cp`` / ``cp+sync``      - the references of the iso_customize benchmark,
* ``openssl-sha256``        - ``openssl dgst -sha256`` of the ISO: SHA-256 alone, outside Python,
* ``hashlib-sha256``        - the collection's own file hash (``filehash.sha256_file``) of the ISO,
* ``copy+hash``             - the collection's copy engine alone, driven as the ISO writer drives it (kernel copy in
                              16 MiB pieces, writeback started after each, the output hashed right behind it on a
                              second thread) and an fsync: iso_customize's copy phase without reading the ISO,
                              planning or writing metadata.

What a module that writes the output and reports its sha256 cannot beat is ``copy+hash`` plus its own start-up and
plan; compare the iso_customize benchmark's ``ours-worker`` with it. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

# bench/ is sys.path[0] when a script is run by path
from bench_common import alternate, collection_path, print_table  # pylint: disable=import-error

HASH_CHILD = r'''
import sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import sha256_file
print(sha256_file(sys.argv[2]))
'''

COPY_CHILD = r'''
import os, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.esxi.customizer.plugins.module_utils._io.copy import HASH_PIECE, Copier, FollowingHasher
src, dest = sys.argv[2], sys.argv[3]
sfd = os.open(src, os.O_RDONLY)
dfd = os.open(dest, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
size = os.fstat(sfd).st_size
copier, hasher = Copier(), FollowingHasher(os.dup(dfd))
try:
    # as the ISO writer drives them: a piece copied, its writeback started, the hasher told
    for off in range(0, size, HASH_PIECE):
        n = min(HASH_PIECE, size - off)
        copier.copy(sfd, dfd, n, src_offset=off, dest_offset=off, label=src)
        copier.writeback.start(dfd, off, n)
        hasher.finished(off, off + n)
    os.fsync(dfd)
    print(hasher.close(size))
finally:
    hasher.abort()
    os.close(dfd)
    os.close(sfd)
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--iso', default='/tmp/esxi-customizer-bench/esxi70-400m.iso')
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()
    if not os.path.isfile(args.iso):
        raise SystemExit('%s does not exist: run bench/iso_customize.py first (or give --iso)' % args.iso)
    out = os.path.join(os.path.dirname(os.path.abspath(args.iso)), 'hash-floor.out')
    path = collection_path()
    tools = {
        'cp': ['cp', args.iso, out],
        'cp+sync': ['sh', '-c', 'cp "$1" "$2" && sync "$2"', 'cp', args.iso, out],
        'openssl-sha256': ['openssl', 'dgst', '-sha256', args.iso],
        'hashlib-sha256': [sys.executable, '-c', HASH_CHILD, path, args.iso],
        'copy+hash': [sys.executable, '-c', COPY_CHILD, path, args.iso, out],
    }
    print('%s: %.1f MiB, %d runs each, %d CPUs' % (args.iso, os.path.getsize(args.iso) / 1048576, args.runs, os.cpu_count()))

    def remove_output() -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(out)

    try:
        # every tool writes a fresh output: freeing the previous one is not part of any run
        print_table(alternate(tools, args.runs, before=remove_output))
    finally:
        remove_output()


if __name__ == '__main__':
    main()
