# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An installer ISO's image as an offline bundle (esxi-semantics §6), every VIB rebuilt byte for byte.

The ISO carries each VIB whole: its original descriptor (``vibs/<n>.xml.orig``) and signature (``.xml.sig``) in
IMGDB.TGZ, its payloads as files on the medium (esxi-semantics §6.4). A ``.vib`` is ``descriptor.xml``,
``sig.pkcs7`` and one ar member per payload in descriptor order. Each payload is streamed from the ISO into the zip
and checked against its size and ``sha-256`` on the way; a mismatch aborts the whole bundle (the temp file goes, the
previous bundle stays). ISOLINUX.BIN has its El Torito boot-info table (bytes 8-63) written by the ISO authoring
tool; the original bytes are restored before the check.

The zip is reproducible (fixed timestamps, stable order) and records in its comment the digest of what made it
(the source's identity, the options), so a re-run with the same inputs changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from ansible_collections.esxi.customizer.plugins.module_utils._errors import ChecksumError, EsxiCustomizerError, FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats import bundle as docs
from ansible_collections.esxi.customizer.plugins.module_utils._formats.ar import AR_MAGIC, member_header
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import VibRecord
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import Payload, parse_descriptor
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import IsoEntry
from ansible_collections.esxi.customizer.plugins.module_utils._image.manifest import added_vibs, read_manifest, source_identity
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import AtomicFile, apply_mode, parse_mode, write_bytes_atomic
from ansible_collections.esxi.customizer.plugins.module_utils._io.copy import Writeback
from ansible_collections.esxi.customizer.plugins.module_utils._io.fanout import BufferRing, OrderedWorker, Slot
from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import file_sha256, remember_sha256
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import FileSlice

TOOL = 'esxi.customizer.bundle_export'
FORMAT = 1
VMWARE_VENDORS = ('vmware', 'vmw')
BOOT_INFO_TABLE = slice(8, 64)
"""ISOLINUX.BIN bytes mkisofs -boot-info-table (and pycdlib) overwrite: PVD LBA, file LBA, length, checksum, 40 reserved."""
_MAX_BOOT_FILE = 4 * 1024 * 1024
CHUNK = 2 << 20
"""One read of a payload: large enough that per-chunk work (a queue entry per consumer) is noise."""
_RING_BUFFERS = 4
WRITEBACK_PIECE = 32 << 20
"""Written bytes after which disk writeback is started: the fsync at the commit then finds little left to do."""


@dataclass
class PayloadPart:
    payload: Payload
    entry: IsoEntry


@dataclass
class BundleVib:
    record: VibRecord
    descriptor: bytes
    signature: bytes
    parts: list[PayloadPart] = field(default_factory=list)

    @property
    def relative_path(self) -> str:
        return 'vib20/%s/%s.vib' % (self.record.name, self.record.vib_id)

    def members(self) -> list[tuple[str, int]]:
        return [('descriptor.xml', len(self.descriptor)), ('sig.pkcs7', len(self.signature))] + [(p.payload.name, p.payload.size) for p in self.parts]

    @property
    def packed_size(self) -> int:
        return 8 + sum(60 + size + (size & 1) for _name, size in self.members())


def _select(image: EsxiImage, include: object) -> list[VibRecord]:
    """The VIBs of the profile that ``include`` asks for: 'all', 'non_vmware' or a list of VIB/component names."""
    profile_ids = [vib_id for vib_id in image.profile.vibs if vib_id in image.imgdb.vibs]
    records = [image.imgdb.vibs[vib_id] for vib_id in profile_ids]
    if include in (None, 'all'):
        # the DPU's VIBs travel in esxiodpt.tgz, not as ISO files: nothing to rebuild them from
        return [r for r in records if not r.is_esxio]
    if include == 'non_vmware':
        manifest = read_manifest(image.reader)
        if manifest:
            added = added_vibs(manifest)  # what the customizations recorded in the ISO's manifest added
            return [r for r in records if r.vib_id in added]
        return [r for r in records if (r.vendor or '').lower() not in VMWARE_VENDORS]
    if isinstance(include, (list, tuple)):
        wanted = [str(item) for item in include]
        components = {c.name: set(c.vib_ids) for c in image.imgdb.components.values() if c.name and not c.reserved}
        chosen = set()
        for item in wanted:
            matched = {r.vib_id for r in records if item in (r.vib_id, r.name)} | components.get(item, set())
            if not matched:
                raise EsxiCustomizerError('include: %s is neither a VIB nor a component of the image profile' % item, path=image.path)
            chosen |= matched
        esxio = [r.vib_id for r in records if r.vib_id in chosen and r.is_esxio]
        if esxio:
            raise EsxiCustomizerError(
                'include: %s %s for the DPU (esxio): their payloads are inside esxiodpt.tgz, not files of the ISO, so they cannot be exported'
                % (', '.join(esxio), 'is' if len(esxio) == 1 else 'are'),
                path=image.path,
            )
        return [r for r in records if r.vib_id in chosen]
    raise ValueError("include must be 'all', 'non_vmware' or a list of VIB or component names")


def _bundle_vib(image: EsxiImage, record: VibRecord) -> BundleVib:
    label = '%s: VIB %s' % (image.path, record.vib_id)
    if record.orig is None:
        raise FormatError(
            'VIB %s cannot be rebuilt byte for byte: the image database keeps no original descriptor (.xml.orig) of it' % record.vib_id, path=image.path
        )
    descriptor = parse_descriptor(record.orig, label)
    locals_ = image.profile.vibs.get(record.vib_id, {})
    vib = BundleVib(record, record.orig, record.sig or b'')
    for payload in descriptor.payloads:
        local = locals_.get(payload.name)
        entry = image.payload_file(payload.type, payload.name, local) if local else None
        if entry is None:
            raise FormatError(
                'VIB %s cannot be rebuilt: payload %s (%s) is not on the ISO'
                % (record.vib_id, payload.name, ('/' + local.upper()) if local else 'no local name'),
                path=image.path,
            )
        if entry.size != payload.size:
            raise ChecksumError(
                'VIB %s: payload %s is %d bytes on the ISO (%s) but its descriptor says %d'
                % (record.vib_id, payload.name, entry.size, entry.path, payload.size),
                path=image.path,
            )
        vib.parts.append(PayloadPart(payload, entry))
    return vib


def boot_file_candidates(data: bytes) -> list[bytes]:
    """What ISOLINUX.BIN may have been before the ISO tool wrote its boot-info table: as it is, as syslinux builds it
    (PVD at 16, file 0, its length, the checksum of its words from byte 64 on, then 0xdeadbeef x 10), zeros."""
    if len(data) < BOOT_INFO_TABLE.stop:
        return [data]
    tail = data[BOOT_INFO_TABLE.stop :] + bytes(-(len(data) - BOOT_INFO_TABLE.stop) % 4)
    checksum = sum(struct.unpack('<%dI' % (len(tail) // 4), tail)) & 0xFFFFFFFF
    syslinux = struct.pack('<4I', 16, 0, len(data), checksum) + b'\xef\xbe\xad\xde' * 10
    zeros = bytes(BOOT_INFO_TABLE.stop - BOOT_INFO_TABLE.start)
    return [data] + [data[: BOOT_INFO_TABLE.start] + table + data[BOOT_INFO_TABLE.stop :] for table in (syslinux, zeros)]


def _plain_sha256(payload: Payload) -> str | None:
    for checksum in payload.checksums:
        if checksum.checksum_type.lower() == 'sha-256' and not checksum.verify_process:
            return checksum.value.lower()
    return None


def _verify(image: EsxiImage, vib: BundleVib, part: PayloadPart, *, sha256: str, length: int) -> None:
    """ChecksumError unless ``length`` bytes with ``sha256`` are what the payload's descriptor says."""
    payload, record = part.payload, vib.record
    expected = _plain_sha256(payload)
    if length != payload.size or (expected is not None and sha256 != expected):
        raise ChecksumError(
            'VIB %s: payload %s (%s on the ISO) does not match its descriptor (sha-256 %s, computed %s over %d bytes): '
            'the file was changed after the image was made, so the VIB cannot be rebuilt'
            % (record.vib_id, payload.name, part.entry.path, expected, sha256, length),
            path=image.path,
        )


def _restored_boot_file(image: EsxiImage, part: PayloadPart) -> bytes:
    data = image.reader.read(part.entry, max_size=_MAX_BOOT_FILE)
    expected = _plain_sha256(part.payload)
    for candidate in boot_file_candidates(data):
        if expected is None or hashlib.sha256(candidate).hexdigest() == expected:
            return candidate
    return data  # _verify names the file: none of the known originals matches the descriptor


class _BundleWriter:
    """The bundle's bytes, written to ``fd`` in one sequential pass, each payload read once from the ISO.

    Every chunk is read into a buffer of a small ring and, from that same buffer, written, CRC-32'd (this thread) and
    hashed on worker threads: the payload's sha-256 (checked against the descriptor), the ``.vib``'s (for the metadata)
    and, with ``checksum``, the whole file's. Nothing is patched after it is written (the ``.vib`` members carry their
    CRC in a data descriptor), so the file's digest needs no second read.
    """

    def __init__(self, image: EsxiImage, fd: int, *, checksum: bool):
        self._image, self._fd = image, fd
        self.layout = docs.zip_layout()
        self._ring = BufferRing(_RING_BUFFERS, CHUNK)
        self._workers = []
        self._digest = hashlib.sha256() if checksum else None
        self._file = self._worker('bundle') if checksum else None
        self._vib = self._worker('vib')
        self._payload = self._worker('payload')
        self._writeback = Writeback()
        self._written = self._started = 0

    def _worker(self, what: str) -> OrderedWorker:
        worker = OrderedWorker('esxi-customizer-%s-sha256' % what)
        self._workers.append(worker)
        return worker

    def write(self, data: bytes | memoryview, slot: Slot | None = None) -> None:
        if self._file is not None:
            self._file.submit(self._digest.update, data, slot)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._written += len(data)
        if self._written - self._started >= WRITEBACK_PIECE:
            # the disk starts on it now, so the one fsync at the end has little left to wait for
            self._writeback.start(self._fd, self._started, self._written - self._started)
            self._started = self._written

    def vib(self, vib: BundleVib) -> str:
        """One .vib as a stored member, every payload checked (ChecksumError, nothing kept); its sha256."""
        self.write(self.layout.stream_header(vib.relative_path, vib.packed_size))
        digest = hashlib.sha256()
        crc = 0

        def emit(data, slot=None):
            nonlocal crc
            crc = zlib.crc32(data, crc)
            self._vib.submit(digest.update, data, slot)
            self.write(data, slot)

        emit(AR_MAGIC)
        for name, data in (('descriptor.xml', vib.descriptor), ('sig.pkcs7', vib.signature)):
            emit(member_header(name, len(data)) + data + b'\n' * (len(data) & 1))
        checks = []
        for part in vib.parts:
            emit(member_header(part.payload.name, part.payload.size))
            payload = hashlib.sha256()
            length = 0
            for data, slot in self._payload_chunks(part):
                self._payload.submit(payload.update, data, slot)
                emit(data, slot)
                length += len(data)
            checks.append((part, payload, length))
            if length != part.payload.size:
                break  # the ISO shrank under us: _verify says so
            if length & 1:
                emit(b'\n')
        self._payload.sync()
        self._vib.sync()
        for part, payload, length in checks:
            _verify(self._image, vib, part, sha256=payload.hexdigest(), length=length)
        self.write(self.layout.descriptor(crc))
        return digest.hexdigest()

    def _payload_chunks(self, part: PayloadPart):
        """(bytes, slot) of the payload, in order; a slot is a ring buffer to lend to every consumer, or None."""
        if part.payload.type == 'boot_iso_bios' or part.entry.extents != 1:
            whole = _restored_boot_file(self._image, part) if part.payload.type == 'boot_iso_bios' else b''.join(self._image.reader.stream(part.entry))
            view = memoryview(whole)
            for offset in range(0, len(view), CHUNK):
                yield view[offset : offset + CHUNK], None
            return
        # one extent (every payload seen): read the ISO file directly, no pycdlib on the data path
        source = FileSlice(self._image.path, part.entry.extent * self._image.reader.logical_block_size, part.entry.size)
        try:
            fd, offset, left = source.kernel_fd, source.kernel_offset, source.length
            if left > CHUNK and hasattr(os, 'posix_fadvise'):
                os.posix_fadvise(fd, offset, left, os.POSIX_FADV_SEQUENTIAL)
            while left:
                slot = self._ring.take()
                got = os.preadv(fd, [slot.view[: min(left, CHUNK)]], offset)
                if not got:
                    return
                yield slot.view[:got], slot
                offset += got
                left -= got
        finally:
            source.close()

    def finish(self) -> str | None:
        """Everything is written: the file's sha256 (None without ``checksum``)."""
        if self._file is None:
            return None
        self._file.sync()
        return self._digest.hexdigest()

    def close(self) -> None:
        for worker in self._workers:
            worker.close()

    def __enter__(self) -> _BundleWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _digest(image: EsxiImage, *, options: dict) -> str:
    size, identity = source_identity(image.path, image.reader.files())
    made_of = {'format': FORMAT, 'tool': TOOL, 'source': {'size': size, 'identity_sha256': identity}, 'options': options}
    return hashlib.sha256(json.dumps(made_of, sort_keys=True).encode('utf-8')).hexdigest()


def read_bundle_comment(path: str) -> dict | None:
    """What the bundle at ``path`` says made it (its zip comment), or None (absent, not ours, not a zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            comment = json.loads(archive.comment.decode('utf-8'))
    except (OSError, zipfile.BadZipFile, ValueError, UnicodeDecodeError):
        return None
    return comment if isinstance(comment, dict) and comment.get('tool') == TOOL else None


def _write(
    image: EsxiImage, dest: str, vibs: list[BundleVib], *, comment: dict, names: tuple[str, str], include_all: bool, checksum: bool, mode: int | None
) -> str | None:
    """Write the bundle atomically; return its sha256 (hashed from the bytes as they are written) or None."""
    version = image.version or ''
    meta_entries = [(docs.VENDOR_INDEX_NAME, docs.vendor_index_xml(version))]
    with AtomicFile(dest, mode=mode) as out, _BundleWriter(image, out.fd, checksum=checksum) as writer:
        for number, vib in enumerate(vibs, start=1):
            digest = writer.vib(vib)
            meta_entries.append(
                (
                    'vibs/%s-%d.xml' % (vib.record.name, number),
                    docs.metadata_vib_xml(vib.descriptor, relative_path=vib.relative_path, packed_size=vib.packed_size, sha256=digest, label=vib.record.vib_id),
                )
            )
        chosen = [vib.record.vib_id for vib in vibs]
        meta_entries += _bulletins(image, chosen, include_all=include_all)
        if include_all:
            name = image.profile.name or 'image'
            meta_entries.append(('profiles/%s.xml' % name, docs.depot_profile_xml(image.profile.to_xml(), chosen, label=image.path)))
        layout = writer.layout
        writer.write(layout.member('index.xml', docs.index_xml(*names), compress=True))
        writer.write(layout.member(docs.VENDOR_INDEX_NAME, docs.vendor_index_xml(version), compress=True))
        writer.write(layout.member(docs.METADATA_NAME, docs.small_zip(meta_entries), compress=False))
        writer.write(layout.finish(json.dumps(comment, sort_keys=True).encode('utf-8')))
        sha256 = writer.finish()
        out.commit()
    if sha256 is not None:
        remember_sha256(dest, sha256)
    return sha256


def _bulletins(image: EsxiImage, chosen: list[str], *, include_all: bool) -> list[tuple[str, bytes]]:
    """The image's components whose VIBs are all in the bundle; for an image without any (6.x), one image bulletin."""
    picked = set(chosen)
    found = []
    for component in sorted(image.imgdb.components.values(), key=lambda c: c.id):
        if component.reserved or not component.vib_ids or not set(component.vib_ids) <= picked:
            continue
        found.append(('bulletins/%s.xml' % component.id, component.xml))
    if not found and include_all:
        profile = image.profile
        found.append(
            (
                'bulletins/%s.xml' % (profile.name or 'image'),
                docs.image_bulletin_xml(
                    profile_name=profile.name or 'image',
                    vendor=profile.creator or '',
                    version=image.version or '',
                    vib_ids=chosen,
                    release_date=profile.creation_time or '',
                ),
            )
        )
    return found


def export_bundle(
    src: str,
    dest: str,
    *,
    vendor_name: str,
    vendor_code: str,
    include: object = 'all',
    spec_path: str | None = None,
    force: bool = False,
    check_mode: bool = False,
    checksum: bool = True,
    mode: object = None,
) -> dict:
    """Write the offline bundle of the ISO ``src`` to ``dest``; return the module's result dict."""
    src, dest = os.path.abspath(src), os.path.abspath(dest)
    docs.check_vendor(vendor_name, vendor_code)
    mode = parse_mode(mode)
    with EsxiImage.open(src) as image:
        if image.imgdb is None or image.profile is None:
            raise FormatError('has no image database with an image profile: there is nothing to export', path=src)
        records = _select(image, include)
        left_out = [r.vib_id for r in image.imgdb.vibs.values() if r.is_esxio and r.vib_id in image.profile.vibs and include in (None, 'all')]
        if not records:
            raise EsxiCustomizerError('include=%s selects no VIB of the image profile' % json.dumps(include), path=src)
        vibs = [_bundle_vib(image, record) for record in records]
        options = {'vendor_name': vendor_name, 'vendor_code': vendor_code, 'include': include}
        digest = _digest(image, options=options)
        ids = [vib.record.vib_id for vib in vibs]
        existing = read_bundle_comment(dest) if os.path.exists(dest) else None
        changed = force or existing is None or existing.get('digest') != digest
        written = None
        spec_bytes = (json.dumps(software_spec(image), indent=2, sort_keys=True) + '\n').encode('utf-8') if spec_path else None
        spec_changed = spec_bytes is not None and (force or _read_small(spec_path) != spec_bytes)
        result = {
            'changed': changed,
            'dest': dest,
            'vibs': ids,
            'profile': image.profile.name,
            'esxi_version': image.version,
            'warnings': [
                '%d esxio (DPU) VIB(s) are not in the bundle: their payloads are inside esxiodpt.tgz, not ISO files (%s)' % (len(left_out), ', '.join(left_out))
            ]
            if left_out
            else [],
            'diff': [{'before_header': dest, 'after_header': dest, 'before': _listing(existing), 'after': _listing({'vibs': ids})}] if changed else [],
        }
        if spec_bytes is not None:
            result['software_spec'] = json.loads(spec_bytes)
        if changed and not check_mode:
            comment = {'tool': TOOL, 'format': FORMAT, 'digest': digest, 'vibs': ids}
            written = _write(
                image, dest, vibs, comment=comment, names=(vendor_name, vendor_code), include_all=include in (None, 'all'), checksum=checksum, mode=mode
            )
        elif not changed:
            result['changed'] = apply_mode(dest, mode, check_mode=check_mode)
        if spec_changed:
            result['changed'] = True
            if not check_mode:
                write_bytes_atomic(os.path.abspath(spec_path), spec_bytes, mode=mode)
    present = os.path.exists(dest) and not (check_mode and changed)
    result['size'] = os.path.getsize(dest) if present else None
    result['sha256'] = (written or file_sha256(dest)) if present and checksum else None
    return result


def software_spec(image: EsxiImage) -> dict:
    """The 7.0+ software specification of the image (what ``esxcli``/PowerCLI ``New-IsoImage -SoftwareSpec``/vLCM
    read): the base image version and, as components, those the customizations recorded in the ISO's manifest added.

    The ISO holds no base-image or add-on metadata, so everything a customization did not add counts as base image.
    """
    components = [c for c in image.imgdb.components.values() if not c.reserved and c.name]
    if not components:
        raise EsxiCustomizerError('software_spec: the image has no components (ESXi 6.x); a software specification needs 7.0 or later', path=image.path)
    base = next((c.version for c in components if c.name == 'ESXi'), None)
    if base is None:
        bases = [r.version for r in image.imgdb.vibs_by_name('esx-base') if r.vib_id in image.profile.vibs]
        base = bases[0] if bases else image.build
    added = added_vibs(read_manifest(image.reader))
    chosen = {c.name: c.version for c in components if set(c.vib_ids) & added}
    return {'base_image': {'version': base}, 'components': dict(sorted(chosen.items()))}


def _read_small(path: str) -> bytes | None:
    try:
        with open(path, 'rb') as stream:
            return stream.read(1 << 20)
    except OSError:
        return None


def _listing(comment: dict | None) -> str:
    if not comment:
        return ''
    return ''.join('%s\n' % vib_id for vib_id in comment.get('vibs') or [])
