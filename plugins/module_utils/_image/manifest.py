# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The manifest a customized ISO carries (:data:`MANIFEST_PATH`): what made it, so a re-run can tell it is up to date.

It records the source's size and an identity hash of its metadata (:func:`source_identity`), every input's sha256
and the options; its digest is what a re-run compares. It also keeps the chain of earlier customizations when the
source was itself customized, oldest first.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable

from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import SECTOR, IsoEntry, IsoReader

MANIFEST_PATH = '/ESXICUST.JSN'
MANIFEST_FORMAT = 1
MAX_MANIFEST_SIZE = 1024 * 1024
IDENTITY_HEAD = 1024 * 1024
IDENTITY_TAIL = 64 * 1024
IDENTITY_SMALL_FILE = 64 * 1024
TOOL = 'esxi.customizer.iso_customize'


def source_identity(path: str, files: Iterable[IsoEntry]) -> tuple[int, str]:
    """sha256 over the source's size, first MiB, last 64 KiB, file listing (path, extent, size) and small files.

    Volume descriptors, path tables and directory records of ESXi ISOs sit in the first MiB, and the
    listing pins every file's place and length; a re-run decides from this without reading the payloads.
    The small files are read whole: a kickstart, a boot.cfg or our manifest can change without changing its size
    (another address or password hash), and then neither the listing nor the first MiB shows it.
    """
    digest = hashlib.sha256()
    size = os.path.getsize(path)
    digest.update(b'size %d\n' % size)
    with open(path, 'rb') as f:
        digest.update(f.read(IDENTITY_HEAD))
        f.seek(max(0, size - IDENTITY_TAIL))
        digest.update(f.read(IDENTITY_TAIL))
        for entry in sorted(files, key=lambda e: e.path):
            digest.update(('%s %d %d\n' % (entry.path, entry.extent, entry.size)).encode('utf-8', 'surrogateescape'))
            if entry.size <= IDENTITY_SMALL_FILE and entry.extents == 1:
                f.seek(entry.extent * SECTOR)
                digest.update(f.read(entry.size))
    return size, digest.hexdigest()


def read_manifest(reader: IsoReader) -> dict | None:
    """The manifest embedded in an ISO opened with :class:`IsoReader`, or None."""
    entry = reader.find(MANIFEST_PATH)
    if entry is None or entry.size > MAX_MANIFEST_SIZE:
        return None
    try:
        return json.loads(reader.read(entry).decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        return None


def added_vibs(manifest: dict | None) -> set[str]:
    """The VIB IDs the customizations a manifest records added: the one that made the ISO and every earlier one."""
    manifest = manifest or {}
    added = set((manifest.get('result') or {}).get('added') or [])
    for earlier in manifest.get('history') or []:
        added |= set((earlier.get('result') or {}).get('added') or [])
    return added


def build_manifest(src_path: str, reader: IsoReader, *, inputs: list, options: dict, result: dict) -> dict:
    """The manifest of a request on the source ``reader`` (``digest`` covers source, inputs and options)."""
    size, identity = source_identity(src_path, reader.files())
    manifest = {'format': MANIFEST_FORMAT, 'tool': TOOL, 'source': {'size': size, 'identity_sha256': identity}, 'inputs': inputs, 'options': options}
    manifest['digest'] = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode('utf-8')).hexdigest()
    manifest['result'] = result
    previous = read_manifest(reader)
    if previous:
        # every earlier customization of the source, oldest first, then the one that made the source
        manifest['history'] = list(previous.get('history') or []) + [{key: previous.get(key) for key in ('digest', 'inputs', 'options', 'result')}]
    return manifest
