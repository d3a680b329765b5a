"""Rules the code of module_utils keeps: keyword-only arguments after the third, type hints on public functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4] / 'plugins' / 'module_utils'
MAX_POSITIONAL = 3
HINTED_PACKAGES = ('_io', '_formats', '_image')


def _functions(tree: ast.AST, public_only: bool = False):
    """(qualified name, FunctionDef) of every function; with ``public_only`` only those the package exports."""

    def visit(body, prefix, public):
        for node in body:
            if isinstance(node, ast.ClassDef):
                yield from visit(node.body, prefix + node.name + '.', public and not node.name.startswith('_'))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                exported = public and (not node.name.startswith('_') or node.name == '__init__')
                if exported or not public_only:
                    yield prefix + node.name, node
                yield from visit(node.body, prefix + node.name + '.', False)

    yield from visit(tree.body, '', True)


def positional_overflow(source: str) -> list[str]:
    """Functions taking more than three positional parameters (self/cls not counted)."""
    found = []
    for name, node in _functions(ast.parse(source)):
        params = [a.arg for a in node.args.posonlyargs + node.args.args if a.arg not in ('self', 'cls')]
        if len(params) > MAX_POSITIONAL:
            found.append('%s(%s): make the parameters after the third keyword-only (*,)' % (name, ', '.join(params)))
    return found


def missing_hints(source: str) -> list[str]:
    """Public functions with a parameter or return value without annotation."""
    found = []
    for name, node in _functions(ast.parse(source), public_only=True):
        args = node.args
        missing = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs if a.annotation is None and a.arg not in ('self', 'cls')]
        missing += ['*' + v.arg for v in (args.vararg, args.kwarg) if v is not None and v.annotation is None]
        if node.returns is None and not name.endswith('__init__'):
            missing.append('return')
        if missing:
            found.append('%s: %s' % (name, ', '.join(missing)))
    return found


def _files(packages=None):
    for path in sorted(ROOT.rglob('*.py')):
        rel = path.relative_to(ROOT)
        if packages is None or rel.parts[0] in packages:
            yield pytest.param(path, id=str(rel))


@pytest.mark.parametrize('path', list(_files()))
def test_keyword_only_after_the_third_parameter(path):
    assert positional_overflow(path.read_text(encoding='utf-8')) == []


@pytest.mark.parametrize('path', list(_files(HINTED_PACKAGES)))
def test_public_functions_have_type_hints(path):
    assert missing_hints(path.read_text(encoding='utf-8')) == []


def test_the_rules_catch_what_they_are_about():
    source = '''
class Writer:
    def write(self, src, dest, edits, epoch): ...
    def fine(self, src, dest, edits, *, epoch=None) -> None: ...
def public(a: int, b) -> int: ...
def no_return(a: int): ...
def _private(a, b, c, d): ...
class _Hidden:
    def method(self, x): ...
'''
    assert positional_overflow(source) == [
        'Writer.write(src, dest, edits, epoch): make the parameters after the third keyword-only (*,)',
        '_private(a, b, c, d): make the parameters after the third keyword-only (*,)',
    ]
    assert missing_hints(source) == ['Writer.write: src, dest, edits, epoch, return', 'Writer.fine: src, dest, edits, epoch', 'public: b', 'no_return: return']
