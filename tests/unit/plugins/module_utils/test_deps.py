# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from importlib import metadata

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils import _deps


def _versions(table):
    def version_of(name):
        if name not in table:
            raise metadata.PackageNotFoundError(name)
        return table[name]

    return version_of


def test_installed_libraries_are_recent_enough():
    assert _deps.missing_libraries() == [] and _deps.outdated_libraries() == []


@pytest.mark.parametrize('installed, outdated', [('1.15.0', True), ('1.19.9', True), ('1.20.0', False), ('1.22.0', False), ('2.0.0rc1', False)])
def test_pycdlib_floor(installed, outdated):
    found = _deps.outdated_libraries('pycdlib', version_of=_versions({'pycdlib': installed}))
    if outdated:
        assert found == [
            'pycdlib %s is installed on the host running the module; esxi.customizer needs pycdlib 1.20 or later: pip install "pycdlib>=1.20,<2"' % installed
        ]
    else:
        assert found == []


def test_a_library_without_distribution_metadata_is_not_judged():
    assert _deps.outdated_libraries(version_of=_versions({})) == []


def test_requirements_files_agree_with_the_floors():
    with open(_deps.__file__.rsplit('/plugins/', 1)[0] + '/requirements.txt', encoding='utf-8') as stream:
        lines = [line.split(';')[0].strip() for line in stream if line.strip() and not line.startswith('#')]
    for name, requirement in _deps.REQUIREMENTS.items():
        assert requirement in lines, (requirement, lines)


def test_a_missing_library_is_reported_with_its_import_error(monkeypatch):
    monkeypatch.setitem(_deps._LIBRARIES, 'pycdlib', (False, ImportError("No module named 'pycdlib'")))
    assert _deps.missing_libraries() == [('pycdlib', "No module named 'pycdlib'")]
    # a missing library is missing_libraries' to report, not outdated_libraries'
    assert _deps.outdated_libraries(version_of=_versions({'pycdlib': '1.0.0'})) == []
