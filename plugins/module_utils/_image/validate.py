# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An image profile validated the way ESXi's installer validates it before it copies anything (esxi-semantics §2-§4).

The installer runs the profile check with every test on and stops at the first problem, after the server was
already booted from the medium; this module finds the same problems beforehand:

* ``missing-dependency``: a ``depends`` no VIB of the image provides (own name and version, or a ``provides``);
* ``conflict``: a VIB provides what another VIB ``conflicts`` with;
* ``obsoleted``: a VIB is replaced by another VIB of the image (``replaces``, and the implicit "same name, older");
* ``duplicate``: two VIBs of one name and an equal version;
* ``acceptance``: a VIB less trusted than the profile's acceptance level;
* ``missing-base``: no VIB provides ``esx-version`` (no base ESX);
* ``platform``: a VIB's ``softwarePlatform`` names another ESXi release than the image's;
* ``checksum``: for 8.0+ images, a gzip-wrapped payload without a ``sha-256`` gunzip checksum;
* ``component``: a component (7.0+) lists a VIB that is not in the profile.

Problems compare by message, so the problems a source image already had can be told from new ones.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgrecords import Component, VibRecord, is_esxio_platforms
from ansible_collections.esxi.customizer.plugins.module_utils._formats.imgdb import ImageDatabase
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vib import is_less_trusted, normalize_acceptance
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vibversion import Provide, Relation, VibVersion

BASE_PROVIDE = 'esx-version'
# esximage itself provides this to every image (E67 Scan): depends on it are always met.
LIBRARY_PROVIDES = (Provide('installer:esximage', VibVersion('1.0')),)
GUNZIP_CHECKED_TYPES = ('vgz', 'tgz', 'boot', 'vzstd')
"""Payload types wrapped in gzip, for which ESXi 8.0 requires a sha-256 checksum of the decompressed payload."""
X86_PRODUCT_LINE = 'embeddedEsx'
SHOWN = 5
"""How many names a message lists before it says how many more there are."""


@dataclass(frozen=True)
class Problem:
    """One reason the installer would refuse the image."""

    kind: str
    message: str
    vib: str | None = None  # the vib-id the problem is about
    need: str | None = None  # missing-dependency: the unmet constraint, as text
    others: tuple[str, ...] = ()  # the other vib-ids involved (conflict, obsoleted, duplicate)
    constraint: Relation | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.message


@dataclass
class VibFacts:
    """What validation needs of one VIB, from the image database or from a package's descriptor."""

    vib_id: str
    name: str
    version: VibVersion
    acceptance_level: str
    depends: list[Relation] = field(default_factory=list)
    conflicts: list[Relation] = field(default_factory=list)
    replaces: list[Relation] = field(default_factory=list)
    provides: list[Provide] = field(default_factory=list)
    platforms: list[tuple[str, str]] = field(default_factory=list)  # (version, productLineID)
    payload_checksums: list[tuple[str, str, frozenset]] = field(default_factory=list)  # (name, type, {(type, process)})

    @classmethod
    def from_record(cls, record: VibRecord) -> VibFacts:
        label = 'VIB %s' % record.vib_id
        version = VibVersion.parse(record.version, label=label)
        rel = record.relationships

        def relations(kind: str) -> list[Relation]:
            return [Relation.of(c.name, c.relation, c.version, label=label) for c in rel.get(kind, []) if c.name]

        provides = [Provide(record.name, version)]
        provides += [Provide(c.name, VibVersion.parse(c.version, label=label) if c.version else None) for c in rel.get('provides', []) if c.name]
        return cls(
            vib_id=record.vib_id,
            name=record.name,
            version=version,
            acceptance_level=record.acceptance_level,
            depends=relations('depends'),
            conflicts=relations('conflicts'),
            replaces=relations('replaces'),
            provides=provides,
            platforms=[(version_text, line) for version_text, _locale, line in record.software_platforms],
            payload_checksums=[(p.name, p.type, frozenset((c[0], c[1] or '') for c in p.checksums)) for p in record.payloads],
        )

    @property
    def implicit_replace(self) -> Relation:
        """Every VIB replaces older versions of its own name."""
        return Relation(self.name, '<<', self.version)

    @property
    def is_esxio(self) -> bool:
        """A DPU (esxio) VIB: it never runs on the x86 host, so x86 platform rules do not apply to it."""
        return is_esxio_platforms(line for _version, line in self.platforms)


def facts_of_database(db: ImageDatabase) -> list[VibFacts]:
    """Facts of every VIB the database's profile lists (a listed VIB without descriptor is the database's problem)."""
    return [VibFacts.from_record(db.vibs[vib_id]) for vib_id in db.profile.vibs if vib_id in db.vibs]


def _names(items: Iterable[str]) -> str:
    items = list(items)
    shown = ', '.join(items[:SHOWN])
    return shown + (' and %d more' % (len(items) - SHOWN) if len(items) > SHOWN else '')


def _platform_matches(pattern: str, release: str) -> bool:
    """``8.0`` matches 8.0.3, ``8.0.3`` matches 8.0.3, ``5.*`` matches 5.5.0; an empty version matches anything."""
    pattern = pattern.strip()
    if not pattern or not release:
        return True
    if any(ch in pattern for ch in '*?['):
        return fnmatch.fnmatchcase(release, pattern)
    return release == pattern or release.startswith(pattern + '.')


def _misc_drivers_exception(vib: VibFacts, constraint: Relation) -> bool:
    """esximage ignores two dependencies of an old misc-drivers (E67 Scan): keep its verdicts."""
    return vib.name == 'misc-drivers' and vib.version.version < '6.1' and constraint.name in ('esx-base', 'vmkapi_incompat_2_3_0_0')


def validate(
    vibs: list[VibFacts],
    *,
    acceptance_level: str | None,
    release: str | None = None,
    components: Iterable[Component] = (),
) -> list[Problem]:
    """Every problem of an image made of ``vibs`` (the profile's VIBs) at ``acceptance_level``.

    ``release``: the image's ESXi release (``8.0.3``), for the platform and 8.0 checksum rules; None skips them.
    """
    problems = []
    provides = [(vib, provide) for vib in vibs for provide in vib.provides]
    problems += _duplicates(vibs)
    problems += _dependencies(vibs, provides)
    problems += _conflicts(vibs, provides)
    problems += _obsoletes(vibs, provides)
    problems += _acceptance(vibs, acceptance_level)
    if vibs and not any(provide.name == BASE_PROVIDE for _vib, provide in provides):
        problems.append(Problem('missing-base', 'no VIB provides %s: the image has no base ESX package (esx-base)' % BASE_PROVIDE))
    if release:
        problems += _platforms(vibs, release)
        if _release_tuple(release) >= (8, 0):
            problems += _gunzip_checksums(vibs, release)
    problems += _components(vibs, components)
    seen = set()
    unique = []
    for problem in problems:
        if problem.message not in seen:
            seen.add(problem.message)
            unique.append(problem)
    return unique


def _release_tuple(release: str) -> tuple[int, ...]:
    parts = []
    for text in release.split('-')[0].split('.'):
        if not text.isdigit():
            break
        parts.append(int(text))
    return tuple(parts)


def _duplicates(vibs: list[VibFacts]) -> list[Problem]:
    found = []
    for i, a in enumerate(vibs):
        for b in vibs[i + 1 :]:
            if a.name == b.name and a.version == b.version:
                found.append(
                    Problem(
                        'duplicate',
                        'VIBs %s and %s have the same name and an equal version; an image holds one version of each VIB' % (a.vib_id, b.vib_id),
                        vib=a.vib_id,
                        others=(b.vib_id,),
                    )
                )
    return found


def _dependencies(vibs: list[VibFacts], provides: list) -> list[Problem]:
    found = []
    available = [provide for _vib, provide in provides] + list(LIBRARY_PROVIDES)
    for vib in vibs:
        for constraint in vib.depends:
            if _misc_drivers_exception(vib, constraint) or any(constraint.matches(provide) for provide in available):
                continue
            found.append(
                Problem(
                    'missing-dependency',
                    'VIB %s requires %s, but the requirement cannot be satisfied within the image profile' % (vib.vib_id, constraint),
                    vib=vib.vib_id,
                    need=str(constraint),
                    constraint=constraint,
                )
            )
    return found


def _conflicts(vibs: list[VibFacts], provides: list) -> list[Problem]:
    found = []
    pairs = set()
    for vib in vibs:
        for constraint in vib.conflicts:
            for other, provide in provides:
                if other is vib or not constraint.matches(provide):
                    continue
                pair = frozenset((vib.vib_id, other.vib_id))
                if pair in pairs:
                    continue
                pairs.add(pair)
                found.append(
                    Problem(
                        'conflict',
                        'VIBs %s and %s conflict with each other (%s declares conflicts %s)' % (vib.vib_id, other.vib_id, vib.vib_id, constraint),
                        vib=vib.vib_id,
                        others=(other.vib_id,),
                    )
                )
    return found


def _obsoletes(vibs: list[VibFacts], provides: list) -> list[Problem]:
    found = []
    for newer in vibs:
        for constraint in [newer.implicit_replace] + newer.replaces:
            for older, provide in provides:
                if older is newer or not constraint.matches(provide):
                    continue
                found.append(
                    Problem(
                        'obsoleted',
                        'VIB %s is obsoleted by %s (it replaces %s); an image keeps only the newer one' % (older.vib_id, newer.vib_id, constraint),
                        vib=older.vib_id,
                        others=(newer.vib_id,),
                    )
                )
    return found


def _acceptance(vibs: list[VibFacts], level: str | None) -> list[Problem]:
    try:
        wanted = normalize_acceptance(level)
    except FormatError:
        return []  # no level, or one nobody knows: the database reports that
    found = []
    for vib in vibs:
        try:
            less = is_less_trusted(vib.acceptance_level, wanted)
        except FormatError:
            less = True  # an unknown level is no trust at all
        if less:
            found.append(
                Problem(
                    'acceptance',
                    "VIB %s's acceptance level is %s, which is not compliant with the image profile acceptance level %s"
                    % (vib.vib_id, vib.acceptance_level, wanted),
                    vib=vib.vib_id,
                )
            )
    return found


def _platforms(vibs: list[VibFacts], release: str) -> list[Problem]:
    found = []
    for vib in vibs:
        if not vib.platforms or vib.is_esxio:
            continue
        x86 = [version for version, line in vib.platforms if not line or line == X86_PRODUCT_LINE]
        if x86 and not any(_platform_matches(version, release) for version in x86):
            found.append(
                Problem(
                    'platform',
                    'VIB %s is built for ESXi %s (its softwarePlatform), not for this image (ESXi %s)' % (vib.vib_id, ' or '.join(sorted(set(x86))), release),
                    vib=vib.vib_id,
                )
            )
    return found


def _gunzip_checksums(vibs: list[VibFacts], release: str) -> list[Problem]:
    found = []
    for vib in vibs:
        for name, ptype, kinds in vib.payload_checksums:
            if ptype in GUNZIP_CHECKED_TYPES and ('sha-256', 'gunzip') not in kinds:
                found.append(
                    Problem(
                        'checksum',
                        'VIB %s: payload %s (%s) has no sha-256 gunzip checksum; the ESXi %s installer refuses such VIBs '
                        '("does not have sha-256 gunzip checksum"): use a build of the driver made for ESXi 8.0' % (vib.vib_id, name, ptype, release),
                        vib=vib.vib_id,
                    )
                )
    return found


def _components(vibs: list[VibFacts], components: Iterable[Component]) -> list[Problem]:
    present = {vib.vib_id for vib in vibs}
    found = []
    for component in components:
        if component.reserved:
            continue
        absent = [vib_id for vib_id in component.vib_ids if vib_id not in present]
        if absent:
            found.append(
                Problem(
                    'component',
                    'component %s lists VIB(s) %s, which the image profile does not hold' % (component.name or component.id, _names(absent)),
                    vib=absent[0],
                )
            )
    return found


def validate_database(db: ImageDatabase, *, release: str | None = None) -> list[Problem]:
    """:func:`validate` of the database's profile (no profile: nothing to validate here, the database says so)."""
    if db is None or db.profile is None:
        return []
    return validate(facts_of_database(db), acceptance_level=db.profile.acceptance_level, release=release, components=db.components.values())
