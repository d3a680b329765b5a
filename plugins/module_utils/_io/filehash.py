# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sha256 of whole files, streamed, with a cache in an extended attribute.

Idempotent re-runs (iso_customize, disk_image, datastore_upload) must not re-read a multi-hundred-MB image
just to report or compare its hash; the digest we computed is kept in a user xattr keyed by size, mtime and
inode, so any change to the file invalidates it.
"""

from __future__ import annotations

import hashlib
import os

XATTR_SHA256 = 'user.esxi_customizer.sha256'
CHUNK = 1024 * 1024


def sha256_file(path):
    """sha256 of a whole file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(CHUNK), b''):
            digest.update(block)
    return digest.hexdigest()


def _cache_key(st):
    return '%d:%d:%d:' % (st.st_size, st.st_mtime_ns, st.st_ino)


def cached_sha256(path):
    """The cached sha256 of ``path`` if the cache still describes the file (same size, mtime, inode), else None."""
    if not hasattr(os, 'getxattr'):
        return None
    try:
        key = _cache_key(os.stat(path))
        cached = os.getxattr(path, XATTR_SHA256).decode('ascii')
    except (OSError, UnicodeDecodeError):
        return None
    return cached[len(key):] if cached.startswith(key) else None


def file_sha256(path, use_cache=True):
    """sha256 of ``path``, from the xattr cache when it still describes the file, else computed and cached."""
    cached = cached_sha256(path) if use_cache else None
    if cached:
        return cached
    digest = sha256_file(path)
    remember_sha256(path, digest)
    return digest


def remember_sha256(path, digest):
    """Cache ``digest`` (computed while writing or reading ``path``) for later :func:`file_sha256` calls."""
    if not hasattr(os, 'setxattr'):
        return
    try:
        os.setxattr(path, XATTR_SHA256, (_cache_key(os.stat(path)) + digest).encode('ascii'))
    except OSError:
        pass  # file systems without user xattrs: the next run just hashes again
