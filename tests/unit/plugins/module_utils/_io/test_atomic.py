"""The one atomic writer: clean-up on errors and SIGTERM, and the sweep of temp files a killed writer left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._io import atomic
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import AtomicFile, sweep_stale, write_bytes_atomic

CHILD = r'''
import os, sys, time
sys.path[:0] = sys.argv[3].split(os.pathsep)
from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import AtomicFile, Interrupted
try:
    with AtomicFile(sys.argv[1]) as out:
        os.write(out.fd, b'x' * 4096)
        open(sys.argv[2], 'w').close()  # tell the parent the temp file exists
        time.sleep(60)
        out.commit()
except Interrupted as err:
    print(err)
    sys.exit(3)
'''


def _temps(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith('.tmp'))


def _child(tmp_path, dest):
    ready = tmp_path / 'ready'
    proc = subprocess.Popen([sys.executable, '-c', CHILD, str(dest), str(ready), os.pathsep.join(sys.path)], stdout=subprocess.PIPE, text=True)
    for _attempt in range(200):
        if ready.exists():
            break
        time.sleep(0.05)
    assert ready.exists(), 'the child never started writing'
    ready.unlink()
    return proc


def test_commit_puts_the_file_in_place_with_its_mode(tmp_path):
    dest = tmp_path / 'out.bin'
    write_bytes_atomic(str(dest), b'data', mode=0o640)
    assert dest.read_bytes() == b'data' and (dest.stat().st_mode & 0o777) == 0o640
    assert _temps(tmp_path) == []


def test_an_error_leaves_the_old_file_and_no_temp(tmp_path):
    dest = tmp_path / 'out.bin'
    dest.write_bytes(b'old')
    with pytest.raises(RuntimeError):
        with AtomicFile(str(dest)) as out:
            os.write(out.fd, b'new')
            raise RuntimeError('boom')
    assert dest.read_bytes() == b'old' and _temps(tmp_path) == []


def test_sigterm_cleans_up_like_sigint(tmp_path):
    dest = tmp_path / 'out.iso'
    dest.write_bytes(b'previous build')
    proc = _child(tmp_path, dest)
    assert len(_temps(tmp_path)) == 1
    proc.send_signal(signal.SIGTERM)
    out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 3 and 'stopped by SIGTERM' in out
    assert _temps(tmp_path) == [] and dest.read_bytes() == b'previous build'


def test_the_next_writer_removes_what_a_killed_one_left_and_nothing_else(tmp_path):
    dest = tmp_path / 'out.iso'
    proc = _child(tmp_path, dest)
    proc.kill()
    proc.wait()
    [left] = _temps(tmp_path)
    others = ['.out.iso.12345678.tmp', 'notes.tmp', '.other.iso.esxicust-%d-0123abcd.tmp' % proc.pid]
    for name in others:
        (tmp_path / name).write_bytes(b'not ours to remove')
    live = '.out.iso.esxicust-%d-89abcdef.tmp' % os.getpid()  # a writer that still runs
    (tmp_path / live).write_bytes(b'in progress')
    write_bytes_atomic(str(dest), b'new')
    assert left not in os.listdir(tmp_path)
    assert sorted(_temps(tmp_path)) == sorted(others + [live])
    # a sweep of the whole directory (what the PXE tree writer does once per directory) takes the other target's too
    fd = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert sweep_stale(fd) == [others[2]]
    finally:
        os.close(fd)


@pytest.mark.parametrize('value, mode', [(None, None), ('', None), ('0640', 0o640), ('640', 0o640), ('0o600', 0o600), (0o644, 0o644)])
def test_parse_mode(value, mode):
    from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import parse_mode

    assert parse_mode(value) == mode


@pytest.mark.parametrize('value', ['u=rw', '0999', '77777', 'rw-r--r--'])
def test_a_bad_mode_says_how_to_write_one(value):
    from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
    from ansible_collections.esxi.customizer.plugins.module_utils._io.atomic import parse_mode

    with pytest.raises(EsxiCustomizerError, match='octal file mode such as 0640'):
        parse_mode(value)


def test_the_umask_decides_without_a_mode(tmp_path):
    old = os.umask(0o077)
    try:
        write_bytes_atomic(str(tmp_path / 'private.img'), b'secret')
    finally:
        os.umask(old)
    assert (tmp_path / 'private.img').stat().st_mode & 0o777 == 0o600


def _open_deleted(path):
    found = []
    for fd in os.listdir('/proc/self/fd'):
        try:
            if os.readlink('/proc/self/fd/%s' % fd) == str(path) + ' (deleted)':
                found.append(fd)
        except OSError:  # the listing's own descriptor
            pass
    return found


@pytest.mark.skipif(not os.path.isdir('/proc/self/fd'), reason='needs /proc')
def test_a_large_replaced_file_is_let_go_of_off_the_callers_path(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, 'RELEASE_LATER_SIZE', 4096)
    dest = tmp_path / 'out.iso'
    dest.write_bytes(b'o' * 8192)
    started = []
    real_thread = atomic.threading.Thread

    def spy(*args, target=None, **kwargs):
        thread = real_thread(*args, target=target, **kwargs)
        started.append(thread)
        return thread

    monkeypatch.setattr(atomic.threading, 'Thread', spy)
    with AtomicFile(str(dest)) as out:
        os.write(out.fd, b'new')
        out.commit()
    assert dest.read_bytes() == b'new'
    assert len(started) == 1 and started[0].name == 'esxi-customizer-release'
    started[0].join(10)
    assert _open_deleted(dest) == []  # the old file's last reference is gone: the kernel frees it

    # small files, symlinks and absent targets are replaced by the rename alone
    dest.write_bytes(b's' * 100)
    link = tmp_path / 'link.iso'
    link.symlink_to(tmp_path / 'elsewhere')
    for target in (dest, link, tmp_path / 'absent.iso'):
        with AtomicFile(str(target)) as out:
            os.write(out.fd, b'x')
            out.commit()
    assert len(started) == 1
    assert not link.is_symlink() and link.read_bytes() == b'x'
