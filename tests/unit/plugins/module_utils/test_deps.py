from __future__ import annotations

from ansible_collections.esxi.customizer.plugins.module_utils import _deps


def test_installed_libraries_are_not_reported():
    assert _deps.missing_libraries() == []


def test_a_missing_library_is_reported_with_its_import_error(monkeypatch):
    monkeypatch.setitem(_deps._LIBRARIES, 'pycdlib', (False, ImportError("No module named 'pycdlib'")))
    assert _deps.missing_libraries() == [('pycdlib', "No module named 'pycdlib'")]
    assert _deps.missing_libraries('defusedxml') == []
