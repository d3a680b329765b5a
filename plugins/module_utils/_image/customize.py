# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply an edit plan: read the source ISO and packages, plan, decide from the manifest, write.

This is the whole of ``esxi.customizer.iso_customize`` as plain Python (no Ansible imports). The source is an
installer ISO or a base depot zip (told apart by content); a depot is first laid out as the ISO VMware would make
of its image profile (:mod:`.depot_source`), then customized like an ISO.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

from ansible_collections.esxi.customizer.plugins.module_utils._errors import ConflictError, EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._image.source_image import open_source_image
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import IsoReader
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import apply_mode, parse_mode
from ansible_collections.esxi.customizer.plugins.module_utils._io.filehash import file_sha256
from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_writer import write_iso
from ansible_collections.esxi.customizer.plugins.module_utils._image.packages import load_package
from ansible_collections.esxi.customizer.plugins.module_utils._image.plan import Request, build_plan
from ansible_collections.esxi.customizer.plugins.module_utils._image.manifest import read_manifest
from ansible_collections.esxi.customizer.plugins.module_utils._image.rebase import Rebase, is_patch, rebase_image
from ansible_collections.esxi.customizer.plugins.module_utils._image.views import diff_views, image_views


def _dest_manifest(dest: str) -> dict | None:
    """The manifest of an existing output (reads metadata and one small file only), or None."""
    if not os.path.isfile(dest):
        return None
    try:
        with IsoReader(dest) as reader:
            return read_manifest(reader)
    except EsxiCustomizerError:
        return None  # not an ISO (or a broken one): it gets rewritten


def _current_views(dest: str, image: EsxiImage) -> dict:
    """What a diff compares the new image with: the current dest when it is an ESXi ISO, else the source."""
    if os.path.isfile(dest):
        try:
            with EsxiImage.open(dest) as current:
                return image_views(current)
        except EsxiCustomizerError:
            pass  # not an ESXi ISO: everything is new
    return image_views(image)


def customize_iso(
    src: str,
    dest: str,
    add: Iterable[str] = (),
    *,
    remove: Iterable[str] = (),
    force: bool = False,
    check_mode: bool = False,
    checksum: bool = True,
    diff: bool = True,
    mode: object = None,
    profile: str | None = None,
    patch_profile: str | None = None,
    **options: object,
) -> dict:
    """Build ``dest`` from ``src``; return the module's result dict (``changed``, ``diff``, ``warnings``...).

    ``src`` is an installer ISO or a base depot zip; ``profile`` picks the depot's image profile (depots only).
    A package in ``add`` that carries esx-base is a patch: the image is rebased onto it first (:mod:`.rebase`),
    with ``patch_profile`` choosing among the patch's image profiles. ``diff`` false leaves the result's ``diff``
    empty: the module asks for it only in diff mode, since building it reads the whole current ``dest`` image.
    ``options`` are the other keyword arguments of :class:`~.plan.Request` (kickstart, kernelopt, profile_name...).
    """
    src = os.path.abspath(src)
    dest = os.path.abspath(dest)
    mode = parse_mode(mode)
    request = Request(add, remove, **options)
    for path in request.add + ([request.kickstart] if request.kickstart else []):
        if not os.path.isfile(path):
            raise EsxiCustomizerError('does not exist or is not a file', path=path)
    with contextlib.ExitStack() as stack:
        image, depot = stack.enter_context(open_source_image(src, profile))
        origin = image
        packages = [stack.enter_context(load_package(path)) for path in request.add]
        rebase, packages, early_warnings = _rebase(image, depot, packages, patch_profile=patch_profile, allow_downgrade=request.allow_downgrade)
        if rebase is not None:
            stack.enter_context(rebase)
            image = rebase.image
        plan = build_plan(image, packages, request, src_path=src, rebase=rebase)
        plan.warnings[:0] = (depot.warnings if depot else []) + early_warnings
        existing = _dest_manifest(dest)
        up_to_date = existing is not None and existing.get('digest') == plan.digest
        changed = force or not up_to_date
        result = {
            'changed': changed,
            'dest': dest,
            'added': plan.added,
            'replaced': plan.replaced,
            'removed': plan.removed,
            'components_added': plan.components_added,
            'components_removed': plan.components_removed,
            'acceptance_level': plan.acceptance_level,
            'profile': plan.profile,
            'problems': plan.problems,
            'boot': plan.boot,
            'warnings': plan.warnings,
            'diff': diff_views(_current_views(dest, origin), plan.views) if changed and diff else [],
            'manifest_digest': plan.digest,
            'source': {'type': 'depot' if depot else 'iso', 'profile': depot.profile if depot else _profile_name(rebase.origin_db if rebase else image.imgdb)},
            'rebase': rebase.summary() if rebase else None,
        }
        if not changed:
            result['changed'] = apply_mode(dest, mode, check_mode=check_mode)
            result['size'] = os.path.getsize(dest)
            result['sha256'] = file_sha256(dest) if checksum else None
            return result
        if check_mode:
            result['size'] = None
            result['sha256'] = None
            return result
        base = rebase.layout if rebase else depot.layout if depot else None
        written = write_iso(src, dest, plan.edits, epoch=plan.epoch, checksum=checksum, mode=mode, base=base)
        result['size'] = written.size
        result['sha256'] = written.sha256
        return result


def _profile_name(db: object) -> str | None:
    return db.profile.name if db is not None and db.profile is not None else None


def _rebase(image: EsxiImage, depot: object, packages: list, *, patch_profile: str | None, allow_downgrade: bool) -> tuple[Rebase | None, list, list[str]]:
    """(rebase or None, the packages left for the plan, warnings): the patch among ``packages`` applied to ``image``."""
    patches = [package for package in packages if is_patch(package)]
    if len(patches) > 1:
        raise ConflictError('add has %d patches (packages carrying esx-base: %s); give one' % (len(patches), ', '.join(p.path for p in patches)))
    if not patches:
        if patch_profile:
            raise EsxiCustomizerError('patch_profile chooses the image profile of a patch in add, and add has no patch (no package carries esx-base)')
        return None, packages, []
    rest = [package for package in packages if package is not patches[0]]
    rebase = rebase_image(image, depot, patches[0], patch_profile=patch_profile, allow_downgrade=allow_downgrade)
    if rebase is None:
        return None, rest, ['the image already has every VIB of the patch %s it would take: nothing to rebase' % patches[0].path]
    return rebase, rest, []


def package_fit(package: str, iso: str) -> dict:
    """Would ``package`` go into the installer ISO ``iso``? The checks of :func:`customize_iso`, nothing written.

    Returns ``fits``, ``problems`` (each thing that would refuse it, worded as iso_customize words it), what it
    would replace, and the warnings of such a build.
    """
    iso = os.path.abspath(iso)
    request = Request([package], skip_dependency_check=True)  # collect every dependency problem instead of the first refusal
    with EsxiImage.open(iso) as image, load_package(package) as loaded, contextlib.ExitStack() as stack:
        try:
            # a patch is not injected but rebased onto: judge the rebased image
            rebase, packages, _warnings = _rebase(image, None, [loaded], patch_profile=None, allow_downgrade=request.allow_downgrade)
            if rebase is not None:
                image = stack.enter_context(rebase).image
            plan = build_plan(image, packages, request, src_path=iso, rebase=rebase)
        except EsxiCustomizerError as err:  # wrong generation, a downgrade, a checksum or platform of another release
            return {'iso': iso, 'fits': False, 'problems': [str(err)], 'replaces': [], 'warnings': []}
    suffix = ' (skip_dependency_check is set; the installer will refuse this image)'
    return {
        'iso': iso,
        'fits': not plan.refusals,
        'problems': list(plan.refusals),
        'replaces': [item['id'] for item in plan.replaced],
        'warnings': [w for w in plan.warnings if not w.endswith(suffix)],
    }
