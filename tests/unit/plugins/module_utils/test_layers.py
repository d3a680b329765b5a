"""The layers of module_utils: lower ones never import higher ones, and nothing there imports Ansible.

_errors (0) <- _io (1) <- _formats (2) <- _image (3) <- _publish, _vsphere (4, which never import each other)
<- _deps, _module_result (5: the glue the modules use). Inside one package anything may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PREFIX = 'ansible_collections.esxi.customizer.plugins.module_utils.'
ROOT = Path(__file__).resolve().parents[4] / 'plugins' / 'module_utils'
LEVELS = {'_errors': 0, '_io': 1, '_formats': 2, '_image': 3, '_publish': 4, '_vsphere': 4, '_deps': 5, '_module_result': 5, '_settings': 5}


def package_of(dotted: str) -> str:
    """``_image.plan`` -> ``_image``; ``_errors`` -> ``_errors``."""
    return dotted.split('.', 1)[0]


def imported_modules(source: str) -> list[str]:
    """Every absolute module a source file imports (``from X import y`` gives X and X.y)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend('%s.%s' % (node.module, alias.name) for alias in node.names)
    return found


def violations(own: str, source: str) -> list[str]:
    """What is wrong with the imports of the module_utils file ``own`` (dotted, relative to module_utils)."""
    problems = []
    mine = package_of(own)
    for name in imported_modules(source):
        if name == 'ansible' or name.startswith('ansible.'):
            problems.append('%s imports %s: module_utils stay plain Python, without Ansible' % (own, name))
            continue
        if not name.startswith(PREFIX):
            continue
        theirs = package_of(name[len(PREFIX) :])
        if theirs == mine or theirs not in LEVELS:
            continue
        if LEVELS[theirs] >= LEVELS[mine]:
            problems.append('%s (layer %d) imports %s (layer %d)' % (own, LEVELS[mine], name, LEVELS[theirs]))
    return problems


def sources():
    for path in sorted(ROOT.rglob('*.py')):
        rel = path.relative_to(ROOT).with_suffix('')
        if rel.name == '__init__':
            continue
        yield '.'.join(rel.parts), path


def test_every_package_has_a_layer():
    assert {package_of(own) for own, _path in sources()} <= set(LEVELS)


@pytest.mark.parametrize('own,path', list(sources()), ids=lambda v: v if isinstance(v, str) else '')
def test_no_upward_or_sideways_imports(own, path):
    assert violations(own, path.read_text(encoding='utf-8')) == []


@pytest.mark.parametrize(
    'own,source,expected',
    [
        ('_formats.vib', 'from %s_image.plan import EditPlan\n' % PREFIX, '_formats.vib (layer 2) imports'),
        ('_io.copy', 'from %s_formats import vib\n' % PREFIX, '_io.copy (layer 1) imports'),
        ('_publish.pxe', 'from %s_vsphere.datastore import upload\n' % PREFIX, '_publish.pxe (layer 4) imports'),
        ('_image.plan', 'from ansible.module_utils.basic import AnsibleModule\n', 'without Ansible'),
        ('_image.plan', 'def f():\n    import ansible.module_utils.urls\n', 'without Ansible'),
    ],
)
def test_the_check_catches_each_kind_of_violation(own, source, expected):
    found = violations(own, source)
    assert found and expected in found[0]


def test_same_package_and_downward_imports_are_fine():
    source = 'from %s_formats.vib import Descriptor\nfrom %s_image.model import EsxiImage\n' % (PREFIX, PREFIX)
    assert violations('_image.plan', source) == []
