# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Patch rebase: an image (an ISO or a depot's profile) moved onto a patch's base VIBs, laid out afresh.

A package in ``add`` that carries the base ESXi VIB (``esx-base``, or a VIB that provides ``esx-version``) is a
patch. Its base VIBs bring the kernel, the boot modules, the boot loaders, the installer and the upgrade files, so
the image is not edited in place: the VIB set after the patch is laid out as the installer ISO VMware would make of
it (:mod:`.depot_source`'s renderer), and the usual customization (drivers, removals, kickstart, options,
validation) runs on that.

Which VIBs the patch brings follows ESXi's own commands (esxi-semantics §3, §6), decisions marked *ours*:

* a patch with image profiles (VMware's patch depots are full depots: ``-standard``, ``-no-tools``, ``-s-...``) is
  applied like ``esxcli software profile update``: every VIB of the chosen profile replaces the image's VIB of the
  same name, or the ones it ``replaces``; VIBs of the profile the image lacks are added; the image's other VIBs (the
  user's drivers) stay. The profile is ``patch_profile``, else the one whose name ends like the image's
  (``-no-tools``, ``-standard``...), else the choice of a base depot (:func:`~.depot_source.choose_profile`);
* a patch without a profile (a rollup of VIBs) is applied like ``esxcli software vib update``: only VIBs that
  update one of the image's are taken; the others are named in a warning;
* a VIB older than the image's is a downgrade, refused unless ``allow_downgrade``; one of the same version stays;
* the patch must be of the image's major release (an 8.0 patch on a 7.0 image is an upgrade, made from the new
  release's own ISO or depot);
* kept from the source: every VIB the patch does not replace (payloads from the ISO files, esxio ones out of
  ESXIODPT.TGZ, or from the source depot), the profile's fields with the old version and build in its name and the
  volume id replaced by the patch's, both boot.cfg's ``kernelopt``, ``title`` and ``timeout`` and the embedded
  kickstart (``/KS.CFG``) *ours*; everything else is laid out from the new VIB set (local names, boot order, both
  boot.cfg with the patch's ``build=``, IMGDB/IMGPAYLD/BASEMISC/RESVIBS/ESXIODPT.TGZ);
* the components (7.0+) are the source's and the patch's whose VIBs are all in the result.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass, field

from ansible_collections.esxi.customizer.plugins.module_utils._errors import CompatibilityError, ConflictError, EsxiCustomizerError, FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import ImageDatabase
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import ImageProfile, VibRecord, record_time
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import ACCEPTANCE_LEVELS, lowest_trust
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vibversion import Relation, VibVersion
from ansible_collections.esxi.customizer.plugins.module_utils._image.depot_source import (
    DepotImage,
    LayoutFile,
    LayoutReader,
    _Renderer,
    choose_profile,
    esx_version_of,
    is_base_vib,
)
from ansible_collections.esxi.customizer.plugins.module_utils._image.edits import FileSliceContent
from ansible_collections.esxi.customizer.plugins.module_utils._image.image_vibs import SpooledPayloads, esxio_payloads, image_vib
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage, bounded_names, release_of
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import Package, PackageVib
from ansible_collections.esxi.customizer.plugins.module_utils._image.plan import vib_summary
from ansible_collections.esxi.customizer.plugins.module_utils._image.validate import VibFacts
from ansible_collections.esxi.customizer.plugins.module_utils._image.views import KICKSTART_PATH, MAX_KICKSTART_SIZE
from ansible_collections.esxi.customizer.plugins.module_utils._io.streams import COPY_CHUNK

REBASE_FORMAT = 1
"""Bumped whenever the rebase rules change, so an output made by earlier rules is no longer up to date."""
_PROFILE_SUFFIXES = ('-s-no-tools', '-s-standard', '-no-tools', '-standard')
_LABEL_BUILD_RE = re.compile(r'(\d+\.\d+(?:\.\d+)*(?:U\d+[a-z]?)?)([-.])(\d{5,})')
_BOOT_SETTINGS = ('kernelopt', 'title', 'timeout')


def is_patch(package: Package) -> bool:
    """A package that carries the base ESXi VIB: adding it moves the image to its release (a rebase)."""
    return any(is_base_vib(vib) for vib in package.vibs)


def _build_of(version: str) -> str:
    """``24585291`` of ``7.0.3-0.135.24585291`` (the last dotted number of the release part)."""
    return re.split(r'[-.]', version)[-1]


def label_and_build(name: str | None) -> tuple[str, str, str] | None:
    """(label, separator, build) of a profile name in VMware's style: ``ESXi-7.0U3n-21930508-standard`` ->
    ('7.0U3n', '-', '21930508'); ``ESX-9.0.0.0.24755229-standard`` -> ('9.0.0.0', '.', '24755229')."""
    match = _LABEL_BUILD_RE.search(name or '')
    return (match.group(1), match.group(2), match.group(3)) if match else None


def renamed(text: str | None, *, old: tuple[str, str, str] | None, old_build: str, new: tuple[str, str], upper: bool = False) -> str | None:
    """``text`` with the old release label and build replaced by the new ones (case-blind: volume ids are upper case)."""
    if not text:
        return text
    new_label, new_build = new
    if old is not None:
        label, sep, build = old
        pattern = re.compile(re.escape(label + sep + build), re.IGNORECASE)
        if pattern.search(text):
            replacement = new_label + sep + new_build
            return pattern.sub(replacement.upper() if upper else replacement, text)
    return text.replace(old_build, new_build) if old_build else text


@dataclass
class _VibSet:
    """What the renderer reads of a package: the VIBs and the components."""

    vibs: list
    components: list


@dataclass
class _ComponentXml:
    id: str
    vib_ids: list
    xml_bytes: bytes


@dataclass
class Rebase:
    """A source image moved onto a patch: the image the plan edits, the layout the writer starts from, and what moved."""

    image: EsxiImage
    layout: object
    origin_db: ImageDatabase
    origin_version: str | None
    patch: str
    patch_profile: str | None
    before: dict
    after: dict
    replaced: list = field(default_factory=list)
    added: list = field(default_factory=list)
    removed_facts: list = field(default_factory=list)
    patch_sources: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    _closers: list = field(default_factory=list)

    @property
    def change(self) -> str:
        """One line for the derived profile description."""
        onto = self.patch_profile or self.patch.rsplit('/', 1)[-1]
        return 'rebased %s (build %s) onto %s (build %s)' % (self.before['profile'], self.before['build'], onto, self.after['build'])

    def summary(self) -> dict:
        return {
            'patch': self.patch,
            'patch_profile': self.patch_profile,
            'before': dict(self.before),
            'after': dict(self.after),
            'replaced': [item['id'] for item in self.replaced],
            'added': [item['id'] for item in self.added],
        }

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers = []

    def __enter__(self) -> Rebase:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _choose_patch_profile(patch: Package, wanted: str | None, source_name: str | None) -> ImageProfile | None:
    profiles = patch.profiles
    if not profiles:
        if wanted:
            raise EsxiCustomizerError('patch_profile: the patch has no image profile (it is a bundle of VIBs only)', path=patch.path)
        return None
    if not wanted:
        suffix = next((s for s in _PROFILE_SUFFIXES if (source_name or '').removesuffix('-custom').endswith(s)), None)
        alike = [p for p in profiles if suffix and (p.name or '').endswith(suffix)]
        if len(alike) == 1:
            return alike[0]
    return choose_profile(profiles, wanted, label=patch.path)


class _Planner:
    def __init__(self, image: EsxiImage, depot: DepotImage | None, patch: Package, *, allow_downgrade: bool):
        self.image = image
        self.depot = depot
        self.patch = patch
        self.allow_downgrade = allow_downgrade
        self.db = image.imgdb
        self.records = [self.db.vibs[vib_id] for vib_id in self.db.profile.vibs if vib_id in self.db.vibs]
        self.facts = {record.vib_id: VibFacts.from_record(record) for record in self.records}

    def patch_vibs(self, profile: ImageProfile | None) -> list[PackageVib]:
        if profile is None:
            names = {}
            for vib in self.patch.vibs:
                if vib.name in names:
                    raise FormatError(
                        'carries VIB %s twice (%s, %s) and no image profile that chooses one' % (vib.name, names[vib.name], vib.vib_id), path=self.patch.path
                    )
                names[vib.name] = vib.vib_id
            return list(self.patch.vibs)
        by_id = {vib.vib_id: vib for vib in self.patch.vibs}
        missing = [vib_id for vib_id in profile.vibs if vib_id not in by_id]
        if missing:
            raise FormatError(
                'image profile %s lists %d VIB(s) the patch does not carry (%s)' % (profile.name, len(missing), bounded_names(missing)), path=self.patch.path
            )
        return [by_id[vib_id] for vib_id in profile.vibs]

    def targets(self, vib: PackageVib) -> list[VibRecord]:
        """The image's VIBs ``vib`` takes the place of: the same name, and whatever its ``replaces`` match."""
        replaces = [Relation.of(c.name, c.relation, c.version, label=vib.vib_id) for c in vib.descriptor.replaces if c.name]
        found = []
        for record in self.records:
            if record.name == vib.name or any(r.matches(p) for r in replaces for p in self.facts[record.vib_id].provides):
                found.append(record)
        return found

    def check_release(self, base: PackageVib, old_base: VibRecord) -> None:
        new_version, old_version = esx_version_of(base), esx_version_of(old_base)
        new_release, old_release = release_of(new_version.split('-')[0]), release_of(old_version.split('-')[0])
        if new_release and old_release and new_release[0] != old_release[0]:
            raise CompatibilityError(
                'is a patch of ESXi %s (%s %s) but the image is ESXi %s (%s): a patch must be of the same major release; an '
                'upgrade to %d.x is made from that release\'s own ISO or depot'
                % (new_version.split('-')[0], base.name, new_version, old_version.split('-')[0], old_version, new_release[0]),
                path=self.patch.path,
            )


def _source_vibs(image: EsxiImage, depot: DepotImage | None, records: list[VibRecord], *, closers: list) -> dict[str, PackageVib]:
    """The kept VIBs as packages: from the source depot, or from the ISO's files (esxio ones out of ESXIODPT.TGZ)."""
    if depot is not None:
        by_id = {vib.vib_id: vib for vib in depot.package.vibs}
        return {record.vib_id: by_id[record.vib_id] for record in records}
    found = {}
    esxio = [record for record in records if record.is_esxio]
    if esxio:
        spool = SpooledPayloads()
        closers.append(spool.close)
        found.update(esxio_payloads(image, esxio, spool))
    for record in records:
        if not record.is_esxio:
            found[record.vib_id] = image_vib(image, record, required=True)
    return found


def rebase_image(
    image: EsxiImage, depot: DepotImage | None, patch: Package, *, patch_profile: str | None = None, allow_downgrade: bool = False
) -> Rebase | None:
    """``image`` (from an ISO, or ``depot``'s layout) moved onto ``patch``; None when the patch changes nothing.

    Close the result (it holds the temporary files of the new layout).
    """
    if image.imgdb is None or image.imgdb.profile is None:
        raise EsxiCustomizerError('the ISO has no image database with an image profile; it cannot be rebased onto a patch', path=image.path)
    planner = _Planner(image, depot, patch, allow_downgrade=allow_downgrade)
    source_profile = image.imgdb.profile
    old_bases = [record for record in planner.records if is_base_vib(record)]
    if not old_bases:
        raise FormatError('the image has no base ESXi VIB (no esx-base): it cannot be rebased', path=image.path)
    old_base = next((r for r in old_bases if r.name == 'esx-base'), old_bases[0])
    chosen = _choose_patch_profile(patch, patch_profile, source_profile.name)
    offered = planner.patch_vibs(chosen)
    bases = [vib for vib in offered if is_base_vib(vib)]
    if not bases:
        raise FormatError('image profile %s of the patch has no base ESXi VIB (esx-base)' % chosen.name, path=patch.path)
    base = next((vib for vib in bases if vib.name == 'esx-base'), bases[0])
    planner.check_release(base, old_base)

    result_ids = [record.vib_id for record in planner.records]
    incoming = {}  # vib_id -> PackageVib of the patch that goes in
    replaced, added, skipped, removed_facts = [], [], [], []
    for vib in offered:
        targets = planner.targets(vib)
        if any(record.vib_id == vib.vib_id for record in targets):
            continue  # the image has this very VIB
        new_version = VibVersion.parse(vib.descriptor.version, label=vib.vib_id)
        for record in targets:
            if record.name == vib.name and new_version < planner.facts[record.vib_id].version and not allow_downgrade:
                raise ConflictError(
                    'VIB %s %s of the patch is older than the image\'s %s (a downgrade); set allow_downgrade: true if that is what you want'
                    % (vib.name, vib.descriptor.version, record.version),
                    path=patch.path,
                )
        if not targets and chosen is None:
            skipped.append(vib.name)
            continue
        incoming[vib.vib_id] = vib
        places = [result_ids.index(record.vib_id) for record in targets if record.vib_id in result_ids]
        if places:
            place = min(places)
            for record in targets:
                if record.vib_id in result_ids:
                    result_ids.remove(record.vib_id)
                    summary = vib_summary(record)
                    summary['by'] = vib.vib_id
                    summary['reason'] = 'rebase'
                    replaced.append(summary)
                    removed_facts.append(planner.facts[record.vib_id])
            result_ids.insert(min(place, len(result_ids)), vib.vib_id)
        else:
            result_ids.append(vib.vib_id)
            added.append(vib)
    if not incoming:
        return None
    if base.vib_id not in incoming and base.vib_id not in result_ids:
        raise FormatError('the patch\'s base VIB %s would not be in the image' % base.vib_id, path=patch.path)

    closers = []
    try:
        return _lay_out(
            image,
            depot,
            patch,
            chosen=chosen,
            source_profile=source_profile,
            old_base=old_base,
            base=base,
            planner=planner,
            result_ids=result_ids,
            incoming=incoming,
            moved={'replaced': replaced, 'added': added, 'skipped': skipped, 'removed_facts': removed_facts},
            closers=closers,
        )
    except BaseException:
        for closer in reversed(closers):
            closer()
        raise


def _lay_out(image, depot, patch, *, chosen, source_profile, old_base, base, planner, result_ids, incoming, moved, closers) -> Rebase:
    kept_records = [record for record in planner.records if record.vib_id in result_ids]
    vibs = _source_vibs(image, depot, kept_records, closers=closers)
    vibs.update(incoming)
    ordered = [vibs[vib_id] for vib_id in result_ids]

    new_version = esx_version_of(base)
    old_version = esx_version_of(old_base)
    new_naming = label_and_build(chosen.name if chosen is not None else None)
    new_build = _build_of(new_version)
    # the names take the patch profile's own label and build part (6.x patches: a patch id such as 20240304001)
    naming = (new_naming[0], new_naming[2]) if new_naming else (new_version.split('-')[0], new_build)
    old_naming = label_and_build(source_profile.name)
    old_build = _build_of(old_version)

    profile = ImageProfile(source_profile.to_xml(), member=source_profile.member, what='%s: image profile' % image.path)
    for vib_id in list(profile.vibs):
        profile.remove_vib(vib_id)
    for vib_id in result_ids:
        profile.add_vib(vib_id, {})
    name = renamed(source_profile.name, old=old_naming, old_build=old_build, new=naming) or source_profile.name
    profile.set_field('name', name)
    levels = [v.descriptor.acceptance_level for v in incoming.values() if v.descriptor.acceptance_level in ACCEPTANCE_LEVELS]
    if levels and source_profile.acceptance_level:
        level = lowest_trust([source_profile.acceptance_level] + levels)
        if level != source_profile.acceptance_level:
            profile.set_field('acceptance_level', level)

    components = {}
    for component in image.imgdb.components.values():
        if not component.reserved:
            components[component.id] = _ComponentXml(component.id, list(component.vib_ids), component.xml)
    for bulletin in patch.components:
        components[bulletin.id] = _ComponentXml(bulletin.id, list(bulletin.vib_ids), bulletin.xml_bytes)

    boot_settings = {}
    for platform, cfg in (('bios', image.bootcfg_bios), ('uefi', image.bootcfg_uefi or image.bootcfg_bios)):
        boot_settings[platform] = {key: cfg.get(key) for key in _BOOT_SETTINGS if cfg is not None and cfg.get(key) is not None}
    extra = []
    kickstart = image.reader.find(KICKSTART_PATH) if depot is None else None
    if kickstart is not None and kickstart.size <= MAX_KICKSTART_SIZE and kickstart.extents == 1:
        offset = kickstart.extent * image.reader.logical_block_size
        extra.append(LayoutFile(KICKSTART_PATH, FileSliceContent(image.path, offset, kickstart.size)))
    volume_id = renamed(image.reader.volume_id, old=old_naming, old_build=old_build, new=naming, upper=True) if depot is None else None

    patch_times = [record_time(v.descriptor.release_date) for v in incoming.values()]
    if chosen is not None:
        patch_times += [record_time(chosen.creation_time), record_time(chosen.modified_time)]
    epoch = max([t for t in patch_times + [image.reader.volume_epoch()] if t is not None] or [0])

    def spool():
        handle = tempfile.TemporaryFile(prefix='esxi-customizer-rebase-', buffering=COPY_CHUNK)
        closers.append(handle.close)
        return handle

    renderer = _Renderer(_VibSet(ordered, list(components.values())), profile, label='%s rebased onto %s' % (image.path, patch.path), spool=spool)
    layout, bios, uefi, db = renderer.render(epoch=epoch, boot_settings=boot_settings, extra_files=extra, volume_id=volume_id)
    source_reader = image.reader

    def identity() -> tuple[int, str]:
        size, source = source_reader.source_identity()
        digest = hashlib.sha256(('rebase %d source %s patch-profile %s\n' % (REBASE_FORMAT, source, chosen.name if chosen else '-')).encode('utf-8'))
        return size, digest.hexdigest()

    reader = LayoutReader(image.path, layout, base_identity=identity)
    rebased = EsxiImage(reader, bios, uefi, imgdb=db, imgdb_entry=reader.find('/IMGDB.TGZ'))
    warnings = list(renderer.warnings)
    if moved['skipped']:
        warnings.append(
            'the patch has no image profile, so only VIBs that update the image\'s were taken; not taken: %s (give them in add as a '
            'bundle of their own if the image needs them)' % bounded_names(sorted(moved['skipped']))
        )
    added = [vib_summary(VibRecord.from_xml(vib.descriptor_bytes, vib.label)) for vib in moved['added']]
    for item in added:
        item['package'] = patch.path
        item['reason'] = 'rebase'
    return Rebase(
        image=rebased,
        layout=layout,
        origin_db=image.imgdb,
        origin_version=image.version,
        patch=patch.path,
        patch_profile=chosen.name if chosen is not None else None,
        before={'version': old_version, 'build': _build_of(old_version), 'profile': source_profile.name},
        after={'version': new_version, 'build': new_build, 'profile': name},
        replaced=moved['replaced'],
        added=added,
        removed_facts=moved['removed_facts'],
        patch_sources={vib_id: patch.path for vib_id in incoming},
        warnings=warnings,
        _closers=closers,
    )
