# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import shutil

import pytest
from ansible_collections.esxi.customizer.tests.unit.plugins.modules.compat import run_module

from ansible_collections.esxi.customizer.plugins.modules import iso_customize
from ansible_collections.esxi.customizer.plugins.module_utils._image import customize
from ansible_collections.esxi.customizer.tests.fixturegen import iso as fixiso

pytestmark = pytest.mark.skipif(not shutil.which('xorriso'), reason='xorriso is needed')


def run(capsys, **args):
    return run_module(capsys, iso_customize.main, **args)


def test_diff_is_built_only_in_diff_mode(capsys, tmp_path, monkeypatch):
    src = str(tmp_path / 'esxi70.iso')
    fixiso.build_esxi_iso(src, style='70')
    dest = str(tmp_path / 'out.iso')
    code, first = run(capsys, src=src, dest=dest, boot_timeout=3)
    assert code == 0 and first['changed'] and 'diff' not in first
    opened = []
    real = customize._current_views
    monkeypatch.setattr(customize, '_current_views', lambda *a: opened.append(a[0]) or real(*a))
    code, plain = run(capsys, src=src, dest=dest, boot_timeout=4)
    # without diff mode the current dest is not read for a diff nobody sees
    assert code == 0 and plain['changed'] and 'diff' not in plain and opened == []
    code, shown = run(capsys, src=src, dest=dest, boot_timeout=5, _ansible_diff=True)
    assert code == 0 and shown['changed'] and opened == [os.path.abspath(dest)]
    bootcfg = {d['before_header']: d for d in shown['diff']}['/BOOT.CFG']
    assert 'timeout=4' in bootcfg['before'] and 'timeout=5' in bootcfg['after']
