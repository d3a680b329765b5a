# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How two installer images differ (Image Builder's ``Compare-EsxImageProfile``, and the boot.cfg files besides).

VIBs and components are compared by name, versions by ESXi's own order (:class:`~.._formats.vibversion.VibVersion`),
so ``upgraded`` means what ESXi would call newer. boot.cfg differences are given per file as the kernel options
added and removed, the modules added and removed, and the other keys whose values differ.

The diff is the one iso_customize shows in check mode (:func:`~.views.image_views`): both boot.cfg with one module
per line, the profile identity, its VIBs and the kickstart digest, each part only when it differs.
"""

from __future__ import annotations

from ansible_collections.esxi.customizer.plugins.module_utils._errors import FormatError
from ansible_collections.esxi.customizer.plugins.module_utils._formats.bootcfg import BootCfg
from ansible_collections.esxi.customizer.plugins.module_utils._formats.vibversion import VibVersion
from ansible_collections.esxi.customizer.plugins.module_utils._image.model import EsxiImage
from ansible_collections.esxi.customizer.plugins.module_utils._image.views import diff_views, image_views

PROFILE_FIELDS = ('name', 'creator', 'description', 'acceptance_level')


def _vibs(image: EsxiImage) -> dict[str, str]:
    if image.profile is None:
        return {}
    return {image.imgdb.vibs[v].name: image.imgdb.vibs[v].version for v in image.profile.vibs if v in image.imgdb.vibs}


def _components(image: EsxiImage) -> dict[str, str]:
    if image.imgdb is None:
        return {}
    return {c.name: c.version or '' for c in image.imgdb.components.values() if c.name and not c.reserved}


def _order(a: str, b: str, label: str) -> int:
    try:
        return VibVersion.parse(a, label=label).compare(VibVersion.parse(b, label=label))
    except FormatError:
        return (a > b) - (a < b)  # a version ESXi could not parse either: plain text order, still deterministic


def compare_named(a: dict[str, str], b: dict[str, str], *, what: str) -> dict:
    """``only_a``, ``only_b``, ``upgraded``, ``downgraded``, ``unchanged`` of two ``{name: version}`` maps."""
    result = {'only_a': [], 'only_b': [], 'upgraded': [], 'downgraded': [], 'unchanged': []}
    for name in sorted(set(a) | set(b)):
        if name not in b:
            result['only_a'].append({'name': name, 'version': a[name]})
        elif name not in a:
            result['only_b'].append({'name': name, 'version': b[name]})
        else:
            order = _order(a[name], b[name], '%s %s' % (what, name))
            key = 'unchanged' if order == 0 else 'upgraded' if order < 0 else 'downgraded'
            entry = {'name': name, 'version': b[name]} if order == 0 else {'name': name, 'version_a': a[name], 'version_b': b[name]}
            result[key].append(entry)
    return result


def compare_bootcfg(a: BootCfg | None, b: BootCfg | None) -> dict | None:
    """The differences of two boot.cfg (None when both are absent)."""
    if a is None and b is None:
        return None
    if a is None or b is None:
        return {'present_a': a is not None, 'present_b': b is not None}
    tokens_a, tokens_b = a.kernelopt_tokens, b.kernelopt_tokens
    modules_a, modules_b = a.module_names, b.module_names
    keys = sorted((set(a.keys()) | set(b.keys())) - {'kernelopt', 'modules'})
    return {
        'kernelopt_added': [t for t in tokens_b if t not in tokens_a],
        'kernelopt_removed': [t for t in tokens_a if t not in tokens_b],
        'modules_added': [m for m in modules_b if m not in modules_a],
        'modules_removed': [m for m in modules_a if m not in modules_b],
        'module_order_changed': [m for m in modules_a if m in modules_b] != [m for m in modules_b if m in modules_a],
        'changed': {k: {'a': a.get(k), 'b': b.get(k)} for k in keys if a.get(k) != b.get(k)},
    }


def _bootcfg_same(diff: dict | None) -> bool:
    if diff is None:
        return True
    if 'present_a' in diff:
        return False
    return not any(diff[key] for key in ('kernelopt_added', 'kernelopt_removed', 'modules_added', 'modules_removed', 'module_order_changed', 'changed'))


def compare_images(a: EsxiImage, b: EsxiImage) -> dict:
    """Every difference of ``b`` from ``a``: the module's result (``same`` true when there is none)."""
    vibs = compare_named(_vibs(a), _vibs(b), what='VIB')
    components = compare_named(_components(a), _components(b), what='component')
    profile = {
        field: {'a': getattr(a.profile, field, None) if a.profile else None, 'b': getattr(b.profile, field, None) if b.profile else None}
        for field in PROFILE_FIELDS
    }
    profile = {field: values for field, values in profile.items() if values['a'] != values['b']}
    boot = {'bios': compare_bootcfg(a.bootcfg_bios, b.bootcfg_bios), 'uefi': compare_bootcfg(a.bootcfg_uefi, b.bootcfg_uefi)}
    version = {'a': a.version, 'b': b.version}
    boot_same = all(_bootcfg_same(diff) for diff in boot.values())
    changed_sets = ('only_a', 'only_b', 'upgraded', 'downgraded')
    same = not any(vibs[k] or components[k] for k in changed_sets) and not profile and boot_same and version['a'] == version['b']
    return {
        'same': same,
        'esxi_version': version,
        'vibs': vibs,
        'components': components,
        'profile': profile,
        'boot': boot,
        'diff': [] if same else diff_views(image_views(a), image_views(b), labels=(a.path, b.path)),
    }
