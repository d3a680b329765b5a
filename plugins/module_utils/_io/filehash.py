# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sha256 of files and byte ranges, streamed; the one file identity; a cache of whole-file digests.

Idempotent re-runs (iso_customize, disk_image, datastore_upload) must not re-read a multi-hundred-MB image
just to report or compare its hash. The digest we computed is cached under the file's :func:`identity`
(device, inode, size, mtime and ctime): any write, truncation, replacement or ``touch -r`` changes one of them.
ctime is what users cannot set back, which is why the cache lives in a small file of its own under the user's
cache directory and not in an extended attribute of the file: setting an xattr changes the ctime it would record.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import write_bytes_atomic

CHUNK = 1024 * 1024
CACHE_ENV = 'ESXI_CUSTOMIZER_CACHE_DIR'
_CACHE_FORMAT = 1


def identity(st: os.stat_result) -> list[int]:
    """What makes two looks at a file the same file in the same state: one key for every cache and manifest."""
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def hash_range(fd: int, digest: hashlib._Hash, *, start: int, end: int, label: str | None = None, holes: bool = False) -> None:
    """Feed bytes ``start``..``end`` of ``fd`` into ``digest`` (preadv into one reused buffer).

    The file ending early is a FormatError naming ``label``, unless ``holes``: a writer's output may have a
    finished range past its current end of file that is never filled, which reads as zeros in the final image.
    """
    buf = memoryview(bytearray(min(CHUNK, max(end - start, 1))))
    off = start
    while off < end:
        want = min(len(buf), end - off)
        got = os.preadv(fd, [buf[:want]], off)
        if not got:
            if not holes:
                raise FormatError('short read at offset %d (file truncated while reading?)' % off, path=label)
            digest.update(bytes(want))
            off += want
            continue
        digest.update(buf[:got])
        off += got


def sha256_fd(fd: int, *, label: str | None = None) -> str:
    """sha256 of the whole file open as ``fd``."""
    digest = hashlib.sha256()
    hash_range(fd, digest, start=0, end=os.fstat(fd).st_size, label=label)
    return digest.hexdigest()


def sha256_file(path: str) -> str:
    """sha256 of a whole file, streamed."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return sha256_fd(fd, label=path)
    finally:
        os.close(fd)


def cache_dir(kind: str = 'sha256') -> str:
    """Where the cache of ``kind`` lives: ``~/.cache/esxi-customizer/<kind>``; with the environment variable set, that
    directory for the sha256 cache and its ``<kind>`` subdirectory for the others."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return explicit if kind == 'sha256' else os.path.join(explicit, kind)
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'esxi-customizer', kind)


def _cache_dir() -> str:
    return cache_dir('sha256')


def _cache_entry(st: os.stat_result) -> str:
    return os.path.join(_cache_dir(), '%d-%d.json' % (st.st_dev, st.st_ino))


def cached_sha256(path: str) -> str | None:
    """The cached sha256 of ``path`` if the cache still describes the file (same :func:`identity`), else None."""
    try:
        st = os.stat(path)
        with open(_cache_entry(st), 'rb') as stream:
            doc = json.loads(stream.read(4096).decode('utf-8'))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get('format') != _CACHE_FORMAT or doc.get('identity') != identity(st):
        return None
    digest = doc.get('sha256')
    return digest if isinstance(digest, str) and len(digest) == 64 else None


def file_sha256(path: str, use_cache: bool = True) -> str:
    """sha256 of ``path``, from the cache when it still describes the file, else computed and cached."""
    cached = cached_sha256(path) if use_cache else None
    if cached:
        return cached
    digest = sha256_file(path)
    remember_sha256(path, digest)
    return digest


def remember_sha256(path: str, digest: str) -> None:
    """Cache ``digest`` (computed while writing or reading ``path``, in its final place) for :func:`file_sha256`."""
    try:
        st = os.stat(path)
        entry = _cache_entry(st)
        os.makedirs(os.path.dirname(entry), mode=0o700, exist_ok=True)
        doc = {'format': _CACHE_FORMAT, 'identity': identity(st), 'sha256': digest}
        write_bytes_atomic(entry, json.dumps(doc).encode('utf-8'), mode=0o600, durable=False)
    except OSError:
        pass  # no writable cache directory: the next run just hashes again
