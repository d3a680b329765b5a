# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the validator's verdict on an edited image means for the request: refuse, warn, or say nothing.

Only problems the edit introduced block it: a problem the source image already had is reported as a warning
(the vendor shipped it so; refusing every edit of such an image would help nobody). Messages say what to do:
which removal breaks which VIBs (count and the first names), which VIB needs what and whether anything in
the image or the request could provide it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ansible_collections.esxi.customizer.plugins.module_utils._image.validate import SHOWN, Problem, VibFacts

COMPATIBILITY_KINDS = ('platform', 'checksum')
"""Problems of a package built for another release: skip_compatibility_check overrides them."""
_VMKAPI = re.compile(r'^vmkapi_(\d+)_(\d+)_0_0$')


@dataclass
class Verdict:
    """Messages for the planner: what refuses the request (by override option) and what only warns."""

    dependency: list[str] = field(default_factory=list)
    compatibility: list[str] = field(default_factory=list)
    inherited: list[str] = field(default_factory=list)


def names(items: Iterable[str]) -> str:
    """``a, b, c, d, e and 3 more``."""
    items = list(items)
    shown = ', '.join(items[:SHOWN])
    return shown + (' and %d more' % (len(items) - SHOWN) if len(items) > SHOWN else '')


def _short(vib_id: str) -> str:
    """``VMW_bootbank_net-e1000e_3.2.2.1-2vmw...`` -> ``net-e1000e``."""
    parts = vib_id.split('_')
    return parts[2] if len(parts) >= 4 else vib_id


def _vmkapi_levels(vibs: list[VibFacts]) -> list[str]:
    levels = sorted({p.name for vib in vibs for p in vib.provides if _VMKAPI.match(p.name)}, key=lambda n: tuple(int(x) for x in _VMKAPI.match(n).groups()))
    return levels


def judge(before: list[Problem], after: list[Problem], *, final: list[VibFacts], removed: list[VibFacts], sources: dict[str, str]) -> Verdict:
    """Sort the problems of the edited image (``after``) against the source's (``before``).

    ``final``: the edited image's VIBs; ``removed``: VIBs the request removed or replaced; ``sources``: vib-id ->
    package file of every added VIB (named in messages).
    """
    verdict = Verdict()
    known = {problem.message for problem in before}
    verdict.inherited = [problem.message for problem in after if problem.message in known]
    new = [problem for problem in after if problem.message not in known]
    missing = {}
    for problem in new:
        if problem.kind == 'missing-dependency':
            missing.setdefault(problem.need, []).append(problem)
        elif problem.kind in COMPATIBILITY_KINDS:
            verdict.compatibility.append(_with_source(problem.message, problem.vib, sources))
        else:
            verdict.dependency.append(_with_source(problem.message, problem.vib, sources))
    for need, problems in missing.items():
        verdict.dependency.append(_missing_message(need, problems, final=final, removed=removed, sources=sources))
    return verdict


def _with_source(message: str, vib_id: str | None, sources: dict[str, str]) -> str:
    return '%s (from %s)' % (message, sources[vib_id]) if vib_id in sources else message


def _missing_message(need: str, problems: list[Problem], *, final: list[VibFacts], removed: list[VibFacts], sources: dict[str, str]) -> str:
    constraint = problems[0].constraint
    dependents = [problem.vib for problem in problems]
    providers = [vib for vib in removed if constraint is not None and any(constraint.matches(p) for p in vib.provides)]
    if providers:
        return 'removing %s would leave %d VIB(s) without %s, which %s: %s' % (
            names(vib.name for vib in providers),
            len(dependents),
            need,
            'it provides' if len(providers) == 1 else 'they provide',
            names(_short(vib_id) for vib_id in dependents),
        )
    who = names('%s (from %s)' % (vib_id, sources[vib_id]) if vib_id in sources else vib_id for vib_id in dependents)
    message = '%s require%s %s, but no VIB in the image or the request provides it' % (who, 's' if len(dependents) == 1 else '', need)
    if constraint is not None and (_VMKAPI.match(constraint.name) or constraint.name.startswith('vmkapi_incompat_')):
        levels = _vmkapi_levels(final)
        message += ': the driver is built for another ESXi release (this image provides %s)' % (names(levels) if levels else 'no vmkapi level')
    return message
