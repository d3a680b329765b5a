# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which third-party libraries the format code could not import, or found too old, for the modules to report."""

from __future__ import annotations

from importlib import metadata

from ansible_collections.esxi.customizer.plugins.module_utils._image.iso_reader import HAS_PYCDLIB, PYCDLIB_IMPORT_ERROR

_LIBRARIES = {
    'pycdlib': (HAS_PYCDLIB, PYCDLIB_IMPORT_ERROR),
}

MINIMUM_VERSIONS = {'pycdlib': (1, 20, 0)}
"""The oldest release the tests prove: the ISO writer builds on pycdlib internals that 1.20 settled."""
REQUIREMENTS = {'pycdlib': 'pycdlib>=1.20,<2'}


def missing_libraries(*names: str) -> list[tuple[str, str]]:
    """``(name, import error text)`` for each of ``names`` (default: all) that is not installed."""
    wanted = names or tuple(_LIBRARIES)
    return [(name, str(_LIBRARIES[name][1])) for name in wanted if not _LIBRARIES[name][0]]


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split('.'):
        digits = ''.join(ch for ch in piece if ch.isdigit()) if piece[:1].isdigit() else ''
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def outdated_libraries(*names: str, version_of=metadata.version) -> list[str]:
    """A message for each installed library of ``names`` (default: all) older than this collection supports."""
    found = []
    for name in names or tuple(_LIBRARIES):
        if not _LIBRARIES[name][0]:
            continue  # missing_libraries reports it
        try:
            installed = version_of(name)
        except metadata.PackageNotFoundError:
            continue  # importable without distribution metadata (vendored): nothing to compare
        if _version_tuple(installed) < MINIMUM_VERSIONS[name]:
            found.append(
                '%s %s is installed on the host running the module; esxi.customizer needs %s %s or later: pip install "%s"'
                % (name, installed, name, '.'.join(str(n) for n in MINIMUM_VERSIONS[name][:2]), REQUIREMENTS[name])
            )
    return found
