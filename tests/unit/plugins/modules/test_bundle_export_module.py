# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import shutil

import pytest
from ansible_collections.esxi.customizer.tests.unit.plugins.modules.compat import run_module

from ansible_collections.esxi.customizer.plugins.modules import bundle_export
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso

pytestmark = pytest.mark.skipif(not shutil.which('xorriso'), reason='xorriso is needed')


def run(capsys, **args):
    return run_module(capsys, bundle_export.main, **args)


def test_module_exports_and_is_idempotent(capsys, tmp_path):
    src = str(tmp_path / 'esxi70.iso')
    fixiso.build_esxi_iso(src, style='70')
    dest = str(tmp_path / 'bundle.zip')
    code, first = run(capsys, src=src, dest=dest, include='ne1000,nvme-pcie', _ansible_diff=True)
    assert code == 0 and first['changed'] and len(first['vibs']) == 2 and first['diff'][0]['after'].count('\n') == 2
    code, second = run(capsys, src=src, dest=dest, include=['ne1000', 'nvme-pcie'])
    assert code == 0 and not second['changed'] and second['sha256'] == first['sha256']


def test_module_fails_clearly(capsys, tmp_path):
    src = str(tmp_path / 'esxi70.iso')
    fixiso.build_esxi_iso(src, style='70')
    code, result = run(capsys, src=src, dest=str(tmp_path / 'b.zip'), vendor_code='TOOLONG')
    assert code == 1 and result['msg'].startswith('invalid request: vendor_code must be 3 letters or digits')
    code, result = run(capsys, src=str(tmp_path / 'missing.iso'), dest=str(tmp_path / 'b.zip'))
    assert code == 1 and 'missing.iso' in result['msg'] and 'Traceback' not in json.dumps(result)
