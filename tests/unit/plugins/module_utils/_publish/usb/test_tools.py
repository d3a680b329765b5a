"""External tools never outlive the module that runs them (kill -9 and SIGTERM included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

RUNNER = r'''
import os, sys
sys.path[:0] = sys.argv[2].split(os.pathsep)
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import stop_cleanly_on_sigterm
from ansible_collections.esxi.customizer.plugins.module_utils._publish.usb.tools import CommandRunner
stop_cleanly_on_sigterm()
CommandRunner().run(['sh', '-c', 'echo $$ > "%s"; exec sleep 60' % sys.argv[1]])
'''


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open('/proc/%d/stat' % pid) as stat:
        return stat.read().split()[2] != 'Z'


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='PR_SET_PDEATHSIG is Linux')
@pytest.mark.parametrize('how', [signal.SIGKILL, signal.SIGTERM])
def test_the_tool_dies_with_the_module(tmp_path, how):
    pidfile = tmp_path / 'tool.pid'
    module = subprocess.Popen([sys.executable, '-c', RUNNER, str(pidfile), os.pathsep.join(sys.path)], stderr=subprocess.PIPE)
    for _attempt in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.05)
    tool = int(pidfile.read_text())
    assert _alive(tool)
    module.send_signal(how)
    module.wait(timeout=30)
    for _attempt in range(100):
        if not _alive(tool):
            break
        time.sleep(0.05)
    assert not _alive(tool), 'the tool outlived the module'
