# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The manifest a disk image carries in the gap between its MBR and its partition: the request that built it.

An image whose manifest matches the request is not rebuilt (idempotence without reading the image).
"""

from __future__ import annotations

import json
import struct

from ansible_collections.esxi.customizer.plugins.module_utils._errors import DiskImageError
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.mbr import PARTITION_START, SECTOR

MANIFEST_OFFSET = 8 * SECTOR
MANIFEST_MAGIC = b'ESXICUST-DISKIMAGE\x00'
MANIFEST_MAX = PARTITION_START * SECTOR - MANIFEST_OFFSET - 4 - len(MANIFEST_MAGIC)
MANIFEST_FORMAT = 1


def encode_manifest(doc: dict) -> bytes:
    data = json.dumps(doc, sort_keys=True, separators=(',', ':')).encode('utf-8')
    if len(data) > MANIFEST_MAX:
        raise DiskImageError('the request is too large to record in the image (%d bytes)' % len(data))
    return MANIFEST_MAGIC + struct.pack('<I', len(data)) + data


def decode_manifest(blob: bytes) -> dict | None:
    """The manifest at the start of ``blob`` (bytes read at MANIFEST_OFFSET), None when there is none."""
    if not blob.startswith(MANIFEST_MAGIC) or len(blob) < len(MANIFEST_MAGIC) + 4:
        return None
    (length,) = struct.unpack_from('<I', blob, len(MANIFEST_MAGIC))
    data = blob[len(MANIFEST_MAGIC) + 4 : len(MANIFEST_MAGIC) + 4 + length]
    if length > MANIFEST_MAX or len(data) != length:
        return None
    try:
        doc = json.loads(data.decode('utf-8'))
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get('format') == MANIFEST_FORMAT else None


def read_image_manifest(path: str) -> dict | None:
    """The manifest of an existing image, None when ``path`` is absent or is not one of ours."""
    try:
        with open(path, 'rb') as stream:
            head = stream.read(SECTOR)
            stream.seek(MANIFEST_OFFSET)
            blob = stream.read(PARTITION_START * SECTOR - MANIFEST_OFFSET)
    except OSError:
        return None
    if len(head) < SECTOR or head[510:512] != b'\x55\xaa':
        return None
    return decode_manifest(blob)


def up_to_date(manifest: dict | None, digest: str, dest_size: int | None) -> bool:
    """Whether an image with ``manifest`` (and ``dest_size`` bytes) is the output of request ``digest``."""
    return bool(manifest) and manifest.get('digest') == digest and manifest.get('size') == dest_size
