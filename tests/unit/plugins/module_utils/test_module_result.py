from __future__ import annotations

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._module_result import exit_with


class FakeModule:
    def __init__(self, diff):
        self._diff = diff
        self.warned = []
        self.exited = None

    def warn(self, text):
        self.warned.append(text)

    def exit_json(self, **kwargs):
        self.exited = kwargs


@pytest.mark.parametrize('diff_mode', [True, False])
def test_warnings_go_through_warn_and_diff_only_in_diff_mode(diff_mode):
    module = FakeModule(diff_mode)
    exit_with(module, {'changed': True, 'warnings': ['unsigned VIB'], 'diff': [{'before': 'a', 'after': 'b'}]})
    assert module.warned == ['unsigned VIB']
    assert 'warnings' not in module.exited
    assert ('diff' in module.exited) is diff_mode
    assert module.exited['changed'] is True


def test_an_empty_diff_is_not_returned():
    module = FakeModule(True)
    exit_with(module, {'changed': False, 'warnings': [], 'diff': []})
    assert module.exited == {'changed': False} and module.warned == []
