# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An offline depot's image profile as the installer ISO VMware would make of it (esxi-semantics §5, §6).

:func:`open_depot_image` reads a base depot (``VMware-ESXi-<version>-<build>-depot.zip``), picks one image profile
and lays out the ISO before a byte is written: every payload under its ISO name (:mod:`.isolayout`), both boot.cfg,
ISOLINUX.CFG, IMGDB.TGZ and the tgz bundles of the release. The result is an :class:`~.model.EsxiImage` whose reader
(:class:`LayoutReader`) answers from that layout, so the customization pipeline (plan, validation, manifest) runs
on it unchanged, and a :class:`BaseLayout` the ISO writer starts from instead of a source ISO.

What is generated, and on what authority ([C] confirmed, [I] inferred in the references; decisions marked *ours*):

* local names: the installer's rule (esxi-formats §3.5) over the profile's VIBs in VIB name order [C rule; order ours];
* boot order (esxi-semantics §5.2) [C]: ``boot`` payloads by ``boot-order``, then the other boot-loaded payloads
  (``boot-order="100"`` ones first), then overlay VIBs' tardisks; VIBs in vib-id order, payloads in name order.
  A payload without ``boot-order`` gets VMware's value for its name (b 10, jumpstrt 47 ... procfs 101, microcode
  200/201 before 7.0 and 51/52/52 from 7.0 on; esx-base's s/sb/tpm/vim/vmx 100) [C DB67/DB70 values], any other
  boot payload 1000 (after the known ones) *ours*;
* boot.cfg: the §5.3 template; ``kernelopt`` ``runweasel`` before 6.7, ``runweasel cdromBoot`` on 9.x [I],
  ``cdromBoot runweasel`` otherwise; ``build=`` empty on 6.x, else esx-base's ``esx-version`` provide [I format];
* ISOLINUX.CFG: the stock structure (esxi-formats §2.3); UPGRADE/PROFILE.XML: the database's profile [I];
* IMGDB.TGZ: the profile in database form (payload map), every VIB's descriptor with ``.orig``/``.sig``, and from
  7.0 on the depot's components whose VIBs are all in the profile [C layout; I that media carry bulletins];
* IMGPAYLD.TGZ: ``var/db/payloads/boot/<local name>`` of every ``boot`` payload [C content];
* BASEMISC.TGZ (7.0U2+): ``var/db/payloads/<type>/<payload name>`` of every esx-base payload that is not a tardisk
  [C for useropts and BOOTx64.EFI; I for the rest];
* RESVIBS.TGZ (7.0U2+): empty - a depot does not say which VIBs are reserved [I, *ours*];
* ESXIODPT.TGZ (8.0+): ``esxio/payloads/<local name>`` of the profile's esxio (DPU) VIBs, which boot.cfg never
  loads [I: the real layout is not known];
* not written: ``.DISCINFO``, ``UPGRADE/METADATA.ZIP`` (no confirmed content).

Payloads stream from the depot (kernel copies for .vib files stored in the zip); the generated tgz bundles are built
once into anonymous temporary files; nothing is written beside the source or the destination.

Every copy of a depot payload (onto the ISO, into IMGPAYLD.TGZ / BASEMISC.TGZ / ESXIODPT.TGZ) is checked against its
descriptor while it is copied - its size and its plain ``sha-256``, which pins every byte that reaches the ISO - and a
mismatch is a ChecksumError naming the depot, the VIB and the payload, raised before the destination is committed.
The check runs on a worker thread fed by the copy (:class:`~.vib.PayloadVerifier`). The ``gunzip`` checksums are not
recomputed for a payload that has a plain sha-256 (*ours*): they are functions of the same bytes, and inflating a
400 MiB tardisk for them took 4x the CPU of the sha-256 (docs/benchmarks.md); a VIB given in ``add`` is still checked
whole. Payload bytes of a ``.vib`` stored in the zip are read from the file directly, not through zipfile, which would
read and CRC every byte of the .vib in front of each payload.
A kernel-copied payload is read back once from the output right behind the copy. The ``.vib`` file's own sha-256
in the depot metadata is *not* checked when building (*ours*): it would cost one more read of every .vib; the payload
checks already cover every payload byte that reaches the ISO, and the descriptor and signature that do go into
IMGDB.TGZ are parsed here and covered by the VIB's signature (sig.pkcs7); the metadata checksum sits unsigned in the
same zip, so it adds no authenticity. ``package_info`` / ``verify_vib_file`` still check it on request.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError, FormatError, UnsupportedError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.bootcfg import BootCfg
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import BULLETINS_DIR, PROFILES_DIR, VIBS_DIR, ImageDatabase
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import ImageProfile, VibRecord, is_esxio_platforms, record_time
from ansible_collections.esxi.customizer.plugins.module_utils._image.edits import BytesContent, FileSliceContent, StreamContent
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import SECTOR, ElToritoEntry, IsoEntry, normalize, source_identity
from ansible_collections.esxi.customizer.plugins.module_utils._image.isolayout import BOOT_LOADED_TYPES, EL_TORITO_TYPES, TARDISK_TYPES, iso_path
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage, bounded_names, product_name, release_of
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import Package, PackageVib, load_package
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import COPY_CHUNK, SliceReader

LAYOUT_FORMAT = 1
"""Bumped whenever the layout rules change, so a manifest made by earlier rules no longer counts as up to date."""
APPLICATION_ID = 'ESXIMAGE'
BOOT_CATALOG = '/BOOT.CAT'
BIOS_LOAD_SECTORS = 4
_VERSION_RE = re.compile(r'^(\d+\.\d+\.\d+(?:\.\d+)?)')
_UNKNOWN_BOOT_ORDER = 1000
_BASE_BOOT_ORDER = {'tboot': 1, 'b': 10, 'jumpstrt': 47, 'useropts': 48, 'features': 49, 'k': 50, 'chardevs': 99, 'user': 100, 'procfs': 101}
_MICROCODE_BOOT_ORDER = {(6,): {'uc_intel': 200, 'uc_amd': 201, 'uc_hygon': 202}, (7,): {'uc_intel': 51, 'uc_amd': 52, 'uc_hygon': 52}}
_BASE_FRONT_TARDISKS = frozenset(('s', 'sb', 'tpm', 'vim', 'vmx'))
"""esx-base's tardisks with ``boot-order="100"`` in real descriptors: they open the tardisk part of boot.cfg."""


def is_base_vib(vib: PackageVib | VibRecord) -> bool:
    """The VIB that makes an image ESXi: ``esx-base``, or one that provides ``esx-version``."""
    if vib.name == 'esx-base':
        return True
    provides = vib.descriptor.provides if isinstance(vib, PackageVib) else vib.relationships.get('provides', [])
    return any(p.name == 'esx-version' for p in provides)


def esx_version_of(vib: PackageVib | VibRecord) -> str:
    """A base VIB's ``esx-version`` provide (``7.0.3-0.105.21930508``), else its own version."""
    provides = vib.descriptor.provides if isinstance(vib, PackageVib) else vib.relationships.get('provides', [])
    found = [p.version for p in provides if p.name == 'esx-version' and p.version]
    return found[0] if found else (vib.descriptor.version if isinstance(vib, PackageVib) else vib.version)


# -- choosing the profile ---------------------------------------------------------------------------------------


def profile_esxi_version(profile: ImageProfile) -> str | None:
    """``7.0.3`` from the profile's esx-base vib-id (``VMware_bootbank_esx-base_7.0.3-0.105.21930508``), else None."""
    for vib_id in profile.vibs:
        parts = vib_id.split('_', 3)
        if len(parts) == 4 and parts[2] == 'esx-base':
            match = _VERSION_RE.match(parts[3])
            if match:
                return match.group(1)
    return None


def profile_facts(profile: ImageProfile) -> dict:
    """What package_info reports of a depot's image profile (like Image Builder's ``Get-EsxImageProfile``)."""
    return {
        'name': profile.name,
        'vendor': profile.creator,
        'acceptance_level': profile.acceptance_level,
        'description': profile.description,
        'vib_count': len(profile.vibs),
        'esxi_version': profile_esxi_version(profile),
        'vib_ids': list(profile.vibs),
    }


def choose_profile(profiles: list[ImageProfile], wanted: str | None, *, label: str) -> ImageProfile:
    """The profile ``wanted`` names; without a name the only one, or ``-standard`` of a ``-standard``/``-no-tools`` pair."""
    names = [p.name or '' for p in profiles]
    if not profiles:
        raise FormatError(
            'has no image profile: it is a driver, component or patch bundle, not a base depot; an installer ISO needs '
            'one (give this bundle in add to put its VIBs into an ISO)',
            path=label,
        )
    if wanted:
        exact = [p for p in profiles if p.name == wanted] or [p for p in profiles if (p.name or '').lower() == wanted.lower()]
        if len(exact) == 1:
            return exact[0]
        raise EsxiCustomizerError('profile: the depot has no image profile %s; it has %s' % (wanted, ', '.join(sorted(names))), path=label)
    if len(profiles) == 1:
        return profiles[0]
    standard = [p for p in profiles if (p.name or '').endswith('-standard')]
    if len(profiles) == 2 and len(standard) == 1 and standard[0].name[: -len('standard')] + 'no-tools' in names:
        return standard[0]
    raise EsxiCustomizerError('the depot has %d image profiles (%s): choose one with profile' % (len(profiles), ', '.join(sorted(names))), path=label)


# -- the layout -------------------------------------------------------------------------------------------------


@dataclass
class LayoutFile:
    path: str  # ISO 9660 path without version: /B.B00, /EFI/BOOT/BOOT.CFG
    content: BytesContent | FileSliceContent | StreamContent


class BaseLayout:
    """The installer ISO of a profile, before edits: files in write order, identifiers, El Torito, the instant."""

    def __init__(self, *, files: list[LayoutFile], volume_id: str, el_torito: list[tuple[str, str]], epoch: int, identity: str):
        self.files = files
        self.volume_id = volume_id
        self.application_id = APPLICATION_ID
        self.el_torito = el_torito  # [(platform 'bios'|'uefi', ISO path of the boot image)], the BIOS entry first
        self.boot_catalog = BOOT_CATALOG
        self.epoch = epoch
        self.identity = identity


class LayoutReader:
    """The read side of :class:`~.iso_reader.IsoReader` over a :class:`BaseLayout`: the ISO as it will be written."""

    logical_block_size = SECTOR
    has_joliet = False
    has_rock_ridge = False
    has_udf = False
    trees = ['iso9660']
    system_id = ''
    boot_catalog = None

    def __init__(self, path: str, layout: BaseLayout, *, base_identity: Callable[[], tuple[int, str]] | None = None):
        self.path = path
        self.layout = layout
        # what the layout was made from besides its own files: the depot zip by default, a rebase's source image
        self._base_identity = base_identity or (lambda: source_identity(path, []))
        self._files = []
        self._contents = {}
        for number, item in enumerate(layout.files, start=1):
            # extents are placeholders (the writer lays the image out); they keep the listing of source_identity stable
            entry = IsoEntry(item.path, item.content.length, number, 1, iso_path=item.path + ';1')
            self._files.append(entry)
            self._contents[normalize(item.path)] = item.content
        self._index = {normalize(entry.path): entry for entry in self._files}

    @property
    def volume_id(self) -> str:
        return self.layout.volume_id

    @property
    def application_id(self) -> str:
        return self.layout.application_id

    @property
    def volume_size(self) -> int:
        """An estimate: the files in whole sectors plus 1 MiB of descriptors, directories and the boot catalog."""
        return sum(-(-entry.size // SECTOR) * SECTOR for entry in self._files) + 1024 * 1024

    def volume_epoch(self) -> int | None:
        return self.layout.epoch

    def source_identity(self) -> tuple[int, str]:
        """The source's size and identity (a depot: head, tail with the zip directory) and the layout chosen from it."""
        size, depot_identity = self._base_identity()
        digest = hashlib.sha256(('depot %s layout %d\n' % (depot_identity, LAYOUT_FORMAT)).encode('ascii'))
        digest.update(self.layout.identity.encode('ascii'))
        return size, digest.hexdigest()

    def files(self) -> list[IsoEntry]:
        return list(self._files)

    def find(self, path: str) -> IsoEntry | None:
        return self._index.get(normalize(path))

    def exists(self, path: str) -> bool:
        return self.find(path) is not None

    def open_file(self, path: str | IsoEntry) -> IO[bytes] | io.RawIOBase:
        entry = path if isinstance(path, IsoEntry) else self.find(path)
        if entry is None:
            raise FormatError('has no file %s in the ISO it renders' % path, path=self.path)
        return self._contents[normalize(entry.path)].open()

    def read(self, path: str | IsoEntry, max_size: int = 64 * 1024 * 1024) -> bytes:
        entry = path if isinstance(path, IsoEntry) else self.find(path)
        if entry is None or entry.size > max_size:
            raise FormatError('%s is absent or larger than %d bytes' % (path, max_size), path=self.path)
        with self.open_file(entry) as stream:
            return stream.read(entry.size)

    def el_torito(self) -> list[ElToritoEntry]:
        found = []
        for platform, boot_path in self.layout.el_torito:
            entry = self.find(boot_path)
            found.append(
                ElToritoEntry(
                    platform=platform,
                    path=boot_path,
                    load_size=BIOS_LOAD_SECTORS if platform == 'bios' else 0,
                    extent=entry.extent if entry else 0,
                    media='no-emulation',
                    bootable=True,
                    boot_info_table=platform == 'bios',
                    size=entry.size if entry else None,
                )
            )
        return found

    def close(self) -> None:
        """The layout's temporary files belong to the :class:`DepotImage`, which closes them."""


def _payload_content(vib: PackageVib, name: str) -> FileSliceContent | StreamContent:
    """A payload as ISO file contents, checked against its descriptor while the writer copies it."""
    extent = vib.payload_extent(name)
    if extent is not None:
        # a .vib stored in the zip: copied by the kernel, read back behind the copy for the check, on a thread of the
        # writer's own (iso_writer), so the check hashes there
        return FileSliceContent(extent[0], extent[1], extent[2], check=lambda: vib.payload_check(name, inline=True))
    return StreamContent(lambda: vib.open_checked_payload(name), vib.payload_size(name))


def _volume_id(name: str) -> str:
    """The profile name as VMware's volume id: upper case, ISO 9660 characters, at most 32 (esxi-formats §1.1)."""
    return re.sub(r'[^A-Z0-9_\-. ]', '_', name.upper())[:32] or 'ESXI'


class _Renderer:
    """Lays out the ISO of ``profile`` over ``package`` (anything with ``vibs`` and ``components``, as :class:`.Package`)."""

    def __init__(self, package: Package, profile: ImageProfile, *, label: str, spool: Callable[[], IO[bytes]]):
        self.package = package
        self.profile = profile
        self.label = label
        self.spool = spool
        self.vibs = self._resolve()
        self.base = self._base_vib()
        self.esx_version = self._esx_version()
        match = _VERSION_RE.match(self.esx_version or '')
        self.version = match.group(1) if match else profile_esxi_version(profile)
        self.release = release_of(self.version) or (0,)
        self.locals = {}  # vib_id -> {payload name: local name}
        self.warnings = []

    def _resolve(self) -> list[PackageVib]:
        by_id = {vib.vib_id: vib for vib in self.package.vibs}
        missing = [vib_id for vib_id in self.profile.vibs if vib_id not in by_id]
        if missing:
            raise FormatError(
                'image profile %s lists %d VIB(s) the depot does not carry (%s): a partial depot cannot make an installer ISO'
                % (self.profile.name, len(missing), bounded_names(missing)),
                path=self.label,
            )
        return sorted((by_id[vib_id] for vib_id in self.profile.vibs), key=lambda vib: vib.vib_id)

    def _base_vib(self) -> PackageVib:
        bases = [vib for vib in self.vibs if is_base_vib(vib)]
        if not bases:
            raise FormatError('image profile %s has no base ESXi VIB (none provides esx-version, no esx-base)' % self.profile.name, path=self.label)
        return next((vib for vib in bases if vib.name == 'esx-base'), bases[0])

    def _esx_version(self) -> str | None:
        return esx_version_of(self.base)

    @staticmethod
    def is_esxio(vib: PackageVib) -> bool:
        return is_esxio_platforms(p.product_line_id for p in vib.descriptor.system_requires.software_platforms)

    # -- names and order -----------------------------------------------------------------------------------

    def assign_local_names(self) -> None:
        namer = ImageDatabase()  # no profile yet: only the names given here are taken
        taken = set()
        # VIB name order (then vib-id): lsi-msgpt3 gets .v01 before lsi-msgpt35 .v02, as on real media; in vib-id order
        # 'lsi-msgpt35_' would sort first ('5' < '_')
        for vib in sorted(self.vibs, key=lambda item: (item.name, item.vib_id)):
            names = {}
            for payload in vib.descriptor.payloads:
                local = namer.allocate_local_name(payload.name, payload.type, payload.vfat_name, reserved=taken, for_iso=payload.type in BOOT_LOADED_TYPES)
                taken.add(local)
                names[payload.name] = local
            self.locals[vib.vib_id] = names

    def boot_order_of(self, vib: PackageVib, payload) -> int:
        if payload.boot_order not in (None, ''):
            try:
                return int(payload.boot_order)
            except ValueError:
                pass
        if payload.type != 'boot':
            return 100 if vib is self.base and payload.name in _BASE_FRONT_TARDISKS else 0
        microcode = _MICROCODE_BOOT_ORDER[(6,) if self.release < (7,) else (7,)]
        return _BASE_BOOT_ORDER.get(payload.name, microcode.get(payload.name, _UNKNOWN_BOOT_ORDER))

    def boot_modules(self) -> list[str]:
        """Local names in boot order (esxi-semantics §5.2): kernel first, the tgz bundles not included."""
        kernel_part, rest, overlay = [], [], []
        for vib in self.vibs:
            if self.is_esxio(vib):
                continue  # a DPU's payloads travel in esxiodpt.tgz
            for payload in sorted(vib.descriptor.payloads, key=lambda p: p.name):
                local = self.locals[vib.vib_id][payload.name]
                if payload.type == 'boot':
                    kernel_part.append((self.boot_order_of(vib, payload), local))
                elif payload.type in TARDISK_TYPES and vib.descriptor.overlay:
                    overlay.append(local)
                elif payload.type in TARDISK_TYPES:
                    if self.boot_order_of(vib, payload) == 100:
                        rest.insert(0, local)
                    else:
                        rest.append(local)
        kernel_part.sort(key=lambda item: item[0])  # stable: vib-id, then name order among equals
        if not kernel_part:
            raise FormatError('image profile %s has no boot payload (no kernel): it cannot boot' % self.profile.name, path=self.label)
        return [local for _order, local in kernel_part] + rest + overlay

    # -- generated files -----------------------------------------------------------------------------------

    def tail(self) -> list[str]:
        """The generated archives boot.cfg ends with, by release (esxi-semantics §5.2)."""
        if self.release < (7, 0, 2):
            return ['imgdb.tgz', 'imgpayld.tgz']
        if self.release < (8,):
            return ['imgdb.tgz', 'basemisc.tgz', 'resvibs.tgz', 'imgpayld.tgz']
        return ['imgdb.tgz', 'basemisc.tgz', 'resvibs.tgz', 'esxiodpt.tgz', 'imgpayld.tgz']

    def bootcfg(self, modules: list[str]) -> bytes:
        if self.release < (6, 7):
            kernelopt = 'runweasel'
        elif self.release >= (9,):
            kernelopt = 'runweasel cdromBoot'
        else:
            kernelopt = 'cdromBoot runweasel'
        lines = [
            'bootstate=0',
            'title=Loading %s installer' % product_name(self.version),
            'timeout=5',
            'prefix=',
            'kernel=/%s' % modules[0],
            'kernelopt=%s' % kernelopt,
            'modules=%s' % ' --- '.join('/' + name for name in modules[1:]),
            'build=%s' % ('' if self.release < (7,) else (self.esx_version or '')),
            'updated=0',
        ]
        return ('\n'.join(lines) + '\n').encode('utf-8')

    def isolinux_cfg(self) -> bytes:
        lines = [
            'DEFAULT menu.c32',
            'MENU TITLE %s-%s Boot Menu' % (product_name(self.version), self.version or ''),
            'NOHALT 1',
            'PROMPT 0',
            'TIMEOUT 80',
            'LABEL install',
            '  KERNEL mboot.c32',
            '  APPEND -c boot.cfg',
            '  MENU LABEL %s ^Installer' % self.profile.name,
            'LABEL hddboot',
            '  LOCALBOOT 0x80',
            '  MENU LABEL ^Boot from local disk',
        ]
        return ('\n'.join(lines) + '\n').encode('utf-8')

    def db_profile(self) -> ImageProfile:
        """The depot profile in database form: each VIB with its payload map (esxi-formats §3.3)."""
        profile = copy.deepcopy(self.profile)
        order = list(profile.vibs)
        for vib_id in order:
            profile.remove_vib(vib_id)
        for vib_id in order:
            profile.add_vib(vib_id, self.locals[vib_id])
        profile.member = '%s%s%d' % (PROFILES_DIR, self.profile.name, zlib.crc32(self.profile.name.encode('utf-8')))
        return profile

    def imgdb(self, profile: ImageProfile) -> ImageDatabase:
        members = [(profile.member, profile.to_xml())]
        for vib in self.vibs:
            base = '%s%s-%d' % (VIBS_DIR, vib.name, zlib.crc32(vib.vib_id.encode('utf-8')))
            # the database copy re-rendered (checksums in VMware's order); .orig is what the signature covers
            members.append((base + '.xml', vib.descriptor.to_xml()))
            members.append((base + '.xml.orig', vib.descriptor_bytes))
            if vib.signed:
                members.append((base + '.xml.sig', vib.signature))
        if self.release >= (7,):
            wanted = set(self.profile.vibs)
            for component in self.package.components:
                if component.vib_ids and set(component.vib_ids) <= wanted:
                    members.append(('%s%s.xml' % (BULLETINS_DIR, component.id), component.xml_bytes))
        return ImageDatabase.from_members(members, path='%s: image profile %s' % (self.label, self.profile.name))

    def tgz(self, entries: list[tuple[str, int, Callable[[], IO[bytes] | io.RawIOBase]]], mtime: int) -> StreamContent:
        """A gzip'ed GNU tar of ``entries`` (name, size, opener), streamed into an anonymous temporary file."""
        spool = self.spool()
        # level 1: the members are compressed payloads already; 6 cost 34 ms more per 400 MiB depot than 1, for 0.01 % of size
        with gzip.GzipFile(filename='', mode='wb', fileobj=spool, mtime=0, compresslevel=1) as packed:
            with tarfile.open(fileobj=packed, mode='w', format=tarfile.GNU_FORMAT) as tar:
                seen = set()
                for name, size, opener in entries:
                    parts = name.split('/')[:-1]
                    for depth in range(1, len(parts) + 1):
                        directory = '/'.join(parts[:depth])
                        if directory not in seen:
                            seen.add(directory)
                            info = tarfile.TarInfo(directory)
                            info.type, info.mode, info.mtime, info.uname, info.gname = tarfile.DIRTYPE, 0o755, mtime, 'root', 'root'
                            tar.addfile(info)
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime, info.uname, info.gname = size, 0o644, mtime, 'root', 'root'
                    with opener() as stream:
                        tar.addfile(info, stream)
        length = spool.seek(0, os.SEEK_END)
        return StreamContent(lambda: SliceReader(spool, 0, length, close_base=False), length)

    def payload_entries(self, vibs, types, directory) -> list[tuple[str, int, Callable]]:
        found = []
        for vib in vibs:
            for payload in vib.descriptor.payloads:
                if payload.type in types:
                    name = directory(payload, self.locals[vib.vib_id][payload.name])
                    found.append((name, vib.payload_size(payload.name), lambda vib=vib, payload=payload: vib.open_checked_payload(payload.name)))
        return found

    # -- the whole ----------------------------------------------------------------------------------------

    def render(
        self, *, epoch: int | None = None, boot_settings: dict | None = None, extra_files: list[LayoutFile] = (), volume_id: str | None = None
    ) -> tuple[BaseLayout, BootCfg, BootCfg, ImageDatabase]:
        """The layout, both boot.cfg and the database. A rebase (:mod:`.rebase`) passes what it keeps of its source:
        ``boot_settings`` ({'bios'|'uefi': {'kernelopt', 'title', 'timeout'}}), ``extra_files`` (a kickstart), its
        ``volume_id`` and an ``epoch`` no earlier than the source's."""
        self.assign_local_names()
        modules = self.boot_modules() + self.tail()
        cfgs = {}
        for platform in ('bios', 'uefi'):
            cfg = BootCfg.parse(self.bootcfg(modules), path=self.label)
            for key, value in ((boot_settings or {}).get(platform) or {}).items():
                if value is not None:
                    cfg.set(key, value)
            cfgs[platform] = cfg.serialize()
        profile = self.db_profile()
        db = self.imgdb(profile)
        if epoch is None:
            epoch = max([t for t in (record_time(self.profile.creation_time), record_time(self.profile.modified_time)) if t is not None] or [0])
        files = []
        placed = {}
        el_torito = {}
        for vib in self.vibs:
            for payload in vib.descriptor.payloads:
                local = self.locals[vib.vib_id][payload.name]
                if self.is_esxio(vib):
                    continue
                path = iso_path(payload.type, payload.name, local)
                if normalize(path) in placed:
                    self.warnings.append(
                        'payload %s of %s would be %s, which payload %s already is; only the first is on the ISO'
                        % (payload.name, vib.vib_id, path, placed[normalize(path)])
                    )
                    continue
                placed[normalize(path)] = '%s of %s' % (payload.name, vib.vib_id)
                files.append(LayoutFile(path, _payload_content(vib, payload.name)))
                if payload.type in EL_TORITO_TYPES:
                    el_torito.setdefault(EL_TORITO_TYPES[payload.type], path)
        for platform, what in (('bios', 'boot_iso_bios (isolinux.bin)'), ('uefi', 'eltorito_image_efi (efiboot.img)')):
            if platform not in el_torito:
                raise UnsupportedError(
                    'image profile %s has no %s payload: the ISO could not boot in %s mode' % (self.profile.name, what, platform.upper()), path=self.label
                )
        tails = {'imgdb.tgz': BytesContent(db.to_tgz(mtime=epoch))}
        tails['imgpayld.tgz'] = self.tgz(self.payload_entries(self.vibs, ('boot',), lambda p, local: 'var/db/payloads/boot/' + local), epoch)
        if 'basemisc.tgz' in modules:
            misc = self.payload_entries(
                [self.base], set(p.type for p in self.base.descriptor.payloads) - TARDISK_TYPES, lambda p, _l: 'var/db/payloads/%s/%s' % (p.type, p.name)
            )
            tails['basemisc.tgz'] = self.tgz(misc, epoch)
            tails['resvibs.tgz'] = self.tgz([], epoch)
        if 'esxiodpt.tgz' in modules:
            esxio = [vib for vib in self.vibs if self.is_esxio(vib)]
            tails['esxiodpt.tgz'] = self.tgz(self.payload_entries(esxio, TARDISK_TYPES, lambda _p, local: 'esxio/payloads/' + local), epoch)
        for name in self.tail():
            files.append(LayoutFile('/' + name.upper(), tails[name]))
        files.append(LayoutFile('/BOOT.CFG', BytesContent(cfgs['bios'])))
        files.append(LayoutFile('/EFI/BOOT/BOOT.CFG', BytesContent(cfgs['uefi'])))
        files.append(LayoutFile('/ISOLINUX.CFG', BytesContent(self.isolinux_cfg())))
        files.append(LayoutFile('/UPGRADE/PROFILE.XML', BytesContent(profile.to_xml())))
        files.extend(extra_files)
        identity = hashlib.sha256()
        identity.update(('profile %s\n' % self.profile.name).encode('utf-8'))
        if volume_id:
            identity.update(('volume %s\n' % volume_id).encode('utf-8'))
        volume_id = volume_id or _volume_id(self.profile.name)
        for item in files:
            identity.update(('%s %d\n' % (item.path, item.content.length)).encode('utf-8'))
            if isinstance(item.content, BytesContent):
                identity.update(hashlib.sha256(item.content.data).digest())
        layout = BaseLayout(
            files=files,
            volume_id=volume_id,
            el_torito=[(platform, el_torito[platform]) for platform in ('bios', 'uefi')],
            epoch=epoch,
            identity=identity.hexdigest(),
        )
        bios = BootCfg.parse(cfgs['bios'], path='%s:/BOOT.CFG' % self.label)
        uefi = BootCfg.parse(cfgs['uefi'], path='%s:/EFI/BOOT/BOOT.CFG' % self.label)
        return layout, bios, uefi, db


class DepotImage:
    """A depot opened as an installer ISO source: :attr:`image` for the pipeline, :attr:`layout` for the writer."""

    def __init__(self, path: str, package: Package, image: EsxiImage, *, layout: BaseLayout, profile: str, warnings: list[str], spools: list):
        self.path = path
        self.package = package
        self.image = image
        self.layout = layout
        self.profile = profile
        self.warnings = warnings
        self._spools = spools

    def close(self) -> None:
        for spool in self._spools:
            spool.close()
        self._spools = []
        self.package.close()

    def __enter__(self) -> DepotImage:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_depot_image(path: str, profile: str | None = None) -> DepotImage:
    """Open the base depot ``path`` and lay out the installer ISO of its image profile ``profile`` (see :func:`choose_profile`)."""
    package = load_package(path)
    spools = []

    def spool():
        # anonymous (unlinked at once): nothing is left behind, and check mode writes no file
        handle = tempfile.TemporaryFile(prefix='esxi-customizer-depot-', buffering=COPY_CHUNK)
        spools.append(handle)
        return handle

    try:
        if package.kind not in ('bundle', 'component'):
            raise FormatError('is a %s, not an offline depot: an installer ISO is made from an ISO or a base depot zip' % package.kind, path=path)
        chosen = choose_profile(package.profiles, profile, label=path)
        renderer = _Renderer(package, chosen, label=path, spool=spool)
        layout, bios, uefi, db = renderer.render()
        reader = LayoutReader(path, layout)
        image = EsxiImage(reader, bios, uefi, imgdb=db, imgdb_entry=reader.find('/IMGDB.TGZ'))
        return DepotImage(path, package, image, layout=layout, profile=chosen.name, warnings=renderer.warnings, spools=spools)
    except BaseException:
        for handle in spools:
            handle.close()
        package.close()
        raise


def is_zip(path: str) -> bool:
    """True when ``path`` starts like a zip archive (a depot); an ISO starts with 32 KiB of system area."""
    try:
        with open(path, 'rb') as stream:
            return stream.read(4) in (b'PK\x03\x04', b'PK\x05\x06')
    except OSError:
        return False
