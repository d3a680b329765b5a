# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The progress file: what it holds at each phase, how often it is rewritten, and the line printed from it."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.esxi.customizer.plugins.module_utils._errors import EsxiCustomizerError
from ansible_collections.esxi.customizer.plugins.module_utils._io.progress import (
    DirectoryWatch,
    ProgressFile,
    human_duration,
    human_size,
    progress_line,
    read_progress,
)

MIB = 1024 * 1024


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock():
    return Clock()


def writer(path, clock):
    return ProgressFile(str(path), clock=clock, wall=lambda: 1767225600.0 + clock.t)


def test_phases_in_order(tmp_path, clock):
    path = tmp_path / 'p.json'
    progress = writer(path, clock)
    progress.phase('checking')
    assert read_progress(str(path))['phase'] == 'checking'
    progress.start(400 * MIB)
    state = read_progress(str(path))
    assert state['phase'] == 'uploading' and state['bytes_done'] == 0 and state['bytes_total'] == 400 * MIB
    assert state['rate_bytes_per_s'] is None and state['eta_s'] is None
    for second in range(1, 5):
        clock.t += 1
        progress.update(second * 100 * MIB)
    state = read_progress(str(path))
    assert state['bytes_done'] == 400 * MIB and state['rate_bytes_per_s'] == 100 * MIB and state['eta_s'] == 0
    clock.t += 0.5
    progress.finish(changed=True)
    state = read_progress(str(path))
    assert state['phase'] == 'done' and state['changed'] is True and state['seconds'] == 4.5
    assert state['rate_bytes_per_s'] == round(400 * MIB / 4.5, 1)
    assert state['updated'] == 1767225600.0 + clock.t


def test_rewritten_at_most_once_per_interval_with_rate_and_eta(tmp_path, clock):
    path = tmp_path / 'p.json'
    progress = writer(path, clock)
    progress.start(100 * MIB)
    writes = []
    for block in range(1, 41):
        clock.t += 0.125  # 8 MiB/s in 1 MiB blocks (a step float adds up exactly)
        before = os.stat(path).st_ino
        progress.update(block * MIB)
        if os.stat(path).st_ino != before:  # a rename put a new file in place
            writes.append(block)
    assert writes == [8, 16, 24, 32, 40]  # 40 MiB of 100: not the end
    state = read_progress(str(path))
    assert state['bytes_done'] == 40 * MIB
    assert state['rate_bytes_per_s'] == pytest.approx(8 * MIB, rel=0.01)
    assert state['eta_s'] == pytest.approx(7.5, abs=0.1)


def test_the_last_block_is_always_written(tmp_path, clock):
    path = tmp_path / 'p.json'
    progress = writer(path, clock)
    progress.start(3 * MIB)
    clock.t += 1
    progress.update(2 * MIB)
    clock.t += 0.01
    progress.update(3 * MIB)
    assert read_progress(str(path))['bytes_done'] == 3 * MIB


def test_a_stall_shows_as_rate_zero(tmp_path, clock):
    path = tmp_path / 'p.json'
    progress = writer(path, clock)
    progress.start(100 * MIB)
    clock.t += 1
    progress.update(10 * MIB)
    for _second in range(6):  # the transport is stuck: the same count each time
        clock.t += 1
        progress.update(10 * MIB)
    state = read_progress(str(path))
    assert state['rate_bytes_per_s'] == 0 and state['eta_s'] is None
    assert progress_line('upload', state).endswith('0 B/s, stalled')


def test_no_temp_files_left(tmp_path, clock):
    progress = writer(tmp_path / 'p.json', clock)
    progress.start(10)
    progress.finish(changed=False)
    assert os.listdir(tmp_path) == ['p.json']


def test_an_unwritable_place_is_named_at_the_first_write(tmp_path, clock):
    progress = writer(tmp_path / 'missing-dir' / 'p.json', clock)
    with pytest.raises(EsxiCustomizerError, match='missing-dir/p.json: cannot write the progress file'):
        progress.phase('checking')


def test_read_progress_ignores_what_is_not_a_progress_file(tmp_path):
    path = tmp_path / 'p.json'
    assert read_progress(str(path)) is None
    for junk in (b'', b'{"phase": "uploading"', b'[]', b'{"phase": "dancing"}', b'\xff'):
        path.write_bytes(junk)
        assert read_progress(str(path)) is None
    path.write_text(json.dumps({'phase': 'uploading', 'bytes_done': 1}))
    assert read_progress(str(path)) == {'phase': 'uploading', 'bytes_done': 1}


def test_the_line():
    state = {'phase': 'uploading', 'bytes_done': 150 * MIB, 'bytes_total': 402 * MIB, 'rate_bytes_per_s': 95.3 * MIB, 'eta_s': 2.4, 'updated': 1000.0}
    assert progress_line('datastore upload', state, now=1001.0) == 'datastore upload: 150.0 MiB of 402.0 MiB (37 %), 95.3 MiB/s, about 3 s left'
    assert progress_line('datastore upload', state, now=1030.0).endswith('about 3 s left, no news for 30 s')
    assert progress_line('x', {'phase': 'uploading', 'bytes_done': 0, 'bytes_total': 10, 'rate_bytes_per_s': None}) == 'x: 0 B of 10 B (0 %)'
    assert progress_line('x', None, running_for=75) == 'x: running for 1 min 15 s'
    assert progress_line('x', {'phase': 'checking'}).startswith('x: comparing')
    assert progress_line('x', {'phase': 'done', 'bytes_done': 0}) == 'x: done, nothing sent'
    assert progress_line('x', {'phase': 'done', 'bytes_done': 2 * MIB, 'seconds': 2.0, 'rate_bytes_per_s': MIB}) == 'x: done, 2.0 MiB in 2 s (1.0 MiB/s)'
    assert progress_line('x', {'phase': 'failed', 'msg': 'bad\x1b[2J'}) == 'x: failed: bad\\x1b[2J'


@pytest.mark.parametrize('n, text', [(0, '0 B'), (1023, '1023 B'), (1536, '1.5 KiB'), (402 * MIB, '402.0 MiB'), (5 << 30, '5.0 GiB')])
def test_human_size(n, text):
    assert human_size(n) == text


@pytest.mark.parametrize('s, text', [(3.4, '3 s'), (60, '1 min'), (150, '2 min 30 s'), (4000, '1 h 6 min')])
def test_human_duration(s, text):
    assert human_duration(s) == text


def test_the_line_when_all_is_sent():
    state = {'phase': 'uploading', 'bytes_done': 10 * MIB, 'bytes_total': 10 * MIB, 'rate_bytes_per_s': MIB, 'eta_s': 0}
    assert progress_line('x', state) == 'x: 10.0 MiB of 10.0 MiB (100 %), all sent, waiting for the host'


def test_a_download_directory_is_measured_from_outside(tmp_path, clock):
    """get_url writes its temp file into tmp_dest: its size is the progress, with or without a known total."""
    watch = DirectoryWatch(str(tmp_path), total=10 * MIB, clock=clock, wall=lambda: 1767225600.0)
    first = watch.state()
    assert first['bytes_done'] == 0 and first['rate_bytes_per_s'] is None
    (tmp_path / 'tmpab12cd').write_bytes(bytes(2 * MIB))
    (tmp_path / 'sub').mkdir()  # not a file: not counted
    clock.t += 1
    state = watch.state()
    assert state['bytes_done'] == 2 * MIB and state['rate_bytes_per_s'] == pytest.approx(2 * MIB, rel=0.01)
    assert state['eta_s'] == 4.0
    assert progress_line('base ISO download', state) == 'base ISO download: 2.0 MiB of 10.0 MiB (20 %), 2.0 MiB/s, about 4 s left'
    unknown = DirectoryWatch(str(tmp_path), clock=clock)
    clock.t += 1
    assert progress_line('driver', unknown.state()).startswith('driver: 2.0 MiB')
    # the download renamed into place (or a directory that is gone): nothing in it, no error
    assert DirectoryWatch(str(tmp_path / 'missing'), clock=clock).state()['bytes_done'] == 0
