# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An installer ISO's VIBs as packages whose payloads are files of the ISO (one home for that mapping).

hardware_coverage reads drivers this way, a patch rebase (:mod:`.rebase`) re-lays-out the VIBs it keeps from them.
Each VIB is its image database record: the original descriptor (``.xml.orig``) when the database keeps one, so its
checksums are those its signature covers, else the database copy; the payloads are the ISO files that
:meth:`~.model.EsxiImage.payload_file` finds (root files under their local names, loader files under their natural
names). An esxio (DPU) VIB's payloads are not ISO files: they travel inside ``ESXIODPT.TGZ`` (:func:`esxio_payloads`).
"""

from __future__ import annotations

import functools
import gzip
import os
import tarfile
import tempfile
from collections.abc import Iterable
from typing import IO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import VibRecord
from ansible_collections.esxi.customizer.plugins.module_utils._formats.tarstream import open_tar_stream
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import parse_descriptor
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import PackageVib, PayloadSource
from ansible_collections.esxi.customizer.plugins.module_utils._io.limits import DEFAULT_LIMITS
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import COPY_CHUNK

ESXIO_BUNDLE = '/ESXIODPT.TGZ'


def image_vib(image: EsxiImage, record: VibRecord, *, payload_types: Iterable[str] | None = None, required: bool = False) -> PackageVib | None:
    """VIB ``record`` of ``image`` as a :class:`~.packages.PackageVib` over the ISO file (payloads of ``payload_types`` only).

    A payload whose file is missing (or is not one contiguous extent) is left out, or with ``required`` an error
    naming the VIB and the payload. None when no payload is left (and the VIB has payloads).
    """
    locals_ = image.profile.vibs.get(record.vib_id, {})
    descriptor = parse_descriptor(record.orig or record.xml, '%s: VIB %s' % (image.path, record.vib_id))
    wanted = set(payload_types) if payload_types is not None else None
    sources = {}
    for payload in descriptor.payloads:
        if wanted is not None and payload.type not in wanted:
            continue
        entry = image.payload_file(payload.type, payload.name, locals_.get(payload.name, ''))
        if entry is None or entry.extents != 1:
            if required:
                where = '/' + locals_[payload.name].upper() if payload.name in locals_ else 'no local name in the profile'
                raise FormatError(
                    'VIB %s: payload %s (%s) is %s on the ISO, so the VIB cannot be carried over'
                    % (record.vib_id, payload.name, where, 'not' if entry is None else 'fragmented'),
                    path=image.path,
                )
            continue
        offset = entry.extent * image.reader.logical_block_size
        sources[payload.name] = PayloadSource(functools.partial(open, image.path, 'rb'), offset, entry.size, (image.path, offset, entry.size))
    if descriptor.payloads and not sources:
        return None
    descriptor.payloads = [p for p in descriptor.payloads if p.name in sources]
    return PackageVib(descriptor, record.orig or record.xml, record.sig or b'', payload_sources=sources, label='%s: %s' % (image.path, record.vib_id))


class SpooledPayloads:
    """Payload bytes copied out of an archive into one anonymous temporary file (gone when closed or on exit)."""

    def __init__(self):
        self._file = tempfile.TemporaryFile(prefix='esxi-customizer-esxio-', buffering=COPY_CHUNK)

    def add(self, stream: IO[bytes], *, limit: int, label: str) -> tuple[int, int]:
        offset = self._file.seek(0, os.SEEK_END)
        copied = 0
        while True:
            chunk = stream.read(COPY_CHUNK)
            if not chunk:
                break
            copied += len(chunk)
            if copied > limit:
                raise FormatError('expands past %d bytes: refusing a possible archive bomb' % limit, path=label)
            self._file.write(chunk)
        self._file.flush()
        return offset, copied

    def opener(self) -> IO[bytes]:
        """A new handle on the spool: closing it (as a payload reader does) leaves the others open."""
        return os.fdopen(os.dup(self._file.fileno()), 'rb')

    def close(self) -> None:
        self._file.close()


def esxio_payloads(image: EsxiImage, records: list[VibRecord], spool: SpooledPayloads) -> dict[str, PackageVib]:
    """The esxio VIBs ``records`` with their payloads read out of the ISO's ESXIODPT.TGZ (members by local name).

    Where the real archive keeps them is not known (esxi-formats); members are matched by their base name, in any
    directory and any case, as the depot renderer writes them (``esxio/payloads/<local name>``).
    """
    label = '%s:%s' % (image.path, ESXIO_BUNDLE)
    wanted = {}
    for record in records:
        for payload_name, local in image.profile.vibs.get(record.vib_id, {}).items():
            wanted[local.lower()] = (record.vib_id, payload_name)
    found = {}
    if wanted and image.reader.exists(ESXIO_BUNDLE):
        limit = DEFAULT_LIMITS.max_uncompressed_size
        with image.reader.open_file(ESXIO_BUNDLE) as raw, gzip.GzipFile(fileobj=raw, mode='rb') as packed:
            try:
                with open_tar_stream(packed, label=label) as tar:
                    for member in tar:
                        key = member.name.rsplit('/', 1)[-1].lower()
                        if member.isfile() and key in wanted and wanted[key] not in found:
                            found[wanted[key]] = spool.add(tar.extractfile(member), limit=limit, label=label)
            except (OSError, EOFError, tarfile.TarError) as err:  # gzip.BadGzipFile is an OSError
                raise FormatError('cannot be read (%s)' % err, path=label) from None
    vibs = {}
    for record in records:
        descriptor = parse_descriptor(record.orig or record.xml, '%s: VIB %s' % (image.path, record.vib_id))
        sources = {}
        for payload in descriptor.payloads:
            where = found.get((record.vib_id, payload.name))
            if where is None:
                raise FormatError(
                    'esxio VIB %s: payload %s is not in %s, so the VIB cannot be carried over; a patch that carries %s avoids this'
                    % (record.vib_id, payload.name, ESXIO_BUNDLE, record.name),
                    path=image.path,
                )
            sources[payload.name] = PayloadSource(spool.opener, where[0], where[1], None)
        vibs[record.vib_id] = PackageVib(
            descriptor, record.orig or record.xml, record.sig or b'', payload_sources=sources, label='%s: %s' % (image.path, record.vib_id)
        )
    return vibs
