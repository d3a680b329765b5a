# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the writing modules hand a result of the format code back to Ansible (no Ansible import: ``module`` is passed in)."""

from __future__ import annotations


def exit_with(module, result):
    """Exit with ``result``: its ``warnings`` through ``module.warn`` (passing them to exit_json is deprecated) and
    its ``diff`` only in diff mode."""
    for warning in result.pop('warnings', ()):
        module.warn(warning)
    diff = result.pop('diff', None)
    if module._diff and diff:  # pylint: disable=protected-access
        result['diff'] = diff
    module.exit_json(**result)
