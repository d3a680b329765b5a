# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VIB versions and relations as ESXi compares them (esxi-semantics §1, §2.1-2.2).

A version is ``version`` or ``version-release``. Each part is split on ``.``; a field is compared as (its
leading digits as a number, or -1 when it has none; then the rest as a plain string). On a tie the part with
more fields is greater; the release only decides when the version parts are equal, and an empty release is
lowest. So ``1.10 > 1.9``, ``1.07 == 1.7``, ``6.7 < 6.7.0``, ``1.0 < 1.0-0``, ``2.1a10 < 2.1a9``.

A constraint (``depends``/``conflicts``/``replaces``) is matched against *provides*: every VIB provides its own
name at its own version, plus what it declares. A constraint without relation matches any provide of the name;
with a relation, an unversioned provide never matches, and a constraint version without release compares
only the version parts (``esx-version <= 6.7.0`` accepts ``6.7.0-0.58.x``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError

RELATIONS = ('<<', '<=', '=', '>=', '>>')
_FIELD = re.compile(r'^(\d*)(.*)$', re.S)


def _fields(part: str) -> tuple[tuple[int, str], ...]:
    result = []
    for text in part.split('.'):
        digits, rest = _FIELD.match(text).groups()
        result.append((int(digits) if digits else -1, rest))
    return tuple(result)


def _compare_parts(a: str, b: str) -> int:
    fa, fb = _fields(a), _fields(b)
    for x, y in zip(fa, fb):
        if x != y:
            return -1 if x < y else 1
    return (len(fa) > len(fb)) - (len(fa) < len(fb))


@functools.total_ordering
@dataclass(frozen=True)
class VibVersion:
    """``version[-release]``, ordered as ESXi orders them (equality too: ``1.07 == 1.7``)."""

    version: str
    release: str = ''

    @classmethod
    def parse(cls, text: str, *, label: str | None = None) -> VibVersion:
        """Parse ``1.0.0-1vmw.670.0.0.8169922``; more than one ``-`` is a FormatError (ESXi refuses it too)."""
        text = (text or '').strip()
        if text.count('-') > 1:
            raise FormatError('version %r has more than one "-" (ESXi reads version-release)' % text, path=label)
        version, _sep, release = text.partition('-')
        return cls(version, release)

    def compare(self, other: VibVersion, *, release: bool = True) -> int:
        """-1, 0 or 1; ``release`` False compares the version parts only."""
        result = _compare_parts(self.version, other.version)
        if result or not release:
            return result
        return _compare_parts(self.release, other.release)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VibVersion) and self.compare(other) == 0

    def __lt__(self, other: VibVersion) -> bool:
        return self.compare(other) < 0

    def __hash__(self) -> int:
        return hash((_fields(self.version), _fields(self.release)))

    def __str__(self) -> str:
        return '%s-%s' % (self.version, self.release) if self.release else self.version


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 for two version strings."""
    return VibVersion.parse(a).compare(VibVersion.parse(b))


def relation_holds(have: VibVersion, relation: str, want: VibVersion) -> bool:
    """Whether ``have <relation> want``; the release is compared only when ``want`` has one."""
    cmp = have.compare(want, release=bool(want.release))
    return {'<<': cmp < 0, '<=': cmp <= 0, '=': cmp == 0, '>=': cmp >= 0, '>>': cmp > 0}[relation]


@dataclass(frozen=True)
class Provide:
    """Something a VIB provides: its own name and version, or a declared ``<provide>`` (maybe unversioned)."""

    name: str
    version: VibVersion | None = None

    def __str__(self) -> str:
        return '%s = %s' % (self.name, self.version) if self.version is not None else self.name


@dataclass(frozen=True)
class Relation:
    """A parsed ``<constraint name relation version>``."""

    name: str
    relation: str | None = None
    version: VibVersion | None = None

    @classmethod
    def of(cls, name: str, relation: str | None, version: str | None, *, label: str | None = None) -> Relation:
        if (relation is None) != (version is None):
            raise FormatError('constraint %s has a relation without a version or the other way round' % name, path=label)
        if relation is not None and relation not in RELATIONS:
            raise FormatError('constraint %s has relation %r; ESXi knows %s' % (name, relation, ' '.join(RELATIONS)), path=label)
        return cls(name, relation, VibVersion.parse(version, label=label) if version is not None else None)

    def matches(self, provide: Provide) -> bool:
        if provide.name != self.name:
            return False
        if self.relation is None:
            return True
        if provide.version is None:
            return False
        return relation_holds(provide.version, self.relation, self.version)

    def __str__(self) -> str:
        return '%s %s %s' % (self.name, self.relation, self.version) if self.relation else self.name
