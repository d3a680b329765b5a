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

from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import IsoReader

# re-exported: bundle_export and the USB image import it from here
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import source_identity  # noqa: F401 pylint: disable=unused-import

MANIFEST_PATH = '/ESXICUST.JSN'
MANIFEST_FORMAT = 1
MAX_MANIFEST_SIZE = 1024 * 1024
TOOL = 'esxi.customizer.iso_customize'


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
    size, identity = reader.source_identity()
    manifest = {'format': MANIFEST_FORMAT, 'tool': TOOL, 'source': {'size': size, 'identity_sha256': identity}, 'inputs': inputs, 'options': options}
    manifest['digest'] = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode('utf-8')).hexdigest()
    manifest['result'] = result
    previous = read_manifest(reader)
    if previous:
        # every earlier customization of the source, oldest first, then the one that made the source
        manifest['history'] = list(previous.get('history') or []) + [{key: previous.get(key) for key in ('digest', 'inputs', 'options', 'result')}]
    return manifest
