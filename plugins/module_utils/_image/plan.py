# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The edit plan for a customized ESXi installer ISO (esxi-formats §9): pure data, validated, with a digest.

:func:`build_plan` takes the opened source (:class:`EsxiImage`), the loaded packages and the request and
decides everything before a byte is written: which VIBs are added, replaced or removed, their local
names (§3.5), the new contents of both boot.cfg and of IMGDB.TGZ, the ISO files to add/remove, the
acceptance level, warnings, a diff, and a manifest. The manifest (embedded in the output as
:data:`MANIFEST_PATH`) records the source's size and identity hash and every input's hash and option;
its digest is what a re-run compares to decide that the output is already up to date.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable

from ansible_collections.esxi.customizer.plugins.module_utils._formats.bootcfg import check_option
from ansible_collections.esxi.customizer.plugins.module_utils._formats.kickstart import PLAINTEXT_ROOTPW_WARNING, plaintext_root_password
from ansible_collections.esxi.customizer.plugins.module_utils._errors import (
    CompatibilityError,
    ConflictError,
    EsxiCustomizerError,
    UnsupportedError,
)
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import BOOT_LOADED_TYPES, EsxiImage, bootcfg_facts
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import Package
from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import sha256_file
from ansible_collections.esxi.customizer.plugins.module_utils._image.edits import (
    BytesContent,
    FileSliceContent,
    IsoEdits,
    StreamContent,
    normalize_volume_id,
)
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_writer import SECTOR
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vibversion import Relation, VibVersion
from ansible_collections.esxi.customizer.plugins.module_utils._image.consistency import judge, names
from ansible_collections.esxi.customizer.plugins.module_utils._image.profile_identity import ProfileIdentity, describe
from ansible_collections.esxi.customizer.plugins.module_utils._image.manifest import MANIFEST_PATH, build_manifest
from ansible_collections.esxi.customizer.plugins.module_utils._image.views import KICKSTART_PATH, MAX_KICKSTART_SIZE, kickstart_digest, views
from ansible_collections.esxi.customizer.plugins.module_utils._image.validate import SHOWN, VibFacts, facts_of_database, validate_database
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import record_time
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import (
    ACCEPTANCE_LEVELS,
    acceptance_rank,
    is_less_trusted,
    lowest_trust,
    normalize_acceptance,
)

KICKSTART_OPTION = 'ks=cdrom:/KS.CFG'
DRIVER_PAYLOAD_TYPES = ('vgz', 'tgz', 'vzstd')
_RELEASE_RE = re.compile(r'^(\d+)\.(\d+)(?:(?:\.|U)(\d+))?')
UEFI_MAX_VOLUME = 2 * 1024 * 1024 * 1024
"""esx-boot's UEFI ISO 9660 driver numbers inodes in a way that "fails on volumes > 2 GB" (esxi-formats 1.1)."""


class Request:
    """The user's options, normalized (names as in the module's argument_spec)."""

    def __init__(
        self,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        kickstart: str | None = None,
        *,
        kernelopt: str | None = None,
        kernelopt_add: Iterable[str] = (),
        boot_title: str | None = None,
        boot_timeout: int | None = None,
        acceptance_level: str | None = None,
        volume_id: str | None = None,
        skip_compatibility_check: bool = False,
        skip_dependency_check: bool = False,
        allow_downgrade: bool = False,
        profile_name: str | None = None,
        profile_vendor: str | None = None,
        profile_description: str | None = None,
        bootcfg_options: dict | None = None,
        kickstart_content: str | None = None,
    ):
        self.add = [str(p) for p in add or ()]
        self.remove = [str(n) for n in remove or ()]
        if kickstart and kickstart_content is not None:
            raise EsxiCustomizerError('give the kickstart as a file (kickstart) or as text (kickstart_content), not both')
        self.kickstart = kickstart
        # Text given inline (a template rendered by the role) never touches the disk: it holds the root password hash.
        self._kickstart_data = kickstart_content.encode('utf-8') if kickstart_content is not None else None
        if self._kickstart_data is not None and len(self._kickstart_data) > MAX_KICKSTART_SIZE:
            raise EsxiCustomizerError('kickstart_content is %d bytes; more than %d is not a kickstart file' % (len(self._kickstart_data), MAX_KICKSTART_SIZE))
        self.kernelopt = kernelopt
        self.kernelopt_add = [str(t) for t in kernelopt_add or ()]
        self.boot_title = boot_title
        self.boot_timeout = boot_timeout
        self.acceptance_level = normalize_acceptance(acceptance_level) if acceptance_level else None
        self.volume_id = volume_id
        self.skip_compatibility_check = bool(skip_compatibility_check)
        self.skip_dependency_check = bool(skip_dependency_check)
        self.allow_downgrade = bool(allow_downgrade)
        self.profile = ProfileIdentity(name=profile_name, vendor=profile_vendor, description=profile_description)
        self.bootcfg_options = dict(check_option(key, value) for key, value in sorted((bootcfg_options or {}).items()))

    def options(self) -> dict:
        """What the manifest records besides the input files' hashes."""
        recorded = {
            'remove': self.remove,
            'kernelopt': self.kernelopt,
            'kernelopt_add': self.kernelopt_add,
            'boot_title': self.boot_title,
            'boot_timeout': self.boot_timeout,
            'acceptance_level': self.acceptance_level,
            'volume_id': self.volume_id,
            'skip_compatibility_check': self.skip_compatibility_check,
            'skip_dependency_check': self.skip_dependency_check,
            'allow_downgrade': self.allow_downgrade,
            'profile': self.profile.options(),
            'kickstart': self.has_kickstart,
        }
        if self.bootcfg_options:  # only when used, so manifests of earlier builds still compare equal
            recorded['bootcfg_options'] = self.bootcfg_options
        return recorded

    @property
    def has_kickstart(self) -> bool:
        return bool(self.kickstart) or self._kickstart_data is not None

    @property
    def kickstart_source(self) -> str:
        """How messages name the kickstart: its file, or the option that carried its text."""
        return self.kickstart or 'kickstart_content'

    def kickstart_data(self) -> bytes:
        if self._kickstart_data is not None:
            return self._kickstart_data
        return _read_small(self.kickstart, MAX_KICKSTART_SIZE, 'kickstart')


class EditPlan:
    """Everything the writer needs plus everything the module reports."""

    def __init__(self):
        self.edits = IsoEdits()
        self.added = []
        self.replaced = []
        self.removed = []
        self.components_added = []
        self.components_removed = []
        self.problems = []
        self.refusals = []  # what the validation refuses (warnings instead under the skip_* options)
        self.profile = {}
        self.acceptance_level = {'before': None, 'after': None}
        self.boot = {}
        self.warnings = []
        self.views = {}
        self.manifest = {}
        self.digest = None
        self.epoch = None
        self.size_estimate = None


def release_tuple(release: str | None) -> tuple[int, int, int] | None:
    """'7.0U3' / '7.0.3' / '6.7' -> (7, 0, 3) / (7, 0, 3) / (6, 7, 0); None when not a release."""
    match = _RELEASE_RE.match(release or '')
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def vib_summary(record: object, file_path: str | None = None) -> dict:
    """Return-value shape for an added/replaced/removed VIB."""
    return {
        'id': record.vib_id,
        'name': record.name,
        'version': record.version,
        'vendor': record.vendor,
        'acceptance_level': record.acceptance_level,
        'file': file_path,
    }


class _Builder:
    def __init__(self, image, packages, request, *, src_path, rebase=None):
        self.image = image
        self.rebase = rebase
        # Edited like the boot.cfg copies below: the opened image keeps describing the source.
        self.db = image.imgdb.copy() if image.imgdb is not None else None
        self.packages = packages
        self.request = request
        self.src_path = src_path
        self.plan = EditPlan()
        self.cfgs = [(path, cfg.copy()) for path, cfg in image.bootcfgs]
        self.before_cfgs = [(path, cfg.serialize()) for path, cfg in image.bootcfgs]
        self.release = release_tuple(image.version)
        self.removed_files = set()
        self.removed_facts = list(rebase.removed_facts) if rebase else []
        self.kickstart_digest = kickstart_digest(image.reader)
        self.new = []

    # -- inputs -------------------------------------------------------------------------------

    def new_vibs(self):
        """[(package, PackageVib)] in input order; a VIB name given twice is an error."""
        seen = {}
        result = []
        for package in self.packages:
            for vib in package.vibs:
                if vib.name in seen:
                    raise ConflictError('VIB %s is given twice (%s and %s)' % (vib.name, seen[vib.name], package.path))
                seen[vib.name] = package.path
                result.append((package, vib))
        return result

    def check_vib(self, package, vib):
        label = '%s (%s)' % (package.path, vib.vib_id)
        for payload in vib.descriptor.payloads:
            if payload.type not in DRIVER_PAYLOAD_TYPES:
                raise UnsupportedError(
                    'payload %s has type %s; only vgz, tgz and vzstd driver payloads can be injected' % (payload.name, payload.type), path=label
                )
        vib.verify_payloads(strict=True)
        if self.request.skip_compatibility_check:
            return
        if vib.esx4:
            raise CompatibilityError(vib.esx4_reason + ' (skip_compatibility_check overrides)', path=label)
        if self.release is None:
            return
        if vib.vmklinux and self.release >= (7, 0, 0):
            raise CompatibilityError(
                'is a vmklinux driver (com.vmware.driverAPI); ESXi %s removed vmklinux (7.0+), so it '
                'cannot load (skip_compatibility_check overrides)' % self.image.version,
                path=label,
            )
        needed = release_tuple(vib.min_esxi_release)
        if needed is not None and needed > self.release:
            raise CompatibilityError(
                'needs vmkapi %s, first provided by ESXi %s, newer than this ISO (%s) '
                '(skip_compatibility_check overrides)' % (vib.vmkapi_string, vib.min_esxi_release, self.image.version),
                path=label,
            )

    # -- removal ------------------------------------------------------------------------------

    def drop_vib(self, record, why):
        """Remove a VIB from the ISO: its payload files, boot.cfg entries, DB entries and sole components."""
        payloads = self.db.profile.vibs.get(record.vib_id, {})
        files = []
        for payload_name, local in payloads.items():
            payload = record.payload(payload_name)
            if payload is not None and payload.type not in BOOT_LOADED_TYPES:
                continue  # loader files (isolinux, efiboot...) are not modules; never remove those
            entry = self.image.reader.find('/' + local)
            if entry is not None and entry.iso_path:
                self.removed_files.add(entry.iso_path)
                files.append(entry.path)
            for _path, cfg in self.cfgs:
                cfg.remove_module('/' + local)
        self.removed_facts.append(VibFacts.from_record(record))
        self.db.remove_vib(record.vib_id)
        summary = vib_summary(record, ', '.join(files) or None)
        summary['reason'] = why
        return summary

    def current_records(self):
        return [self.db.vibs[vib_id] for vib_id in self.db.profile.vibs if vib_id in self.db.vibs]

    # -- the plan -----------------------------------------------------------------------------

    def build(self):
        plan = self.plan
        if self.db is None or self.db.profile is None:
            raise EsxiCustomizerError('the ISO has no image database with an image profile; cannot add or remove VIBs', path=self.src_path)
        self.check_volume_id()
        if self.image.bootcfg_uefi is None:
            plan.warnings.append(
                'the ISO has no /EFI/BOOT/BOOT.CFG (BIOS-only, like ESXi 5.0 GA): only /BOOT.CFG was changed, and the result boots in BIOS mode only'
            )
        if len(self.db.profiles) > 1:
            plan.warnings.append(
                'the image database has %d image profiles (%s); every change was made in each'
                % (len(self.db.profiles), ', '.join(p.name or p.member or '?' for p in self.db.profiles))
            )
        origin = self.rebase.origin_db if self.rebase else self.db
        plan.acceptance_level['before'] = origin.profile.acceptance_level
        if self.rebase:
            plan.replaced.extend(self.rebase.replaced)
            plan.added.extend(self.rebase.added)
            plan.warnings.extend(self.rebase.warnings)
        new = self.new = self.new_vibs()
        for package, vib in new:
            self.check_vib(package, vib)
        self.apply_removals(new)
        self.apply_additions(new)
        self.set_acceptance(new)
        self.reconcile_components()
        self.validate(new)
        self.apply_boot_options()
        self.finish()
        return plan

    def apply_removals(self, new):
        plan = self.plan
        new_names = {vib.name for _p, vib in new}
        for name in self.request.remove:
            if name in new_names:
                raise ConflictError('VIB %s is both in add and in remove' % name)
            records = [r for r in self.current_records() if r.name == name]
            component = None if records else self.find_component(name)
            if records:
                for record in records:
                    self.check_whole_component(record)
                    plan.removed.append(self.drop_vib(record, 'remove'))
            elif component is not None:
                for record in [r for r in self.current_records() if r.vib_id in component.vib_ids]:
                    plan.removed.append(self.drop_vib(record, 'remove (component %s)' % (component.name or component.id)))
                self.db.remove_component(component.id)
                plan.components_removed.append(component.id)
            else:
                plan.warnings.append('remove: no VIB or component named %s on the ISO; nothing to remove' % name)
        for _package, vib in new:
            self.replace_with(vib)

    def find_component(self, name):
        """A component (7.0+) named ``name`` (component name or bulletin id), reserved ones excepted."""
        for component in self.db.components.values():
            if not component.reserved and name in (component.name, component.id):
                return component
        return None

    def check_whole_component(self, record):
        """A VIB of a multi-VIB component goes with its component or not at all (the installer keeps whole components)."""
        present = set(self.db.profile.vibs)
        for component in self.db.components_of(record.vib_id):
            others = [vib_id for vib_id in component.vib_ids if vib_id != record.vib_id and vib_id in present]
            if component.reserved or not others:
                continue
            label = component.name or component.id
            message = 'VIB %s belongs to component %s together with %s: remove the whole component (remove: [%s]) or none of it' % (
                record.name,
                label,
                names(vib_id.split('_')[2] if vib_id.count('_') >= 3 else vib_id for vib_id in others),
                label,
            )
            if not self.request.skip_dependency_check:
                raise ConflictError(message + ' (skip_dependency_check overrides)')
            self.plan.warnings.append(message + ' (skip_dependency_check is set: the component is dropped)')

    def replace_with(self, vib):
        """Drop every VIB the new one replaces: the same name (refusing a downgrade) and what its replaces match."""
        plan = self.plan
        replaces = [Relation.of(c.name, c.relation, c.version, label=vib.vib_id) for c in vib.descriptor.replaces if c.name]
        new_version = VibVersion.parse(vib.descriptor.version, label=vib.vib_id)
        for record in self.current_records():
            facts = VibFacts.from_record(record)
            same = record.name == vib.name
            if not same and not any(r.matches(p) for r in replaces for p in facts.provides):
                continue
            older = same and new_version < facts.version
            if older and not self.request.allow_downgrade:
                raise ConflictError(
                    'VIB %s %s would replace the newer %s %s on the ISO (a downgrade); set allow_downgrade: true if that is '
                    'what you want' % (vib.name, vib.descriptor.version, record.name, record.version)
                )
            summary = self.drop_vib(record, 'same name' if same else 'replaced by %s' % vib.name)
            summary['by'] = vib.vib_id
            if older:
                summary['downgrade'] = True
                plan.warnings.append('VIB %s was downgraded from %s to %s (allow_downgrade is set)' % (vib.name, record.version, vib.descriptor.version))
            plan.replaced.append(summary)

    def reconcile_components(self):
        """The image database never keeps a component that lists a VIB no longer in the profile (7.0+)."""
        present = set(self.db.profile.vibs)
        dropped = {facts.vib_id for facts in self.removed_facts}
        for component in list(self.db.components.values()):
            gone = [vib_id for vib_id in component.vib_ids if vib_id not in present]
            if component.reserved or not dropped.intersection(gone):
                continue  # untouched by this request (a source's own inconsistency is reported, not repaired)
            self.db.remove_component(component.id)
            if component.id not in self.plan.components_removed:
                self.plan.components_removed.append(component.id)
            kept = [vib_id for vib_id in component.vib_ids if vib_id in present]
            if kept:
                self.plan.warnings.append(
                    'component %s was dropped: %s left the image, %s stay%s in it without a component'
                    % (component.name or component.id, names(gone), names(kept), 's' if len(kept) == 1 else '')
                )

    def validate(self, new):
        """Refuse an image the installer would refuse (problems the source already had only warn)."""
        plan = self.plan
        release = self.image.version
        # a rebase is judged against the image it started from: what the patch breaks is refused, not inherited
        if self.rebase:
            before = validate_database(self.rebase.origin_db, release=self.rebase.origin_version)
        else:
            before = validate_database(self.image.imgdb, release=release)
        after = validate_database(self.db, release=release)
        plan.problems = [problem.message for problem in after]
        sources = dict(self.rebase.patch_sources) if self.rebase else {}
        sources.update({vib.vib_id: package.path for package, vib in new})
        verdict = judge(before, after, final=facts_of_database(self.db), removed=self.removed_facts, sources=sources)
        if verdict.inherited:
            plan.warnings.append(
                'the source ISO already has %d problem(s) its installer may refuse: %s' % (len(verdict.inherited), '; '.join(verdict.inherited[:SHOWN]))
            )
        plan.refusals = verdict.compatibility + verdict.dependency
        refusals = []
        for messages, skip, option, error in (
            (verdict.compatibility, self.request.skip_compatibility_check, 'skip_compatibility_check', CompatibilityError),
            (verdict.dependency, self.request.skip_dependency_check, 'skip_dependency_check', ConflictError),
        ):
            if skip:
                plan.warnings.extend('%s (%s is set; the installer will refuse this image)' % (message, option) for message in messages)
            elif messages:
                refusals.append((error, option, messages))
        if refusals:
            error = refusals[0][0] if len(refusals) == 1 else ConflictError
            raise error(
                'the customized image would not install (its installer validates the image profile before it copies anything): %s. '
                'Nothing was written; %s overrides this (dangerous: the installer will refuse the image)'
                % ('; '.join(m for _e, _o, messages in refusals for m in messages), ' and '.join(o for _e, o, _m in refusals))
            )

    def check_volume_id(self):
        wanted = self.request.volume_id
        if wanted is None:
            return
        self.request.volume_id = normalize_volume_id(wanted)
        if self.request.volume_id != wanted:
            self.plan.warnings.append('volume_id %r written as %r: ISO 9660 volume identifiers are upper case' % (wanted, self.request.volume_id))

    def apply_additions(self, new):
        plan = self.plan
        # Taken: every name in the ISO root in any tree (not only those the profile knows: README, KS.CFG, an OEM's
        # extra files) and every module either boot.cfg lists, present or not.
        reserved = {e.path.rsplit('/', 1)[-1].lower() for e in self.image.reader.files() if e.path.count('/') == 1 and e.iso_path not in self.removed_files}
        reserved |= {name for _path, cfg in self.cfgs for name in cfg.module_names}
        new_ids = set()
        for package, vib in new:
            payloads = {}
            files = []
            for payload in vib.descriptor.payloads:
                local = self.db.allocate_local_name(payload.name, payload.type, payload.vfat_name, reserved=reserved, for_iso=True)
                reserved.add(local)
                payloads[payload.name] = local
                iso_name = '/' + local.upper()
                plan.edits.add[iso_name] = self.payload_source(vib, payload.name)
                files.append(iso_name)
                for _path, cfg in self.cfgs:
                    cfg.insert_module('/' + local)
            signed = vib.signed
            # The database copy is re-rendered so its checksums are in VMware's order (some installers check only
            # the first one: esxi-formats 4.2); the original bytes stay in .orig, which is what the signature covers
            # and what bundle_export rebuilds the .vib from (so unsigned VIBs keep theirs too).
            self.db.add_vib(
                vib.vib_id,
                vib.name,
                vib.descriptor.to_xml(),
                payloads=payloads,
                orig=vib.descriptor_bytes,
                sig=vib.signature if signed else None,
            )
            new_ids.add(vib.vib_id)
            summary = vib_summary(self.db.vibs[vib.vib_id], ', '.join(files))
            summary['signed'] = signed
            summary['package'] = package.path
            plan.added.append(summary)
            if not signed:
                plan.warnings.append(
                    'VIB %s is unsigned (%s): UEFI Secure Boot must be off on hosts installed from this ISO' % (vib.vib_id, vib.descriptor.acceptance_level)
                )
            plan.warnings.extend('%s: %s' % (vib.vib_id, w) for w in vib.all_warnings(target_release=self.release))
        self.add_components(new_ids)

    def add_components(self, new_ids):
        if self.release is None or self.release < (7, 0, 0):
            return
        for package in self.packages:
            for bulletin in package.components:
                if not bulletin.vib_ids or not set(bulletin.vib_ids) <= new_ids:
                    continue
                if bulletin.id in self.db.components:
                    self.db.remove_component(bulletin.id)
                self.db.add_component(bulletin.id, bulletin.xml_bytes)
                self.plan.components_added.append(bulletin.id)

    @staticmethod
    def payload_source(vib, name):
        extent = vib.payload_extent(name)
        if extent is not None:
            return FileSliceContent(extent[0], extent[1], extent[2])
        return StreamContent(lambda: vib.open_payload(name), vib.payload_size(name))

    def set_acceptance(self, new):
        plan = self.plan
        before = plan.acceptance_level['before'] or 'partner'
        levels = [r.acceptance_level for r in self.current_records() if r.acceptance_level in ACCEPTANCE_LEVELS]
        added_levels = [vib.descriptor.acceptance_level for _p, vib in new]
        wanted = self.request.acceptance_level
        if wanted is None:
            after = lowest_trust([before] + added_levels) if added_levels else before
        else:
            weaker = sorted({lvl for lvl in levels if is_less_trusted(lvl, wanted)}, key=acceptance_rank)
            if weaker:
                raise ConflictError(
                    'acceptance_level %s is more trusted than VIB(s) on the resulting image (%s); '
                    'use %s or lower' % (wanted, ', '.join(weaker), lowest_trust(weaker))
                )
            after = wanted
        plan.acceptance_level['after'] = after
        if after != (self.db.profile.acceptance_level or ''):
            self.db.set_acceptance_level(after)

    def apply_boot_options(self):
        request = self.request
        for _path, cfg in self.cfgs:
            if request.kernelopt is not None:
                cfg.set_kernelopt(' '.join(request.kernelopt.split()))
            if request.kernelopt_add:
                cfg.merge_kernelopt(request.kernelopt_add)
            if request.has_kickstart:
                cfg.merge_kernelopt([KICKSTART_OPTION])
            if request.boot_title is not None:
                cfg.title = request.boot_title
            if request.boot_timeout is not None:
                cfg.timeout = int(request.boot_timeout)
            for key, value in request.bootcfg_options.items():
                if value is None:
                    cfg.remove(key)
                else:
                    cfg.set(key, value)
        if request.bootcfg_options:
            release = self.image.release
            for warning in self.cfgs[0][1].release_warnings(release):
                if warning.split('=', 1)[0] in request.bootcfg_options:
                    self.plan.warnings.append('bootcfg_options: %s' % warning)
        if request.has_kickstart:
            data = request.kickstart_data()
            self.put_file(KICKSTART_PATH, BytesContent(data))
            self.kickstart_digest = hashlib.sha256(data).hexdigest()
            if plaintext_root_password(data):
                self.plan.warnings.append('%s: %s' % (request.kickstart_source, PLAINTEXT_ROOTPW_WARNING))

    def epoch(self):
        """The one instant every new timestamp gets: derived from the inputs, never from the clock.

        The latest of the source's volume date, the profile's creation time and the added VIBs' release
        dates, so ``<modifiedtime>`` is never before ``<creationtime>`` and equal inputs give equal bytes.
        """
        candidates = [self.image.reader.volume_epoch(), record_time(self.db.profile.creation_time)]
        candidates += [record_time(vib.descriptor.release_date) for _p, vib in self.new]
        candidates = [c for c in candidates if c is not None]
        return max(candidates) if candidates else 0

    def put_file(self, path, source):
        entry = self.image.reader.find(path)
        if entry is not None and entry.iso_path:
            self.plan.edits.replace[entry.iso_path] = source
        else:
            self.plan.edits.add[path] = source

    def finish(self):
        plan = self.plan
        image = self.image
        changes = [self.rebase.change] if self.rebase else []
        changes += [
            '%s %s' % (verb, names(v['name'] for v in items))
            for verb, items in (('added', plan.added), ('replaced', plan.replaced), ('removed', plan.removed))
            if items
        ]
        self.request.profile.apply(self.db, changes=changes, vibs_changed=bool(self.rebase or plan.added or plan.removed or plan.replaced))
        plan.profile = describe(self.db)
        changed_db = bool(
            self.rebase or plan.added or plan.removed or plan.replaced or plan.components_added or any(profile.dirty for profile in self.db.profiles)
        )
        for (path, cfg), (_p, before) in zip(self.cfgs, self.before_cfgs):
            after = cfg.serialize()
            entry = image.reader.find(path)
            if after != before:
                plan.edits.replace[entry.iso_path] = BytesContent(after)
            key = 'bios' if path == '/BOOT.CFG' else 'uefi'
            plan.boot[key] = bootcfg_facts(path, cfg)
        plan.views = views(self.cfgs, self.db, self.kickstart_digest)
        plan.edits.remove = sorted(self.removed_files)
        if self.request.volume_id is not None and self.request.volume_id != image.reader.volume_id:
            plan.edits.volume_id = self.request.volume_id
        inputs = [{'file': os.path.basename(p), 'sha256': sha256_file(p)} for p in self.request.add]
        if self.request.has_kickstart:
            inputs.append({'file': 'kickstart', 'sha256': self.kickstart_digest})
        result = {
            'added': [v['id'] for v in plan.added],
            'replaced': [v['id'] for v in plan.replaced],
            'removed': [v['id'] for v in plan.removed],
            'acceptance_level': plan.acceptance_level,
        }
        manifest = build_manifest(self.src_path, image.reader, inputs=inputs, options=self.request.options(), result=result)
        plan.digest = manifest['digest']
        plan.manifest = manifest
        plan.epoch = self.epoch()
        if changed_db:
            self.db.touch(plan.epoch or 0)
            plan.edits.replace[image.imgdb_entry.iso_path] = BytesContent(self.db.to_tgz(mtime=plan.epoch or 0))
        self.put_file(MANIFEST_PATH, BytesContent(json.dumps(manifest, sort_keys=True, indent=1).encode('utf-8') + b'\n'))
        size = plan.size_estimate = self.estimated_size()
        if size > UEFI_MAX_VOLUME:
            plan.warnings.append(
                'the new ISO will be about %d MiB, more than 2 GiB: the ESXi UEFI boot loader\'s ISO 9660 '
                'driver fails on volumes over 2 GB, so UEFI boot from it may fail (BIOS boot is not affected)' % (size // (1024 * 1024))
            )

    def estimated_size(self):
        """Bytes of the output: the source volume plus added and grown files, minus removed ones (whole sectors)."""

        def sectors(length):
            return -(-int(length) // SECTOR) * SECTOR

        edits = self.plan.edits
        size = self.image.reader.volume_size
        size += sum(sectors(source.length) for source in edits.add.values())
        for path, source in edits.replace.items():
            entry = self.image.reader.find(path)
            size += sectors(source.length) - (sectors(entry.size) if entry is not None else 0)
        for path in edits.remove:
            entry = self.image.reader.find(path)
            size -= sectors(entry.size) if entry is not None else 0
        return size


def _read_small(path, limit, what):
    try:
        size = os.path.getsize(path)
        if size > limit:
            raise EsxiCustomizerError('the %s is %d bytes; more than %d is not a kickstart file' % (what, size, limit), path=path)
        with open(path, 'rb') as f:
            return f.read()
    except OSError as err:
        raise EsxiCustomizerError('cannot read the %s (%s)' % (what, err.strerror or err), path=path) from None


def build_plan(image: EsxiImage, packages: list[Package], request: Request, *, src_path: str, rebase: object = None) -> EditPlan:
    """Validate the request against the opened ISO and packages; return a :class:`EditPlan` (nothing written).

    ``rebase`` (a :class:`~.rebase.Rebase`) when ``image`` is a source moved onto a patch: its moves are reported
    with the request's, and validation compares with the image before the patch.
    """
    return _Builder(image, packages, request, src_path=src_path, rebase=rebase).build()
