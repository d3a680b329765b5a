# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ESXi installer ISO as one model: files, both boot.cfg, the image database, El Torito.

:meth:`EsxiImage.open` reads metadata only: directory records, ``/BOOT.CFG``, ``/EFI/BOOT/BOOT.CFG``
and ``IMGDB.TGZ`` (a few KB to a few MB); payload files are never read.  :meth:`EsxiImage.problems`
lists what would break an installation: a profile payload whose file is missing from the ISO or
from boot.cfg (the installer then fails with "No such file ... /tardisks/<name>"), BIOS and UEFI
boot.cfg that disagree, boot.cfg entries that are not on the ISO.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from ansible_collections.esxi.customizer.plugins.module_utils._formats.bootcfg import BootCfg, Module, basename
from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import ImageDatabase
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import ImageProfile
from ansible_collections.esxi.customizer.plugins.module_utils._image.validate import validate_database
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import ElToritoEntry, IsoEntry, IsoReader
from ansible_collections.esxi.customizer.plugins.module_utils._image.isolayout import BOOT_LOADED_TYPES, lookup_paths

BIOS_BOOTCFG = '/BOOT.CFG'
UEFI_BOOTCFG = '/EFI/BOOT/BOOT.CFG'
IMGDB_NAME = 'imgdb.tgz'
MAX_BOOTCFG_SIZE = 1024 * 1024


_VERSION_RE = re.compile(r'(\d+\.\d+\.\d+(?:\.\d+)?)(?![\d.])')
# profile names: ESXi-6.7.0-8169922-standard, but ESXi-7.0U3c-19193900-standard, ESXi-8.0a-20842819-standard,
# DellEMC-ESXi-7.0U2-..., HPE-ESXi-6.7.0-Update3-iso-Gen9plus
# 9.x: ESX-9.0.0.0.24755229-standard (four parts, then the build after a dot)
_PROFILE_VERSION_RE = re.compile(r'(?<![\d.])([5-9])\.(\d+)(?:\.(\d+)|U(\d+))?(?:\.(\d+))?(?=[^\d.]|\.\d{6,}|$)')


def _split_version(build: str | None) -> str | None:
    match = _VERSION_RE.match(build or '')
    return match.group(1) if match else None


def release_of(version: str | None) -> tuple[int, ...] | None:
    """``'8.0.3'`` -> ``(8, 0, 3)``; None for None or text that is not a dotted release."""
    if not version or not re.match(r'^\d+(\.\d+)*$', version):
        return None
    return tuple(int(part) for part in version.split('.'))


def product_name(version: str | None) -> str:
    """What the release calls itself: ``ESX`` from 9.0 on (esxi-semantics 7.4), ``ESXi`` before."""
    release = release_of(version)
    return 'ESX' if release and release[0] >= 9 else 'ESXi'


def profile_name_version(name: str | None) -> str | None:
    """``6.7.0`` / ``7.0.3`` / ``8.0.0`` from an image profile name in VMware's or an OEM's style, or None."""
    match = _PROFILE_VERSION_RE.search(name or '')
    if not match:
        return None
    version = '%s.%s.%s' % (match.group(1), match.group(2), match.group(3) or match.group(4) or '0')
    return version + ('.' + match.group(5) if match.group(5) else '')


def bootcfg_facts(cfg_path: str, cfg: BootCfg | None) -> dict | None:
    """What the modules report of one boot.cfg (iso_info, iso_customize, disk_image): one shape everywhere."""
    if cfg is None:
        return None
    return {
        'path': cfg_path,
        'kernel': cfg.kernel,
        'kernelopt': cfg.kernelopt,
        'modules': [module.render() for module in cfg.modules],
        'title': cfg.title,
        'timeout': cfg.timeout,
        'prefix': cfg.prefix,
        'build': cfg.build,
    }


def bounded_names(items: list[str], shown: int = 10) -> str:
    """``a, b, c and 65530 more``: a message stays short whatever the input holds."""
    return ', '.join(items[:shown]) + (' and %d more' % (len(items) - shown) if len(items) > shown else '')


def read_bootcfg(reader: IsoReader, iso_path: str) -> BootCfg | None:
    """The boot.cfg at ``iso_path`` of an open ISO, parsed; None when the ISO has no such file."""
    entry = reader.find(iso_path)
    if entry is None:
        return None
    data = reader.read(entry, max_size=MAX_BOOTCFG_SIZE)
    return BootCfg.parse(data, path='%s:%s' % (reader.path, entry.path))


class EsxiImage:
    """An opened ESXi installer ISO; a context manager (closes the underlying file)."""

    def __init__(self, reader: IsoReader, bios: BootCfg, uefi: BootCfg | None, *, imgdb: ImageDatabase | None, imgdb_entry: IsoEntry | None):
        self.reader = reader
        self.path = reader.path
        self.bootcfg_bios = bios
        self.bootcfg_uefi = uefi
        self.imgdb = imgdb
        self.imgdb_entry = imgdb_entry

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str, fileobj: BinaryIO | None = None) -> EsxiImage:
        """Open and read the metadata; EsxiCustomizerError subclasses for every kind of bad input."""
        reader = IsoReader(path, fileobj)
        try:
            bios = read_bootcfg(reader, BIOS_BOOTCFG)
            if bios is None:
                raise FormatError('is not an ESXi installer ISO: it has no %s' % BIOS_BOOTCFG, path=path)
            uefi = read_bootcfg(reader, UEFI_BOOTCFG)
            imgdb_entry = cls._locate_imgdb(reader, bios)
            imgdb = None
            if imgdb_entry is not None:
                with reader.open_file(imgdb_entry) as handle:
                    imgdb = ImageDatabase.from_tgz(handle, path='%s:%s' % (path, imgdb_entry.path))
            return cls(reader, bios, uefi, imgdb=imgdb, imgdb_entry=imgdb_entry)
        except BaseException:
            reader.close()
            raise

    @staticmethod
    def _locate_imgdb(reader: IsoReader, bios: BootCfg) -> IsoEntry | None:
        for module in bios.modules:
            if module.name == IMGDB_NAME:
                entry = reader.find('/' + module.name)
                if entry is not None:
                    return entry
        return reader.find('/' + IMGDB_NAME)

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> EsxiImage:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- simple facts ------------------------------------------------------------------------

    @property
    def profile(self) -> ImageProfile | None:
        return self.imgdb.profile if self.imgdb is not None else None

    @property
    def bootcfgs(self) -> list[tuple[str, BootCfg]]:
        """``[(iso_path, BootCfg)]`` for the BIOS and (when present) the UEFI boot.cfg."""
        found = [(BIOS_BOOTCFG, self.bootcfg_bios)]
        if self.bootcfg_uefi is not None:
            found.append((UEFI_BOOTCFG, self.bootcfg_uefi))
        return found

    def _esx_base_version(self) -> str | None:
        if self.imgdb is None:
            return None
        versions = [vib.version for vib in self.imgdb.vibs_by_name('esx-base') if self.profile is None or vib.vib_id in self.profile.vibs]
        return versions[0] if versions else None

    @property
    def build(self) -> str | None:
        """``6.7.0-0.0.8169922``: boot.cfg ``build=``, else the esx-base VIB version (same format)."""
        return self.bootcfg_bios.build or self._esx_base_version() or None

    @property
    def version(self) -> str | None:
        """``6.7.0``: from the build, else from the profile name."""
        version = _split_version(self.build)
        if version is None and self.profile is not None:
            version = profile_name_version(self.profile.name)
        return version

    @property
    def release(self) -> tuple[int, ...] | None:
        """``(8, 0, 3)`` / ``(9, 0, 0, 0)``: :attr:`version` as numbers, for release comparisons."""
        return release_of(self.version)

    def bootcfg_warnings(self) -> list[str]:
        """boot.cfg keys this ISO's boot loader ignores (too new, dropped, or read by no release)."""
        return ['%s: %s' % (cfg_path, warning) for cfg_path, cfg in self.bootcfgs for warning in cfg.release_warnings(self.release)]

    @property
    def kickstart(self) -> str | None:
        return self.bootcfg_bios.kickstart or (self.bootcfg_uefi.kickstart if self.bootcfg_uefi else None)

    def el_torito(self) -> list[ElToritoEntry]:
        return self.reader.el_torito()

    # -- path resolution ---------------------------------------------------------------------

    @staticmethod
    def module_iso_path(cfg_path: str, cfg: BootCfg, path: str) -> str | None:
        """Where the loader looks for a boot.cfg path on this ISO (None for URLs)."""
        if '://' in path:
            return None
        if path.startswith(('/', '\\')):
            return path
        prefix = (cfg.prefix or '').strip()
        if prefix:
            if '://' in prefix:
                return None
            return '/' + prefix.strip('/') + '/' + path
        return cfg_path.rsplit('/', 1)[0] + '/' + path

    def payload_file(self, payload_type: str, payload_name: str, local_name: str) -> IsoEntry | None:
        """The ISO file holding a payload: its local name in the root, or its natural name for loader files."""
        for path in lookup_paths(payload_type, payload_name, local_name):
            entry = self.reader.find(path)
            if entry is not None:
                return entry
        return None

    # -- consistency -------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Inconsistencies that would break booting or installing; empty for a sound ISO."""
        found = []
        for cfg_path, cfg in self.bootcfgs:
            found.extend('%s: %s' % (cfg_path, problem) for problem in cfg.problems())
        found.extend(self._el_torito_problems())
        found.extend(self._bootcfg_agreement_problems())
        found.extend(self._bootcfg_file_problems())
        if self.imgdb is None:
            found.append('no image database (%s) on the ISO' % IMGDB_NAME.upper())
        else:
            found.extend(self.imgdb.problems())
            found.extend(self._payload_problems())
            found.extend(self.profile_problems())
        return found

    def profile_problems(self) -> list[str]:
        """What ESXi's installer would refuse in the image profile (dependencies, conflicts, acceptance...: validate)."""
        if self.imgdb is None:
            return []
        try:
            return [problem.message for problem in validate_database(self.imgdb, release=self.version)]
        except FormatError as err:  # a descriptor ESXi could not parse either (a version with two '-')
            return [str(err)]

    def _el_torito_problems(self) -> list[str]:
        entries = self.el_torito()
        if not entries:
            return ['no El Torito boot record: the ISO does not boot']
        # A boot image without a directory record (mkisofs -hide) still boots: the firmware reads it by block number.
        # An entry pointing past the end of the volume never gets here: opening the ISO refuses it.
        found = []
        if self.bootcfg_uefi is None and any(entry.platform == 'uefi' for entry in entries):
            found.append('the ISO has a UEFI boot entry but no %s' % UEFI_BOOTCFG)
        return found

    def _bootcfg_agreement_problems(self) -> list[str]:
        uefi = self.bootcfg_uefi
        if uefi is None:
            return []
        bios = self.bootcfg_bios
        found = []
        if basename(bios.kernel or '') != basename(uefi.kernel or ''):
            found.append('BIOS and UEFI boot.cfg disagree on kernel: %s vs %s' % (bios.kernel, uefi.kernel))
        bios_names, uefi_names = bios.module_names, uefi.module_names  # each parses the whole list: once
        if bios_names != uefi_names:
            in_bios, in_uefi = set(bios_names), set(uefi_names)
            only_bios = [name for name in bios_names if name not in in_uefi]
            only_uefi = [name for name in uefi_names if name not in in_bios]
            detail = []
            if only_bios:
                detail.append('only in %s: %s' % (BIOS_BOOTCFG, bounded_names(only_bios)))
            if only_uefi:
                detail.append('only in %s: %s' % (UEFI_BOOTCFG, bounded_names(only_uefi)))
            found.append('BIOS and UEFI boot.cfg disagree on modules (%s)' % ('; '.join(detail) or 'different order'))
        if bios.kernelopt_tokens != uefi.kernelopt_tokens:
            found.append('BIOS and UEFI boot.cfg disagree on kernelopt: %r vs %r' % (bios.kernelopt, uefi.kernelopt))
        return found

    def _bootcfg_file_problems(self) -> list[str]:
        found = []
        for cfg_path, cfg in self.bootcfgs:
            items = ([Module(cfg.kernel)] if cfg.kernel else []) + cfg.modules
            missing = []
            for item in items:
                iso_path = self.module_iso_path(cfg_path, cfg, item.path)
                if iso_path is not None and not self.reader.exists(iso_path):
                    missing.append(item.path)
            if len(missing) > 10:
                found.append('%s lists %d files that are not on the ISO: %s' % (cfg_path, len(missing), bounded_names(missing)))
            else:
                found.extend('%s lists %s, which is not on the ISO' % (cfg_path, path) for path in missing)
        return found

    def _payload_problems(self) -> list[str]:
        profile = self.profile
        if profile is None:
            return []
        loaded = {cfg_path: {basename(cfg.kernel or '')} | set(cfg.module_names) for cfg_path, cfg in self.bootcfgs}
        found = []
        for vib_id, payloads in profile.vibs.items():
            record = self.imgdb.vibs.get(vib_id)
            if record is not None and record.is_esxio:
                continue  # a DPU's payloads travel in esxiodpt.tgz; the x86 boot.cfg never loads them
            for payload_name, local_name in payloads.items():
                payload = record.payload(payload_name) if record else None
                if payload is None or payload.type not in BOOT_LOADED_TYPES:
                    continue
                if self.reader.find('/' + local_name) is None:
                    found.append('VIB %s payload %s: file /%s is missing from the ISO' % (vib_id, payload_name, local_name.upper()))
                missing_in = [cfg_path for cfg_path, names in loaded.items() if local_name.lower() not in names]
                if missing_in:
                    found.append('VIB %s payload %s: %s is not in the modules of %s' % (vib_id, payload_name, local_name, ' and '.join(missing_in)))
        return found

    # -- summary -----------------------------------------------------------------------------

    def vib_facts(self) -> list[dict]:
        if self.profile is None:
            return []
        result = []
        for vib_id, payloads in self.profile.vibs.items():
            record = self.imgdb.vibs.get(vib_id)
            entries = []
            for payload_name, local_name in payloads.items():
                payload = record.payload(payload_name) if record else None
                payload_type = payload.type if payload else None
                entry = self.payload_file(payload_type or '', payload_name, local_name)
                entries.append(
                    {
                        'name': payload_name,
                        'type': payload_type,
                        'local_name': local_name,
                        'file': entry.path if entry else None,
                        'size': entry.size if entry else None,
                    }
                )
            result.append(
                {
                    'id': vib_id,
                    'name': record.name if record else None,
                    'version': record.version if record else None,
                    'vendor': record.vendor if record else None,
                    'type': record.type if record else None,
                    'acceptance_level': record.acceptance_level if record else None,
                    'esxio': record.is_esxio if record else False,
                    'payloads': entries,
                }
            )
        return result

    def facts(self, *, detail: str = 'full') -> dict:
        """Everything ``esxi.customizer.iso_info`` returns, as plain data; ``detail='summary'`` without the VIB and
        component lists and the module lists of boot.cfg (their counts instead), to fit on a screen."""
        profile = self.profile
        facts = {
            'path': self.path,
            'esxi_version': self.version,
            'build': self.build,
            'volume_id': self.reader.volume_id,
            'application_id': self.reader.application_id,
            'size': self.reader.volume_size,
            'profile': None
            if profile is None
            else {
                'name': profile.name,
                'creator': profile.creator,
                'acceptance_level': profile.acceptance_level,
                'description': profile.description,
                'profile_id': profile.profile_id,
                'creation_time': profile.creation_time,
                'modified_time': profile.modified_time,
            },
            'vibs': self.vib_facts(),
            'components': sorted(component.id for component in self.imgdb.components.values() if not component.reserved) if self.imgdb is not None else [],
            'boot': {'bios': bootcfg_facts(BIOS_BOOTCFG, self.bootcfg_bios), 'uefi': bootcfg_facts(UEFI_BOOTCFG, self.bootcfg_uefi)},
            'el_torito': [
                {
                    'platform': entry.platform,
                    'path': entry.path,
                    'load_size': entry.load_size,
                    'boot_info_table': entry.boot_info_table,
                    'bootable': entry.bootable,
                }
                for entry in self.el_torito()
            ],
            'filesystems': {'iso9660': True, 'joliet': self.reader.has_joliet, 'rock_ridge': self.reader.has_rock_ridge, 'udf': self.reader.has_udf},
            'kickstart': self.kickstart,
            'problems': self.problems(),
            'bootcfg_warnings': self.bootcfg_warnings(),
        }
        facts['vib_count'] = len(facts['vibs'])
        facts['component_count'] = len(facts['components'])
        for boot in facts['boot'].values():
            if boot is not None:
                boot['module_count'] = len(boot['modules'])
        if detail == 'summary':
            del facts['vibs'], facts['components']
            for boot in facts['boot'].values():
                if boot is not None:
                    del boot['modules']
        return facts


def read_iso_facts(path: str, *, detail: str = 'full') -> dict:
    """Open, describe and close: the whole of iso_info."""
    with EsxiImage.open(path) as image:
        return image.facts(detail=detail)
